package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// raceRounds is how many rounds each of the refresh races runs: a race
// that is lost one time in ten shows up in nearly every run.
const raceRounds = 30

// raceRefresh runs the races of codes and refresh tokens over many rounds:
// many presenters of one code or refresh token at once, and a rotation
// against a revocation of its family.
func raceRefresh(t *testing.T, s store.Store) {
	t.Run("RedeemCodeRounds", func(t *testing.T) { raceRedeemCodeRounds(t, s) })
	t.Run("RotateRefreshGrace", func(t *testing.T) { raceRotateRefreshGrace(t, s, 30*time.Second) })
	t.Run("RotateRefreshStrict", func(t *testing.T) { raceRotateRefreshGrace(t, s, 0) })
	t.Run("RotateAgainstReuse", func(t *testing.T) { raceRotateAgainstRevoke(t, s, true) })
	t.Run("RotateAgainstRevokeGrant", func(t *testing.T) { raceRotateAgainstRevoke(t, s, false) })
}

// raceRedeemCodeRounds redeems one code 50 times at once, round after
// round: exactly one redemption wins each round.
func raceRedeemCodeRounds(t *testing.T, s store.Store) {
	const n = 50
	for round := range raceRounds {
		code := newCode(fmt.Sprintf("code-r%d", round), fmt.Sprintf("grant-code-r%d", round), "gatehouse|ada")
		issueCode(t, s, code)
		errs := race(n, func(i int) error {
			_, err := s.RedeemCode(t.Context(), code.ID, t0.Add(time.Second), store.Issued{})
			return err
		})
		if c := tally(errs, store.ErrAlreadyUsed); c["ok"] != 1 || c[store.ErrAlreadyUsed.Error()] != n-1 {
			t.Fatalf("round %d: %d concurrent redemptions: %v (first unexpected error: %v); want 1 ok, %d already used",
				round, n, c, firstOther(errs, store.ErrAlreadyUsed), n-1)
		}
	}
}

// raceRotateRefreshGrace rotates one refresh token 50 times at once, round
// after round. With a grace period every presenter gets the one successor
// (one rotation, the rest retries); without one exactly one rotation wins
// and the first loser's reuse revokes the family.
func raceRotateRefreshGrace(t *testing.T, s store.Store, grace time.Duration) {
	const n = 50
	for round := range raceRounds {
		family := fmt.Sprintf("grant-g%v-r%d", grace, round)
		old := newRefreshToken("rt-"+family, family, "gatehouse|ada")
		must(t, s.CreateRefreshToken(t.Context(), old), "create refresh token")
		next := func(i int) store.RefreshToken {
			return newRefreshToken(fmt.Sprintf("%s-next-%02d", old.ID, i), family, old.UserID)
		}
		got := make([]store.Rotated, n)
		errs := race(n, func(i int) error {
			var err error
			got[i], err = s.RotateRefresh(t.Context(), store.Rotation{OldID: old.ID, Next: next(i), NextSealed: sealedOf(next(i).ID),
				Now: t0.Add(time.Second), Grace: grace})
			return err
		})
		allowed := []error{store.ErrReused, store.ErrRevoked}
		c := tally(errs, allowed...)
		winner := -1
		for i, err := range errs {
			if err == nil && got[i].Successor == nil {
				if winner >= 0 {
					t.Fatalf("round %d: rotations %d and %d both stored a successor", round, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no rotation won: %v (first unexpected error: %v)", round, c, firstOther(errs, allowed...))
		}
		if grace == 0 {
			if c["ok"] != 1 || c[store.ErrReused.Error()] == 0 || c["other"] != 0 {
				t.Fatalf("round %d: %d concurrent rotations without a grace period: %v (first unexpected error: %v); want 1 ok, the rest reused or revoked",
					round, n, c, firstOther(errs, allowed...))
			}
			wantRefreshRevoked(t, s, next(winner).ID, true)
			continue
		}
		if c["ok"] != n {
			t.Fatalf("round %d: %d concurrent rotations with a grace period: %v (first unexpected error: %v); want all ok",
				round, n, c, firstOther(errs, allowed...))
		}
		for i, r := range got {
			if i != winner && (r.Successor == nil || r.Successor.ID != next(winner).ID || string(r.SuccessorSealed) != string(sealedOf(next(winner).ID))) {
				t.Fatalf("round %d: retry %d got successor %+v, want the winner's %s", round, i, r.Successor, next(winner).ID)
			}
			if i != winner {
				_, err := s.GetRefreshToken(t.Context(), next(i).ID)
				wantErr(t, err, store.ErrNotFound, "get the next token of a retry")
			}
		}
		wantRefreshRevoked(t, s, next(winner).ID, false)
	}
}

// raceRotateAgainstRevoke races the rotation of a family's live token with
// a revocation of the family (a replay of its used token, or RevokeGrant),
// round after round. Whichever runs first, no token of the family may be
// left alive: a rotation that commits before the revocation has its new
// token revoked with the rest, one that comes after finds the family
// revoked.
func raceRotateAgainstRevoke(t *testing.T, s store.Store, byReuse bool) {
	const rounds = 150
	rotated := 0
	for round := range rounds {
		family := fmt.Sprintf("grant-rr%v-r%d", byReuse, round)
		used := newRefreshToken("rt-"+family+"-used", family, "gatehouse|ada")
		must(t, s.CreateRefreshToken(t.Context(), used), "create refresh token")
		live := newRefreshToken("rt-"+family+"-live", family, "gatehouse|ada")
		_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: used.ID, Next: live, Now: t0})
		must(t, err, "rotate the first token")
		next := newRefreshToken("rt-"+family+"-next", family, "gatehouse|ada")
		now := t0.Add(time.Minute)
		// Which goroutine rotates alternates, so that neither side is
		// always the first one scheduled.
		rotator := round % 2
		errs := race(2, func(i int) error {
			if i == rotator {
				_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: live.ID, Next: next, Now: now})
				return err
			}
			if byReuse {
				_, err := s.RotateRefresh(t.Context(), store.Rotation{OldID: used.ID,
					Next: newRefreshToken("rt-"+family+"-replay", family, "gatehouse|ada"), Now: now})
				if err == nil {
					return fmt.Errorf("a replay of a used token was accepted")
				}
				if !isAny(err, store.ErrReused) {
					return err
				}
				return nil
			}
			return s.RevokeGrant(t.Context(), family)
		})
		rotErr, revErr := errs[rotator], errs[1-rotator]
		if revErr != nil {
			t.Fatalf("round %d: revoke: %v", round, revErr)
		}
		if rotErr == nil {
			rotated++
		} else if !isAny(rotErr, store.ErrRevoked) {
			t.Fatalf("round %d: rotation racing a revocation: %v, want success or ErrRevoked", round, rotErr)
		}
		for _, id := range []string{used.ID, live.ID, next.ID} {
			got, err := s.GetRefreshToken(t.Context(), id)
			if id == next.ID && rotErr != nil {
				wantErr(t, err, store.ErrNotFound, "get the next token of a refused rotation")
				continue
			}
			must(t, err, "get refresh token "+id)
			if !got.Revoked {
				t.Fatalf("round %d: token %s is alive in a revoked family (the rotation %s)", round, id,
					map[bool]string{true: "committed first", false: "was refused"}[rotErr == nil])
			}
		}
	}
	t.Logf("%d rounds: the rotation committed first in %d, the revocation in %d", rounds, rotated, rounds-rotated)
}

// isAny reports whether err is one of targets.
func isAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
