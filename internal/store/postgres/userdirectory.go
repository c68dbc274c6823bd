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
// number of matches. Page and count come from one statement, so they
// agree and cost one round trip: count(*) OVER () counts the matches
// before LIMIT, and the users' identities are read for the page's rows
// only. Only a page past the end, which has no row to carry the count,
// costs a second statement.
func (db *DB) SearchUsers(ctx context.Context, q store.UserQuery) ([]store.User, int, error) {
	where, args := userWhere(q)
	page := ` ORDER BY u.id COLLATE "C"`
	if q.Limit > 0 {
		page += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	if q.Offset > 0 {
		page += fmt.Sprintf(" OFFSET %d", q.Offset)
	}
	query := `WITH m AS (SELECT u.id, count(*) OVER () AS total FROM users u WHERE ` + where + page + `)
		SELECT ` + userColumns + `, m.total FROM m JOIN users u ON u.id = m.id ORDER BY u.id COLLATE "C"`
	var users []store.User
	total := -1
	err := retry(ctx, func() error {
		users, total = nil, -1
		rows, err := db.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r userRow
			var n int64
			if err := rows.Scan(append(r.dest(), &n)...); err != nil {
				return err
			}
			u, err := r.user()
			if err != nil {
				return err
			}
			users, total = append(users, u), int(n)
		}
		return rows.Err()
	})
	if err == nil && total < 0 {
		total = 0
		if q.Offset > 0 {
			err = retry(ctx, func() error {
				return db.pool.QueryRow(ctx, `SELECT count(*) FROM users u WHERE `+where, args...).Scan(&total)
			})
		}
	}
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
