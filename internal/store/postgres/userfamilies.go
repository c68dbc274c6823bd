package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// The revocations that end every family of a user at once (a password
// reset, a deleted or linked-away user) take the family locks too, so that
// they serialise with rotations as revokeGrant does: under READ COMMITTED a
// statement that revokes or deletes the user's tokens sees only the rows
// committed when it starts, and a rotation committing while it runs would
// leave its new token behind. With the family locked before the statement
// starts, the rotation either committed before (and its token is seen) or
// runs after the commit and finds its token revoked or gone.
//
// A family can appear between the locking and the statement (a login
// storing its first token, then rotating it at once), so the statement
// returns the families it touched, and a family that was not locked is
// locked and the statement run again, until every family it touches was
// locked before it ran.

const (
	// qLockUserFamilies takes the family lock of every family of the user
	// that has a token not yet revoked, in the order of the lock keys so
	// that two of them never wait for each other (rotations and
	// revokeGrant hold one family lock at a time), and returns the
	// families. A volatile filter is not pushed below the sort, so the
	// locks are taken in the sorted order.
	qLockUserFamilies = `SELECT family_id FROM (
			SELECT DISTINCT family_id, hashtext(family_id) AS k FROM refresh_tokens
			WHERE user_id = $2 AND NOT revoked
			ORDER BY k, family_id
		) f WHERE pg_advisory_xact_lock($1, f.k) IS NOT NULL`
	// qDeleteUserRefresh deletes the user's refresh tokens and returns the
	// families of those that were not revoked.
	qDeleteUserRefresh = `WITH gone AS (
			DELETE FROM refresh_tokens WHERE user_id = $1 RETURNING family_id, revoked
		)
		SELECT DISTINCT family_id FROM gone WHERE NOT revoked`
)

// lockUserFamilies takes the family locks of the user's live families in tx
// and adds them to locked.
func lockUserFamilies(ctx context.Context, tx pgx.Tx, userID string, locked map[string]bool) error {
	families, err := queryAll(ctx, tx, pgx.RowTo[string], qLockUserFamilies, familyLockSpace, userID)
	for _, f := range families {
		locked[f] = true
	}
	return err
}

// deleteUserTokens deletes the user's access and refresh tokens in tx under
// the family locks (see above).
func deleteUserTokens(ctx context.Context, tx pgx.Tx, userID string) error {
	locked := map[string]bool{}
	for {
		if err := lockUserFamilies(ctx, tx, userID, locked); err != nil {
			return err
		}
		// Access tokens first: a rotation stores its access token with its
		// refresh token, so one the refresh statement below catches late
		// has its access token deleted on the next run.
		if _, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE user_id = $1`, userID); err != nil {
			return err
		}
		families, err := queryAll(ctx, tx, pgx.RowTo[string], qDeleteUserRefresh, userID)
		if err != nil {
			return err
		}
		if allLocked(families, locked) {
			return nil
		}
	}
}

// allLocked reports whether every one of families is in locked.
func allLocked(families []string, locked map[string]bool) bool {
	for _, f := range families {
		if !locked[f] {
			return false
		}
	}
	return true
}
