package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"gatehouse/internal/store"
)

const jobColumns = `id, type, status, connection, external_id, upsert, format, export_limit, fields,
	total, inserted, updated, failed, details, file_size, created_at, updated_at, lease_until, expires_at`

const (
	qInsertJob = `INSERT INTO jobs (` + jobColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`
	qGetJob = `SELECT ` + jobColumns + ` FROM jobs WHERE id = $1`
	// qUpdateJob changes only a job still running, and says in the same
	// statement whether the job exists at all.
	qUpdateJob = `WITH upd AS (
			UPDATE jobs SET status = $2, total = $3, inserted = $4, updated = $5, failed = $6,
				details = $7, file_size = $8, updated_at = $9, lease_until = $10
			WHERE id = $1 AND status IN ('pending', 'processing') RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM jobs WHERE id = $1)`
	qFailStaleJobs = `UPDATE jobs SET status = 'failed', details = $2, updated_at = $1
		WHERE status IN ('pending', 'processing') AND lease_until < $1`
	qJobExists     = `SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1)`
	qListJobErrors = `SELECT row_index, user_row, errors FROM job_errors
		WHERE job_id = $1 AND row_index >= $2 ORDER BY row_index LIMIT $3`
	// qInsertJobErrors stores a batch of failed rows from parallel arrays.
	qInsertJobErrors = `INSERT INTO job_errors (job_id, row_index, user_row, errors)
		SELECT $1, e.row_index, e.user_row, e.errors
		FROM unnest($2::integer[], $3::jsonb[], $4::jsonb[]) AS e (row_index, user_row, errors)`
	qInsertJobFile = `INSERT INTO job_files (job_id, seq, data) VALUES ($1, $2, $3)`
	// qNextJobFilePart reads one part at a time, so that a slow reader of
	// a large file holds no snapshot open.
	qNextJobFilePart = `SELECT seq, data FROM job_files WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT 1`

	// qListUsersAfter pages through users in byte order of their IDs; an
	// empty connection matches every user.
	qListUsersAfter = userSelect + ` WHERE ($1 = '' OR u.connection = $1) AND u.id COLLATE "C" > $2
		ORDER BY u.id COLLATE "C" LIMIT $3`
	qReplacePasswordHash = `UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2`

	// qLockUserByEmail reads the user an upsert row changes, locked until
	// the batch commits.
	qLockUserByEmail = userSelect + ` WHERE u.connection = $1 AND u.email = $2 AND u.email <> '' FOR UPDATE`
)

func scanJob(row pgx.CollectableRow) (store.Job, error) {
	var j store.Job
	err := row.Scan(&j.ID, &j.Type, &j.Status, &j.Connection, &j.ExternalID, &j.Upsert, &j.Format, &j.Limit,
		&j.Fields, &j.Summary.Total, &j.Summary.Inserted, &j.Summary.Updated, &j.Summary.Failed,
		&j.Details, &j.FileSize, &j.CreatedAt, &j.UpdatedAt, &j.LeaseUntil, &j.ExpiresAt)
	j.CreatedAt, j.UpdatedAt, j.LeaseUntil, j.ExpiresAt = utc(j.CreatedAt), utc(j.UpdatedAt), utc(j.LeaseUntil), utc(j.ExpiresAt)
	return j, err
}

// CreateJob stores j; ErrConflict on a taken ID.
func (db *DB) CreateJob(ctx context.Context, j store.Job) error {
	fields := j.Fields
	if fields == nil {
		fields = []store.JobField{}
	}
	_, err := db.exec(ctx, qInsertJob, j.ID, j.Type, j.Status, j.Connection, j.ExternalID, j.Upsert, j.Format,
		j.Limit, fields, j.Summary.Total, j.Summary.Inserted, j.Summary.Updated, j.Summary.Failed,
		j.Details, j.FileSize, j.CreatedAt, j.UpdatedAt, j.LeaseUntil, j.ExpiresAt)
	return fail("create job", err)
}

// GetJob returns the job with the ID; ErrNotFound.
func (db *DB) GetJob(ctx context.Context, id string) (store.Job, error) {
	j, err := queryOne(ctx, db.pool, scanJob, qGetJob, id)
	if err != nil {
		return store.Job{}, fail("get job", err)
	}
	return j, nil
}

// UpdateJob replaces the progress fields of a running job; ErrNotFound,
// ErrAlreadyUsed for a job that has ended.
func (db *DB) UpdateJob(ctx context.Context, j store.Job) error {
	var updated, exists bool
	s := j.Summary
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, qUpdateJob, j.ID, j.Status, s.Total, s.Inserted, s.Updated, s.Failed,
			j.Details, j.FileSize, j.UpdatedAt, j.LeaseUntil).Scan(&updated, &exists)
	})
	switch {
	case err != nil:
		return fail("update job", err)
	case !exists:
		return fmt.Errorf("update job %q: %w", j.ID, store.ErrNotFound)
	case !updated:
		return fmt.Errorf("update job %q: it has ended: %w", j.ID, store.ErrAlreadyUsed)
	}
	return nil
}

// FailStaleJobs fails the running jobs whose lease has passed.
func (db *DB) FailStaleJobs(ctx context.Context, now time.Time, details string) (int64, error) {
	n, err := db.exec(ctx, qFailStaleJobs, now, details)
	if err != nil {
		return 0, fail("fail stale jobs", err)
	}
	return n, nil
}

// requireJob returns ErrNotFound, naming the job, when it does not exist.
// The foreign key would refuse the rows too, but only as a constraint
// error.
func requireJob(ctx context.Context, tx pgx.Tx, id string) error {
	var ok bool
	if err := tx.QueryRow(ctx, qJobExists, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// AddJobErrors stores failed rows of the job in one statement;
// ErrNotFound, ErrConflict.
func (db *DB) AddJobErrors(ctx context.Context, jobID string, errs []store.JobError) error {
	if len(errs) == 0 {
		return nil
	}
	rows := make([]int, len(errs))
	users := make([]string, len(errs))
	lists := make([]string, len(errs))
	for i, e := range errs {
		list, err := json.Marshal(e.Errors)
		if err != nil {
			return fail("add job errors", err)
		}
		rows[i], users[i], lists[i] = e.Row, string(e.User), string(list)
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := requireJob(ctx, tx, jobID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qInsertJobErrors, jobID, rows, users, lists)
		return err
	})
	return fail("add job errors", err)
}

// ListJobErrors returns the job's failed rows from fromRow on, by row.
func (db *DB) ListJobErrors(ctx context.Context, jobID string, fromRow, limit int) ([]store.JobError, error) {
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	errs, err := queryAll(ctx, db.pool, func(row pgx.CollectableRow) (store.JobError, error) {
		var e store.JobError
		err := row.Scan(&e.Row, &e.User, &e.Errors)
		return e, err
	}, qListJobErrors, jobID, fromRow, lim)
	if err != nil {
		return nil, fail("list job errors", err)
	}
	return errs, nil
}

// AppendJobFile stores a part of the job's file; ErrNotFound, ErrConflict.
func (db *DB) AppendJobFile(ctx context.Context, jobID string, seq int, data []byte) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := requireJob(ctx, tx, jobID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qInsertJobFile, jobID, seq, data)
		return err
	})
	return fail("append job file", err)
}

// ReadJobFile calls fn with each part of the job's file, in order.
func (db *DB) ReadJobFile(ctx context.Context, jobID string, fn func(part []byte) error) error {
	seq := -1 << 31
	for {
		var data []byte
		err := db.pool.QueryRow(ctx, qNextJobFilePart, jobID, seq).Scan(&seq, &data)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fail("read job file", err)
		}
		if err := fn(data); err != nil {
			return err
		}
	}
}

// ImportUsers writes the rows in one transaction, each inside a savepoint,
// so that a row refused by a unique key is undone alone. The rows that
// only insert go as one pipelined batch, one round trip for all of them;
// when one of them is refused, its savepoint is rolled back and the rows
// after it are sent again. An upsert reads its user first: it costs its
// own round trips.
func (db *DB) ImportUsers(ctx context.Context, rows []store.ImportUser) ([]store.ImportResult, error) {
	var results []store.ImportResult
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// Set afresh in each attempt of the transaction.
		results = make([]store.ImportResult, len(rows))
		for i := 0; i < len(rows); {
			if rows[i].Update != nil {
				r, err := importRow(ctx, tx, rows[i])
				if err != nil {
					return err
				}
				results[i] = r
				i++
				continue
			}
			next, err := insertRows(ctx, tx, rows, i, results)
			if err != nil {
				return err
			}
			i = next
		}
		return nil
	})
	if err != nil {
		return nil, fail("import users", err)
	}
	return results, nil
}

// insertRows sends the insert-only rows from first on, up to the next
// upsert, as one batch, each in its savepoint, and records their results.
// It returns the index of the first row it did not settle: the end of the
// run, or the row after one refused by a unique key, whose savepoint it
// has rolled back (the statements after a failed one do not run).
func insertRows(ctx context.Context, tx pgx.Tx, rows []store.ImportUser, first int, results []store.ImportResult) (int, error) {
	b := &pgx.Batch{}
	var owner []int // the row of each queued statement
	end := first
	for ; end < len(rows) && rows[end].Update == nil; end++ {
		u := rows[end].User
		fields, err := userFields(u)
		if err != nil {
			return 0, err
		}
		b.Queue(`SAVEPOINT import_row`)
		b.Queue(qInsertUser, append([]any{u.ID, u.CreatedAt}, fields...)...)
		owner = append(owner, end, end)
		if len(u.Identities) > 0 {
			conns, providers, users := identityArrays(u.Identities)
			b.Queue(qInsertIdentities, u.ID, conns, providers, users)
			owner = append(owner, end)
		}
		b.Queue(`RELEASE import_row`)
		owner = append(owner, end)
	}
	br := tx.SendBatch(ctx, b)
	failed, rowErr := -1, error(nil)
	for _, row := range owner {
		if _, err := br.Exec(); err != nil {
			failed, rowErr = row, err
			break
		}
	}
	_ = br.Close() // after a failure it reports that failure again
	settled := end
	if failed >= 0 {
		var pgErr *pgconn.PgError
		if !errors.As(rowErr, &pgErr) || pgErr.Code != "23505" { // unique_violation
			return 0, rowErr
		}
		for _, q := range []string{`ROLLBACK TO import_row`, `RELEASE import_row`} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return 0, err
			}
		}
		results[failed] = store.ImportResult{Err: fail("import user", rowErr)}
		settled = failed
	}
	for i := first; i < settled; i++ {
		results[i] = store.ImportResult{UserID: rows[i].User.ID}
	}
	if failed >= 0 {
		return failed + 1, nil
	}
	return end, nil
}

// importRow writes one row inside its savepoint. A unique violation rolls
// the row back and is its result; any other error is the batch's.
func importRow(ctx context.Context, tx pgx.Tx, row store.ImportUser) (store.ImportResult, error) {
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT import_row`)
	res, err := queueImportRow(ctx, tx, b, row)
	if err == nil {
		b.Queue(`RELEASE import_row`)
		err = tx.SendBatch(ctx, b).Close()
	}
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "23505" { // unique_violation
		return res, err
	}
	// The statements after the failed one did not run; the savepoint
	// undoes those before it.
	for _, q := range []string{`ROLLBACK TO import_row`, `RELEASE import_row`} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return store.ImportResult{}, err
		}
	}
	return store.ImportResult{Err: fail("import user", err)}, nil
}

