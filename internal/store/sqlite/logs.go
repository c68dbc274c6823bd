package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/store"
)

const logColumns = `seq, id, date, type, description, ip, user_agent, client_id, client_name, user_id, user_name,
	connection, connection_id, strategy, organization_id, organization_name, audience, scope, details`

const (
	qInsertLog = `INSERT INTO log_events (id, date, type, description, ip, user_agent, client_id, client_name,
		user_id, user_name, connection, connection_id, strategy, organization_id, organization_name, audience, scope, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	qSelectLog = `SELECT ` + logColumns + ` FROM log_events`
	// qClaimLogStream takes the lease when the stream is new, already
	// owner's, or its lease has run out; otherwise it returns no row.
	qClaimLogStream = `INSERT INTO log_streams (name, cursor, owner, lease_until) VALUES (?, 0, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
			WHERE log_streams.owner = excluded.owner OR log_streams.lease_until <= ?
		RETURNING name, cursor, owner, lease_until`
)

// logDeleteBatch is how many events one DeleteLogsBefore transaction
// removes, so that a long retention sweep never holds the write lock for
// long.
const logDeleteBatch = 1000

func scanLog(sc scanner) (store.LogEvent, error) {
	var e store.LogEvent
	err := sc.Scan(&e.Seq, &e.ID, timeCol{&e.Date}, &e.Type, &e.Description, &e.IP, &e.UserAgent, &e.ClientID, &e.ClientName,
		&e.UserID, &e.UserName, &e.Connection, &e.ConnectionID, &e.Strategy, &e.OrganizationID, &e.OrganizationName,
		&e.Audience, &e.Scope, jsonCol{&e.Details})
	return e, err
}

func scanLogs(rows *sql.Rows) ([]store.LogEvent, error) {
	defer rows.Close()
	var out []store.LogEvent
	for rows.Next() {
		e, err := scanLog(rows)
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AppendLogs stores the events in one write transaction. SQLite has one
// writer, so the seq each row gets is its commit order.
func (db *DB) AppendLogs(ctx context.Context, events []store.LogEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := db.inTx(ctx, func(t tx) error {
		for _, e := range events {
			var details any
			if len(e.Details) > 0 {
				s, err := mapJSON(e.Details)
				if err != nil {
					return fmt.Errorf("event %s: details: %w", e.ID, err)
				}
				details = s
			}
			if _, err := t.exec(ctx, qInsertLog, e.ID, millis(e.Date), e.Type, e.Description, e.IP, e.UserAgent,
				e.ClientID, e.ClientName, e.UserID, e.UserName, e.Connection, e.ConnectionID, e.Strategy,
				e.OrganizationID, e.OrganizationName, e.Audience, e.Scope, details); err != nil {
				return err
			}
		}
		return nil
	})
	return fail("append logs", err)
}

// GetLog returns the event with the ID; ErrNotFound.
func (db *DB) GetLog(ctx context.Context, id string) (store.LogEvent, error) {
	e, err := scanLog(db.queryRow(ctx, qSelectLog+` WHERE id = ?`, id))
	if err != nil {
		return store.LogEvent{}, fail("get log", err)
	}
	return e, nil
}

// logWhere builds the condition of a LogFilter.
func logWhere(f store.LogFilter) (string, []any) {
	var conds []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	if len(f.Types) > 0 {
		conds = append(conds, "type IN ("+placeholders(len(f.Types))+")")
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	eq("user_id", f.UserID)
	eq("client_id", f.ClientID)
	eq("connection", f.Connection)
	eq("organization_id", f.OrganizationID)
	if !f.Since.IsZero() {
		conds = append(conds, "date >= ?")
		args = append(args, millis(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "date < ?")
		args = append(args, millis(f.Until))
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), args
}

// ListLogs returns the events the filter selects, by date (newest first
// unless Ascending), then ID.
func (db *DB) ListLogs(ctx context.Context, f store.LogFilter) ([]store.LogEvent, error) {
	where, args := logWhere(f)
	order := "DESC"
	if f.Ascending {
		order = "ASC"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.query(ctx, qSelectLog+` WHERE `+where+` ORDER BY date `+order+`, id `+order+` LIMIT ? OFFSET ?`,
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, fail("list logs", err)
	}
	events, err := scanLogs(rows)
	return events, fail("list logs", err)
}

// CountLogs returns how many events the filter selects.
func (db *DB) CountLogs(ctx context.Context, f store.LogFilter) (int, error) {
	where, args := logWhere(f)
	var n int
	if err := db.queryRow(ctx, `SELECT count(*) FROM log_events WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fail("count logs", err)
	}
	return n, nil
}

