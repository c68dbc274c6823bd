package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/store"
)

// globEscaper makes GLOB's wildcards match themselves.
var globEscaper = strings.NewReplacer(`[`, `[[]`, `*`, `[*]`, `?`, `[?]`)

// userWhere builds the condition of a UserQuery on table users.
func userWhere(q store.UserQuery) (string, []any) {
	var conds []string
	var args []any
	for _, c := range q.Conditions() {
		if c.Prefix {
			// GLOB, unlike LIKE, is case-sensitive, so SQLite serves a
			// prefix from the column's index.
			conds = append(conds, c.Column+" GLOB ?")
			args = append(args, globEscaper.Replace(c.Value)+"*")
		} else {
			conds = append(conds, c.Column+" = ?")
			args = append(args, c.Value)
		}
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), args
}

// SearchUsers returns one page of the users matching q, by ID, and the
// number of matches. The page and the count are read in one transaction,
// so they agree.
func (db *DB) SearchUsers(ctx context.Context, q store.UserQuery) ([]store.User, int, error) {
	where, args := userWhere(q)
	limit := q.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var total int
	if err := db.queryRow(ctx, `SELECT count(*) FROM users WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fail("search users", err)
	}
	rows, err := db.query(ctx, userSelect+` WHERE u.id IN (SELECT id FROM users WHERE `+where+
		` ORDER BY id LIMIT ? OFFSET ?) ORDER BY u.id, i.position`, append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, 0, fail("search users", err)
	}
	users, err := scanUsers(rows)
	if err != nil {
		return nil, 0, fail("search users", err)
	}
	return users, total, nil
}

// PatchUser applies fn to the user inside one write transaction. SQLite
// serialises write transactions, so no other write sees the user between
// the read and the write.
func (db *DB) PatchUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	var fnErr error
	var out store.User
	err := db.inTx(ctx, func(t tx) error {
		u, err := getUserTx(ctx, t, id)
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			fnErr = err
			return err
		}
		u.ID = id
		fields, err := userFields(u)
		if err != nil {
			return err
		}
		if err := changed(t.exec(ctx, qUpdateUser, append(fields, id)...)); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qDeleteIdentities, id); err != nil {
			return err
		}
		if err := insertIdentities(ctx, t, id, u.Identities); err != nil {
			return err
		}
		out, err = getUserTx(ctx, t, id)
		return err
	})
	if fnErr != nil && errors.Is(err, fnErr) {
		return store.User{}, fnErr
	}
	if err != nil {
		return store.User{}, fail("patch user", err)
	}
	return out, nil
}

// ListUserSessions returns the user's live sessions, newest first.
func (db *DB) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	rows, err := db.query(ctx, `SELECT id, user_id, auth_time, methods, created_at, expires_at FROM sessions
		WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id`, userID, millis(now))
	if err != nil {
		return nil, fail("list user sessions", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		var s store.Session
		if err := rows.Scan(&s.ID, &s.UserID, timeCol{&s.AuthTime}, jsonCol{&s.Methods},
			timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt}); err != nil {
			return nil, fail("list user sessions", fmt.Errorf("scan: %w", err))
		}
		out = append(out, s)
	}
	return out, fail("list user sessions", rows.Err())
}
