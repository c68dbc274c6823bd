package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"gatehouse/internal/config"
)

// fakeGitHub serves GitHub's OAuth and user API on loopback: the real one
// cannot be reached from the tests.
type fakeGitHub struct {
	*httptest.Server
	mu         sync.Mutex // guards the fields below
	name       string     // the user's display name
	deny       bool       // the user cancels at GitHub
	tokenFails bool       // the token endpoint answers 500
	email      string
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{name: "The Octocat", email: "octocat@example.com"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "gh-client" || q.Get("state") == "" {
			http.Error(w, "bad authorize request", 400)
			return
		}
		f.mu.Lock()
		deny := f.deny
		f.mu.Unlock()
		back := url.Values{"state": {q.Get("state")}}
		if deny {
			back.Set("error", "access_denied")
			back.Set("error_description", "The user has denied your application access.")
		} else {
			back.Set("code", "gh-code-"+q.Get("state")[len(q.Get("state"))-6:])
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		fails := f.tokenFails
		f.mu.Unlock()
		if fails {
			http.Error(w, "unavailable", http.StatusInternalServerError)
			return
		}
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if id != "gh-client" || secret != "gh-secret-value" || !strings.HasPrefix(r.PostForm.Get("code"), "gh-code-") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"error":"bad_verification_code"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"gho_fake","token_type":"bearer","scope":"read:user,user:email"}`))
	})
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer gho_fake" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 1001, "login": "octocat", "name": f.name,
			"avatar_url": "https://avatars.example.com/u/1001", "email": nil})
	})
	mux.HandleFunc("GET /user/emails", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode([]map[string]any{
			{"email": "old@example.com", "primary": false, "verified": true},
			{"email": f.email, "primary": true, "verified": true},
		})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitHub) set(fn func(*fakeGitHub)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func TestEndToEndGitHubConnection(t *testing.T) {
	g := startGatehouse(t, nil)
	gh := newFakeGitHub(t)
	id, secret := g.app(rpCallback, "--first-party")
	otherID, _ := g.app(rpCallback)
	dbUser := g.user("octocat@example.com", userPass) // same email as the GitHub account
	out, errOut, code := g.cli("", "connections", "create", "--name", "github", "--strategy", "github",
		"--client-id", "gh-client", "--client-secret", "gh-secret-value", "--base-url", gh.URL, "--api-url", gh.URL, "--enable-for", id)
	if code != 0 || !strings.Contains(out, "/login/callback") {
		t.Fatalf("connections create: %d %s %s", code, out, errOut)
	}
	r := newRP(t, g, id, secret, "openid", "profile", "email")

	// The login page offers GitHub and the password form.
	b := newBrowser(t, g.issuer, gh.URL)
	u, f := r.authURL()
	p := b.get(u)
	if !strings.Contains(p.body, `id="connection-github"`) || !strings.Contains(p.body, "Continue with GitHub") || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("login page:\n%s", p.body)
	}
	m := regexpFind(t, `href="(/u/login/github\?req=[^"]+)"`, p.body)
	p = b.get(g.issuer + strings.ReplaceAll(m, "&amp;", "&"))
	_, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	var c claims
	_ = idt.Claims(&c)
	if c.Sub != "github|1001" || c.Nickname != "octocat" || c.Name != "The Octocat" || c.Email != "octocat@example.com" || c.EmailVerified == nil || !*c.EmailVerified {
		t.Errorf("claims %+v", c)
	}
	var pic struct{ Picture string }
	_ = idt.Claims(&pic)
	if pic.Picture != "https://avatars.example.com/u/1001" {
		t.Errorf("picture %q", pic.Picture)
	}
	// Never linked by email: the database user with the same address is another account.
	if c.Sub == dbUser {
		t.Fatal("GitHub login was linked to the database user by email")
	}
	out, _, _ = g.cli("", "users", "show", "github|1001")
	if !strings.Contains(out, `"connection": "github"`) || !strings.Contains(out, `"user_id": "1001"`) {
		t.Errorf("users show lacks the identity:\n%s", out)
	}

	// A later login updates the profile.
	gh.set(func(f *fakeGitHub) { f.name = "Mona Lisa Octocat" })
	b2 := newBrowser(t, g.issuer, gh.URL)
	u, f = r.authURL(oauth2.SetAuthURLParam("connection", "github"))
	p = b2.get(u) // connection= skips the login page
	_, idt = r.exchange(callbackParams(t, p, rpCallback), f)
	_ = idt.Claims(&c)
	if c.Name != "Mona Lisa Octocat" || c.Sub != "github|1001" {
		t.Errorf("profile not updated: %+v", c)
	}

	t.Run("cancel at GitHub", func(t *testing.T) {
		gh.set(func(f *fakeGitHub) { f.deny = true })
		defer gh.set(func(f *fakeGitHub) { f.deny = false })
		u, f := r.authURL(oauth2.SetAuthURLParam("connection", "github"))
		q := callbackParams(t, newBrowser(t, g.issuer, gh.URL).get(u), rpCallback)
		if q.Get("error") != "access_denied" || q.Get("state") != f.state || q.Get("code") != "" {
			t.Errorf("callback %v", q)
		}
	})

	t.Run("GitHub down", func(t *testing.T) {
		gh.set(func(f *fakeGitHub) { f.tokenFails = true })
		defer gh.set(func(f *fakeGitHub) { f.tokenFails = false })
		u, f := r.authURL(oauth2.SetAuthURLParam("connection", "github"))
		q := callbackParams(t, newBrowser(t, g.issuer, gh.URL).get(u), rpCallback)
		if q.Get("error") != "server_error" || !strings.Contains(q.Get("error_description"), "github") || q.Get("state") != f.state {
			t.Errorf("callback %v", q)
		}
	})

	t.Run("unknown or disabled connection", func(t *testing.T) {
		for _, tt := range []struct{ client, conn string }{{id, "gitlab"}, {otherID, "github"}} {
			rr := newRP(t, g, tt.client, "x")
			u, f := rr.authURL(oauth2.SetAuthURLParam("connection", tt.conn))
			q := callbackParams(t, newBrowser(t, g.issuer).get(u), rpCallback)
			if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), tt.conn) || q.Get("state") != f.state {
				t.Errorf("%s for %s: %v", tt.conn, tt.client, q)
			}
		}
	})

	t.Run("forged and replayed callbacks", func(t *testing.T) {
		b := newBrowser(t, g.issuer, gh.URL)
		b.stopAt = g.issuer + "/login/callback"
		u, _ := r.authURL(oauth2.SetAuthURLParam("connection", "github"))
		p := b.get(u)
		if !strings.HasPrefix(p.location, g.issuer+"/login/callback?") {
			t.Fatalf("expected a stop at the callback, got %q", p.location)
		}
		cb := p.location
		// Another browser (no binding cookie) may not use it.
		if p := newBrowser(t, g.issuer).get(cb); p.status != http.StatusBadRequest || p.location != "" {
			t.Errorf("callback in another browser: %d %q", p.status, p.location)
		}
		// A forged state is refused.
		forged := strings.Replace(cb, "state=", "state=x", 1)
		if p := b.get(forged); p.status != http.StatusBadRequest || p.location != "" {
			t.Errorf("forged state: %d %q", p.status, p.location)
		}
		b.stopAt = ""
		if p := b.get(cb); !strings.HasPrefix(p.location, rpCallback) {
			t.Fatalf("genuine callback: %d %q %s", p.status, p.location, p.body)
		}
		// The same callback again is a replay.
		if p := b.get(cb); p.status != http.StatusBadRequest || p.location != "" {
			t.Errorf("replayed callback: %d %q", p.status, p.location)
		}
	})
}

