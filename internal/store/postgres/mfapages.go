package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const (
	qInsertCeremony = `INSERT INTO webauthn_ceremonies (id, data, expires_at) VALUES ($1, $2, $3)`
	// qTakeCeremony deletes and returns in one statement: the row lock
	// settles concurrent takes, and those after the first find no row.
	qTakeCeremony = `DELETE FROM webauthn_ceremonies WHERE id = $1 AND expires_at > $2
		RETURNING id, data, expires_at`
	// qAddSessionMethods appends the new methods the session lacks, keeping
	// the order of first appearance, in one statement under the row lock,
	// so concurrent additions each keep the other's.
	qAddSessionMethods = `UPDATE sessions AS s SET methods = (
			SELECT coalesce(jsonb_agg(m.method ORDER BY m.first), '[]')
			FROM (
				SELECT e.method, min(e.ord) AS first
				FROM jsonb_array_elements_text(s.methods || $2::jsonb) WITH ORDINALITY AS e (method, ord)
				GROUP BY e.method
			) m
		)
		WHERE s.id = $1 AND s.expires_at > $3
		RETURNING s.id, s.user_id, s.auth_time, s.methods, s.created_at, s.expires_at`
)

// CreateCeremony stores c; ErrConflict when its ID is taken.
func (db *DB) CreateCeremony(ctx context.Context, c store.Ceremony) error {
	_, err := db.exec(ctx, qInsertCeremony, c.ID, c.Data, c.ExpiresAt)
	return fail("create ceremony", err)
}

// TakeCeremony removes the live ceremony and returns it; ErrNotFound.
func (db *DB) TakeCeremony(ctx context.Context, id string, now time.Time) (store.Ceremony, error) {
	var c store.Ceremony
	err := retry(ctx, func() error {
		var err error
		c, err = queryOne(ctx, db.pool, func(row pgx.CollectableRow) (store.Ceremony, error) {
			var c store.Ceremony
			err := row.Scan(&c.ID, &c.Data, &c.ExpiresAt)
			c.ExpiresAt = utc(c.ExpiresAt)
			return c, err
		}, qTakeCeremony, id, now)
		return err
	})
	if err != nil {
		return store.Ceremony{}, fail("take ceremony", err)
	}
	return c, nil
}

// AddSessionMethods appends the methods the live session lacks and
// returns the session; ErrNotFound.
func (db *DB) AddSessionMethods(ctx context.Context, id string, methods []string, now time.Time) (store.Session, error) {
	var s store.Session
	err := retry(ctx, func() error {
		var err error
		s, err = queryOne(ctx, db.pool, scanSession, qAddSessionMethods, id, list(methods), now)
		return err
	})
	if err != nil {
		return store.Session{}, fail("add session methods", err)
	}
	return s, nil
}
