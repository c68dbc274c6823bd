package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"gatehouse/internal/store"
)

// connectionFieldColumns are the connection columns that UpdateConnection
// replaces: all but name and created_at. The enabled clients live in
// connection_clients.
const connectionFieldColumns = `strategy, client_id, client_secret_sealed, issuer, authorize_url,
	token_url, userinfo_url, base_url, api_url, scopes, claim_mapping, updated_at`

const (
	qInsertConnection = `INSERT INTO connections (name, created_at, ` + connectionFieldColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	qUpdateConnection = `UPDATE connections SET (` + connectionFieldColumns + `)
		= ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) WHERE name = $1`
	// qSelectConnection reads connections with their clients in byte order
	// (COLLATE "C"), whatever the database's collation.
	qSelectConnection = `SELECT c.name, c.created_at, ` + connectionFieldColumns + `,
		array(SELECT cc.client_id FROM connection_clients cc WHERE cc.connection_name = c.name
			ORDER BY cc.client_id COLLATE "C")
		FROM connections c`
	qInsertConnectionClients = `INSERT INTO connection_clients (connection_name, client_id)
		SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`

	// qEnableConnection and qDisableConnection each write one row of one
	// connection's client list, so concurrent changes for other clients
	// cannot be lost. They report whether the connection exists.
	qEnableConnection = `WITH conn AS (SELECT name FROM connections WHERE name = $1),
		enable AS (
			INSERT INTO connection_clients (connection_name, client_id)
			SELECT name, $2 FROM conn ON CONFLICT DO NOTHING
		)
		SELECT count(*) FROM conn`
	qDisableConnection = `WITH conn AS (SELECT name FROM connections WHERE name = $1),
		disable AS (
			DELETE FROM connection_clients WHERE connection_name = $1 AND client_id = $2
		)
		SELECT count(*) FROM conn`
)

func connectionFields(c store.Connection) ([]any, error) {
	// pgx sends a nil map or slice as NULL, and the columns are NOT NULL:
	// the mapping goes as JSON text (a nil map as JSON null, which reads
	// back nil), the secret as an empty slice.
	mapping, err := json.Marshal(c.ClaimMapping)
	if err != nil {
		return nil, fmt.Errorf("encode claim mapping: %w", err)
	}
	secret := c.ClientSecretSealed
	if secret == nil {
		secret = []byte{}
	}
	return []any{c.Strategy, c.ClientID, secret, c.Issuer, c.AuthorizeURL, c.TokenURL,
		c.UserinfoURL, c.BaseURL, c.APIURL, list(c.Scopes), string(mapping), c.UpdatedAt}, nil
}

func scanConnection(row pgx.CollectableRow) (store.Connection, error) {
	var c store.Connection
	err := row.Scan(&c.Name, &c.CreatedAt, &c.Strategy, &c.ClientID, &c.ClientSecretSealed, &c.Issuer,
		&c.AuthorizeURL, &c.TokenURL, &c.UserinfoURL, &c.BaseURL, &c.APIURL, &c.Scopes, &c.ClaimMapping,
		&c.UpdatedAt, &c.EnabledClients)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return c, err
}

// CreateConnection stores c and its clients; ErrConflict when its name is
// taken.
func (db *DB) CreateConnection(ctx context.Context, c store.Connection) error {
	fields, err := connectionFields(c)
	if err != nil {
		return fail("create connection", err)
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qInsertConnection, append([]any{c.Name, c.CreatedAt}, fields...)...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qInsertConnectionClients, c.Name, list(c.EnabledClients))
		return err
	})
	return fail("create connection", err)
}

// GetConnection returns the connection with the name; ErrNotFound.
func (db *DB) GetConnection(ctx context.Context, name string) (store.Connection, error) {
	c, err := queryOne(ctx, db.pool, scanConnection, qSelectConnection+` WHERE c.name = $1`, name)
	if err != nil {
		return store.Connection{}, fail("get connection", err)
	}
	return c, nil
}

// ListConnections returns every connection, the built-in one included, by
// name.
func (db *DB) ListConnections(ctx context.Context) ([]store.Connection, error) {
	cs, err := queryAll(ctx, db.pool, scanConnection, qSelectConnection+` ORDER BY c.name`)
	if err != nil {
		return nil, fail("list connections", err)
	}
	return cs, nil
}

// UpdateConnection replaces every field of the connection but Name and
// CreatedAt, its clients included; ErrNotFound.
func (db *DB) UpdateConnection(ctx context.Context, c store.Connection) error {
	fields, err := connectionFields(c)
	if err != nil {
		return fail("update connection", err)
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qUpdateConnection, append([]any{c.Name}, fields...)...)
		if err := changed(tag.RowsAffected(), err); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM connection_clients WHERE connection_name = $1`, c.Name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qInsertConnectionClients, c.Name, list(c.EnabledClients))
		return err
	})
	return fail("update connection", err)
}

// DeleteConnection removes the connection and its client list;
// ErrNotFound. Users and their identities at the connection stay.
func (db *DB) DeleteConnection(ctx context.Context, name string) error {
	return fail("delete connection", changed(db.exec(ctx, `DELETE FROM connections WHERE name = $1`, name)))
}

// SetConnectionEnabled enables or disables the connection for the client
// in one statement; ErrNotFound for an unknown connection. The client ID is
// not checked.
func (db *DB) SetConnectionEnabled(ctx context.Context, name, clientID string, enabled bool) error {
	q := qDisableConnection
	if enabled {
		q = qEnableConnection
	}
	var n int64
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, q, name, clientID).Scan(&n)
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation
		// The connection was deleted while this statement ran.
		err = store.ErrNotFound
	case err == nil && n == 0:
		err = store.ErrNotFound
	}
	return fail("set connection enabled", err)
}

// GetUserByIdentity returns the user holding the identity at the
// connection; ErrNotFound.
func (db *DB) GetUserByIdentity(ctx context.Context, connection, providerUserID string) (store.User, error) {
	u, err := queryOne(ctx, db.pool, scanUser, userSelect+` WHERE u.id = (
		SELECT user_id FROM identities WHERE connection = $1 AND provider_user_id = $2)`,
		connection, providerUserID)
	if err != nil {
		return store.User{}, fail("get user by identity", err)
	}
	return u, nil
}
