package storetest

import (
	"errors"
	"fmt"
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

	// UsedAt, OverlapUsed and Revoked round-trip as well.
	used := t0.Add(time.Minute).In(elsewhere)
	spent := newRefreshToken("rt-spent", "grant-1", "gatehouse|ada")
	spent.UsedAt, spent.OverlapUsed, spent.Revoked = &used, true, true
	must(t, s.CreateRefreshToken(ctx, spent), "create used, revoked refresh token")
	got, err = s.GetRefreshToken(ctx, spent.ID)
	must(t, err, "get used, revoked refresh token")
	wantEqual(t, got, spent, "used, revoked refresh token")

	// A token without a family expiry (issued before families had one)
	// keeps the zero time.
	legacy := newRefreshToken("rt-legacy", "grant-3", "gatehouse|ada")
	legacy.FamilyExpiresAt = time.Time{}
	must(t, s.CreateRefreshToken(ctx, legacy), "create refresh token without family expiry")
	got, err = s.GetRefreshToken(ctx, legacy.ID)
	must(t, err, "get refresh token without family expiry")
	wantEqual(t, got, legacy, "refresh token without family expiry")
	if !got.FamilyExpiresAt.IsZero() {
		t.Fatalf("zero FamilyExpiresAt came back as %v", got.FamilyExpiresAt)
	}

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
	got, err := s.RotateRefreshToken(ctx, old.ID, next, now, 0, nil)
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
	_, err = s.RotateRefreshToken(ctx, old.ID, stolen, now.Add(time.Minute), 0, nil)
	wantErr(t, err, store.ErrReused, "rotate a rotated refresh token")
	_, err = s.GetRefreshToken(ctx, stolen.ID)
	wantErr(t, err, store.ErrNotFound, "get next token of a refused rotation")
	wantRefreshRevoked(t, s, old.ID, true)
	wantRefreshRevoked(t, s, next.ID, true)
	_, err = s.GetAccessToken(ctx, at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a revoked family")
	_, err = s.RotateRefreshToken(ctx, old.ID, newRefreshToken("rt-4", family, "gatehouse|eve"), now.Add(2*time.Minute), 0, nil)
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
			_, err := s.RotateRefreshToken(ctx, otherRT.ID, n, tc.now, time.Hour, nil)
			wantErr(t, err, store.ErrNotFound, "rotate expired refresh token")
			_, err = s.GetRefreshToken(ctx, n.ID)
			wantErr(t, err, store.ErrNotFound, "get next token of a refused rotation")
			got, err := s.GetRefreshToken(ctx, otherRT.ID)
			must(t, err, "get expired refresh token")
			wantEqual(t, got, otherRT, "refused rotation leaves the token unchanged")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		_, err := s.RotateRefreshToken(t.Context(), "rt-unknown", newRefreshToken("rt-x", "grant-x", "gatehouse|ada"), t0, time.Hour, nil)
		wantErr(t, err, store.ErrNotFound, "rotate unknown refresh token")
	})
}