// queueImportRow adds the writes of one row to b. An upsert reads the
// user it updates first, which runs the savepoint already queued.
func queueImportRow(ctx context.Context, tx pgx.Tx, b *pgx.Batch, row store.ImportUser) (store.ImportResult, error) {
	u := row.User
	if row.Update != nil && u.Email != "" {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return store.ImportResult{}, err
		}
		*b = pgx.Batch{}
		old, err := queryOne(ctx, tx, scanUser, qLockUserByEmail, u.Connection, u.Email)
		if err == nil {
			upd := old
			row.Update(&upd)
			upd.ID, upd.Connection, upd.Email, upd.Identities, upd.CreatedAt = old.ID, old.Connection, old.Email, old.Identities, old.CreatedAt
			fields, err := userFields(upd)
			if err != nil {
				return store.ImportResult{}, err
			}
			b.Queue(qUpdateUser, append([]any{upd.ID}, fields...)...)
			return store.ImportResult{UserID: upd.ID, Updated: true}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return store.ImportResult{}, err
		}
	}
	fields, err := userFields(u)
	if err != nil {
		return store.ImportResult{}, err
	}
	b.Queue(qInsertUser, append([]any{u.ID, u.CreatedAt}, fields...)...)
	if len(u.Identities) > 0 {
		conns, providers, users := identityArrays(u.Identities)
		b.Queue(qInsertIdentities, u.ID, conns, providers, users)
	}
	return store.ImportResult{UserID: u.ID}, nil
}

// identityArrays splits identities into the parallel arrays of
// qInsertIdentities.
func identityArrays(ids []store.Identity) (conns, providers, users []string) {
	conns = make([]string, len(ids))
	providers = make([]string, len(ids))
	users = make([]string, len(ids))
	for i, id := range ids {
		conns[i], providers[i], users[i] = id.Connection, id.Provider, id.UserID
	}
	return conns, providers, users
}

// ListUsersAfter returns the next page of the connection's users by ID.
func (db *DB) ListUsersAfter(ctx context.Context, connection, afterID string, limit int) ([]store.User, error) {
	users, err := queryAll(ctx, db.pool, scanUser, qListUsersAfter, connection, afterID, limit)
	if err != nil {
		return nil, fail("list users after", err)
	}
	return users, nil
}

// ReplacePasswordHash swaps the user's hash if it is still oldHash;
// ErrNotFound otherwise.
func (db *DB) ReplacePasswordHash(ctx context.Context, userID, oldHash, newHash string) error {
	return fail("replace password hash", changed(db.exec(ctx, qReplacePasswordHash, userID, oldHash, newHash)))
}
