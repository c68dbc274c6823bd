package oauth_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

const rbacAPI = "https://rbac.example"

// rbacEnv is a provider with an API whose RBAC and dialect a test sets, a
// first-party application, a logged-in user holding the reader role
// (read:messages) and write:messages directly, and an organization the
// user is a member of, where they hold the admin role (delete:messages).
type rbacEnv struct {
	*env
	app    client
	user   store.User
	cookie *http.Cookie
	org    store.Organization
}

func newRBACEnv(t *testing.T, rbac bool, dialect string) *rbacEnv {
	t.Helper()
	e := &rbacEnv{env: newEnv(t)}
	ctx := t.Context()
	e.newAPI(t, store.API{Identifier: rbacAPI, AllowOfflineAccess: true, RBAC: rbac, TokenDialect: dialect,
		Scopes: []store.APIScope{{Name: "read:messages"}, {Name: "write:messages"}, {Name: "delete:messages"}}})
	e.app = e.newClientWith(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true},
		func(c *store.Client) { c.OrganizationUsage = store.OrgUsageAllow })
	e.user, _, e.cookie = e.login(t)
	now := e.clock.Now().UTC()
	e.org = store.Organization{ID: "org_rbac", Name: "rbac", DisplayName: "RBAC", CreatedAt: now, UpdatedAt: now,
		Connections: []store.OrgConnection{{Name: store.DefaultDatabaseConnection}}}
	must(t, e.st.CreateOrganization(ctx, e.org))
	must(t, e.st.AddMember(ctx, e.org.ID, e.user.ID))
	for _, r := range []struct{ id, perm string }{{"rol_reader", "read:messages"}, {"rol_admin", "delete:messages"}} {
		must(t, e.st.CreateRole(ctx, store.Role{ID: r.id, Name: r.id, CreatedAt: now, UpdatedAt: now}))
		must(t, e.st.AddRolePermissions(ctx, r.id, []store.Permission{{Audience: rbacAPI, Name: r.perm}}))
	}
	must(t, e.st.AssignRoles(ctx, []store.RoleAssignment{
		{UserID: e.user.ID, RoleID: "rol_reader"},
		{UserID: e.user.ID, RoleID: "rol_admin", OrgID: e.org.ID},
	}))
	must(t, e.st.AddUserPermissions(ctx, e.user.ID, []store.Permission{{Audience: rbacAPI, Name: "write:messages"}}))
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// allScopes asks for every scope of the API and the OpenID ones.
const allScopes = "openid profile offline_access read:messages write:messages delete:messages"

// token runs /authorize and /oauth/token for the API with the scopes, in
// the organization when org is set.
func (e *rbacEnv) token(t *testing.T, scope, org string) tokenResult {
	t.Helper()
	q := url.Values{"audience": {rbacAPI}, "scope": {scope}}
	if org != "" {
		q.Set("organization", org)
	}
	return e.exchange(t, e.app, e.code(t, e.app, e.cookie, q), nil)
}

// verifyAsResourceServer checks an access token the way an API written
// against the hosted service does, with go-jose: signature against the
// JWKS, issuer, audience, expiry. It returns the header's typ and the
// claims.
func verifyAsResourceServer(t *testing.T, e *env, raw string) (string, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, jwtAlgorithms)
	if err != nil {
		t.Fatalf("parse access token: %v", err)
	}
	set := e.jwks(t)
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	all := map[string]any{}
	if err := tok.Claims(keys[0].Key, &std, &all); err != nil {
		t.Fatalf("access token signature: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: e.issuer, AnyAudience: jwt.Audience{rbacAPI}, Time: e.clock.Now()}, time.Minute); err != nil {
		t.Fatalf("access token claims: %v", err)
	}
	typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string)
	return typ, all
}

// wantClaimNames checks that the claims are exactly these.
func wantClaimNames(t *testing.T, claims map[string]any, want ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(claims))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("claims %q, want %q (%v)", got, want, claims)
	}
}

func permissionsClaim(t *testing.T, claims map[string]any) []string {
	t.Helper()
	raw, ok := claims["permissions"].([]any)
	if !ok {
		t.Fatalf("permissions claim %v (%T), want an array", claims["permissions"], claims["permissions"])
	}
	out := []string{}
	for _, p := range raw {
		out = append(out, p.(string))
	}
	return out
}

