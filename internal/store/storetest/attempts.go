package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// attempts drives one key of a Throttler in a test.
type attempts struct {
	t      *testing.T
	s      store.Store
	key    string
	limit  int
	window time.Duration
}

// take takes one attempt at now and fails the test unless the answer is
// want.
func (a attempts) take(now time.Time, want store.Attempt) {
	a.t.Helper()
	got, err := a.s.TakeAttempt(a.t.Context(), a.key, a.limit, a.window, now)
	must(a.t, err, "take attempt")
	if got != want {
		a.t.Fatalf("TakeAttempt(%q, %d per %v) at t0%+v = %+v, want %+v", a.key, a.limit, a.window, now.Sub(t0), got, want)
	}
}

// takeN takes n attempts at now, each of which must be let through.
func (a attempts) takeN(now time.Time, n int) {
	a.t.Helper()
	for range n {
		a.take(now, store.Attempt{OK: true})
	}
}

// refused is the answer to the n-th refusal in a row, with its wait.
func refused(n int, wait time.Duration) store.Attempt {
	return store.Attempt{RetryAfter: wait, Refusals: n}
}

func testAttempts(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return t0.Add(d).In(elsewhere) }
	// Five per 15 minutes: one attempt comes back every 3 minutes.
	a := attempts{t: t, s: s, key: "login:ai:ada", limit: 5, window: 15 * time.Minute}

	// A burst of the limit goes through at once; then each refusal says
	// how long until the next attempt comes back, and counts up.
	a.takeN(at(0), 5)
	a.take(at(0), refused(1, 3*time.Minute))
	a.take(at(time.Minute), refused(2, 2*time.Minute))
	a.take(at(3*time.Minute-time.Millisecond), refused(3, time.Millisecond))
	// Refused attempts took nothing: one is back after exactly 3 minutes,
	// and the next refusal starts a new lockout.
	a.take(at(3*time.Minute), store.Attempt{OK: true})
	a.take(at(3*time.Minute), refused(1, 3*time.Minute))
	// Another key is apart.
	b := a
	b.key = "login:ai:bob"
	b.takeN(at(3*time.Minute), 5)
	b.take(at(3*time.Minute), refused(1, 3*time.Minute))

	// The allowance refills smoothly: 7 minutes after a burst, two of
	// five are back, and the third comes 2 minutes later, not at the end
	// of a fixed window.
	c := a
	c.key = "login:ai:carol"
	c.takeN(at(0), 5)
	c.takeN(at(7*time.Minute), 2)
	c.take(at(7*time.Minute), refused(1, 2*time.Minute))
	c.take(at(9*time.Minute), store.Attempt{OK: true})
	// A full window after the last attempt, the whole burst is back, and
	// no more.
	c.takeN(at(24*time.Minute), 5)
	c.take(at(24*time.Minute), refused(1, 3*time.Minute))

	// Returning an attempt gives it back at once, never beyond the full
	// allowance; unknown keys are no error.
	d := a
	d.key = "login:ai:dan"
	d.takeN(at(0), 5)
	must(t, s.ReturnAttempt(ctx, d.key, d.limit, d.window, at(time.Second)), "return attempt")
	d.take(at(time.Second), store.Attempt{OK: true})
	d.take(at(time.Second), refused(1, 3*time.Minute-time.Second))
	e := a
	e.key = "login:ai:eve"
	e.take(at(0), store.Attempt{OK: true})
	for range 3 {
		must(t, s.ReturnAttempt(ctx, e.key, e.limit, e.window, at(time.Minute)), "return more attempts than taken")
	}
	e.takeN(at(time.Minute), 5)
	e.take(at(time.Minute), refused(1, 3*time.Minute))
	must(t, s.ReturnAttempt(ctx, "login:ai:unknown", 5, time.Minute, at(0)), "return attempt of an unknown key")

	// Clearing gives the full allowance back; unknown keys are no error.
	must(t, s.ClearAttempts(ctx, a.key), "clear attempts")
	a.takeN(at(3*time.Minute), 5)
	a.take(at(3*time.Minute), refused(1, 3*time.Minute))
	b.take(at(3*time.Minute), refused(2, 3*time.Minute)) // the other key is untouched
	must(t, s.ClearAttempts(ctx, "login:ai:unknown"), "clear unknown key")

	// A window that is no multiple of the limit in milliseconds: the
	// interval is rounded down (333 ms), and the burst is still the limit.
	f := attempts{t: t, s: s, key: "signup:ip:odd", limit: 3, window: time.Second}
	f.takeN(at(0), 3)
	f.take(at(0), refused(1, 333*time.Millisecond))
	f.take(at(333*time.Millisecond), store.Attempt{OK: true})

	// A limit of one is a plain minimum spacing.
	g := attempts{t: t, s: s, key: "reset:acct:ada", limit: 1, window: time.Hour}
	g.take(at(0), store.Attempt{OK: true})
	g.take(at(59*time.Minute), refused(1, time.Minute))
	g.take(at(time.Hour), store.Attempt{OK: true})

	for _, bad := range []struct {
		limit  int
		window time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {5, 0}, {5, -time.Minute}, {10, 9 * time.Millisecond}} {
		if _, err := s.TakeAttempt(ctx, "bad", bad.limit, bad.window, at(0)); err == nil {
			t.Errorf("TakeAttempt with limit %d per %v: got no error", bad.limit, bad.window)
		}
		if err := s.ReturnAttempt(ctx, "bad", bad.limit, bad.window, at(0)); err == nil {
			t.Errorf("ReturnAttempt with limit %d per %v: got no error", bad.limit, bad.window)
		}
	}
	// The refused arguments stored nothing.
	h := attempts{t: t, s: s, key: "bad", limit: 1, window: time.Hour}
	h.take(at(0), store.Attempt{OK: true})
}

func testAttemptsExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Two per minute: each attempt keeps the key 30 s longer.
	a := attempts{t: t, s: s, key: "login:ip:1", limit: 2, window: time.Minute}
	a.takeN(t0, 2)
	b := attempts{t: t, s: s, key: "login:ip:2", limit: 2, window: time.Minute}
	b.takeN(t0, 1)

	deleted := func(now time.Time, want int64) {
		t.Helper()
		n, err := s.DeleteExpired(ctx, now)
		must(t, err, "delete expired")
		if n != want {
			t.Fatalf("DeleteExpired at t0%+v removed %d rows, want %d", now.Sub(t0), n, want)
		}
	}
	// A key lives until it is back to its full allowance.
	deleted(t0.Add(30*time.Second-time.Millisecond), 0)
	deleted(t0.Add(30*time.Second), 1)
	b.takeN(t0.Add(30*time.Second), 2) // a row that is gone is a full allowance
	b.take(t0.Add(30*time.Second), refused(1, 30*time.Second))
	deleted(t0.Add(59*time.Second), 0)
	deleted(t0.Add(time.Minute), 1)
	deleted(t0.Add(time.Minute), 0)
	a.takeN(t0.Add(time.Minute), 2)
	a.take(t0.Add(time.Minute), refused(1, 30*time.Second))
}

// raceTakeAttempt: many attempts of one key at the same moment let exactly
// the limit through, on a new key and on one that already has a row, and
// the refusals serialise (each count is seen once).
func raceTakeAttempt(t *testing.T, s store.Store) {
	const n, limit = 50, 5
	const window = 15 * time.Minute
	round := func(now time.Time, wantOK int) {
		t.Helper()
		got := make([]store.Attempt, n)
		errs := race(n, func(i int) error {
			var err error
			got[i], err = s.TakeAttempt(t.Context(), "login:ai:ada", limit, window, now)
			return err
		})
		if err := firstOther(errs); err != nil {
			t.Fatalf("concurrent TakeAttempt: %v", err)
		}
		var ok int
		var refusals []int
		for _, a := range got {
			if a.OK {
				ok++
				continue
			}
			refusals = append(refusals, a.Refusals)
			if a.RetryAfter != window/limit {
				t.Errorf("refused attempt: RetryAfter = %v, want %v", a.RetryAfter, window/limit)
			}
		}
		if ok != wantOK {
			t.Fatalf("%d concurrent attempts against a limit of %d: %d let through, want %d", n, limit, ok, wantOK)
		}
		slices.Sort(refusals)
		for i, r := range refusals {
			if r != i+1 {
				t.Fatalf("refusal counts %v, want 1 … %d each once", refusals, n-wantOK)
			}
		}
	}
	round(t0, limit)
	// One interval later one attempt is back, and only one goes through.
	round(t0.Add(window/limit), 1)

	// Other keys at the same time each get their own limit.
	got := make([]store.Attempt, n)
	errs := race(n, func(i int) error {
		var err error
		got[i], err = s.TakeAttempt(t.Context(), fmt.Sprintf("login:ai:user%d", i%10), limit, window, t0)
		return err
	})
	if err := firstOther(errs); err != nil {
		t.Fatalf("concurrent TakeAttempt of ten keys: %v", err)
	}
	ok := 0
	for _, a := range got {
		if a.OK {
			ok++
		}
	}
	if ok != n {
		t.Fatalf("%d attempts spread over ten keys with a limit of %d each: %d let through, want all", n, limit, ok)
	}
}
