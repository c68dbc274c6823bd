package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const (
	qAddFailure = `INSERT INTO throttle (throttle_key, window_start, failures, expires_at)
		VALUES (?, ?, 1, ?)
		ON CONFLICT (throttle_key, window_start) DO UPDATE SET failures = failures + 1
		RETURNING failures`
	qFailures      = `SELECT failures FROM throttle WHERE throttle_key = ? AND window_start = ?`
	qResetFailures = `DELETE FROM throttle WHERE throttle_key = ?`
)

// fixedWindow returns the start and end, in Unix milliseconds, of the window
// that contains now. Windows are aligned to the Unix epoch, so a one-minute
// window starts on the minute.
func fixedWindow(window time.Duration, now time.Time) (start, end int64, err error) {
	w := window.Milliseconds()
	if w <= 0 {
		return 0, 0, fmt.Errorf("window %v is shorter than a millisecond", window)
	}
	t := now.UnixMilli()
	start = t - t%w
	if t%w < 0 { // before 1970: round down, not towards zero
		start -= w
	}
	return start, start + w, nil
}

// AddFailure counts one failure for key in the window that contains now and
// returns the count in that window.
func (db *DB) AddFailure(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	start, end, err := fixedWindow(window, now)
	if err != nil {
		return 0, fail("add failure", err)
	}
	var n int
	if err := db.writeRow(ctx, qAddFailure, key, start, end).Scan(&n); err != nil {
		return 0, fail("add failure", err)
	}
	return n, nil
}

// Failures returns the count for key in the window that contains now.
func (db *DB) Failures(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	start, _, err := fixedWindow(window, now)
	if err != nil {
		return 0, fail("failures", err)
	}
	var n int
	err = db.queryRow(ctx, qFailures, key, start).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("failures", err)
	}
	return n, nil
}

// ResetFailures clears every window of key.
func (db *DB) ResetFailures(ctx context.Context, key string) error {
	_, err := db.exec(ctx, qResetFailures, key)
	return fail("reset failures", err)
}
