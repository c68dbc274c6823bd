package mfa

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"gatehouse/internal/store"
)

// Errors of a Service, besides the store's ErrUnavailable. Pages answer the
// first three with the same "that code did not work" message; the others
// are for logs and for deciding what to offer.
var (
	// ErrInvalidCode means a TOTP or recovery code is wrong or malformed.
	ErrInvalidCode = errors.New("invalid code")
	// ErrCodeUsed means a valid code was used before: a replayed TOTP code
	// (or one older than the last accepted) or a spent recovery code.
	ErrCodeUsed = errors.New("code already used")
	// ErrCeremony means a WebAuthn response was refused: malformed, for
	// another challenge, origin or relying party, badly signed, or from a
	// credential that is not the user's.
	ErrCeremony = errors.New("webauthn response refused")
	// ErrCloneWarning means an assertion's signature counter did not
	// advance (Web Authentication §6.1.1): the authenticator may have been
	// cloned. The credential is flagged and refused until deleted.
	ErrCloneWarning = errors.New("authenticator may be cloned")
	// ErrNotEnrolled means the user has no factor of the kind asked for
	// (or, for TOTP confirmation, no enrollment pending).
	ErrNotEnrolled = errors.New("not enrolled")
	// ErrAlreadyEnrolled means the user already has a confirmed TOTP
	// factor: one must be deleted before another is enrolled.
	ErrAlreadyEnrolled = errors.New("already enrolled")
	// ErrWebAuthnUnavailable means the issuer's host is an IP address,
	// which cannot be a WebAuthn relying party ID; use a host name
	// (localhost works) to offer security keys and passkeys.
	ErrWebAuthnUnavailable = errors.New("webauthn needs an issuer with a host name")
)

// Sealer encrypts secrets at rest; *token.Sealer is one.
type Sealer interface {
	Seal(plaintext, additionalData []byte) []byte
	Open(sealed, additionalData []byte) ([]byte, error)
}

// Config configures a Service.
type Config struct {
	// Issuer is Gatehouse's issuer URL. Its host is the WebAuthn relying
	// party ID and its origin the only origin accepted in responses.
	Issuer string
	// Name is shown in authenticator apps above the account name and by
	// the browser when it asks for a security key; the issuer's host
	// name by default. It may not hold a colon.
	Name   string
	Store  store.FactorStore
	Sealer Sealer
	// Now is the clock of TOTP codes and stored times; time.Now by
	// default. WebAuthn session expiry always uses the wall clock.
	Now func() time.Time
	// CeremonyTimeout is how long a WebAuthn ceremony may take from begin
	// to finish; 5 minutes by default.
	CeremonyTimeout time.Duration
}

// Service registers and checks users' factors. It is safe for concurrent
// use and keeps no state between calls.
type Service struct {
	store  store.FactorStore
	sealer Sealer
	name   string
	now    func() time.Time
	// wa is nil when the issuer's host cannot be a relying party ID.
	wa *webauthn.WebAuthn
}

// New returns a Service for the issuer.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil {
		return nil, errors.New("new mfa service: store and sealer are required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("new mfa service: issuer %q is not an http(s) URL", cfg.Issuer)
	}
	s := &Service{store: cfg.Store, sealer: cfg.Sealer, name: cfg.Name, now: cfg.Now}
	if s.name == "" {
		s.name = u.Hostname()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if strings.Contains(s.name, ":") {
		// It would end the issuer early in the otpauth URL's label.
		return nil, fmt.Errorf("new mfa service: name %q holds a colon", s.name)
	}
	if net.ParseIP(u.Hostname()) == nil {
		timeout := cfg.CeremonyTimeout
		if timeout <= 0 {
			timeout = 5 * time.Minute
		}
		ceremony := webauthn.TimeoutConfig{Enforce: true, Timeout: timeout, TimeoutUVD: timeout}
		s.wa, err = webauthn.New(&webauthn.Config{
			RPID:          u.Hostname(),
			RPDisplayName: s.name,
			// The origin is the issuer's scheme, host and port: the
			// hosted pages are served there and nowhere else.
			RPOrigins: []string{u.Scheme + "://" + u.Host},
			Timeouts:  webauthn.TimeoutsConfig{Login: ceremony, Registration: ceremony},
		})
		if err != nil {
			return nil, fmt.Errorf("new mfa service: webauthn: %w", err)
		}
	}
	return s, nil
}

// WebAuthnAvailable reports whether security keys and passkeys can be
// offered: false when the issuer's host is an IP address.
func (s *Service) WebAuthnAvailable() bool { return s.wa != nil }

// newID returns prefix followed by 16 random hex characters.
func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}

// storeErr turns the store's refusals into the Service's errors; anything
// else (the database is down) is wrapped with the operation.
func storeErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrAlreadyUsed):
		return fmt.Errorf("%s: %w", op, ErrCodeUsed)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// TOTP.

// totpAD is the additional data a user's TOTP secret is sealed with, so
// that a sealed secret copied to another user's or factor's row does not
// open.
func totpAD(userID, factorID string) []byte {
	return []byte("totp:" + userID + ":" + factorID)
}

