package sqlite

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

const accessTokenColumns = `id, grant_id, client_id, user_id, scopes, audience, created_at, expires_at`

const refreshTokenColumns = `id, family_id, client_id, user_id, session_id, scopes, audience,
	organization, auth_time, created_at, expires_at, family_expires_at, used_at, overlap_used,
	revoked, amr`

const (
	qInsertAccessToken = `INSERT INTO access_tokens (` + accessTokenColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qGetAccessToken = `SELECT ` + accessTokenColumns + ` FROM access_tokens
		WHERE id = ? AND expires_at > ?`
	qGetAccessTokenUser = `SELECT a.id, a.grant_id, a.client_id, a.user_id, a.scopes, a.audience,
			a.created_at, a.expires_at, ` + userColumns + `
		FROM access_tokens a JOIN users u ON u.id = a.user_id LEFT JOIN identities i ON i.user_id = u.id
		WHERE a.id = ? AND a.expires_at > ? ORDER BY i.position`
	// Revoking an access token deletes it: nothing needs to recognise a
	// revoked access token later.
	qRevokeAccessToken = `DELETE FROM access_tokens WHERE id = ?`
	qExtendRefresh     = `UPDATE refresh_tokens SET expires_at = ?
		WHERE id = ? AND used_at IS NULL AND revoked = 0 AND expires_at > ?`
	qRevokeGrantAccess = `DELETE FROM access_tokens WHERE grant_id = ?`

	qInsertRefreshToken = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetRefreshToken = `SELECT ` + refreshTokenColumns + ` FROM refresh_tokens WHERE id = ?`
	// qMarkOverlapUsed spends the one use a rotated token has left within
	// the overlap period.
	qMarkOverlapUsed    = `UPDATE refresh_tokens SET overlap_used = 1 WHERE id = ?`
	qRevokeGrantRefresh = `UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ? AND revoked = 0`
)

// accessTokenDest returns the scan destinations of accessTokenColumns.
func accessTokenDest(a *store.AccessToken) []any {
	return []any{&a.ID, &a.GrantID, &a.ClientID, &a.UserID, jsonCol{&a.Scopes}, &a.Audience,
		timeCol{&a.CreatedAt}, timeCol{&a.ExpiresAt}}
}

func scanAccessToken(sc scanner) (store.AccessToken, error) {
	var a store.AccessToken
	err := sc.Scan(accessTokenDest(&a)...)
	return a, err
}

func scanRefreshToken(sc scanner) (store.RefreshToken, error) {
	return scanRefreshTokenWith(sc)
}

func refreshTokenArgs(r store.RefreshToken) []any {
	return []any{r.ID, r.FamilyID, r.ClientID, r.UserID, r.SessionID, listJSON(r.Scopes),
		r.Audience, r.Organization, millis(r.AuthTime), millis(r.CreatedAt), millis(r.ExpiresAt),
		nullMillis(r.FamilyExpiresAt), nullMillisPtr(r.UsedAt), r.OverlapUsed, r.Revoked, listJSON(r.AMR)}
}

func accessTokenArgs(a store.AccessToken) []any {
	return []any{a.ID, a.GrantID, a.ClientID, a.UserID, listJSON(a.Scopes), a.Audience,
		millis(a.CreatedAt), millis(a.ExpiresAt)}
}

// CreateAccessToken stores a; ErrConflict when its ID is taken.
func (db *DB) CreateAccessToken(ctx context.Context, a store.AccessToken) error {
	_, err := db.exec(ctx, qInsertAccessToken, accessTokenArgs(a)...)
	return fail("create access token", err)
}

// insertIssued stores the tokens of one response inside the transaction
// that spends its code or refresh token.
func insertIssued(ctx context.Context, t tx, issued store.Issued) error {
	if issued.Access != nil {
		if _, err := t.exec(ctx, qInsertAccessToken, accessTokenArgs(*issued.Access)...); err != nil {
			return err
		}
	}
	if issued.Refresh != nil {
		if _, err := t.exec(ctx, qInsertRefreshToken, refreshTokenArgs(*issued.Refresh)...); err != nil {
			return err
		}
	}
	return nil
}

