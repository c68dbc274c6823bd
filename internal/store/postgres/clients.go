package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

// clientFieldColumns are the client columns that UpdateClient replaces: all
// but id and created_at.
const clientFieldColumns = `secret_hash, token_endpoint_auth_method, name, type, callbacks, logout_urls, grant_types,
	first_party, allow_offline_access, id_token_ttl_ms, access_token_ttl_ms,
	refresh_no_rotation, refresh_overlap_ms, refresh_idle_ms, refresh_absolute_ms,
	organization_usage, organization_behavior, initiate_login_uri, mfa_policy, require_verified_email,
	web_origins, allowed_origins, require_pkce, id_token_signed_response_alg, jwks, backchannel_logout_uri`

// clientFieldCount is the number of clientFieldColumns.
var clientFieldCount = strings.Count(clientFieldColumns, ",") + 1

var (
	qInsertClient = `INSERT INTO clients (id, created_at, ` + clientFieldColumns + `)
		VALUES (` + placeholdersFrom(1, 2+clientFieldCount) + `)`
	qUpdateClient = `UPDATE clients SET (` + clientFieldColumns + `)
		= (` + placeholdersFrom(2, clientFieldCount) + `) WHERE id = $1`
	qSelectClient = `SELECT id, created_at, ` + clientFieldColumns + ` FROM clients`
)

// clientFields returns the arguments for clientFieldColumns.
func clientFields(c store.Client) []any {
	return []any{c.SecretHash, c.TokenEndpointAuthMethod, c.Name, c.Type, list(c.Callbacks), list(c.LogoutURLs), list(c.GrantTypes),
		c.FirstParty, c.AllowOfflineAccess, millis(c.IDTokenTTL), millis(c.AccessTokenTTL),
		c.Refresh.NoRotation, millis(c.Refresh.Overlap), millis(c.Refresh.Idle), millis(c.Refresh.Absolute),
		c.OrganizationUsage, c.OrganizationBehavior, c.InitiateLoginURI, c.MFAPolicy, c.RequireVerifiedEmail,
		list(c.WebOrigins), list(c.AllowedOrigins), c.RequirePKCE, c.IDTokenSigningAlg, c.JWKS, c.BackchannelLogoutURI}
}

func scanClient(row pgx.CollectableRow) (store.Client, error) {
	var c store.Client
	var idTTL, atTTL, overlap, idle, absolute int64
	err := row.Scan(&c.ID, &c.CreatedAt, &c.SecretHash, &c.TokenEndpointAuthMethod, &c.Name, &c.Type, &c.Callbacks, &c.LogoutURLs,
		&c.GrantTypes, &c.FirstParty, &c.AllowOfflineAccess, &idTTL, &atTTL,
		&c.Refresh.NoRotation, &overlap, &idle, &absolute, &c.OrganizationUsage, &c.OrganizationBehavior,
		&c.InitiateLoginURI, &c.MFAPolicy, &c.RequireVerifiedEmail,
		&c.WebOrigins, &c.AllowedOrigins, &c.RequirePKCE, &c.IDTokenSigningAlg, &c.JWKS, &c.BackchannelLogoutURI)
	c.CreatedAt = utc(c.CreatedAt)
	c.IDTokenTTL, c.AccessTokenTTL = duration(idTTL), duration(atTTL)
	c.Refresh.Overlap, c.Refresh.Idle, c.Refresh.Absolute = duration(overlap), duration(idle), duration(absolute)
	return c, err
}

// CreateClient stores c; ErrConflict when its ID is taken.
func (db *DB) CreateClient(ctx context.Context, c store.Client) error {
	_, err := db.exec(ctx, qInsertClient, append([]any{c.ID, c.CreatedAt}, clientFields(c)...)...)
	return fail("create client", err)
}

// GetClient returns the client with the ID; ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := queryOne(ctx, db.pool, scanClient, qSelectClient+` WHERE id = $1`, id)
	if err != nil {
		return store.Client{}, fail("get client", err)
	}
	return c, nil
}

// ListClients returns every client, by ID.
func (db *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	cs, err := queryAll(ctx, db.pool, scanClient, qSelectClient+` ORDER BY id`)
	if err != nil {
		return nil, fail("list clients", err)
	}
	return cs, nil
}

// UpdateClient replaces every field of the client but ID and CreatedAt;
// ErrNotFound.
func (db *DB) UpdateClient(ctx context.Context, c store.Client) error {
	return fail("update client", changed(db.exec(ctx, qUpdateClient, append([]any{c.ID}, clientFields(c)...)...)))
}

// qDeleteClient removes the client and disables every connection for it,
// in one statement.
const qDeleteClient = `WITH client AS (DELETE FROM clients WHERE id = $1 RETURNING id),
	connections AS (DELETE FROM connection_clients WHERE client_id IN (SELECT id FROM client))
	SELECT count(*) FROM client`

