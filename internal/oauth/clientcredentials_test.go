package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// ccEnv is a provider with two APIs and machine-to-machine clients with
// zero, one and two client grants.
type ccEnv struct {
	*env
	api, other     store.API
	two, one, none client // m2m clients with two, one and no client grants
	web            client // a regular web application
	publicCC       client // a public client whose record claims client_credentials
}

func newCCEnv(t testing.TB) *ccEnv {
	t.Helper()
	return newCCEnvWith(t, nil)
}

// newCCEnvWith is newCCEnv with edit applied to the provider's
// configuration.
func newCCEnvWith(t testing.TB, edit func(*oauth.Config)) *ccEnv {
	t.Helper()
	e := &ccEnv{env: newEnvWith(t, edit)}
	e.api = e.newAPI(t, store.API{Identifier: "https://api.example", SigningAlgorithm: "ES256", TokenLifetime: 10 * time.Minute,
		Scopes: []store.APIScope{{Name: "read:things"}, {Name: "write:things"}, {Name: "admin"}}})
	e.other = e.newAPI(t, store.API{Identifier: "urn:other", Scopes: []store.APIScope{{Name: "use"}}})
	m2m := oauth.NewClientParams{Type: store.ClientM2M}
	e.two, e.one, e.none = e.newClient(t, m2m), e.newClient(t, m2m), e.newClient(t, m2m)
	e.web = e.newClient(t, oauth.NewClientParams{})
	e.publicCC = e.newClientWith(t, oauth.NewClientParams{Type: store.ClientSPA, TokenEndpointAuthMethod: store.AuthMethodNone},
		func(c *store.Client) { c.GrantTypes = []string{store.GrantClientCredentials} })
	for i, g := range []store.ClientGrant{
		{ClientID: e.two.ID, Audience: e.api.Identifier, Scopes: []string{"write:things", "read:things"}},
		{ClientID: e.two.ID, Audience: e.other.Identifier, Scopes: []string{"use"}},
		{ClientID: e.one.ID, Audience: e.other.Identifier, Scopes: []string{"use"}},
		{ClientID: e.publicCC.ID, Audience: e.api.Identifier, Scopes: []string{"read:things"}},
	} {
		g.ID = "cgr_" + string(rune('a'+i))
		if err := e.st.CreateClientGrant(t.Context(), g); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// cc is a client_credentials request of c with client_secret_post and the
// extra parameters, name and value pairs.
func cc(c client, kv ...string) url.Values {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secret}}
	for i := 0; i < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return form
}

// TestClientCredentialsErrors covers every refusal of the
// client_credentials grant, in RFC 6749 §5.2's shape.
func TestClientCredentialsErrors(t *testing.T) {
	e := newCCEnv(t)
	tests := []struct {
		name       string
		form       url.Values
		setup      func(*http.Request)
		wantStatus int
		wantError  string
	}{
		{"wrong secret", cc(client{ID: e.two.ID, Secret: e.one.Secret}, "audience", e.api.Identifier), nil, http.StatusUnauthorized, "invalid_client"},
		{"no secret", cc(client{ID: e.two.ID}, "audience", e.api.Identifier), nil, http.StatusUnauthorized, "invalid_client"},
		{"wrong secret, basic", url.Values{"grant_type": {"client_credentials"}, "audience": {e.api.Identifier}},
			basicAuth(e.two.ID, e.web.Secret), http.StatusUnauthorized, "invalid_client"},
		{"unknown client", cc(client{ID: "nope", Secret: e.two.Secret}), nil, http.StatusUnauthorized, "invalid_client"},
		{"web application", cc(e.web, "audience", e.api.Identifier), nil, http.StatusBadRequest, "unauthorized_client"},
		{"public client", cc(client{ID: e.publicCC.ID}, "audience", e.api.Identifier), nil, http.StatusBadRequest, "unauthorized_client"},
		{"no audience, two grants", cc(e.two), nil, http.StatusBadRequest, "invalid_request"},
		{"no audience, no grant", cc(e.none), nil, http.StatusBadRequest, "invalid_request"},
		{"unknown audience", cc(e.two, "audience", "https://nope.example"), nil, http.StatusBadRequest, "invalid_request"},
		{"audience without a grant", cc(e.one, "audience", e.api.Identifier), nil, http.StatusForbidden, "access_denied"},
		{"no grant at all", cc(e.none, "audience", e.api.Identifier), nil, http.StatusForbidden, "access_denied"},
		{"no granted scope asked", cc(e.two, "audience", e.api.Identifier, "scope", "admin delete:things"), nil, http.StatusBadRequest, "invalid_scope"},
		{"only OpenID scopes asked", cc(e.two, "audience", e.api.Identifier, "scope", "openid offline_access"), nil, http.StatusBadRequest, "invalid_scope"},
		{"grant_type twice", func() url.Values {
			f := cc(e.two, "audience", e.api.Identifier)
			f.Add("grant_type", "client_credentials")
			return f
		}(), nil, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tokenReq(t, tt.form, tt.setup)
			checkError(t, r, tt.wantStatus, tt.wantError)
		})
	}
}

