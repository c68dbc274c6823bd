package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/store"
)

const (
	// The session's user comes from the session row, so a session that
	// is gone records nothing.
	qRecordSessionClient = `INSERT INTO session_clients (session_id, client_id, user_id, created_at)
		SELECT id, ?, user_id, ? FROM sessions WHERE id = ?
		ON CONFLICT (session_id, client_id) DO NOTHING`
	qQueueSessionLogouts = `INSERT INTO logout_deliveries (session_id, client_id, user_id, attempts, next_attempt_at, created_at)
		SELECT sc.session_id, sc.client_id, sc.user_id, 0, ?, ?
		FROM session_clients sc JOIN clients c ON c.id = sc.client_id
		WHERE c.backchannel_logout_uri <> '' AND (sc.session_id = ? OR (? = '' AND sc.user_id = ?))
		ON CONFLICT (session_id, client_id) DO NOTHING`
	qForgetSessionClients  = `DELETE FROM session_clients WHERE session_id = ? OR (? = '' AND user_id = ?)`
	qClaimLogoutDeliveries = `UPDATE logout_deliveries SET next_attempt_at = ?
		WHERE (session_id, client_id) IN (SELECT session_id, client_id FROM logout_deliveries
			WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?)
		RETURNING session_id, client_id, user_id, attempts, next_attempt_at, created_at`
	qRetryLogoutDelivery  = `UPDATE logout_deliveries SET attempts = ?, next_attempt_at = ? WHERE session_id = ? AND client_id = ?`
	qDeleteLogoutDelivery = `DELETE FROM logout_deliveries WHERE session_id = ? AND client_id = ?`
)

// RecordSessionClient remembers that the session issued to the client.
func (db *DB) RecordSessionClient(ctx context.Context, sessionID, clientID string, now time.Time) error {
	_, err := db.exec(ctx, qRecordSessionClient, clientID, millis(now), sessionID)
	return fail("record session client", err)
}

// QueueSessionLogouts queues the logout tokens owed for the session (or
// every session of the user) and forgets its clients, in one transaction.
func (db *DB) QueueSessionLogouts(ctx context.Context, sessionID, userID string, now time.Time) (int, error) {
	if sessionID == "" && userID == "" {
		return 0, nil
	}
	var n int64
	err := db.inTx(ctx, func(t tx) error {
		res, err := t.exec(ctx, qQueueSessionLogouts, millis(now), millis(now), sessionID, sessionID, userID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = t.exec(ctx, qForgetSessionClients, sessionID, sessionID, userID)
		return err
	})
	if err != nil {
		return 0, fail("queue session logouts", err)
	}
	return int(n), nil
}

// ClaimLogoutDeliveries returns the due deliveries and leases them.
func (db *DB) ClaimLogoutDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.LogoutDelivery, error) {
	var out []store.LogoutDelivery
	err := db.inTx(ctx, func(t tx) error {
		out = out[:0]
		rows, err := t.query(ctx, qClaimLogoutDeliveries, millis(now.Add(lease)), millis(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d store.LogoutDelivery
			if err := rows.Scan(&d.SessionID, &d.ClientID, &d.UserID, &d.Attempts,
				timeCol{&d.NextAttemptAt}, timeCol{&d.CreatedAt}); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fail("claim logout deliveries", err)
	}
	return out, nil
}

// RetryLogoutDelivery records a failed attempt; ErrNotFound when the
// delivery is gone.
func (db *DB) RetryLogoutDelivery(ctx context.Context, sessionID, clientID string, attempts int, next time.Time) error {
	return fail("retry logout delivery", changed(db.exec(ctx, qRetryLogoutDelivery, attempts, millis(next), sessionID, clientID)))
}

// DeleteLogoutDelivery removes the delivery, if it is there.
func (db *DB) DeleteLogoutDelivery(ctx context.Context, sessionID, clientID string) error {
	_, err := db.exec(ctx, qDeleteLogoutDelivery, sessionID, clientID)
	return fail("delete logout delivery", err)
}