// TestEndToEndOIDCConnection logs in to one Gatehouse through a second one,
// a real OpenID provider, with the oidc strategy.
func TestEndToEndOIDCConnection(t *testing.T) {
	g := startGatehouse(t, nil)
	// Another host name than g's: browsers share cookies across ports.
	upstream := startGatehouse(t, func(c *config.Config) { c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1) })
	upID, upSecret := upstream.app(g.issuer+"/login/callback", "--first-party")
	upUser := upstream.user("carol@corp.example", userPass)

	id, secret := g.app(rpCallback, "--first-party", "--no-database-connection")
	if _, errOut, code := g.cli("", "connections", "create", "--name", "corp", "--strategy", "oidc", "--issuer", upstream.issuer,
		"--client-id", upID, "--client-secret", upSecret, "--enable-for", id); code != 0 {
		t.Fatalf("connections create: %s", errOut)
	}
	r := newRP(t, g, id, secret, "openid", "profile", "email")
	b := newBrowser(t, g.issuer, upstream.issuer)
	u, f := r.authURL()
	p := b.get(u)
	if !strings.Contains(p.body, `id="connection-corp"`) || strings.Contains(p.body, `name="password"`) {
		t.Fatalf("login page should offer only corp:\n%s", p.body)
	}
	m := regexpFind(t, `href="(/u/login/corp\?req=[^"]+)"`, p.body)
	p = b.get(g.issuer + strings.ReplaceAll(m, "&amp;", "&"))
	if !strings.HasPrefix(p.url.String(), upstream.issuer+"/u/login") {
		t.Fatalf("expected the upstream login page, at %s", p.url)
	}
	p = b.login(p, "carol@corp.example", userPass)
	_, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	var c claims
	_ = idt.Claims(&c)
	if c.Sub != "oidc-corp|"+upUser || c.Email != "carol@corp.example" || c.Name != "Test User" {
		t.Errorf("claims through the upstream: %+v", c)
	}
	// The upstream session makes the next login seamless: no page at all.
	u, f = r.authURL(oauth2.SetAuthURLParam("connection", "corp"), oauth2.SetAuthURLParam("prompt", "login"))
	_, idt = r.exchange(callbackParams(t, b.get(u), rpCallback), f)
	if idt.Subject != c.Sub {
		t.Errorf("second login sub %q", idt.Subject)
	}
	// Password login is not enabled for the app: a posted form is refused.
	u, _ = r.authURL()
	p = b.get(u)
	if p.status == http.StatusOK && strings.Contains(p.body, `name="password"`) {
		t.Error("password form shown although the database connection is disabled")
	}
}

