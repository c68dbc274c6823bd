package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const (
	qInsertSession = `INSERT INTO sessions (id, user_id, auth_time, methods, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	qGetSession = `SELECT id, user_id, auth_time, methods, created_at, expires_at FROM sessions
		WHERE id = $1 AND expires_at > $2`

	qGetGrant = `SELECT user_id, client_id, audience, scopes, created_at, updated_at FROM grants
		WHERE user_id = $1 AND client_id = $2 AND audience = $3`
	// qUpsertGrant inserts the consent or, when the user already consented
	// to the client for the audience, adds the new scopes to the stored
	// ones in their order, keeping CreatedAt. ON CONFLICT takes the row
	// lock, so concurrent upserts each add their scopes to the other's.
	qUpsertGrant = `INSERT INTO grants AS g (user_id, client_id, audience, scopes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, client_id, audience) DO UPDATE SET
			scopes = (
				SELECT coalesce(jsonb_agg(s.scope ORDER BY s.first), '[]')
				FROM (
					SELECT e.scope, min(e.ord) AS first
					FROM jsonb_array_elements_text(g.scopes || excluded.scopes) WITH ORDINALITY AS e (scope, ord)
					GROUP BY e.scope
				) s
			),
			updated_at = excluded.updated_at`
)

func scanSession(row pgx.CollectableRow) (store.Session, error) {
	var s store.Session
	err := row.Scan(&s.ID, &s.UserID, &s.AuthTime, &s.Methods, &s.CreatedAt, &s.ExpiresAt)
	s.AuthTime, s.CreatedAt, s.ExpiresAt = utc(s.AuthTime), utc(s.CreatedAt), utc(s.ExpiresAt)
	return s, err
}

// CreateSession stores s; ErrConflict when its ID is taken.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	_, err := db.exec(ctx, qInsertSession, s.ID, s.UserID, s.AuthTime, list(s.Methods), s.CreatedAt, s.ExpiresAt)
	return fail("create session", err)
}

// GetSession returns a live session; ErrNotFound for unknown or expired ones.
func (db *DB) GetSession(ctx context.Context, id string, now time.Time) (store.Session, error) {
	s, err := queryOne(ctx, db.pool, scanSession, qGetSession, id, now)
	if err != nil {
		return store.Session{}, fail("get session", err)
	}
	return s, nil
}

// DeleteSession removes the session, if it is there.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := db.exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return fail("delete session", err)
}

func scanGrant(row pgx.CollectableRow) (store.Grant, error) {
	var g store.Grant
	err := row.Scan(&g.UserID, &g.ClientID, &g.Audience, &g.Scopes, &g.CreatedAt, &g.UpdatedAt)
	g.CreatedAt, g.UpdatedAt = utc(g.CreatedAt), utc(g.UpdatedAt)
	return g, err
}

// UpsertGrant stores the consent, or adds its scopes to the earlier consent
// of the same user, client and audience, which keeps its CreatedAt. It is
// one statement.
func (db *DB) UpsertGrant(ctx context.Context, g store.Grant) error {
	_, err := db.exec(ctx, qUpsertGrant, g.UserID, g.ClientID, g.Audience, union(nil, g.Scopes),
		g.CreatedAt, g.UpdatedAt)
	return fail("upsert grant", err)
}

// GetGrant returns the consent of the user to the client for the audience;
// ErrNotFound.
func (db *DB) GetGrant(ctx context.Context, userID, clientID, audience string) (store.Grant, error) {
	g, err := queryOne(ctx, db.pool, scanGrant, qGetGrant, userID, clientID, audience)
	if err != nil {
		return store.Grant{}, fail("get grant", err)
	}
	return g, nil
}
