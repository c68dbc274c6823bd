package mgmtapi_test

import (
	"testing"

	"gatehouse/internal/store"
)

type clientOut struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	Name                    string   `json:"name"`
	AppType                 string   `json:"app_type"`
	Callbacks               []string `json:"callbacks"`
	GrantTypes              []string `json:"grant_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	IsFirstParty            bool     `json:"is_first_party"`
	RefreshToken            struct {
		RotationType string `json:"rotation_type"`
		Leeway       int    `json:"leeway"`
	} `json:"refresh_token"`
	JWTConfiguration struct {
		LifetimeInSeconds int `json:"lifetime_in_seconds"`
	} `json:"jwt_configuration"`
}

func TestClients(t *testing.T) {
	e := newEnv(t)
	var c clientOut
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "Web", "app_type": "regular_web",
		"callbacks": []string{"https://app.example/cb"}, "grant_types": []string{"authorization_code", "refresh_token"},
		"jwt_configuration": map[string]any{"lifetime_in_seconds": 600}, "refresh_token": map[string]any{"rotation_type": "rotating", "leeway": 5}}, 201, &c)
	if c.ClientID == "" || len(c.ClientSecret) < 32 || c.AppType != "regular_web" || c.TokenEndpointAuthMethod != "client_secret_basic" ||
		c.JWTConfiguration.LifetimeInSeconds != 600 || c.RefreshToken.Leeway != 5 || len(c.GrantTypes) != 2 {
		t.Fatalf("created: %+v", c)
	}
	secret := c.ClientSecret
	// The secret is shown once.
	var got clientOut
	e.call(t, "GET", "/api/v2/clients/"+c.ClientID, nil, 200, &got)
	if got.ClientSecret != "" || got.Name != "Web" {
		t.Fatalf("get: %+v", got)
	}
	got = clientOut{}
	e.call(t, "PATCH", "/api/v2/clients/"+c.ClientID, map[string]any{"name": "Web 2", "is_first_party": true,
		"refresh_token": map[string]any{"rotation_type": "non-rotating"}}, 200, &got)
	if got.Name != "Web 2" || !got.IsFirstParty || got.RefreshToken.RotationType != "non-rotating" || got.ClientSecret != "" {
		t.Fatalf("patched: %+v", got)
	}
	e.call(t, "POST", "/api/v2/clients/"+c.ClientID+"/rotate-secret", nil, 200, &got)
	if got.ClientSecret == "" || got.ClientSecret == secret {
		t.Fatalf("rotated secret: %q", got.ClientSecret)
	}
	stored, err := e.st.GetClient(t.Context(), c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretHash == "" || stored.SecretHash == got.ClientSecret {
		t.Fatal("the secret must be stored hashed")
	}

	// A machine-to-machine application: Auth0's app type name.
	var m2m clientOut
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "Backend", "app_type": "non_interactive"}, 201, &m2m)
	if m2m.AppType != "non_interactive" || len(m2m.GrantTypes) != 1 || m2m.GrantTypes[0] != store.GrantClientCredentials {
		t.Fatalf("m2m: %+v", m2m)
	}
	var spa clientOut
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "SPA", "app_type": "spa", "callbacks": []string{"https://spa.example/"}}, 201, &spa)
	if spa.ClientSecret != "" || spa.TokenEndpointAuthMethod != "none" {
		t.Fatalf("spa: %+v", spa)
	}

	var list []clientOut
	e.call(t, "GET", "/api/v2/clients?app_type=non_interactive", nil, 200, &list)
	if len(list) != 1 || list[0].ClientID != m2m.ClientID {
		t.Fatalf("filtered list: %+v", list)
	}

	tok := e.token(t, all...)
	tests := []struct {
		name, method, path string
		body               map[string]any
		status             int
		msg                string
	}{
		{"no name", "POST", "/api/v2/clients", map[string]any{"callbacks": []string{"https://a.example/cb"}}, 400, "needs a name"},
		{"no callback", "POST", "/api/v2/clients", map[string]any{"name": "x"}, 400, "callback"},
		{"bad type", "POST", "/api/v2/clients", map[string]any{"name": "x", "app_type": "tv"}, 400, "application type"},
		{"implicit grant for a native app", "POST", "/api/v2/clients", map[string]any{"name": "x", "app_type": "native", "callbacks": []string{"http://127.0.0.1:7/cb"}, "grant_types": []string{"authorization_code", "implicit"}}, 400, "grant_types"},
		{"password grant", "POST", "/api/v2/clients", map[string]any{"name": "x", "callbacks": []string{"https://a.example/cb"}, "grant_types": []string{"authorization_code", "password"}}, 400, "grant_types"},
		{"infinite refresh", "POST", "/api/v2/clients", map[string]any{"name": "x", "callbacks": []string{"https://a.example/cb"}, "refresh_token": map[string]any{"infinite_token_lifetime": true}}, 400, "always expire"},
		{"unknown field", "POST", "/api/v2/clients", map[string]any{"name": "x", "logo_uri": "https://a.example/l.png"}, 400, "Additional properties not allowed: logo_uri"},
		{"set a secret on patch", "PATCH", "/api/v2/clients/" + c.ClientID, map[string]any{"client_secret": "0123456789abcdef0123456789abcdef"}, 400, "rotate-secret"},
		{"change the id", "PATCH", "/api/v2/clients/" + c.ClientID, map[string]any{"client_id": "other"}, 400, "cannot be changed"},
		{"unknown client", "GET", "/api/v2/clients/nope", nil, 404, "not found"},
		{"rotate a public client", "POST", "/api/v2/clients/" + spa.ClientID + "/rotate-secret", nil, 400, "public"},
		{"taken id", "POST", "/api/v2/clients", map[string]any{"client_id": c.ClientID, "name": "x", "callbacks": []string{"https://a.example/cb"}}, 409, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != nil {
				body = tt.body
			}
			status, b := e.do(t, tt.method, tt.path, body, tok)
			wantError(t, status, b, tt.status, tt.msg)
		})
	}
	e.call(t, "DELETE", "/api/v2/clients/"+c.ClientID, nil, 204, nil)
	status, b := e.do(t, "DELETE", "/api/v2/clients/"+c.ClientID, nil, tok)
	wantError(t, status, b, 404, "not found")
}

func TestClientGrants(t *testing.T) {
	e := newEnv(t)
	var m2m clientOut
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "Backend", "app_type": "non_interactive"}, 201, &m2m)
	var web clientOut
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "Web", "callbacks": []string{"https://a.example/cb"}}, 201, &web)
	aud := e.issuer + "/api/v2/"
	var g struct {
		ID       string   `json:"id"`
		ClientID string   `json:"client_id"`
		Audience string   `json:"audience"`
		Scope    []string `json:"scope"`
	}
	e.call(t, "POST", "/api/v2/client-grants", map[string]any{"client_id": m2m.ClientID, "audience": aud, "scope": []string{"read:users"}}, 201, &g)
	if g.ID == "" || g.Audience != aud || len(g.Scope) != 1 {
		t.Fatalf("grant: %+v", g)
	}
	e.call(t, "PATCH", "/api/v2/client-grants/"+g.ID, map[string]any{"scope": []string{"read:users", "create:users"}}, 200, &g)
	if len(g.Scope) != 2 {
		t.Fatalf("patched grant: %+v", g)
	}
	var list []map[string]any
	e.call(t, "GET", "/api/v2/client-grants?client_id="+m2m.ClientID, nil, 200, &list)
	if len(list) != 1 {
		t.Fatalf("list: %v", list)
	}
	tok := e.token(t, all...)
	for _, tt := range []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"missing fields", map[string]any{"client_id": m2m.ClientID}, 400, "required"},
		{"unknown scope", map[string]any{"client_id": m2m.ClientID, "audience": aud, "scope": []string{"launch:rockets"}}, 400, "launch:rockets"},
		{"not m2m", map[string]any{"client_id": web.ClientID, "audience": aud, "scope": []string{}}, 400, "m2m"},
		{"unknown API", map[string]any{"client_id": m2m.ClientID, "audience": "https://nope.example", "scope": []string{}}, 404, "not found"},
		{"second grant for the audience", map[string]any{"client_id": m2m.ClientID, "audience": aud, "scope": []string{}}, 409, "already"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, b := e.do(t, "POST", "/api/v2/client-grants", tt.body, tok)
			wantError(t, status, b, tt.status, tt.msg)
		})
	}
	e.call(t, "DELETE", "/api/v2/client-grants/"+g.ID, nil, 204, nil)
	status, b := e.do(t, "GET", "/api/v2/client-grants/"+g.ID, nil, tok)
	wantError(t, status, b, 404, "not found")
}