// GetAccessToken returns a live token; ErrNotFound for unknown, revoked or
// expired ones.
func (db *DB) GetAccessToken(ctx context.Context, id string, now time.Time) (store.AccessToken, error) {
	a, err := scanAccessToken(db.queryRow(ctx, qGetAccessToken, id, millis(now)))
	if err != nil {
		return store.AccessToken{}, fail("get access token", err)
	}
	return a, nil
}

// GetAccessTokenUser returns a live token and its user in one statement;
// ErrNotFound for unknown, revoked or expired tokens and for tokens whose
// user is gone.
func (db *DB) GetAccessTokenUser(ctx context.Context, id string, now time.Time) (store.AccessToken, store.User, error) {
	rows, err := db.query(ctx, qGetAccessTokenUser, id, millis(now))
	if err != nil {
		return store.AccessToken{}, store.User{}, fail("get access token and user", err)
	}
	var a store.AccessToken
	users, err := scanUsers(rows, accessTokenDest(&a)...)
	if err != nil {
		return store.AccessToken{}, store.User{}, fail("get access token and user", err)
	}
	if len(users) == 0 {
		return store.AccessToken{}, store.User{}, fmt.Errorf("get access token and user: %w", store.ErrNotFound)
	}
	return a, users[0], nil
}

// RevokeAccessToken revokes the token, if it is there (RFC 7009 §2.2: an
// unknown token is no error).
func (db *DB) RevokeAccessToken(ctx context.Context, id string) error {
	_, err := db.exec(ctx, qRevokeAccessToken, id)
	return fail("revoke access token", err)
}

// ExtendRefreshToken moves the expiry of a live refresh token.
func (db *DB) ExtendRefreshToken(ctx context.Context, id string, expiresAt, now time.Time) error {
	res, err := db.exec(ctx, qExtendRefresh, millis(expiresAt), id, millis(now))
	if err != nil {
		return fail("extend refresh token", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("extend refresh token: %w", store.ErrNotFound)
	}
	return nil
}

// CreateRefreshToken stores r; ErrConflict when its ID is taken.
func (db *DB) CreateRefreshToken(ctx context.Context, r store.RefreshToken) error {
	_, err := db.exec(ctx, qInsertRefreshToken, refreshTokenArgs(r)...)
	return fail("create refresh token", err)
}

// GetRefreshToken returns the token as stored, used, revoked or expired;
// ErrNotFound.
func (db *DB) GetRefreshToken(ctx context.Context, id string) (store.RefreshToken, error) {
	r, err := scanRefreshToken(db.queryRow(ctx, qGetRefreshToken, id))
	if err != nil {
		return store.RefreshToken{}, fail("get refresh token", err)
	}
	return r, nil
}

// inOverlap reports whether the rotated token r may be used once more at
// now: less than overlap after its rotation, and not used so before.
func inOverlap(r store.RefreshToken, now time.Time, overlap time.Duration) bool {
	// overlap > 0 first: with no overlap, a request whose clock read came
	// before the rotation it lost to must still count as a reuse.
	return overlap > 0 && r.UsedAt != nil && !r.OverlapUsed &&
		now.UnixMilli() < r.UsedAt.UnixMilli()+overlap.Milliseconds()
}

// sameFamily refuses a next token of another family than old's: it would
// escape the revocation of old's family on reuse.
func sameFamily(old, next store.RefreshToken) error {
	if next.FamilyID != old.FamilyID {
		return fmt.Errorf("next token is of family %q, not of the old token's %q", next.FamilyID, old.FamilyID)
	}
	return nil
}

// RevokeGrant revokes every refresh and access token of the grant (the
// family of its refresh tokens).
func (db *DB) RevokeGrant(ctx context.Context, grantID string) error {
	err := db.inTx(ctx, func(t tx) error {
		return revokeGrant(ctx, t, grantID)
	})
	return fail("revoke grant", err)
}

func revokeGrant(ctx context.Context, t tx, grantID string) error {
	if _, err := t.exec(ctx, qRevokeGrantRefresh, grantID); err != nil {
		return err
	}
	_, err := t.exec(ctx, qRevokeGrantAccess, grantID)
	return err
}
