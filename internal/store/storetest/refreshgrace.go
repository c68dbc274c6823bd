package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// sealedOf is what the suite stores as a token's sealed value: opaque to
// the store, so any bytes do.
func sealedOf(id string) []byte { return []byte("sealed:" + id) }

// graceChain stores a token of family and rotates it at rotated (with a
// sealed successor), returning both as stored before the rotation.
func graceChain(t *testing.T, s store.Store, family string, rotated time.Time) (old, succ store.RefreshToken) {
	t.Helper()
	old = newRefreshToken("rt-"+family, family, "gatehouse|ada")
	must(t, s.CreateRefreshToken(t.Context(), old), "create refresh token")
	succ = newRefreshToken("rt-"+family+"-succ", family, "gatehouse|ada")
	succ.CreatedAt = rotated.In(elsewhere)
	r, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: old.ID, Next: succ, NextSealed: sealedOf(succ.ID),
		Now: rotated, Grace: 30 * time.Second})
	must(t, err, "rotate refresh token")
	wantEqual(t, r.Old, old, "rotate returns the old token as it was")
	if r.Successor != nil {
		t.Fatalf("a first rotation returned a retry's successor %s", r.Successor.ID)
	}
	return old, succ
}

// testRotateRefreshGrace covers RotateRefresh's grace period: a retry of
// the previous token returns the same successor, and everything else that
// presents a used token is still a reuse that revokes the family.
func testRotateRefreshGrace(t *testing.T, s store.Store) {
	const grace = 30 * time.Second
	rotated := t0.Add(time.Hour)
	tests := []struct {
		name string
		// before runs after the first rotation, before the retry.
		before  func(t *testing.T, old, succ store.RefreshToken)
		at      time.Duration // the retry's time after the rotation
		grace   time.Duration
		overlap time.Duration
		// want: "same" (the successor again), "sibling" (next stored by
		// the overlap), or the error.
		want    string
		wantErr error
	}{
		{name: "retry within the grace period", at: 10 * time.Second, grace: grace, want: "same"},
		{name: "retry from a lagging clock", at: -2 * time.Second, grace: grace, want: "same"},
		{name: "retry just before the end", at: grace - time.Millisecond, grace: grace, want: "same"},
		{name: "retry at the end", at: grace, grace: grace, wantErr: store.ErrReused},
		{name: "retry without a grace period", at: time.Second, wantErr: store.ErrReused},
		{
			name: "retry after the successor was used",
			before: func(t *testing.T, _, succ store.RefreshToken) {
				n := newRefreshToken(succ.ID+"-next", succ.FamilyID, succ.UserID)
				_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: succ.ID, Next: n, NextSealed: sealedOf(n.ID),
					Now: rotated.Add(time.Second), Grace: grace})
				must(t, err, "rotate the successor")
			},
			at: 2 * time.Second, grace: grace, wantErr: store.ErrReused,
		},
		{
			name: "retry after the family was revoked",
			before: func(t *testing.T, old, _ store.RefreshToken) {
				must(t, s.RevokeGrant(t.Context(), old.FamilyID), "revoke grant")
			},
			at: time.Second, grace: grace, wantErr: store.ErrRevoked,
		},
		{
			name: "successor used, overlap gives a sibling",
			before: func(t *testing.T, _, succ store.RefreshToken) {
				n := newRefreshToken(succ.ID+"-next", succ.FamilyID, succ.UserID)
				_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: succ.ID, Next: n, Now: rotated.Add(time.Second), Grace: grace})
				must(t, err, "rotate the successor")
			},
			at: 2 * time.Second, grace: grace, overlap: time.Minute, want: "sibling",
		},
		{name: "grace before overlap", at: time.Second, grace: grace, overlap: time.Minute, want: "same"},
		{name: "after the grace period, within the overlap", at: 40 * time.Second, grace: grace, overlap: time.Minute, want: "sibling"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			family := fmt.Sprintf("grant-grace-%d", i)
			old, succ := graceChain(t, s, family, rotated)
			if tt.before != nil {
				tt.before(t, old, succ)
			}
			now := rotated.Add(tt.at)
			next := newRefreshToken(old.ID+"-retry", family, old.UserID)
			at := newAccessToken("at-"+family+"-retry", family, old.UserID)
			r, err := s.RotateRefresh(ctx, store.Rotation{OldID: old.ID, Next: next, NextSealed: sealedOf(next.ID),
				Now: now, Grace: tt.grace, Overlap: tt.overlap, Access: &at})
			_, nextErr := s.GetRefreshToken(ctx, next.ID)
			_, atErr := s.GetAccessToken(ctx, at.ID, t0)
			switch tt.want {
			case "same":
				must(t, err, "retry within the grace period")
				if r.Successor == nil || r.Successor.ID != succ.ID || !bytes.Equal(r.SuccessorSealed, sealedOf(succ.ID)) {
					t.Fatalf("retry: successor %+v sealed %q, want %s with its sealed value", r.Successor, r.SuccessorSealed, succ.ID)
				}
				want := succ
				want.ExpiresAt, want.FamilyExpiresAt = succ.ExpiresAt.UTC(), succ.FamilyExpiresAt.UTC()
				wantEqual(t, *r.Successor, want, "the successor returned to a retry")
				if r.Old.UsedAt == nil {
					t.Errorf("retry: Old.UsedAt is nil, want the rotation's time")
				}
				wantErr(t, nextErr, store.ErrNotFound, "get the next token of a retry")
				must(t, atErr, "get the access token stored by a retry")
				wantRefreshRevoked(t, s, succ.ID, false)
			case "sibling":
				must(t, err, "use within the overlap")
				if r.Successor != nil {
					t.Fatalf("overlap use returned the successor %s, want a sibling", r.Successor.ID)
				}
				must(t, nextErr, "get the sibling stored by an overlap use")
				must(t, atErr, "get the access token of an overlap use")
			default:
				wantErr(t, err, tt.wantErr, "retry")
				wantErr(t, nextErr, store.ErrNotFound, "get the next token of a refused retry")
				wantErr(t, atErr, store.ErrNotFound, "get the access token of a refused retry")
				wantRefreshRevoked(t, s, succ.ID, true)
			}
		})
	}

	t.Run("no sealed value, no retry", func(t *testing.T) {
		ctx := t.Context()
		old := newRefreshToken("rt-unsealed", "grant-unsealed", "gatehouse|ada")
		must(t, s.CreateRefreshToken(ctx, old), "create refresh token")
		succ := newRefreshToken("rt-unsealed-succ", old.FamilyID, old.UserID)
		_, err := s.RotateRefresh(ctx, store.Rotation{OldID: old.ID, Next: succ, Now: rotated, Grace: grace})
		must(t, err, "rotate refresh token")
		_, err = s.RotateRefresh(ctx, store.Rotation{OldID: old.ID, Next: newRefreshToken("rt-unsealed-2", old.FamilyID, old.UserID),
			Now: rotated.Add(time.Second), Grace: grace})
		wantErr(t, err, store.ErrReused, "retry of a rotation that kept no sealed value")
		wantRefreshRevoked(t, s, succ.ID, true)
	})

	t.Run("retries of a retried token", func(t *testing.T) {
		// Every retry within the period gets the same successor; none
		// stores a token.
		ctx := t.Context()
		old, succ := graceChain(t, s, "grant-retries", rotated)
		for i := range 3 {
			r, err := s.RotateRefresh(ctx, store.Rotation{OldID: old.ID, Next: newRefreshToken(fmt.Sprintf("rt-retries-%d", i), old.FamilyID, old.UserID),
				NextSealed: sealedOf("x"), Now: rotated.Add(time.Duration(i+1) * time.Second), Grace: grace})
			must(t, err, "retry")
			if r.Successor == nil || r.Successor.ID != succ.ID {
				t.Fatalf("retry %d: successor %+v, want %s", i, r.Successor, succ.ID)
			}
		}
		// The successor still rotates normally afterwards.
		n := newRefreshToken("rt-retries-after", old.FamilyID, old.UserID)
		r, err := s.RotateRefresh(ctx, store.Rotation{OldID: succ.ID, Next: n, Now: rotated.Add(5 * time.Second), Grace: grace})
		must(t, err, "rotate the successor after retries")
		if r.Successor != nil {
			t.Fatalf("rotation of the successor returned a retry's successor")
		}
		wantRefreshRevoked(t, s, n.ID, false)
	})
}
