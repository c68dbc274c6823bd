package mfa

import (
	"crypto/rand"
	"strings"

	"gatehouse/internal/token"
)

// Recovery codes: ten of ten characters each, shown once as "xxxxx-xxxxx".
const (
	RecoveryCodeCount  = 10
	recoveryCodeLength = 10
	// recoveryAlphabet has none of 0/o, 1/i/l and u/v to misread; its 29
	// characters give a code 48 bits, far beyond guessing at the rate code
	// entry is throttled.
	recoveryAlphabet = "23456789abcdefghjkmnpqrstwxyz"
)

// NewRecoveryCodeSet returns RecoveryCodeCount new codes, distinct,
// formatted "xxxxx-xxxxx".
func NewRecoveryCodeSet() []string {
	seen := make(map[string]bool, RecoveryCodeCount)
	codes := make([]string, 0, RecoveryCodeCount)
	for len(codes) < RecoveryCodeCount {
		c := newRecoveryCode()
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c[:recoveryCodeLength/2]+"-"+c[recoveryCodeLength/2:])
		}
	}
	return codes
}

// newRecoveryCode returns recoveryCodeLength characters drawn uniformly from
// recoveryAlphabet: bytes at or above the largest multiple of the
// alphabet's size are dropped, so no character is likelier than another.
func newRecoveryCode() string {
	limit := byte(256 - 256%len(recoveryAlphabet))
	out := make([]byte, 0, recoveryCodeLength)
	buf := make([]byte, 2*recoveryCodeLength)
	for len(out) < recoveryCodeLength {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails
		for _, b := range buf {
			if b < limit && len(out) < recoveryCodeLength {
				out = append(out, recoveryAlphabet[int(b)%len(recoveryAlphabet)])
			}
		}
	}
	return string(out)
}

// NormalizeRecoveryCode turns what a person typed into the stored form of
// a code: lower case, without spaces and dashes. It returns "" when the
// result cannot be a recovery code, so that no lookup is made for it.
func NormalizeRecoveryCode(input string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(input) {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\u00a0':
		case strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != recoveryCodeLength {
		return ""
	}
	return b.String()
}

// HashRecoveryCode returns the stored hash of a code as typed or as
// issued: the SHA-256 of its normalized form. A plain hash suffices: codes
// carry 48 random bits and are spent after one use. "" when input cannot
// be a code.
func HashRecoveryCode(input string) string {
	c := NormalizeRecoveryCode(input)
	if c == "" {
		return ""
	}
	return token.Hash("recovery-code:" + c)
}
