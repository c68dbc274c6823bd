package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

const jobColumns = `id, type, status, connection, external_id, upsert, format, export_limit, fields,
	total, inserted, updated, failed, details, file_size, created_at, updated_at, lease_until, expires_at`

const (
	qInsertJob = `INSERT INTO jobs (` + jobColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetJob = `SELECT ` + jobColumns + ` FROM jobs WHERE id = ?`
	// qUpdateJob changes only a job still running: the end states are
	// final.
	qUpdateJob = `UPDATE jobs SET status = ?, total = ?, inserted = ?, updated = ?, failed = ?,
		details = ?, file_size = ?, updated_at = ?, lease_until = ?
		WHERE id = ? AND status IN ('pending', 'processing')`
	qJobExists     = `SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?)`
	qFailStaleJobs = `UPDATE jobs SET status = 'failed', details = ?, updated_at = ?
		WHERE status IN ('pending', 'processing') AND lease_until < ?`
	qInsertJobError = `INSERT INTO job_errors (job_id, row_index, user_row, errors) VALUES (?, ?, ?, ?)`
	qListJobErrors  = `SELECT row_index, user_row, errors FROM job_errors
		WHERE job_id = ? AND row_index >= ? ORDER BY row_index LIMIT ?`
	qInsertJobFile = `INSERT INTO job_files (job_id, seq, data) VALUES (?, ?, ?)`
	// qNextJobFilePart reads one part at a time, so that a slow reader of
	// a large file holds no read transaction open.
	qNextJobFilePart = `SELECT seq, data FROM job_files WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT 1`

	// qListUsersAfter pages through users by ID; the inner query picks the
	// page, the outer one adds the identities. An empty connection
	// matches every user.
	qListUsersAfter = userSelect + ` WHERE u.id IN (SELECT id FROM users
		WHERE (? = '' OR connection = ?) AND id > ? ORDER BY id LIMIT ?) ORDER BY u.id, i.position`
	qReplacePasswordHash = `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`
)

func scanJob(sc scanner) (store.Job, error) {
	var j store.Job
	err := sc.Scan(&j.ID, &j.Type, &j.Status, &j.Connection, &j.ExternalID, &j.Upsert, &j.Format, &j.Limit,
		jsonCol{&j.Fields}, &j.Summary.Total, &j.Summary.Inserted, &j.Summary.Updated, &j.Summary.Failed,
		&j.Details, &j.FileSize, timeCol{&j.CreatedAt}, timeCol{&j.UpdatedAt}, timeCol{&j.LeaseUntil},
		timeCol{&j.ExpiresAt})
	return j, err
}

// CreateJob stores j; ErrConflict on a taken ID.
func (db *DB) CreateJob(ctx context.Context, j store.Job) error {
	fields, err := json.Marshal(j.Fields)
	if err != nil {
		return fail("create job", err)
	}
	_, err = db.exec(ctx, qInsertJob, j.ID, j.Type, j.Status, j.Connection, j.ExternalID, j.Upsert, j.Format,
		j.Limit, string(fields), j.Summary.Total, j.Summary.Inserted, j.Summary.Updated, j.Summary.Failed,
		j.Details, j.FileSize, millis(j.CreatedAt), millis(j.UpdatedAt), millis(j.LeaseUntil), millis(j.ExpiresAt))
	return fail("create job", err)
}

// GetJob returns the job with the ID; ErrNotFound.
func (db *DB) GetJob(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(db.queryRow(ctx, qGetJob, id))
	if err != nil {
		return store.Job{}, fail("get job", err)
	}
	return j, nil
}

// UpdateJob replaces the progress fields of a running job; ErrNotFound,
// ErrAlreadyUsed for a job that has ended.
func (db *DB) UpdateJob(ctx context.Context, j store.Job) error {
	err := db.inTx(ctx, func(t tx) error {
		s := j.Summary
		err := changed(t.exec(ctx, qUpdateJob, j.Status, s.Total, s.Inserted, s.Updated, s.Failed, j.Details,
			j.FileSize, millis(j.UpdatedAt), millis(j.LeaseUntil), j.ID))
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return jobGone(ctx, t, j.ID)
	})
	return fail("update job", err)
}

