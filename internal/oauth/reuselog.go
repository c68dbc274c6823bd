package oauth

import (
	"log/slog"
	"sync"
	"time"
)

// reuseLogWindow is how long a reported grant stays quiet: further reuses
// of its codes or refresh tokens within it are the same event.
const reuseLogWindow = time.Minute

// reuseLogMax bounds the grants remembered at once, so that a flood of
// replays cannot grow memory; past it the oldest memory is dropped and a
// grant may be reported twice.
const reuseLogMax = 4096

// reuseLog reports a reused code or refresh token once per grant. When 50
// requests race with one code, 49 lose and each finds the code used: one
// event, not 49 warnings. The store has already revoked the grant, and the
// audit log records every refused exchange; this line is for the operator,
// so it is INFO — most reuses are a client's retry or double submit, not
// an attack the operator can act on.
type reuseLog struct {
	mu   sync.Mutex           // guards seen
	seen map[string]time.Time // grant ID → when it was last reported
}

// report logs msg with attrs unless grantID was reported less than
// reuseLogWindow before now. It never logs a token or code value.
func (r *reuseLog) report(log *slog.Logger, now time.Time, grantID, msg string, attrs ...any) {
	r.mu.Lock()
	last, ok := r.seen[grantID]
	quiet := ok && now.Sub(last) < reuseLogWindow && now.Sub(last) > -reuseLogWindow
	if !quiet {
		if r.seen == nil || len(r.seen) >= reuseLogMax {
			r.prune(now)
		}
		r.seen[grantID] = now
	}
	r.mu.Unlock()
	if !quiet {
		log.Info(msg, attrs...)
	}
}

// prune forgets grants reported longer than the window ago, and everything
// if that leaves the map full.
func (r *reuseLog) prune(now time.Time) {
	if r.seen == nil {
		r.seen = make(map[string]time.Time)
		return
	}
	for id, t := range r.seen {
		if now.Sub(t) >= reuseLogWindow {
			delete(r.seen, id)
		}
	}
	if len(r.seen) >= reuseLogMax {
		clear(r.seen)
	}
}
