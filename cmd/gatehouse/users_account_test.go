package main

import (
	"errors"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// accountDB is a database file for the account commands, with a handle the
// test reads and writes beside the commands.
type accountDB struct {
	flag string // the --db value
	st   store.Store
}

func newAccountDB(t *testing.T) *accountDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "g.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &accountDB{flag: "sqlite:" + path, st: st}
}

// createUser creates a database user through the CLI.
func (a *accountDB) createUser(t *testing.T, email, password string) string {
	t.Helper()
	out, errOut, code := runCLI(t, password+"\n", "users", "create", "--db", a.flag, "--email", email, "--password-stdin")
	if code != 0 {
		t.Fatalf("users create: exit %d: %s", code, errOut)
	}
	return strings.TrimSpace(strings.TrimPrefix(out, "user_id: "))
}

// login tries the password as the login page does, with the CLI's
// connection settings.
func (a *accountDB) login(t *testing.T, email, password string) error {
	t.Helper()
	db, err := database.Open(database.Config{Store: a.st})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Login(t.Context(), email, password)
	return err
}

// signedIn gives the user two sessions, a refresh-token family and an
// opaque access token.
func (a *accountDB) signedIn(t *testing.T, userID string) {
	t.Helper()
	ctx, now := t.Context(), time.Now()
	for _, id := range []string{"sess-1-" + userID, "sess-2-" + userID} {
		if err := a.st.CreateSession(ctx, store.Session{ID: id, UserID: userID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.st.CreateRefreshToken(ctx, store.RefreshToken{ID: "rt-" + userID, FamilyID: "grant-" + userID, UserID: userID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := a.st.CreateAccessToken(ctx, store.AccessToken{ID: "at-" + userID, GrantID: "grant-" + userID, UserID: userID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// wantSignedIn fails unless the user's sessions and tokens are all live
// (true) or all ended (false).
func (a *accountDB) wantSignedIn(t *testing.T, userID string, want bool) {
	t.Helper()
	ctx, now := t.Context(), time.Now()
	for _, id := range []string{"sess-1-" + userID, "sess-2-" + userID} {
		if _, err := a.st.GetSession(ctx, id, now); (err == nil) != want {
			t.Errorf("session %s: %v, want live %v", id, err, want)
		}
	}
	if r, err := a.st.GetRefreshToken(ctx, "rt-"+userID); err != nil || r.Revoked == want {
		t.Errorf("refresh token of %s: revoked %v, %v; want revoked %v", userID, r.Revoked, err, !want)
	}
	if _, err := a.st.GetAccessToken(ctx, "at-"+userID, now); (err == nil) != want {
		t.Errorf("access token of %s: %v, want live %v", userID, err, want)
	}
}

func TestUsersSetPassword(t *testing.T) {
	a := newAccountDB(t)
	ada := a.createUser(t, "ada@example.com", "analytical engine")
	bob := a.createUser(t, "bob@example.com", "a-long-password")
	social := store.User{ID: "github|1815", Connection: "github", Email: "ada@example.com"}
	if err := a.st.CreateUser(t.Context(), social); err != nil {
		t.Fatal(err)
	}
	a.signedIn(t, ada)
	a.signedIn(t, bob)

	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "help", args: []string{"--help"}, wantOut: "-keep-sessions"},
		{name: "without --password-stdin", args: []string{ada}, wantCode: 2, wantErr: "--password-stdin is required"},
		{name: "without user", stdin: "difference engine\n", args: []string{"--password-stdin"}, wantCode: 2, wantErr: "exactly one USER_ID"},
		{name: "two users", stdin: "difference engine\n", args: []string{ada, bob, "--password-stdin"}, wantCode: 2, wantErr: "exactly one USER_ID"},
		{name: "password as an argument", args: []string{ada, "--password", "x"}, wantCode: 2, wantErr: "flag provided but not defined: -password"},
		{name: "empty stdin", args: []string{ada, "--password-stdin"}, wantCode: 1, wantErr: "no password on standard input"},
		{name: "too short", stdin: "short\n", args: []string{ada, "--password-stdin"}, wantCode: 1, wantErr: "gatehouse: password is too short: use at least 8 characters\n"},
		{name: "the email", stdin: "ADA@example.com\n", args: []string{ada, "--password-stdin"}, wantCode: 1, wantErr: "must not be the email"},
		{name: "unknown user", stdin: "difference engine\n", args: []string{"gatehouse|nobody", "--password-stdin"}, wantCode: 1, wantErr: `user "gatehouse|nobody" not found`},
		{name: "social user", stdin: "difference engine\n", args: []string{social.ID, "--password-stdin"}, wantCode: 1, wantErr: "signs in through another connection"},
		{name: "bob, keeping sessions", stdin: "correct horse battery\n", args: []string{bob, "--password-stdin", "--keep-sessions"},
			wantOut: "password set for " + bob + "; sessions and refresh tokens kept"},
		{name: "ada", stdin: "difference engine\r\n", args: []string{"--password-stdin", ada},
			wantOut: "password set for " + ada + "; ended 2 sessions and 1 refresh-token grants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.stdin, append([]string{"users", "set-password", "--db", a.flag}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if code != 0 && strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}

	if err := a.login(t, "ada@example.com", "difference engine"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if err := a.login(t, "ada@example.com", "analytical engine"); !errors.Is(err, connector.ErrInvalidCredentials) {
		t.Errorf("login with the old password: %v, want invalid credentials", err)
	}
	if err := a.login(t, "bob@example.com", "correct horse battery"); err != nil {
		t.Errorf("bob's login with the new password: %v", err)
	}
	a.wantSignedIn(t, ada, false)
	a.wantSignedIn(t, bob, true)
}

var resetLinkRE = regexp.MustCompile(`^url: (\S+)\nexpires: (\S+)\n$`)

func TestUsersResetLink(t *testing.T) {
	a := newAccountDB(t)
	ada := a.createUser(t, "ada@example.com", "analytical engine")
	social := store.User{ID: "github|1815", Connection: "github", Email: "ada@example.com"}
	if err := a.st.CreateUser(t.Context(), social); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "gatehouse.yaml")
	writeFile(t, cfgFile, "issuer: https://id.example.com\n")

	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "help", args: []string{"--help"}, wantOut: "-ttl"},
		{name: "without user", args: nil, wantCode: 2, wantErr: "exactly one USER_ID"},
		{name: "bad ttl", args: []string{ada, "--ttl", "soon"}, wantCode: 2, wantErr: "invalid"},
		{name: "zero ttl", args: []string{ada, "--ttl", "0s"}, wantCode: 2, wantErr: "between 1s and 30d"},
		{name: "ttl too long", args: []string{ada, "--ttl", "31d"}, wantCode: 2, wantErr: "between 1s and 30d"},
		{name: "bad issuer", args: []string{ada, "--issuer", "ftp://x"}, wantCode: 1, wantErr: "issuer"},
		{name: "unknown user", args: []string{"gatehouse|nobody"}, wantCode: 1, wantErr: `user "gatehouse|nobody" not found`},
		{name: "social user", args: []string{social.ID}, wantCode: 1, wantErr: "signs in through another connection"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", append([]string{"users", "reset-link", "--db", a.flag}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}

	// link runs the command and returns the token of the link and its
	// lifetime.
	link := func(t *testing.T, wantPrefix string, args ...string) (string, time.Duration) {
		t.Helper()
		before := time.Now()
		out, errOut, code := runCLI(t, "", append([]string{"users", "reset-link", ada, "--db", a.flag}, args...)...)
		if code != 0 {
			t.Fatalf("reset-link: exit %d: %s", code, errOut)
		}
		m := resetLinkRE.FindStringSubmatch(out)
		if m == nil || !strings.HasPrefix(m[1], wantPrefix) {
			t.Fatalf("reset-link printed %q, want a link starting %q", out, wantPrefix)
		}
		if !strings.Contains(errOut, "hand it to the user only") {
			t.Errorf("no warning on stderr: %q", errOut)
		}
		u, err := url.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		expires, err := time.Parse(time.RFC3339, m[2])
		if err != nil {
			t.Fatal(err)
		}
		tk, err := a.st.GetTicket(t.Context(), token.Hash(u.Query().Get("ticket")), store.TicketPasswordReset, time.Now())
		if err != nil {
			t.Fatalf("the link's ticket: %v", err)
		}
		// The printed expiry is the stored one to the second, never later.
		if tk.UserID != ada || tk.Email != "ada@example.com" || tk.CreatedAt.Before(before.Truncate(time.Millisecond)) ||
			tk.ExpiresAt.Before(expires) || tk.ExpiresAt.Sub(expires) >= 2*time.Second {
			t.Errorf("ticket %+v for a link that expires %s", tk, expires)
		}
		return u.Query().Get("ticket"), tk.ExpiresAt.Sub(tk.CreatedAt).Round(time.Second)
	}

	// The issuer comes from the configuration, or from --issuer.
	first, ttl := link(t, "http://localhost:8080/u/reset-password?ticket=")
	if ttl != 30*time.Minute {
		t.Errorf("default lifetime %s, want 30m", ttl)
	}
	second, ttl := link(t, "https://id.example.com/u/reset-password?ticket=", "--config", cfgFile, "--ttl", "2h")
	if ttl != 2*time.Hour {
		t.Errorf("lifetime %s, want 2h", ttl)
	}
	third, _ := link(t, "https://login.example.org/u/reset-password?ticket=", "--config", cfgFile, "--issuer", "https://login.example.org")

	// Each link withdraws the one before; the last resets the password
	// once.
	db, err := database.Open(database.Config{Store: a.st})
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{first, second} {
		if _, _, err := db.CheckResetTicket(t.Context(), old); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an earlier link: %v, want withdrawn", err)
		}
	}
	if _, _, err := db.ResetPassword(t.Context(), third, "difference engine"); err != nil {
		t.Fatalf("reset with the link: %v", err)
	}
	if err := a.login(t, "ada@example.com", "difference engine"); err != nil {
		t.Errorf("login after the reset: %v", err)
	}
	if _, _, err := db.ResetPassword(t.Context(), third, "yet another password"); !errors.Is(err, store.ErrAlreadyUsed) {
		t.Errorf("second use of the link: %v, want already used", err)
	}
}
