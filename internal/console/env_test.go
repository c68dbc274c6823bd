package console_test

import (
	"crypto/rand"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/console"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// env is a whole Gatehouse server over SQLite, served by httptest, with a
// service of its own over the same store for the tests' setup.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	issuer string
	st     store.Store
	keys   *token.Keys
	svc    *mgmt.Service
}

const password = "correct horse battery staple"

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	cfg := config.Default()
	cfg.Issuer = issuer
	cfg.SigningAlgorithm = "ES256"
	cfg.Password.MemoryKiB, cfg.Password.Iterations = 8*1024, 1
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	sealer, err := token.NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeys(st, sealer, token.KeyOptions{Algorithm: cfg.SigningAlgorithm})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Init(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(cfg, st, keys, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	db, err := database.Open(server.DatabaseConfig(cfg, st))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mgmt.New(mgmt.Config{Store: st, Sealer: sealer, Keys: keys, Issuer: issuer, Passwords: db, Signing: keys})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, issuer: issuer, st: st, keys: keys, svc: svc}
}

// user creates a database user who can log in with password; level makes
// it an admin.
func (e *env) user(email string, level mgmt.AdminLevel) string {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.t.Context(), mgmt.NewUser{Connection: store.DefaultDatabaseConnection, Email: email,
		Password: password, EmailVerified: true})
	if err != nil {
		e.t.Fatal(err)
	}
	if level != mgmt.AdminNone {
		if _, err := e.svc.AddAdmin(e.t.Context(), u.ID, level == mgmt.AdminReadOnly); err != nil {
			e.t.Fatal(err)
		}
	}
	return u.ID
}

// browser is a cookie-keeping client that follows redirects within the
// server.
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, client: &http.Client{Jar: jar}}
}

// page is an answer: its final URL, status and body.
type page struct {
	url    *url.URL
	status int
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{url: resp.Request.URL, status: resp.StatusCode, body: string(body)}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, err := http.NewRequestWithContext(b.e.t.Context(), "GET", b.e.srv.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	req, err := http.NewRequestWithContext(b.e.t.Context(), "POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(csrf|req)" value="([^"]*)">`)

// hidden returns the value of the page's hidden input name.
func (p page) hidden(t *testing.T, name string) string {
	t.Helper()
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("no hidden %s on %s:\n%s", name, p.url, p.body)
	return ""
}

// signIn opens the console and logs in through the hosted login page;
// it returns the page the login ends on.
func (b *browser) signIn(email string) page {
	b.e.t.Helper()
	login := b.get("/admin/")
	if login.url.Path != "/u/login" {
		b.e.t.Fatalf("not sent to the hosted login: %s (%d)", login.url, login.status)
	}
	return b.post("/u/login", url.Values{"csrf": {login.hidden(b.e.t, "csrf")}, "req": {login.hidden(b.e.t, "req")},
		"email": {email}, "password": {password}})
}

// clockedConsole is a console over the env's server whose clock runs
// ahead by skew, on a handler that sends everything else to the server.
func (e *env) clockedConsole(skew time.Duration) http.Handler {
	return e.consoleWith(skew, false)
}

// consoleWith is clockedConsole, with https cookies when secure.
func (e *env) consoleWith(skew time.Duration, secure bool) http.Handler {
	e.t.Helper()
	binder, err := authflow.NewBinder(secure, e.keys.DeriveKey("csrf"))
	if err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	c, err := console.New(console.Config{Issuer: e.issuer, Service: e.svc, Keys: e.keys, Binder: binder, Handler: e.srv.Config.Handler, Secure: secure,
		Now: func() time.Time { return time.Now().Add(skew) }})
	if err != nil {
		e.t.Fatal(err)
	}
	c.Mount(mux)
	return mux
}