// ReadLogs returns up to limit events after the seq, by seq.
func (db *DB) ReadLogs(ctx context.Context, after int64, limit int) ([]store.LogEvent, error) {
	rows, err := db.query(ctx, qSelectLog+` WHERE seq > ? ORDER BY seq LIMIT ?`, after, max(limit, 0))
	if err != nil {
		return nil, fail("read logs", err)
	}
	events, err := scanLogs(rows)
	return events, fail("read logs", err)
}

// LogCheckpoint returns the seq to read after for the events committed
// after the one with the ID.
func (db *DB) LogCheckpoint(ctx context.Context, id string) (int64, error) {
	var seq int64
	err := db.queryRow(ctx, `SELECT coalesce(
		(SELECT seq FROM log_events WHERE id = ?1),
		(SELECT max(seq) FROM log_events WHERE id < ?1),
		0)`, id).Scan(&seq)
	if err != nil {
		return 0, fail("log checkpoint", err)
	}
	return seq, nil
}

// DeleteLogsBefore removes the events dated before the time, in batches of
// logDeleteBatch, each its own transaction.
func (db *DB) DeleteLogsBefore(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := db.exec(ctx, `DELETE FROM log_events WHERE seq IN (
			SELECT seq FROM log_events WHERE date < ? ORDER BY date LIMIT ?)`, millis(before), logDeleteBatch)
		if err != nil {
			return total, fail("delete logs", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fail("delete logs", err)
		}
		total += n
		if n < logDeleteBatch || ctx.Err() != nil {
			return total, nil
		}
	}
}

// ClaimLogStream takes or renews owner's lease of the stream in one
// statement.
func (db *DB) ClaimLogStream(ctx context.Context, name, owner string, now time.Time, lease time.Duration) (store.LogStream, error) {
	var s store.LogStream
	err := db.writeRow(ctx, qClaimLogStream, name, owner, millis(now.Add(lease)), millis(now)).
		Scan(&s.Name, &s.Cursor, &s.Owner, timeCol{&s.LeaseUntil})
	if errors.Is(err, sql.ErrNoRows) {
		return store.LogStream{}, fmt.Errorf("claim log stream %s: %w: another process holds it", name, store.ErrConflict)
	}
	if err != nil {
		return store.LogStream{}, fail("claim log stream", err)
	}
	return s, nil
}

// AdvanceLogStream moves the cursor when owner holds the stream and the
// cursor is still at from.
func (db *DB) AdvanceLogStream(ctx context.Context, name, owner string, from, to int64, now time.Time, lease time.Duration) error {
	err := changed(db.exec(ctx, `UPDATE log_streams SET cursor = ?, lease_until = ?
		WHERE name = ? AND owner = ? AND cursor = ?`, to, millis(now.Add(lease)), name, owner, from))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("advance log stream %s: %w: the stream moved on or changed hands", name, store.ErrConflict)
	}
	return fail("advance log stream", err)
}

// ReleaseLogStream ends owner's lease.
func (db *DB) ReleaseLogStream(ctx context.Context, name, owner string) error {
	_, err := db.exec(ctx, `UPDATE log_streams SET lease_until = 0 WHERE name = ? AND owner = ?`, name, owner)
	return fail("release log stream", err)
}
