package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// userRevokeRounds is how many rounds each race of a user-wide revocation
// runs: the window in which a rotation can slip past a revocation is a few
// microseconds wide, so it takes many rounds to hit it reliably.
const userRevokeRounds = 100

// raceUserRevocations races refresh-token rotations with the revocations
// that end every family of a user at once: RevokeUserRefreshTokens (a
// password reset or change, the management API's DELETE
// /users/{id}/sessions), DeleteUser, and LinkUsers, which deletes the
// secondary user with everything issued to it.
func raceUserRevocations(t *testing.T, s store.Store) {
	t.Run("RevokeUserRefreshTokens", func(t *testing.T) {
		raceRotateAgainstUserRevocation(t, s, "ru", func(user string) error {
			_, err := s.RevokeUserRefreshTokens(t.Context(), user)
			return err
		})
	})
	t.Run("DeleteUser", func(t *testing.T) {
		raceRotateAgainstUserRevocation(t, s, "du", func(user string) error {
			return s.DeleteUser(t.Context(), user)
		})
	})
	t.Run("LinkUsers", func(t *testing.T) {
		raceRotateAgainstUserRevocation(t, s, "lu", func(user string) error {
			primary := user + "-primary"
			must(t, s.CreateUser(t.Context(), newUser(primary, "primary-"+user+"@example.com")), "create primary user")
			_, err := s.LinkUsers(t.Context(), primary, user)
			return err
		})
	})
}

// raceRotateAgainstUserRevocation gives a fresh user two refresh-token
// families each round, then races revoke(user) with a rotation in each: a
// plain rotation of the first family's live token (with an access token)
// and an overlap use of the second family's rotated token, which stores a
// sibling. Whichever commits first, no token of the user may be left alive
// afterwards (revoked or deleted both do), nor an access token a rotation
// stored.
func raceRotateAgainstUserRevocation(t *testing.T, s store.Store, tag string, revoke func(user string) error) {
	const overlap = time.Hour
	rotated := 0
	for round := range userRevokeRounds {
		user := fmt.Sprintf("gatehouse|race-%s-%d", tag, round)
		must(t, s.CreateUser(t.Context(), newUser(user, fmt.Sprintf("race-%s-%d@example.com", tag, round))), "create user")
		var ids []string // every refresh token of the user, by the end
		var families [2]struct{ used, live string }
		for f := range families {
			family := fmt.Sprintf("grant-%s-r%d-f%d", tag, round, f)
			used := newRefreshToken("rt-"+family+"-used", family, user)
			must(t, s.CreateRefreshToken(t.Context(), used), "create refresh token")
			live := newRefreshToken("rt-"+family+"-live", family, user)
			_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: used.ID, Next: live, Now: t0, Overlap: overlap})
			must(t, err, "rotate the first token")
			families[f].used, families[f].live = used.ID, live.ID
			ids = append(ids, used.ID, live.ID, "rt-"+family+"-next")
		}
		access := newAccessToken(fmt.Sprintf("at-%s-r%d", tag, round), fmt.Sprintf("grant-%s-r%d-f0", tag, round), user)
		now := t0.Add(time.Minute)
		// The revoker's place alternates, so that neither side is always
		// the first one scheduled.
		revoker := round % 3
		errs := race(3, func(i int) error {
			switch (i - revoker + 3) % 3 {
			case 0:
				return revoke(user)
			case 1:
				next := newRefreshToken(ids[2], fmt.Sprintf("grant-%s-r%d-f0", tag, round), user)
				_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: families[0].live, Next: next, Now: now,
					Overlap: overlap, Access: &access})
				return err
			default:
				// The second family's used token, presented again within
				// its overlap: a sibling of the live token.
				next := newRefreshToken(ids[5], fmt.Sprintf("grant-%s-r%d-f1", tag, round), user)
				_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: families[1].used, Next: next, Now: now,
					Overlap: overlap})
				return err
			}
		})
		var revErr error
		for i, err := range errs {
			if (i-revoker+3)%3 == 0 {
				revErr = err
				continue
			}
			switch {
			case err == nil:
				rotated++
			case !errors.Is(err, store.ErrRevoked) && !errors.Is(err, store.ErrNotFound):
				t.Fatalf("round %d: rotation racing a revocation of its user: %v, want success, ErrRevoked or ErrNotFound", round, err)
			}
		}
		if revErr != nil {
			t.Fatalf("round %d: revoke: %v", round, revErr)
		}
		for _, id := range ids {
			got, err := s.GetRefreshToken(t.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			must(t, err, "get refresh token "+id)
			if !got.Revoked {
				t.Fatalf("round %d: refresh token %s outlived the revocation of its user", round, id)
			}
		}
		if _, err := s.GetAccessToken(t.Context(), access.ID, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: the rotation's access token outlived the revocation of its user (get: %v)", round, err)
		}
	}
	t.Logf("%d rounds: %d of %d rotations committed before the revocation", userRevokeRounds, rotated, 2*userRevokeRounds)
}
