package login

import (
	"context"
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
	"gatehouse/internal/connector/database"
	"gatehouse/internal/mfa"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
	"gatehouse/web"
)

// env is the hosted pages over a real SQLite store, served by httptest.
// /authorize is not mounted: tests store requests themselves, as the
// protocol side would, and check what the pages record on them.
type env struct {
	srv    *httptest.Server
	st     store.Store
	binder authflow.Binder
	client store.Client
	// mfa is the pages' factor service; clock is its clock and the
	// pages' (throttle windows, ceremonies), which tests move.
	mfa   *mfa.Service
	clock *testClock
	pages *Pages
}

// Cheap argon2id settings: these tests are about the pages, not the hash.
var testParams = database.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// newEnv builds the pages; opts change their Config first (a Mail sender).
func newEnv(t testing.TB, opts ...func(*Config)) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	pages, err := web.NewRenderer(log)
	if err != nil {
		t.Fatal(err)
	}
	db, err := database.Open(database.Config{Store: st, Params: testParams})
	if err != nil {
		t.Fatal(err)
	}
	binder := authflow.Binder{CSRFKey: []byte("0123456789abcdef0123456789abcdef")}
	clock := &testClock{now: time.Now().UTC()}
	sealer, err := token.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	// A host name, not an IP address: WebAuthn needs one.
	factors, err := mfa.New(mfa.Config{Issuer: testIssuer, Store: st, Sealer: sealer, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Issuer: testIssuer, Store: st, Pages: pages, Database: db, Log: log, Binder: binder,
		Sessions: &session.Manager{Store: st, TTL: time.Hour, Now: time.Now},
		Throttle: Throttle{PerAccount: 5, PerIP: 100, Window: 15 * time.Minute}, MinPasswordLength: 8,
		MFA: factors, MFAPolicy: mfa.PolicyOptional, Now: clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	now := time.Now().UTC()
	c := store.Client{ID: "client-1", Name: "Test App", Type: "regular_web", Callbacks: []string{"https://app.example/cb"},
		GrantTypes: []string{"authorization_code"}, CreatedAt: now}
	if err := st.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.SetConnectionEnabled(ctx, store.DefaultDatabaseConnection, c.ID, true); err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, st: st, binder: binder, client: c, mfa: factors, clock: clock, pages: p}
}

const testIssuer = "http://gatehouse.test"

// browser is a cookie-keeping client that never follows redirects.
type browser struct {
	t testing.TB
	e *env
	c *http.Client
}

func (e *env) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// pendingRequest stores a request bound to b, as /authorize does before
// it sends the browser to a page.
func (b *browser) pendingRequest(edit func(*store.AuthRequest)) store.AuthRequest {
	b.t.Helper()
	// Bind through the real code path: a recorder gives the cookie to set.
	w := httptest.NewRecorder()
	hash := b.e.binder.Bind(w, httptest.NewRequest(http.MethodGet, "/authorize", nil))
	u, _ := url.Parse(b.e.srv.URL)
	b.c.Jar.SetCookies(u, w.Result().Cookies())
	now := time.Now().UTC()
	req := store.AuthRequest{ID: "req-" + token.NewOpaque()[:16], ClientID: b.e.client.ID, RedirectURI: "https://app.example/cb",
		Scopes: []string{"openid", "email"}, MaxAge: -1, BrowserHash: hash, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if edit != nil {
		edit(&req)
	}
	if err := b.e.st.CreateAuthRequest(context.Background(), req); err != nil {
		b.t.Fatal(err)
	}
	return req
}

type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) get(path string) response {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil)
}

func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	return b.do(http.MethodPost, path, form)
}

func (b *browser) do(method, path string, form url.Values) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(out), header: resp.Header}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// form returns a page's hidden fields.
func form(t testing.TB, r response) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(r.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" {
		t.Fatalf("page (%d) has no form:\n%.500s", r.status, r.body)
	}
	return v
}

// database opens the password connection over the env's store.
func (e *env) database(t testing.TB) *database.Connector {
	t.Helper()
	db, err := database.Open(database.Config{Store: e.st, Params: testParams})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
