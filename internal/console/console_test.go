package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/console"
	"gatehouse/internal/mgmt"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestSignIn walks the sign-in: a visitor is sent to the hosted login
// with PKCE, state and nonce; an admin lands on the dashboard; a user
// without the role gets a 403 that names nothing; removing the role ends
// access at the next request.
func TestSignIn(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	e.user("plain@example.com", mgmt.AdminNone)

	t.Run("visitor sent to the login", func(t *testing.T) {
		resp, err := noRedirect.Get(e.srv.URL + "/admin/applications?page=2")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || loc != "/admin/login?next="+url.QueryEscape("/admin/applications?page=2") {
			t.Fatalf("status %d location %q", resp.StatusCode, loc)
		}
		resp, err = noRedirect.Get(e.srv.URL + "/admin/login?next=/admin/applications")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		q := loc.Query()
		if resp.StatusCode != 302 || loc.Path != "/authorize" || q.Get("client_id") != mgmt.ConsoleClientID ||
			q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" ||
			q.Get("redirect_uri") != e.issuer+"/admin/callback" {
			t.Fatalf("status %d location %s", resp.StatusCode, loc)
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "gatehouse-console-login" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
			t.Fatalf("login cookie %+v", cookie)
		}
	})

	t.Run("admin", func(t *testing.T) {
		p := e.browser().signIn("admin@example.com")
		if p.status != 200 || p.url.Path != "/admin/" || !strings.Contains(p.body, "<h1>Dashboard</h1>") {
			t.Fatalf("%s %d:\n%s", p.url, p.status, p.body)
		}
		for _, item := range []string{"Dashboard", "Applications", "APIs", "Users", "Connections", "Organizations", "Signing keys", "Logs", "Sign out"} {
			if !strings.Contains(p.body, ">"+item+"<") {
				t.Errorf("no %q on the dashboard", item)
			}
		}
	})

	t.Run("non-admin", func(t *testing.T) {
		b := e.browser()
		p := b.signIn("plain@example.com")
		if p.status != 403 || strings.Contains(p.body, "Applications") || strings.Contains(p.body, "plain@example.com") ||
			strings.Contains(p.body, "gatehouse:admin") {
			t.Fatalf("%s %d:\n%s", p.url, p.status, p.body)
		}
		if p := b.get("/admin/applications"); p.status != 403 {
			t.Fatalf("again: %d", p.status)
		}
	})

	t.Run("role removed", func(t *testing.T) {
		e.user("gone@example.com", mgmt.AdminFull)
		b := e.browser()
		if p := b.signIn("gone@example.com"); p.status != 200 {
			t.Fatalf("sign-in: %d", p.status)
		}
		if _, err := e.svc.RemoveAdmin(t.Context(), "gone@example.com"); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/admin/applications"); p.status != 403 || strings.Contains(p.body, "New application") {
			t.Fatalf("after removal: %d\n%s", p.status, p.body)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		b := e.browser()
		p := b.signIn("admin@example.com")
		out := b.post("/admin/logout", url.Values{"csrf": {p.hidden(t, "csrf")}})
		// The hosted login's session ended too: opening the console asks
		// for the password again.
		if out.url.Path != "/u/login" {
			t.Fatalf("after sign-out at %s (%d)", out.url, out.status)
		}
		if p := b.post("/admin/logout", url.Values{"csrf": {"forged"}}); p.status != 403 {
			t.Fatalf("sign-out without the form's token: %d", p.status)
		}
	})

	t.Run("forged callback", func(t *testing.T) {
		p := e.browser().get("/admin/callback?code=x&state=y")
		if p.status != 400 || !strings.Contains(p.body, "Sign-in expired") {
			t.Fatalf("%d:\n%s", p.status, p.body)
		}
	})
}

// TestIdleExpiry: a session unused for 12 hours signs in again, an
// hour's pause does not, and a session in use all along ends 24 hours
// after the sign-in.
func TestIdleExpiry(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	b := e.browser()
	b.signIn("admin@example.com")
	u, _ := url.Parse(e.srv.URL + "/admin/")
	cookies := b.client.Jar.Cookies(u)
	// visit opens the dashboard with a clock skew ahead, keeping the
	// session cookie the console renews; it reports whether the console
	// asked to sign in again.
	visit := func(skew time.Duration) bool {
		t.Helper()
		req := httptest.NewRequest("GET", e.srv.URL+"/admin/", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		e.clockedConsole(skew).ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			for i := range cookies {
				if cookies[i].Name == c.Name {
					cookies[i] = c
				}
			}
		}
		if rec.Code == 302 && strings.HasPrefix(rec.Header().Get("Location"), "/admin/login") {
			return true
		}
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		return false
	}
	if !visit(12*time.Hour + time.Minute) {
		t.Fatal("a session idle for 12 hours is still open")
	}
	for _, step := range []struct {
		skew   time.Duration
		signIn bool
	}{{time.Hour, false}, {11 * time.Hour, false}, {22 * time.Hour, false}, {24*time.Hour + time.Minute, true}} {
		if got := visit(step.skew); got != step.signIn {
			t.Fatalf("at +%v: sign in again %v, want %v", step.skew, got, step.signIn)
		}
	}
}