// jobGone tells apart, after an UPDATE that changed nothing, a job that
// does not exist (ErrNotFound) from one that has ended (ErrAlreadyUsed).
func jobGone(ctx context.Context, t tx, id string) error {
	var ok bool
	if err := t.queryRow(ctx, qJobExists, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	return fmt.Errorf("job %q has ended: %w", id, store.ErrAlreadyUsed)
}

// FailStaleJobs fails the running jobs whose lease has passed.
func (db *DB) FailStaleJobs(ctx context.Context, now time.Time, details string) (int64, error) {
	res, err := db.exec(ctx, qFailStaleJobs, details, millis(now), millis(now))
	if err != nil {
		return 0, fail("fail stale jobs", err)
	}
	n, err := res.RowsAffected()
	return n, fail("fail stale jobs", err)
}

// requireJob returns ErrNotFound, naming the job, when it does not exist.
// The foreign key would refuse the row too, but only as a constraint
// error.
func requireJob(ctx context.Context, t tx, id string) error {
	var ok bool
	if err := t.queryRow(ctx, qJobExists, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// AddJobErrors stores failed rows of the job; ErrNotFound, ErrConflict.
func (db *DB) AddJobErrors(ctx context.Context, jobID string, errs []store.JobError) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := requireJob(ctx, t, jobID); err != nil {
			return err
		}
		for _, e := range errs {
			list, err := json.Marshal(e.Errors)
			if err != nil {
				return err
			}
			if _, err := t.exec(ctx, qInsertJobError, jobID, e.Row, string(e.User), string(list)); err != nil {
				return err
			}
		}
		return nil
	})
	return fail("add job errors", err)
}

// ListJobErrors returns the job's failed rows from fromRow on, by row.
func (db *DB) ListJobErrors(ctx context.Context, jobID string, fromRow, limit int) ([]store.JobError, error) {
	if limit <= 0 {
		limit = -1 // SQLite's "no limit"
	}
	rows, err := db.query(ctx, qListJobErrors, jobID, fromRow, limit)
	if err != nil {
		return nil, fail("list job errors", err)
	}
	defer rows.Close()
	var errs []store.JobError
	for rows.Next() {
		var e store.JobError
		var user string
		if err := rows.Scan(&e.Row, &user, jsonCol{&e.Errors}); err != nil {
			return nil, fail("list job errors", err)
		}
		e.User = []byte(user)
		errs = append(errs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list job errors", err)
	}
	return errs, nil
}

// AppendJobFile stores a part of the job's file; ErrNotFound, ErrConflict.
func (db *DB) AppendJobFile(ctx context.Context, jobID string, seq int, data []byte) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := requireJob(ctx, t, jobID); err != nil {
			return err
		}
		_, err := t.exec(ctx, qInsertJobFile, jobID, seq, data)
		return err
	})
	return fail("append job file", err)
}

