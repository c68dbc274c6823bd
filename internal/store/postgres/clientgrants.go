package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const clientGrantColumns = `id, client_id, audience, scopes, created_at, updated_at`

const (
	// qInsertClientGrant inserts the grant when its client and API exist,
	// in one statement, and says which of them does.
	qInsertClientGrant = `WITH c AS (SELECT id FROM clients WHERE id = $2),
		a AS (SELECT identifier FROM apis WHERE identifier = $3),
		ins AS (
			INSERT INTO client_grants (` + clientGrantColumns + `)
			SELECT $1, c.id, a.identifier, $4, $5, $6 FROM c, a
		)
		SELECT EXISTS (SELECT 1 FROM c), EXISTS (SELECT 1 FROM a)`
	qSelectClientGrant = `SELECT ` + clientGrantColumns + ` FROM client_grants`
	qListClientGrants  = qSelectClientGrant + ` WHERE ($1 = '' OR client_id = $1) AND ($2 = '' OR audience = $2)
		ORDER BY client_id COLLATE "C", audience COLLATE "C"`
)

func scanClientGrant(row pgx.CollectableRow) (store.ClientGrant, error) {
	var g store.ClientGrant
	err := row.Scan(&g.ID, &g.ClientID, &g.Audience, &g.Scopes, &g.CreatedAt, &g.UpdatedAt)
	g.CreatedAt, g.UpdatedAt = utc(g.CreatedAt), utc(g.UpdatedAt)
	return g, err
}

// CreateClientGrant stores g; ErrConflict when its ID is taken or the
// client has a grant for the audience, ErrNotFound when the client or the
// API does not exist (or was deleted while the statement ran).
func (db *DB) CreateClientGrant(ctx context.Context, g store.ClientGrant) error {
	var clientOK, apiOK bool
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, qInsertClientGrant, g.ID, g.ClientID, g.Audience, list(g.Scopes),
			g.CreatedAt, g.UpdatedAt).Scan(&clientOK, &apiOK)
	})
	switch {
	case isForeignKeyViolation(err):
		err = fmt.Errorf("client %q or api %q deleted meanwhile: %w", g.ClientID, g.Audience, store.ErrNotFound)
	case err != nil:
	case !clientOK:
		err = fmt.Errorf("client %q: %w", g.ClientID, store.ErrNotFound)
	case !apiOK:
		err = fmt.Errorf("api %q: %w", g.Audience, store.ErrNotFound)
	}
	return fail("create client grant", err)
}

// GetClientGrant returns the grant with the ID; ErrNotFound.
func (db *DB) GetClientGrant(ctx context.Context, id string) (store.ClientGrant, error) {
	g, err := queryOne(ctx, db.pool, scanClientGrant, qSelectClientGrant+` WHERE id = $1`, id)
	if err != nil {
		return store.ClientGrant{}, fail("get client grant", err)
	}
	return g, nil
}

// ListClientGrants returns the grants the filter selects, by client ID,
// then audience, in byte order.
func (db *DB) ListClientGrants(ctx context.Context, f store.ClientGrantFilter) ([]store.ClientGrant, error) {
	gs, err := queryAll(ctx, db.pool, scanClientGrant, qListClientGrants, f.ClientID, f.Audience)
	if err != nil {
		return nil, fail("list client grants", err)
	}
	return gs, nil
}

// UpdateClientGrant replaces the grant's scopes and UpdatedAt; ErrNotFound.
func (db *DB) UpdateClientGrant(ctx context.Context, g store.ClientGrant) error {
	return fail("update client grant", changed(db.exec(ctx,
		`UPDATE client_grants SET scopes = $2, updated_at = $3 WHERE id = $1`, g.ID, list(g.Scopes), g.UpdatedAt)))
}

// DeleteClientGrant removes the grant; ErrNotFound.
func (db *DB) DeleteClientGrant(ctx context.Context, id string) error {
	return fail("delete client grant", changed(db.exec(ctx, `DELETE FROM client_grants WHERE id = $1`, id)))
}
