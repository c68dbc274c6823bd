package store

import (
	"context"
	"time"
)

// ClientAssertionStore remembers the jti of each accepted private_key_jwt
// client assertion until the assertion expires, so that a captured
// assertion cannot be replayed (RFC 7523 §3, OIDC Core §9). DeleteExpired
// removes the expired ones.
type ClientAssertionStore interface {
	// UseClientAssertion records jti for the client until expiresAt, in one
	// atomic step. ErrAlreadyUsed when the same client's jti is recorded
	// and has not expired at now.
	UseClientAssertion(ctx context.Context, clientID, jti string, now, expiresAt time.Time) error
}
