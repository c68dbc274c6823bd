package sqlite

import (
	"context"
	"strings"

	"gatehouse/internal/store"
)

// clientFieldColumns are the client columns that UpdateClient replaces: all
// but id and created_at.
const clientFieldColumns = `secret_hash, token_endpoint_auth_method, name, type, callbacks, logout_urls, grant_types,
	first_party, allow_offline_access, id_token_ttl, access_token_ttl,
	refresh_no_rotation, refresh_overlap, refresh_idle, refresh_absolute,
	organization_usage, organization_behavior, initiate_login_uri, mfa_policy, require_verified_email,
	web_origins, allowed_origins, require_pkce, id_token_signed_response_alg, jwks, backchannel_logout_uri`

// clientFieldCount is the number of clientFieldColumns.
var clientFieldCount = strings.Count(clientFieldColumns, ",") + 1

const clientColumns = `id, created_at, ` + clientFieldColumns

var (
	qInsertClient = `INSERT INTO clients (` + clientColumns + `)
		VALUES (` + placeholders(2+clientFieldCount) + `)`
	qGetClient    = `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`
	qListClients  = `SELECT ` + clientColumns + ` FROM clients ORDER BY id`
	qUpdateClient = `UPDATE clients SET (` + clientFieldColumns + `)
		= (` + placeholders(clientFieldCount) + `) WHERE id = ?`
	qDeleteClient = `DELETE FROM clients WHERE id = ?`
)

// clientFields returns the arguments for clientFieldColumns.
func clientFields(c store.Client) []any {
	return []any{c.SecretHash, c.TokenEndpointAuthMethod, c.Name, c.Type,
		listJSON(c.Callbacks), listJSON(c.LogoutURLs), listJSON(c.GrantTypes),
		c.FirstParty, c.AllowOfflineAccess,
		durationMillis(c.IDTokenTTL), durationMillis(c.AccessTokenTTL),
		c.Refresh.NoRotation, durationMillis(c.Refresh.Overlap),
		durationMillis(c.Refresh.Idle), durationMillis(c.Refresh.Absolute),
		c.OrganizationUsage, c.OrganizationBehavior, c.InitiateLoginURI, c.MFAPolicy, c.RequireVerifiedEmail,
		listJSON(c.WebOrigins), listJSON(c.AllowedOrigins), c.RequirePKCE, c.IDTokenSigningAlg, c.JWKS, c.BackchannelLogoutURI}
}

func scanClient(sc scanner) (store.Client, error) {
	var c store.Client
	err := sc.Scan(&c.ID, timeCol{&c.CreatedAt}, &c.SecretHash, &c.TokenEndpointAuthMethod, &c.Name, &c.Type,
		jsonCol{&c.Callbacks}, jsonCol{&c.LogoutURLs}, jsonCol{&c.GrantTypes},
		&c.FirstParty, &c.AllowOfflineAccess,
		durationCol{&c.IDTokenTTL}, durationCol{&c.AccessTokenTTL},
		&c.Refresh.NoRotation, durationCol{&c.Refresh.Overlap},
		durationCol{&c.Refresh.Idle}, durationCol{&c.Refresh.Absolute},
		&c.OrganizationUsage, &c.OrganizationBehavior, &c.InitiateLoginURI, &c.MFAPolicy, &c.RequireVerifiedEmail,
		jsonCol{&c.WebOrigins}, jsonCol{&c.AllowedOrigins}, &c.RequirePKCE, &c.IDTokenSigningAlg, &c.JWKS, &c.BackchannelLogoutURI)
	return c, err
}

// CreateClient stores c; ErrConflict when its ID is taken.
func (db *DB) CreateClient(ctx context.Context, c store.Client) error {
	args := append([]any{c.ID, millis(c.CreatedAt)}, clientFields(c)...)
	_, err := db.exec(ctx, qInsertClient, args...)
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

// UpdateClient replaces every field of the client but its ID and CreatedAt;
// ErrNotFound.
func (db *DB) UpdateClient(ctx context.Context, c store.Client) error {
	args := append(clientFields(c), c.ID)
	return fail("update client", changed(db.exec(ctx, qUpdateClient, args...)))
}

// DeleteClient removes the client and disables every connection for it, so
// that a client created later with the same ID starts with none; ErrNotFound.
// Codes and tokens already issued to it stay until they expire or are
// revoked, and its invitations stay until their organization goes: they
// fail when their link is followed.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := changed(t.exec(ctx, qDeleteClient, id)); err != nil {
			return err
		}
		_, err := t.exec(ctx, `DELETE FROM connection_clients WHERE client_id = ?`, id)
		return err
	})
	return fail("delete client", err)
}

// placeholders returns n comma-separated "?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
