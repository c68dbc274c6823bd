package connector

import (
	"context"
	"errors"

	"gatehouse/internal/store"
)

// ErrInvalidCredentials is returned for an unknown user and for a wrong
// password alike, so callers cannot tell the two apart.
var ErrInvalidCredentials = errors.New("wrong email or password")

// CredentialsError is the ErrInvalidCredentials of a password connector,
// with what the audit log records and the user is never told: which user
// the email named. errors.Is(err, ErrInvalidCredentials) holds for it, and
// its message is ErrInvalidCredentials', so it reveals nothing where it is
// shown.
type CredentialsError struct {
	// UserID is the user whose password was wrong; empty when no user
	// has the email.
	UserID string
}

func (e *CredentialsError) Error() string        { return ErrInvalidCredentials.Error() }
func (e *CredentialsError) Is(target error) bool { return target == ErrInvalidCredentials }

// ErrBlocked is returned when the credentials are right but the user is blocked.
var ErrBlocked = errors.New("user is blocked")

// PasswordConnector is a connection that checks a username and password
// itself (the database strategy).
type PasswordConnector interface {
	// Login returns the user for the credentials, ErrInvalidCredentials or ErrBlocked.
	Login(ctx context.Context, email, password string) (store.User, error)
	// SignUp creates a user; store.ErrConflict when the email is taken.
	SignUp(ctx context.Context, email, password, name string) (store.User, error)
}
