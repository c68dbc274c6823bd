package sqlite

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

const clientGrantColumns = `id, client_id, audience, scopes, created_at, updated_at`

const (
	qInsertClientGrant = `INSERT INTO client_grants (` + clientGrantColumns + `) VALUES (?, ?, ?, ?, ?, ?)`
	qSelectClientGrant = `SELECT ` + clientGrantColumns + ` FROM client_grants`
	// qListClientGrants takes the filter twice: an empty value matches
	// any.
	qListClientGrants = qSelectClientGrant + ` WHERE (? = '' OR client_id = ?) AND (? = '' OR audience = ?)
		ORDER BY client_id, audience`
	qUpdateClientGrant = `UPDATE client_grants SET scopes = ?, updated_at = ? WHERE id = ?`
	qDeleteClientGrant = `DELETE FROM client_grants WHERE id = ?`
	qClientExists      = `SELECT EXISTS (SELECT 1 FROM clients WHERE id = ?)`
	qAPIExists         = `SELECT EXISTS (SELECT 1 FROM apis WHERE identifier = ?)`
)

func scanClientGrant(sc scanner) (store.ClientGrant, error) {
	var g store.ClientGrant
	err := sc.Scan(&g.ID, &g.ClientID, &g.Audience, jsonCol{&g.Scopes}, timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt})
	return g, err
}

// CreateClientGrant stores g; ErrConflict when its ID is taken or the
// client has a grant for the audience, ErrNotFound when the client or the
// API does not exist. The checks, inside the write transaction, name the
// missing record; the foreign keys would refuse it too, but only as a
// constraint error.
func (db *DB) CreateClientGrant(ctx context.Context, g store.ClientGrant) error {
	err := db.inTx(ctx, func(t tx) error {
		for _, check := range []struct{ q, kind, key string }{
			{qClientExists, "client", g.ClientID},
			{qAPIExists, "api", g.Audience},
		} {
			var ok bool
			if err := t.queryRow(ctx, check.q, check.key).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s %q: %w", check.kind, check.key, store.ErrNotFound)
			}
		}
		_, err := t.exec(ctx, qInsertClientGrant, g.ID, g.ClientID, g.Audience, listJSON(g.Scopes),
			millis(g.CreatedAt), millis(g.UpdatedAt))
		return err
	})
	return fail("create client grant", err)
}

// GetClientGrant returns the grant with the ID; ErrNotFound.
func (db *DB) GetClientGrant(ctx context.Context, id string) (store.ClientGrant, error) {
	g, err := scanClientGrant(db.queryRow(ctx, qSelectClientGrant+` WHERE id = ?`, id))
	if err != nil {
		return store.ClientGrant{}, fail("get client grant", err)
	}
	return g, nil
}

// ListClientGrants returns the grants the filter selects, by client ID,
// then audience.
func (db *DB) ListClientGrants(ctx context.Context, f store.ClientGrantFilter) ([]store.ClientGrant, error) {
	rows, err := db.query(ctx, qListClientGrants, f.ClientID, f.ClientID, f.Audience, f.Audience)
	if err != nil {
		return nil, fail("list client grants", err)
	}
	defer rows.Close()
	var gs []store.ClientGrant
	for rows.Next() {
		g, err := scanClientGrant(rows)
		if err != nil {
			return nil, fail("list client grants", err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list client grants", err)
	}
	return gs, nil
}

// UpdateClientGrant replaces the grant's scopes and UpdatedAt; ErrNotFound.
func (db *DB) UpdateClientGrant(ctx context.Context, g store.ClientGrant) error {
	return fail("update client grant", changed(db.exec(ctx, qUpdateClientGrant, listJSON(g.Scopes), millis(g.UpdatedAt), g.ID)))
}

// DeleteClientGrant removes the grant; ErrNotFound.
func (db *DB) DeleteClientGrant(ctx context.Context, id string) error {
	return fail("delete client grant", changed(db.exec(ctx, qDeleteClientGrant, id)))
}
