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
		{"unknown type", func(in *mgmt.NewClient) { in.Type = ptr("desktop") }, "app_type", "not regular_web, spa, native or m2m"},
		{"unknown method", func(in *mgmt.NewClient) { in.TokenEndpointAuthMethod = ptr("tls_client_auth") }, "token_endpoint_auth_method", "is not"},
		{"public web app", func(in *mgmt.NewClient) { in.TokenEndpointAuthMethod = ptr(store.AuthMethodNone) }, "token_endpoint_auth_method", "client_secret_post or private_key_jwt"},
		{"public m2m app", func(in *mgmt.NewClient) {
			in.Type, in.TokenEndpointAuthMethod = ptr(store.ClientM2M), ptr(store.AuthMethodNone)
		}, "token_endpoint_auth_method", "client_secret_post or private_key_jwt"},
		{"confidential spa", func(in *mgmt.NewClient) {
			in.Type, in.TokenEndpointAuthMethod = ptr(store.ClientSPA), ptr(store.AuthMethodSecretPost)
		}, "token_endpoint_auth_method", "must be none"},
		{"native without callback", func(in *mgmt.NewClient) { in.Type, in.Callbacks = ptr(store.ClientNative), nil }, "callbacks", "at least one callback"},
		{"spa with a secret", func(in *mgmt.NewClient) { in.Type, in.Secret = ptr(store.ClientSPA), strings.Repeat("s", 40) }, "client_secret", "has no client secret"},
		{"m2m with refresh tokens", func(in *mgmt.NewClient) {
			in.Type, in.AllowOfflineAccess = ptr(store.ClientM2M), ptr(true)
		}, "allow_offline_access", "no refresh tokens"},
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
	got, secret, err := e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{AllowOfflineAccess: ptr(true), RefreshOverlap: ptr(10 * time.Second)})
	if err != nil || secret != "" {
		t.Fatalf("update: secret %q, %v", secret, err)
	}
	if got.Name != "Web" || !got.AllowOfflineAccess || got.Refresh.Overlap != 10*time.Second ||
		!slices.Equal(got.GrantTypes, []string{"authorization_code", "refresh_token"}) || got.SecretHash != c.SecretHash {
		t.Errorf("updated %+v", got)
	}
	stored, _ := e.st.GetClient(ctx, c.ID)
	if !slices.Equal(stored.GrantTypes, got.GrantTypes) || !stored.AllowOfflineAccess {
		t.Errorf("stored %+v", stored)
	}
	_, _, err = e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{Callbacks: &[]string{"http://evil.example/cb"}})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "callbacks", "use https")
	_, _, err = e.svc.UpdateClient(ctx, "nope", mgmt.ClientSettings{Name: ptr("x")})
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

func TestClientTypes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	enabled := func(id string) bool {
		conn, err := e.st.GetConnection(ctx, store.DefaultDatabaseConnection)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(conn.EnabledClients, id)
	}
	tests := []struct {
		name       string
		in         mgmt.ClientSettings
		method     string
		grants     []string
		secret     bool
		connection bool
	}{
		{"regular_web", webApp("Web"), store.AuthMethodSecretBasic, []string{"authorization_code"}, true, true},
		{"regular_web with client_secret_post", func() mgmt.ClientSettings {
			in := webApp("Web")
			in.TokenEndpointAuthMethod = ptr(store.AuthMethodSecretPost)
			return in
		}(), store.AuthMethodSecretPost, []string{"authorization_code"}, true, true},
		{"spa", func() mgmt.ClientSettings {
			in := webApp("SPA")
			in.Type, in.AllowOfflineAccess = ptr(store.ClientSPA), ptr(true)
			return in
		}(), store.AuthMethodNone, []string{"authorization_code", "refresh_token"}, false, true},
		{"native", func() mgmt.ClientSettings {
			in := webApp("Native")
			in.Type, in.Callbacks = ptr(store.ClientNative), &[]string{"http://127.0.0.1:7777/cb"}
			return in
		}(), store.AuthMethodNone, []string{"authorization_code"}, false, true},
		{"m2m without callbacks", mgmt.ClientSettings{Name: ptr("Backend"), Type: ptr(store.ClientM2M)},
			store.AuthMethodSecretBasic, []string{"client_credentials"}, true, false},
		{"regular_web with the implicit grant", func() mgmt.ClientSettings {
			in := webApp("Express")
			in.AllowImplicit = ptr(true)
			return in
		}(), store.AuthMethodSecretBasic, []string{"authorization_code", "implicit"}, true, true},
		{"spa with the implicit grant and refresh tokens", func() mgmt.ClientSettings {
			in := webApp("SPA")
			in.Type, in.AllowOfflineAccess, in.AllowImplicit = ptr(store.ClientSPA), ptr(true), ptr(true)
			return in
		}(), store.AuthMethodNone, []string{"authorization_code", "refresh_token", "implicit"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, secret, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: tt.in})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := e.st.GetClient(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.TokenEndpointAuthMethod != tt.method || !slices.Equal(stored.GrantTypes, tt.grants) {
				t.Errorf("stored method %q, grants %v; want %q, %v", stored.TokenEndpointAuthMethod, stored.GrantTypes, tt.method, tt.grants)
			}
			if (secret != "") != tt.secret || (stored.SecretHash != "") != tt.secret || (tt.secret && stored.SecretHash != token.Hash(secret)) {
				t.Errorf("secret %q, stored hash %q; want a secret: %t", secret, stored.SecretHash, tt.secret)
			}
			if enabled(c.ID) != tt.connection {
				t.Errorf("database connection enabled: %t, want %t", enabled(c.ID), tt.connection)
			}
		})
	}
}

