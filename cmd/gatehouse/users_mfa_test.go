package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

func TestCLIUsersMFA(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db := "sqlite:" + path
	out, errOut, code := runCLI(t, "a-long-password\n", "users", "create", "--db", db, "--email", "ada@example.com", "--password-stdin")
	if code != 0 {
		t.Fatalf("users create: exit %d: %s", code, errOut)
	}
	userID := regexp.MustCompile(`user_id: (\S+)`).FindStringSubmatch(out)[1]

	// Give the user a factor of each kind, as the hosted pages would.
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, step := range []error{
		st.EnrollTOTP(t.Context(), store.TOTPFactor{ID: "totp_1", UserID: userID, Name: "Authenticator app", SecretSealed: []byte("sealed"), CreatedAt: at}),
		st.ConfirmTOTP(t.Context(), userID, "totp_1", 100),
		st.UseTOTPStep(t.Context(), userID, 101, at.Add(time.Hour)),
		st.SetRecoveryCodes(t.Context(), userID, "rc_1", []string{"h1", "h2", "h3"}, at),
		st.AddWebAuthnCredential(t.Context(), store.WebAuthnCredential{ID: "wa_1", UserID: userID, Type: store.FactorWebAuthnRoaming,
			Name: "Blue key", CredentialID: []byte("cred"), PublicKey: []byte("pk"), CreatedAt: at}),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if _, err := st.UseRecoveryCode(t.Context(), userID, "h1", at); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // substrings of stdout
		notOut   []string // absent from stdout
		wantErr  string   // substring of stderr
	}{
		{name: "users help lists mfa", args: []string{"users", "--help"}, wantOut: []string{"mfa"}},
		{name: "mfa help", args: []string{"users", "mfa", "--help"}, wantOut: []string{"list USER", "reset USER [--factor ID]"}},
		{name: "list help", args: []string{"users", "mfa", "list", "--help"}, wantOut: []string{"users mfa list USER", "-db"}},
		{name: "reset help", args: []string{"users", "mfa", "reset", "--help"}, wantOut: []string{"-factor"}},
		{name: "no verb", args: []string{"users", "mfa"}, wantCode: 2, wantErr: "users mfa needs list or reset"},
		{name: "unknown verb", args: []string{"users", "mfa", "show", userID}, wantCode: 2, wantErr: "users mfa needs list or reset"},
		{name: "list without user", args: []string{"users", "mfa", "list", "--db", db}, wantCode: 2, wantErr: "exactly one USER"},
		{name: "list unknown user", args: []string{"users", "mfa", "list", "gatehouse|nobody", "--db", db}, wantCode: 1, wantErr: `user "gatehouse|nobody" not found`},
		{name: "reset unknown user", args: []string{"users", "mfa", "reset", "nobody@example.com", "--db", db}, wantCode: 1, wantErr: "not found"},
		{name: "list", args: []string{"users", "mfa", "list", userID, "--db", db}, wantOut: []string{
			"ID", "TYPE", "LAST_USED",
			"totp_1", "totp", "Authenticator app", "active", "2031-03-14T16:09:26Z",
			"rc_1", "recovery-code", "2 left",
			"wa_1", "webauthn-roaming", "Blue key", "never",
		}},
		{name: "list by email", args: []string{"users", "mfa", "list", "Ada@Example.com", "--db", db}, wantOut: []string{"totp_1", "rc_1", "wa_1"}},
		{name: "reset unknown factor", args: []string{"users", "mfa", "reset", userID, "--factor", "wa_nope", "--db", db}, wantCode: 1, wantErr: `has no factor "wa_nope"`},
		{name: "reset one factor", args: []string{"users", "mfa", "reset", userID, "--factor", "wa_1", "--db", db}, wantOut: []string{"removed factor wa_1 of " + userID}},
		{name: "list after removing one", args: []string{"users", "mfa", "list", userID, "--db", db}, wantOut: []string{"totp_1", "rc_1"}, notOut: []string{"wa_1"}},
		{name: "reset all", args: []string{"users", "mfa", "reset", userID, "--db", db}, wantOut: []string{"removed 2 factors of " + userID}},
		{name: "list after reset", args: []string{"users", "mfa", "list", userID, "--db", db}, wantOut: []string{userID + " has no authentication factors"}, notOut: []string{"totp_1"}},
		{name: "reset again", args: []string{"users", "mfa", "reset", userID, "--db", db}, wantOut: []string{"removed 0 factors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("stdout %q lacks %q", out, want)
				}
			}
			for _, not := range tt.notOut {
				if strings.Contains(out, not) {
					t.Errorf("stdout %q holds %q", out, not)
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErr)
			}
			if tt.wantCode != 0 && strings.Count(strings.TrimSpace(lastLine(errOut)), "\n") != 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}
}
