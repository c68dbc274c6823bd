package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

var (
	// qRotateRefresh is the happy path of RotateRefresh in one statement:
	// mark the live, unused, unrevoked token used, name its successor,
	// clear its own sealed value (once used, no retry can want it) and
	// store the next token of the same family with its sealed value.
	// Concurrent rotations queue on the row lock and, once the winner
	// commits, find used_at set and do nothing. If the INSERT fails the
	// UPDATE is undone with it.
	//
	// The family test is IS NOT DISTINCT FROM, which no index serves, so
	// that the plan always finds the row by its primary key: with "=" a
	// generic plan cached while the table was empty may pick the family
	// index, and then every rotation scans the whole family.
	qRotateRefresh = rotateRefresh + `
		SELECT ` + refreshTokenColumns + ` FROM old`
	// qRotateRefreshAccess is qRotateRefresh that also stores the
	// response's access token.
	qRotateRefreshAccess = rotateRefresh + `, access AS (
			INSERT INTO access_tokens (` + accessTokenColumns + `)
			SELECT ` + accessTokenValues(20) + ` FROM old
		)
		SELECT ` + refreshTokenColumns + ` FROM old`
	rotateRefresh = `WITH old AS (
			UPDATE refresh_tokens SET used_at = $2, successor_id = $3, sealed_value = NULL
			WHERE id = $1 AND used_at IS NULL AND NOT revoked AND expires_at > $2
				AND family_id IS NOT DISTINCT FROM $4
			RETURNING ` + refreshTokenColumns + `
		), next AS (
			INSERT INTO refresh_tokens (` + refreshTokenColumns + `, sealed_value)
			SELECT ` + refreshTokenValues(3) + `, $19::bytea FROM old
		)`
	qInsertRefreshSealed = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `, sealed_value)
		VALUES (` + refreshTokenValues(1) + `, $17::bytea)`
	qLockRefreshWithSuccessor = `SELECT ` + refreshTokenColumns + `, successor_id FROM refresh_tokens
		WHERE id = $1 FOR UPDATE`
	qGetRefreshSealed = `SELECT ` + refreshTokenColumns + `, sealed_value FROM refresh_tokens WHERE id = $1`
)

// RotateRefreshToken is RotateRefresh without a grace period and without
// keeping next's sealed value.
func (db *DB) RotateRefreshToken(ctx context.Context, oldID string, next store.RefreshToken, now time.Time, overlap time.Duration, access *store.AccessToken) (store.RefreshToken, error) {
	r, err := db.RotateRefresh(ctx, store.Rotation{OldID: oldID, Next: next, Now: now, Overlap: overlap, Access: access})
	return r.Old, err
}