// TestSecureCookies: over https the console's cookies are __Host-,
// Secure, HttpOnly and SameSite=Lax.
func TestSecureCookies(t *testing.T) {
	e := newEnv(t)
	rec := httptest.NewRecorder()
	e.consoleWith(0, true).ServeHTTP(rec, httptest.NewRequest("GET", "/admin/login", nil))
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies %v", cs)
	}
	if c := cs[0]; c.Name != "__Host-gatehouse-console-login" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie %+v", c)
	}
}

// TestCSRF: a POST without the form's token, or with another browser's,
// changes nothing.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	b := e.browser()
	b.signIn("admin@example.com")
	other := e.browser()
	other.signIn("admin@example.com")
	otherToken := other.get("/admin/applications/new").hidden(t, "csrf")
	for _, tc := range []struct{ name, csrf string }{{"missing", ""}, {"another browser's", otherToken}} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/admin/applications", url.Values{"csrf": {tc.csrf}, "name": {"Sneaky"}, "callbacks": {"https://x.example/cb"}})
			if p.status != 403 || !strings.Contains(p.body, "Form expired") {
				t.Fatalf("%d:\n%s", p.status, p.body)
			}
		})
	}
	if list := b.get("/admin/applications?q=sneaky"); strings.Contains(list.body, "Sneaky") {
		t.Fatal("the application was created")
	}
}

