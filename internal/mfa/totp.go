package mfa

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: those every authenticator app supports (RFC 6238's
// defaults, which Google Authenticator assumes whatever the URL says).
const (
	TOTPDigits = 6
	TOTPPeriod = 30 * time.Second
	// totpSecretSize is 160 bits, the HMAC-SHA1 block RFC 4226 §4
	// recommends.
	totpSecretSize = 20
	// totpSkew is how many steps before and after the current one a code
	// may come from (RFC 6238 §5.2): clocks drift and people are slow.
	totpSkew = 1
)

// b32 is the secret's encoding in otpauth URLs: RFC 4648 base32, unpadded.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPKey is what an enrollment page shows: the secret three ways.
type TOTPKey struct {
	// Secret is the shared secret in unpadded base32.
	Secret string
	// URL is the otpauth:// URL that authenticator apps read from the QR
	// code, with the issuer and the account name.
	URL string
	// ManualKey is Secret in groups of four, for typing.
	ManualKey string
	// QRCode is URL as an inline SVG image, safe to put in a page as is.
	QRCode template.HTML
}

// NewTOTPKey returns a key with a new random secret. issuer is the name the
// app shows above the account name; neither may be empty, and issuer may
// not hold a colon (it ends the issuer in the URL's label).
func NewTOTPKey(issuer, accountName string) (TOTPKey, error) {
	return totpKey(issuer, accountName, nil)
}

// TOTPKeyFor returns the key of an existing secret, for showing a pending
// enrollment again.
func TOTPKeyFor(issuer, accountName, secret string) (TOTPKey, error) {
	raw, err := decodeSecret(secret)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("totp key: %w", err)
	}
	return totpKey(issuer, accountName, raw)
}

func totpKey(issuer, accountName string, secret []byte) (TOTPKey, error) {
	if strings.Contains(issuer, ":") {
		return TOTPKey{}, fmt.Errorf("totp key: issuer %q holds a colon", issuer)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: accountName,
		Period:      uint(TOTPPeriod / time.Second),
		SecretSize:  totpSecretSize,
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return TOTPKey{}, fmt.Errorf("totp key: %w", err)
	}
	qr, err := QRCodeSVG(key.URL())
	if err != nil {
		return TOTPKey{}, fmt.Errorf("totp key: %w", err)
	}
	return TOTPKey{Secret: key.Secret(), URL: key.URL(), ManualKey: FormatManualKey(key.Secret()), QRCode: qr}, nil
}

// decodeSecret reads a base32 secret as people and apps write it: any case,
// with or without padding and spaces.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.Join(strings.Fields(secret), ""))
	s = strings.TrimRight(s, "=")
	raw, err := b32.DecodeString(s)
	if err != nil {
		return nil, errors.New("secret is not base32")
	}
	if len(raw) < 10 {
		return nil, fmt.Errorf("secret is %d bytes, want at least 10 (RFC 4226 §4)", len(raw))
	}
	return raw, nil
}

// FormatManualKey writes a base32 secret in groups of four characters
// separated by spaces, as authenticator apps accept it when typed.
func FormatManualKey(secret string) string {
	var b strings.Builder
	for i, r := range strings.ToUpper(secret) {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TOTPStep returns the RFC 6238 time step that contains t.
func TOTPStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// ValidateTOTP checks code against the secret at time at, accepting the
// codes of the step before and after at's too, and returns the step the
// code belongs to. The caller must refuse a step at or before the last one
// it accepted (store.FactorStore.UseTOTPStep), or a code could be used
// twice. Spaces and dashes in code are ignored; anything but six digits is
// refused without computing a code.
func ValidateTOTP(secret, code string, at time.Time) (step int64, ok bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code)
	if len(code) != TOTPDigits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	now := TOTPStep(at)
	found := false
	// Every candidate is computed and compared in constant time, so the
	// time taken does not say which step matched. When two steps share the
	// code (one chance in a million) the later one is taken: the stricter
	// for replays.
	for s := now - totpSkew; s <= now+totpSkew; s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, found = s, true
		}
	}
	return step, found
}
