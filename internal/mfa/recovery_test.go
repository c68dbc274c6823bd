package mfa_test

import (
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
)

const alphabet = "23456789abcdefghjkmnpqrstwxyz"

var codeFormat = regexp.MustCompile(`^[` + alphabet + `]{5}-[` + alphabet + `]{5}$`)

func TestNewRecoveryCodeSet(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	const sets = 10000
	for range sets {
		codes := mfa.NewRecoveryCodeSet()
		if mfa.RecoveryCodeCount != 10 || len(codes) != 10 {
			t.Fatalf("%d codes, want 10", len(codes))
		}
		for _, c := range codes {
			if !codeFormat.MatchString(c) {
				t.Fatalf("code %q is not xxxxx-xxxxx from the alphabet", c)
			}
			if seen[c] {
				t.Fatalf("code %q issued twice", c)
			}
			seen[c] = true
			for _, r := range strings.ReplaceAll(c, "-", "") {
				counts[r]++
			}
		}
	}
	// Every character is about as likely: 1,000,000 draws over 29
	// characters give each 34,483 expected (σ ≈ 183, so ± 3% is over 5σ);
	// a biased draw (a byte modulo 29 without rejection) puts 24 of them
	// 12.5% above the other five.
	total := sets * 10 * 10
	expected := total / len(alphabet)
	for _, r := range alphabet {
		if c := counts[r]; c < expected*97/100 || c > expected*103/100 {
			t.Errorf("character %q drawn %d times, want %d ± 3%%", r, c, expected)
		}
	}
	if len(counts) != len(alphabet) {
		t.Errorf("%d distinct characters drawn, want %d", len(counts), len(alphabet))
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"abcde-fghjk", "abcdefghjk"},
		{"ABCDE-FGHJK", "abcdefghjk"},
		{"  abcde fghjk\t", "abcdefghjk"},
		{"ab-cd-ef-gh-jk", "abcdefghjk"},
		{"abcdefghjk", "abcdefghjk"},
		{"abcde\u00a0fghjk", "abcdefghjk"},
		{"abcde-fghj", ""},   // too short
		{"abcde-fghjkm", ""}, // too long
		{"abcde-fghjo", ""},  // o is not in the alphabet
		{"abcde-fghj0", ""},  // nor 0
		{"abcde—fghjk", ""},  // an em dash is not a separator
		{"abcde_fghjk", ""},  // nor an underscore
		{"", ""},
		{"ａｂｃｄｅ-fghjk", ""}, // full-width letters
	} {
		if got := mfa.NormalizeRecoveryCode(tt.in); got != tt.want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	h := mfa.HashRecoveryCode("abcde-fghjk")
	if h == "" || strings.Contains(h, "abcde") {
		t.Fatalf("hash %q", h)
	}
	for _, variant := range []string{"ABCDE-FGHJK", "abcde fghjk", "abcdefghjk"} {
		if got := mfa.HashRecoveryCode(variant); got != h {
			t.Errorf("hash of %q = %q, want the hash of abcde-fghjk %q", variant, got, h)
		}
	}
	if mfa.HashRecoveryCode("abcde-fghjm") == h {
		t.Error("two codes share a hash")
	}
	if got := mfa.HashRecoveryCode("not a code"); got != "" {
		t.Errorf("hash of a malformed code = %q, want empty", got)
	}
}

func TestServiceRecoveryCodes(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s := newService(t, st, &clock{now: t0})
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		bob := newUser(t, st, "gatehouse|bob", "bob@example.com")

		_, err := s.UseRecoveryCode(ctx, ada.ID, "abcde-fghjk")
		wantIs(t, err, mfa.ErrInvalidCode, "use a code before any")
		_, err = s.NewRecoveryCodes(ctx, "gatehouse|nobody")
		wantIs(t, err, store.ErrNotFound, "codes for an unknown user")

		codes, err := s.NewRecoveryCodes(ctx, ada.ID)
		must(t, err, "new codes")
		bobCodes, err := s.NewRecoveryCodes(ctx, bob.ID)
		must(t, err, "bob's codes")
		if len(codes) != 10 {
			t.Fatalf("%d codes", len(codes))
		}
		typed := strings.ToUpper(strings.Replace(codes[3], "-", " ", 1))
		left, err := s.UseRecoveryCode(ctx, ada.ID, typed)
		must(t, err, "use a code as typed")
		if left != 9 {
			t.Fatalf("%d codes left, want 9", left)
		}
		_, err = s.UseRecoveryCode(ctx, ada.ID, codes[3])
		wantIs(t, err, mfa.ErrCodeUsed, "use the code again")
		_, err = s.UseRecoveryCode(ctx, ada.ID, bobCodes[0])
		wantIs(t, err, mfa.ErrInvalidCode, "use bob's code")
		_, err = s.UseRecoveryCode(ctx, ada.ID, "nope")
		wantIs(t, err, mfa.ErrInvalidCode, "use a malformed code")
		_, err = s.UseRecoveryCode(ctx, ada.ID, "22222-22222")
		wantIs(t, err, mfa.ErrInvalidCode, "use a well-formed unknown code")

		// New codes replace the old ones.
		fresh, err := s.NewRecoveryCodes(ctx, ada.ID)
		must(t, err, "replace codes")
		_, err = s.UseRecoveryCode(ctx, ada.ID, codes[0])
		wantIs(t, err, mfa.ErrInvalidCode, "use a replaced code")
		left, err = s.UseRecoveryCode(ctx, ada.ID, fresh[9])
		must(t, err, "use a new code")
		if left != 9 {
			t.Fatalf("%d codes left of the new set, want 9", left)
		}
		factors, err := st.ListFactors(ctx, ada.ID)
		must(t, err, "list factors")
		if len(factors) != 1 || factors[0].Type != store.FactorRecoveryCode || factors[0].RecoveryCodesLeft != 9 || !factors[0].LastUsedAt.Equal(t0) {
			t.Fatalf("factors: %+v", factors)
		}
	})
}
