package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/store"
)

// Sealer encrypts secrets at rest with the master key (token.Sealer).
type Sealer interface {
	Seal(plaintext, additionalData []byte) []byte
}

// KeyRings creates the signing keys of an algorithm (token.Keys).
type KeyRings interface {
	EnsureAlgorithm(ctx context.Context, alg string) error
}

// Config wires a Service.
type Config struct {
	Store store.Store
	// Sealer encrypts the upstream client secrets of connections. Only
	// the calls that set one need it.
	Sealer Sealer
	// Keys, when set, creates the key ring of an API's signing algorithm
	// when the API is saved, so that its public keys are published before
	// the first token is signed with them. Without it the ring is created
	// at the first signature.
	Keys KeyRings
	// Issuer is the server's issuer: it names the management API
	// (store.ManagementAudience). Only EnsureManagementAPI needs it.
	Issuer string
	// Passwords checks and hashes the passwords of users created with one
	// (the database connection). Only CreateUser with a password needs it.
	Passwords Passwords
	Now       func() time.Time

	// Signing rotates and revokes the signing keys (token.Keys). Only the
	// signing-key calls need it.
	Signing SigningKeys
	// Tokens are the server's token lifetimes and key cache period, which
	// decide when a rotation is safe and how long a rotated-out key stays
	// published; the defaults of config.Default when zero.
	Tokens config.Tokens
}

// Passwords is the password policy and hash of the database connection
// (database.Connector).
type Passwords interface {
	CheckPassword(password, email string, names ...string) error
	Hash(password string) (string, error)
	// Provider is the prefix of database users' IDs.
	Provider() string
}

// Service applies the management rules to the store.
type Service struct {
	st     store.Store
	sealer Sealer
	keys   KeyRings
	issuer string
	pw     Passwords
	now    func() time.Time

	signing SigningKeys
	tokens  config.Tokens
}

// New returns a Service; the store is required.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("mgmt: a store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tokens == (config.Tokens{}) {
		cfg.Tokens = config.Default().Tokens
	}
	return &Service{st: cfg.Store, sealer: cfg.Sealer, keys: cfg.Keys, issuer: cfg.Issuer, pw: cfg.Passwords, now: func() time.Time { return cfg.Now().UTC() },
		signing: cfg.Signing, tokens: cfg.Tokens}, nil
}

// Error codes, as Auth0's Management API names them in errorCode.
const (
	CodeInvalidBody           = "invalid_body"
	CodeConflict              = "conflict"
	CodeOperationNotSupported = "operation_not_supported"
	// A missing record is "inexistent_" and its kind: inexistent_client,
	// inexistent_resource_server, inexistent_connection, …
)

// Error is a refusal the caller can show as it is: an invalid input (400),
// an unknown record (404), a taken key (409) or an operation the record
// does not allow (400). The management API writes it in Auth0's shape
// ({"statusCode", "error", "message", "errorCode"}); the command line
// prints Message. Any other error a Service method returns is the store's
// (a 500, or a 503 for store.ErrUnavailable).
type Error struct {
	Status int    // HTTP status
	Code   string // Auth0's errorCode
	// Field is the input at fault, by its management API name
	// ("callbacks", "issuer", …); "" when the error is not about one field.
	// Where Message begins with that name, an adapter may put its own name
	// for the input in its place (the command line names its flag).
	Field   string
	Message string
	err     error // the store error behind it, if any
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the store error behind e (store.ErrNotFound,
// store.ErrConflict), if any.
func (e *Error) Unwrap() error { return e.err }

// invalid is a 400 about field ("" for none).
func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidBody, Field: field, Message: fmt.Sprintf(format, args...)}
}

// refused is a 400 for an operation the record does not allow; field
// names the setting that stands in the way, if one does.
func refused(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeOperationNotSupported, Field: field, Message: fmt.Sprintf(format, args...)}
}

// kinds are the records of the service: the name in messages and the
// errorCode suffix of a missing one.
var kinds = map[string]string{
	"application":  "client",
	"API":          "resource_server",
	"connection":   "connection",
	"organization": "organization",
	"user":         "user",
	"invitation":   "invitation",
	"signing key":  "signing_key",
	"client grant": "client_grant",
	"role":         "role",
	// A record that went while it was being used.
	"application or API": "resource",
	"role or API":        "resource",
	"role or user":       "resource",
	"user or API":        "resource",
}

// notFound turns store.ErrNotFound into a 404 naming the record; other
// errors are returned wrapped with the operation.
func notFound(err error, kind, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "inexistent_" + kinds[kind],
			Message: fmt.Sprintf("%s %q not found", kind, id), err: err}
	}
	return fmt.Errorf("get %s: %w", kind, err)
}

// conflict turns store.ErrConflict into a 409 whose message is the format
// followed by "already exists"; other errors are returned as they are.
func conflict(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf(format+" already exists", args...), err: err}
	}
	return err
}

// set copies *v into *dst when v is set: how a settings struct of
// pointers patches a record.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
