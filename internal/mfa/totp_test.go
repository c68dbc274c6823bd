package mfa_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
)

// code computes the code of secret at t with the library, as an
// authenticator app would.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidateTOTP(t *testing.T) {
	// Fixed secrets, so that a wrong code cannot match by chance (one in
	// a million per step) in some runs and not others.
	key, err := mfa.TOTPKeyFor("Gatehouse", "ada@example.com", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	if err != nil {
		t.Fatal(err)
	}
	other, err := mfa.TOTPKeyFor("Gatehouse", "ada@example.com", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	step := mfa.TOTPStep(t0)
	if want := t0.Unix() / 30; step != want {
		t.Fatalf("TOTPStep(t0) = %d, want %d", step, want)
	}
	spaced := code(t, key.Secret, t0)
	spaced = spaced[:3] + " " + spaced[3:]
	tests := []struct {
		name     string
		code     string
		wantStep int64
		wantOK   bool
	}{
		{"current step", code(t, key.Secret, t0), step, true},
		{"previous step", code(t, key.Secret, t0.Add(-30*time.Second)), step - 1, true},
		{"next step", code(t, key.Secret, t0.Add(30*time.Second)), step + 1, true},
		{"two steps back", code(t, key.Secret, t0.Add(-60*time.Second)), 0, false},
		{"two steps ahead", code(t, key.Secret, t0.Add(60*time.Second)), 0, false},
		{"an hour old", code(t, key.Secret, t0.Add(-time.Hour)), 0, false},
		{"spaces", spaced, step, true},
		{"dash", strings.Replace(spaced, " ", "-", 1), step, true},
		{"another secret", code(t, other.Secret, t0), 0, false},
		{"five digits", code(t, key.Secret, t0)[:5], 0, false},
		{"seven digits", code(t, key.Secret, t0) + "0", 0, false},
		{"letters", "abcdef", 0, false},
		{"empty", "", 0, false},
		{"unicode digits", "١٢٣٤٥٦", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := mfa.ValidateTOTP(key.Secret, tt.code, t0)
			if ok != tt.wantOK || got != tt.wantStep {
				t.Fatalf("ValidateTOTP(%q) = %d, %v; want %d, %v", tt.code, got, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
	if _, ok := mfa.ValidateTOTP("not base32!", "123456", t0); ok {
		t.Fatal("a code was accepted for a malformed secret")
	}
}

// TestValidateTOTPStepEdges checks the first and last second of a step.
func TestValidateTOTPStepEdges(t *testing.T) {
	key, err := mfa.NewTOTPKey("Gatehouse", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(mfa.TOTPStep(t0)*30, 0)
	end := start.Add(29 * time.Second)
	for _, at := range []time.Time{start, end} {
		c := code(t, key.Secret, at)
		if got, ok := mfa.ValidateTOTP(key.Secret, c, at); !ok || got != mfa.TOTPStep(t0) {
			t.Fatalf("at %v: step %d, %v; want %d", at, got, ok, mfa.TOTPStep(t0))
		}
	}
	// The code of the step after end is still accepted at start (skew),
	// the one two steps after is not.
	if _, ok := mfa.ValidateTOTP(key.Secret, code(t, key.Secret, end.Add(time.Second)), start); !ok {
		t.Fatal("next step's code refused at the start of the step")
	}
	if _, ok := mfa.ValidateTOTP(key.Secret, code(t, key.Secret, end.Add(31*time.Second)), start); ok {
		t.Fatal("code of two steps ahead accepted")
	}
}

func TestTOTPKey(t *testing.T) {
	key, err := mfa.NewTOTPKey("Gatehouse Test", "ada+mfa@example.com")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := otp.NewKeyFromURL(key.URL)
	if err != nil {
		t.Fatalf("parse %q: %v", key.URL, err)
	}
	if parsed.Type() != "totp" || parsed.Issuer() != "Gatehouse Test" || parsed.AccountName() != "ada+mfa@example.com" ||
		parsed.Secret() != key.Secret || parsed.Period() != 30 || parsed.Digits() != otp.DigitsSix || parsed.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("URL %q reads back as type %s issuer %q account %q secret %q period %d digits %v algorithm %v",
			key.URL, parsed.Type(), parsed.Issuer(), parsed.AccountName(), parsed.Secret(), parsed.Period(), parsed.Digits(), parsed.Algorithm())
	}
	if !strings.HasPrefix(key.URL, "otpauth://totp/") {
		t.Fatalf("URL %q is not an otpauth://totp URL", key.URL)
	}
	if len(key.Secret) != 32 || strings.Trim(key.Secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Fatalf("secret %q is not 32 base32 characters (160 bits)", key.Secret)
	}
	if strings.ReplaceAll(key.ManualKey, " ", "") != key.Secret || len(strings.Fields(key.ManualKey)) != 8 {
		t.Fatalf("manual key %q is not the secret in eight groups", key.ManualKey)
	}
	if !strings.HasPrefix(string(key.QRCode), "<svg") {
		t.Fatalf("QR code is not an SVG element: %.40q", key.QRCode)
	}

	again, err := mfa.TOTPKeyFor("Gatehouse Test", "ada+mfa@example.com", strings.ToLower(key.ManualKey))
	if err != nil {
		t.Fatal(err)
	}
	if again.URL != key.URL || again.Secret != key.Secret || again.QRCode != key.QRCode {
		t.Fatalf("TOTPKeyFor gives %q, want %q", again.URL, key.URL)
	}
	another, err := mfa.NewTOTPKey("Gatehouse Test", "ada+mfa@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if another.Secret == key.Secret {
		t.Fatal("two new keys share a secret")
	}

	for _, tt := range []struct{ name, issuer, account, secret string }{
		{"colon in issuer", "Gate:house", "ada", ""},
		{"no issuer", "", "ada", ""},
		{"no account", "Gatehouse", "", ""},
		{"secret not base32", "Gatehouse", "ada", "not-base32-!!"},
		{"secret too short", "Gatehouse", "ada", "JBSWY3DP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.secret == "" {
				_, err = mfa.NewTOTPKey(tt.issuer, tt.account)
			} else {
				_, err = mfa.TOTPKeyFor(tt.issuer, tt.account, tt.secret)
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestFormatManualKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"abc":                              "ABC",
		"JBSWY3DPEHPK3PXP":                 "JBSW Y3DP EHPK 3PXP",
		"JBSWY3DPEHPK3PXPJ":                "JBSW Y3DP EHPK 3PXP J",
		"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ": "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
	} {
		if got := mfa.FormatManualKey(in); got != want {
			t.Errorf("FormatManualKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServiceTOTP(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		clk := &clock{now: t0}
		s := newService(t, st, clk)
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		newUser(t, st, "gatehouse|bob", "bob@example.com")

		wantIs(t, s.VerifyTOTP(ctx, ada.ID, "123456"), mfa.ErrNotEnrolled, "verify before enrollment")
		wantIs(t, s.ConfirmTOTP(ctx, ada.ID, "123456"), mfa.ErrNotEnrolled, "confirm before enrollment")
		_, err := s.PendingTOTP(ctx, ada.ID, ada.Email)
		wantIs(t, err, mfa.ErrNotEnrolled, "pending before enrollment")
		_, err = s.EnrollTOTP(ctx, "gatehouse|nobody", "nobody")
		wantIs(t, err, store.ErrNotFound, "enroll an unknown user")

		key, err := s.EnrollTOTP(ctx, ada.ID, ada.Email)
		must(t, err, "enroll")
		if parsed, err := otp.NewKeyFromURL(key.URL); err != nil || parsed.Issuer() != "Gatehouse Test" || parsed.AccountName() != ada.Email {
			t.Fatalf("enrollment URL %q: %v", key.URL, err)
		}
		// The secret is sealed at rest.
		f, err := st.GetTOTP(ctx, ada.ID)
		must(t, err, "get stored factor")
		if strings.Contains(string(f.SecretSealed), key.Secret) || len(f.SecretSealed) < 20+16 {
			t.Fatalf("stored secret is not sealed: %q", f.SecretSealed)
		}
		pending, err := s.PendingTOTP(ctx, ada.ID, ada.Email)
		must(t, err, "pending")
		if pending.URL != key.URL {
			t.Fatalf("pending key %q, want %q", pending.URL, key.URL)
		}
		wantIs(t, s.VerifyTOTP(ctx, ada.ID, code(t, key.Secret, t0)), mfa.ErrNotEnrolled, "verify an unconfirmed factor")

		wantIs(t, s.ConfirmTOTP(ctx, ada.ID, "000000"), mfa.ErrInvalidCode, "confirm with a wrong code")
		wantIs(t, s.ConfirmTOTP(ctx, ada.ID, code(t, key.Secret, t0.Add(2*time.Minute))), mfa.ErrInvalidCode, "confirm with a future code")
		confirming := code(t, key.Secret, t0)
		must(t, s.ConfirmTOTP(ctx, ada.ID, confirming), "confirm")
		wantIs(t, s.ConfirmTOTP(ctx, ada.ID, confirming), mfa.ErrAlreadyEnrolled, "confirm again")
		_, err = s.PendingTOTP(ctx, ada.ID, ada.Email)
		wantIs(t, err, mfa.ErrAlreadyEnrolled, "pending after confirmation")
		_, err = s.EnrollTOTP(ctx, ada.ID, ada.Email)
		wantIs(t, err, mfa.ErrAlreadyEnrolled, "enroll over a confirmed factor")

		// The confirming code is spent, and so is the previous step's.
		wantIs(t, s.VerifyTOTP(ctx, ada.ID, confirming), mfa.ErrCodeUsed, "replay the confirming code")
		wantIs(t, s.VerifyTOTP(ctx, ada.ID, code(t, key.Secret, t0.Add(-30*time.Second))), mfa.ErrCodeUsed, "code of the step before")
		// Thirty seconds on, the new code passes once.
		clk.Set(t0.Add(30 * time.Second))
		next := code(t, key.Secret, clk.Now())
		must(t, s.VerifyTOTP(ctx, ada.ID, next), "verify the next code")
		wantIs(t, s.VerifyTOTP(ctx, ada.ID, next), mfa.ErrCodeUsed, "replay it")
		wantIs(t, s.VerifyTOTP(ctx, ada.ID, "12345"), mfa.ErrInvalidCode, "verify a malformed code")
		wantIs(t, s.VerifyTOTP(ctx, "gatehouse|bob", next), mfa.ErrNotEnrolled, "bob verifies ada's code")
		// A code a step ahead is accepted (skew), and spends the current one.
		ahead := code(t, key.Secret, clk.Now().Add(30*time.Second))
		must(t, s.VerifyTOTP(ctx, ada.ID, ahead), "verify a code a step ahead")
		clk.Set(clk.Now().Add(30 * time.Second))
		wantIs(t, s.VerifyTOTP(ctx, ada.ID, ahead), mfa.ErrCodeUsed, "the step-ahead code once its step comes")

		factors, err := st.ListFactors(ctx, ada.ID)
		must(t, err, "list factors")
		if len(factors) != 1 || factors[0].Type != store.FactorTOTP || !factors[0].Confirmed || !factors[0].LastUsedAt.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("factors after use: %+v", factors)
		}

		// A sealed secret moved to another user's row does not open.
		must(t, st.EnrollTOTP(ctx, store.TOTPFactor{ID: f.ID + "-copy", UserID: "gatehouse|bob", SecretSealed: f.SecretSealed, CreatedAt: t0}), "copy the sealed secret")
		err = s.ConfirmTOTP(ctx, "gatehouse|bob", code(t, key.Secret, clk.Now()))
		if err == nil || errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("confirm with a secret sealed for another user: %v, want an error opening it", err)
		}
	})
}

// TestVerifyTOTPRace presents one code twenty times at once: exactly one
// passes.
func TestVerifyTOTPRace(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		clk := &clock{now: t0}
		s := newService(t, st, clk)
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		key, err := s.EnrollTOTP(ctx, ada.ID, ada.Email)
		must(t, err, "enroll")
		must(t, s.ConfirmTOTP(ctx, ada.ID, code(t, key.Secret, t0.Add(-30*time.Second))), "confirm")
		c := code(t, key.Secret, t0)

		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.VerifyTOTP(ctx, ada.ID, c)
			})
		}
		close(start)
		wg.Wait()
		ok, used := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, mfa.ErrCodeUsed):
				used++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 || used != n-1 {
			t.Fatalf("%d concurrent uses of one code: %d passed, %d refused as used; want 1 and %d", n, ok, used, n-1)
		}
	})
}

func must(t *testing.T, err error, op string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

func wantIs(t *testing.T, err, want error, op string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", op, err, want)
	}
}