func regexpFind(t *testing.T, pattern, s string) string {
	t.Helper()
	m := mustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", pattern, s)
	}
	return m[1]
}

// TestConfigFileConnections declares a connection in the config file.
func TestConfigFileConnections(t *testing.T) {
	gh := newFakeGitHub(t)
	g := startGatehouse(t, func(c *config.Config) {
		c.Connections = []config.ConnectionConfig{{Name: "github", Strategy: "github", ClientID: "gh-client",
			ClientSecret: "gh-secret-value", BaseURL: gh.URL, APIURL: gh.URL, EnableFor: []string{"cfg-app"}}}
	})
	_, secret := g.app(rpCallback, "--client-id", "cfg-app", "--first-party")
	r := newRP(t, g, "cfg-app", secret, "openid", "profile")
	u, f := r.authURL(oauth2.SetAuthURLParam("connection", "github"))
	_, idt := r.exchange(callbackParams(t, newBrowser(t, g.issuer, gh.URL).get(u), rpCallback), f)
	if idt.Subject != "github|1001" {
		t.Errorf("sub %q", idt.Subject)
	}

	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"missing secret env", "connections:\n  - {name: gh, strategy: github, client_id: a, client_secret_env: GATEHOUSE_TEST_UNSET_SECRET}\n", "GATEHOUSE_TEST_UNSET_SECRET is not set"},
		{"bad strategy", "connections:\n  - {name: gh, strategy: saml, client_id: a, client_secret: b}\n", "not github, oidc or oauth2"},
		{"bad mapping", "connections:\n  - {name: corp, strategy: oidc, issuer: 'https://idp.example', client_id: a, client_secret: b, claim_mapping: {password: x}}\n", "claim_mapping field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := dir + "/g.yaml"
			writeFile(t, file, "db: sqlite:"+dir+"/g.db\naddr: 127.0.0.1:0\n"+tt.yaml)
			_, errOut, code := runCLI(t, "", "serve", "--config", file)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q, want %q", code, errOut, tt.want)
			}
		})
	}
}

