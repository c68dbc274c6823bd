package mgmt_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

func webApp(name string) mgmt.ClientSettings {
	return mgmt.ClientSettings{Name: ptr(name), Callbacks: &[]string{"https://app.example/cb"}}
}

func TestCreateClient(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, secret, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: webApp("  Web  ")})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 32 || len(secret) < mgmt.MinClientSecretLength {
		t.Errorf("generated id %q and secret of %d characters", c.ID, len(secret))
	}
	got, err := e.st.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretHash != token.Hash(secret) || strings.Contains(got.SecretHash, secret) {
		t.Errorf("stored secret hash %q is not the hash of the secret", got.SecretHash)
	}
	if got.Name != "Web" || got.Type != "regular_web" || !slices.Equal(got.GrantTypes, []string{"authorization_code"}) || !got.CreatedAt.Equal(e.now) {
		t.Errorf("stored %+v", got)
	}
	conn, err := e.st.GetConnection(ctx, store.DefaultDatabaseConnection)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(conn.EnabledClients, c.ID) {
		t.Errorf("the database connection is not enabled for a new application: %v", conn.EnabledClients)
	}

	// Chosen id and secret, no database connection, offline access.
	in := mgmt.NewClient{ID: "my-app", Secret: strings.Repeat("s", 32), NoDatabaseConnection: true, ClientSettings: webApp("Mine")}
	in.AllowOfflineAccess = ptr(true)
	c, secret, err = e.svc.CreateClient(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "my-app" || secret != in.Secret || !slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("created %+v with secret %q", c, secret)
	}
	conn, _ = e.st.GetConnection(ctx, store.DefaultDatabaseConnection)
	if slices.Contains(conn.EnabledClients, "my-app") {
		t.Error("NoDatabaseConnection: the database connection was enabled")
	}
	_, _, err = e.svc.CreateClient(ctx, in)
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", `client id "my-app" already exists`)
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("conflict %v does not wrap store.ErrConflict", err)
	}
}

func TestClientValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		edit  func(*mgmt.NewClient)
		field string
		msg   string
	}{
		{"no name", func(in *mgmt.NewClient) { in.Name = ptr(" ") }, "name", "needs a name"},
		{"no callback", func(in *mgmt.NewClient) { in.Callbacks = &[]string{} }, "callbacks", "at least one callback"},
		{"relative callback", func(in *mgmt.NewClient) { in.Callbacks = &[]string{"/cb"} }, "callbacks", "not an absolute URL"},
		{"http callback", func(in *mgmt.NewClient) { in.Callbacks = &[]string{"http://app.example/cb"} }, "callbacks", "use https"},
		{"callback fragment", func(in *mgmt.NewClient) { in.Callbacks = &[]string{"https://app.example/cb#x"} }, "callbacks", "fragment"},
		{"callback user info", func(in *mgmt.NewClient) { in.Callbacks = &[]string{"https://u:p@app.example/cb"} }, "callbacks", "user information"},
		{"custom scheme", func(in *mgmt.NewClient) { in.Callbacks = &[]string{"myapp://cb"} }, "callbacks", "must use https"},
		{"bad logout URL", func(in *mgmt.NewClient) { in.LogoutURLs = &[]string{"http://evil.example/"} }, "allowed_logout_urls", "use https"},
		{"bad client id", func(in *mgmt.NewClient) { in.ID = "has space" }, "client_id", "client id"},
		{"short secret", func(in *mgmt.NewClient) { in.Secret = "short" }, "client_secret", "too short"},
		{"negative ttl", func(in *mgmt.NewClient) { in.IDTokenTTL = ptr(-time.Second) }, "", "token lifetimes"},
		{"long ttl", func(in *mgmt.NewClient) { in.AccessTokenTTL = ptr(31 * 24 * time.Hour) }, "", "token lifetimes"},
		{"org usage", func(in *mgmt.NewClient) { in.OrganizationUsage = ptr("sometimes") }, "organization_usage", "not deny, allow or require"},
		{"org behavior", func(in *mgmt.NewClient) { in.OrganizationBehavior = ptr("ask") }, "organization_require_behavior", "no_prompt"},
		{"initiate login URI", func(in *mgmt.NewClient) { in.InitiateLoginURI = ptr("http://app.example/login") }, "initiate_login_uri", "use https"},
		{"overlap", func(in *mgmt.NewClient) { in.RefreshOverlap = ptr(time.Hour) }, "refresh_token", "overlap"},
		{"idle over absolute", func(in *mgmt.NewClient) {
			in.RefreshIdle, in.RefreshAbsolute = ptr(48*time.Hour), ptr(24*time.Hour)
		}, "refresh_token", "idle lifetime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mgmt.NewClient{ClientSettings: webApp("App")}
			tt.edit(&in)
			_, _, err := e.svc.CreateClient(t.Context(), in)
			wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, tt.field, tt.msg)
		})
	}
	if list, _ := e.svc.ListClients(t.Context()); len(list) != 0 {
		t.Errorf("refused applications were stored: %d", len(list))
	}
}

func TestUpdateClient(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: webApp("Web")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{AllowOfflineAccess: ptr(true), RefreshOverlap: ptr(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Web" || !got.AllowOfflineAccess || got.Refresh.Overlap != 10*time.Second ||
		!slices.Equal(got.GrantTypes, []string{"authorization_code", "refresh_token"}) || got.SecretHash != c.SecretHash {
		t.Errorf("updated %+v", got)
	}
	stored, _ := e.st.GetClient(ctx, c.ID)
	if !slices.Equal(stored.GrantTypes, got.GrantTypes) || !stored.AllowOfflineAccess {
		t.Errorf("stored %+v", stored)
	}
	_, err = e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{Callbacks: &[]string{"http://evil.example/cb"}})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "callbacks", "use https")
	_, err = e.svc.UpdateClient(ctx, "nope", mgmt.ClientSettings{Name: ptr("x")})
	wantError(t, err, http.StatusNotFound, "inexistent_client", "", `application "nope" not found`)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%v does not wrap store.ErrNotFound", err)
	}
	_, err = e.svc.GetClient(ctx, "nope")
	wantError(t, err, http.StatusNotFound, "inexistent_client", "", "not found")
}

func TestDeleteClient(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "gone", ClientSettings: webApp("Web")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	conn, _ := e.st.GetConnection(ctx, store.DefaultDatabaseConnection)
	if slices.Contains(conn.EnabledClients, c.ID) {
		t.Error("a deleted application keeps its connections")
	}
	wantError(t, e.svc.DeleteClient(ctx, c.ID), http.StatusNotFound, "inexistent_client", "", `"gone" not found`)
}
