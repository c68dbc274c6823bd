package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse/internal/store"
)

// busyTimeout is how long a connection waits for a lock held by another
// process before failing with SQLITE_BUSY. Writers of this process never
// wait on it: they queue for the one write connection instead.
const busyTimeout = 5 * time.Second

// DB is a store.Store in one SQLite file.
//
// SQLite has one writer at a time. DB sends every write through a pool of
// exactly one connection whose transactions begin IMMEDIATE, so concurrent
// writers queue in database/sql instead of failing with SQLITE_BUSY, and a
// read-modify-write transaction holds the write lock from its first read.
// Plain reads go to a pool of read-only connections, which WAL lets run
// beside the writer.
type DB struct {
	write *sql.DB
	read  *sql.DB
	// writeStmts and readStmts are the hot-path statements, prepared once at
	// Open for their pool; both maps are read-only afterwards.
	writeStmts map[string]*sql.Stmt
	readStmts  map[string]*sql.Stmt
	// now is the clock of the auth-request methods, which have no now
	// argument.
	now func() time.Time
	// ckpt checkpoints the WAL in the background; stopCkpt ends it.
	ckpt     *sql.DB
	stopCkpt chan struct{}
	ckptDone chan struct{}
}

var _ store.Store = (*DB)(nil)

// Open opens the store in the file at path, creating the file and its
// directory when missing, and applies the migrations it has not seen.
func Open(ctx context.Context, path string) (*DB, error) {
	db, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	return db, nil
}

func open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, errors.New("need a file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	// Create the file here so that it is private: it holds password hashes
	// and sealed keys, and SQLite gives the -wal and -shm files its mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	timeout := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	db := &DB{now: time.Now}
	db.write, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"}, // in WAL mode: durable but for the last commits on power loss
		"_foreign_keys": {"1"},
		"_busy_timeout": {timeout},
		"_txlock":       {"immediate"},
		// Checkpoints run in the background (checkpointLoop), not inside
		// the commit of whichever request crossed the threshold.
		"_pragma": {"wal_autocheckpoint(0)"},
	}))
	if err != nil {
		return nil, err
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	if err := migrate(ctx, db.write); err != nil {
		return nil, errors.Join(err, db.Close())
	}

	db.read, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_busy_timeout": {timeout},
		"_query_only":   {"1"},
	}))
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.read.SetMaxOpenConns(n)
	db.read.SetMaxIdleConns(n)

	if db.writeStmts, err = prepareAll(ctx, db.write, hotWrites); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if db.readStmts, err = prepareAll(ctx, db.read, hotReads); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if db.ckpt, err = sql.Open("sqlite", dsn(abs, url.Values{"_busy_timeout": {timeout}})); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	db.ckpt.SetMaxOpenConns(1)
	db.stopCkpt, db.ckptDone = make(chan struct{}), make(chan struct{})
	go db.checkpointLoop()
	return db, nil
}

// checkpointInterval is how often the WAL is copied back into the database.
const checkpointInterval = 100 * time.Millisecond

// walTruncateFrames is the WAL length, in frames (pages), past which the
// background checkpoint waits for readers and truncates the WAL. Passive
// checkpoints never wait, and SQLite rewinds the WAL only when no reader
// is using it: under steady reads it would never rewind and grow without
// bound. A variable so that tests can make it small.
var walTruncateFrames = 65536 // 256 MiB of 4 KiB pages

// checkpointLoop runs passive WAL checkpoints, which never block readers
// or the writer, so that no request pays for them; and, once the WAL is
// longer than walTruncateFrames, a truncating one, which holds off writers
// (not readers) until the readers of the WAL are done, usually a few
// milliseconds.
func (db *DB) checkpointLoop() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-t.C:
			var busy, frames, done int
			err := db.ckpt.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
			if err == nil && frames >= walTruncateFrames {
				_, _ = db.ckpt.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			}
		}
	}
}

