package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testAuthRequests(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := wallNow()
	live := newAuthRequest("req-live", now.Add(10*time.Minute))
	expired := newAuthRequest("req-expired", now.Add(-time.Second))
	must(t, s.CreateAuthRequest(ctx, live), "create live request")
	must(t, s.CreateAuthRequest(ctx, expired), "create expired request")

	got, err := s.GetAuthRequest(ctx, live.ID)
	must(t, err, "get live request")
	wantEqual(t, got, live, "get live request")

	dup := newAuthRequest(live.ID, now.Add(time.Hour))
	dup.State = "impostor"
	wantErr(t, s.CreateAuthRequest(ctx, dup), store.ErrConflict, "create request with taken id")

	_, err = s.GetAuthRequest(ctx, expired.ID)
	wantErr(t, err, store.ErrNotFound, "get expired request")
	_, err = s.GetAuthRequest(ctx, "req-unknown")
	wantErr(t, err, store.ErrNotFound, "get unknown request")

	// UpdateAuthRequest sets the consent flags and nothing else.
	upd := live
	upd.ConsentGiven, upd.Denied = true, true
	upd.State, upd.Scopes, upd.ExpiresAt = "changed", []string{"admin"}, now.Add(time.Hour)
	must(t, s.UpdateAuthRequest(ctx, upd), "update request")
	want := live
	want.ConsentGiven, want.Denied = true, true
	got, err = s.GetAuthRequest(ctx, live.ID)
	must(t, err, "get updated request")
	wantEqual(t, got, want, "updated request")

	upd.ConsentGiven, upd.Denied = false, false
	must(t, s.UpdateAuthRequest(ctx, upd), "clear consent flags")
	got, err = s.GetAuthRequest(ctx, live.ID)
	must(t, err, "get request with cleared flags")
	wantEqual(t, got, live, "request with cleared flags")

	wantErr(t, s.UpdateAuthRequest(ctx, newAuthRequest("req-unknown", now.Add(time.Hour))), store.ErrNotFound, "update unknown request")
	_, err = s.GetAuthRequest(ctx, "req-unknown")
	wantErr(t, err, store.ErrNotFound, "update must not create")
	wantErr(t, s.UpdateAuthRequest(ctx, expired), store.ErrNotFound, "update expired request")

	must(t, s.DeleteAuthRequest(ctx, live.ID), "delete request")
	_, err = s.GetAuthRequest(ctx, live.ID)
	wantErr(t, err, store.ErrNotFound, "get deleted request")
	must(t, s.DeleteAuthRequest(ctx, live.ID), "delete request twice")
	must(t, s.DeleteAuthRequest(ctx, "req-unknown"), "delete unknown request")
}

func testConsumeAuthRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := wallNow()
	req := newAuthRequest("req-1", now.Add(10*time.Minute))
	must(t, s.CreateAuthRequest(ctx, req), "create request")
	code := newCode("code-1", "grant-1", "gatehouse|ada")

	must(t, s.ConsumeAuthRequestForCode(ctx, req.ID, code), "consume request")
	_, err := s.GetAuthRequest(ctx, req.ID)
	wantErr(t, err, store.ErrNotFound, "get consumed request")

	second := newCode("code-2", "grant-2", "gatehouse|ada")
	wantErr(t, s.ConsumeAuthRequestForCode(ctx, req.ID, second), store.ErrNotFound, "consume request twice")
	_, err = s.RedeemCode(ctx, second.ID, t0)
	wantErr(t, err, store.ErrNotFound, "redeem code of a refused consume")

	got, err := s.RedeemCode(ctx, code.ID, t0)
	must(t, err, "redeem code")
	wantEqual(t, got, code, "redeemed code")

	t.Run("expired request", func(t *testing.T) {
		ctx := t.Context()
		req := newAuthRequest("req-expired", now.Add(-time.Second))
		must(t, s.CreateAuthRequest(ctx, req), "create expired request")
		c := newCode("code-expired-req", "grant-3", "gatehouse|ada")
		wantErr(t, s.ConsumeAuthRequestForCode(ctx, req.ID, c), store.ErrNotFound, "consume expired request")
		_, err := s.RedeemCode(ctx, c.ID, t0)
		wantErr(t, err, store.ErrNotFound, "redeem code of an expired request")
	})
	t.Run("unknown request", func(t *testing.T) {
		ctx := t.Context()
		c := newCode("code-unknown-req", "grant-4", "gatehouse|ada")
		wantErr(t, s.ConsumeAuthRequestForCode(ctx, "req-unknown", c), store.ErrNotFound, "consume unknown request")
		_, err := s.RedeemCode(ctx, c.ID, t0)
		wantErr(t, err, store.ErrNotFound, "redeem code of an unknown request")
	})
}

func testRedeemCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := newCode("code-1", "grant-1", "gatehouse|ada")
	issueCode(t, s, code)

	// Tokens of the code's grant, and of another grant that must survive.
	at := newAccessToken("at-1", code.GrantID, code.UserID)
	rt := newRefreshToken("rt-1", code.GrantID, code.UserID)
	otherAT := newAccessToken("at-other", "grant-other", code.UserID)
	otherRT := newRefreshToken("rt-other", "grant-other", code.UserID)
	for _, tok := range []store.AccessToken{at, otherAT} {
		must(t, s.CreateAccessToken(ctx, tok), "create access token")
	}
	for _, tok := range []store.RefreshToken{rt, otherRT} {
		must(t, s.CreateRefreshToken(ctx, tok), "create refresh token")
	}

	got, err := s.RedeemCode(ctx, code.ID, t0.Add(10*time.Second))
	must(t, err, "redeem code")
	wantEqual(t, got, code, "redeemed code")
	wantLiveAccessToken(t, s, at)

	// RFC 6749 §4.1.2: a code used twice revokes the tokens issued for it.
	got, err = s.RedeemCode(ctx, code.ID, t0.Add(20*time.Second))
	wantErr(t, err, store.ErrAlreadyUsed, "redeem code twice")
	wantEqual(t, got, code, "code returned with ErrAlreadyUsed")
	if got.GrantID != code.GrantID {
		t.Fatalf("code returned with ErrAlreadyUsed: GrantID = %q, want %q", got.GrantID, code.GrantID)
	}
	_, err = s.GetAccessToken(ctx, at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a reused code")
	wantRefreshRevoked(t, s, rt.ID, true)
	wantLiveAccessToken(t, s, otherAT)
	wantRefreshRevoked(t, s, otherRT.ID, false)

	_, err = s.RedeemCode(ctx, code.ID, t0.Add(30*time.Second))
	wantErr(t, err, store.ErrAlreadyUsed, "redeem code a third time")
	_, err = s.RedeemCode(ctx, code.ID, code.ExpiresAt.Add(time.Second))
	wantErr(t, err, store.ErrNotFound, "redeem used code after it expired")

	t.Run("expired", func(t *testing.T) {
		ctx := t.Context()
		c := newCode("code-expired", "grant-2", "gatehouse|ada")
		issueCode(t, s, c)
		_, err := s.RedeemCode(ctx, c.ID, c.ExpiresAt.Add(time.Second))
		wantErr(t, err, store.ErrNotFound, "redeem expired code")
		// Refusing an expired code must not have used it up for its lifetime.
		got, err := s.RedeemCode(ctx, c.ID, t0)
		must(t, err, "redeem code while live")
		wantEqual(t, got, c, "code redeemed while live")
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := s.RedeemCode(t.Context(), "code-unknown", t0)
		wantErr(t, err, store.ErrNotFound, "redeem unknown code")
	})
}
