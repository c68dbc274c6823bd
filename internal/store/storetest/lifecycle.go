package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := wallNow()
	past, future := now.Add(-time.Minute), now.Add(time.Hour)

	must(t, s.CreateAuthRequest(ctx, newAuthRequest("req-expired", past)), "create expired request")
	must(t, s.CreateAuthRequest(ctx, newAuthRequest("req-live", future)), "create live request")

	expiredCode := newCode("code-expired", "grant-1", "gatehouse|ada")
	expiredCode.ExpiresAt = past
	liveCode := newCode("code-live", "grant-2", "gatehouse|ada")
	liveCode.ExpiresAt = future
	issueCode(t, s, expiredCode)
	issueCode(t, s, liveCode)

	expiredSession := newSession("session-expired", "gatehouse|ada")
	expiredSession.ExpiresAt = past
	liveSession := newSession("session-live", "gatehouse|ada")
	liveSession.ExpiresAt = future
	must(t, s.CreateSession(ctx, expiredSession), "create expired session")
	must(t, s.CreateSession(ctx, liveSession), "create live session")

	expiredAT := newAccessToken("at-expired", "grant-1", "gatehouse|ada")
	expiredAT.ExpiresAt = past
	liveAT := newAccessToken("at-live", "grant-2", "gatehouse|ada")
	liveAT.ExpiresAt = future
	must(t, s.CreateAccessToken(ctx, expiredAT), "create expired access token")
	must(t, s.CreateAccessToken(ctx, liveAT), "create live access token")

	expiredRT := newRefreshToken("rt-expired", "grant-1", "gatehouse|ada")
	expiredRT.ExpiresAt = past
	liveRT := newRefreshToken("rt-live", "grant-2", "gatehouse|ada")
	liveRT.ExpiresAt = future
	must(t, s.CreateRefreshToken(ctx, expiredRT), "create expired refresh token")
	must(t, s.CreateRefreshToken(ctx, liveRT), "create live refresh token")

	_, err := s.AddFailure(ctx, "ip:old", time.Minute, now.Add(-10*time.Minute))
	must(t, err, "add failure in an old window")
	_, err = s.AddFailure(ctx, "ip:live", time.Minute, now)
	must(t, err, "add failure in the current window")

	// Things that never expire stay.
	must(t, s.CreateClient(ctx, newClient("client-1")), "create client")
	must(t, s.CreateUser(ctx, newUser("gatehouse|ada", "ada@example.com")), "create user")
	must(t, s.UpsertGrant(ctx, newGrant("gatehouse|ada", "client-1", "", "openid")), "upsert grant")

	n, err := s.DeleteExpired(ctx, now)
	must(t, err, "delete expired")
	// One expired request, code, session, access token, refresh token and
	// throttle window.
	if n != 6 {
		t.Errorf("DeleteExpired removed %d rows, want 6", n)
	}
	n, err = s.DeleteExpired(ctx, now)
	must(t, err, "delete expired again")
	if n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}

	_, err = s.GetRefreshToken(ctx, expiredRT.ID)
	wantErr(t, err, store.ErrNotFound, "get deleted refresh token")

	_, err = s.GetAuthRequest(ctx, "req-live")
	must(t, err, "get live request")
	got, err := s.RedeemCode(ctx, liveCode.ID, now, store.Issued{})
	must(t, err, "redeem live code")
	wantEqual(t, got, liveCode, "live code")
	_, err = s.GetSession(ctx, liveSession.ID, now)
	must(t, err, "get live session")
	_, err = s.GetAccessToken(ctx, liveAT.ID, now)
	must(t, err, "get live access token")
	_, err = s.GetRefreshToken(ctx, liveRT.ID)
	must(t, err, "get live refresh token")
	if c, err := s.Failures(ctx, "ip:live", time.Minute, now); err != nil || c != 1 {
		t.Errorf("Failures of live window = %d, %v; want 1, nil", c, err)
	}
	_, err = s.GetClient(ctx, "client-1")
	must(t, err, "get client")
	_, err = s.GetUser(ctx, "gatehouse|ada")
	must(t, err, "get user")
	_, err = s.GetGrant(ctx, "gatehouse|ada", "client-1", "")
	must(t, err, "get grant")

	// A used code is kept until it expires, so that reuse is detected.
	n, err = s.DeleteExpired(ctx, now)
	must(t, err, "delete expired after redeem")
	if n != 0 {
		t.Errorf("DeleteExpired after redeem removed %d rows, want 0", n)
	}
	_, err = s.RedeemCode(ctx, liveCode.ID, now, store.Issued{})
	wantErr(t, err, store.ErrAlreadyUsed, "redeem used code after DeleteExpired")
}

func testTimePrecision(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Nanoseconds in a zone far from UTC: backends keep at least
	// milliseconds and hand back UTC.
	auth := time.Date(2031, time.March, 14, 23, 59, 59, 987_654_321, time.FixedZone("UTC-11", -11*3600))
	sess := newSession("session-precise", "gatehouse|ada")
	sess.AuthTime, sess.CreatedAt = auth, auth
	must(t, s.CreateSession(ctx, sess), "create session")
	got, err := s.GetSession(ctx, sess.ID, t0)
	must(t, err, "get session")
	for name, tm := range map[string]time.Time{"AuthTime": got.AuthTime, "CreatedAt": got.CreatedAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s in %v, want UTC", name, tm.Location())
		}
		if d := tm.Sub(auth); d <= -time.Millisecond || d >= time.Millisecond {
			t.Errorf("%s = %v, want %v to the millisecond", name, tm, auth.UTC())
		}
	}

	// Times before 1970 and the zero time survive too.
	old := newUser("gatehouse|old", "old@example.com")
	old.CreatedAt = time.Date(1815, time.December, 10, 0, 0, 0, 0, time.UTC)
	old.LastLogin = time.Time{}
	must(t, s.CreateUser(ctx, old), "create user")
	u, err := s.GetUser(ctx, old.ID)
	must(t, err, "get user")
	wantEqual(t, u, old, "user with old and zero times")
	if !u.LastLogin.IsZero() {
		t.Errorf("zero LastLogin came back as %v", u.LastLogin)
	}
}

func testPingClose(t *testing.T, s store.Store) {
	must(t, s.Ping(t.Context()), "ping")
	must(t, s.Close(), "close")
	if err := s.Ping(t.Context()); err == nil {
		t.Error("ping after close: got no error")
	}
}
