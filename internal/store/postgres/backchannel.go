package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const (
	// The session's user comes from the session row, so a session that
	// is gone records nothing.
	qRecordSessionClient = `INSERT INTO session_clients (session_id, client_id, user_id, created_at)
		SELECT id, $1, user_id, $2 FROM sessions WHERE id = $3
		ON CONFLICT (session_id, client_id) DO NOTHING`
	qQueueSessionLogouts = `INSERT INTO logout_deliveries (session_id, client_id, user_id, attempts, next_attempt_at, created_at)
		SELECT sc.session_id, sc.client_id, sc.user_id, 0, $1, $1
		FROM session_clients sc JOIN clients c ON c.id = sc.client_id
		WHERE c.backchannel_logout_uri <> '' AND (sc.session_id = $2 OR ($2 = '' AND sc.user_id = $3))
		ON CONFLICT (session_id, client_id) DO NOTHING`
	qForgetSessionClients = `DELETE FROM session_clients WHERE session_id = $1 OR ($1 = '' AND user_id = $2)`
	// SKIP LOCKED: two replicas claiming at once take different rows.
	qClaimLogoutDeliveries = `UPDATE logout_deliveries SET next_attempt_at = $1
		WHERE (session_id, client_id) IN (SELECT session_id, client_id FROM logout_deliveries
			WHERE next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING session_id, client_id, user_id, attempts, next_attempt_at, created_at`
	qRetryLogoutDelivery  = `UPDATE logout_deliveries SET attempts = $1, next_attempt_at = $2 WHERE session_id = $3 AND client_id = $4`
	qDeleteLogoutDelivery = `DELETE FROM logout_deliveries WHERE session_id = $1 AND client_id = $2`
)

// RecordSessionClient remembers that the session issued to the client.
func (db *DB) RecordSessionClient(ctx context.Context, sessionID, clientID string, now time.Time) error {
	_, err := db.exec(ctx, qRecordSessionClient, clientID, now, sessionID)
	return fail("record session client", err)
}

// QueueSessionLogouts queues the logout tokens owed for the session (or
// every session of the user) and forgets its clients, in one transaction.
func (db *DB) QueueSessionLogouts(ctx context.Context, sessionID, userID string, now time.Time) (int, error) {
	if sessionID == "" && userID == "" {
		return 0, nil
	}
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qQueueSessionLogouts, now, sessionID, userID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, qForgetSessionClients, sessionID, userID)
		return err
	})
	if err != nil {
		return 0, fail("queue session logouts", err)
	}
	return int(n), nil
}

func scanLogoutDelivery(row pgx.CollectableRow) (store.LogoutDelivery, error) {
	var d store.LogoutDelivery
	err := row.Scan(&d.SessionID, &d.ClientID, &d.UserID, &d.Attempts, &d.NextAttemptAt, &d.CreatedAt)
	d.NextAttemptAt, d.CreatedAt = utc(d.NextAttemptAt), utc(d.CreatedAt)
	return d, err
}

// ClaimLogoutDeliveries returns the due deliveries and leases them.
func (db *DB) ClaimLogoutDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.LogoutDelivery, error) {
	var out []store.LogoutDelivery
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = queryAll(ctx, tx, scanLogoutDelivery, qClaimLogoutDeliveries, now.Add(lease), now, limit)
		return err
	})
	if err != nil {
		return nil, fail("claim logout deliveries", err)
	}
	return out, nil
}

// RetryLogoutDelivery records a failed attempt; ErrNotFound when the
// delivery is gone.
func (db *DB) RetryLogoutDelivery(ctx context.Context, sessionID, clientID string, attempts int, next time.Time) error {
	return fail("retry logout delivery", changed(db.exec(ctx, qRetryLogoutDelivery, attempts, next, sessionID, clientID)))
}

// DeleteLogoutDelivery removes the delivery, if it is there.
func (db *DB) DeleteLogoutDelivery(ctx context.Context, sessionID, clientID string) error {
	_, err := db.exec(ctx, qDeleteLogoutDelivery, sessionID, clientID)
	return fail("delete logout delivery", err)
}
