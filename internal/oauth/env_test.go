package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/oauth"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
	"gatehouse/web"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// loopbackCB is the callback most test clients register. Nothing listens
// there: the test HTTP client never follows redirects.
const loopbackCB = "http://127.0.0.1:5555/cb"

// clock is the provider's and the session manager's time, which a test can
// move forward to expire codes.
type clock struct {
	mu     sync.Mutex // guards offset
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// env is a real Provider over a real SQLite store, served by httptest.
type env struct {
	srv      *httptest.Server
	issuer   string
	st       store.Store
	writes   *countingStore // the provider's view of st, counting its writes
	keys     *token.Keys
	clock    *clock
	http     *http.Client
	audit    *audit.Writer // records the provider's events into st
	provider *oauth.Provider
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with edit applied to the provider's configuration.
func newEnvWith(t testing.TB, edit func(*oauth.Config)) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })

	master := make([]byte, 32)
	_, _ = rand.Read(master)
	sealer, err := token.NewSealer(master)
	if err != nil {
		t.Fatalf("new sealer: %v", err)
	}
	keys, err := token.NewKeys(st, sealer, token.KeyOptions{})
	if err != nil {
		t.Fatalf("new keys: %v", err)
	}
	if err := keys.Init(ctx); err != nil {
		t.Fatalf("init keys: %v", err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	pages, err := web.NewRenderer(log)
	if err != nil {
		t.Fatalf("new renderer: %v", err)
	}
	clk := &clock{}
	sessions := &session.Manager{Store: st, TTL: time.Hour, Now: clk.Now}

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	writes := &countingStore{Store: st}
	aw, err := audit.NewWriter(audit.WriterConfig{Store: st, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = aw.Close(context.Background()) })
	cfg := oauth.Config{
		Audit:    aw,
		Issuer:   srv.URL,
		Store:    writes,
		Keys:     keys,
		Sessions: sessions,
		Pages:    pages,
		Log:      log,
		Binder:   authflow.Binder{CSRFKey: []byte("0123456789abcdef0123456789abcdef")},
		Now:      clk.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := oauth.New(cfg)
	if err != nil {
		t.Fatalf("new provider: %v", err)
	}
	p.Mount(mux)
	return &env{
		srv:      srv,
		issuer:   srv.URL,
		st:       st,
		writes:   writes,
		keys:     keys,
		clock:    clk,
		audit:    aw,
		provider: p,
		http: &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		},
	}
}

// countingStore counts the calls of the store methods that write the
// authorization flow's rows.
type countingStore struct {
	store.Store
	mu    sync.Mutex // guards calls
	calls map[string]int
}

func (c *countingStore) count(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[method]++
}

// take returns the counts since the last take.
func (c *countingStore) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = nil
	if calls == nil {
		calls = map[string]int{}
	}
	return calls
}

func (c *countingStore) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	c.count("CreateAuthRequest")
	return c.Store.CreateAuthRequest(ctx, r)
}

func (c *countingStore) ConsumeAuthRequestForCode(ctx context.Context, id string, code store.AuthCode) error {
	c.count("ConsumeAuthRequestForCode")
	return c.Store.ConsumeAuthRequestForCode(ctx, id, code)
}

func (c *countingStore) CreateCode(ctx context.Context, code store.AuthCode) error {
	c.count("CreateCode")
	return c.Store.CreateCode(ctx, code)
}

func (c *countingStore) RedeemCode(ctx context.Context, id string, now time.Time, issued store.Issued) (store.AuthCode, error) {
	c.count("RedeemCode")
	return c.Store.RedeemCode(ctx, id, now, issued)
}

func (c *countingStore) CreateAccessToken(ctx context.Context, a store.AccessToken) error {
	c.count("CreateAccessToken")
	return c.Store.CreateAccessToken(ctx, a)
}

func (c *countingStore) CreateRefreshToken(ctx context.Context, r store.RefreshToken) error {
	c.count("CreateRefreshToken")
	return c.Store.CreateRefreshToken(ctx, r)
}

func (c *countingStore) RotateRefreshToken(ctx context.Context, oldID string, next store.RefreshToken, now time.Time, overlap time.Duration, access *store.AccessToken) (store.RefreshToken, error) {
	c.count("RotateRefreshToken")
	return c.Store.RotateRefreshToken(ctx, oldID, next, now, overlap, access)
}