// dsn returns the SQLite URI of the file at the absolute path abs.
func dsn(abs string, params url.Values) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/…
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: params.Encode()}
	return u.String()
}

// hotReads and hotWrites are the statements of the login and token paths,
// prepared once per pool so that they skip SQLite's parser on every request.
var (
	hotReads = []string{
		qGetClient, qGetAPI, qGetUser, qGetUserByEmail, qGetUserByIdentity, qGetConnection,
		qGetAuthRequest, qGetOrganization, qGetOrganizationByName, qIsMember,
		qGetCode, qGetAccessToken, qGetAccessTokenUser, qGetRefreshToken, qGetSession, qGetGrant,
		qFailures, qListSigningKeys,
		qEffectivePermissions,
	}
	hotWrites = []string{
		qInsertAuthRequest, qRecordAuthentication, qRecordConsent, qSetAuthRequestOrg, qStartUpstreamLogin, qEndAuthRequest, qConsumeUpstreamState, qDeleteAuthRequest,
		qConsumeAuthRequest, qInsertCode, qRedeemCode, qGetLiveCode,
		qInsertAccessToken, qRevokeAccessToken, qRevokeGrantAccess,
		qInsertRefreshToken, qRotateRefresh, qInsertRefreshSealed, qGetRefreshWithSuccessor, qGetRefreshToken, qMarkOverlapUsed,
		qRevokeGrantRefresh,
		qInsertSession, qDeleteSession, qRecordLogin,
		qGetGrant, qInsertGrant, qUpdateGrant,
		qAddFailure, qResetFailures,
		qTakeAttempt, qReturnAttempt, qClearAttempts,
	}
)

func prepareAll(ctx context.Context, pool *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		s, err := pool.PrepareContext(ctx, q)
		if err != nil {
			for _, s := range m {
				s.Close()
			}
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		m[q] = s
	}
	return m, nil
}

