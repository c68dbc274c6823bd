package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const ticketColumns = `id, kind, user_id, email, client_id, request_id, result_url, created_at, expires_at,
	keep_email_unverified`

const (
	qInsertTicket = `INSERT INTO tickets (` + ticketColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	// qConsumeTicket spends a live, unused ticket of the kind. Concurrent
	// consumers queue on the row lock and, once the winner commits, find
	// used_at set and update nothing.
	qConsumeTicket = `UPDATE tickets SET used_at = $4
		WHERE id = $1 AND kind = $2 AND expires_at > $3 AND used_at IS NULL
		RETURNING ` + ticketColumns
	qGetTicket = `SELECT ` + ticketColumns + `, used_at IS NOT NULL FROM tickets
		WHERE id = $1 AND kind = $2 AND expires_at > $3`
	qDeleteUserTickets = `DELETE FROM tickets WHERE user_id = $1 AND (kind = $2 OR $2 = '') AND used_at IS NULL`

	// qRevokeUserRefresh returns the family of each token it revokes, so
	// that the caller can count families.
	qRevokeUserRefresh = `UPDATE refresh_tokens SET revoked = true WHERE user_id = $1 AND NOT revoked
		RETURNING family_id`
)

func scanTicket(row pgx.CollectableRow) (store.Ticket, error) {
	var t store.Ticket
	err := row.Scan(&t.ID, &t.Kind, &t.UserID, &t.Email, &t.ClientID, &t.RequestID, &t.ResultURL,
		&t.CreatedAt, &t.ExpiresAt, &t.KeepEmailUnverified)
	t.CreatedAt, t.ExpiresAt = utc(t.CreatedAt), utc(t.ExpiresAt)
	return t, err
}

// scanTicketUsed scans a row of qGetTicket, turning a used ticket into
// ErrAlreadyUsed.
func scanTicketUsed(row pgx.CollectableRow) (store.Ticket, error) {
	var t store.Ticket
	var used bool
	err := row.Scan(&t.ID, &t.Kind, &t.UserID, &t.Email, &t.ClientID, &t.RequestID, &t.ResultURL,
		&t.CreatedAt, &t.ExpiresAt, &t.KeepEmailUnverified, &used)
	if err != nil {
		return store.Ticket{}, err
	}
	if used {
		return store.Ticket{}, store.ErrAlreadyUsed
	}
	t.CreatedAt, t.ExpiresAt = utc(t.CreatedAt), utc(t.ExpiresAt)
	return t, nil
}

// CreateTicket stores t; ErrConflict when its ID is taken, ErrNotFound when
// its user does not exist.
func (db *DB) CreateTicket(ctx context.Context, t store.Ticket) error {
	_, err := db.exec(ctx, qInsertTicket, t.ID, t.Kind, t.UserID, t.Email, t.ClientID, t.RequestID,
		t.ResultURL, t.CreatedAt, t.ExpiresAt, t.KeepEmailUnverified)
	if isForeignKeyViolation(err) {
		err = fmt.Errorf("user %q: %w", t.UserID, store.ErrNotFound)
	}
	return fail("create ticket", err)
}

// GetTicket returns the live, unused ticket of the kind; ErrAlreadyUsed
// for a consumed one, ErrNotFound otherwise.
func (db *DB) GetTicket(ctx context.Context, id, kind string, now time.Time) (store.Ticket, error) {
	t, err := queryOne(ctx, db.pool, scanTicketUsed, qGetTicket, id, kind, now)
	if err != nil {
		return store.Ticket{}, fail("get ticket", err)
	}
	return t, nil
}

// ConsumeTicket marks the live ticket of the kind used and returns it;
// ErrAlreadyUsed when it was used before, ErrNotFound when it is unknown,
// expired or of another kind. The happy path is one statement; a miss
// reads the ticket to tell a used one from none, and used_at never goes
// back to NULL, so what the read sees is what the update missed.
func (db *DB) ConsumeTicket(ctx context.Context, id, kind string, now time.Time) (store.Ticket, error) {
	var t store.Ticket
	err := retry(ctx, func() error {
		var err error
		t, err = queryOne(ctx, db.pool, scanTicket, qConsumeTicket, id, kind, now, now)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = queryOne(ctx, db.pool, scanTicketUsed, qGetTicket, id, kind, now)
		if err == nil {
			// Stored since the update looked: a ticket ID is a hash of
			// a fresh random token, so this is no real ticket's story.
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return store.Ticket{}, fail("consume ticket", err)
	}
	return t, nil
}

// DeleteUserTickets deletes the user's unused tickets of the kind, or of
// every kind for "".
func (db *DB) DeleteUserTickets(ctx context.Context, userID, kind string) error {
	_, err := db.exec(ctx, qDeleteUserTickets, userID, kind)
	return fail("delete user tickets", err)
}

// SetPassword replaces the user's password hash; ErrNotFound.
func (db *DB) SetPassword(ctx context.Context, userID, hash string, now time.Time) error {
	return fail("set password", changed(db.exec(ctx,
		`UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, userID, hash, now)))
}

// SetEmailVerified sets whether the user's email is verified; ErrNotFound.
func (db *DB) SetEmailVerified(ctx context.Context, userID string, verified bool, now time.Time) error {
	return fail("set email verified", changed(db.exec(ctx,
		`UPDATE users SET email_verified = $2, updated_at = $3 WHERE id = $1`, userID, verified, now)))
}

// DeleteUserSessions deletes the user's sessions but exceptSessionID.
func (db *DB) DeleteUserSessions(ctx context.Context, userID, exceptSessionID string) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, exceptSessionID)
	if err != nil {
		return 0, fail("delete user sessions", err)
	}
	return n, nil
}

// RevokeUserRefreshTokens revokes the user's refresh tokens, then deletes
// their opaque access tokens.
//
// The happy path of a rotation is one statement that takes no family lock,
// so the revoking UPDATE runs again until it finds nothing: a rotation
// that committed while an UPDATE ran stored its next token past that
// UPDATE's snapshot, but the UPDATE waited for its commit (the rotated
// token's row lock), so the next run sees the new token and revokes it. A
// rotation that comes after finds its token revoked. Each run is a
// statement of its own, retried after a deadlock with a concurrent
// RevokeGrant of one of the families.
func (db *DB) RevokeUserRefreshTokens(ctx context.Context, userID string) (int64, error) {
	families := map[string]bool{}
	for {
		var revoked []string
		err := retry(ctx, func() error {
			var err error
			revoked, err = queryAll(ctx, db.pool, pgx.RowTo[string], qRevokeUserRefresh, userID)
			return err
		})
		if err != nil {
			return 0, fail("revoke user refresh tokens", err)
		}
		if len(revoked) == 0 {
			break
		}
		for _, f := range revoked {
			families[f] = true
		}
	}
	// After the loop: the access tokens of the rotations it caught were
	// stored with their refresh tokens, so this statement sees them.
	if _, err := db.exec(ctx, `DELETE FROM access_tokens WHERE user_id = $1`, userID); err != nil {
		return 0, fail("revoke user access tokens", err)
	}
	return int64(len(families)), nil
}