func (c *countingStore) RotateRefresh(ctx context.Context, r store.Rotation) (store.Rotated, error) {
	c.count("RotateRefresh")
	return c.Store.RotateRefresh(ctx, r)
}

func (c *countingStore) DeleteAuthRequest(ctx context.Context, id string) error {
	c.count("DeleteAuthRequest")
	return c.Store.DeleteAuthRequest(ctx, id)
}

// client is a registered client with its secret in clear.
type client struct {
	ID        string
	Secret    string
	Callbacks []string
}

// newClient registers a client; Name and Callbacks have defaults.
func (e *env) newClient(t testing.TB, p oauth.NewClientParams) client {
	t.Helper()
	return e.newClientWith(t, p, nil)
}

// newClientWith registers a client like newClient, after edit has changed
// the settings NewClientParams does not cover (token lifetimes, refresh
// policy).
func (e *env) newClientWith(t testing.TB, p oauth.NewClientParams, edit func(*store.Client)) client {
	t.Helper()
	if p.Name == "" {
		p.Name = "Test app"
	}
	if p.Callbacks == nil {
		p.Callbacks = []string{loopbackCB}
	}
	c, secret, err := oauth.NewClient(p)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	if edit != nil {
		edit(&c)
	}
	if err := e.st.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("create client: %v", err)
	}
	// As "gatehouse apps create" does: username/password login is on.
	if err := e.st.SetConnectionEnabled(t.Context(), store.DefaultDatabaseConnection, c.ID, true); err != nil {
		t.Fatalf("enable database connection: %v", err)
	}
	return client{ID: c.ID, Secret: secret, Callbacks: c.Callbacks}
}

// newAPI registers an API (resource server). Name and SigningAlgorithm
// have defaults; first-party clients skip consent for it.
func (e *env) newAPI(t testing.TB, a store.API) store.API {
	t.Helper()
	if a.Name == "" {
		a.Name = "Test API"
	}
	if a.SigningAlgorithm == "" {
		a.SigningAlgorithm = "RS256"
	}
	a.SkipConsentFirstParty = true
	a.CreatedAt = e.clock.Now().UTC()
	a.UpdatedAt = a.CreatedAt
	if err := e.st.CreateAPI(t.Context(), a); err != nil {
		t.Fatalf("create api: %v", err)
	}
	return a
}

// jwks fetches the published key set.
func (e *env) jwks(t testing.TB) jose.JSONWebKeySet {
	t.Helper()
	r := e.get(t, "/.well-known/jwks.json", nil, nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("parse JWKS %s: %v", r.body, err)
	}
	return set
}

// clientPost posts form to a client-authenticated endpoint (/oauth/revoke,
// /oauth/introspect); setup may change the request.
func (e *env) clientPost(t testing.TB, path string, form url.Values, setup func(*http.Request)) response {
	t.Helper()
	req := e.newRequest(t, http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if setup != nil {
		setup(req)
	}
	return e.do(t, req)
}

// refresh sends a refresh_token grant for c with client_secret_post.
func (e *env) refresh(t testing.TB, c client, refreshToken string) response {
	t.Helper()
	return e.tokenReq(t, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {c.ID},
		"client_secret": {c.Secret},
	}, nil)
}

// checkError checks an RFC 6749 §5.2 error response: status, JSON error
// code, error_description charset and the no-store headers.
func checkError(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Errorf("error body %q is not JSON (Content-Type %q): %v", r.body, r.header.Get("Content-Type"), err)
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if body["error"] != code {
		t.Errorf("error = %v, want %s (body %s)", body["error"], code, r.body)
	}
	desc, _ := body["error_description"].(string)
	checkDescription(t, desc)
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
}

