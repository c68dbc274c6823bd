package store

import (
	"context"
	"time"
)

// SigningKeyRevoker withdraws a signing key before its time: after a key
// has leaked, the tokens it signed must stop verifying now, not when they
// expire.
type SigningKeyRevoker interface {
	// RevokeSigningKey revokes the previous key kid at now: it stops
	// being published (its RetireAt becomes now, unless it is earlier)
	// and its RevokedAt is set to now. Only a previous key that is not
	// revoked yet can be revoked: ErrNotFound otherwise, for an unknown
	// kid, a current or next key (they must be rotated out first) and a
	// revoked one alike. A revoked key is deleted with the other retired
	// keys of its ring at the next rotation.
	RevokeSigningKey(ctx context.Context, kid string, now time.Time) error
}