// EnrollTOTP starts an authenticator-app enrollment: it stores a new
// secret, sealed and unconfirmed (replacing a pending one), and returns
// the key to show. accountName is what the app shows under Name, usually
// the email address. ErrAlreadyEnrolled when the user has a confirmed app.
func (s *Service) EnrollTOTP(ctx context.Context, userID, accountName string) (TOTPKey, error) {
	key, err := NewTOTPKey(s.name, accountName)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("enroll totp: %w", err)
	}
	raw, err := decodeSecret(key.Secret)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("enroll totp: %w", err)
	}
	id := newID("totp_")
	err = s.store.EnrollTOTP(ctx, store.TOTPFactor{
		ID: id, UserID: userID, Name: "Authenticator app",
		SecretSealed: s.sealer.Seal(raw, totpAD(userID, id)), CreatedAt: s.now(),
	})
	if errors.Is(err, store.ErrConflict) {
		return TOTPKey{}, fmt.Errorf("enroll totp: %w", ErrAlreadyEnrolled)
	}
	if err != nil {
		return TOTPKey{}, fmt.Errorf("enroll totp: %w", err)
	}
	return key, nil
}

// PendingTOTP returns the key of the user's pending enrollment, to show the
// page again after a wrong code. ErrNotEnrolled when none is pending,
// ErrAlreadyEnrolled when the app is confirmed.
func (s *Service) PendingTOTP(ctx context.Context, userID, accountName string) (TOTPKey, error) {
	f, secret, err := s.totp(ctx, userID)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("pending totp: %w", err)
	}
	if f.Confirmed {
		return TOTPKey{}, fmt.Errorf("pending totp: %w", ErrAlreadyEnrolled)
	}
	return TOTPKeyFor(s.name, accountName, secret)
}

// totp reads the user's TOTP factor and opens its secret; ErrNotEnrolled.
func (s *Service) totp(ctx context.Context, userID string) (store.TOTPFactor, string, error) {
	f, err := s.store.GetTOTP(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return f, "", ErrNotEnrolled
	}
	if err != nil {
		return f, "", err
	}
	raw, err := s.sealer.Open(f.SecretSealed, totpAD(userID, f.ID))
	if err != nil {
		return f, "", fmt.Errorf("open totp secret of factor %s: %w", f.ID, err)
	}
	return f, b32.EncodeToString(raw), nil
}

// ConfirmTOTP completes the user's pending enrollment with a code from the
// app, which is spent. ErrInvalidCode; ErrNotEnrolled when nothing is
// pending (or it was replaced meanwhile); ErrAlreadyEnrolled when the app
// is confirmed.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) error {
	f, secret, err := s.totp(ctx, userID)
	if err != nil {
		return fmt.Errorf("confirm totp: %w", err)
	}
	if f.Confirmed {
		return fmt.Errorf("confirm totp: %w", ErrAlreadyEnrolled)
	}
	step, ok := ValidateTOTP(secret, code, s.now())
	if !ok {
		return fmt.Errorf("confirm totp: %w", ErrInvalidCode)
	}
	err = s.store.ConfirmTOTP(ctx, userID, f.ID, step)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("confirm totp: %w", ErrNotEnrolled)
	}
	return storeErr("confirm totp", err)
}

// VerifyTOTP checks a code of the user's confirmed app and spends its time
// step, so that it, and every older code, is refused from then on.
// ErrInvalidCode; ErrCodeUsed for a replay; ErrNotEnrolled.
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) error {
	f, secret, err := s.totp(ctx, userID)
	if err != nil {
		return fmt.Errorf("verify totp: %w", err)
	}
	if !f.Confirmed {
		return fmt.Errorf("verify totp: %w", ErrNotEnrolled)
	}
	now := s.now()
	step, ok := ValidateTOTP(secret, code, now)
	if !ok {
		return fmt.Errorf("verify totp: %w", ErrInvalidCode)
	}
	err = s.store.UseTOTPStep(ctx, userID, step, now)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("verify totp: %w", ErrNotEnrolled) // deleted meanwhile
	}
	return storeErr("verify totp", err)
}

// Recovery codes.

// NewRecoveryCodes replaces the user's recovery codes with ten new ones and
// returns them, to be shown once: only their hashes are stored.
func (s *Service) NewRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := NewRecoveryCodeSet()
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = HashRecoveryCode(c)
	}
	if err := s.store.SetRecoveryCodes(ctx, userID, newID("rc_"), hashes, s.now()); err != nil {
		return nil, fmt.Errorf("new recovery codes: %w", err)
	}
	return codes, nil
}

// UseRecoveryCode spends one of the user's recovery codes, as typed, and
// returns how many are left. ErrInvalidCode for a code that is not the
// user's; ErrCodeUsed for a spent one.
func (s *Service) UseRecoveryCode(ctx context.Context, userID, input string) (left int, err error) {
	h := HashRecoveryCode(input)
	if h == "" {
		return 0, fmt.Errorf("use recovery code: %w", ErrInvalidCode)
	}
	left, err = s.store.UseRecoveryCode(ctx, userID, h, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("use recovery code: %w", ErrInvalidCode)
	}
	return left, storeErr("use recovery code", err)
}
