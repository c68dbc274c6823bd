package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const logColumns = `seq, id, date, type, description, ip, user_agent, client_id, client_name, user_id, user_name,
	connection, connection_id, strategy, organization_id, organization_name, audience, scope, details`

const (
	qInsertLog = `INSERT INTO log_events (` + logColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (id) DO NOTHING`
	qSelectLog = `SELECT ` + logColumns + ` FROM log_events`
	// qClaimLogStream takes the lease when the stream is new, already
	// owner's, or its lease has run out; otherwise it returns no row.
	qClaimLogStream = `INSERT INTO log_streams (name, cursor, owner, lease_until) VALUES ($1, 0, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
			WHERE log_streams.owner = excluded.owner OR log_streams.lease_until <= $4
		RETURNING name, cursor, owner, lease_until`
)

func scanLog(row pgx.CollectableRow) (store.LogEvent, error) {
	var e store.LogEvent
	err := row.Scan(&e.Seq, &e.ID, &e.Date, &e.Type, &e.Description, &e.IP, &e.UserAgent, &e.ClientID, &e.ClientName,
		&e.UserID, &e.UserName, &e.Connection, &e.ConnectionID, &e.Strategy, &e.OrganizationID, &e.OrganizationName,
		&e.Audience, &e.Scope, &e.Details)
	e.Date = utc(e.Date)
	return e, err
}

// AppendLogs stores the events in one transaction that first takes as many
// numbers from log_sequence: the row lock it holds until it commits makes
// every other batch, on every replica, wait, so seq order is commit order
// (see the migration).
func (db *DB) AppendLogs(ctx context.Context, events []store.LogEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, `UPDATE log_sequence SET last = last + $1 RETURNING last`, len(events)).Scan(&last); err != nil {
			return err
		}
		first := last - int64(len(events)) + 1
		b := &pgx.Batch{}
		for i, e := range events {
			var details map[string]any
			if len(e.Details) > 0 {
				details = e.Details
			}
			b.Queue(qInsertLog, first+int64(i), e.ID, e.Date, e.Type, e.Description, e.IP, e.UserAgent,
				e.ClientID, e.ClientName, e.UserID, e.UserName, e.Connection, e.ConnectionID, e.Strategy,
				e.OrganizationID, e.OrganizationName, e.Audience, e.Scope, details)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return fail("append logs", err)
}

// GetLog returns the event with the ID; ErrNotFound.
func (db *DB) GetLog(ctx context.Context, id string) (store.LogEvent, error) {
	e, err := queryOne(ctx, db.pool, scanLog, qSelectLog+` WHERE id = $1`, id)
	if err != nil {
		return store.LogEvent{}, fail("get log", err)
	}
	return e, nil
}

// logWhere builds the condition of a LogFilter.
func logWhere(f store.LogFilter) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = "+arg(v))
		}
	}
	if len(f.Types) > 0 {
		conds = append(conds, "type = ANY ("+arg(f.Types)+")")
	}
	eq("user_id", f.UserID)
	eq("client_id", f.ClientID)
	eq("connection", f.Connection)
	eq("organization_id", f.OrganizationID)
	if !f.Since.IsZero() {
		conds = append(conds, "date >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "date < "+arg(f.Until))
	}
	if len(conds) == 0 {
		return "true", nil
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
	q := qSelectLog + ` WHERE ` + where + ` ORDER BY date ` + order + `, id ` + order
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	args = append(args, max(f.Offset, 0))
	q += ` OFFSET $` + strconv.Itoa(len(args))
	events, err := queryAll(ctx, db.pool, scanLog, q, args...)
	if err != nil {
		return nil, fail("list logs", err)
	}
	return events, nil
}

// CountLogs returns how many events the filter selects.
func (db *DB) CountLogs(ctx context.Context, f store.LogFilter) (int, error) {
	where, args := logWhere(f)
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM log_events WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fail("count logs", err)
	}
	return n, nil
}

// ReadLogs returns up to limit events after the seq, by seq.
func (db *DB) ReadLogs(ctx context.Context, after int64, limit int) ([]store.LogEvent, error) {
	events, err := queryAll(ctx, db.pool, scanLog, qSelectLog+` WHERE seq > $1 ORDER BY seq LIMIT $2`, after, max(limit, 0))
	if err != nil {
		return nil, fail("read logs", err)
	}
	return events, nil
}

// LogCheckpoint returns the seq to read after for the events committed
// after the one with the ID.
func (db *DB) LogCheckpoint(ctx context.Context, id string) (int64, error) {
	var seq int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(
		(SELECT seq FROM log_events WHERE id = $1),
		(SELECT max(seq) FROM log_events WHERE id < $1),
		0)`, id).Scan(&seq)
	if err != nil {
		return 0, fail("log checkpoint", err)
	}
	return seq, nil
}

// DeleteLogsBefore removes the events dated before the time in batches of
// deleteBatch, skipping rows another replica's sweep holds, as
// DeleteExpired does.
func (db *DB) DeleteLogsBefore(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	q := `DELETE FROM log_events WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM log_events WHERE date < $1
		LIMIT ` + strconv.Itoa(deleteBatch) + ` FOR UPDATE SKIP LOCKED))`
	for {
		n, err := db.exec(ctx, q, before)
		if err != nil {
			return total, fail("delete logs", err)
		}
		total += n
		if n < deleteBatch || ctx.Err() != nil {
			return total, nil
		}
	}
}

// ClaimLogStream takes or renews owner's lease of the stream in one
// statement.
func (db *DB) ClaimLogStream(ctx context.Context, name, owner string, now time.Time, lease time.Duration) (store.LogStream, error) {
	var s store.LogStream
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, qClaimLogStream, name, owner, now.Add(lease), now).
			Scan(&s.Name, &s.Cursor, &s.Owner, &s.LeaseUntil)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return store.LogStream{}, fmt.Errorf("claim log stream %s: %w: another process holds it", name, store.ErrConflict)
	}
	if err != nil {
		return store.LogStream{}, fail("claim log stream", err)
	}
	s.LeaseUntil = utc(s.LeaseUntil)
	return s, nil
}

// AdvanceLogStream moves the cursor when owner holds the stream and the
// cursor is still at from.
func (db *DB) AdvanceLogStream(ctx context.Context, name, owner string, from, to int64, now time.Time, lease time.Duration) error {
	err := changed(db.exec(ctx, `UPDATE log_streams SET cursor = $1, lease_until = $2
		WHERE name = $3 AND owner = $4 AND cursor = $5`, to, now.Add(lease), name, owner, from))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("advance log stream %s: %w: the stream moved on or changed hands", name, store.ErrConflict)
	}
	return fail("advance log stream", err)
}

// ReleaseLogStream ends owner's lease.
func (db *DB) ReleaseLogStream(ctx context.Context, name, owner string) error {
	_, err := db.exec(ctx, `UPDATE log_streams SET lease_until = to_timestamp(0) WHERE name = $1 AND owner = $2`, name, owner)
	return fail("release log stream", err)
}