// ReadJobFile calls fn with each part of the job's file, in order.
func (db *DB) ReadJobFile(ctx context.Context, jobID string, fn func(part []byte) error) error {
	seq := -1 << 31
	for {
		var data []byte
		err := db.queryRow(ctx, qNextJobFilePart, jobID, seq).Scan(&seq, &data)
		if errors.Is(err, sql.ErrNoRows) {
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

// Statements of ImportUsers, prepared once per batch.
const (
	qSavepoint  = `SAVEPOINT import_row`
	qRelease    = `RELEASE import_row`
	qRollbackTo = `ROLLBACK TO import_row`
)

// importStatements are the statements every row of ImportUsers runs.
var importStatements = []string{qSavepoint, qRelease, qRollbackTo, qInsertUser, qInsertIdentity, qUpdateUser, qGetUserByEmail}

// ImportUsers writes the rows in one write transaction, each inside a
// savepoint, so that a row refused by a unique key is undone alone.
func (db *DB) ImportUsers(ctx context.Context, rows []store.ImportUser) ([]store.ImportResult, error) {
	// Each row's savepoint journals the pages it changes; kept in memory
	// rather than in a temporary file, that costs no system call per page
	// (it was a third of an import's time). The setting is the write
	// connection's; temporary tables and sorts of later writes gain too.
	if _, err := db.write.ExecContext(uncancelled(ctx), `PRAGMA temp_store = MEMORY`); err != nil {
		return nil, fail("import users", err)
	}
	// Prepared on the write connection for the batch, the statements skip
	// SQLite's parser for every row but the first.
	stmts, err := prepareAll(ctx, db.write, importStatements)
	if err != nil {
		return nil, fail("import users", err)
	}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	results := make([]store.ImportResult, len(rows))
	err = db.inTx(ctx, func(t tx) error {
		t.stmts = stmts
		for i, row := range rows {
			r, err := importRow(ctx, t, row)
			if err != nil {
				return err
			}
			results[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, fail("import users", err)
	}
	return results, nil
}

// importRow writes one row inside its savepoint. A unique-key violation
// rolls the row back and is its result; any other error is the batch's.
func importRow(ctx context.Context, t tx, row store.ImportUser) (store.ImportResult, error) {
	if _, err := t.exec(ctx, qSavepoint); err != nil {
		return store.ImportResult{}, err
	}
	res, err := writeImportRow(ctx, t, row)
	if err != nil && !isConflict(err) {
		return store.ImportResult{}, err
	}
	if err != nil {
		if _, rbErr := t.exec(ctx, qRollbackTo); rbErr != nil {
			return store.ImportResult{}, rbErr
		}
		res = store.ImportResult{Err: fail("import user", err)}
	}
	if _, err := t.exec(ctx, qRelease); err != nil {
		return store.ImportResult{}, err
	}
	return res, nil
}

func writeImportRow(ctx context.Context, t tx, row store.ImportUser) (store.ImportResult, error) {
	u := row.User
	if row.Update != nil && u.Email != "" {
		rows, err := t.query(ctx, qGetUserByEmail, u.Connection, u.Email)
		if err != nil {
			return store.ImportResult{}, err
		}
		found, err := scanUsers(rows)
		if err != nil {
			return store.ImportResult{}, err
		}
		if len(found) == 1 {
			old := found[0]
			upd := old
			row.Update(&upd)
			upd.ID, upd.Connection, upd.Email, upd.Identities, upd.CreatedAt = old.ID, old.Connection, old.Email, old.Identities, old.CreatedAt
			fields, err := userFields(upd)
			if err != nil {
				return store.ImportResult{}, err
			}
			if _, err := t.exec(ctx, qUpdateUser, append(fields, upd.ID)...); err != nil {
				return store.ImportResult{}, err
			}
			return store.ImportResult{UserID: upd.ID, Updated: true}, nil
		}
	}
	fields, err := userFields(u)
	if err != nil {
		return store.ImportResult{}, err
	}
	if _, err := t.exec(ctx, qInsertUser, append([]any{u.ID, millis(u.CreatedAt)}, fields...)...); err != nil {
		return store.ImportResult{}, err
	}
	if err := insertIdentities(ctx, t, u.ID, u.Identities); err != nil {
		return store.ImportResult{}, err
	}
	return store.ImportResult{UserID: u.ID}, nil
}

// ListUsersAfter returns the next page of the connection's users by ID.
func (db *DB) ListUsersAfter(ctx context.Context, connection, afterID string, limit int) ([]store.User, error) {
	rows, err := db.query(ctx, qListUsersAfter, connection, connection, afterID, limit)
	if err != nil {
		return nil, fail("list users after", err)
	}
	users, err := scanUsers(rows)
	if err != nil {
		return nil, fail("list users after", err)
	}
	return users, nil
}

// ReplacePasswordHash swaps the user's hash if it is still oldHash;
// ErrNotFound otherwise.
func (db *DB) ReplacePasswordHash(ctx context.Context, userID, oldHash, newHash string) error {
	return fail("replace password hash", changed(db.exec(ctx, qReplacePasswordHash, newHash, userID, oldHash)))
}
