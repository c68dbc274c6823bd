package mgmtapi_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/store"
)

// TestResourceRoutesAuthorization checks every route of connections,
// organizations, tickets and signing keys: no token is 401, a token
// without the route's scope 403, before anything else is looked at.
func TestResourceRoutesAuthorization(t *testing.T) {
	e := newEnv(t)
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	n := 0
	for _, rt := range e.api.Routes() {
		if !slices.ContainsFunc([]string{"/connections", "/organizations", "/tickets", "/keys"}, func(p string) bool {
			return strings.HasPrefix(rt.Path, p)
		}) {
			continue
		}
		n++
		path := "/api/v2" + param.ReplaceAllString(rt.Path, "x")
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			status, body := e.do(t, rt.Method, path, nil, "")
			wantError(t, status, body, 401, "Missing authentication")
			// Every scope but the route's.
			var others []string
			for _, s := range all {
				if !slices.Contains(rt.Scopes, s) {
					others = append(others, s)
				}
			}
			status, body = e.do(t, rt.Method, path, nil, e.token(t, others...))
			wantError(t, status, body, 403, "Insufficient scope, expected any of: "+strings.Join(rt.Scopes, ","))
		})
	}
	if n < 31 {
		t.Errorf("%d resource routes, want at least 31", n)
	}
}

type connectionOut struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Strategy       string         `json:"strategy"`
	Options        map[string]any `json:"options"`
	EnabledClients []string       `json:"enabled_clients"`
	Realms         []string       `json:"realms"`
}

