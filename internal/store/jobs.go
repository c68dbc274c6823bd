package store

import (
	"context"
	"time"
)

// Kinds of Job.
const (
	JobUsersImport = "users_import"
	JobUsersExport = "users_export"
)

// States of a Job. A job is created pending, runs processing, and ends
// completed or failed; the two end states are final.
const (
	JobPending    = "pending"
	JobProcessing = "processing"
	JobCompleted  = "completed"
	JobFailed     = "failed"
)

// Job is a bulk user import or export that runs in the background.
type Job struct {
	ID         string // "job_…"
	Type       string // JobUsersImport or JobUsersExport
	Status     string // JobPending, JobProcessing, JobCompleted or JobFailed
	Connection string // the connection's name; "" for an export of every user
	ExternalID string // the caller's reference, returned as it was given
	Upsert     bool   // import: update users that exist (by email in the connection)
	// Format, Limit and Fields are an export's options: the file's format,
	// how many users at most (0: all) and which fields of each.
	Format  string
	Limit   int
	Fields  []JobField
	Summary JobSummary
	// Details says why a failed job failed (a file that could not be read,
	// a database error, a server that stopped); "" otherwise. Rows that
	// failed are JobErrors, not Details.
	Details string
	// FileSize is the size in bytes of a completed export's file.
	FileSize  int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// LeaseUntil is how long the process running the job answers for it:
	// it moves the lease forward while it works, and a pending or
	// processing job whose lease has passed belongs to a process that
	// stopped (FailStaleJobs).
	LeaseUntil time.Time
	// ExpiresAt is when DeleteExpired removes the job, its errors and its
	// file.
	ExpiresAt time.Time
}

// JobField is one field of an export: a path in the user's profile
// ("email", "user_metadata.plan", "identities[0].connection") and the
// name it is written under ("" for the path itself). The backends store
// it as JSON with these tags.
type JobField struct {
	Name     string `json:"name"`
	ExportAs string `json:"export_as,omitempty"`
}

// JobSummary counts an import's rows: all of them, the users inserted and
// updated, and the rows that failed. An export counts the users written in
// Total and Inserted.
type JobSummary struct {
	Total    int
	Inserted int
	Updated  int
	Failed   int
}

// JobError is a row of an import that was not written, and why.
type JobError struct {
	Row int // the row's index in the file, from 0
	// User is the row as it was in the file (JSON), without its password
	// hash.
	User   []byte
	Errors []RowError
}

// RowError is one reason a row was refused: a code, a message and the
// path of the offending value ("#/email"). The backends store it as JSON
// with these tags.
type RowError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
}

// ImportUser is one row of ImportUsers: a new user with its identities,
// and for an upsert the change to make to the user that already has its
// email in its connection.
type ImportUser struct {
	User User
	// Update, when set, makes the row an upsert: if User.Connection has a
	// user with User.Email, Update changes that user instead of User
	// being inserted. The existing user's ID, Connection, Email,
	// Identities and CreatedAt stay as they were whatever Update does.
	Update func(existing *User)
}

// ImportResult is what became of one row of ImportUsers.
type ImportResult struct {
	UserID  string // the user inserted or updated
	Updated bool   // an existing user was updated rather than one inserted
	// Err, when set, says why nothing of the row was written:
	// ErrConflict when its ID, its email or its identity is taken.
	Err error
}

// JobStore keeps bulk import and export jobs, writes users in bulk, and
// replaces the imported password hashes of users who log in.
//
// A job goes with its errors and its file: DeleteExpired removes the three
// together once the job's ExpiresAt has passed.
type JobStore interface {
	// CreateJob stores j; ErrConflict on a taken ID.
	CreateJob(ctx context.Context, j Job) error
	// GetJob returns the job with the ID; ErrNotFound.
	GetJob(ctx context.Context, id string) (Job, error)
	// UpdateJob replaces the job's Status, Summary, Details, FileSize,
	// UpdatedAt and LeaseUntil. ErrNotFound for an unknown job;
	// ErrAlreadyUsed, changing nothing, when the stored job has ended
	// (completed or failed), so that a job failed as stale stays failed.
	UpdateJob(ctx context.Context, j Job) error
	// FailStaleJobs marks failed, with details, every pending or processing
	// job whose LeaseUntil is before now, and returns how many it marked.
	FailStaleJobs(ctx context.Context, now time.Time, details string) (int64, error)

	// AddJobErrors stores rows that failed; ErrNotFound for an unknown
	// job, ErrConflict when a row of the job has errors already.
	AddJobErrors(ctx context.Context, jobID string, errs []JobError) error
	// ListJobErrors returns the job's failed rows by Row, from the first
	// whose Row is at least fromRow, at most limit of them (0: all). An
	// unknown job has none.
	ListJobErrors(ctx context.Context, jobID string, fromRow, limit int) ([]JobError, error)

	// AppendJobFile stores the next part of a job's file; parts are read
	// back in the order of seq. ErrNotFound for an unknown job,
	// ErrConflict for a seq stored before.
	AppendJobFile(ctx context.Context, jobID string, seq int, data []byte) error
	// ReadJobFile calls fn with each part of the job's file in order, and
	// stops at fn's first error, which it returns. An unknown job has no
	// parts.
	ReadJobFile(ctx context.Context, jobID string, fn func(part []byte) error) error

	// ImportUsers writes a batch of rows in one transaction, each row
	// whole or not at all: a row that fails (ErrConflict) is reported in
	// its ImportResult and the others are written. The results follow the
	// rows' order. An error of the database itself is returned, and then
	// nothing of the batch is written.
	ImportUsers(ctx context.Context, rows []ImportUser) ([]ImportResult, error)
	// ListUsersAfter returns up to limit users of the connection ("" for
	// every connection) whose IDs come after afterID in byte order,
	// ordered by ID: a page of an export that other writes do not shift.
	ListUsersAfter(ctx context.Context, connection, afterID string, limit int) ([]User, error)
	// ReplacePasswordHash sets the user's password hash to newHash if it
	// is still oldHash, leaving every other field, UpdatedAt included, as
	// it is: the upgrade of an imported hash at login, which must not undo
	// a password change made meanwhile. ErrNotFound when the user is gone
	// or its hash is no longer oldHash.
	ReplacePasswordHash(ctx context.Context, userID, oldHash, newHash string) error
}