func TestClientTypeChange(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, secret, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "app", ClientSettings: webApp("Web")})
	if err != nil {
		t.Fatal(err)
	}

	// Public: the secret goes, the method follows the type.
	c, got, err := e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{Type: ptr(store.ClientSPA)})
	if err != nil || got != "" {
		t.Fatalf("to spa: secret %q, %v", got, err)
	}
	stored, _ := e.st.GetClient(ctx, c.ID)
	if stored.TokenEndpointAuthMethod != store.AuthMethodNone || stored.SecretHash != "" || !stored.Public() {
		t.Errorf("spa stored with method %q and hash %q", stored.TokenEndpointAuthMethod, stored.SecretHash)
	}
	_, _, err = e.svc.RotateClientSecret(ctx, c.ID)
	wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, "token_endpoint_auth_method", "has no secret")

	// Confidential again: a new secret, not the old one.
	c, got, err = e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{Type: ptr(store.ClientRegularWeb), TokenEndpointAuthMethod: ptr(store.AuthMethodSecretPost)})
	if err != nil || got == "" || got == secret {
		t.Fatalf("to regular_web: secret %q, %v", got, err)
	}
	stored, _ = e.st.GetClient(ctx, c.ID)
	if stored.TokenEndpointAuthMethod != store.AuthMethodSecretPost || stored.SecretHash != token.Hash(got) {
		t.Errorf("regular_web stored with method %q and hash %q", stored.TokenEndpointAuthMethod, stored.SecretHash)
	}

	// m2m: client_credentials only, the secret stays.
	c, got, err = e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{Type: ptr(store.ClientM2M)})
	if err != nil || got != "" || !slices.Equal(c.GrantTypes, []string{"client_credentials"}) || c.TokenEndpointAuthMethod != store.AuthMethodSecretBasic {
		t.Fatalf("to m2m: %+v, secret %q, %v", c, got, err)
	}
	_, _, err = e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{TokenEndpointAuthMethod: ptr(store.AuthMethodNone)})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "token_endpoint_auth_method", "must be client_secret_basic")

	// Rotation: a new secret; the old one no longer matches.
	old, _ := e.st.GetClient(ctx, c.ID)
	c, got, err = e.svc.RotateClientSecret(ctx, c.ID)
	if err != nil || got == "" {
		t.Fatalf("rotate: %q, %v", got, err)
	}
	stored, _ = e.st.GetClient(ctx, c.ID)
	if stored.SecretHash != token.Hash(got) || stored.SecretHash == old.SecretHash {
		t.Errorf("rotated hash %q", stored.SecretHash)
	}
	_, _, err = e.svc.RotateClientSecret(ctx, "nope")
	wantError(t, err, http.StatusNotFound, "inexistent_client", "", "not found")
}

// TestClientRecordsOfBefore checks applications stored before types and
// methods: empty fields read as regular_web and client_secret_basic, and
// they update.
func TestClientRecordsOfBefore(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	old := store.Client{ID: "old", SecretHash: token.Hash(strings.Repeat("o", 40)), Name: "Old",
		Callbacks: []string{"https://old.example/cb"}, GrantTypes: []string{"authorization_code"}, CreatedAt: e.now}
	if err := e.st.CreateClient(ctx, old); err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.GetClient(ctx, "old")
	if err != nil || c.Type != store.ClientRegularWeb || c.TokenEndpointAuthMethod != store.AuthMethodSecretBasic || c.Public() {
		t.Fatalf("get: %+v, %v", c, err)
	}
	list, err := e.svc.ListClients(ctx)
	if err != nil || len(list) != 1 || list[0].TokenEndpointAuthMethod != store.AuthMethodSecretBasic {
		t.Fatalf("list: %+v, %v", list, err)
	}
	c, secret, err := e.svc.UpdateClient(ctx, "old", mgmt.ClientSettings{Name: ptr("Older")})
	if err != nil || secret != "" || c.SecretHash != old.SecretHash {
		t.Fatalf("update: %+v, %q, %v", c, secret, err)
	}
}

// The implicit grant is for browser-based applications; it stays set
// across updates until turned off.
func TestClientImplicitGrant(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, typ := range []string{store.ClientNative, store.ClientM2M} {
		in := webApp("X")
		in.Type, in.AllowImplicit = ptr(typ), ptr(true)
		if typ == store.ClientNative {
			in.Callbacks = &[]string{"http://127.0.0.1:7777/cb"}
		}
		if _, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: in}); err == nil || !strings.Contains(err.Error(), "implicit") {
			t.Errorf("%s with the implicit grant: %v, want a refusal", typ, err)
		}
	}
	in := webApp("Web")
	in.AllowImplicit = ptr(true)
	c, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "web", ClientSettings: in})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err = e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{AllowOfflineAccess: ptr(true)})
	if err != nil || !slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token", "implicit"}) {
		t.Fatalf("after an unrelated update: %v %v", c.GrantTypes, err)
	}
	if _, _, err := e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{Type: ptr(store.ClientNative)}); err == nil {
		t.Error("a native application kept the implicit grant")
	}
	c, _, err = e.svc.UpdateClient(ctx, c.ID, mgmt.ClientSettings{AllowImplicit: ptr(false)})
	if err != nil || !slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) {
		t.Fatalf("implicit off: %v %v", c.GrantTypes, err)
	}
}
