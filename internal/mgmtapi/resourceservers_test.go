package mgmtapi_test

import (
	"net/url"
	"testing"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

type resourceServerOut struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	IsSystem   bool   `json:"is_system"`
	Scopes     []struct {
		Value       string `json:"value"`
		Description string `json:"description"`
	} `json:"scopes"`
	SigningAlg                                string `json:"signing_alg"`
	TokenLifetime                             *int   `json:"token_lifetime"`
	AllowOfflineAccess                        bool   `json:"allow_offline_access"`
	SkipConsentForVerifiableFirstPartyClients bool   `json:"skip_consent_for_verifiable_first_party_clients"`
	EnforcePolicies                           bool   `json:"enforce_policies"`
	TokenDialect                              string `json:"token_dialect"`
}

func TestResourceServersAPI(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, all...)
	var rs resourceServerOut
	e.call(t, "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://api.example/v1",
		"scopes":         []map[string]any{{"value": "read:things", "description": "Read things"}, {"value": "write:things"}},
		"token_lifetime": 600, "allow_offline_access": true}, 201, &rs)
	if rs.ID != mgmt.APIID("https://api.example/v1") || rs.Name != "https://api.example/v1" || rs.IsSystem ||
		len(rs.Scopes) != 2 || rs.Scopes[0].Description != "Read things" || rs.SigningAlg != "RS256" ||
		rs.TokenLifetime == nil || *rs.TokenLifetime != 600 || !rs.AllowOfflineAccess || rs.EnforcePolicies || rs.TokenDialect != "rfc9068_profile" {
		t.Fatalf("created %+v", rs)
	}

	// By ID or by identifier (escaped: it holds slashes).
	for _, key := range []string{rs.ID, url.PathEscape(rs.Identifier)} {
		var got resourceServerOut
		e.call(t, "GET", "/api/v2/resource-servers/"+key, nil, 200, &got)
		if got.Identifier != rs.Identifier {
			t.Fatalf("get %s: %+v", key, got)
		}
	}

	var patched resourceServerOut
	e.call(t, "PATCH", "/api/v2/resource-servers/"+rs.ID, map[string]any{"enforce_policies": true,
		"token_dialect": "access_token_authz", "name": "Things", "skip_consent_for_verifiable_first_party_clients": true}, 200, &patched)
	if !patched.EnforcePolicies || patched.TokenDialect != "access_token_authz" || patched.Name != "Things" ||
		!patched.SkipConsentForVerifiableFirstPartyClients || len(patched.Scopes) != 2 {
		t.Fatalf("patched %+v", patched)
	}
	stored, err := e.st.GetAPI(t.Context(), rs.Identifier)
	if err != nil || !stored.RBAC || stored.TokenDialect != store.DialectAccessTokenAuthz {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	patched = resourceServerOut{}
	e.call(t, "PATCH", "/api/v2/resource-servers/"+rs.ID, map[string]any{"token_lifetime": 0}, 200, &patched)
	if patched.TokenLifetime != nil {
		t.Fatalf("token_lifetime 0 (the server's) shown as %v", *patched.TokenLifetime)
	}

	var mgmtAPI resourceServerOut
	e.call(t, "GET", "/api/v2/resource-servers/"+url.PathEscape(store.ManagementAudience(e.issuer)), nil, 200, &mgmtAPI)
	if !mgmtAPI.IsSystem || len(mgmtAPI.Scopes) != len(mgmt.ManagementScopes) {
		t.Fatalf("management API %+v", mgmtAPI)
	}

	refused := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"create without identifier", "POST", "/api/v2/resource-servers", map[string]any{"name": "X"}, 400, "Missing required property: identifier"},
		{"create a taken identifier", "POST", "/api/v2/resource-servers", map[string]any{"identifier": rs.Identifier}, 409, "already exists"},
		{"create with a relative identifier", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "api"}, 400, "absolute URI"},
		{"create with HS256", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "signing_alg": "HS256"}, 400, "not RS256, ES256 or EdDSA"},
		{"create with a long lifetime", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "token_lifetime": 2592001}, 400, "token_lifetime"},
		{"create with a negative lifetime", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "token_lifetime": -1}, 400, "token_lifetime"},
		{"create with an unknown dialect", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "token_dialect": "jwt"}, 400, `token dialect "jwt"`},
		{"create with the permissions claim but no RBAC", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "token_dialect": "rfc9068_profile_authz"}, 400, "needs RBAC"},
		{"create with an unknown field", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "signing_secret": "0123456789abcdef"}, 400, "Additional properties not allowed: signing_secret"},
		{"create with a scope without value", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "scopes": []map[string]any{{"description": "x"}}}, 400, "must not be empty"},
		{"create with an OpenID scope", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "scopes": []map[string]any{{"value": "openid"}}}, 400, "OpenID Connect scope"},
		{"create with a scope's unknown field", "POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://b.example", "scopes": []map[string]any{{"value": "a", "name": "a"}}}, 400, "Additional properties not allowed: name"},
		{"patch the identifier", "PATCH", "/api/v2/resource-servers/" + rs.ID, map[string]any{"identifier": "https://c.example"}, 400, "Additional properties not allowed: identifier"},
		{"patch RBAC off with the claim", "PATCH", "/api/v2/resource-servers/" + rs.ID, map[string]any{"enforce_policies": false, "token_dialect": "access_token_authz"}, 400, "needs RBAC"},
		{"patch unknown", "PATCH", "/api/v2/resource-servers/" + mgmt.APIID("https://nope.example"), map[string]any{"name": "X"}, 404, "not found"},
		{"get unknown", "GET", "/api/v2/resource-servers/nope", nil, 404, "not found"},
		{"delete unknown", "DELETE", "/api/v2/resource-servers/" + url.PathEscape("https://nope.example"), nil, 404, "not found"},
		{"delete the management API", "DELETE", "/api/v2/resource-servers/" + mgmtAPI.ID, nil, 400, "cannot be deleted"},
		{"drop a scope of the management API", "PATCH", "/api/v2/resource-servers/" + mgmtAPI.ID,
			map[string]any{"scopes": []map[string]any{{"value": "read:users"}}}, 400, "the management API needs its scope"},
		{"list with an unknown parameter", "GET", "/api/v2/resource-servers?include_fields=true", nil, 400, "Query validation error"},
		{"list with eleven identifiers", "GET", "/api/v2/resource-servers?identifiers=a&identifiers=b&identifiers=c&identifiers=d&identifiers=e&identifiers=f&identifiers=g&identifiers=h&identifiers=i&identifiers=j&identifiers=k", nil, 400, "at most 10"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}

	// The management API may change in ways that do not break it.
	var renamed resourceServerOut
	e.call(t, "PATCH", "/api/v2/resource-servers/"+mgmtAPI.ID, map[string]any{"token_lifetime": 3600, "token_dialect": "access_token"}, 200, &renamed)
	if renamed.TokenDialect != "access_token" {
		t.Fatalf("management API %+v", renamed)
	}
	// ... and its tokens in that dialect still pass.
	auth0Token := e.tokenWith(t, map[string]any{"client_id": nil, "jti": nil, "azp": "m2m-app", "scope": "read:resource_servers"})
	if status, body := e.do(t, "GET", "/api/v2/resource-servers", nil, auth0Token); status != 200 {
		t.Fatalf("a token of the hosted service's profile: %d %s", status, body)
	}

	var list []resourceServerOut
	e.call(t, "GET", "/api/v2/resource-servers", nil, 200, &list)
	if len(list) != 2 {
		t.Fatalf("list %+v", list)
	}
	e.call(t, "GET", "/api/v2/resource-servers?identifiers="+url.QueryEscape(rs.Identifier), nil, 200, &list)
	if len(list) != 1 || list[0].ID != rs.ID {
		t.Fatalf("filtered list %+v", list)
	}
	var page struct {
		Start, Limit, Length, Total int
		ResourceServers             []resourceServerOut `json:"resource_servers"`
	}
	e.call(t, "GET", "/api/v2/resource-servers?per_page=1&page=1&include_totals=true", nil, 200, &page)
	if page.Total != 2 || page.Length != 1 || len(page.ResourceServers) != 1 {
		t.Fatalf("page %+v", page)
	}

	status, body := e.do(t, "DELETE", "/api/v2/resource-servers/"+url.PathEscape(rs.Identifier), nil, tok)
	if status != 204 || len(body) != 0 {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = e.do(t, "DELETE", "/api/v2/resource-servers/"+rs.ID, nil, tok)
	wantError(t, status, body, 404, "not found")
}
