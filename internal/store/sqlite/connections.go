package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"gatehouse/internal/store"
)

// connectionFieldColumns are the connection columns that UpdateConnection
// replaces: all but name and created_at. EnabledClients are the rows of
// connection_clients.
const connectionFieldColumns = `strategy, client_id, client_secret_sealed, issuer, authorize_url,
	token_url, userinfo_url, base_url, api_url, scopes, claim_mapping, updated_at`

// connectionSelect reads connections with their enabled clients, one row per
// client (or one row with a NULL client), in one statement so that a
// connection and its clients come from the same snapshot. Clients come in
// byte order (the BINARY collation), the order EnabledClients has.
const connectionSelect = `SELECT c.name, c.created_at, c.strategy, c.client_id,
	c.client_secret_sealed, c.issuer, c.authorize_url, c.token_url, c.userinfo_url, c.base_url,
	c.api_url, c.scopes, c.claim_mapping, c.updated_at, cc.client_id
	FROM connections c LEFT JOIN connection_clients cc ON cc.connection = c.name`

const (
	qInsertConnection = `INSERT INTO connections (name, created_at, ` + connectionFieldColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetConnection    = connectionSelect + ` WHERE c.name = ? ORDER BY cc.client_id`
	qListConnections  = connectionSelect + ` ORDER BY c.name, cc.client_id`
	qUpdateConnection = `UPDATE connections SET (` + connectionFieldColumns + `)
		= (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE name = ?`
	// Its rows in connection_clients go with it (ON DELETE CASCADE).
	qDeleteConnection = `DELETE FROM connections WHERE name = ?`
	qConnectionExists = `SELECT EXISTS (SELECT 1 FROM connections WHERE name = ?)`

	qEnableClient = `INSERT INTO connection_clients (connection, client_id) VALUES (?, ?)
		ON CONFLICT DO NOTHING`
	qDisableClient  = `DELETE FROM connection_clients WHERE connection = ? AND client_id = ?`
	qDisableClients = `DELETE FROM connection_clients WHERE connection = ?`
)

// connectionFields returns the arguments for connectionFieldColumns.
func connectionFields(c store.Connection) []any {
	var secret any // NULL when there is none
	if len(c.ClientSecretSealed) > 0 {
		secret = c.ClientSecretSealed
	}
	return []any{c.Strategy, c.ClientID, secret, c.Issuer, c.AuthorizeURL, c.TokenURL,
		c.UserinfoURL, c.BaseURL, c.APIURL, listJSON(c.Scopes), stringMapJSON(c.ClaimMapping),
		millis(c.UpdatedAt)}
}

// stringMapJSON encodes a claim mapping; nil stays null so that it reads
// back nil.
func stringMapJSON(m map[string]string) string {
	b, err := json.Marshal(m)
	if err != nil {
		// Unreachable: maps of strings always encode.
		return "{}"
	}
	return string(b)
}

// enableClients enables the connection for each client; repeated ids are
// stored once.
func enableClients(ctx context.Context, t tx, name string, clientIDs []string) error {
	for _, id := range clientIDs {
		if _, err := t.exec(ctx, qEnableClient, name, id); err != nil {
			return err
		}
	}
	return nil
}

// scanConnections reads the rows of connectionSelect, which come grouped by
// connection.
func scanConnections(rows *sql.Rows) ([]store.Connection, error) {
	defer rows.Close()
	var cs []store.Connection
	for rows.Next() {
		var c store.Connection
		var client sql.NullString
		if err := rows.Scan(&c.Name, timeCol{&c.CreatedAt}, &c.Strategy, &c.ClientID,
			&c.ClientSecretSealed, &c.Issuer, &c.AuthorizeURL, &c.TokenURL, &c.UserinfoURL,
			&c.BaseURL, &c.APIURL, jsonCol{&c.Scopes}, jsonCol{&c.ClaimMapping},
			timeCol{&c.UpdatedAt}, &client); err != nil {
			return nil, err
		}
		if n := len(cs); n == 0 || cs[n-1].Name != c.Name {
			cs = append(cs, c)
		}
		if client.Valid {
			last := &cs[len(cs)-1]
			last.EnabledClients = append(last.EnabledClients, client.String)
		}
	}
	return cs, rows.Err()
}

// CreateConnection stores c with its enabled clients; ErrConflict when its
// name is taken.
func (db *DB) CreateConnection(ctx context.Context, c store.Connection) error {
	err := db.inTx(ctx, func(t tx) error {
		args := append([]any{c.Name, millis(c.CreatedAt)}, connectionFields(c)...)
		if _, err := t.exec(ctx, qInsertConnection, args...); err != nil {
			return err
		}
		return enableClients(ctx, t, c.Name, c.EnabledClients)
	})
	return fail("create connection", err)
}

// GetConnection returns the connection with the name, its enabled clients
// sorted; ErrNotFound.
func (db *DB) GetConnection(ctx context.Context, name string) (store.Connection, error) {
	rows, err := db.query(ctx, qGetConnection, name)
	if err != nil {
		return store.Connection{}, fail("get connection", err)
	}
	cs, err := scanConnections(rows)
	if err != nil {
		return store.Connection{}, fail("get connection", err)
	}
	if len(cs) == 0 {
		return store.Connection{}, fail("get connection", store.ErrNotFound)
	}
	return cs[0], nil
}

// ListConnections returns every connection, by name, their enabled clients
// sorted.
func (db *DB) ListConnections(ctx context.Context) ([]store.Connection, error) {
	rows, err := db.query(ctx, qListConnections)
	if err != nil {
		return nil, fail("list connections", err)
	}
	cs, err := scanConnections(rows)
	if err != nil {
		return nil, fail("list connections", err)
	}
	return cs, nil
}

// UpdateConnection replaces every field of the connection but Name and
// CreatedAt, EnabledClients included; ErrNotFound. A caller that changes
// one client only uses SetConnectionEnabled, which cannot lose a concurrent
// change for another client.
func (db *DB) UpdateConnection(ctx context.Context, c store.Connection) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := changed(t.exec(ctx, qUpdateConnection, append(connectionFields(c), c.Name)...)); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qDisableClients, c.Name); err != nil {
			return err
		}
		return enableClients(ctx, t, c.Name, c.EnabledClients)
	})
	return fail("update connection", err)
}

// DeleteConnection removes the connection and its client list; ErrNotFound.
// Users and identities of the connection stay.
func (db *DB) DeleteConnection(ctx context.Context, name string) error {
	return fail("delete connection", changed(db.exec(ctx, qDeleteConnection, name)))
}

// SetConnectionEnabled adds the client to the connection's enabled clients
// or removes it, with one INSERT or DELETE of its own row, so concurrent
// calls for other clients are never lost. Enabling twice and disabling a
// client that is not enabled succeed; the client ID is not checked.
// ErrNotFound for an unknown connection.
func (db *DB) SetConnectionEnabled(ctx context.Context, name, clientID string, enabled bool) error {
	err := db.inTx(ctx, func(t tx) error {
		var exists bool
		if err := t.queryRow(ctx, qConnectionExists, name).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return store.ErrNotFound
		}
		q := qDisableClient
		if enabled {
			q = qEnableClient
		}
		_, err := t.exec(ctx, q, name, clientID)
		return err
	})
	return fail("set connection enabled", err)
}
