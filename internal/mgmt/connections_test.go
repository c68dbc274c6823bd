package mgmt_test

import (
	"net/http"
	"slices"
	"testing"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func github() mgmt.ConnectionSettings {
	return mgmt.ConnectionSettings{Strategy: ptr(store.StrategyGitHub), ClientID: ptr("gh"), ClientSecret: ptr("upstream-secret")}
}

func TestConnections(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	app, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "app", ClientSettings: webApp("App")})
	if err != nil {
		t.Fatal(err)
	}
	in := github()
	in.EnableFor = []string{app.ID}
	c, err := e.svc.CreateConnection(ctx, "github", in)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.ClientSecretSealed) != "sealed(connection:github):upstream-secret" || !c.CreatedAt.Equal(e.now) {
		t.Errorf("created %+v", c)
	}
	stored, err := e.svc.GetConnection(ctx, "github")
	if err != nil || !slices.Equal(stored.EnabledClients, []string{app.ID}) || stored.ClientID != "gh" {
		t.Errorf("stored %+v, %v", stored, err)
	}
	_, err = e.svc.CreateConnection(ctx, "github", github())
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", `connection named "github" already exists`)
	in.EnableFor = []string{"nope"}
	_, err = e.svc.CreateConnection(ctx, "github2", in)
	wantError(t, err, http.StatusNotFound, "inexistent_client", "", `application "nope" not found`)
	if _, err := e.st.GetConnection(ctx, "github2"); err == nil {
		t.Error("a connection for an unknown application was created")
	}

	// Update: settings not given stay, the secret included.
	c, err = e.svc.UpdateConnection(ctx, "github", mgmt.ConnectionSettings{Scopes: &[]string{"read:user"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "gh" || !slices.Equal(c.Scopes, []string{"read:user"}) || string(c.ClientSecretSealed) != "sealed(connection:github):upstream-secret" {
		t.Errorf("updated %+v", c)
	}
	_, err = e.svc.UpdateConnection(ctx, "github", mgmt.ConnectionSettings{Strategy: ptr(store.StrategyOIDC)})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, "strategy", "cannot change")
	_, err = e.svc.UpdateConnection(ctx, "nope", mgmt.ConnectionSettings{})
	wantError(t, err, http.StatusNotFound, "inexistent_connection", "", "not found")
	// The built-in connection has no upstream settings to check.
	if _, err := e.svc.UpdateConnection(ctx, store.DefaultDatabaseConnection, mgmt.ConnectionSettings{EnableFor: []string{app.ID}}); err != nil {
		t.Errorf("update the built-in connection: %v", err)
	}

	if err := e.svc.SetConnectionEnabled(ctx, "github", app.ID, false); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.SetConnectionEnabled(ctx, "github", "nope", true), http.StatusNotFound, "inexistent_client", "", "not found")
	wantError(t, e.svc.SetConnectionEnabled(ctx, "gitlab", app.ID, true), http.StatusNotFound, "inexistent_connection", "", "not found")

	wantError(t, e.svc.DeleteConnection(ctx, store.DefaultDatabaseConnection), http.StatusBadRequest, mgmt.CodeOperationNotSupported, "", "cannot be deleted")
	if err := e.svc.DeleteConnection(ctx, "github"); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.DeleteConnection(ctx, "github"), http.StatusNotFound, "inexistent_connection", "", "not found")
}

func TestConnectionValidation(t *testing.T) {
	e := newEnv(t)
	oidc := func(edit func(*mgmt.ConnectionSettings)) mgmt.ConnectionSettings {
		in := mgmt.ConnectionSettings{Strategy: ptr(store.StrategyOIDC), Issuer: ptr("https://idp.example"), ClientID: ptr("a"), ClientSecret: ptr("b")}
		edit(&in)
		return in
	}
	tests := []struct {
		name       string
		conn       string
		in         mgmt.ConnectionSettings
		field, msg string
	}{
		{"bad name", "Bad Name", github(), "name", "connection name"},
		{"unknown strategy", "x", oidc(func(in *mgmt.ConnectionSettings) { in.Strategy = ptr("saml") }), "strategy", "not github, oidc or oauth2"},
		{"no strategy", "x", oidc(func(in *mgmt.ConnectionSettings) { in.Strategy = nil }), "strategy", "not github"},
		{"oidc without issuer", "corp", oidc(func(in *mgmt.ConnectionSettings) { in.Issuer = nil }), "issuer", "issuer is required for the oidc strategy"},
		{"http issuer", "corp", oidc(func(in *mgmt.ConnectionSettings) { in.Issuer = ptr("http://idp.example") }), "issuer", "must be an https URL"},
		{"oauth2 without token URL", "o2", mgmt.ConnectionSettings{Strategy: ptr(store.StrategyOAuth2), AuthorizeURL: ptr("https://idp.example/a"),
			UserinfoURL: ptr("https://idp.example/u"), ClientID: ptr("a"), ClientSecret: ptr("b")}, "token_url", "token_url is required"},
		{"github bad API URL", "gh", func() mgmt.ConnectionSettings { in := github(); in.APIURL = ptr("ftp://x"); return in }(), "api_url", "must be an https URL"},
		{"no client id", "corp", oidc(func(in *mgmt.ConnectionSettings) { in.ClientID = nil }), "client_id", "client_id is required"},
		{"no client secret", "corp", oidc(func(in *mgmt.ConnectionSettings) { in.ClientSecret = nil }), "client_secret", "client_secret is required"},
		{"empty client secret", "corp", oidc(func(in *mgmt.ConnectionSettings) { in.ClientSecret = ptr("") }), "client_secret", "must not be empty"},
		{"claim field", "corp", oidc(func(in *mgmt.ConnectionSettings) { in.ClaimMapping = &map[string]string{"password": "x"} }), "claim_mapping", "not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateConnection(t.Context(), tt.conn, tt.in)
			wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, tt.field, tt.msg)
		})
	}
	_, err := e.svc.CreateConnection(t.Context(), "db2", mgmt.ConnectionSettings{Strategy: ptr(store.StrategyDatabase)})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, "strategy", "not supported")
}

func TestPutConnection(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// The config may name an application before it is registered.
	in := github()
	in.EnableFor = []string{"later"}
	if _, err := e.svc.PutConnection(ctx, "github", in); err != nil {
		t.Fatal(err)
	}
	// Without a secret, the stored one stays.
	c, err := e.svc.PutConnection(ctx, "github", mgmt.ConnectionSettings{Strategy: ptr(store.StrategyGitHub), ClientID: ptr("gh2")})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "gh2" || string(c.ClientSecretSealed) != "sealed(connection:github):upstream-secret" || !slices.Equal(c.EnabledClients, []string{"later"}) {
		t.Errorf("put %+v", c)
	}
	_, err = e.svc.PutConnection(ctx, "github", mgmt.ConnectionSettings{Strategy: ptr(store.StrategyOIDC)})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, "strategy", "differs")

	// A service without a sealer cannot take a secret.
	bare, err := mgmt.New(mgmt.Config{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.CreateConnection(ctx, "gh3", github()); err == nil {
		t.Error("a client secret was accepted without a sealer")
	}
}

func TestCheckConnection(t *testing.T) {
	in := github()
	in.ClientSecret = nil // may be stored already
	if err := mgmt.CheckConnection("github", in); err != nil {
		t.Errorf("CheckConnection: %v", err)
	}
	in.BaseURL = ptr("http://github.example")
	wantError(t, mgmt.CheckConnection("github", in), http.StatusBadRequest, mgmt.CodeInvalidBody, "base_url", "https")
}