// DeleteClient removes the client and disables every connection for it;
// ErrNotFound. Codes and tokens already issued to it stay until they
// expire or are revoked.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	var n int64
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, qDeleteClient, id).Scan(&n)
	})
	return fail("delete client", changed(n, err))
}

// apiFieldColumns are the API columns that UpdateAPI replaces: all but
// identifier and created_at.
const apiFieldColumns = `name, scopes, token_lifetime_ms, signing_algorithm, allow_offline_access,
	skip_consent_first_party, rbac, token_dialect, updated_at`

const (
	qInsertAPI = `INSERT INTO apis (identifier, created_at, ` + apiFieldColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	// qUpdateAPI replaces the API's fields and removes the permissions of
	// the scopes it no longer has from roles and users, in one statement;
	// it returns how many APIs it updated.
	qUpdateAPI = `WITH upd AS (
			UPDATE apis SET (` + apiFieldColumns + `) = ($2, $3, $4, $5, $6, $7, $8, $9, $10)
			WHERE identifier = $1 RETURNING scopes
		),
		kept AS (SELECT s->>'name' AS name FROM upd, jsonb_array_elements(upd.scopes) s),
		dropped_role AS (
			DELETE FROM role_permissions WHERE audience = $1 AND EXISTS (SELECT 1 FROM upd)
			AND permission NOT IN (SELECT name FROM kept)
		),
		dropped_user AS (
			DELETE FROM user_permissions WHERE audience = $1 AND EXISTS (SELECT 1 FROM upd)
			AND permission NOT IN (SELECT name FROM kept)
		)
		SELECT count(*) FROM upd`
	qSelectAPI = `SELECT identifier, created_at, ` + apiFieldColumns + ` FROM apis`
)

// apiScope is the JSON shape of a store.APIScope in apis.scopes, spelled
// out so that renaming a Go field cannot change stored data.
type apiScope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func apiFields(a store.API) []any {
	scopes := make([]apiScope, len(a.Scopes))
	for i, s := range a.Scopes {
		scopes[i] = apiScope(s)
	}
	return []any{a.Name, scopes, millis(a.TokenLifetime), a.SigningAlgorithm, a.AllowOfflineAccess,
		a.SkipConsentFirstParty, a.RBAC, a.TokenDialect, a.UpdatedAt}
}

func scanAPI(row pgx.CollectableRow) (store.API, error) {
	var a store.API
	var scopes []apiScope
	var lifetime int64
	err := row.Scan(&a.Identifier, &a.CreatedAt, &a.Name, &scopes, &lifetime, &a.SigningAlgorithm,
		&a.AllowOfflineAccess, &a.SkipConsentFirstParty, &a.RBAC, &a.TokenDialect, &a.UpdatedAt)
	if len(scopes) > 0 {
		a.Scopes = make([]store.APIScope, len(scopes))
		for i, s := range scopes {
			a.Scopes[i] = store.APIScope(s)
		}
	}
	a.TokenLifetime = duration(lifetime)
	a.CreatedAt, a.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
	return a, err
}

// CreateAPI stores a; ErrConflict when its identifier is taken.
func (db *DB) CreateAPI(ctx context.Context, a store.API) error {
	_, err := db.exec(ctx, qInsertAPI, append([]any{a.Identifier, a.CreatedAt}, apiFields(a)...)...)
	return fail("create api", err)
}

// GetAPI returns the API with the identifier; ErrNotFound.
func (db *DB) GetAPI(ctx context.Context, identifier string) (store.API, error) {
	a, err := queryOne(ctx, db.pool, scanAPI, qSelectAPI+` WHERE identifier = $1`, identifier)
	if err != nil {
		return store.API{}, fail("get api", err)
	}
	return a, nil
}

// ListAPIs returns every API, by identifier.
func (db *DB) ListAPIs(ctx context.Context) ([]store.API, error) {
	as, err := queryAll(ctx, db.pool, scanAPI, qSelectAPI+` ORDER BY identifier`)
	if err != nil {
		return nil, fail("list apis", err)
	}
	return as, nil
}

// UpdateAPI replaces every field of the API but Identifier and CreatedAt,
// and removes the permissions of the scopes it no longer has from roles and
// users; ErrNotFound.
func (db *DB) UpdateAPI(ctx context.Context, a store.API) error {
	var n int64
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, qUpdateAPI, append([]any{a.Identifier}, apiFields(a)...)...).Scan(&n)
	})
	return fail("update api", changed(n, err))
}

// DeleteAPI removes the API with its client grants and the permissions of
// its scopes (ON DELETE CASCADE); ErrNotFound, as DeleteClient.
func (db *DB) DeleteAPI(ctx context.Context, identifier string) error {
	return fail("delete api", changed(db.exec(ctx, `DELETE FROM apis WHERE identifier = $1`, identifier)))
}

// placeholdersFrom returns n comma-separated placeholders, $first on.
func placeholdersFrom(first, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(first+i)
	}
	return strings.Join(ps, ", ")
}