func testRotateRefreshTokenOverlap(t *testing.T, s store.Store) {
	ctx := t.Context()
	const overlap = 30 * time.Second
	rotated := t0.Add(time.Hour) // when each family's first token is rotated
	// nextOf returns a token of old's family created at now.
	nextOf := func(old store.RefreshToken, id string, now time.Time) store.RefreshToken {
		n := newRefreshToken(id, old.FamilyID, old.UserID)
		n.CreatedAt, n.ExpiresAt = now.In(elsewhere), now.Add(30*24*time.Hour).In(elsewhere)
		return n
	}
	// rotateOnce stores a token of family, rotates it at rotated, and
	// returns it as stored then.
	rotateOnce := func(t *testing.T, family string) store.RefreshToken {
		t.Helper()
		old := newRefreshToken("rt-"+family, family, "gatehouse|ada")
		must(t, s.CreateRefreshToken(t.Context(), old), "create refresh token")
		_, err := s.RotateRefreshToken(t.Context(), old.ID, nextOf(old, "rt-"+family+"-next", rotated), rotated, overlap, nil)
		must(t, err, "rotate refresh token")
		old.UsedAt = &rotated
		return old
	}

	const family = "grant-1"
	old := newRefreshToken("rt-1", family, "gatehouse|ada")
	at := newAccessToken("at-1", family, "gatehouse|ada")
	otherRT := newRefreshToken("rt-other", "grant-other", "gatehouse|ada")
	otherAT := newAccessToken("at-other", "grant-other", "gatehouse|ada")
	must(t, s.CreateRefreshToken(ctx, old), "create refresh token")
	must(t, s.CreateRefreshToken(ctx, otherRT), "create refresh token of another family")
	must(t, s.CreateAccessToken(ctx, at), "create access token")
	must(t, s.CreateAccessToken(ctx, otherAT), "create access token of another family")

	next := nextOf(old, "rt-2", rotated)
	got, err := s.RotateRefreshToken(ctx, old.ID, next, rotated, overlap, nil)
	must(t, err, "rotate refresh token")
	wantEqual(t, got, old, "rotate returns the old token as it was")

	// A second request with the old token, inside the overlap, gets a
	// sibling of next.
	second := rotated.Add(10 * time.Second)
	sibling := nextOf(old, "rt-2b", second)
	got, err = s.RotateRefreshToken(ctx, old.ID, sibling, second, overlap, nil)
	must(t, err, "use a rotated refresh token inside the overlap")
	wantOld := old
	wantOld.UsedAt = &rotated
	wantEqual(t, got, wantOld, "overlap use returns the old token as it was")
	stored, err := s.GetRefreshToken(ctx, sibling.ID)
	must(t, err, "get sibling refresh token")
	wantEqual(t, stored, sibling, "sibling refresh token")
	stored, err = s.GetRefreshToken(ctx, old.ID)
	must(t, err, "get refresh token used in the overlap")
	wantOld.OverlapUsed = true
	wantEqual(t, stored, wantOld, "refresh token used in the overlap")
	stored, err = s.GetRefreshToken(ctx, next.ID)
	must(t, err, "get next refresh token")
	wantEqual(t, stored, next, "next refresh token after the overlap use")
	wantLiveAccessToken(t, s, at)

	// The sibling is a token of the family like any other.
	third := rotated.Add(20 * time.Second)
	nephew := nextOf(old, "rt-3", third)
	got, err = s.RotateRefreshToken(ctx, sibling.ID, nephew, third, overlap, nil)
	must(t, err, "rotate sibling refresh token")
	wantEqual(t, got, sibling, "rotate returns the sibling as it was")

	// A third use, even inside the overlap, is reuse.
	stolen := nextOf(old, "rt-stolen", third)
	_, err = s.RotateRefreshToken(ctx, old.ID, stolen, third, overlap, nil)
	wantErr(t, err, store.ErrReused, "use a rotated refresh token a third time")
	_, err = s.GetRefreshToken(ctx, stolen.ID)
	wantErr(t, err, store.ErrNotFound, "get next token of a refused rotation")
	for _, id := range []string{old.ID, next.ID, sibling.ID, nephew.ID} {
		wantRefreshRevoked(t, s, id, true)
	}
	_, err = s.GetAccessToken(ctx, at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a revoked family")
	wantRefreshRevoked(t, s, otherRT.ID, false)
	wantLiveAccessToken(t, s, otherAT)

	// Reuse outside the overlap, or without one, revokes at the second use.
	for i, tc := range []struct {
		name    string
		after   time.Duration // since the rotation
		overlap time.Duration
	}{
		{"no overlap", 0, 0},
		{"at the end of the overlap", overlap, overlap},
		{"after the overlap", overlap + time.Minute, overlap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			old := rotateOnce(t, fmt.Sprintf("grant-reuse-%d", i))
			at := newAccessToken(old.ID+"-at", old.FamilyID, old.UserID)
			must(t, s.CreateAccessToken(ctx, at), "create access token")
			now := rotated.Add(tc.after)
			n := nextOf(old, old.ID+"-again", now)
			_, err := s.RotateRefreshToken(ctx, old.ID, n, now, tc.overlap, nil)
			wantErr(t, err, store.ErrReused, "use a rotated refresh token")
			_, err = s.GetRefreshToken(ctx, n.ID)
			wantErr(t, err, store.ErrNotFound, "get next token of a refused rotation")
			wantRefreshRevoked(t, s, old.ID, true)
			wantRefreshRevoked(t, s, old.ID+"-next", true)
			_, err = s.GetAccessToken(ctx, at.ID, t0)
			wantErr(t, err, store.ErrNotFound, "get access token of a revoked family")
		})
	}

	// A next token of another family is refused and changes nothing, so
	// that the right call still succeeds.
	t.Run("wrong family", func(t *testing.T) {
		ctx := t.Context()
		old := newRefreshToken("rt-wrong", "grant-wrong", "gatehouse|ada")
		must(t, s.CreateRefreshToken(ctx, old), "create refresh token")
		stray := nextOf(otherRT, "rt-stray", rotated)
		if _, err := s.RotateRefreshToken(ctx, old.ID, stray, rotated, overlap, nil); err == nil {
			t.Fatal("rotate to a token of another family: got no error")
		}
		_, err := s.GetRefreshToken(ctx, stray.ID)
		wantErr(t, err, store.ErrNotFound, "get next token of another family")
		got, err := s.GetRefreshToken(ctx, old.ID)
		must(t, err, "get refresh token")
		wantEqual(t, got, old, "refresh token after refused rotation")
		_, err = s.RotateRefreshToken(ctx, old.ID, nextOf(old, "rt-wrong-next", rotated), rotated, overlap, nil)
		must(t, err, "rotate to a token of the right family")

		second := rotated.Add(time.Second)
		stray = nextOf(otherRT, "rt-stray-2", second)
		if _, err := s.RotateRefreshToken(ctx, old.ID, stray, second, overlap, nil); err == nil {
			t.Fatal("overlap use with a token of another family: got no error")
		}
		_, err = s.GetRefreshToken(ctx, stray.ID)
		wantErr(t, err, store.ErrNotFound, "get next token of another family")
		got, err = s.GetRefreshToken(ctx, old.ID)
		must(t, err, "get rotated refresh token")
		want := old
		want.UsedAt = &rotated
		wantEqual(t, got, want, "rotated refresh token after refused overlap use")
		_, err = s.RotateRefreshToken(ctx, old.ID, nextOf(old, "rt-wrong-sibling", second), second, overlap, nil)
		must(t, err, "overlap use with a token of the right family")
		wantRefreshRevoked(t, s, otherRT.ID, false)
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

func testExtendRefreshToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"rt-live", "rt-used", "rt-revoked", "rt-expired"} {
		must(t, s.CreateRefreshToken(ctx, newRefreshToken(id, "fam-"+id, "gatehouse|ada")), "create "+id)
	}
	_, err := s.RotateRefreshToken(ctx, "rt-used", newRefreshToken("rt-used-next", "fam-rt-used", "gatehouse|ada"), t0, 0, nil)
	must(t, err, "rotate rt-used")
	must(t, s.RevokeGrant(ctx, "fam-rt-revoked"), "revoke rt-revoked")

	later := t0.Add(40 * 24 * time.Hour)
	must(t, s.ExtendRefreshToken(ctx, "rt-live", later, t0), "extend live token")
	got, err := s.GetRefreshToken(ctx, "rt-live")
	must(t, err, "get extended token")
	if !got.ExpiresAt.Equal(later) {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, later)
	}
	for _, tc := range []struct {
		name, id string
		now      time.Time
	}{
		{"unknown", "rt-unknown", t0},
		{"rotated", "rt-used", t0},
		{"revoked", "rt-revoked", t0},
		{"expired", "rt-expired", t0.Add(31 * 24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.ExtendRefreshToken(ctx, tc.id, later, tc.now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ExtendRefreshToken = %v, want ErrNotFound", err)
			}
		})
	}
	if got, _ := s.GetRefreshToken(ctx, "rt-used"); !got.ExpiresAt.Equal(newRefreshToken("", "", "").ExpiresAt) {
		t.Errorf("a refused extension changed the token: %v", got.ExpiresAt)
	}
}

