package oauth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/oauth"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
	"gatehouse/web"
)

// The benchmarks call the protocol handlers directly, with no network: a
// Provider over a real SQLite store, a third-party client the user has
// consented to, and a live session.

const (
	benchIssuer   = "https://id.example.com"
	benchCallback = "https://app.example.com/callback"
	// benchVerifier is the PKCE verifier of every benchmark request.
	benchVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

type benchProvider struct {
	handler  http.Handler
	clientID string
	secret   string
	cookie   *http.Cookie
	query    string // of an /authorize request that yields a code at once
}

func newBenchProvider(b *testing.B, alg string) *benchProvider {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "gatehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	sealer, err := token.NewSealer(master)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := token.NewKeys(st, sealer, token.KeyOptions{Algorithm: alg})
	if err != nil {
		b.Fatal(err)
	}
	if err := keys.Init(ctx); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	pages, err := web.NewRenderer(log)
	if err != nil {
		b.Fatal(err)
	}
	p, err := oauth.New(oauth.Config{
		Issuer: benchIssuer,
		// The server answers application lookups from this cache
		// (settings_cache_ttl, 2 s by default).
		Store:    store.NewCache(st, 2*time.Second),
		Keys:     keys,
		Sessions: &session.Manager{Store: st, TTL: time.Hour, Now: time.Now},
		Pages:    pages,
		Log:      log,
		Binder:   authflow.Binder{CSRFKey: []byte("0123456789abcdef0123456789abcdef")},
		CodeTTL:  10 * time.Minute, // codes minted before the timer starts stay valid
	})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Mount(mux)

	c, secret, err := oauth.NewClient(oauth.NewClientParams{Name: "Bench app", Callbacks: []string{benchCallback}, AllowOfflineAccess: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	u := store.User{ID: "gatehouse|0123456789abcdef01234567", Connection: store.DefaultDatabaseConnection,
		Email: "ada@example.com", EmailVerified: true, Name: "Ada Lovelace", Nickname: "ada",
		Identities: []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: "gatehouse", UserID: "0123456789abcdef01234567"}},
		CreatedAt:  now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	scopes := []string{"email", "offline_access", "openid", "profile"}
	if err := st.UpsertGrant(ctx, store.Grant{UserID: u.ID, ClientID: c.ID, Scopes: scopes, CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	value := token.NewOpaque()
	if err := st.CreateSession(ctx, store.Session{ID: token.Hash(value), UserID: u.ID, AuthTime: now, Methods: []string{"pwd"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	q := url.Values{
		"client_id": {c.ID}, "redirect_uri": {benchCallback}, "response_type": {"code"},
		"scope": {strings.Join(scopes, " ")}, "state": {"af0ifjsldkj"}, "nonce": {"n-0S6_WzA2Mj"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}
	return &benchProvider{handler: mux, clientID: c.ID, secret: secret,
		cookie: &http.Cookie{Name: session.CookieName, Value: value}, query: q.Encode()}
}

// code runs /authorize on the session and returns the code.
func (p *benchProvider) code(b *testing.B) string {
	req := httptest.NewRequest(http.MethodGet, "/authorize?"+p.query, nil)
	req.AddCookie(p.cookie)
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		b.Fatalf("authorize: status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}

// tokenRequest posts a grant to /oauth/token and returns the response.
func (p *benchProvider) tokenRequest(b *testing.B, form url.Values) tokenResult {
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.clientID), url.QueryEscape(p.secret))
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	var tr tokenResult
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &tr) != nil {
		b.Fatalf("token: status %d: %s", rec.Code, rec.Body)
	}
	return tr
}

func (p *benchProvider) redeem(b *testing.B, code string) tokenResult {
	return p.tokenRequest(b, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {benchCallback}, "code_verifier": {benchVerifier}})
}

// processCPU is the CPU time (user + system) the test process has used so
// far, all threads, garbage collection and SQLite's included.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ns/op metric from start (a processCPU reading taken
// just before the timed loop). On a shared machine the wall-clock ns/op
// counts the time other processes held the CPU; CPU time per operation
// does not, so it is the figure to compare builds by.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
	}
}

var benchAlgorithms = []string{token.RS256, token.ES256, token.EdDSA}

// BenchmarkAuthorizeWithSession is /authorize for a logged-in user who has
// consented: request stored, session, user and consent read, code issued.
func BenchmarkAuthorizeWithSession(b *testing.B) {
	p := newBenchProvider(b, token.RS256)
	b.ReportAllocs()
	start := processCPU(b)
	for b.Loop() {
		p.code(b)
	}
	reportCPU(b, start)
}

// BenchmarkTokenCodeExchange redeems codes minted before the timer starts:
// client authentication, redemption, access, refresh and ID tokens.
func BenchmarkTokenCodeExchange(b *testing.B) {
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			p := newBenchProvider(b, alg)
			codes := make([]string, b.N)
			for i := range codes {
				codes[i] = p.code(b)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := processCPU(b)
			for i := 0; i < b.N; i++ {
				if tr := p.redeem(b, codes[i]); tr.IDToken == "" || tr.RefreshToken == "" {
					b.Fatalf("token response %+v lacks an ID or refresh token", tr)
				}
			}
			reportCPU(b, start)
		})
	}
}

// BenchmarkTokenRefresh rotates one refresh-token chain.
func BenchmarkTokenRefresh(b *testing.B) {
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			p := newBenchProvider(b, alg)
			rt := p.redeem(b, p.code(b)).RefreshToken
			b.ReportAllocs()
			start := processCPU(b)
			for b.Loop() {
				tr := p.tokenRequest(b, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				if tr.RefreshToken == "" {
					b.Fatal("no rotated refresh token")
				}
				rt = tr.RefreshToken
			}
			reportCPU(b, start)
		})
	}
}

// BenchmarkUserinfo is GET /userinfo with a bearer token, one request at a
// time and from GOMAXPROCS goroutines.
func BenchmarkUserinfo(b *testing.B) {
	p := newBenchProvider(b, token.RS256)
	at := p.redeem(b, p.code(b)).AccessToken
	get := func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		rec := httptest.NewRecorder()
		p.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Errorf("userinfo: status %d: %s", rec.Code, rec.Body)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		start := processCPU(b)
		for b.Loop() {
			get(b)
		}
		reportCPU(b, start)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b)
			}
		})
	})
}
