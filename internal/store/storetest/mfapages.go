package storetest

import (
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// The suite pins these behaviours of CeremonyStore and SessionSteps besides
// their comments:
//   - a ceremony is live while now is before its ExpiresAt, and comes back
//     as stored (Data byte for byte, ExpiresAt in UTC);
//   - DeleteExpired removes expired ceremonies;
//   - AddSessionMethods returns the session as GetSession would after it,
//     and changes nothing but Methods.

// testMFAPages runs the ceremony and session-method subtests on one store.
func testMFAPages(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Ceremonies", testCeremonies},
		{"CeremonyExpiry", testCeremonyExpiry},
		{"AddSessionMethods", testAddSessionMethods},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

func newCeremony(id string) store.Ceremony {
	return store.Ceremony{ID: id, Data: []byte("{\"challenge\":\"\x00\xff ünïcødé\"}" + id),
		ExpiresAt: t0.Add(5 * time.Minute).In(elsewhere)}
}

func testCeremonies(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newCeremony("ceremony-1")
	must(t, s.CreateCeremony(ctx, c), "create ceremony")
	wantErr(t, s.CreateCeremony(ctx, newCeremony(c.ID)), store.ErrConflict, "create ceremony with a taken id")

	_, err := s.TakeCeremony(ctx, "ceremony-unknown", t0)
	wantErr(t, err, store.ErrNotFound, "take unknown ceremony")

	got, err := s.TakeCeremony(ctx, c.ID, t0)
	must(t, err, "take ceremony")
	want := c
	want.ExpiresAt = c.ExpiresAt.UTC()
	wantEqual(t, got, want, "take ceremony")

	_, err = s.TakeCeremony(ctx, c.ID, t0)
	wantErr(t, err, store.ErrNotFound, "take ceremony twice")

	// The ID is free again once taken.
	must(t, s.CreateCeremony(ctx, newCeremony(c.ID)), "create ceremony with a taken id after the take")
}

func testCeremonyExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newCeremony("ceremony-expiry")
	must(t, s.CreateCeremony(ctx, c), "create ceremony")
	_, err := s.TakeCeremony(ctx, c.ID, c.ExpiresAt)
	wantErr(t, err, store.ErrNotFound, "take ceremony at expiry")
	// A refused take leaves a live ceremony alone.
	_, err = s.TakeCeremony(ctx, c.ID, c.ExpiresAt.Add(-time.Millisecond))
	must(t, err, "take ceremony just before expiry")

	expired := newCeremony("ceremony-expired")
	must(t, s.CreateCeremony(ctx, expired), "create ceremony")
	live := newCeremony("ceremony-live")
	live.ExpiresAt = expired.ExpiresAt.Add(time.Hour)
	must(t, s.CreateCeremony(ctx, live), "create ceremony")
	n, err := s.DeleteExpired(ctx, expired.ExpiresAt)
	must(t, err, "delete expired")
	if n < 1 {
		t.Errorf("DeleteExpired removed %d rows, want the expired ceremony among them", n)
	}
	_, err = s.TakeCeremony(ctx, expired.ID, t0)
	wantErr(t, err, store.ErrNotFound, "take a ceremony DeleteExpired removed")
	_, err = s.TakeCeremony(ctx, live.ID, t0)
	must(t, err, "take a live ceremony after DeleteExpired")
}

func testAddSessionMethods(t *testing.T, s store.Store) {
	ctx := t.Context()
	sess := newSession("session-methods", "gatehouse|ada")
	sess.Methods = []string{"pwd"}
	must(t, s.CreateSession(ctx, sess), "create session")
	want, err := s.GetSession(ctx, sess.ID, t0)
	must(t, err, "get session")

	for _, step := range []struct {
		add, want []string
	}{
		{[]string{"otp", "mfa"}, []string{"pwd", "otp", "mfa"}},
		{[]string{"mfa", "pwd", "hwk", "hwk"}, []string{"pwd", "otp", "mfa", "hwk"}},
		{nil, []string{"pwd", "otp", "mfa", "hwk"}},
	} {
		got, err := s.AddSessionMethods(ctx, sess.ID, step.add, t0)
		must(t, err, fmt.Sprintf("add %q", step.add))
		want.Methods = step.want
		wantEqual(t, got, want, fmt.Sprintf("session after adding %q", step.add))
		read, err := s.GetSession(ctx, sess.ID, t0)
		must(t, err, "get session")
		wantEqual(t, read, want, fmt.Sprintf("stored session after adding %q", step.add))
	}

	for _, tc := range []struct {
		name string
		id   string
		now  time.Time
	}{
		{"unknown", "session-unknown", t0},
		{"at expiry", sess.ID, sess.ExpiresAt},
	} {
		_, err := s.AddSessionMethods(ctx, tc.id, []string{"otp"}, tc.now)
		wantErr(t, err, store.ErrNotFound, "add methods to "+tc.name+" session")
	}
	read, err := s.GetSession(ctx, sess.ID, t0)
	must(t, err, "get session")
	wantEqual(t, read, want, "session after refused additions")
}

// raceCeremonies takes one ceremony from 20 goroutines at once: exactly
// one gets it. Then 20 goroutines each add a method of their own to one
// session: every method is kept.
func raceCeremonies(t *testing.T, s store.Store) {
	const n = 20
	ctx := t.Context()
	c := newCeremony("ceremony-race")
	must(t, s.CreateCeremony(ctx, c), "create ceremony")
	errs := race(n, func(int) error {
		_, err := s.TakeCeremony(ctx, c.ID, t0)
		return err
	})
	if got := tally(errs, store.ErrNotFound); got["ok"] != 1 || got[store.ErrNotFound.Error()] != n-1 {
		t.Fatalf("%d concurrent takes: %v (first unexpected error: %v); want 1 ok, %d not found",
			n, got, firstOther(errs, store.ErrNotFound), n-1)
	}

	sess := newSession("session-race", "gatehouse|ada")
	sess.Methods = []string{"pwd"}
	must(t, s.CreateSession(ctx, sess), "create session")
	errs = race(n, func(i int) error {
		_, err := s.AddSessionMethods(ctx, sess.ID, []string{fmt.Sprintf("m%d", i), "mfa"}, t0)
		return err
	})
	if got := tally(errs); got["ok"] != n {
		t.Fatalf("%d concurrent additions: %v (first error: %v)", n, got, firstOther(errs))
	}
	read, err := s.GetSession(ctx, sess.ID, t0)
	must(t, err, "get session")
	if len(read.Methods) != n+2 || read.Methods[0] != "pwd" {
		t.Fatalf("after %d concurrent additions the session has methods %q, want pwd, mfa and m0…m%d once each", n, read.Methods, n-1)
	}
	seen := map[string]bool{}
	for _, m := range read.Methods {
		if seen[m] {
			t.Fatalf("method %q twice in %q", m, read.Methods)
		}
		seen[m] = true
	}
}
