package store

import (
	"context"
	"fmt"
	"time"
)

// Attempt is what Throttler.TakeAttempt decided.
type Attempt struct {
	// OK means the attempt was taken and the caller may go ahead.
	OK bool
	// RetryAfter is, for a refused attempt, how long until the key has an
	// attempt free again; zero when OK.
	RetryAfter time.Duration
	// Refusals counts the key's refusals since its last taken attempt,
	// this one included: 1 is the first refusal of a lockout, so a caller
	// can report each lockout once however long it is hammered.
	Refusals int
}

// Throttler keeps rate limits that hold across every replica and under
// any concurrency: the decision to let an attempt through and the record
// of it are one atomic statement, taken before the work it guards (a
// password hash, an email), so N concurrent attempts against a limit of L
// let exactly min(N, L) through.
//
// A key allows limit attempts per window, refilled smoothly rather than in
// fixed windows: one attempt comes back every window/limit (the generic
// cell rate algorithm, GCRA). A burst of limit attempts is allowed at
// once; after that, attempts are let through at the refill rate. Each key
// is one row holding its "theoretical arrival time", the moment the key is
// back to a full allowance, and DeleteExpired removes it after that.
type Throttler interface {
	// TakeAttempt takes one attempt of key at now if the key has one
	// free; otherwise it changes nothing but the key's refusal count and
	// says how long to wait. limit and window must satisfy
	// AttemptInterval.
	TakeAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (Attempt, error)
	// ReturnAttempt gives back one attempt taken before (one that turned
	// out not to count, such as a login that succeeded), never beyond a
	// full allowance. Unknown keys are left alone.
	ReturnAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) error
	// ClearAttempts gives key its full allowance back. Unknown keys are
	// not an error.
	ClearAttempts(ctx context.Context, key string) error
}

// AttemptInterval returns the time after which a key allowing limit
// attempts per window gets one attempt back, in whole milliseconds, as
// every backend counts it. The burst a key allows is limit times the
// interval, which is window rounded down to a multiple of limit
// milliseconds. It is an error unless limit is positive and window is at
// least limit milliseconds.
func AttemptInterval(limit int, window time.Duration) (time.Duration, error) {
	if limit < 1 {
		return 0, fmt.Errorf("attempt limit %d is not positive", limit)
	}
	ms := window.Milliseconds() / int64(limit)
	if ms < 1 {
		return 0, fmt.Errorf("window %v is shorter than one millisecond per attempt (limit %d)", window, limit)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// AttemptRetryAfter is the wait of a refused attempt: the time from now
// until the key's theoretical arrival time tat has come down far enough
// that one more interval fits in the burst. Backends use it to turn the
// arrival time their statement returns into Attempt.RetryAfter.
func AttemptRetryAfter(tat, now time.Time, limit int, interval time.Duration) time.Duration {
	d := max(tat.Sub(now), 0) + interval - time.Duration(limit)*interval
	return max(d, time.Millisecond)
}
