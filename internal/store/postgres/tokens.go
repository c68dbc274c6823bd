package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const accessTokenColumns = `id, grant_id, client_id, user_id, scopes, audience, created_at, expires_at`

const refreshTokenColumns = `id, family_id, client_id, user_id, session_id, scopes, audience,
	organization, auth_time, created_at, expires_at, family_expires_at, used_at, overlap_used, revoked, amr`

// refreshTokenValues are the placeholders of a refresh token's columns from
// $first on, typed because they also appear in a SELECT list, where
// PostgreSQL cannot infer a type from the target column.
func refreshTokenValues(first int) string {
	types := []string{"text", "text", "text", "text", "text", "jsonb", "text", "text",
		"timestamptz", "timestamptz", "timestamptz", "timestamptz", "timestamptz", "boolean", "boolean", "jsonb"}
	s := ""
	for i, t := range types {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("$%d::%s", first+i, t)
	}
	return s
}

// accessTokenValues are the typed placeholders of an access token's
// columns from $first on (see refreshTokenValues).
func accessTokenValues(first int) string {
	s := ""
	for i, t := range []string{"text", "text", "text", "text", "jsonb", "text", "timestamptz", "timestamptz"} {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("$%d::%s", first+i, t)
	}
	return s
}

// accessTokenArgCount is the number of accessTokenColumns.
const accessTokenArgCount = 8

func accessTokenArgs(a store.AccessToken) []any {
	return []any{a.ID, a.GrantID, a.ClientID, a.UserID, list(a.Scopes), a.Audience, a.CreatedAt, a.ExpiresAt}
}

// insertIssued stores the tokens of one response inside the transaction
// that spends its code or refresh token.
func insertIssued(ctx context.Context, tx pgx.Tx, issued store.Issued) error {
	if issued.Access != nil {
		if _, err := tx.Exec(ctx, qInsertAccessToken, accessTokenArgs(*issued.Access)...); err != nil {
			return err
		}
	}
	if issued.Refresh != nil {
		if _, err := tx.Exec(ctx, qInsertRefreshToken, refreshTokenArgs(*issued.Refresh)...); err != nil {
			return err
		}
	}
	return nil
}

