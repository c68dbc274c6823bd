package sqlite

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

// The GCRA statements. ?1 is the key, ?2 now, ?3 the interval and ?4 the
// burst (limit × interval), all times and durations in milliseconds.
//
// qTakeAttempt decides and records in one statement, under the write lock:
// the key's arrival time moves one interval on from now (or from where it
// was, if later) when that stays within the burst; otherwise it stays put
// and the refusal count goes up. SET expressions all read the row as it
// was, so both columns see the same decision.
const (
	qTakeAttempt = `INSERT INTO rate_limits (limit_key, expires_at, refusals) VALUES (?1, ?2 + ?3, 0)
		ON CONFLICT (limit_key) DO UPDATE SET
			refusals = CASE WHEN max(expires_at, ?2) + ?3 <= ?2 + ?4 THEN 0 ELSE refusals + 1 END,
			expires_at = CASE WHEN max(expires_at, ?2) + ?3 <= ?2 + ?4 THEN max(expires_at, ?2) + ?3 ELSE expires_at END
		RETURNING expires_at, refusals`
	qReturnAttempt = `UPDATE rate_limits SET expires_at = max(expires_at - ?3, ?2) WHERE limit_key = ?1`
	qClearAttempts = `DELETE FROM rate_limits WHERE limit_key = ?`
)

// TakeAttempt takes one attempt of key if it has one free.
func (db *DB) TakeAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (store.Attempt, error) {
	interval, err := store.AttemptInterval(limit, window)
	if err != nil {
		return store.Attempt{}, fmt.Errorf("take attempt: %w", err)
	}
	var tat int64
	var a store.Attempt
	burst := int64(limit) * interval.Milliseconds()
	err = db.writeRow(ctx, qTakeAttempt, key, millis(now), interval.Milliseconds(), burst).Scan(&tat, &a.Refusals)
	if err != nil {
		return store.Attempt{}, fail("take attempt", err)
	}
	a.OK = a.Refusals == 0
	if !a.OK {
		a.RetryAfter = store.AttemptRetryAfter(time.UnixMilli(tat), time.UnixMilli(millis(now)), limit, interval)
	}
	return a, nil
}

// ReturnAttempt gives back one attempt of key.
func (db *DB) ReturnAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) error {
	interval, err := store.AttemptInterval(limit, window)
	if err != nil {
		return fmt.Errorf("return attempt: %w", err)
	}
	_, err = db.exec(ctx, qReturnAttempt, key, millis(now), interval.Milliseconds())
	return fail("return attempt", err)
}

// ClearAttempts forgets key.
func (db *DB) ClearAttempts(ctx context.Context, key string) error {
	_, err := db.exec(ctx, qClearAttempts, key)
	return fail("clear attempts", err)
}