// RotateRefresh rotates r.OldID (see store.RefreshRotator).
//
// Every path takes the family's advisory lock first, as revokeGrant does,
// and holds it to the commit. That is what keeps a revocation from missing
// the token a concurrent rotation stores: under READ COMMITTED the
// revocation's UPDATE sees only the rows committed when it starts, so
// without the lock a rotation committing just after that moment would
// leave its new token alive in a revoked family. With the lock, the
// revocation's statement starts after the rotation's commit, or the
// rotation's statement after the revocation's and finds the old token
// revoked.
//
// The happy path is one round trip: the lock and the rotation go out as
// one batch, which PostgreSQL runs as one implicit transaction, each
// statement with a snapshot taken after the one before finished (so after
// the lock was granted). When it misses, a transaction locks the token and
// tells the cases apart; concurrent presenters of one token queue on the
// family lock, so exactly one of them gets the overlap.
func (db *DB) RotateRefresh(ctx context.Context, r store.Rotation) (store.Rotated, error) {
	q, args := qRotateRefresh, append(append([]any{r.OldID, r.Now}, refreshTokenArgs(r.Next)...), r.NextSealed)
	if r.Access != nil {
		q, args = qRotateRefreshAccess, append(args, accessTokenArgs(*r.Access)...)
	}
	var old store.RefreshToken
	err := retry(ctx, func() error {
		var err error
		old, err = db.rotateBatch(ctx, r.OldID, q, args)
		return err
	})
	if err == nil {
		old.UsedAt = nil // as it was before this rotation
		return store.Rotated{Old: old}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Rotated{}, fail("rotate refresh token", err)
	}

	var out store.Rotated
	var reused bool
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		out, reused = store.Rotated{}, false
		// The family lock first, then the token: two replays of different
		// tokens of one family would otherwise each hold its token and wait
		// for the other's while revoking the family, a deadlock.
		if _, err := tx.Exec(ctx, qLockFamilyOfToken, familyLockSpace, r.OldID); err != nil {
			return err
		}
		var successor *string
		old, err := scanRefreshTokenWith(tx.QueryRow(ctx, qLockRefreshWithSuccessor, r.OldID), &successor)
		switch {
		case err != nil:
			return err
		case !old.ExpiresAt.After(r.Now):
			return store.ErrNotFound
		case old.Revoked:
			return store.ErrRevoked
		}
		out.Old = old
		if old.UsedAt == nil {
			// Stored or un-revoked since the batch above looked; rotate
			// here.
			if err := sameFamily(old, r.Next); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2, successor_id = $3, sealed_value = NULL
				WHERE id = $1`, r.OldID, r.Now, r.Next.ID); err != nil {
				return err
			}
			return insertRotated(ctx, tx, r.Next, r.NextSealed, r.Access)
		}
		if inGrace(old, r.Now, r.Grace) && successor != nil {
			var sealed []byte
			s, err := scanRefreshTokenWith(tx.QueryRow(ctx, qGetRefreshSealed, *successor), &sealed)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if err == nil && s.UsedAt == nil && !s.Revoked && s.ExpiresAt.After(r.Now) && len(sealed) > 0 {
				out.Successor, out.SuccessorSealed = &s, sealed
				return insertRotated(ctx, tx, store.RefreshToken{}, nil, r.Access)
			}
		}
		if !inOverlap(old, r.Now, r.Overlap) {
			reused = true
			return revokeGrant(ctx, tx, old.FamilyID)
		}
		if err := sameFamily(old, r.Next); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET overlap_used = true WHERE id = $1`, r.OldID); err != nil {
			return err
		}
		// A sibling's value is never asked for again: retries of old get
		// the successor of its first rotation.
		return insertRotated(ctx, tx, r.Next, nil, r.Access)
	})
	if err != nil {
		return store.Rotated{}, fail("rotate refresh token", err)
	}
	if reused {
		return out, fmt.Errorf("rotate refresh token: %w", store.ErrReused)
	}
	return out, nil
}

// rotateBatch sends the family lock and the rotation statement q in one
// round trip and returns the rotated token; pgx.ErrNoRows when q changed
// nothing.
func (db *DB) rotateBatch(ctx context.Context, oldID, q string, args []any) (store.RefreshToken, error) {
	b := &pgx.Batch{}
	b.Queue(qLockFamilyOfToken, familyLockSpace, oldID)
	b.Queue(q, args...)
	br := db.pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		return store.RefreshToken{}, errors.Join(err, br.Close())
	}
	rows, err := br.Query()
	if err != nil {
		return store.RefreshToken{}, errors.Join(err, br.Close())
	}
	old, err := pgx.CollectExactlyOneRow(rows, scanRefreshToken)
	if cerr := br.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return old, err
}

// insertRotated stores the next refresh token (unless its ID is empty)
// with its sealed value, and the access token (when not nil).
func insertRotated(ctx context.Context, tx pgx.Tx, next store.RefreshToken, sealed []byte, access *store.AccessToken) error {
	if access != nil {
		if _, err := tx.Exec(ctx, qInsertAccessToken, accessTokenArgs(*access)...); err != nil {
			return err
		}
	}
	if next.ID == "" {
		return nil
	}
	_, err := tx.Exec(ctx, qInsertRefreshSealed, append(refreshTokenArgs(next), sealed)...)
	return err
}

// inGrace reports whether the used token r was rotated less than grace
// before now. A reading of now earlier than the rotation (a replica whose
// clock lags) is within it.
func inGrace(r store.RefreshToken, now time.Time, grace time.Duration) bool {
	return grace > 0 && r.UsedAt != nil && now.Before(r.UsedAt.Add(grace))
}