var (
	qInsertAccessToken = `INSERT INTO access_tokens (` + accessTokenColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	qGetAccessToken = `SELECT ` + accessTokenColumns + ` FROM access_tokens
		WHERE id = $1 AND expires_at > $2`
	qGetAccessTokenUser = `SELECT a.id, a.grant_id, a.client_id, a.user_id, a.scopes, a.audience,
			a.created_at, a.expires_at, ` + userColumns + `
		FROM access_tokens a JOIN users u ON u.id = a.user_id
		WHERE a.id = $1 AND a.expires_at > $2`

	qInsertRefreshToken = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
		VALUES (` + refreshTokenValues(1) + `)`
	qGetRefreshToken = `SELECT ` + refreshTokenColumns + ` FROM refresh_tokens WHERE id = $1`
)

func accessTokenDest(a *store.AccessToken) []any {
	return []any{&a.ID, &a.GrantID, &a.ClientID, &a.UserID, &a.Scopes, &a.Audience, &a.CreatedAt, &a.ExpiresAt}
}

func scanAccessToken(row pgx.CollectableRow) (store.AccessToken, error) {
	var a store.AccessToken
	err := row.Scan(accessTokenDest(&a)...)
	a.CreatedAt, a.ExpiresAt = utc(a.CreatedAt), utc(a.ExpiresAt)
	return a, err
}

// GetAccessTokenUser returns a live token and its user in one statement;
// ErrNotFound for unknown, revoked or expired tokens and for tokens whose
// user is gone.
func (db *DB) GetAccessTokenUser(ctx context.Context, id string, now time.Time) (store.AccessToken, store.User, error) {
	var a store.AccessToken
	var u userRow
	if err := db.pool.QueryRow(ctx, qGetAccessTokenUser, id, now).Scan(append(accessTokenDest(&a), u.dest()...)...); err != nil {
		return store.AccessToken{}, store.User{}, fail("get access token and user", err)
	}
	a.CreatedAt, a.ExpiresAt = utc(a.CreatedAt), utc(a.ExpiresAt)
	user, err := u.user()
	if err != nil {
		return store.AccessToken{}, store.User{}, fail("get access token and user", err)
	}
	return a, user, nil
}

func scanRefreshToken(row pgx.CollectableRow) (store.RefreshToken, error) {
	return scanRefreshTokenWith(row)
}

// scanRefreshTokenWith scans refreshTokenColumns and then extra.
func scanRefreshTokenWith(row pgx.Row, extra ...any) (store.RefreshToken, error) {
	var r store.RefreshToken
	var familyExpires *time.Time
	err := row.Scan(append([]any{&r.ID, &r.FamilyID, &r.ClientID, &r.UserID, &r.SessionID, &r.Scopes, &r.Audience,
		&r.Organization, &r.AuthTime, &r.CreatedAt, &r.ExpiresAt, &familyExpires, &r.UsedAt, &r.OverlapUsed, &r.Revoked, &r.AMR}, extra...)...)
	r.AuthTime, r.CreatedAt, r.ExpiresAt = utc(r.AuthTime), utc(r.CreatedAt), utc(r.ExpiresAt)
	r.FamilyExpiresAt = timeOrZero(familyExpires)
	if r.UsedAt != nil {
		t := r.UsedAt.UTC()
		r.UsedAt = &t
	}
	return r, err
}

func refreshTokenArgs(r store.RefreshToken) []any {
	return []any{r.ID, r.FamilyID, r.ClientID, r.UserID, r.SessionID, list(r.Scopes), r.Audience,
		r.Organization, r.AuthTime, r.CreatedAt, r.ExpiresAt, nullTime(r.FamilyExpiresAt), r.UsedAt, r.OverlapUsed, r.Revoked, list(r.AMR)}
}

// CreateAccessToken stores a; ErrConflict when its ID is taken.
func (db *DB) CreateAccessToken(ctx context.Context, a store.AccessToken) error {
	_, err := db.exec(ctx, qInsertAccessToken, accessTokenArgs(a)...)
	return fail("create access token", err)
}

// GetAccessToken returns a live token; ErrNotFound for unknown, revoked or
// expired ones.
func (db *DB) GetAccessToken(ctx context.Context, id string, now time.Time) (store.AccessToken, error) {
	a, err := queryOne(ctx, db.pool, scanAccessToken, qGetAccessToken, id, now)
	if err != nil {
		return store.AccessToken{}, fail("get access token", err)
	}
	return a, nil
}

// RevokeAccessToken revokes the token, if it is there (RFC 7009 §2.2: an
// unknown token is no error). Revoking deletes the row: nothing needs to
// recognise a revoked access token later.
func (db *DB) RevokeAccessToken(ctx context.Context, id string) error {
	_, err := db.exec(ctx, `DELETE FROM access_tokens WHERE id = $1`, id)
	return fail("revoke access token", err)
}

// ExtendRefreshToken sets the expiry of a live refresh token (not rotated,
// not revoked, not expired at now), the idle lifetime of a token that does
// not rotate; ErrNotFound otherwise. Capping it by the family's end is the
// caller's.
func (db *DB) ExtendRefreshToken(ctx context.Context, id string, expiresAt, now time.Time) error {
	return fail("extend refresh token", changed(db.exec(ctx, `UPDATE refresh_tokens SET expires_at = $2
		WHERE id = $1 AND used_at IS NULL AND NOT revoked AND expires_at > $3`, id, expiresAt, now)))
}

// CreateRefreshToken stores r; ErrConflict when its ID is taken.
func (db *DB) CreateRefreshToken(ctx context.Context, r store.RefreshToken) error {
	_, err := db.exec(ctx, qInsertRefreshToken, refreshTokenArgs(r)...)
	return fail("create refresh token", err)
}

// GetRefreshToken returns the token as stored, used, revoked or expired;
// ErrNotFound.
func (db *DB) GetRefreshToken(ctx context.Context, id string) (store.RefreshToken, error) {
	r, err := queryOne(ctx, db.pool, scanRefreshToken, qGetRefreshToken, id)
	if err != nil {
		return store.RefreshToken{}, fail("get refresh token", err)
	}
	return r, nil
}

// inOverlap reports whether the rotated token r may be used once more at
// now: an overlap is allowed, r has not had its extra use, and now is
// before UsedAt+overlap. With no overlap there is none, even for a replica
// whose clock reads earlier than the rotation's.
func inOverlap(r store.RefreshToken, now time.Time, overlap time.Duration) bool {
	return overlap > 0 && r.UsedAt != nil && !r.OverlapUsed && now.Before(r.UsedAt.Add(overlap))
}

// sameFamily refuses a next token that would start another family: the
// family is the unit of revocation, so a token outside it would survive a
// reuse of its predecessor.
func sameFamily(old, next store.RefreshToken) error {
	if next.FamilyID != old.FamilyID {
		return fmt.Errorf("next token's family %q is not the old token's %q", next.FamilyID, old.FamilyID)
	}
	return nil
}

// RevokeGrant revokes every refresh and access token of the grant (the
// family of its refresh tokens).
func (db *DB) RevokeGrant(ctx context.Context, grantID string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		return revokeGrant(ctx, tx, grantID)
	})
	return fail("revoke grant", err)
}

// familyLockSpace is the first key of the transaction-level advisory locks
// that serialise the revocations of one family (grant): the second key is a
// hash of the family ID. Two-key advisory locks never collide with the
// one-key migration lock; two families whose IDs hash alike only take turns.
const familyLockSpace int32 = 0x67617465 // "gate"

const (
	qLockFamily = `SELECT pg_advisory_xact_lock($1, hashtext($2))`
	// qLockFamilyOfToken takes the family lock of a refresh token; none
	// for an unknown token. A token's family never changes, so reading it
	// unlocked is safe.
	qLockFamilyOfToken = `SELECT pg_advisory_xact_lock($1, hashtext(family_id)) FROM refresh_tokens WHERE id = $2`

	// qRevokeGrant revokes a family's refresh tokens and deletes its
	// access tokens in one statement.
	qRevokeGrant = `WITH refresh AS (
			UPDATE refresh_tokens SET revoked = true WHERE family_id = $1 AND NOT revoked
		)
		DELETE FROM access_tokens WHERE grant_id = $1`
)

// revokeGrant revokes the grant's tokens under its family lock, so that
// revocations of one family, from replayed codes and refresh tokens and
// from RevokeGrant, run one after the other instead of locking the
// family's rows in different orders. Rows of other transactions are only
// waited for by statements that wait for nothing else.
func revokeGrant(ctx context.Context, tx pgx.Tx, grantID string) error {
	if _, err := tx.Exec(ctx, qLockFamily, familyLockSpace, grantID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, qRevokeGrant, grantID)
	return err
}
