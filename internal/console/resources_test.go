package console_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// TestAPIPages checks the APIs pages: an API made with scopes and RBAC
// switches, its scopes edited, the errors of the API and of the form
// beside their fields, the management API left alone, and the refusals.
func TestAPIPages(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	e.user("reader@example.com", mgmt.AdminReadOnly)
	b := e.browser()
	b.signIn("admin@example.com")

	form := b.get("/admin/apis/new")
	want(t, form, 200, `name="identifier"`)
	want(t, b.postWith(form, "/admin/apis", url.Values{"name": {"Orders"}, "identifier": {""}}), 400, `class="alert"`)
	want(t, b.postWith(form, "/admin/apis", url.Values{"name": {"Orders"}, "identifier": {"https://orders.example"},
		"token_lifetime": {"soon"}}), 400, `id="err-token_lifetime"`)
	want(t, b.postWith(form, "/admin/apis", url.Values{"name": {"Orders"}, "identifier": {"https://orders.example"},
		"token_lifetime": {"99999999"}}), 400, "token_lifetime")
	p := b.postWith(form, "/admin/apis", url.Values{"name": {"Orders"}, "identifier": {"https://orders.example"},
		"scopes": {"read:orders Read the orders\nwrite:orders"}, "enforce_policies": {"on"}, "token_dialect": {"on"}, "token_lifetime": {"600"}})
	want(t, p, 200, "The API was created.", "read:orders Read the orders", `name="enforce_policies" checked`, `name="token_dialect" checked`, `value="600"`)
	path := p.url.Path

	p = b.postWith(p, path, url.Values{"name": {"Orders"}, "scopes": {"write:orders\nship:orders Ship them"}, "token_lifetime": {""}})
	want(t, p, 200, "The changes were saved.", "ship:orders Ship them")
	a, err := e.svc.GetAPI(t.Context(), "https://orders.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Scopes) != 2 || a.Scopes[0].Name != "write:orders" || a.RBAC || a.TokenLifetime != 0 {
		t.Fatalf("saved API %+v", a)
	}
	want(t, b.get("/admin/apis?q=orders"), 200, path)
	want(t, b.get("/admin/apis/nothing-here"), 404)

	// The management API is shown, not edited.
	list := b.get("/admin/apis")
	m := regexp.MustCompile(`href="(/admin/apis/[^"]+)">[^<]*</a> <span class="badge">system`).FindStringSubmatch(list.body)
	if m == nil {
		t.Fatalf("no system API listed:\n%s", list.body)
	}
	sys := b.get(m[1])
	want(t, sys, 200, "cannot be changed here")
	if strings.Contains(sys.body, "Delete…") {
		t.Fatal("the management API offers its deletion")
	}

	r := e.browser()
	r.signIn("reader@example.com")
	want(t, r.get("/admin/apis/new"), 403, "read-only")
	view := r.get(path)
	want(t, view, 200, "ship:orders")
	want(t, r.postWith(view, path, url.Values{"name": {"Changed"}}), 403, "read-only")

	confirm := b.get(path + "/delete")
	want(t, confirm, 200, "Delete the API")
	want(t, b.postWith(confirm, path+"/delete", url.Values{}), 200, "The API was deleted.")
}

// TestConnectionPages checks the Connections pages: an OpenID Connect
// connection made with its secret (never shown again), the API's errors
// beside the fields, applications enabled, and the refusals.
func TestConnectionPages(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	e.user("reader@example.com", mgmt.AdminReadOnly)
	b := e.browser()
	b.signIn("admin@example.com")

	form := b.get("/admin/connections/new")
	want(t, form, 200, `value="github"`, `value="oidc"`, `value="oauth2"`)
	p := b.postWith(form, "/admin/connections", url.Values{"name": {"corp"}, "strategy": {"oidc"}, "client_id": {"abc"},
		"client_secret": {"s3cret-value"}, "issuer": {"not a url"}})
	want(t, p, 400, "issuer")
	if strings.Contains(p.body, "s3cret-value") {
		t.Fatal("the secret was sent back to the browser")
	}
	want(t, b.postWith(form, "/admin/connections", url.Values{"name": {"corp"}, "strategy": {"ldap"}}), 400, `class="alert"`)
	p = b.postWith(form, "/admin/connections", url.Values{"name": {"corp"}, "strategy": {"oidc"}, "client_id": {"abc"},
		"client_secret": {"s3cret-value"}, "issuer": {"https://idp.example"}, "scope": {"openid email"},
		"enabled_clients": {mgmt.ConsoleClientID}})
	want(t, p, 200, "The connection was created.", `id="conn-name">corp`, `value="gatehouse-console" checked`)
	if strings.Contains(p.body, "s3cret-value") {
		t.Fatal("the secret is shown")
	}
	path := p.url.Path
	// An empty secret keeps the stored one; the application is disabled.
	p = b.postWith(p, path, url.Values{"client_id": {"abc2"}, "issuer": {"https://idp.example"}, "scope": {"openid"}})
	want(t, p, 200, "The changes were saved.", `value="abc2"`)
	c, err := e.svc.GetConnection(t.Context(), "corp")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ClientSecretSealed) == 0 || len(c.EnabledClients) != 0 {
		t.Fatalf("saved connection: secret %d bytes, clients %v", len(c.ClientSecretSealed), c.EnabledClients)
	}
	want(t, b.get("/admin/connections?q=cor"), 200, path)
	want(t, b.get("/admin/connections/nothing-here"), 404)

	r := e.browser()
	r.signIn("reader@example.com")
	want(t, r.get("/admin/connections/new"), 403, "read-only")
	view := r.get(path)
	if strings.Contains(view.body, `name="client_secret"`) {
		t.Fatal("a read-only admin sees the form")
	}
	want(t, r.postWith(view, path+"/delete", url.Values{}), 403, "read-only")

	confirm := b.get(path + "/delete")
	want(t, confirm, 200, "Delete the connection")
	want(t, b.postWith(confirm, path+"/delete", url.Values{}), 200, "The connection was deleted.")
}

