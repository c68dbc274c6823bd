package store

import (
	"context"
	"time"
)

// LogoutDelivery is one pending OpenID Back-Channel Logout 1.0 message: a
// logout token for the session SessionID owed to the client ClientID. It
// is stored so that a restart keeps it; it is deleted once the client has
// accepted it (or the sender gives up).
type LogoutDelivery struct {
	SessionID     string // stored session id (hash of the cookie); the sid claim derives from it
	ClientID      string
	UserID        string // the sub claim
	Attempts      int    // failed attempts so far
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// BackchannelLogouts remembers which applications each SSO session signed
// into and queues the logout tokens owed to them when a session ends.
type BackchannelLogouts interface {
	// RecordSessionClient remembers that the live session sessionID
	// issued a code or token to clientID. Recording twice is one record;
	// a session that does not exist records nothing. The records go with
	// the session (deleted or expired).
	RecordSessionClient(ctx context.Context, sessionID, clientID string, now time.Time) error
	// QueueSessionLogouts queues a LogoutDelivery, due at now, for each
	// client that the sessions signed into and that has a back-channel
	// logout URI, and forgets those sessions' clients. With sessionID set
	// it covers that session; otherwise every session of userID. It must
	// run before the sessions are deleted, and returns how many deliveries
	// it queued. Queueing the same session and client twice is one delivery.
	QueueSessionLogouts(ctx context.Context, sessionID, userID string, now time.Time) (int, error)
	// ClaimLogoutDeliveries returns up to limit deliveries due at now and
	// moves their NextAttemptAt to now+lease, so that another sender
	// (another replica) leaves them alone while this one works.
	ClaimLogoutDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]LogoutDelivery, error)
	// RetryLogoutDelivery records a failed attempt: Attempts becomes
	// attempts and the delivery is due again at next. ErrNotFound when
	// the delivery is gone.
	RetryLogoutDelivery(ctx context.Context, sessionID, clientID string, attempts int, next time.Time) error
	// DeleteLogoutDelivery removes a delivery that was sent or given up;
	// removing a missing one is not an error.
	DeleteLogoutDelivery(ctx context.Context, sessionID, clientID string) error
}
