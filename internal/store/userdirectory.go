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

// UserCondition is one condition of a UserQuery on a column of the users
// table: equal to Value or, with Prefix, starting with it. Both are
// served by an index of the column.
type UserCondition struct {
	Column string
	Prefix bool
	Value  string
}

// Conditions returns the query's conditions, which both backends turn
// into SQL the same way.
func (q UserQuery) Conditions() []UserCondition {
	var out []UserCondition
	match := func(col, v string) {
		if p, ok := strings.CutSuffix(v, "*"); ok {
			out = append(out, UserCondition{Column: col, Prefix: true, Value: p})
			return
		}
		out = append(out, UserCondition{Column: col, Value: v})
	}
	if q.ID != "" {
		out = append(out, UserCondition{Column: "id", Value: q.ID})
	}
	if q.Email != "" {
		match("email", strings.ToLower(q.Email))
	}
	if q.Name != "" {
		match("name", q.Name)
	}
	if q.Connection != "" {
		out = append(out, UserCondition{Column: "connection", Value: q.Connection})
	}
	return out
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