// login creates a user and a live session for it, and returns the session
// cookie a logged-in browser would send.
func (e *env) login(t testing.TB) (store.User, store.Session, *http.Cookie) {
	t.Helper()
	now := e.clock.Now().UTC()
	id := token.NewOpaque()[:16]
	u := store.User{
		ID:            "gatehouse|" + id,
		Connection:    store.DefaultDatabaseConnection,
		Email:         "user-" + strings.ToLower(id) + "@example.com",
		EmailVerified: true,
		Name:          "Test User",
		Nickname:      "test",
		CreatedAt:     now,
		UpdatedAt:     now.Truncate(time.Second),
	}
	if err := e.st.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	value := token.NewOpaque()
	s := store.Session{
		ID:        token.Hash(value),
		UserID:    u.ID,
		AuthTime:  now.Add(-time.Minute).Truncate(time.Second),
		Methods:   []string{"pwd"},
		CreatedAt: now.Add(-time.Minute),
		ExpiresAt: now.Add(time.Hour),
	}
	if err := e.st.CreateSession(t.Context(), s); err != nil {
		t.Fatalf("create session: %v", err)
	}
	return u, s, &http.Cookie{Name: session.CookieName, Value: value}
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (e *env) newRequest(t testing.TB, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.issuer+path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	return req
}

// get sends GET path?q with the cookie, if any.
func (e *env) get(t testing.TB, path string, q url.Values, cookie *http.Cookie) response {
	t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req := e.newRequest(t, http.MethodGet, path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return e.do(t, req)
}

// postForm sends a form-encoded POST with the cookie, if any.
func (e *env) postForm(t testing.TB, path string, form url.Values, cookie *http.Cookie) response {
	t.Helper()
	req := e.newRequest(t, http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return e.do(t, req)
}

// authQuery is a valid authorization request for c.
func authQuery(c client) url.Values {
	return url.Values{
		"client_id":     {c.ID},
		"redirect_uri":  {c.Callbacks[0]},
		"response_type": {"code"},
		"scope":         {"openid profile email"},
		"state":         {"st-" + token.NewOpaque()[:8]},
	}
}

// location parses the Location header of a redirect.
func location(t testing.TB, r response) *url.URL {
	t.Helper()
	loc := r.header.Get("Location")
	if loc == "" {
		t.Fatalf("no Location header (status %d, body %.300s)", r.status, r.body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("parse Location %q: %v", loc, err)
	}
	return u
}

// withoutQuery is u's scheme, host and path.
func withoutQuery(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment, v.RawFragment = "", "", ""
	return v.String()
}

// code drives /authorize with a logged-in browser of a first-party client
// and returns the code, after checking the redirect. extra replaces
// parameters of authQuery; an empty value removes one.
func (e *env) code(t testing.TB, c client, cookie *http.Cookie, extra url.Values) string {
	t.Helper()
	q := authQuery(c)
	for k, v := range extra {
		if len(v) == 0 || v[0] == "" {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	r := e.get(t, "/authorize", q, cookie)
	if r.status != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302 (Location %q, body %.300s)", r.status, r.header.Get("Location"), r.body)
	}
	loc := location(t, r)
	got := loc.Query()
	if got.Get("code") == "" {
		t.Fatalf("authorize: no code in %s", loc)
	}
	return got.Get("code")
}

// tokenReq posts form to /oauth/token; setup may change the request.
func (e *env) tokenReq(t testing.TB, form url.Values, setup func(*http.Request)) response {
	t.Helper()
	req := e.newRequest(t, http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if setup != nil {
		setup(req)
	}
	return e.do(t, req)
}

// exchange redeems code with client_secret_post and expects success.
func (e *env) exchange(t testing.TB, c client, code string, extra url.Values) tokenResult {
	t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {c.Callbacks[0]},
		"client_id":     {c.ID},
		"client_secret": {c.Secret},
	}
	for k, v := range extra {
		form[k] = v
	}
	r := e.tokenReq(t, form, nil)
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d, want 200; body %s", r.status, r.body)
	}
	var tr tokenResult
	if err := json.Unmarshal(r.body, &tr); err != nil {
		t.Fatalf("token: decode %s: %v", r.body, err)
	}
	return tr
}

// tokenResult is a token endpoint success body.
type tokenResult struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
}

// basicAuth sets client_secret_basic credentials, form-encoding id and
// secret first as RFC 6749 §2.3.1 requires.
func basicAuth(id, secret string) func(*http.Request) {
	return func(r *http.Request) {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
}

// decodeJSON decodes a JSON object body.
func decodeJSON(t testing.TB, r response) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// checkDescription checks RFC 6749 §5.2's error_description charset:
// %x20-21 / %x23-5B / %x5D-7E.
func checkDescription(t testing.TB, desc string) {
	t.Helper()
	if desc == "" {
		t.Errorf("error_description is empty")
	}
	for i := 0; i < len(desc); i++ {
		c := desc[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("error_description %q has byte %#x outside RFC 6749 §5.2's set", desc, c)
			return
		}
	}
}

// checkNoStore checks the RFC 6749 §5.1 cache headers.
func checkNoStore(t testing.TB, h http.Header) {
	t.Helper()
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if got := h.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma %q, want no-cache", got)
	}
}
