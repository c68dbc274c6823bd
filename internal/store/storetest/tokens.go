package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := newAccessToken("at-1", "grant-1", "gatehouse|ada")
	must(t, s.CreateAccessToken(ctx, at), "create access token")
	wantLiveAccessToken(t, s, at)

	dup := newAccessToken(at.ID, "grant-2", "gatehouse|eve")
	wantErr(t, s.CreateAccessToken(ctx, dup), store.ErrConflict, "create access token with taken id")
	wantLiveAccessToken(t, s, at)

	tests := []struct {
		name string
		id   string
		now  time.Time
	}{
		{"unknown", "at-unknown", t0},
		{"at expiry", at.ID, at.ExpiresAt},
		{"after expiry", at.ID, at.ExpiresAt.Add(time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.GetAccessToken(t.Context(), tc.id, tc.now)
			wantErr(t, err, store.ErrNotFound, "get access token")
		})
	}

	must(t, s.RevokeAccessToken(ctx, at.ID), "revoke access token")
	_, err := s.GetAccessToken(ctx, at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get revoked access token")
	must(t, s.RevokeAccessToken(ctx, at.ID), "revoke access token twice")
	must(t, s.RevokeAccessToken(ctx, "at-unknown"), "revoke unknown access token")
}

func testRefreshTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	rt := newRefreshToken("rt-1", "grant-1", "gatehouse|ada")
	must(t, s.CreateRefreshToken(ctx, rt), "create refresh token")
	got, err := s.GetRefreshToken(ctx, rt.ID)
	must(t, err, "get refresh token")
	wantEqual(t, got, rt, "get refresh token")

	wantErr(t, s.CreateRefreshToken(ctx, newRefreshToken(rt.ID, "grant-2", "gatehouse|eve")), store.ErrConflict, "create refresh token with taken id")
	got, err = s.GetRefreshToken(ctx, rt.ID)
	must(t, err, "get refresh token after conflict")
	wantEqual(t, got, rt, "refresh token after conflicting create")

	// UsedAt and Revoked round-trip as well.
	used := t0.Add(time.Minute).In(elsewhere)
	spent := newRefreshToken("rt-spent", "grant-1", "gatehouse|ada")
	spent.UsedAt, spent.Revoked = &used, true
	must(t, s.CreateRefreshToken(ctx, spent), "create used, revoked refresh token")
	got, err = s.GetRefreshToken(ctx, spent.ID)
	must(t, err, "get used, revoked refresh token")
	wantEqual(t, got, spent, "used, revoked refresh token")

	_, err = s.GetRefreshToken(ctx, "rt-unknown")
	wantErr(t, err, store.ErrNotFound, "get unknown refresh token")
}

func testRotateRefreshToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	const family = "grant-1"
	old := newRefreshToken("rt-1", family, "gatehouse|ada")
	at := newAccessToken("at-1", family, "gatehouse|ada")
	otherRT := newRefreshToken("rt-other", "grant-other", "gatehouse|ada")
	otherAT := newAccessToken("at-other", "grant-other", "gatehouse|ada")
	must(t, s.CreateRefreshToken(ctx, old), "create refresh token")
	must(t, s.CreateRefreshToken(ctx, otherRT), "create refresh token of another family")
	must(t, s.CreateAccessToken(ctx, at), "create access token")
	must(t, s.CreateAccessToken(ctx, otherAT), "create access token of another family")

	now := t0.Add(time.Hour)
	next := newRefreshToken("rt-2", family, "gatehouse|ada")
	next.CreatedAt, next.ExpiresAt = now.In(elsewhere), now.Add(30*24*time.Hour).In(elsewhere)
	got, err := s.RotateRefreshToken(ctx, old.ID, next, now)
	must(t, err, "rotate refresh token")
	wantEqual(t, got, old, "rotate returns the old token as it was")

	stored, err := s.GetRefreshToken(ctx, next.ID)
	must(t, err, "get next refresh token")
	wantEqual(t, stored, next, "next refresh token")
	stored, err = s.GetRefreshToken(ctx, old.ID)
	must(t, err, "get rotated refresh token")
	wantOld := old
	wantOld.UsedAt = &now
	wantEqual(t, stored, wantOld, "rotated refresh token")
	wantLiveAccessToken(t, s, at)

	// The rotated token presented again: the family is compromised.
	stolen := newRefreshToken("rt-3", family, "gatehouse|eve")
	_, err = s.RotateRefreshToken(ctx, old.ID, stolen, now.Add(time.Minute))
	wantErr(t, err, store.ErrReused, "rotate a rotated refresh token")
	_, err = s.GetRefreshToken(ctx, stolen.ID)
	wantErr(t, err, store.ErrNotFound, "get next token of a refused rotation")
	wantRefreshRevoked(t, s, old.ID, true)
	wantRefreshRevoked(t, s, next.ID, true)
	_, err = s.GetAccessToken(ctx, at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a revoked family")
	_, err = s.RotateRefreshToken(ctx, old.ID, newRefreshToken("rt-4", family, "gatehouse|eve"), now.Add(2*time.Minute))
	wantErr(t, err, store.ErrRevoked, "rotate a revoked, rotated refresh token")

	// Another family is untouched.
	wantRefreshRevoked(t, s, otherRT.ID, false)
	wantLiveAccessToken(t, s, otherAT)

	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"at expiry", otherRT.ExpiresAt},
		{"after expiry", otherRT.ExpiresAt.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			n := newRefreshToken("rt-after-"+tc.name, otherRT.FamilyID, otherRT.UserID)
			_, err := s.RotateRefreshToken(ctx, otherRT.ID, n, tc.now)
			wantErr(t, err, store.ErrNotFound, "rotate expired refresh token")
			_, err = s.GetRefreshToken(ctx, n.ID)
			wantErr(t, err, store.ErrNotFound, "get next token of a refused rotation")
			got, err := s.GetRefreshToken(ctx, otherRT.ID)
			must(t, err, "get expired refresh token")
			wantEqual(t, got, otherRT, "refused rotation leaves the token unchanged")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		_, err := s.RotateRefreshToken(t.Context(), "rt-unknown", newRefreshToken("rt-x", "grant-x", "gatehouse|ada"), t0)
		wantErr(t, err, store.ErrNotFound, "rotate unknown refresh token")
	})
}

func testRevokeGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	ats := []store.AccessToken{
		newAccessToken("at-1", "grant-1", "gatehouse|ada"),
		newAccessToken("at-2", "grant-1", "gatehouse|ada"),
	}
	rts := []store.RefreshToken{
		newRefreshToken("rt-1", "grant-1", "gatehouse|ada"),
		newRefreshToken("rt-2", "grant-1", "gatehouse|ada"),
	}
	otherAT := newAccessToken("at-other", "grant-2", "gatehouse|ada")
	otherRT := newRefreshToken("rt-other", "grant-2", "gatehouse|ada")
	for _, at := range append(ats, otherAT) {
		must(t, s.CreateAccessToken(ctx, at), "create access token")
	}
	for _, rt := range append(rts, otherRT) {
		must(t, s.CreateRefreshToken(ctx, rt), "create refresh token")
	}

	must(t, s.RevokeGrant(ctx, "grant-1"), "revoke grant")
	for _, at := range ats {
		_, err := s.GetAccessToken(ctx, at.ID, t0)
		wantErr(t, err, store.ErrNotFound, "get access token of revoked grant")
	}
	for _, rt := range rts {
		wantRefreshRevoked(t, s, rt.ID, true)
	}
	wantLiveAccessToken(t, s, otherAT)
	wantRefreshRevoked(t, s, otherRT.ID, false)

	must(t, s.RevokeGrant(ctx, "grant-1"), "revoke grant twice")
	must(t, s.RevokeGrant(ctx, "grant-unknown"), "revoke unknown grant")
}