// TestSigningKeyPages checks the Signing keys page: the keys with their
// state and thumbprint, a rotation the API holds back until the next key
// has settled (its reason on the page, not an error page), a current key
// that cannot be revoked, and a read-only admin who may only look.
func TestSigningKeyPages(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	e.user("reader@example.com", mgmt.AdminReadOnly)
	b := e.browser()
	b.signIn("admin@example.com")

	list := b.get("/admin/keys")
	want(t, list, 200, `class="key-current"`, `class="key-next"`, "ES256", `class="thumbprint"`)
	confirm := b.get("/admin/keys/rotate")
	want(t, confirm, 200, "60 seconds", "Rotate the keys")
	p := b.postWith(confirm, "/admin/keys/rotate", url.Values{})
	want(t, p, 409, "Not rotated:", "try again in", `class="key-current"`)

	keys, err := e.svc.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var current string
	for _, k := range keys {
		if k.State == "current" {
			current = k.KID
		}
	}
	if current == "" {
		t.Fatalf("no current key in %+v", keys)
	}
	p = b.postWith(list, "/admin/keys/"+current+"/revoke", url.Values{})
	want(t, p, 400, "Not revoked:", "rotate the keys first")
	want(t, b.get("/admin/keys/no-such-kid/revoke"), 404)
	want(t, b.get("/admin/keys?q="+current), 200, current)

	// Rotated for real, the former current key is previous and revocable.
	if _, err := e.svc.RotateSigningKeys(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	list = b.get("/admin/keys")
	want(t, list, 200, `href="/admin/keys/`+current+`/revoke"`)
	confirm = b.get("/admin/keys/" + current + "/revoke")
	want(t, confirm, 200, "stops verifying", "Revoke the key")
	want(t, b.postWith(confirm, "/admin/keys/"+current+"/revoke", url.Values{}), 200, "The key "+current+" was revoked.", `class="key-revoked"`)

	r := e.browser()
	r.signIn("reader@example.com")
	view := r.get("/admin/keys")
	want(t, view, 200, `class="key-current"`)
	if strings.Contains(view.body, "Rotate the keys…") {
		t.Fatal("a read-only admin sees the rotation")
	}
	want(t, r.postWith(view, "/admin/keys/rotate", url.Values{}), 403, "read-only")
}

// TestConsoleApplicationProtected checks that the console's own
// application cannot be deleted nor broken from its page: the API's
// refusal is shown, not a 500.
func TestConsoleApplicationProtected(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	b := e.browser()
	b.signIn("admin@example.com")
	path := "/admin/applications/" + mgmt.ConsoleClientID
	confirm := b.get(path + "/delete")
	want(t, confirm, 200)
	want(t, b.postWith(confirm, path+"/delete", url.Values{}), 403, "cannot be deleted")
	p := b.postWith(confirm, path, url.Values{"name": {"Console"}, "callbacks": {"https://elsewhere.example/cb"}, "is_first_party": {"on"}})
	want(t, p, 400, `id="err-callbacks"`, "admin console")
	if _, err := e.svc.GetClient(t.Context(), mgmt.ConsoleClientID); err != nil {
		t.Fatal(err)
	}
}

// TestConnectionTest runs the "Test connection" login through the
// database connection: the hosted login, then the console's page with the
// profile, and the admin's console session is still the admin's. A
// connection the console's application is not enabled for ends on the
// page with the error; a read-only admin may not test.
func TestConnectionTest(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	e.user("reader@example.com", mgmt.AdminReadOnly)
	testerID := e.user("tester@example.com", mgmt.AdminNone)
	b := e.browser()
	b.signIn("admin@example.com")

	conn := store.DefaultDatabaseConnection
	want(t, b.get("/admin/connections/"+conn), 200, `id="test-connection"`, `target="_blank"`)
	login := b.get("/admin/connections/" + conn + "/test")
	if login.url.Path != "/u/login" {
		t.Fatalf("the test went to %s (%d)", login.url, login.status)
	}
	p := b.post("/u/login", url.Values{"csrf": {login.hidden(t, "csrf")}, "req": {login.hidden(t, "req")},
		"email": {"tester@example.com"}, "password": {password}})
	want(t, p, 200, "worked", testerID, "tester@example.com", "opened no console session")
	if p.url.Path != "/admin/callback" {
		t.Fatalf("the test ended on %s", p.url)
	}
	// The console is still the admin's.
	want(t, b.get("/admin/connections"), 200, "admin@example.com")

	form := b.get("/admin/connections/new")
	want(t, b.postWith(form, "/admin/connections", url.Values{"name": {"corp"}, "strategy": {"oidc"}, "client_id": {"abc"},
		"client_secret": {"s"}, "issuer": {"https://idp.example"}}), 200, "The connection was created.")
	want(t, b.get("/admin/connections/corp/test"), 400, `id="test-error"`, "not enabled for this application", "Is the connection enabled for the application gatehouse-console?")

	want(t, b.get("/admin/connections/nothing/test"), 404)
	r := e.browser()
	r.signIn("reader@example.com")
	want(t, r.get("/admin/connections/"+conn+"/test"), 403, "read-only")
}