// TestClientCredentials checks the issued tokens: an RFC 9068 JWT for the
// API, signed with its algorithm and verified against the JWKS, with the
// client as subject; no refresh token, no ID token.
func TestClientCredentials(t *testing.T) {
	e := newCCEnv(t)
	tests := []struct {
		name      string
		form      url.Values
		setup     func(*http.Request)
		audience  string
		wantScope string
		ttl       time.Duration
	}{
		{"every granted scope", cc(e.two, "audience", e.api.Identifier), nil, e.api.Identifier, "write:things read:things", 10 * time.Minute},
		{"narrowed to the asked scopes", cc(e.two, "audience", e.api.Identifier, "scope", "read:things admin openid"), nil,
			e.api.Identifier, "read:things", 10 * time.Minute},
		{"an empty scope parameter asks for nothing", cc(e.two, "audience", e.api.Identifier, "scope", ""), nil,
			e.api.Identifier, "write:things read:things", 10 * time.Minute},
		{"the one grant without an audience", cc(e.one), nil, e.other.Identifier, "use", time.Hour},
		{"basic", url.Values{"grant_type": {"client_credentials"}, "audience": {e.other.Identifier}}, basicAuth(e.two.ID, e.two.Secret),
			e.other.Identifier, "use", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tokenReq(t, tt.form, tt.setup)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			checkNoStore(t, r.header)
			body := decodeJSON(t, r)
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(tt.ttl/time.Second) || body["scope"] != tt.wantScope {
				t.Errorf("response %s", r.body)
			}
			for _, k := range []string{"refresh_token", "id_token"} {
				if _, ok := body[k]; ok {
					t.Errorf("response has %s: %s", k, r.body)
				}
			}
			raw, _ := body["access_token"].(string)
			// Fetched after the token, as a resource server does for a kid
			// it has not seen: the API's ring was created for it.
			h, c := verifyJWT(t, e.jwks(t), raw)
			if typ, _ := h.ExtraHeaders["typ"].(string); typ != "at+jwt" {
				t.Errorf("typ %q, want at+jwt", typ)
			}
			wantAlg := "RS256"
			if tt.audience == e.api.Identifier {
				wantAlg = "ES256"
			}
			if h.Algorithm != wantAlg {
				t.Errorf("alg %s, want the API's %s", h.Algorithm, wantAlg)
			}
			clientID := tt.form.Get("client_id")
			if clientID == "" {
				clientID = e.two.ID
			}
			want := map[string]any{"iss": e.issuer, "sub": clientID + "@clients", "aud": tt.audience, "azp": clientID,
				"client_id": clientID, "gty": "client-credentials", "scope": tt.wantScope}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("claim %s = %v, want %v", k, c[k], v)
				}
			}
			iat, _ := c["iat"].(float64)
			exp, _ := c["exp"].(float64)
			if jti, _ := c["jti"].(string); jti == "" || exp-iat != tt.ttl.Seconds() || time.Since(time.Unix(int64(iat), 0)).Abs() > time.Minute {
				t.Errorf("jti %v, iat %v, exp %v", c["jti"], c["iat"], c["exp"])
			}
			for _, k := range []string{"auth_time", "email", "org_id", "nonce"} {
				if _, ok := c[k]; ok {
					t.Errorf("claim %s in a token without a user", k)
				}
			}
		})
	}

	t.Run("introspection", func(t *testing.T) {
		r := e.tokenReq(t, cc(e.two, "audience", e.api.Identifier), nil)
		tok, _ := decodeJSON(t, r)["access_token"].(string)
		r = e.clientPost(t, "/oauth/introspect", url.Values{"token": {tok}, "client_id": {e.web.ID}, "client_secret": {e.web.Secret}}, nil)
		if m := decodeJSON(t, r); m["active"] != true || m["sub"] != e.two.ID+"@clients" || m["client_id"] != e.two.ID {
			t.Errorf("introspection %s", r.body)
		}
	})

	t.Run("no userinfo", func(t *testing.T) {
		r := e.tokenReq(t, cc(e.two, "audience", e.api.Identifier), nil)
		tok, _ := decodeJSON(t, r)["access_token"].(string)
		req := e.newRequest(t, http.MethodGet, "/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if r := e.do(t, req); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo with a client's token: status %d: %s", r.status, r.body)
		}
	})

	t.Run("scopes the API lost", func(t *testing.T) {
		api := e.api
		api.Scopes = []store.APIScope{{Name: "read:things"}}
		if err := e.st.UpdateAPI(t.Context(), api); err != nil {
			t.Fatal(err)
		}
		r := e.tokenReq(t, cc(e.two, "audience", e.api.Identifier), nil)
		if m := decodeJSON(t, r); m["scope"] != "read:things" {
			t.Errorf("response %s", r.body)
		}
		r = e.tokenReq(t, cc(e.two, "audience", e.api.Identifier, "scope", "write:things"), nil)
		checkError(t, r, http.StatusBadRequest, "invalid_scope")
	})

	t.Run("a deleted grant issues no more", func(t *testing.T) {
		if err := e.st.DeleteClientGrant(t.Context(), "cgr_c"); err != nil {
			t.Fatal(err)
		}
		r := e.tokenReq(t, cc(e.one, "audience", e.other.Identifier), nil)
		checkError(t, r, http.StatusForbidden, "access_denied")
		if !strings.Contains(string(r.body), e.other.Identifier) {
			t.Errorf("the description does not name the audience: %s", r.body)
		}
	})
}
