package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

// likeEscaper makes LIKE's wildcards match themselves.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// userWhere builds the condition of a UserQuery on users u.
func userWhere(q store.UserQuery) (string, []any) {
	var conds []string
	var args []any
	for _, c := range q.Conditions() {
		if c.Prefix {
			// Served by the column's text_pattern_ops index.
			args = append(args, likeEscaper.Replace(c.Value)+"%")
			conds = append(conds, fmt.Sprintf(`u.%s LIKE $%d ESCAPE '\'`, c.Column, len(args)))
		} else {
			args = append(args, c.Value)
			conds = append(conds, fmt.Sprintf("u.%s = $%d", c.Column, len(args)))
		}
	}
	if len(conds) == 0 {
		return "true", nil
	}
	return strings.Join(conds, " AND "), args
}

// SearchUsers returns one page of the users matching q, by ID, and the
// number of matches, read in one repeatable-read transaction so that they
// agree.
func (db *DB) SearchUsers(ctx context.Context, q store.UserQuery) ([]store.User, int, error) {
	where, args := userWhere(q)
	page := ` ORDER BY u.id COLLATE "C"`
	if q.Limit > 0 {
		page += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	if q.Offset > 0 {
		page += fmt.Sprintf(" OFFSET %d", q.Offset)
	}
	var users []store.User
	var total int
	err := retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM users u WHERE `+where, args...).Scan(&total); err != nil {
				return err
			}
			var err error
			users, err = queryAll(ctx, tx, scanUser, userSelect+` WHERE `+where+page, args...)
			return err
		})
	})
	if err != nil {
		return nil, 0, fail("search users", err)
	}
	return users, total, nil
}

// PatchUser applies fn to the user with its row locked (SELECT … FOR
// UPDATE), so concurrent patches of the same user queue and each sees the
// other's changes.
func (db *DB) PatchUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	var fnErr error
	var out store.User
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		fnErr = nil
		u, err := queryOne(ctx, tx, scanUser, userSelect+` WHERE u.id = $1 FOR UPDATE OF u`, id)
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
		tag, err := tx.Exec(ctx, qUpdateUser, append([]any{id}, fields...)...)
		if err := changed(tag.RowsAffected(), err); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE user_id = $1`, id); err != nil {
			return err
		}
		if err := insertIdentities(ctx, tx, id, u.Identities); err != nil {
			return err
		}
		out, err = queryOne(ctx, tx, scanUser, userSelect+` WHERE u.id = $1`, id)
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
	out, err := queryAll(ctx, db.pool, scanSession, `SELECT id, user_id, auth_time, methods, created_at, expires_at
		FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id`, userID, now)
	if err != nil {
		return nil, fail("list user sessions", err)
	}
	return out, nil
}
