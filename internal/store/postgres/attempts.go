package postgres

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

// The GCRA statements. $1 is the key, $2 now, $3 the interval and $4 the
// burst (limit × interval), the durations in milliseconds.
//
// qTakeAttempt decides and records in one statement: INSERT … ON CONFLICT
// DO UPDATE locks the key's row, so concurrent attempts of one key queue
// on it and each sees the arrival time the one before it left. The key's
// arrival time moves one interval on from now (or from where it was, if
// later) when that stays within the burst; otherwise it stays put and the
// refusal count goes up. SET expressions all read the row as it was, so
// both columns see the same decision.
const (
	qTakeAttempt = `INSERT INTO rate_limits AS r (limit_key, expires_at, refusals)
		VALUES ($1, $2::timestamptz + $3::bigint * interval '1 millisecond', 0)
		ON CONFLICT (limit_key) DO UPDATE SET
			refusals = CASE
				WHEN GREATEST(r.expires_at, $2) + $3 * interval '1 millisecond' <= $2 + $4::bigint * interval '1 millisecond'
				THEN 0 ELSE r.refusals + 1 END,
			expires_at = CASE
				WHEN GREATEST(r.expires_at, $2) + $3 * interval '1 millisecond' <= $2 + $4 * interval '1 millisecond'
				THEN GREATEST(r.expires_at, $2) + $3 * interval '1 millisecond' ELSE r.expires_at END
		RETURNING expires_at, refusals`
	qReturnAttempt = `UPDATE rate_limits
		SET expires_at = GREATEST(expires_at - $3::bigint * interval '1 millisecond', $2::timestamptz)
		WHERE limit_key = $1`
)

// TakeAttempt takes one attempt of key if it has one free.
func (db *DB) TakeAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (store.Attempt, error) {
	interval, err := store.AttemptInterval(limit, window)
	if err != nil {
		return store.Attempt{}, fmt.Errorf("take attempt: %w", err)
	}
	// Milliseconds, as in every backend, so that all agree on each wait.
	now = now.Truncate(time.Millisecond)
	var tat time.Time
	var a store.Attempt
	burst := int64(limit) * interval.Milliseconds()
	err = retry(ctx, func() error {
		return db.pool.QueryRow(ctx, qTakeAttempt, key, now, interval.Milliseconds(), burst).Scan(&tat, &a.Refusals)
	})
	if err != nil {
		return store.Attempt{}, fail("take attempt", err)
	}
	a.OK = a.Refusals == 0
	if !a.OK {
		a.RetryAfter = store.AttemptRetryAfter(tat, now, limit, interval)
	}
	return a, nil
}

// ReturnAttempt gives back one attempt of key.
func (db *DB) ReturnAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) error {
	interval, err := store.AttemptInterval(limit, window)
	if err != nil {
		return fmt.Errorf("return attempt: %w", err)
	}
	_, err = db.exec(ctx, qReturnAttempt, key, now.Truncate(time.Millisecond), interval.Milliseconds())
	return fail("return attempt", err)
}

// ClearAttempts forgets key.
func (db *DB) ClearAttempts(ctx context.Context, key string) error {
	_, err := db.exec(ctx, `DELETE FROM rate_limits WHERE limit_key = $1`, key)
	return fail("clear attempts", err)
}