// TestRBACDialects drives the code flow for an API in each dialect, with
// RBAC on and off, and checks the token as a resource server would.
func TestRBACDialects(t *testing.T) {
	rfc9068Claims := []string{"iss", "sub", "aud", "client_id", "iat", "exp", "jti", "scope", "auth_time"}
	auth0Claims := []string{"iss", "sub", "aud", "azp", "iat", "exp", "scope"}
	tests := []struct {
		name        string
		rbac        bool
		dialect     string
		typ         string
		claims      []string
		scope       string
		permissions []string // nil: no permissions claim
	}{
		{"RBAC off, default dialect", false, "", "at+jwt", rfc9068Claims,
			"delete:messages offline_access openid profile read:messages write:messages", nil},
		{"RBAC off, hosted service's profile", false, store.DialectAccessToken, "JWT", auth0Claims,
			"delete:messages offline_access openid profile read:messages write:messages", nil},
		{"RBAC, rfc9068_profile", true, store.DialectRFC9068, "at+jwt", rfc9068Claims,
			"offline_access openid profile read:messages write:messages", nil},
		{"RBAC, rfc9068_profile_authz", true, store.DialectRFC9068Authz, "at+jwt", append(rfc9068Claims, "permissions"),
			"offline_access openid profile read:messages write:messages", []string{"read:messages", "write:messages"}},
		{"RBAC, access_token", true, store.DialectAccessToken, "JWT", auth0Claims,
			"offline_access openid profile read:messages write:messages", nil},
		{"RBAC, access_token_authz", true, store.DialectAccessTokenAuthz, "JWT", append(auth0Claims, "permissions"),
			"offline_access openid profile read:messages write:messages", []string{"read:messages", "write:messages"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRBACEnv(t, tt.rbac, tt.dialect)
			tr := e.token(t, allScopes, "")
			if tr.Scope != tt.scope {
				t.Errorf("granted scope %q, want %q", tr.Scope, tt.scope)
			}
			typ, c := verifyAsResourceServer(t, e.env, tr.AccessToken)
			if typ != tt.typ {
				t.Errorf("typ %q, want %q", typ, tt.typ)
			}
			wantClaimNames(t, c, tt.claims...)
			if c["scope"] != tt.scope || c["sub"] != e.user.ID {
				t.Errorf("scope %v, sub %v", c["scope"], c["sub"])
			}
			if c["azp"] != nil && c["azp"] != e.app.ID || c["client_id"] != nil && c["client_id"] != e.app.ID {
				t.Errorf("azp %v, client_id %v, want %s", c["azp"], c["client_id"], e.app.ID)
			}
			if tt.permissions != nil && !slices.Equal(permissionsClaim(t, c), tt.permissions) {
				t.Errorf("permissions %v, want %q", c["permissions"], tt.permissions)
			}

			// Gatehouse itself accepts the token in either profile.
			req := e.newRequest(t, http.MethodGet, "/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
			if r := e.do(t, req); r.status != http.StatusOK || decodeJSON(t, r)["sub"] != e.user.ID {
				t.Errorf("userinfo: %d %s", r.status, r.body)
			}
			intro := decodeJSON(t, e.clientPost(t, "/oauth/introspect", url.Values{"token": {tr.AccessToken}}, basicAuth(e.app.ID, e.app.Secret)))
			if intro["active"] != true || intro["client_id"] != e.app.ID || intro["scope"] != tt.scope || intro["sub"] != e.user.ID {
				t.Errorf("introspection %v", intro)
			}
			if _, ok := intro["jti"]; ok != (tt.typ == "at+jwt") {
				t.Errorf("introspection jti %v for typ %s", intro["jti"], tt.typ)
			}
			// The ID token of the same response is no access token.
			req = e.newRequest(t, http.MethodGet, "/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tr.IDToken)
			if r := e.do(t, req); r.status != http.StatusUnauthorized {
				t.Errorf("userinfo with the ID token: %d", r.status)
			}
			intro = decodeJSON(t, e.clientPost(t, "/oauth/introspect", url.Values{"token": {tr.IDToken}}, basicAuth(e.app.ID, e.app.Secret)))
			if intro["active"] != false {
				t.Errorf("introspection of the ID token %v", intro)
			}
		})
	}
}

// TestRBACGoOIDCVerifiesAccessTokens checks that go-oidc's verifier, as an
// API built on it uses it, accepts the hosted service's profile of access
// token, with the API as the audience.
func TestRBACGoOIDCVerifiesAccessTokens(t *testing.T) {
	e := newRBACEnv(t, true, store.DialectAccessTokenAuthz)
	tr := e.token(t, "openid read:messages", "")
	provider, err := oidc.NewProvider(t.Context(), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	v := provider.Verifier(&oidc.Config{ClientID: rbacAPI, Now: e.clock.Now})
	tok, err := v.Verify(t.Context(), tr.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc refused the access token: %v", err)
	}
	var c struct {
		Azp         string   `json:"azp"`
		Scope       string   `json:"scope"`
		Permissions []string `json:"permissions"`
	}
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if tok.Subject != e.user.ID || c.Azp != e.app.ID || c.Scope != "openid read:messages" || !slices.Equal(c.Permissions, []string{"read:messages", "write:messages"}) {
		t.Errorf("claims %+v, subject %s", c, tok.Subject)
	}
}

// TestRBACOrganizationRoles checks that roles held in an organization count
// only for tokens issued in it.
func TestRBACOrganizationRoles(t *testing.T) {
	e := newRBACEnv(t, true, store.DialectRFC9068Authz)
	outside := e.token(t, allScopes, "")
	inside := e.token(t, allScopes, e.org.ID)
	if outside.Scope != "offline_access openid profile read:messages write:messages" {
		t.Errorf("scope outside the organization %q", outside.Scope)
	}
	if inside.Scope != "delete:messages offline_access openid profile read:messages write:messages" {
		t.Errorf("scope inside the organization %q", inside.Scope)
	}
	_, c := verifyAsResourceServer(t, e.env, inside.AccessToken)
	if got := permissionsClaim(t, c); !slices.Equal(got, []string{"delete:messages", "read:messages", "write:messages"}) || c["org_id"] != e.org.ID {
		t.Errorf("permissions %q, org_id %v", got, c["org_id"])
	}

	// Refreshing keeps the organization, and so its roles.
	r := e.refresh(t, e.app, inside.RefreshToken)
	var refreshed tokenResult
	if err := json.Unmarshal(r.body, &refreshed); err != nil || r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	if refreshed.Scope != inside.Scope {
		t.Errorf("refreshed scope %q, want %q", refreshed.Scope, inside.Scope)
	}
	// Leaving the organization ends the refresh family's use.
	must(t, e.st.RemoveMember(t.Context(), e.org.ID, e.user.ID))
	checkError(t, e.refresh(t, e.app, refreshed.RefreshToken), http.StatusBadRequest, "invalid_grant")
}

// TestRBACRefreshFollowsPermissions checks that each refresh narrows the
// scopes asked for at login by the permissions of that moment: a permission
// taken away is gone from the next token, one given comes back.
func TestRBACRefreshFollowsPermissions(t *testing.T) {
	e := newRBACEnv(t, true, store.DialectAccessTokenAuthz)
	ctx := t.Context()
	tr := e.token(t, allScopes, "")
	refresh := func(want string, wantPerms ...string) {
		t.Helper()
		r := e.refresh(t, e.app, tr.RefreshToken)
		if r.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		if err := json.Unmarshal(r.body, &tr); err != nil {
			t.Fatal(err)
		}
		if tr.Scope != want {
			t.Errorf("scope %q, want %q", tr.Scope, want)
		}
		_, c := verifyAsResourceServer(t, e.env, tr.AccessToken)
		if got := permissionsClaim(t, c); !slices.Equal(got, wantPerms) {
			t.Errorf("permissions %q, want %q", got, wantPerms)
		}
	}
	must(t, e.st.UnassignRoles(ctx, []store.RoleAssignment{{UserID: e.user.ID, RoleID: "rol_reader"}}))
	refresh("offline_access openid profile write:messages", "write:messages")
	must(t, e.st.AssignRoles(ctx, []store.RoleAssignment{{UserID: e.user.ID, RoleID: "rol_admin"}}))
	refresh("delete:messages offline_access openid profile write:messages", "delete:messages", "write:messages")
	must(t, e.st.RemoveUserPermissions(ctx, e.user.ID, []store.Permission{{Audience: rbacAPI, Name: "write:messages"}}))
	must(t, e.st.UnassignRoles(ctx, []store.RoleAssignment{{UserID: e.user.ID, RoleID: "rol_admin"}}))
	refresh("offline_access openid profile") // an empty permissions claim is an empty array
}

// TestRBACClientCredentials checks the client_credentials tokens of each
// dialect: RBAC does not narrow them, and the permissions claim is the
// grant's scopes.
func TestRBACClientCredentials(t *testing.T) {
	tests := []struct {
		dialect     string
		typ         string
		claims      []string
		permissions bool
	}{
		{store.DialectRFC9068, "at+jwt", []string{"iss", "sub", "aud", "azp", "client_id", "gty", "iat", "exp", "jti", "scope"}, false},
		{store.DialectRFC9068Authz, "at+jwt", []string{"iss", "sub", "aud", "azp", "client_id", "gty", "iat", "exp", "jti", "scope", "permissions"}, true},
		{store.DialectAccessToken, "JWT", []string{"iss", "sub", "aud", "azp", "gty", "iat", "exp", "scope"}, false},
		{store.DialectAccessTokenAuthz, "JWT", []string{"iss", "sub", "aud", "azp", "gty", "iat", "exp", "scope", "permissions"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			e := newRBACEnv(t, true, tt.dialect)
			m2m := e.newClient(t, oauth.NewClientParams{Type: store.ClientM2M})
			must(t, e.st.CreateClientGrant(t.Context(), store.ClientGrant{ID: "cgr_rbac", ClientID: m2m.ID, Audience: rbacAPI,
				Scopes: []string{"write:messages", "delete:messages"}}))
			r := e.tokenReq(t, cc(m2m, "scope", "delete:messages read:messages"), nil)
			if r.status != http.StatusOK {
				t.Fatalf("client credentials: %d %s", r.status, r.body)
			}
			body := decodeJSON(t, r)
			typ, c := verifyAsResourceServer(t, e.env, body["access_token"].(string))
			if typ != tt.typ {
				t.Errorf("typ %q, want %q", typ, tt.typ)
			}
			wantClaimNames(t, c, tt.claims...)
			if c["sub"] != m2m.ID+"@clients" || c["azp"] != m2m.ID || c["gty"] != "client-credentials" || c["scope"] != "delete:messages" {
				t.Errorf("claims %v", c)
			}
			if tt.permissions && !slices.Equal(permissionsClaim(t, c), []string{"delete:messages"}) {
				t.Errorf("permissions %v", c["permissions"])
			}
			intro := decodeJSON(t, e.clientPost(t, "/oauth/introspect", url.Values{"token": {body["access_token"].(string)}}, basicAuth(e.app.ID, e.app.Secret)))
			if intro["active"] != true || intro["client_id"] != m2m.ID {
				t.Errorf("introspection %v", intro)
			}
		})
	}
}

// TestRBACConsent checks that with RBAC a remembered consent only needs to
// cover the scopes the user may get, as the consent page stores it.
func TestRBACConsent(t *testing.T) {
	for _, rbac := range []bool{true, false} {
		e := newRBACEnv(t, rbac, "")
		ctx := t.Context()
		// A third-party application: it asks for consent.
		app := e.newClientWith(t, oauth.NewClientParams{AllowOfflineAccess: true}, nil)
		now := e.clock.Now().UTC()
		must(t, e.st.UpsertGrant(ctx, store.Grant{UserID: e.user.ID, ClientID: app.ID, Audience: rbacAPI,
			Scopes: []string{"openid", "read:messages", "write:messages"}, CreatedAt: now, UpdatedAt: now}))
		q := authQuery(app)
		q.Set("audience", rbacAPI)
		q.Set("scope", "openid read:messages delete:messages")
		r := e.get(t, "/authorize", q, e.cookie)
		loc := location(t, r)
		gotCode := loc.Query().Get("code") != ""
		if gotCode != rbac {
			t.Errorf("RBAC %t: code issued at once %t (Location %s)", rbac, gotCode, loc)
		}
		if !rbac && loc.Path != "/u/consent" {
			t.Errorf("without RBAC, delete:messages needs consent: Location %s", loc)
		}
		if gotCode {
			tr := e.exchange(t, app, loc.Query().Get("code"), nil)
			if tr.Scope != "openid read:messages" {
				t.Errorf("scope %q", tr.Scope)
			}
		}
	}
}
