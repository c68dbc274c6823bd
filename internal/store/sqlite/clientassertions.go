package sqlite

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/store"
)

// qUseClientAssertion records a jti, or takes over the row of an expired
// one; a live row is left alone and no row changes.
const qUseClientAssertion = `INSERT INTO client_assertions (client_id, jti, expires_at) VALUES (?, ?, ?)
	ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
	WHERE client_assertions.expires_at <= ?`

// UseClientAssertion records the client's jti until expiresAt;
// ErrAlreadyUsed while a recorded one is live.
func (db *DB) UseClientAssertion(ctx context.Context, clientID, jti string, now, expiresAt time.Time) error {
	err := changed(db.exec(ctx, qUseClientAssertion, clientID, jti, millis(expiresAt), millis(now)))
	if errors.Is(err, store.ErrNotFound) {
		err = store.ErrAlreadyUsed
	}
	return fail("use client assertion", err)
}
