package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/store"
)

const (
	qInsertCeremony = `INSERT INTO webauthn_ceremonies (id, data, expires_at) VALUES (?, ?, ?)`
	// qTakeCeremony deletes and returns in one statement: the write lock
	// orders concurrent takes, and those after the first find no row.
	qTakeCeremony = `DELETE FROM webauthn_ceremonies WHERE id = ? AND expires_at > ?
		RETURNING id, data, expires_at`
	qGetSessionMethods = `SELECT methods FROM sessions WHERE id = ? AND expires_at > ?`
	qSetSessionMethods = `UPDATE sessions SET methods = ? WHERE id = ?`
)

// CreateCeremony stores c; ErrConflict when its ID is taken.
func (db *DB) CreateCeremony(ctx context.Context, c store.Ceremony) error {
	_, err := db.exec(ctx, qInsertCeremony, c.ID, c.Data, millis(c.ExpiresAt))
	return fail("create ceremony", err)
}

// TakeCeremony removes the live ceremony and returns it; ErrNotFound.
func (db *DB) TakeCeremony(ctx context.Context, id string, now time.Time) (store.Ceremony, error) {
	var c store.Ceremony
	err := db.inTx(ctx, func(t tx) error {
		return t.queryRow(ctx, qTakeCeremony, id, millis(now)).Scan(&c.ID, &c.Data, timeCol{&c.ExpiresAt})
	})
	if err != nil {
		return store.Ceremony{}, fail("take ceremony", err)
	}
	return c, nil
}

// AddSessionMethods appends the methods the live session lacks, in one
// transaction, and returns the session; ErrNotFound.
func (db *DB) AddSessionMethods(ctx context.Context, id string, methods []string, now time.Time) (store.Session, error) {
	err := db.inTx(ctx, func(t tx) error {
		var have []string
		if err := t.queryRow(ctx, qGetSessionMethods, id, millis(now)).Scan(jsonCol{&have}); err != nil {
			return err
		}
		_, err := t.exec(ctx, qSetSessionMethods, listJSON(union(have, methods)), id)
		return err
	})
	if err != nil {
		return store.Session{}, fail("add session methods", err)
	}
	s, err := db.GetSession(ctx, id, now)
	if err != nil {
		return store.Session{}, fail("add session methods", err)
	}
	return s, nil
}
