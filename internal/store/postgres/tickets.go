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

	// qRevokeUserRefresh returns the families it revoked tokens of, so that
	// the caller can count them and check it had locked them.
	qRevokeUserRefresh = `WITH revoked AS (
			UPDATE refresh_tokens SET revoked = true WHERE user_id = $1 AND NOT revoked
			RETURNING family_id
		)
		SELECT DISTINCT family_id FROM revoked`
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

// RevokeUserRefreshTokens revokes the user's refresh tokens and deletes
// their opaque access tokens under the family locks, as rotations and
// revokeGrant take them (see userfamilies.go).
//
// The happy path is one round trip: the locks, the revocation and the
// deletion go out as one batch, which PostgreSQL runs as one implicit
// transaction, each statement with a snapshot taken after the one before
// finished, so after the locks were granted. The batch runs again only
// when it revoked a token of a family it had not locked: a family whose
// first token was stored after the locks were taken, whose rotation may
// have committed while the revocation ran.
func (db *DB) RevokeUserRefreshTokens(ctx context.Context, userID string) (int64, error) {
	families := map[string]bool{}
	for {
		var locked, revoked []string
		err := retry(ctx, func() error {
			var err error
			locked, revoked, err = db.revokeUserBatch(ctx, userID)
			return err
		})
		if err != nil {
			return 0, fail("revoke user refresh tokens", err)
		}
		lockedSet := map[string]bool{}
		for _, f := range locked {
			lockedSet[f] = true
		}
		for _, f := range revoked {
			families[f] = true
		}
		if allLocked(revoked, lockedSet) {
			return int64(len(families)), nil
		}
	}
}

// revokeUserBatch sends the family locks, the revocation and the deletion
// of the access tokens in one round trip and returns the families it
// locked and those it revoked tokens of.
func (db *DB) revokeUserBatch(ctx context.Context, userID string) (locked, revoked []string, err error) {
	b := &pgx.Batch{}
	b.Queue(qLockUserFamilies, familyLockSpace, userID)
	b.Queue(qRevokeUserRefresh, userID)
	b.Queue(`DELETE FROM access_tokens WHERE user_id = $1`, userID)
	br := db.pool.SendBatch(ctx, b)
	rows, err := br.Query()
	if err == nil {
		locked, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err == nil {
		rows, err = br.Query()
	}
	if err == nil {
		revoked, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return locked, revoked, err
}
