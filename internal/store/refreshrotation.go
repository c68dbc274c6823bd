package store

import (
	"context"
	"time"
)

// RefreshRotator rotates refresh tokens with a grace period for retries:
// a client whose refresh response was lost (a dropped connection, a server
// killed after its commit) presents its previous token again and gets the
// same successor back instead of a reuse verdict that revokes the family.
type RefreshRotator interface {
	// RotateRefresh marks r.OldID used and stores r.Next (with
	// r.NextSealed) and r.Access (when not nil), atomically; on any error
	// it stores nothing. Its outcomes:
	//
	//   - old live and unused: rotated; Rotated.Successor is nil.
	//   - old used less than r.Grace ago and the successor of that
	//     rotation still live and unused: a retry. Next is not stored,
	//     Access is, and Rotated.Successor is the successor with its
	//     sealed value.
	//   - otherwise within r.Overlap of the rotation and not used so
	//     before: Next is stored as a sibling and OverlapUsed set (see
	//     RotateRefreshToken).
	//   - otherwise ErrReused, after the whole family and its access
	//     tokens are revoked; ErrRevoked for a revoked family, ErrNotFound
	//     for an unknown or expired token.
	//
	// A successor's sealed value is kept only while it is unused: its own
	// rotation clears it, so a retry of a token whose successor moved on
	// is a reuse. Rotations, retries and revocations of one family are
	// serialised, so a revocation never leaves a token of the family
	// alive.
	RotateRefresh(ctx context.Context, r Rotation) (Rotated, error)
}

// Rotation is one refresh-token rotation request.
type Rotation struct {
	OldID string
	// Next is the token to store; Next.FamilyID must be old's family.
	Next RefreshToken
	// NextSealed is Next's value sealed by the caller, kept until Next is
	// used so that a retry of OldID can return it; nil keeps none.
	NextSealed []byte
	Now        time.Time
	// Grace is how long after a rotation a retry gets the same successor;
	// 0 makes every second use a reuse (or an overlap).
	Grace time.Duration
	// Overlap is the client's overlap period (RefreshPolicy.Overlap).
	Overlap time.Duration
	// Access is the response's access token, stored with the rotation
	// or the retry; nil for none.
	Access *AccessToken
}

// Rotated is the outcome of a successful RotateRefresh.
type Rotated struct {
	// Old is the presented token as it was before the call.
	Old RefreshToken
	// Successor is set for a retry within the grace period: the token
	// the earlier rotation stored, to be returned again instead of Next.
	Successor *RefreshToken
	// SuccessorSealed is Successor's sealed value.
	SuccessorSealed []byte
}
