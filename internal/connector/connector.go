package connector

import (
	"context"
	"errors"

	"gatehouse/internal/store"
)

// ErrInvalidCredentials is returned for an unknown user and for a wrong
// password alike, so callers cannot tell the two apart.
var ErrInvalidCredentials = errors.New("wrong email or password")

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