// newClient creates an application with the ID through the store.
func (e *env) newClient(t *testing.T, id string) {
	t.Helper()
	if err := e.st.CreateClient(t.Context(), store.Client{ID: id, Name: "App " + id, CreatedAt: timeNow()}); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionsCRUD(t *testing.T) {
	e := newEnv(t)
	e.newClient(t, "web")
	e.newClient(t, "spa")
	var c connectionOut
	e.call(t, "POST", "/api/v2/connections", map[string]any{"name": "corp", "strategy": "oidc",
		"options": map[string]any{"client_id": "gh-id", "client_secret": "s3cret", "scope": "openid profile email",
			"discovery_url": "https://idp.example/.well-known/openid-configuration"},
		"enabled_clients": []string{"web"}}, 201, &c)
	if c.ID != "corp" || c.Name != "corp" || c.Strategy != "oidc" || c.Options["issuer"] != "https://idp.example" ||
		c.Options["discovery_url"] != "https://idp.example/.well-known/openid-configuration" || c.Options["scope"] != "openid profile email" ||
		c.Options["client_id"] != "gh-id" || fmt.Sprint(c.EnabledClients) != "[web]" || fmt.Sprint(c.Realms) != "[corp]" {
		t.Fatalf("created %+v", c)
	}
	if _, ok := c.Options["client_secret"]; ok {
		t.Fatal("the client secret was shown")
	}
	stored, err := e.st.GetConnection(t.Context(), "corp")
	if err != nil || len(stored.ClientSecretSealed) == 0 || strings.Contains(string(stored.ClientSecretSealed), "s3cret") {
		t.Fatalf("stored secret %q, %v", stored.ClientSecretSealed, err)
	}

	// PATCH changes the options given, keeps the others (the secret
	// too), and replaces enabled_clients.
	e.call(t, "PATCH", "/api/v2/connections/corp", map[string]any{"options": map[string]any{"scope": []string{"openid", "email"}},
		"enabled_clients": []string{"spa", "web"}}, 200, &c)
	if c.Options["scope"] != "openid email" || c.Options["client_id"] != "gh-id" || fmt.Sprint(c.EnabledClients) != "[spa web]" {
		t.Fatalf("patched %+v", c)
	}
	if again, _ := e.st.GetConnection(t.Context(), "corp"); string(again.ClientSecretSealed) != string(stored.ClientSecretSealed) {
		t.Error("a patch without client_secret changed it")
	}
	e.call(t, "GET", "/api/v2/connections/corp", nil, 200, &c)
	if c.ID != "corp" || fmt.Sprint(c.EnabledClients) != "[spa web]" {
		t.Fatalf("get %+v", c)
	}

	// The built-in database connection is "auth0" here, as in the hosted
	// service; it has no options to set, but its applications change.
	dbPath := "/api/v2/connections/" + url.PathEscape(store.DefaultDatabaseConnection)
	e.call(t, "PATCH", dbPath, map[string]any{"enabled_clients": []string{"web"}}, 200, &c)
	if c.Strategy != "auth0" || fmt.Sprint(c.EnabledClients) != "[web]" {
		t.Fatalf("database connection %+v", c)
	}

	// An oauth2 connection, with the hosted service's option names.
	e.call(t, "POST", "/api/v2/connections", map[string]any{"name": "generic", "strategy": "oauth2",
		"options": map[string]any{"client_id": "id", "client_secret": "s", "authorizationURL": "https://o.example/auth",
			"tokenURL": "https://o.example/token", "userinfo_endpoint": "https://o.example/me",
			"claim_mapping": map[string]string{"email": "mail"}}}, 201, &c)
	if c.Options["authorization_endpoint"] != "https://o.example/auth" || c.Options["token_endpoint"] != "https://o.example/token" ||
		fmt.Sprint(c.Options["claim_mapping"]) != "map[email:mail]" || c.EnabledClients == nil {
		t.Fatalf("oauth2 %+v", c)
	}

	tok := e.token(t, all...)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"no name", "POST", "/api/v2/connections", map[string]any{"strategy": "github"}, 400, "name and strategy are required"},
		{"unknown strategy", "POST", "/api/v2/connections", map[string]any{"name": "x", "strategy": "saml"}, 400, `strategy "saml"`},
		{"another database", "POST", "/api/v2/connections", map[string]any{"name": "db2", "strategy": "auth0"}, 400, "database connections other than the built-in one"},
		{"bad name", "POST", "/api/v2/connections", map[string]any{"name": "Has Space", "strategy": "github",
			"options": map[string]any{"client_id": "a", "client_secret": "b"}}, 400, "connection name"},
		{"taken name", "POST", "/api/v2/connections", map[string]any{"name": "corp", "strategy": "github",
			"options": map[string]any{"client_id": "a", "client_secret": "b"}}, 409, "already exists"},
		{"no secret", "POST", "/api/v2/connections", map[string]any{"name": "gh", "strategy": "github",
			"options": map[string]any{"client_id": "a"}}, 400, "client_secret is required"},
		{"unknown option", "POST", "/api/v2/connections", map[string]any{"name": "gh", "strategy": "github",
			"options": map[string]any{"client_id": "a", "client_secret": "b", "brute_force_protection": true}}, 400, "Additional properties not allowed: brute_force_protection"},
		{"unknown field", "POST", "/api/v2/connections", map[string]any{"name": "gh", "strategy": "github", "display_name": "GH"}, 400, "Additional properties not allowed: display_name"},
		{"scope of numbers", "POST", "/api/v2/connections", map[string]any{"name": "gh", "strategy": "github",
			"options": map[string]any{"scope": 7}}, 400, "Expected type string but found type number' on property options.scope"},
		{"bad discovery URL", "POST", "/api/v2/connections", map[string]any{"name": "o", "strategy": "oidc",
			"options": map[string]any{"discovery_url": "https://idp.example/"}}, 400, "discovery_url must end in"},
		{"issuer and discovery differ", "POST", "/api/v2/connections", map[string]any{"name": "o", "strategy": "oidc",
			"options": map[string]any{"issuer": "https://a.example", "discovery_url": "https://b.example/.well-known/openid-configuration"}}, 400, "different providers"},
		{"two token URLs", "POST", "/api/v2/connections", map[string]any{"name": "o", "strategy": "oauth2",
			"options": map[string]any{"tokenURL": "https://a.example/t", "token_endpoint": "https://b.example/t"}}, 400, "token_endpoint and tokenURL differ"},
		{"unknown client", "POST", "/api/v2/connections", map[string]any{"name": "gh", "strategy": "github",
			"options": map[string]any{"client_id": "a", "client_secret": "b"}, "enabled_clients": []string{"nope"}}, 404, `application "nope" not found`},
		{"http issuer", "PATCH", "/api/v2/connections/corp", map[string]any{"options": map[string]any{"issuer": "http://idp.example"}}, 400, "https"},
		{"rename", "PATCH", "/api/v2/connections/corp", map[string]any{"name": "other"}, 400, "Additional properties not allowed: name"},
		{"database options", "PATCH", dbPath, map[string]any{"options": map[string]any{"client_id": "x"}}, 400, "no upstream provider"},
		{"patch unknown", "PATCH", "/api/v2/connections/nope", map[string]any{}, 404, `connection "nope" not found`},
		{"get unknown", "GET", "/api/v2/connections/nope", nil, 404, `connection "nope" not found`},
		{"delete unknown", "DELETE", "/api/v2/connections/nope", nil, 404, `connection "nope" not found`},
		{"delete database", "DELETE", dbPath, nil, 400, "cannot be deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}

	e.call(t, "DELETE", "/api/v2/connections/corp", nil, 204, nil)
	status, body := e.do(t, "GET", "/api/v2/connections/corp", nil, tok)
	wantError(t, status, body, 404, "not found")
}

func TestListConnections(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"gh-a", "gh-b", "gh-c"} {
		e.call(t, "POST", "/api/v2/connections", map[string]any{"name": name, "strategy": "github",
			"options": map[string]any{"client_id": "a", "client_secret": "b"}}, 201, nil)
	}
	names := func(cs []connectionOut) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return strings.Join(out, " ")
	}
	var list []connectionOut
	e.call(t, "GET", "/api/v2/connections", nil, 200, &list)
	if got := names(list); got != "Username-Password-Authentication gh-a gh-b gh-c" {
		t.Errorf("list %s", got)
	}
	e.call(t, "GET", "/api/v2/connections?strategy=auth0", nil, 200, &list)
	if got := names(list); got != "Username-Password-Authentication" {
		t.Errorf("strategy=auth0: %s", got)
	}
	e.call(t, "GET", "/api/v2/connections?strategy=github&strategy=oidc&name=gh-b", nil, 200, &list)
	if got := names(list); got != "gh-b" {
		t.Errorf("strategy and name: %s", got)
	}
	var page struct {
		Total       int             `json:"total"`
		Connections []connectionOut `json:"connections"`
	}
	e.call(t, "GET", "/api/v2/connections?strategy=github&page=1&per_page=2&include_totals=true", nil, 200, &page)
	if page.Total != 3 || names(page.Connections) != "gh-c" {
		t.Errorf("page 1: %+v", page)
	}

	// Checkpoints: take 2, then the rest. The first call is the current
	// Auth0 SDK's: include_totals=true beside take, ignored.
	var cp struct {
		Connections []connectionOut `json:"connections"`
		Next        string          `json:"next"`
	}
	e.call(t, "GET", "/api/v2/connections?include_totals=true&take=2", nil, 200, &cp)
	if names(cp.Connections) != "Username-Password-Authentication gh-a" || cp.Next == "" {
		t.Fatalf("first checkpoint page %+v", cp)
	}
	next := cp.Next
	cp.Next = ""
	e.call(t, "GET", "/api/v2/connections?take=2&from="+url.QueryEscape(next), nil, 200, &cp)
	if names(cp.Connections) != "gh-b gh-c" || cp.Next != "" {
		t.Fatalf("second checkpoint page %+v", cp)
	}
	// A checkpoint stays put when what came before it goes.
	e.call(t, "DELETE", "/api/v2/connections/gh-a", nil, 204, nil)
	e.call(t, "GET", "/api/v2/connections?from="+url.QueryEscape(next), nil, 200, &cp)
	if names(cp.Connections) != "gh-b gh-c" {
		t.Fatalf("after a deletion before the checkpoint %+v", cp)
	}

	tok := e.token(t, all...)
	for _, q := range []string{"take=0", "take=101", "take=x", "from=%25%25", "from=x&page=1", "take=2&per_page=2", "per_page=0", "colour=red"} {
		status, body := e.do(t, "GET", "/api/v2/connections?"+q, nil, tok)
		wantError(t, status, body, 400, "Query validation error")
	}
}

