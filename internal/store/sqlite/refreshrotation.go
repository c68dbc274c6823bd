package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

const (
	// qRotateRefresh marks a live, unused, unrevoked token used and names
	// its successor: the happy path of RotateRefresh in one statement. The
	// token's own sealed value is cleared: once used, no retry can want it.
	qRotateRefresh = `UPDATE refresh_tokens SET used_at = ?, successor_id = ?, sealed_value = NULL
		WHERE id = ? AND used_at IS NULL AND revoked = 0 AND expires_at > ?
		RETURNING ` + refreshTokenColumns
	qInsertRefreshSealed = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `, sealed_value)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetRefreshWithSuccessor = `SELECT ` + refreshTokenColumns + `, successor_id FROM refresh_tokens WHERE id = ?`
	qGetRefreshSealed        = `SELECT ` + refreshTokenColumns + `, sealed_value FROM refresh_tokens WHERE id = ?`
)

// RotateRefreshToken is RotateRefresh without a grace period and without
// keeping next's sealed value.
func (db *DB) RotateRefreshToken(ctx context.Context, oldID string, next store.RefreshToken, now time.Time, overlap time.Duration, access *store.AccessToken) (store.RefreshToken, error) {
	r, err := db.RotateRefresh(ctx, store.Rotation{OldID: oldID, Next: next, Now: now, Overlap: overlap, Access: access})
	return r.Old, err
}

// RotateRefresh rotates r.OldID (see store.RefreshRotator). It runs in one
// write transaction, and SQLite has one writer at a time, so a rotation
// and a revocation of the same family never interleave.
func (db *DB) RotateRefresh(ctx context.Context, r store.Rotation) (store.Rotated, error) {
	var out store.Rotated
	var reused bool
	err := db.inTx(ctx, func(t tx) error {
		out, reused = store.Rotated{}, false
		// The common case, a live unused token, is one statement.
		old, err := scanRefreshToken(t.queryRow(ctx, qRotateRefresh, millis(r.Now), r.Next.ID, r.OldID, millis(r.Now)))
		if err == nil {
			old.UsedAt = nil // as it was before this rotation
			if err := sameFamily(old, r.Next); err != nil {
				return err // the rollback undoes the update
			}
			out.Old = old
			return insertRotated(ctx, t, r.Next, r.NextSealed, r.Access)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Unknown, expired, revoked or used: find out which.
		var successor sql.NullString
		old, err = scanRefreshTokenWith(t.queryRow(ctx, qGetRefreshWithSuccessor, r.OldID), &successor)
		switch {
		case err != nil:
			return err
		case old.ExpiresAt.UnixMilli() <= r.Now.UnixMilli():
			return store.ErrNotFound
		case old.Revoked:
			return store.ErrRevoked
		}
		out.Old = old
		if inGrace(old, r.Now, r.Grace) && successor.Valid {
			var sealed []byte
			s, err := scanRefreshTokenWith(t.queryRow(ctx, qGetRefreshSealed, successor.String), &sealed)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err == nil && liveUnused(s, r.Now) && len(sealed) > 0 {
				out.Successor, out.SuccessorSealed = &s, sealed
				return insertRotated(ctx, t, store.RefreshToken{}, nil, r.Access)
			}
		}
		if !inOverlap(old, r.Now, r.Overlap) {
			reused = true
			return revokeGrant(ctx, t, old.FamilyID)
		}
		if err := sameFamily(old, r.Next); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qMarkOverlapUsed, r.OldID); err != nil {
			return err
		}
		// A sibling's value is never asked for again: retries of old
		// get the successor of its first rotation.
		return insertRotated(ctx, t, r.Next, nil, r.Access)
	})
	if err != nil {
		return store.Rotated{}, fail("rotate refresh token", err)
	}
	if reused {
		return out, fmt.Errorf("rotate refresh token: %w", store.ErrReused)
	}
	return out, nil
}

// insertRotated stores the next refresh token (unless its ID is empty)
// with its sealed value, and the access token (when not nil).
func insertRotated(ctx context.Context, t tx, next store.RefreshToken, sealed []byte, access *store.AccessToken) error {
	if access != nil {
		if _, err := t.exec(ctx, qInsertAccessToken, accessTokenArgs(*access)...); err != nil {
			return err
		}
	}
	if next.ID == "" {
		return nil
	}
	_, err := t.exec(ctx, qInsertRefreshSealed, append(refreshTokenArgs(next), sealed)...)
	return err
}

// scanRefreshTokenWith scans refreshTokenColumns and then extra.
func scanRefreshTokenWith(sc scanner, extra ...any) (store.RefreshToken, error) {
	var r store.RefreshToken
	err := sc.Scan(append([]any{&r.ID, &r.FamilyID, &r.ClientID, &r.UserID, &r.SessionID, jsonCol{&r.Scopes},
		&r.Audience, &r.Organization, timeCol{&r.AuthTime}, timeCol{&r.CreatedAt}, timeCol{&r.ExpiresAt},
		timeCol{&r.FamilyExpiresAt}, timePtrCol{&r.UsedAt}, &r.OverlapUsed, &r.Revoked, jsonCol{&r.AMR}}, extra...)...)
	return r, err
}

// inGrace reports whether the used token r was rotated less than grace
// before now. A reading of now earlier than the rotation (a replica whose
// clock lags) is within it.
func inGrace(r store.RefreshToken, now time.Time, grace time.Duration) bool {
	return grace > 0 && r.UsedAt != nil && now.UnixMilli() < r.UsedAt.UnixMilli()+grace.Milliseconds()
}

// liveUnused reports whether a successor can still be handed out again:
// not rotated itself, not revoked, not expired.
func liveUnused(r store.RefreshToken, now time.Time) bool {
	return r.UsedAt == nil && !r.Revoked && r.ExpiresAt.UnixMilli() > now.UnixMilli()
}
