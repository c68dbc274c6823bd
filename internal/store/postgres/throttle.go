package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// qAddFailure counts a failure in one statement: concurrent failures
	// of one key serialise on the row and each sees its own count.
	qAddFailure = `INSERT INTO throttle AS t (throttle_key, window_start, failures, expires_at)
		VALUES ($1, $2, 1, $3)
		ON CONFLICT (throttle_key, window_start) DO UPDATE SET failures = t.failures + 1
		RETURNING failures`
	qFailures = `SELECT failures FROM throttle WHERE throttle_key = $1 AND window_start = $2`
)

// fixedWindow returns the start and end of the window that contains now.
// Windows are aligned to the Unix epoch in milliseconds, as in every
// backend, so a one-minute window starts on the minute.
func fixedWindow(window time.Duration, now time.Time) (start, end time.Time, err error) {
	w := window.Milliseconds()
	if w <= 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("window %v is shorter than a millisecond", window)
	}
	t := now.UnixMilli()
	s := t - t%w
	if t%w < 0 { // before 1970: round down, not towards zero
		s -= w
	}
	return time.UnixMilli(s).UTC(), time.UnixMilli(s + w).UTC(), nil
}

// AddFailure counts one failure for key in the window that contains now and
// returns the count in that window.
func (db *DB) AddFailure(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	start, end, err := fixedWindow(window, now)
	if err != nil {
		return 0, fmt.Errorf("add failure: %w", err)
	}
	var n int
	err = retry(ctx, func() error {
		return db.pool.QueryRow(ctx, qAddFailure, key, start, end).Scan(&n)
	})
	if err != nil {
		return 0, fail("add failure", err)
	}
	return n, nil
}

// Failures returns the count for key in the window that contains now.
func (db *DB) Failures(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	start, _, err := fixedWindow(window, now)
	if err != nil {
		return 0, fmt.Errorf("failures: %w", err)
	}
	var n int
	err = db.pool.QueryRow(ctx, qFailures, key, start).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("failures", err)
	}
	return n, nil
}

// ResetFailures clears every window of key.
func (db *DB) ResetFailures(ctx context.Context, key string) error {
	_, err := db.exec(ctx, `DELETE FROM throttle WHERE throttle_key = $1`, key)
	return fail("reset failures", err)
}
