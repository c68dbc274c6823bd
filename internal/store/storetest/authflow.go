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

	// Each intent of AuthRequestSteps sets its own fields and nothing else.
	intents := []struct {
		name string
		do   func(id string) error
		set  func(r *store.AuthRequest)
	}{
		{"RecordAuthentication", func(id string) error {
			return s.RecordAuthentication(ctx, id, "gatehouse|ada", []string{"pwd", "otp"})
		}, func(r *store.AuthRequest) { r.AuthUserID, r.AuthMethods = "gatehouse|ada", []string{"pwd", "otp"} }},
		{"RecordConsent", func(id string) error { return s.RecordConsent(ctx, id, "gatehouse|ada") },
			func(r *store.AuthRequest) { r.ConsentUserID = "gatehouse|ada" }},
		{"SetAuthRequestOrganization", func(id string) error { return s.SetAuthRequestOrganization(ctx, id, "org_globex") },
			func(r *store.AuthRequest) { r.Organization = "org_globex" }},
		{"StartUpstreamLogin", func(id string) error {
			return s.StartUpstreamLogin(ctx, id, store.UpstreamLogin{Connection: "corp-oidc", StateHash: "upstream-state-hash-2",
				Nonce: "upstream-nonce-2", Verifier: "upstream-verifier-2"})
		}, func(r *store.AuthRequest) {
			r.UpstreamConnection, r.UpstreamStateHash = "corp-oidc", "upstream-state-hash-2"
			r.UpstreamNonce, r.UpstreamVerifier = "upstream-nonce-2", "upstream-verifier-2"
		}},
		{"EndAuthRequest", func(id string) error {
			return s.EndAuthRequest(ctx, id, "access_denied", "The user cancelled at corp-oidc")
		}, func(r *store.AuthRequest) {
			r.Error, r.ErrorDescription = "access_denied", "The user cancelled at corp-oidc"
		}},
	}
	want := live
	for _, tc := range intents {
		t.Run("AuthRequestSteps/"+tc.name, func(t *testing.T) {
			must(t, tc.do(live.ID), tc.name)
			tc.set(&want)
			got, err := s.GetAuthRequest(t.Context(), live.ID)
			must(t, err, "get request after "+tc.name)
			wantEqual(t, got, want, "request after "+tc.name)
			wantErr(t, tc.do("req-unknown"), store.ErrNotFound, tc.name+" on an unknown request")
			wantErr(t, tc.do(expired.ID), store.ErrNotFound, tc.name+" on an expired request")
		})
	}
	_, err = s.GetAuthRequest(ctx, "req-unknown")
	wantErr(t, err, store.ErrNotFound, "an intent must not create a request")

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
	_, err = s.RedeemCode(ctx, second.ID, t0, store.Issued{})
	wantErr(t, err, store.ErrNotFound, "redeem code of a refused consume")

	got, err := s.RedeemCode(ctx, code.ID, t0, store.Issued{})
	must(t, err, "redeem code")
	wantEqual(t, got, code, "redeemed code")

	t.Run("expired request", func(t *testing.T) {
		ctx := t.Context()
		req := newAuthRequest("req-expired", now.Add(-time.Second))
		must(t, s.CreateAuthRequest(ctx, req), "create expired request")
		c := newCode("code-expired-req", "grant-3", "gatehouse|ada")
		wantErr(t, s.ConsumeAuthRequestForCode(ctx, req.ID, c), store.ErrNotFound, "consume expired request")
		_, err := s.RedeemCode(ctx, c.ID, t0, store.Issued{})
		wantErr(t, err, store.ErrNotFound, "redeem code of an expired request")
	})
	t.Run("unknown request", func(t *testing.T) {
		ctx := t.Context()
		c := newCode("code-unknown-req", "grant-4", "gatehouse|ada")
		wantErr(t, s.ConsumeAuthRequestForCode(ctx, "req-unknown", c), store.ErrNotFound, "consume unknown request")
		_, err := s.RedeemCode(ctx, c.ID, t0, store.Issued{})
		wantErr(t, err, store.ErrNotFound, "redeem code of an unknown request")
	})
}