// TestFormLimits: a form over MaxFormBytes is refused with 413 and one
// that does not parse with 400, on the pages and on sign-out; nothing is
// created.
func TestFormLimits(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	b := e.browser()
	b.signIn("admin@example.com")
	csrf := b.get("/admin/applications/new").hidden(t, "csrf")
	big := url.Values{"csrf": {csrf}, "name": {"Huge"}, "callbacks": {"https://x.example/cb"}, "description": {strings.Repeat("a", console.MaxFormBytes)}}
	for _, path := range []string{"/admin/applications", "/admin/logout"} {
		if p := b.post(path, big); p.status != 413 || !strings.Contains(p.body, "Form too large") {
			t.Fatalf("%s: %d:\n%s", path, p.status, p.body)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/admin/applications", strings.NewReader("csrf=%zz"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p := b.do(req); p.status != 400 || !strings.Contains(p.body, "Bad form") {
		t.Fatalf("malformed: %d:\n%s", p.status, p.body)
	}
	if list := b.get("/admin/applications?q=huge"); strings.Contains(list.body, "Huge") {
		t.Fatal("the application was created")
	}
}

// TestReadOnly: a read-only admin sees no edit controls, and a POST made
// anyway is refused by the API with a message that says why.
func TestReadOnly(t *testing.T) {
	e := newEnv(t)
	e.user("reader@example.com", mgmt.AdminReadOnly)
	b := e.browser()
	if p := b.signIn("reader@example.com"); p.status != 200 || !strings.Contains(p.body, "read-only") {
		t.Fatalf("sign-in %d:\n%s", p.status, p.body)
	}
	list := b.get("/admin/applications")
	if list.status != 200 || strings.Contains(list.body, "New application") || !strings.Contains(list.body, "Gatehouse admin console") {
		t.Fatalf("list %d:\n%s", list.status, list.body)
	}
	app := b.get("/admin/applications/" + mgmt.ConsoleClientID)
	if app.status != 200 || strings.Contains(app.body, "<form method=\"post\" action=\"/admin/applications") ||
		strings.Contains(app.body, "Rotate") || strings.Contains(app.body, "Delete") || !strings.Contains(app.body, "Quickstart") {
		t.Fatalf("application page %d:\n%s", app.status, app.body)
	}
	csrf := list.hidden(t, "csrf")
	for _, path := range []string{"/admin/applications", "/admin/applications/" + mgmt.ConsoleClientID + "/delete"} {
		p := b.post(path, url.Values{"csrf": {csrf}, "name": {"Shop"}, "callbacks": {"https://shop.example/cb"}})
		if p.status != 403 || !strings.Contains(p.body, "read-only") {
			t.Fatalf("POST %s: %d\n%s", path, p.status, p.body)
		}
	}
	if p := b.get("/admin/applications/new"); p.status != 403 {
		t.Fatalf("new form: %d", p.status)
	}
}

var clientIDRE = regexp.MustCompile(`<code id="client-id">([^<]+)</code>`)
var secretRE = regexp.MustCompile(`<code class="secret-value" id="client-secret" data-copy="the client secret">([^<]+)</code>`)

// TestApplications walks the Applications pages and their error paths:
// API validation errors beside their field with the form kept, search,
// pages, the quickstart, rotation with the secret shown once, and a
// confirmed deletion.
func TestApplications(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	b := e.browser()
	b.signIn("admin@example.com")
	csrf := b.get("/admin/applications/new").hidden(t, "csrf")

	bad := b.post("/admin/applications", url.Values{"csrf": {csrf}, "name": {"Shop"}, "app_type": {"regular_web"},
		"callbacks": {"not a url"}})
	if bad.status != 400 || !strings.Contains(bad.body, `<p class="field-error" id="err-callbacks">`) ||
		!strings.Contains(bad.body, `aria-invalid="true" aria-describedby="err-callbacks"`) || !strings.Contains(bad.body, `value="Shop"`) {
		t.Fatalf("bad callback %d:\n%s", bad.status, bad.body)
	}
	noName := b.post("/admin/applications", url.Values{"csrf": {csrf}, "callbacks": {"https://shop.example/cb"}})
	if noName.status != 400 || !strings.Contains(noName.body, `id="err-name"`) {
		t.Fatalf("no name %d:\n%s", noName.status, noName.body)
	}

	created := b.post("/admin/applications", url.Values{"csrf": {csrf}, "name": {"Shop"}, "app_type": {"regular_web"},
		"callbacks": {"https://shop.example/cb\nhttps://shop.example/cb2"}, "allowed_logout_urls": {"https://shop.example/"}})
	m, s := clientIDRE.FindStringSubmatch(created.body), secretRE.FindStringSubmatch(created.body)
	if created.status != 200 || m == nil || s == nil {
		t.Fatalf("create %d:\n%s", created.status, created.body)
	}
	id, secret := m[1], s[1]
	if !strings.Contains(created.body, e.issuer+"/authorize?client_id="+id) || !strings.Contains(created.body, "grant_type=authorization_code") ||
		!strings.Contains(created.body, url.QueryEscape("https://shop.example/cb")) {
		t.Fatalf("quickstart:\n%s", created.body)
	}
	if again := b.get("/admin/applications/" + id); strings.Contains(again.body, secret) || strings.Contains(again.body, "client-secret") {
		t.Fatal("the secret is shown twice")
	}

	editBad := b.post("/admin/applications/"+id, url.Values{"csrf": {csrf}, "name": {"Shop"}, "callbacks": {"https://shop.example/cb"},
		"allowed_logout_urls": {"javascript:alert(1)"}})
	if editBad.status != 400 || !strings.Contains(editBad.body, `id="err-allowed_logout_urls"`) {
		t.Fatalf("bad logout URL %d:\n%s", editBad.status, editBad.body)
	}
	edited := b.post("/admin/applications/"+id, url.Values{"csrf": {csrf}, "name": {"Shop 2"}, "callbacks": {"https://shop.example/cb"},
		"web_origins": {"https://shop.example"}})
	if edited.status != 200 || !strings.Contains(edited.body, "The changes were saved.") || !strings.Contains(edited.body, "https://shop.example</textarea>") {
		t.Fatalf("edit %d:\n%s", edited.status, edited.body)
	}

	for i := range 22 {
		b.post("/admin/applications", url.Values{"csrf": {csrf}, "name": {"Bulk " + string(rune('a'+i))}, "callbacks": {"https://bulk.example/cb"}})
	}
	first := b.get("/admin/applications")
	second := b.get("/admin/applications?page=1")
	if !strings.Contains(first.body, `rel="next"`) || !strings.Contains(second.body, `rel="prev"`) || !strings.Contains(first.body, "Page 1 of 2") {
		t.Fatalf("pages:\n%s\n%s", first.body, second.body)
	}
	found := b.get("/admin/applications?q=shop")
	if !strings.Contains(found.body, "Shop 2") || strings.Contains(found.body, "Bulk a") {
		t.Fatalf("search:\n%s", found.body)
	}
	if none := b.get("/admin/applications?q=zzz"); !strings.Contains(none.body, "No application matches") {
		t.Fatalf("empty search:\n%s", none.body)
	}

	confirm := b.get("/admin/applications/" + id + "/rotate-secret")
	if confirm.status != 200 || !strings.Contains(confirm.body, `action="/admin/applications/`+id+`/rotate-secret"`) {
		t.Fatalf("rotate confirm %d:\n%s", confirm.status, confirm.body)
	}
	rotated := b.post("/admin/applications/"+id+"/rotate-secret", url.Values{"csrf": {csrf}})
	s2 := secretRE.FindStringSubmatch(rotated.body)
	if rotated.status != 200 || s2 == nil || s2[1] == secret {
		t.Fatalf("rotate %d:\n%s", rotated.status, rotated.body)
	}

	if p := b.get("/admin/applications/" + id + "/delete"); p.status != 200 || !strings.Contains(p.body, "cannot be undone") {
		t.Fatalf("delete confirm %d", p.status)
	}
	deleted := b.post("/admin/applications/"+id+"/delete", url.Values{"csrf": {csrf}})
	if deleted.status != 200 || deleted.url.Path != "/admin/applications" || !strings.Contains(deleted.body, "was deleted") {
		t.Fatalf("delete %d %s:\n%s", deleted.status, deleted.url, deleted.body)
	}
	if gone := b.get("/admin/applications/" + id); gone.status != 404 {
		t.Fatalf("deleted application: %d\n%s", gone.status, gone.body)
	}
	if p := b.get("/admin/no-such-page"); p.status != 404 {
		t.Fatalf("unknown page: %d", p.status)
	}
}