func TestConnectionClients(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"a", "b", "c"} {
		e.newClient(t, id)
	}
	path := "/api/v2/connections/" + url.PathEscape(store.DefaultDatabaseConnection) + "/clients"
	e.call(t, "PATCH", path, []map[string]any{{"client_id": "a", "status": true}, {"client_id": "c", "status": true}}, 204, nil)
	var page struct {
		Clients []struct {
			ClientID string `json:"client_id"`
		} `json:"clients"`
		Next string `json:"next"`
	}
	e.call(t, "GET", path, nil, 200, &page)
	if len(page.Clients) != 2 || page.Clients[0].ClientID != "a" || page.Clients[1].ClientID != "c" || page.Next != "" {
		t.Fatalf("clients %+v", page)
	}
	e.call(t, "GET", path+"?take=1", nil, 200, &page)
	if len(page.Clients) != 1 || page.Clients[0].ClientID != "a" || page.Next == "" {
		t.Fatalf("first page %+v", page)
	}
	e.call(t, "GET", path+"?take=1&from="+page.Next, nil, 200, &page)
	if len(page.Clients) != 1 || page.Clients[0].ClientID != "c" {
		t.Fatalf("second page %+v", page)
	}
	e.call(t, "PATCH", path, []map[string]any{{"client_id": "a", "status": false}, {"client_id": "b", "status": true}}, 204, nil)
	if c, _ := e.st.GetConnection(t.Context(), store.DefaultDatabaseConnection); fmt.Sprint(c.EnabledClients) != "[b c]" {
		t.Errorf("enabled for %v", c.EnabledClients)
	}

	tok := e.token(t, all...)
	many := make([]map[string]any, 51)
	for i := range many {
		many[i] = map[string]any{"client_id": "a", "status": true}
	}
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		msg    string
	}{
		{"an object", path, map[string]any{"client_id": "a", "status": true}, 400, "a JSON array is required"},
		{"empty", path, []any{}, 400, "1 to 50 changes"},
		{"too many", path, many, 400, "1 to 50 changes"},
		{"no status", path, []map[string]any{{"client_id": "a"}}, 400, "needs client_id and status"},
		{"unknown field", path, []map[string]any{{"client_id": "a", "status": true, "x": 1}}, 400, "Additional properties not allowed: x"},
		{"unknown client", path, []map[string]any{{"client_id": "nope", "status": true}}, 404, `application "nope" not found`},
		{"unknown connection", "/api/v2/connections/nope/clients", []map[string]any{{"client_id": "a", "status": true}}, 404, `connection "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "PATCH", tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	status, body := e.do(t, "GET", "/api/v2/connections/nope/clients", nil, tok)
	wantError(t, status, body, 404, "not found")
	status, body = e.do(t, "GET", path+"?page=1", nil, tok)
	wantError(t, status, body, 400, "Additional properties not allowed: page")
}
