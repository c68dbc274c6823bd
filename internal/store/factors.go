package store

import (
	"context"
	"time"
)

// Factor types, named as the management API's authentication methods name
// them.
const (
	FactorTOTP             = "totp"              // an authenticator app (RFC 6238)
	FactorWebAuthnRoaming  = "webauthn-roaming"  // a security key used as a second factor
	FactorWebAuthnPlatform = "webauthn-platform" // the device's own authenticator used as a second factor
	FactorPasskey          = "passkey"           // a discoverable credential that logs in on its own
	FactorRecoveryCode     = "recovery-code"     // the user's set of one-time recovery codes
)

// Factor is the common view of one authentication factor of a user, for
// listings (the command line, the management API, the account page).
type Factor struct {
	ID     string
	UserID string
	Type   string // one of the Factor* types
	Name   string // given by the user, or a default
	// Confirmed is false for a TOTP factor whose enrollment has not been
	// confirmed with a code yet; such a factor never passes a login.
	// Other factors are stored confirmed.
	Confirmed bool
	// RecoveryCodesLeft is how many unused codes a recovery-code factor
	// has; zero for other types.
	RecoveryCodesLeft int
	CreatedAt         time.Time
	LastUsedAt        time.Time // zero when never used to log in
}

// TOTPFactor is a user's authenticator app. A user has at most one.
type TOTPFactor struct {
	ID     string
	UserID string
	Name   string
	// SecretSealed is the shared secret sealed with the master key by the
	// caller; the store only keeps the bytes.
	SecretSealed []byte
	Confirmed    bool
	// LastStep is the last RFC 6238 time step accepted, so that no code
	// is accepted twice; 0 before the first.
	LastStep   int64
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// WebAuthnCredential is a security key or passkey of a user (a WebAuthn
// credential record, Web Authentication Level 3 §4).
type WebAuthnCredential struct {
	ID     string // the factor ID
	UserID string
	// Type is FactorWebAuthnRoaming, FactorWebAuthnPlatform or
	// FactorPasskey.
	Type              string
	Name              string
	CredentialID      []byte // unique across all users
	PublicKey         []byte // COSE_Key
	AttestationType   string // e.g. "none", "self", "basic"
	AttestationFormat string // e.g. "none", "packed"
	AAGUID            []byte
	SignCount         uint32
	// CloneWarning is set once an assertion came with a signature counter
	// that did not advance (§6.1.1): the authenticator may be cloned. It is
	// never cleared.
	CloneWarning bool
	Transports   []string // "usb", "nfc", "ble", "internal", "hybrid", …
	Attachment   string   // "platform", "cross-platform" or "" (unknown)
	// Authenticator data flags (§6.1): UP, UV, BE and BS as last seen.
	UserPresent    bool
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	CreatedAt      time.Time
	LastUsedAt     time.Time
}

// WebAuthnUse is what a successful assertion changes in a credential.
type WebAuthnUse struct {
	SignCount      uint32
	UserPresent    bool
	UserVerified   bool
	BackupEligible bool
	BackupState    bool
	At             time.Time
}

// FactorStore keeps users' second factors and passkeys. Each user's factors
// go with the user: DeleteUser removes them, and LinkUsers removes the
// secondary user's (a WebAuthn credential is bound to its user handle, and
// a second factor is the secondary account's, not the merged one's).
type FactorStore interface {
	// EnrollTOTP stores f as the user's TOTP factor, unconfirmed whatever
	// f.Confirmed says, replacing an unconfirmed one. ErrConflict when the
	// user has a confirmed TOTP factor (delete it first) or f.ID is
	// taken; ErrNotFound for an unknown user.
	EnrollTOTP(ctx context.Context, f TOTPFactor) error
	// GetTOTP returns the user's TOTP factor, confirmed or not;
	// ErrNotFound.
	GetTOTP(ctx context.Context, userID string) (TOTPFactor, error)
	// ConfirmTOTP confirms the user's unconfirmed TOTP factor id and
	// records step, the step of the code that confirmed it, as used.
	// ErrNotFound when the user has no unconfirmed TOTP factor with that
	// ID (already confirmed, replaced or deleted).
	ConfirmTOTP(ctx context.Context, userID, id string, step int64) error
	// UseTOTPStep accepts the time step of a valid code for the user's
	// confirmed TOTP factor: it records step and now as the last use when
	// step is after the last accepted step, atomically, so that of any
	// number of concurrent uses of one code exactly one succeeds.
	// ErrAlreadyUsed when step is not after the last accepted one (a
	// replayed or older code); ErrNotFound when the user has no confirmed
	// TOTP factor.
	UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) error

	// SetRecoveryCodes replaces the user's recovery codes with hashes, all
	// unused, as the recovery-code factor id. ErrNotFound for an unknown
	// user; ErrConflict when id is another factor's.
	SetRecoveryCodes(ctx context.Context, userID, id string, hashes []string, now time.Time) error
	// UseRecoveryCode spends the user's recovery code with the hash,
	// atomically, and returns how many unused codes are left. ErrNotFound
	// when the user has no such code; ErrAlreadyUsed when it was spent
	// before.
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (left int, err error)

	// WebAuthnUserHandle returns the user's WebAuthn user handle, storing
	// handle as it when the user has none yet, so that every caller gets
	// the same handle for a user. ErrNotFound for an unknown user;
	// ErrConflict when handle is another user's.
	WebAuthnUserHandle(ctx context.Context, userID string, handle []byte) ([]byte, error)
	// UserIDByWebAuthnHandle returns the user whose handle it is;
	// ErrNotFound.
	UserIDByWebAuthnHandle(ctx context.Context, handle []byte) (string, error)
	// AddWebAuthnCredential stores a new credential. ErrConflict when its
	// ID or CredentialID is taken; ErrNotFound for an unknown user.
	AddWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error
	// ListWebAuthnCredentials returns the user's credentials by CreatedAt,
	// then ID; empty for an unknown user.
	ListWebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// GetWebAuthnCredential returns the credential with the credential ID;
	// ErrNotFound.
	GetWebAuthnCredential(ctx context.Context, credentialID []byte) (WebAuthnCredential, error)
	// RecordWebAuthnUse stores a successful assertion with the credential:
	// the flags, the sign count and the time, atomically. When the stored
	// and the new count are not both zero and the new one is not above the
	// stored one, it stores nothing but CloneWarning and returns
	// ErrAlreadyUsed, so that two assertions with one count never both
	// pass. ErrNotFound for an unknown credential.
	RecordWebAuthnUse(ctx context.Context, credentialID []byte, use WebAuthnUse) error

	// ListFactors returns every factor of the user by CreatedAt, then ID;
	// empty for an unknown user.
	ListFactors(ctx context.Context, userID string) ([]Factor, error)
	// DeleteFactor removes one factor of the user; ErrNotFound when the
	// user has no factor with the ID.
	DeleteFactor(ctx context.Context, userID, id string) error
	// DeleteFactors removes every factor of the user and returns how many
	// there were. The user's WebAuthn user handle stays.
	DeleteFactors(ctx context.Context, userID string) (int, error)
}

// IsWebAuthnType reports whether t is the type of a WebAuthn factor.
func IsWebAuthnType(t string) bool {
	return t == FactorWebAuthnRoaming || t == FactorWebAuthnPlatform || t == FactorPasskey
}
