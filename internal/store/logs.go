package store

import (
	"context"
	"time"
)

// LogEvent is one record of the audit log: a login, a token exchange, a
// management change. Fields that do not apply are empty. It holds no
// secret: internal/audit builds events and keeps passwords, codes, tokens
// and links out of them.
type LogEvent struct {
	// ID is the event's log_id. IDs start with the event's time, so that
	// they sort by Date across replicas, and end with random digits, so
	// that replicas never pick the same one.
	ID string
	// Seq is the store's commit order, set by AppendLogs: an event
	// committed after another has a greater Seq, whichever replica wrote
	// it and whatever its Date. Readers that follow the log (ReadLogs)
	// go by Seq, so that an event written late, with an earlier Date,
	// is not skipped. Zero before the event is stored.
	Seq              int64
	Date             time.Time
	Type             string // the hosted service's event type code: "s", "fp", "sapi", …
	Description      string
	IP               string
	UserAgent        string
	ClientID         string
	ClientName       string
	UserID           string
	UserName         string
	Connection       string
	ConnectionID     string
	Strategy         string
	OrganizationID   string
	OrganizationName string
	Audience         string
	Scope            string
	// Details is the event's free-form detail, a JSON object.
	Details map[string]any
}

// LogFilter selects and orders audit events for ListLogs and CountLogs. An
// empty field matches any event.
type LogFilter struct {
	Types          []string // any of these types
	UserID         string
	ClientID       string
	Connection     string
	OrganizationID string
	// Since and Until bound Date: Since <= Date < Until, each when set.
	Since time.Time
	Until time.Time
	// Ascending lists the oldest first; by default the newest come first.
	// Events of the same Date are ordered by ID, the same way.
	Ascending bool
	// Offset skips that many events; Limit caps the list (0: no cap).
	Offset int
	Limit  int
}

// LogStream is the state of one consumer that follows the audit log from
// outside (the webhook stream): how far it has delivered, and which
// process holds the right to deliver.
type LogStream struct {
	Name string
	// Cursor is the Seq of the last event delivered; ReadLogs continues
	// after it.
	Cursor int64
	// Owner holds the lease until LeaseUntil; nobody else may deliver
	// meanwhile.
	Owner      string
	LeaseUntil time.Time
}

// LogStore keeps the audit log and the cursors of the streams that follow
// it. Events are immutable once stored; DeleteLogsBefore removes them when
// their retention ends.
type LogStore interface {
	// AppendLogs stores events in one transaction and gives each the
	// next Seq, in commit order across every replica. An event whose ID
	// is stored already is skipped, so a batch retried after an unknown
	// outcome stores nothing twice.
	AppendLogs(ctx context.Context, events []LogEvent) error
	// GetLog returns the event with the ID; ErrNotFound.
	GetLog(ctx context.Context, id string) (LogEvent, error)
	// ListLogs returns the events the filter selects, in its order.
	ListLogs(ctx context.Context, f LogFilter) ([]LogEvent, error)
	// CountLogs returns how many events the filter selects, ignoring its
	// Offset and Limit.
	CountLogs(ctx context.Context, f LogFilter) (int, error)
	// ReadLogs returns up to limit events whose Seq is greater than
	// after, by Seq: the log as a reader that follows it sees it. An
	// event committed after the call returned has a Seq greater than
	// every one it returned.
	ReadLogs(ctx context.Context, after int64, limit int) ([]LogEvent, error)
	// LogCheckpoint returns the Seq to read after to get the events
	// committed after the one with the ID: its Seq, or, when no event
	// has the ID (one removed by retention, one not yet written), the
	// greatest Seq of the events whose ID sorts before it, in byte
	// order, and 0 when there is none.
	LogCheckpoint(ctx context.Context, id string) (int64, error)
	// DeleteLogsBefore removes the events dated before the time and
	// returns how many went.
	DeleteLogsBefore(ctx context.Context, before time.Time) (int64, error)

	// ClaimLogStream takes or renews the lease of the stream for owner
	// until now+lease and returns the stream; a stream seen for the
	// first time starts at cursor 0 (the oldest event kept).
	// ErrConflict while another owner's lease runs (LeaseUntil after
	// now).
	ClaimLogStream(ctx context.Context, name, owner string, now time.Time, lease time.Duration) (LogStream, error)
	// AdvanceLogStream moves the cursor from from to to, for owner, and
	// extends its lease until now+lease, atomically. ErrConflict when
	// owner no longer holds the stream or its cursor is not at from:
	// another process delivered meanwhile.
	AdvanceLogStream(ctx context.Context, name, owner string, from, to int64, now time.Time, lease time.Duration) error
	// ReleaseLogStream ends owner's lease at once, so that another
	// process may take the stream over without waiting for it to
	// expire. Nothing to release is no error.
	ReleaseLogStream(ctx context.Context, name, owner string) error
}
