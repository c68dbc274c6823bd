package store

import (
	"context"
	"time"
)

// Ceremony is a WebAuthn ceremony in progress, between the page that asked
// the browser for a credential and the post that answers it. The hosted
// pages keep it server-side so that its challenge is answered once at
// most; the browser holds only a cookie naming it.
type Ceremony struct {
	ID        string // hash of the cookie value
	Data      []byte // what the pages need to finish it, opaque to the store
	ExpiresAt time.Time
}

// CeremonyStore keeps WebAuthn ceremonies in progress.
type CeremonyStore interface {
	// CreateCeremony stores c; ErrConflict when its ID is taken.
	CreateCeremony(ctx context.Context, c Ceremony) error
	// TakeCeremony removes the ceremony and returns it, atomically, so
	// that of any number of concurrent takes exactly one gets it.
	// ErrNotFound when it is unknown, taken before, or expired at now.
	TakeCeremony(ctx context.Context, id string, now time.Time) (Ceremony, error)
}

// SessionSteps records what happens to a live SSO session after it began.
type SessionSteps interface {
	// AddSessionMethods appends to the session's Methods those of methods
	// it lacks, in order, atomically: a second factor passed after the
	// password. ErrNotFound when the session is unknown or expired at now.
	AddSessionMethods(ctx context.Context, id string, methods []string, now time.Time) (Session, error)
}
