package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"gatehouse/internal/store"
)

// apiFieldColumns are the API columns that UpdateAPI replaces: all but
// identifier and created_at.
const apiFieldColumns = `name, scopes, token_lifetime, signing_algorithm, allow_offline_access,
	skip_consent_first_party, rbac, token_dialect, updated_at`

const apiColumns = `identifier, created_at, ` + apiFieldColumns

const (
	qInsertAPI = `INSERT INTO apis (` + apiColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetAPI    = `SELECT ` + apiColumns + ` FROM apis WHERE identifier = ?`
	qListAPIs  = `SELECT ` + apiColumns + ` FROM apis ORDER BY identifier`
	qUpdateAPI = `UPDATE apis SET (` + apiFieldColumns + `) = (?, ?, ?, ?, ?, ?, ?, ?, ?)
		WHERE identifier = ?`
	// qDropRolePermissions and qDropUserPermissions remove the permissions
	// of an API that are no longer its scopes, after UpdateAPI.
	qDropRolePermissions = `DELETE FROM role_permissions WHERE audience = ?1 AND permission NOT IN
		(SELECT json_extract(s.value, '$.name') FROM apis, json_each(apis.scopes) s WHERE apis.identifier = ?1)`
	qDropUserPermissions = `DELETE FROM user_permissions WHERE audience = ?1 AND permission NOT IN
		(SELECT json_extract(s.value, '$.name') FROM apis, json_each(apis.scopes) s WHERE apis.identifier = ?1)`
	qDeleteAPI = `DELETE FROM apis WHERE identifier = ?`
)

// apiScope is one element of the apis.scopes JSON. Its own tags keep the
// stored shape independent of store.APIScope's Go field names.
type apiScope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// apiScopesJSON encodes scopes; nil stays null so that it reads back nil.
func apiScopesJSON(scopes []store.APIScope) string {
	var js []apiScope
	if scopes != nil {
		js = make([]apiScope, len(scopes))
		for i, s := range scopes {
			js[i] = apiScope(s)
		}
	}
	b, err := json.Marshal(js)
	if err != nil {
		// Unreachable: structs of strings always encode.
		return "[]"
	}
	return string(b)
}

// apiScopesCol scans the apis.scopes JSON.
type apiScopesCol struct{ scopes *[]store.APIScope }

func (c apiScopesCol) Scan(src any) error {
	var js []apiScope
	if err := (jsonCol{&js}).Scan(src); err != nil {
		return fmt.Errorf("scan api scopes: %w", err)
	}
	*c.scopes = nil
	if js != nil {
		*c.scopes = make([]store.APIScope, len(js))
		for i, s := range js {
			(*c.scopes)[i] = store.APIScope(s)
		}
	}
	return nil
}

// apiFields returns the arguments for apiFieldColumns.
func apiFields(a store.API) []any {
	return []any{a.Name, apiScopesJSON(a.Scopes), durationMillis(a.TokenLifetime),
		a.SigningAlgorithm, a.AllowOfflineAccess, a.SkipConsentFirstParty, a.RBAC, a.TokenDialect, millis(a.UpdatedAt)}
}

func scanAPI(sc scanner) (store.API, error) {
	var a store.API
	err := sc.Scan(&a.Identifier, timeCol{&a.CreatedAt}, &a.Name, apiScopesCol{&a.Scopes},
		durationCol{&a.TokenLifetime}, &a.SigningAlgorithm, &a.AllowOfflineAccess,
		&a.SkipConsentFirstParty, &a.RBAC, &a.TokenDialect, timeCol{&a.UpdatedAt})
	return a, err
}

// CreateAPI stores a; ErrConflict when its identifier is taken.
func (db *DB) CreateAPI(ctx context.Context, a store.API) error {
	args := append([]any{a.Identifier, millis(a.CreatedAt)}, apiFields(a)...)
	_, err := db.exec(ctx, qInsertAPI, args...)
	return fail("create api", err)
}

// GetAPI returns the API with the identifier; ErrNotFound.
func (db *DB) GetAPI(ctx context.Context, identifier string) (store.API, error) {
	a, err := scanAPI(db.queryRow(ctx, qGetAPI, identifier))
	if err != nil {
		return store.API{}, fail("get api", err)
	}
	return a, nil
}

// ListAPIs returns every API, by identifier.
func (db *DB) ListAPIs(ctx context.Context) ([]store.API, error) {
	rows, err := db.query(ctx, qListAPIs)
	if err != nil {
		return nil, fail("list apis", err)
	}
	defer rows.Close()
	var as []store.API
	for rows.Next() {
		a, err := scanAPI(rows)
		if err != nil {
			return nil, fail("list apis", err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list apis", err)
	}
	return as, nil
}

// UpdateAPI replaces every field of the API but its identifier and
// CreatedAt, and removes the permissions of the scopes it no longer has
// from roles and users; ErrNotFound.
func (db *DB) UpdateAPI(ctx context.Context, a store.API) error {
	args := append(apiFields(a), a.Identifier)
	err := db.inTx(ctx, func(t tx) error {
		if err := changed(t.exec(ctx, qUpdateAPI, args...)); err != nil {
			return err
		}
		for _, q := range []string{qDropRolePermissions, qDropUserPermissions} {
			if _, err := t.exec(ctx, q, a.Identifier); err != nil {
				return err
			}
		}
		return nil
	})
	return fail("update api", err)
}

// DeleteAPI removes the API with its client grants and the permissions of
// its scopes (ON DELETE CASCADE); ErrNotFound. Tokens already issued for it
// stay until they expire or are revoked.
func (db *DB) DeleteAPI(ctx context.Context, identifier string) error {
	return fail("delete api", changed(db.exec(ctx, qDeleteAPI, identifier)))
}