// Ping checks that both pools reach the file.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close closes the store. It may be called more than once.
func (db *DB) Close() error {
	if db.stopCkpt != nil {
		select {
		case <-db.stopCkpt:
		default:
			close(db.stopCkpt)
			<-db.ckptDone
		}
	}
	var errs []error
	for _, stmts := range []map[string]*sql.Stmt{db.readStmts, db.writeStmts} {
		for _, s := range stmts {
			errs = append(errs, s.Close())
		}
	}
	for _, pool := range []*sql.DB{db.read, db.write, db.ckpt} {
		if pool != nil {
			errs = append(errs, pool.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// Statement helpers. Each uses the prepared statement of q when there is one.

// uncancelled drops ctx's cancellation (keeping its values): the driver
// watches a cancellable context with a goroutine per statement, which costs
// more than the statements themselves here. Local statements are short, and
// lock waits are bounded by the busy timeout.
func uncancelled(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// queryRow runs a read that returns one row.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = uncancelled(ctx)
	if s, ok := db.readStmts[q]; ok {
		return s.QueryRowContext(ctx, args...)
	}
	return db.read.QueryRowContext(ctx, q, args...)
}

// query runs a read that returns rows.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = uncancelled(ctx)
	if s, ok := db.readStmts[q]; ok {
		return s.QueryContext(ctx, args...)
	}
	return db.read.QueryContext(ctx, q, args...)
}

// exec runs one write statement as its own transaction.
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = uncancelled(ctx)
	if s, ok := db.writeStmts[q]; ok {
		return s.ExecContext(ctx, args...)
	}
	return db.write.ExecContext(ctx, q, args...)
}

// writeRow runs one write statement with a RETURNING clause as its own
// transaction.
func (db *DB) writeRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = uncancelled(ctx)
	if s, ok := db.writeStmts[q]; ok {
		return s.QueryRowContext(ctx, args...)
	}
	return db.write.QueryRowContext(ctx, q, args...)
}

// tx is a write transaction.
type tx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (t tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s, ok := t.stmts[q]; ok {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s, ok := t.stmts[q]; ok {
		return t.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s, ok := t.stmts[q]; ok {
		return t.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// inTx runs fn in one write transaction and commits unless fn fails. The
// write pool's _txlock makes it BEGIN IMMEDIATE, so the transaction holds
// the write lock before its first read and cannot fail to upgrade later.
func (db *DB) inTx(ctx context.Context, fn func(t tx) error) error {
	ctx = uncancelled(ctx)
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx{tx: sqlTx, stmts: db.writeStmts}); err != nil {
		return errors.Join(err, ignoreDone(sqlTx.Rollback()))
	}
	return sqlTx.Commit()
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// Errors.

// fail wraps err with the operation, turning sql.ErrNoRows into
// store.ErrNotFound and unique-key violations into store.ErrConflict.
func fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case isConflict(err):
		// Keep the driver's text: it names the key that is taken.
		return fmt.Errorf("%s: %w (%v)", op, store.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isConflict(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// changed turns a statement that touched no row into store.ErrNotFound.
func changed(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
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
// Times are INTEGER Unix milliseconds in UTC (PostgreSQL keeps microseconds,
// so callers cannot rely on more anyway); optional times are NULL when zero.
// Durations are INTEGER milliseconds. Lists and maps are JSON text.

func millis(t time.Time) int64 { return t.UnixMilli() }

func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func durationMillis(d time.Duration) int64 { return d.Milliseconds() }

func nullMillisPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// timeCol scans a millisecond column; NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMilli(v).UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// timePtrCol scans a nullable millisecond column; NULL is nil.
type timePtrCol struct{ t **time.Time }

func (c timePtrCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = nil
	case int64:
		t := time.UnixMilli(v).UTC()
		*c.t = &t
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// durationCol scans a millisecond column into a duration.
type durationCol struct{ d *time.Duration }

func (c durationCol) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan duration: unexpected %T", src)
	}
	*c.d = time.Duration(v) * time.Millisecond
	return nil
}

// jsonCol scans a JSON text column into v.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	switch s := src.(type) {
	case string:
		return json.Unmarshal([]byte(s), c.v)
	case []byte:
		return json.Unmarshal(s, c.v)
	case nil:
		return nil
	}
	return fmt.Errorf("scan json: unexpected %T", src)
}

// listJSON encodes a string list; nil stays null so that it reads back nil.
func listJSON(s []string) string {
	b, err := json.Marshal(s)
	if err != nil {
		// Unreachable: strings always encode.
		return "[]"
	}
	return string(b)
}

// mapJSON encodes user or app metadata, which may hold values JSON cannot.
func mapJSON(m map[string]any) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// union returns a followed by the elements of b it lacks, without
// duplicates.
func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, list := range [][]string{a, b} {
		for _, s := range list {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// DeleteExpired removes expired requests, codes, sessions, tokens and
// throttle windows in one transaction.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := db.inTx(ctx, func(t tx) error {
		for _, q := range []string{
			`DELETE FROM auth_requests WHERE expires_at <= ?`,
			`DELETE FROM auth_codes WHERE expires_at <= ?`,
			`DELETE FROM sessions WHERE expires_at <= ?`,
			`DELETE FROM access_tokens WHERE expires_at <= ?`,
			`DELETE FROM refresh_tokens WHERE expires_at <= ?`,
			`DELETE FROM throttle WHERE expires_at <= ?`,
			`DELETE FROM rate_limits WHERE expires_at <= ?`,
			`DELETE FROM tickets WHERE expires_at <= ?`,
			`DELETE FROM webauthn_ceremonies WHERE expires_at <= ?`,
			`DELETE FROM jobs WHERE expires_at <= ?`,
			`DELETE FROM client_assertions WHERE expires_at <= ?`,
		} {
			res, err := t.exec(ctx, q, millis(now))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fail("delete expired", err)
	}
	return total, nil
}