// testRotateWithoutOverlapAfterUse: with no overlap, a replay is a reuse
// even when its clock reading is earlier than the rotation it lost to.
func testRotateWithoutOverlapEarlierClock(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("rt-a", "fam-a", "gatehouse|ada")), "create")
	_, err := s.RotateRefreshToken(ctx, "rt-a", newRefreshToken("rt-b", "fam-a", "gatehouse|ada"), t0.Add(time.Second), 0, nil)
	must(t, err, "rotate")
	_, err = s.RotateRefreshToken(ctx, "rt-a", newRefreshToken("rt-c", "fam-a", "gatehouse|ada"), t0, 0, nil)
	if !errors.Is(err, store.ErrReused) {
		t.Fatalf("replay with an earlier clock = %v, want ErrReused", err)
	}
	if got, _ := s.GetRefreshToken(ctx, "rt-b"); !got.Revoked {
		t.Error("the family survived the replay")
	}
}

// testRotateRefreshTokenAccess checks that a rotation stores the response's
// access token with the next refresh token, and only when it succeeds.
func testRotateRefreshTokenAccess(t *testing.T, s store.Store) {
	ctx := t.Context()
	const family, overlap = "grant-access", 30 * time.Second
	rotated := t0.Add(time.Hour)
	nextOf := func(id string, now time.Time) store.RefreshToken {
		n := newRefreshToken(id, family, "gatehouse|ada")
		n.CreatedAt, n.ExpiresAt = now.In(elsewhere), now.Add(30*24*time.Hour).In(elsewhere)
		return n
	}
	accessOf := func(id string) *store.AccessToken {
		a := newAccessToken(id, family, "gatehouse|ada")
		return &a
	}
	old := newRefreshToken("rt-access-1", family, "gatehouse|ada")
	must(t, s.CreateRefreshToken(ctx, old), "create refresh token")

	// An access token whose insert fails undoes the rotation.
	taken := newAccessToken("at-access-taken", "grant-other", "gatehouse|ada")
	must(t, s.CreateAccessToken(ctx, taken), "create access token")
	clash := taken
	clash.GrantID = family
	_, err := s.RotateRefreshToken(ctx, old.ID, nextOf("rt-access-clash", rotated), rotated, overlap, &clash)
	wantErr(t, err, store.ErrConflict, "rotate with a taken access token ID")
	_, err = s.GetRefreshToken(ctx, "rt-access-clash")
	wantErr(t, err, store.ErrNotFound, "next token of a failed rotation")
	stored, err := s.GetRefreshToken(ctx, old.ID)
	must(t, err, "get refresh token after a failed rotation")
	wantEqual(t, stored, old, "refresh token after a failed rotation")

	at := accessOf("at-access-1")
	_, err = s.RotateRefreshToken(ctx, old.ID, nextOf("rt-access-2", rotated), rotated, overlap, at)
	must(t, err, "rotate with an access token")
	wantLiveAccessToken(t, s, *at)

	// Inside the overlap, the sibling's access token is stored too.
	sibAT := accessOf("at-access-sibling")
	_, err = s.RotateRefreshToken(ctx, old.ID, nextOf("rt-access-2b", rotated.Add(time.Second)), rotated.Add(time.Second), overlap, sibAT)
	must(t, err, "rotate inside the overlap with an access token")
	wantLiveAccessToken(t, s, *sibAT)

	// A reuse stores nothing and revokes the family's access tokens.
	stolenAT := accessOf("at-access-stolen")
	_, err = s.RotateRefreshToken(ctx, old.ID, nextOf("rt-access-3", rotated.Add(time.Minute)), rotated.Add(time.Minute), overlap, stolenAT)
	wantErr(t, err, store.ErrReused, "reuse with an access token")
	for _, id := range []string{stolenAT.ID, at.ID, sibAT.ID} {
		_, err = s.GetAccessToken(ctx, id, t0)
		wantErr(t, err, store.ErrNotFound, "access token "+id+" after a reuse")
	}
	wantLiveAccessToken(t, s, taken)

	// An unknown token stores nothing.
	strayAT := accessOf("at-access-stray")
	_, err = s.RotateRefreshToken(ctx, "rt-access-unknown", nextOf("rt-access-4", rotated), rotated, overlap, strayAT)
	wantErr(t, err, store.ErrNotFound, "rotate an unknown token with an access token")
	_, err = s.GetAccessToken(ctx, strayAT.ID, t0)
	wantErr(t, err, store.ErrNotFound, "access token of an unknown refresh token")
}

