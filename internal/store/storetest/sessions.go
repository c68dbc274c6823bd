package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	sess := newSession("session-1", "gatehouse|ada")
	must(t, s.CreateSession(ctx, sess), "create session")
	got, err := s.GetSession(ctx, sess.ID, t0)
	must(t, err, "get session")
	wantEqual(t, got, sess, "get session")

	wantErr(t, s.CreateSession(ctx, newSession(sess.ID, "gatehouse|eve")), store.ErrConflict, "create session with taken id")
	got, err = s.GetSession(ctx, sess.ID, t0)
	must(t, err, "get session after conflict")
	wantEqual(t, got, sess, "session after conflicting create")

	for _, tc := range []struct {
		name string
		id   string
		now  time.Time
	}{
		{"unknown", "session-unknown", t0},
		{"at expiry", sess.ID, sess.ExpiresAt},
		{"after expiry", sess.ID, sess.ExpiresAt.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.GetSession(t.Context(), tc.id, tc.now)
			wantErr(t, err, store.ErrNotFound, "get session")
		})
	}

	must(t, s.DeleteSession(ctx, sess.ID), "delete session")
	_, err = s.GetSession(ctx, sess.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get deleted session")
	must(t, s.DeleteSession(ctx, sess.ID), "delete session twice")
	must(t, s.DeleteSession(ctx, "session-unknown"), "delete unknown session")
}

func testGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	const user, client, api = "gatehouse|ada", "client-1", "https://api.example"

	_, err := s.GetGrant(ctx, user, client, api)
	wantErr(t, err, store.ErrNotFound, "get grant before upsert")

	first := newGrant(user, client, api, "openid", "profile")
	must(t, s.UpsertGrant(ctx, first), "upsert first consent")
	got, err := s.GetGrant(ctx, user, client, api)
	must(t, err, "get grant")
	wantEqual(t, got, first, "get grant")

	second := newGrant(user, client, api, "profile", "email", "email")
	second.CreatedAt, second.UpdatedAt = t0.Add(time.Hour).In(elsewhere), t0.Add(time.Hour).In(elsewhere)
	must(t, s.UpsertGrant(ctx, second), "upsert second consent")
	got, err = s.GetGrant(ctx, user, client, api)
	must(t, err, "get merged grant")
	wantSameScopes(t, got.Scopes, []string{"openid", "profile", "email"}, "merged grant")
	want := first
	want.Scopes, want.UpdatedAt = got.Scopes, second.UpdatedAt
	wantEqual(t, got, want, "merged grant keeps CreatedAt and takes UpdatedAt")

	// A narrower consent never takes scopes away.
	must(t, s.UpsertGrant(ctx, newGrant(user, client, api, "openid")), "upsert narrower consent")
	got, err = s.GetGrant(ctx, user, client, api)
	must(t, err, "get grant after narrower consent")
	wantSameScopes(t, got.Scopes, []string{"openid", "profile", "email"}, "grant after narrower consent")

	// Each (user, client, audience) is a grant of its own; "" is an audience.
	others := []store.Grant{
		newGrant(user, client, "", "openid"),
		newGrant(user, "client-2", api, "read:things"),
		newGrant("gatehouse|bob", client, api, "write:things"),
	}
	for _, g := range others {
		must(t, s.UpsertGrant(ctx, g), "upsert other grant")
	}
	for _, g := range others {
		got, err := s.GetGrant(ctx, g.UserID, g.ClientID, g.Audience)
		must(t, err, "get other grant")
		wantEqual(t, got, g, "other grant")
	}
	got, err = s.GetGrant(ctx, user, client, api)
	must(t, err, "get first grant after others")
	wantSameScopes(t, got.Scopes, []string{"openid", "profile", "email"}, "first grant after others")

	dups := newGrant("gatehouse|carol", client, api, "openid", "openid", "profile")
	must(t, s.UpsertGrant(ctx, dups), "upsert consent with duplicate scopes")
	got, err = s.GetGrant(ctx, dups.UserID, client, api)
	must(t, err, "get grant with duplicate scopes")
	wantSameScopes(t, got.Scopes, []string{"openid", "profile"}, "grant with duplicate scopes")
}

func testThrottle(t *testing.T, s store.Store) {
	ctx := t.Context()
	const window = time.Minute
	// start is the beginning of a one-minute window (Unix time is a
	// multiple of 60 s); every backend's fixed windows agree on it.
	start := time.Date(2031, time.March, 14, 15, 9, 0, 0, elsewhere)
	at := func(d time.Duration) time.Time { return start.Add(d) }

	count := func(key string, now time.Time) int {
		t.Helper()
		n, err := s.Failures(ctx, key, window, now)
		must(t, err, "failures")
		return n
	}
	add := func(key string, now time.Time, want int) {
		t.Helper()
		n, err := s.AddFailure(ctx, key, window, now)
		must(t, err, "add failure")
		if n != want {
			t.Fatalf("AddFailure(%q, %v) = %d, want %d", key, now, n, want)
		}
	}

	if n := count("ip:1", at(0)); n != 0 {
		t.Fatalf("failures of a new key = %d, want 0", n)
	}
	add("ip:1", at(10*time.Second), 1)
	add("ip:1", at(20*time.Second), 2)
	add("ip:1", at(59*time.Second), 3)
	add("user:ada", at(30*time.Second), 1)
	if n := count("ip:1", at(59*time.Second+999*time.Millisecond)); n != 3 {
		t.Fatalf("failures at end of window = %d, want 3", n)
	}
	if n := count("user:ada", at(40*time.Second)); n != 1 {
		t.Fatalf("failures of another key = %d, want 1", n)
	}

	// The next window starts from zero: the earlier count does not carry.
	if n := count("ip:1", at(time.Minute)); n != 0 {
		t.Fatalf("failures in next window = %d, want 0", n)
	}
	add("ip:1", at(61*time.Second), 1)
	if n := count("ip:1", at(119*time.Second)); n != 1 {
		t.Fatalf("failures later in next window = %d, want 1", n)
	}

	must(t, s.ResetFailures(ctx, "ip:1"), "reset failures")
	if n := count("ip:1", at(62*time.Second)); n != 0 {
		t.Fatalf("failures after reset = %d, want 0", n)
	}
	add("ip:1", at(63*time.Second), 1)
	if n := count("user:ada", at(40*time.Second)); n != 1 {
		t.Fatalf("failures of another key after reset = %d, want 1", n)
	}
	must(t, s.ResetFailures(ctx, "unknown"), "reset unknown key")

	for _, w := range []time.Duration{0, -time.Minute} {
		if _, err := s.AddFailure(ctx, "ip:2", w, start); err == nil {
			t.Errorf("AddFailure with window %v: got no error", w)
		}
		if _, err := s.Failures(ctx, "ip:2", w, start); err == nil {
			t.Errorf("Failures with window %v: got no error", w)
		}
	}
}
