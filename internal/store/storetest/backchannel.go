package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

// testBackchannelLogouts pins BackchannelLogouts: a client's back-channel
// URI round-trips; only clients with a URI get deliveries; recording twice
// and queueing twice are one; a session's clients go with the session;
// claims lease; retries and deletes act on one delivery.
func testBackchannelLogouts(t *testing.T, s store.Store) {
	ctx := t.Context()
	withURI := newClient("bc-with-uri")
	withURI.BackchannelLogoutURI = "https://app.example/backchannel"
	without := newClient("bc-without-uri")
	other := newClient("bc-other")
	other.BackchannelLogoutURI = "https://other.example/bc"
	for _, c := range []store.Client{withURI, without, other} {
		must(t, s.CreateClient(ctx, c), "create client "+c.ID)
	}
	got, err := s.GetClient(ctx, withURI.ID)
	must(t, err, "get client")
	wantEqual(t, got, withURI, "client with back-channel URI")

	const ada, bob = "gatehouse|bc-ada", "gatehouse|bc-bob"
	for _, ss := range []store.Session{newSession("bc-ada-1", ada), newSession("bc-ada-2", ada), newSession("bc-bob-1", bob)} {
		must(t, s.CreateSession(ctx, ss), "create session "+ss.ID)
	}
	rec := func(sess, client string) {
		t.Helper()
		must(t, s.RecordSessionClient(ctx, sess, client, t0.In(elsewhere)), "record "+sess+" "+client)
	}
	rec("bc-ada-1", withURI.ID)
	rec("bc-ada-1", withURI.ID) // twice is once
	rec("bc-ada-1", without.ID)
	rec("bc-ada-2", other.ID)
	rec("bc-bob-1", withURI.ID)
	rec("bc-gone", withURI.ID) // no such session: records nothing

	queue := func(sess, user string, want int) {
		t.Helper()
		n, err := s.QueueSessionLogouts(ctx, sess, user, t0.In(elsewhere))
		must(t, err, "queue "+sess+user)
		if n != want {
			t.Fatalf("QueueSessionLogouts(%q, %q) queued %d, want %d", sess, user, n, want)
		}
	}
	queue("bc-gone", "", 0)
	queue("", "", 0)
	queue("bc-ada-1", "", 1) // the client without a URI gets none
	queue("bc-ada-1", "", 0) // its clients are forgotten
	queue("", ada, 1)        // ada's other session
	queue("", ada, 0)

	claimed, err := s.ClaimLogoutDeliveries(ctx, t0.In(elsewhere), time.Minute, 10)
	must(t, err, "claim")
	wantEqual(t, claimed, []store.LogoutDelivery{
		{SessionID: "bc-ada-1", ClientID: withURI.ID, UserID: ada, NextAttemptAt: t0.Add(time.Minute), CreatedAt: t0},
		{SessionID: "bc-ada-2", ClientID: other.ID, UserID: ada, NextAttemptAt: t0.Add(time.Minute), CreatedAt: t0},
	}, "claimed deliveries")
	claimed, err = s.ClaimLogoutDeliveries(ctx, t0.Add(59*time.Second), time.Minute, 10)
	must(t, err, "claim while leased")
	wantEqual(t, len(claimed), 0, "deliveries claimed while leased")

	// Bob's session is deleted before anyone queued it: its clients go with it.
	must(t, s.DeleteSession(ctx, "bc-bob-1"), "delete bob's session")
	queue("bc-bob-1", "", 0)
	queue("", bob, 0)

	next := t0.Add(time.Hour)
	must(t, s.RetryLogoutDelivery(ctx, "bc-ada-1", withURI.ID, 1, next.In(elsewhere)), "retry")
	wantErr(t, s.RetryLogoutDelivery(ctx, "bc-ada-1", without.ID, 1, next), store.ErrNotFound, "retry unknown delivery")
	must(t, s.DeleteLogoutDelivery(ctx, "bc-ada-2", other.ID), "delete delivery")
	must(t, s.DeleteLogoutDelivery(ctx, "bc-ada-2", other.ID), "delete delivery twice")

	claimed, err = s.ClaimLogoutDeliveries(ctx, next.Add(-time.Second), time.Minute, 10)
	must(t, err, "claim before the retry is due")
	wantEqual(t, len(claimed), 0, "deliveries claimed before due")
	claimed, err = s.ClaimLogoutDeliveries(ctx, next, time.Minute, 1)
	must(t, err, "claim the retry")
	wantEqual(t, claimed, []store.LogoutDelivery{
		{SessionID: "bc-ada-1", ClientID: withURI.ID, UserID: ada, Attempts: 1, NextAttemptAt: next.Add(time.Minute), CreatedAt: t0},
	}, "claimed retry")

	// A new sign-in after the logout is recorded afresh and queued again
	// only once while the first delivery is still pending.
	must(t, s.CreateSession(ctx, newSession("bc-ada-3", ada)), "create session")
	rec("bc-ada-3", withURI.ID)
	queue("", ada, 1)
	rec("bc-ada-3", withURI.ID)
	queue("bc-ada-3", "", 0) // the same delivery is already pending
}