// testAccessTokenUser checks the joined read of a token and its user
// against the two separate reads.
func testAccessTokenUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("gatehouse|atu", "atu@example.com")
	u.Identities = append(u.Identities, store.Identity{Connection: "github", Provider: "github", UserID: "4242"})
	must(t, s.CreateUser(ctx, u), "create user")
	plain := newUser("gatehouse|atu-plain", "atu-plain@example.com")
	plain.Identities, plain.AppMetadata, plain.UserMetadata = nil, nil, nil
	must(t, s.CreateUser(ctx, plain), "create user without identities")

	for _, user := range []store.User{u, plain} {
		at := newAccessToken("at-of-"+user.ID, "grant-atu", user.ID)
		must(t, s.CreateAccessToken(ctx, at), "create access token")
		gotAT, gotUser, err := s.GetAccessTokenUser(ctx, at.ID, t0)
		must(t, err, "get access token and user")
		wantEqual(t, gotAT, at, "access token read with its user")
		wantUser, err := s.GetUser(ctx, user.ID)
		must(t, err, "get user")
		wantEqual(t, gotUser, wantUser, "user read with the access token")
	}

	at := newAccessToken("at-of-"+u.ID, "grant-atu", u.ID)
	for _, tc := range []struct {
		name string
		id   string
		now  time.Time
	}{
		{"unknown", "at-unknown", t0},
		{"at expiry", at.ID, at.ExpiresAt},
	} {
		_, _, err := s.GetAccessTokenUser(ctx, tc.id, tc.now)
		wantErr(t, err, store.ErrNotFound, "get access token and user: "+tc.name)
	}
	// A token whose user row is gone reads as no token.
	orphan := newAccessToken("at-orphan", "grant-atu", "gatehouse|nobody")
	must(t, s.CreateAccessToken(ctx, orphan), "create access token of an unknown user")
	_, _, err := s.GetAccessTokenUser(ctx, orphan.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of an unknown user")
	must(t, s.RevokeAccessToken(ctx, at.ID), "revoke access token")
	_, _, err = s.GetAccessTokenUser(ctx, at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get revoked access token and user")
}
