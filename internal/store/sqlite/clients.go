package sqlite

import (
	"context"

	"gatehouse/internal/store"
)

const clientColumns = `id, secret_hash, name, type, callbacks, logout_urls, grant_types,
	first_party, allow_offline_access, created_at`

const (
	qInsertClient = `INSERT INTO clients (` + clientColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetClient    = `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`
	qListClients  = `SELECT ` + clientColumns + ` FROM clients ORDER BY id`
	qDeleteClient = `DELETE FROM clients WHERE id = ?`
)

func scanClient(sc scanner) (store.Client, error) {
	var c store.Client
	err := sc.Scan(&c.ID, &c.SecretHash, &c.Name, &c.Type,
		jsonCol{&c.Callbacks}, jsonCol{&c.LogoutURLs}, jsonCol{&c.GrantTypes},
		&c.FirstParty, &c.AllowOfflineAccess, timeCol{&c.CreatedAt})
	return c, err
}

// CreateClient stores c; ErrConflict when its ID is taken.
func (db *DB) CreateClient(ctx context.Context, c store.Client) error {
	_, err := db.exec(ctx, qInsertClient, c.ID, c.SecretHash, c.Name, c.Type,
		listJSON(c.Callbacks), listJSON(c.LogoutURLs), listJSON(c.GrantTypes),
		c.FirstParty, c.AllowOfflineAccess, millis(c.CreatedAt))
	return fail("create client", err)
}

// GetClient returns the client with the ID; ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(db.queryRow(ctx, qGetClient, id))
	if err != nil {
		return store.Client{}, fail("get client", err)
	}
	return c, nil
}

// ListClients returns every client, by ID.
func (db *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := db.query(ctx, qListClients)
	if err != nil {
		return nil, fail("list clients", err)
	}
	defer rows.Close()
	var cs []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fail("list clients", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list clients", err)
	}
	return cs, nil
}

// DeleteClient removes the client; ErrNotFound. Codes and tokens already
// issued to it stay until they expire or are revoked.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	return fail("delete client", changed(db.exec(ctx, qDeleteClient, id)))
}
