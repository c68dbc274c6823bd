package store

import (
	"context"
	"strings"
	"time"
)

// UserQuery selects users for SearchUsers. Every set field must match;
// Email and Name match exactly, or by prefix when they end in '*'. Email
// is compared lower-cased, as stored.
type UserQuery struct {
	ID         string
	Email      string
	Name       string
	Connection string
	// Offset and Limit page the result, ordered by user ID; Limit 0 means
	// no limit.
	Offset, Limit int
}

// Prefix reports whether v is a prefix pattern ("jo*") and returns the
// prefix.
func Prefix(v string) (string, bool) {
	if p, ok := strings.CutSuffix(v, "*"); ok {
		return p, true
	}
	return v, false
}

// EscapeLike escapes the LIKE wildcards of s with '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UserDirectory reads and changes users the way the management API does.
type UserDirectory interface {
	// SearchUsers returns the page of users that match q and how many
	// match in all.
	SearchUsers(ctx context.Context, q UserQuery) ([]User, int, error)
	// PatchUser reads the user, applies fn and writes the result in one
	// transaction, so that concurrent patches of the same user each see
	// the other's changes (no lost update). An error of fn is returned as
	// it is and nothing is written; fn cannot change ID or CreatedAt.
	// ErrNotFound, ErrConflict (an email taken in the connection).
	PatchUser(ctx context.Context, id string, fn func(*User) error) (User, error)
	// ListUserSessions returns the user's live sessions, newest first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
}
