package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"gatehouse/internal/store"
)

// Defaults of Options.
const (
	// DefaultStatementTimeout bounds every statement, so that a request
	// stuck on a lock or a sick database fails instead of hanging.
	DefaultStatementTimeout = 10 * time.Second
	// DefaultConnectTimeout bounds dialling and authenticating one
	// connection, so that requests fail fast while the database is down.
	DefaultConnectTimeout = 5 * time.Second
)

// Options tunes the connection pool. A zero field takes the DSN's setting
// (pool_max_conns, pool_min_conns, statement_timeout, connect_timeout) and,
// where the DSN has none, the default.
type Options struct {
	// MaxConns caps the pool; pgxpool's default is max(4, NumCPU). Size it
	// so that replicas × MaxConns stays below the server's max_connections.
	MaxConns int32
	// MinConns is how many idle connections the pool keeps open.
	MinConns int32
	// StatementTimeout is the server-side statement_timeout of every
	// connection (DefaultStatementTimeout). Migrations are exempt.
	StatementTimeout time.Duration
	// ConnectTimeout bounds opening one connection (DefaultConnectTimeout).
	ConnectTimeout time.Duration
}

// DB is a store.Store in PostgreSQL, shared by any number of replicas.
//
// Each method is one statement or one transaction at READ COMMITTED;
// RedeemCode and RotateRefreshToken are one statement in the common case
// and add a transaction only when it misses. Single-use values are settled
// by row locks: the first UPDATE … RETURNING wins, and concurrent ones wait
// for it and then see the row already used. Nothing is cached in the
// process; the clock of the auth-request methods is the replica's own.
type DB struct {
	pool *pgxpool.Pool
	// now is the clock of the auth-request methods, which have no now
	// argument.
	now func() time.Time
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at dsn (a postgres:// URL or a key=value
// string, as libpq takes) and applies the migrations it has not seen. The
// tables go in the first schema of the connection's search_path.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	db, err := open(ctx, dsn, opts)
	if err != nil {
		// The DSN is not repeated: it may hold the password.
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return db, nil
}

func open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := poolConfig(dsn, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool, now: time.Now}, nil
}

// poolConfig parses dsn and applies opts over it.
func poolConfig(dsn string, opts Options) (*pgxpool.Config, error) {
	if opts.MaxConns < 0 || opts.MinConns < 0 || opts.StatementTimeout < 0 || opts.ConnectTimeout < 0 {
		return nil, errors.New("negative pool option")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if cfg.MinConns > cfg.MaxConns {
		return nil, fmt.Errorf("min conns %d above max conns %d", cfg.MinConns, cfg.MaxConns)
	}

	cc := cfg.ConnConfig
	switch {
	case opts.ConnectTimeout > 0:
		cc.ConnectTimeout = opts.ConnectTimeout
	case cc.ConnectTimeout == 0:
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	// statement_timeout is sent in the startup message, so it holds from
	// the first statement of every connection, with no extra round trip.
	switch _, inDSN := cc.RuntimeParams["statement_timeout"]; {
	case opts.StatementTimeout > 0:
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(1, opts.StatementTimeout.Milliseconds()), 10)
	case !inDSN:
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "gatehouse"
	}
	return cfg, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fail("ping", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned. It
// may be called more than once.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Transactions and retries.

// maxAttempts is how often a statement or transaction that PostgreSQL
// aborted for a serialization failure or a deadlock is tried in all.
const maxAttempts = 4

// retry runs fn until it succeeds, fails for another reason, or has been
// tried maxAttempts times. fn must be safe to run again: each attempt is a
// statement or transaction of its own that the server rolled back.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		// A short random pause, growing with the attempts, so that the
		// transactions that collided do not collide again.
		pause := time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// retryable reports whether err is a serialization failure or a deadlock,
// after which the same work may succeed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return true
	}
	return false
}

// inTx runs fn in a transaction and commits unless fn fails, retrying the
// whole transaction after a serialization failure or deadlock. fn must set
// its results only from what it read in this attempt.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, fn)
	})
}

// exec runs one statement as its own transaction and returns how many rows
// it touched.
func (db *DB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, q, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// Reads.

// querier is the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryOne runs a query that returns at most one row and scans it;
// pgx.ErrNoRows when there is none.
func queryOne[T any](ctx context.Context, q querier, scan pgx.RowToFunc[T], sql string, args ...any) (T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	return pgx.CollectExactlyOneRow(rows, scan)
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, q querier, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

// Errors.

// fail wraps err with the operation, turning pgx.ErrNoRows into
// store.ErrNotFound and unique violations into store.ErrConflict.
func fail(op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		// Keep the server's detail: it names the key that is taken.
		return fmt.Errorf("%s: %w (%s: %s)", op, store.ErrConflict, pgErr.ConstraintName, pgErr.Detail)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports errors that mean the database cannot serve now:
// no connection, a dropped one, a timeout, or a server shutting down or
// full. The request can be retried later; it is not the caller's fault.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "57P"), // operator intervention: shutdown, cannot connect now
			pgErr.Code == "57014",                // query_canceled (statement_timeout)
			pgErr.Code == "53300":                // too_many_connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// changed turns a statement that touched no row into store.ErrNotFound.
func changed(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Columns.
//
// Times are timestamptz, which keeps microseconds; optional times are NULL
// when zero. pgx reads timestamptz in time.Local, so every scanned time goes
// through utc. Durations are bigint milliseconds; lists and maps are JSONB.

// utc returns t in UTC; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// timeOrZero returns *t in UTC, or the zero time for NULL.
func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func millis(d time.Duration) int64 { return d.Milliseconds() }

func duration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// list is a string list for a NOT NULL JSONB column: pgx would send nil as
// NULL, so nil goes as [] (the store does not tell nil from empty).
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// union returns a followed by the elements of b it lacks, without
// duplicates.
func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, l := range [][]string{a, b} {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// DeleteExpired removes expired requests, codes, sessions, tokens and
// throttle windows in batches of deleteBatch rows, each a statement of its
// own that skips rows other transactions hold. Every replica may run it at
// the same time: they share the work instead of waiting for each other,
// and no batch holds its locks for long. A row skipped because it was
// locked goes in a later run.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, table := range []string{"auth_requests", "auth_codes", "sessions", "access_tokens", "refresh_tokens", "throttle", "rate_limits", "tickets", "webauthn_ceremonies", "jobs", "client_assertions"} {
		// ctid addresses the row version locked by the subquery; the
		// locks keep it from moving before the DELETE.
		q := `DELETE FROM ` + table + ` WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM ` + table + ` WHERE expires_at <= $1
			LIMIT ` + strconv.Itoa(deleteBatch) + ` FOR UPDATE SKIP LOCKED))`
		for {
			n, err := db.exec(ctx, q, now)
			if err != nil {
				return total, fail("delete expired "+table, err)
			}
			total += n
			if n < deleteBatch {
				break
			}
		}
	}
	return total, nil
}

// deleteBatch is how many rows one DeleteExpired statement removes at most.
const deleteBatch = 1000
