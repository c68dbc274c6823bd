package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gatehouse/internal/store"
)

const (
	qInsertSession = `INSERT INTO sessions (id, user_id, auth_time, methods, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	qGetSession = `SELECT id, user_id, auth_time, methods, created_at, expires_at FROM sessions
		WHERE id = ? AND expires_at > ?`
	qDeleteSession = `DELETE FROM sessions WHERE id = ?`

	qGetGrant = `SELECT user_id, client_id, audience, scopes, created_at, updated_at FROM grants
		WHERE user_id = ? AND client_id = ? AND audience = ?`
	qInsertGrant = `INSERT INTO grants (user_id, client_id, audience, scopes, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	qUpdateGrant = `UPDATE grants SET scopes = ?, updated_at = ?
		WHERE user_id = ? AND client_id = ? AND audience = ?`
)

// CreateSession stores s; ErrConflict when its ID is taken.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	_, err := db.exec(ctx, qInsertSession, s.ID, s.UserID, millis(s.AuthTime), listJSON(s.Methods),
		millis(s.CreatedAt), millis(s.ExpiresAt))
	return fail("create session", err)
}

// GetSession returns a live session; ErrNotFound for unknown or expired ones.
func (db *DB) GetSession(ctx context.Context, id string, now time.Time) (store.Session, error) {
	var s store.Session
	err := db.queryRow(ctx, qGetSession, id, millis(now)).Scan(&s.ID, &s.UserID,
		timeCol{&s.AuthTime}, jsonCol{&s.Methods}, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt})
	if err != nil {
		return store.Session{}, fail("get session", err)
	}
	return s, nil
}

// DeleteSession removes the session, if it is there.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := db.exec(ctx, qDeleteSession, id)
	return fail("delete session", err)
}

func scanGrant(sc scanner) (store.Grant, error) {
	var g store.Grant
	err := sc.Scan(&g.UserID, &g.ClientID, &g.Audience, jsonCol{&g.Scopes},
		timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt})
	return g, err
}

// UpsertGrant stores the consent, or adds its scopes to the earlier consent
// of the same user, client and audience, which keeps its CreatedAt.
func (db *DB) UpsertGrant(ctx context.Context, g store.Grant) error {
	err := db.inTx(ctx, func(t tx) error {
		old, err := scanGrant(t.queryRow(ctx, qGetGrant, g.UserID, g.ClientID, g.Audience))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err := t.exec(ctx, qInsertGrant, g.UserID, g.ClientID, g.Audience,
				listJSON(union(nil, g.Scopes)), millis(g.CreatedAt), millis(g.UpdatedAt))
			return err
		case err != nil:
			return err
		}
		_, err = t.exec(ctx, qUpdateGrant, listJSON(union(old.Scopes, g.Scopes)), millis(g.UpdatedAt),
			g.UserID, g.ClientID, g.Audience)
		return err
	})
	return fail("upsert grant", err)
}

// GetGrant returns the consent of the user to the client for the audience;
// ErrNotFound.
func (db *DB) GetGrant(ctx context.Context, userID, clientID, audience string) (store.Grant, error) {
	g, err := scanGrant(db.queryRow(ctx, qGetGrant, userID, clientID, audience))
	if err != nil {
		return store.Grant{}, fail("get grant", err)
	}
	return g, nil
}
