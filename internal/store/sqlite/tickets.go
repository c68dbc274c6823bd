package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse/internal/store"
)

const ticketColumns = `id, kind, user_id, email, client_id, request_id, result_url, created_at, expires_at,
	keep_email_unverified`

const (
	qInsertTicket = `INSERT INTO tickets (` + ticketColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// qConsumeTicket spends a live, unused ticket of the kind. SQLite has
	// one writer, so of concurrent consumers the first to write wins and
	// the others find used_at set.
	qConsumeTicket = `UPDATE tickets SET used_at = ?
		WHERE id = ? AND kind = ? AND expires_at > ? AND used_at IS NULL
		RETURNING ` + ticketColumns
	qGetTicket = `SELECT ` + ticketColumns + `, used_at IS NOT NULL FROM tickets
		WHERE id = ? AND kind = ? AND expires_at > ?`
	qTicketUsed = `SELECT 1 FROM tickets
		WHERE id = ? AND kind = ? AND expires_at > ? AND used_at IS NOT NULL`
	qDeleteUserTickets = `DELETE FROM tickets WHERE user_id = ? AND (kind = ? OR ? = '') AND used_at IS NULL`

	qSetPassword      = `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`
	qSetEmailVerified = `UPDATE users SET email_verified = ?, updated_at = ? WHERE id = ?`

	qDeleteUserSessions = `DELETE FROM sessions WHERE user_id = ? AND id <> ?`
	// qRevokeUserRefresh returns the family of each token it revokes, so
	// that the caller can count families.
	qRevokeUserRefresh = `UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0
		RETURNING family_id`
	qDeleteUserAccess = `DELETE FROM access_tokens WHERE user_id = ?`
)

func ticketDest(t *store.Ticket) []any {
	return []any{&t.ID, &t.Kind, &t.UserID, &t.Email, &t.ClientID, &t.RequestID, &t.ResultURL,
		timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, &t.KeepEmailUnverified}
}

// CreateTicket stores t; ErrConflict when its ID is taken, ErrNotFound when
// its user does not exist.
func (db *DB) CreateTicket(ctx context.Context, t store.Ticket) error {
	_, err := db.exec(ctx, qInsertTicket, t.ID, t.Kind, t.UserID, t.Email, t.ClientID, t.RequestID,
		t.ResultURL, millis(t.CreatedAt), millis(t.ExpiresAt), t.KeepEmailUnverified)
	if isForeignKey(err) {
		err = fmt.Errorf("user %q: %w", t.UserID, store.ErrNotFound)
	}
	return fail("create ticket", err)
}

// isForeignKey reports whether err is a foreign-key violation: here, a
// ticket of a user that does not exist.
func isForeignKey(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// GetTicket returns the live, unused ticket of the kind; ErrAlreadyUsed
// for a consumed one, ErrNotFound otherwise.
func (db *DB) GetTicket(ctx context.Context, id, kind string, now time.Time) (store.Ticket, error) {
	t, err := getTicket(db.queryRow(ctx, qGetTicket, id, kind, millis(now)))
	if err != nil {
		return store.Ticket{}, fail("get ticket", err)
	}
	return t, nil
}

// getTicket scans a row of qGetTicket, turning a used ticket into
// ErrAlreadyUsed.
func getTicket(row *sql.Row) (store.Ticket, error) {
	var t store.Ticket
	var used bool
	if err := row.Scan(append(ticketDest(&t), &used)...); err != nil {
		return store.Ticket{}, err
	}
	if used {
		return store.Ticket{}, store.ErrAlreadyUsed
	}
	return t, nil
}

// ConsumeTicket marks the live ticket of the kind used and returns it;
// ErrAlreadyUsed when it was used before, ErrNotFound when it is unknown,
// expired or of another kind.
func (db *DB) ConsumeTicket(ctx context.Context, id, kind string, now time.Time) (store.Ticket, error) {
	var t store.Ticket
	err := db.inTx(ctx, func(tx tx) error {
		err := tx.queryRow(ctx, qConsumeTicket, millis(now), id, kind, millis(now)).Scan(ticketDest(&t)...)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Missed: used before, or not there at all.
		var used int
		switch err := tx.queryRow(ctx, qTicketUsed, id, kind, millis(now)).Scan(&used); {
		case err == nil:
			return store.ErrAlreadyUsed
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		default:
			return err
		}
	})
	if err != nil {
		return store.Ticket{}, fail("consume ticket", err)
	}
	return t, nil
}

// DeleteUserTickets deletes the user's unused tickets of the kind, or of
// every kind for "".
func (db *DB) DeleteUserTickets(ctx context.Context, userID, kind string) error {
	_, err := db.exec(ctx, qDeleteUserTickets, userID, kind, kind)
	return fail("delete user tickets", err)
}

// SetPassword replaces the user's password hash; ErrNotFound.
func (db *DB) SetPassword(ctx context.Context, userID, hash string, now time.Time) error {
	return fail("set password", changed(db.exec(ctx, qSetPassword, hash, millis(now), userID)))
}

// SetEmailVerified sets whether the user's email is verified; ErrNotFound.
func (db *DB) SetEmailVerified(ctx context.Context, userID string, verified bool, now time.Time) error {
	return fail("set email verified", changed(db.exec(ctx, qSetEmailVerified, verified, millis(now), userID)))
}

// DeleteUserSessions deletes the user's sessions but exceptSessionID.
func (db *DB) DeleteUserSessions(ctx context.Context, userID, exceptSessionID string) (int64, error) {
	res, err := db.exec(ctx, qDeleteUserSessions, userID, exceptSessionID)
	if err != nil {
		return 0, fail("delete user sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fail("delete user sessions", err)
	}
	return n, nil
}

// RevokeUserRefreshTokens revokes the user's refresh tokens and deletes
// their opaque access tokens in one write transaction, which rotations
// wait for: none can slip a new token past it.
func (db *DB) RevokeUserRefreshTokens(ctx context.Context, userID string) (int64, error) {
	families := map[string]bool{}
	err := db.inTx(ctx, func(t tx) error {
		clear(families)
		rows, err := t.query(ctx, qRevokeUserRefresh, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err != nil {
				return err
			}
			families[f] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = t.exec(ctx, qDeleteUserAccess, userID)
		return err
	})
	if err != nil {
		return 0, fail("revoke user refresh tokens", err)
	}
	return int64(len(families)), nil
}