// TestEndToEndLinkAccounts links a GitHub identity to a database user
// explicitly; afterwards GitHub logins land on the database user.
func TestEndToEndLinkAccounts(t *testing.T) {
	g := startGatehouse(t, nil)
	gh := newFakeGitHub(t)
	id, secret := g.app(rpCallback, "--first-party")
	dbUser := g.user("octocat@example.com", userPass)
	if _, errOut, code := g.cli("", "connections", "create", "--name", "github", "--strategy", "github",
		"--client-id", "gh-client", "--client-secret", "gh-secret-value", "--base-url", gh.URL, "--api-url", gh.URL, "--enable-for", id); code != 0 {
		t.Fatal(errOut)
	}
	r := newRP(t, g, id, secret, "openid", "email")
	u, f := r.authURL(oauth2.SetAuthURLParam("connection", "github"))
	_, idt := r.exchange(callbackParams(t, newBrowser(t, g.issuer, gh.URL).get(u), rpCallback), f)
	if idt.Subject != "github|1001" {
		t.Fatalf("first GitHub login: sub %q", idt.Subject)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"users", "link", dbUser}, 2, "PRIMARY_USER_ID and SECONDARY_USER_ID"},
		{[]string{"users", "link", dbUser, dbUser}, 2, "two different users"},
		{[]string{"users", "link", dbUser, "github|nope"}, 1, "not found"},
	} {
		if _, errOut, code := g.cli("", tt.args...); code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d %q", tt.args, code, errOut)
		}
	}
	out, errOut, code := g.cli("", "users", "link", dbUser, "github|1001")
	if code != 0 || !strings.Contains(out, "github|1001") {
		t.Fatalf("users link: %d %s %s", code, out, errOut)
	}
	u, f = r.authURL(oauth2.SetAuthURLParam("connection", "github"))
	_, idt = r.exchange(callbackParams(t, newBrowser(t, g.issuer, gh.URL).get(u), rpCallback), f)
	if idt.Subject != dbUser {
		t.Errorf("after linking, GitHub login gives sub %q, want %q", idt.Subject, dbUser)
	}
	// The password still works for the same account.
	b := newBrowser(t, g.issuer)
	u, f = r.authURL()
	_, idt = r.exchange(callbackParams(t, b.login(b.get(u), "octocat@example.com", userPass), rpCallback), f)
	if idt.Subject != dbUser {
		t.Errorf("password login sub %q", idt.Subject)
	}
}

// TestForcedConnectionIgnoresOtherSessions: a password session does not
// satisfy connection=github; the browser is sent to GitHub.
func TestForcedConnectionIgnoresOtherSessions(t *testing.T) {
	g := startGatehouse(t, nil)
	gh := newFakeGitHub(t)
	id, secret := g.app(rpCallback, "--first-party")
	g.user(userEmail, userPass)
	if _, errOut, code := g.cli("", "connections", "create", "--name", "github", "--strategy", "github",
		"--client-id", "gh-client", "--client-secret", "gh-secret-value", "--base-url", gh.URL, "--api-url", gh.URL, "--enable-for", id); code != 0 {
		t.Fatal(errOut)
	}
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer) // does not follow redirects to GitHub
	loginFlow(t, b, r)
	u, _ := r.authURL(oauth2.SetAuthURLParam("connection", "github"))
	if p := b.get(u); !strings.HasPrefix(p.location, gh.URL+"/login/oauth/authorize") {
		t.Errorf("connection=github with a password session: status %d, location %q", p.status, p.location)
	}
	// Without connection= the password session is reused.
	u, f := r.authURL(oauth2.SetAuthURLParam("prompt", "none"))
	r.exchange(callbackParams(t, b.get(u), rpCallback), f)
}