func testConsumeUpstreamState(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := wallNow()
	req := newAuthRequest("req-1", now.Add(10*time.Minute))
	must(t, s.CreateAuthRequest(ctx, req), "create request")
	wantStored := func(want store.AuthRequest, op string) {
		t.Helper()
		got, err := s.GetAuthRequest(ctx, want.ID)
		must(t, err, op+": get request")
		wantEqual(t, got, want, op)
	}

	// A forged state leaves the hash for the real callback.
	for _, hash := range []string{"forged", "", req.UpstreamStateHash + "x"} {
		_, err := s.ConsumeUpstreamState(ctx, req.ID, hash)
		wantErr(t, err, store.ErrNotFound, "consume upstream state with a wrong hash "+hash)
	}
	wantStored(req, "request after wrong hashes")

	got, err := s.ConsumeUpstreamState(ctx, req.ID, req.UpstreamStateHash)
	must(t, err, "consume upstream state")
	wantEqual(t, got, req, "request returned by ConsumeUpstreamState")
	cleared := req
	cleared.UpstreamStateHash = ""
	wantStored(cleared, "request after ConsumeUpstreamState")

	// A replayed callback finds the hash gone.
	_, err = s.ConsumeUpstreamState(ctx, req.ID, req.UpstreamStateHash)
	wantErr(t, err, store.ErrNotFound, "consume upstream state twice")
	_, err = s.ConsumeUpstreamState(ctx, req.ID, "")
	wantErr(t, err, store.ErrNotFound, "consume the cleared (empty) hash")
	wantStored(cleared, "request after a replayed callback")

	// A second upstream login sets a new hash.
	retry := cleared
	retry.UpstreamStateHash = "upstream-state-hash-retry"
	must(t, s.StartUpstreamLogin(ctx, req.ID, store.UpstreamLogin{Connection: retry.UpstreamConnection,
		StateHash: retry.UpstreamStateHash, Nonce: retry.UpstreamNonce, Verifier: retry.UpstreamVerifier}), "set a new upstream state hash")
	_, err = s.ConsumeUpstreamState(ctx, req.ID, req.UpstreamStateHash)
	wantErr(t, err, store.ErrNotFound, "consume the first hash after a new one was set")
	got, err = s.ConsumeUpstreamState(ctx, req.ID, retry.UpstreamStateHash)
	must(t, err, "consume the new hash")
	wantEqual(t, got, retry, "request returned for the new hash")
	wantStored(cleared, "request after consuming the new hash")

	t.Run("no upstream login", func(t *testing.T) {
		ctx := t.Context()
		r := newAuthRequest("req-no-upstream", now.Add(10*time.Minute))
		r.UpstreamConnection, r.UpstreamStateHash, r.UpstreamNonce, r.UpstreamVerifier = "", "", "", ""
		must(t, s.CreateAuthRequest(ctx, r), "create request")
		_, err := s.ConsumeUpstreamState(ctx, r.ID, "")
		wantErr(t, err, store.ErrNotFound, "consume an empty hash")
		wantStored(r, "request after consuming an empty hash")
	})
	t.Run("expired request", func(t *testing.T) {
		ctx := t.Context()
		r := newAuthRequest("req-expired", now.Add(-time.Second))
		must(t, s.CreateAuthRequest(ctx, r), "create expired request")
		_, err := s.ConsumeUpstreamState(ctx, r.ID, r.UpstreamStateHash)
		wantErr(t, err, store.ErrNotFound, "consume upstream state of an expired request")
	})
	t.Run("request used for a code", func(t *testing.T) {
		ctx := t.Context()
		r := newAuthRequest("req-used", now.Add(10*time.Minute))
		must(t, s.CreateAuthRequest(ctx, r), "create request")
		must(t, s.ConsumeAuthRequestForCode(ctx, r.ID, newCode("code-1", "grant-1", "gatehouse|ada")), "consume request for a code")
		_, err := s.ConsumeUpstreamState(ctx, r.ID, r.UpstreamStateHash)
		wantErr(t, err, store.ErrNotFound, "consume upstream state of a used request")
	})
	t.Run("unknown request", func(t *testing.T) {
		_, err := s.ConsumeUpstreamState(t.Context(), "req-unknown", req.UpstreamStateHash)
		wantErr(t, err, store.ErrNotFound, "consume upstream state of an unknown request")
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

	got, err := s.RedeemCode(ctx, code.ID, t0.Add(10*time.Second), store.Issued{})
	must(t, err, "redeem code")
	wantEqual(t, got, code, "redeemed code")
	wantLiveAccessToken(t, s, at)

	// RFC 6749 §4.1.2: a code used twice revokes the tokens issued for it.
	got, err = s.RedeemCode(ctx, code.ID, t0.Add(20*time.Second), store.Issued{})
	wantErr(t, err, store.ErrAlreadyUsed, "redeem code twice")
	usedCode := code
	usedCode.Used = true
	wantEqual(t, got, usedCode, "code returned with ErrAlreadyUsed")
	if got.GrantID != code.GrantID {
		t.Fatalf("code returned with ErrAlreadyUsed: GrantID = %q, want %q", got.GrantID, code.GrantID)
	}
	_, err = s.GetAccessToken(ctx, at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a reused code")
	wantRefreshRevoked(t, s, rt.ID, true)
	wantLiveAccessToken(t, s, otherAT)
	wantRefreshRevoked(t, s, otherRT.ID, false)

	_, err = s.RedeemCode(ctx, code.ID, t0.Add(30*time.Second), store.Issued{})
	wantErr(t, err, store.ErrAlreadyUsed, "redeem code a third time")
	_, err = s.RedeemCode(ctx, code.ID, code.ExpiresAt.Add(time.Second), store.Issued{})
	wantErr(t, err, store.ErrNotFound, "redeem used code after it expired")

	t.Run("expired", func(t *testing.T) {
		ctx := t.Context()
		c := newCode("code-expired", "grant-2", "gatehouse|ada")
		issueCode(t, s, c)
		_, err := s.RedeemCode(ctx, c.ID, c.ExpiresAt.Add(time.Second), store.Issued{})
		wantErr(t, err, store.ErrNotFound, "redeem expired code")
		// Refusing an expired code must not have used it up for its lifetime.
		got, err := s.RedeemCode(ctx, c.ID, t0, store.Issued{})
		must(t, err, "redeem code while live")
		wantEqual(t, got, c, "code redeemed while live")
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := s.RedeemCode(t.Context(), "code-unknown", t0, store.Issued{})
		wantErr(t, err, store.ErrNotFound, "redeem unknown code")
	})
}

// testRedeemCodeIssued checks that a redemption stores the response's
// tokens with it, and only when it succeeds.
func testRedeemCodeIssued(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := newCode("code-issued", "grant-issued", "gatehouse|ada")
	issueCode(t, s, code)
	issued := store.Issued{
		Access:  ptr(newAccessToken("at-issued", code.GrantID, code.UserID)),
		Refresh: ptr(newRefreshToken("rt-issued", code.GrantID, code.UserID)),
	}

	// An insert that fails undoes the redemption and stores nothing.
	taken := newAccessToken("at-taken", "grant-other", code.UserID)
	must(t, s.CreateAccessToken(ctx, taken), "create access token")
	clash := store.Issued{Access: ptr(taken), Refresh: ptr(newRefreshToken("rt-clash", code.GrantID, code.UserID))}
	clash.Access.GrantID = code.GrantID
	_, err := s.RedeemCode(ctx, code.ID, t0, clash)
	wantErr(t, err, store.ErrConflict, "redeem code with a taken access token ID")
	_, err = s.GetRefreshToken(ctx, "rt-clash")
	wantErr(t, err, store.ErrNotFound, "refresh token of a failed redemption")
	got, err := s.GetCode(ctx, code.ID, t0)
	must(t, err, "get code after a failed redemption")
	wantEqual(t, got, code, "code after a failed redemption")

	got, err = s.RedeemCode(ctx, code.ID, t0, issued)
	must(t, err, "redeem code with tokens")
	wantEqual(t, got, code, "redeemed code")
	wantLiveAccessToken(t, s, *issued.Access)
	rt, err := s.GetRefreshToken(ctx, issued.Refresh.ID)
	must(t, err, "get refresh token of the redemption")
	wantEqual(t, rt, *issued.Refresh, "refresh token of the redemption")
	got, err = s.GetCode(ctx, code.ID, t0)
	must(t, err, "get redeemed code")
	if !got.Used {
		t.Fatal("GetCode after RedeemCode: Used = false, want true")
	}

	// A replay stores nothing and revokes what the first redemption stored.
	replay := store.Issued{
		Access:  ptr(newAccessToken("at-replay", code.GrantID, code.UserID)),
		Refresh: ptr(newRefreshToken("rt-replay", code.GrantID, code.UserID)),
	}
	_, err = s.RedeemCode(ctx, code.ID, t0, replay)
	wantErr(t, err, store.ErrAlreadyUsed, "redeem code twice with tokens")
	_, err = s.GetAccessToken(ctx, replay.Access.ID, t0)
	wantErr(t, err, store.ErrNotFound, "access token of a replayed redemption")
	_, err = s.GetRefreshToken(ctx, replay.Refresh.ID)
	wantErr(t, err, store.ErrNotFound, "refresh token of a replayed redemption")
	_, err = s.GetAccessToken(ctx, issued.Access.ID, t0)
	wantErr(t, err, store.ErrNotFound, "access token of the first redemption after a replay")
	wantRefreshRevoked(t, s, issued.Refresh.ID, true)
	wantLiveAccessToken(t, s, taken)

	// An unknown code stores nothing either.
	stray := store.Issued{Access: ptr(newAccessToken("at-stray", "grant-stray", code.UserID))}
	_, err = s.RedeemCode(ctx, "code-unknown", t0, stray)
	wantErr(t, err, store.ErrNotFound, "redeem unknown code with tokens")
	_, err = s.GetAccessToken(ctx, stray.Access.ID, t0)
	wantErr(t, err, store.ErrNotFound, "access token of an unknown code")
}

// testCreateGetCode covers codes stored without a request and GetCode.
func testCreateGetCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := newCode("code-direct", "grant-direct", "gatehouse|ada")
	must(t, s.CreateCode(ctx, code), "create code")
	wantErr(t, s.CreateCode(ctx, newCode(code.ID, "grant-other", "gatehouse|ada")), store.ErrConflict, "create code with a taken ID")

	got, err := s.GetCode(ctx, code.ID, t0)
	must(t, err, "get code")
	wantEqual(t, got, code, "stored code")
	_, err = s.GetCode(ctx, code.ID, code.ExpiresAt)
	wantErr(t, err, store.ErrNotFound, "get expired code")
	_, err = s.GetCode(ctx, "code-unknown", t0)
	wantErr(t, err, store.ErrNotFound, "get unknown code")

	got, err = s.RedeemCode(ctx, code.ID, t0, store.Issued{})
	must(t, err, "redeem created code")
	wantEqual(t, got, code, "redeemed created code")
	got, err = s.GetCode(ctx, code.ID, t0)
	must(t, err, "get redeemed code")
	code.Used = true
	wantEqual(t, got, code, "redeemed code as stored")
}

func ptr[T any](v T) *T { return &v }
