package login

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/postgres/pgtest"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
	"gatehouse/web"
)

// The test's throttle: five guesses per account per client in 15 minutes
// (one back every 3 minutes), twenty from everyone else together.
var testThrottle = Throttle{PerAccount: 5, PerIP: 100, Window: 15 * time.Minute}

const (
	testClientID = "app"
	testPassword = "correct horse battery"
	// testBinding is the browser-binding cookie every visitor sends: the
	// throttle tells visitors apart by address and device cookie.
	testBinding = "binding-cookie-of-the-test-visitors-0123456789"
)

// testClock is the pages' time, which a test moves forward.
type testClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// hashCounter is the database connection's view of the store: each
// password login reads the user by email once and then hashes (the typed
// password against the user's hash, or against a dummy hash for an
// unknown email), so the reads count the hashes.
type hashCounter struct {
	store.Store
	n atomic.Int64
}

func (h *hashCounter) GetUserByEmail(ctx context.Context, connection, email string) (store.User, error) {
	h.n.Add(1)
	return h.Store.GetUserByEmail(ctx, connection, email)
}

// logBuffer collects the pages' log lines.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loginEnv is the hosted pages over a real store, served by httptest. The
// test names the client address of each request (the X-Test-IP header).
type loginEnv struct {
	t      *testing.T
	st     store.Store
	pages  *Pages
	srv    *httptest.Server
	clock  *testClock
	hashes *hashCounter
	logs   *logBuffer
	db     *database.Connector
}

// stores are the backends the tests run on: SQLite always, PostgreSQL
// when the test database is there (and always under CI).
var stores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", func(t *testing.T) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", func(t *testing.T) store.Store {
		st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t), postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

func newLoginEnv(t *testing.T, st store.Store, th Throttle) *loginEnv {
	t.Helper()
	ctx := t.Context()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil))
	renderer, err := web.NewRenderer(log)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)}
	hashes := &hashCounter{Store: st}
	// Cheap hashes: the tests count them, not time them.
	db, err := database.Open(database.Config{Store: hashes, Params: database.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, store.Client{ID: testClientID, Name: "Test App", Type: "regular_web",
		Callbacks: []string{"http://127.0.0.1:5555/cb"}, GrantTypes: []string{"authorization_code"}, CreatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetConnectionEnabled(ctx, store.DefaultDatabaseConnection, testClientID, true); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{
		Issuer:   "http://gatehouse.test",
		Store:    st,
		Sessions: &session.Manager{Store: st, TTL: time.Hour, Now: clock.Now},
		Pages:    renderer,
		Database: db,
		Log:      log,
		Binder:   testBinder,
		Throttle: th,
		Now:      clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := r.Header.Get("X-Test-IP"); ip != "" {
			r.RemoteAddr = addr(ip)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &loginEnv{t: t, st: st, pages: p, srv: srv, clock: clock, hashes: hashes, logs: logs, db: db}
}

func addr(ip string) string { return ip + ":4242" }

var testBinder = authflow.Binder{CSRFKey: []byte("0123456789abcdef0123456789abcdef")}

// testCSRFToken is the CSRF token of a browser holding testBinding.
func testCSRFToken() string {
	r := httptest.NewRequest(http.MethodGet, "/u/login", nil)
	r.AddCookie(&http.Cookie{Name: "gatehouse_browser", Value: testBinding})
	return testBinder.CSRFToken(httptest.NewRecorder(), r)
}

// user signs up an account with testPassword.
func (e *loginEnv) user(email string) {
	e.t.Helper()
	if _, err := e.db.SignUp(e.t.Context(), email, testPassword, ""); err != nil {
		e.t.Fatal(err)
	}
	e.hashes.n.Store(0)
}

// requests numbers the authorization requests of the tests.
var requests atomic.Int64

// request stores a pending authorization request and returns its id.
func (e *loginEnv) request() string {
	e.t.Helper()
	id := fmt.Sprintf("req-%d", requests.Add(1))
	now := time.Now()
	if err := e.st.CreateAuthRequest(e.t.Context(), store.AuthRequest{ID: id, ClientID: testClientID,
		RedirectURI: "http://127.0.0.1:5555/cb", ResponseMode: "query", Scopes: []string{"openid"}, MaxAge: -1,
		BrowserHash: token.Hash(testBinding), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// visitor is one client: an address and its cookies.
type visitor struct {
	ip      string
	cookies []*http.Cookie
}

// answer is a response, its body read.
type answer struct {
	status int
	header http.Header
	body   string
}

// post sends a form from b to path, and keeps the cookies it sets.
func (e *loginEnv) post(b *visitor, path string, form url.Values) answer {
	e.t.Helper()
	form.Set("csrf", testCSRFToken())
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Test-IP", b.ip)
	req.AddCookie(&http.Cookie{Name: "gatehouse_browser", Value: testBinding})
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, deviceCookiePrefix) {
			b.cookies = append(b.cookies, c)
		}
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: html.UnescapeString(string(body))}
}

// login posts the login form for email with password.
func (e *loginEnv) login(b *visitor, email, password string) answer {
	e.t.Helper()
	return e.post(b, loginPath, url.Values{"req": {e.request()}, "email": {email}, "password": {password}})
}

// wantStatus fails unless a has status want.
func (a answer) wantStatus(t *testing.T, want int, what string) {
	t.Helper()
	if a.status != want {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, a.status, want, a.body)
	}
}

// wantRefused fails unless a is a 429 that says, in Retry-After and in
// words, to wait retry; it returns the wait.
func (a answer) wantRefused(t *testing.T, retry time.Duration, what string) {
	t.Helper()
	a.wantStatus(t, http.StatusTooManyRequests, what)
	if got, want := a.header.Get("Retry-After"), strconv.Itoa(int(retry/time.Second)); got != want {
		t.Fatalf("%s: Retry-After %q, want %q", what, got, want)
	}
	if want := "Wait " + waitText(retry) + " and try again."; !strings.Contains(a.body, want) {
		t.Fatalf("%s: page does not say %q:\n%s", what, want, a.body)
	}
}

// retryAfter is a 429's Retry-After.
func (a answer) retryAfter(t *testing.T) time.Duration {
	t.Helper()
	s, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || s < 1 {
		t.Fatalf("429 without a valid Retry-After: %q", a.header.Get("Retry-After"))
	}
	return time.Duration(s) * time.Second
}

// TestLoginParallelGuesses: 50 wrong passwords for one account at once
// reach the password hash at most as often as the limit allows, from one
// address and from fifty, on both stores; every refusal has Retry-After.
func TestLoginParallelGuesses(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			e := newLoginEnv(t, s.open(t), testThrottle)
			e.user("ada@example.com")
			const n = 50
			guess := func(ip func(i int) string) map[int]int {
				statuses := make([]int, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						a := e.login(&visitor{ip: ip(i)}, "Ada@Example.com", fmt.Sprintf("guess %d", i))
						if a.status == http.StatusTooManyRequests {
							a.retryAfter(t)
						}
						statuses[i] = a.status
					})
				}
				close(start)
				wg.Wait()
				count := map[int]int{}
				for _, st := range statuses {
					count[st]++
				}
				return count
			}

			got := guess(func(int) string { return "203.0.113.7" })
			if h := e.hashes.n.Load(); h != 5 {
				t.Errorf("50 parallel guesses from one address: %d reached the hash, want 5", h)
			}
			if want := map[int]int{401: 5, 429: 45}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("50 parallel guesses from one address: statuses %v, want %v", got, want)
			}

			// From fifty addresses, the account's own limit (4×5) holds:
			// 5 attempts were taken above, so 15 more get through.
			e.hashes.n.Store(0)
			got = guess(func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) })
			if h := e.hashes.n.Load(); h != 15 {
				t.Errorf("50 parallel guesses from 50 addresses: %d reached the hash, want 15", h)
			}
			if want := map[int]int{401: 15, 429: 35}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("50 parallel guesses from 50 addresses: statuses %v, want %v", got, want)
			}
		})
	}
}

// TestLoginOwnerNotLockedOut: an attacker who is throttled does not keep
// the owner out, from another address or from a known device, even when
// the attack comes from many addresses.
func TestLoginOwnerNotLockedOut(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			e := newLoginEnv(t, s.open(t), testThrottle)
			e.user("ada@example.com")
			phone := &visitor{ip: "192.0.2.10"}
			e.login(phone, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "owner's first login")
			if len(phone.cookies) != 1 {
				t.Fatalf("a login set %d device cookies, want 1", len(phone.cookies))
			}

			// One attacker address: five guesses, then refused.
			mallory := &visitor{ip: "203.0.113.66"}
			for i := range 5 {
				e.login(mallory, "ada@example.com", fmt.Sprintf("guess %d", i)).wantStatus(t, http.StatusUnauthorized, "guess")
			}
			e.login(mallory, "ada@example.com", "guess").wantRefused(t, 3*time.Minute, "sixth guess")
			// The right password from the attacker's address is refused too:
			// the limit is decided before the password is looked at.
			e.login(mallory, "ada@example.com", testPassword).wantRefused(t, 3*time.Minute, "right password from the throttled address")
			// The owner from a new address, without a device cookie, gets in.
			laptop := &visitor{ip: "192.0.2.20"}
			e.login(laptop, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "owner from another address")

			// Many addresses: the account's limit across them (20 per
			// window) runs out, so strangers wait, but not for long…
			for i := range 20 {
				a := e.login(&visitor{ip: fmt.Sprintf("198.51.100.%d", i+1)}, "ada@example.com", "guess")
				if a.status == http.StatusTooManyRequests {
					break
				}
				a.wantStatus(t, http.StatusUnauthorized, "distributed guess")
			}
			stranger := &visitor{ip: "192.0.2.30"}
			refused := e.login(stranger, "ada@example.com", testPassword)
			refused.wantRefused(t, 45*time.Second, "owner from a new address during a distributed attack")
			// Refused attempts cost no other limit: the owner may try again
			// and again without using up the address's own five.
			for range 6 {
				e.login(stranger, "ada@example.com", testPassword).wantRefused(t, 45*time.Second, "owner trying again")
			}
			// …and the known device is not held back at all.
			e.login(phone, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "owner's known device during the attack")
			e.clock.Advance(refused.retryAfter(t))
			e.login(stranger, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "owner from a new address after the wait")
		})
	}
}

// TestLoginRefill: the limit refills smoothly; a success clears the
// client's count.
func TestLoginRefill(t *testing.T) {
	e := newLoginEnv(t, stores[0].open(t), testThrottle)
	e.user("ada@example.com")
	b := &visitor{ip: "203.0.113.1"}
	for range 5 {
		e.login(b, "ada@example.com", "wrong").wantStatus(t, http.StatusUnauthorized, "guess")
	}
	e.login(b, "ada@example.com", "wrong").wantRefused(t, 3*time.Minute, "sixth guess")
	e.clock.Advance(time.Minute)
	e.login(b, "ada@example.com", "wrong").wantRefused(t, 2*time.Minute, "a minute later")
	e.clock.Advance(2*time.Minute - time.Second)
	e.login(b, "ada@example.com", "wrong").wantRefused(t, time.Second, "a second early")
	e.clock.Advance(time.Second)
	e.login(b, "ada@example.com", "wrong").wantStatus(t, http.StatusUnauthorized, "one attempt back")
	e.login(b, "ada@example.com", "wrong").wantRefused(t, 3*time.Minute, "and only one")

	// After a wait for two, the right password clears the count.
	e.clock.Advance(6 * time.Minute)
	e.login(b, "ada@example.com", "wrong").wantStatus(t, http.StatusUnauthorized, "guess after the wait")
	e.login(&visitor{ip: b.ip}, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "right password")
	for range 5 {
		e.login(&visitor{ip: b.ip}, "ada@example.com", "wrong").wantStatus(t, http.StatusUnauthorized, "guess after a success")
	}
	e.login(&visitor{ip: b.ip}, "ada@example.com", "wrong").wantRefused(t, 3*time.Minute, "sixth guess after a success")
	if h := e.hashes.n.Load(); h != 13 {
		t.Errorf("%d logins reached the hash, want 13 (refused ones never do)", h)
	}
}

// TestLoginGrowingDelays: an attack from ever new addresses meets longer
// and longer waits, never a lock, and the known device still gets in.
func TestLoginGrowingDelays(t *testing.T) {
	e := newLoginEnv(t, stores[0].open(t), testThrottle)
	e.user("ada@example.com")
	phone := &visitor{ip: "192.0.2.10"}
	e.login(phone, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "owner's first login")

	var waits []time.Duration
	var guesses int
	for i := 0; len(waits) < 150; i++ {
		a := e.login(&visitor{ip: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}, "ada@example.com", "guess")
		if a.status == http.StatusUnauthorized {
			guesses++
			continue
		}
		a.wantStatus(t, http.StatusTooManyRequests, "distributed guess")
		d := a.retryAfter(t)
		waits = append(waits, d)
		e.clock.Advance(d)
	}
	first, last := waits[0], waits[len(waits)-1]
	if first != 45*time.Second {
		t.Errorf("first wait %v, want 45s", first)
	}
	if last < 15*time.Minute {
		t.Errorf("wait after %d guesses: %v, want at least 15 minutes", guesses, last)
	}
	longest := time.Duration(0)
	for _, d := range waits {
		if d > 18*time.Minute {
			t.Errorf("a wait of %v: longer than the slowest rate's 18 minutes", d)
		}
		longest = max(longest, d)
	}
	// No more than the slowest rate lets through: 80 at once, then one
	// every 18 minutes.
	var elapsed time.Duration
	for _, d := range waits {
		elapsed += d
	}
	if limit := 80 + int(elapsed/(18*time.Minute)) + 1; guesses > limit {
		t.Errorf("%d guesses reached the hash in %v while waiting as told, want at most %d", guesses, elapsed, limit)
	}
	t.Logf("%d guesses; waits grew from %v to %v", guesses, first, longest)
	e.login(phone, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "known device at the end")
}

// TestLoginLockoutLogged: each lockout is one audit event, with hashed
// keys only.
func TestLoginLockoutLogged(t *testing.T) {
	th := testThrottle
	th.PerIP = 8
	e := newLoginEnv(t, stores[0].open(t), th)
	b := &visitor{ip: "203.0.113.9"}
	for range 5 {
		e.login(b, "ada@example.com", "s3cret-guess").wantStatus(t, http.StatusUnauthorized, "guess")
	}
	for range 3 {
		e.login(b, "ada@example.com", "s3cret-guess").wantStatus(t, http.StatusTooManyRequests, "throttled guess")
	}
	events := func(code string) int { return strings.Count(e.logs.String(), "event="+code) }
	if n := events("limit_wc"); n != 1 {
		t.Errorf("one lockout of an account logged %d times, want once:\n%s", n, e.logs)
	}
	e.clock.Advance(3 * time.Minute)
	e.login(b, "ada@example.com", "s3cret-guess").wantStatus(t, http.StatusUnauthorized, "guess after the wait")
	e.login(b, "ada@example.com", "s3cret-guess").wantStatus(t, http.StatusTooManyRequests, "refused again")
	if n := events("limit_wc"); n != 2 {
		t.Errorf("two lockouts logged %d times, want twice", n)
	}

	// One address on many accounts: the per-address limit (8).
	c := &visitor{ip: "203.0.113.10"}
	for i := range 8 {
		e.login(c, fmt.Sprintf("user%d@example.com", i), "s3cret-guess").wantStatus(t, http.StatusUnauthorized, "guess on another account")
	}
	e.login(c, "zed@example.com", "s3cret-guess").wantStatus(t, http.StatusTooManyRequests, "ninth guess from one address")
	e.login(c, "zoe@example.com", "s3cret-guess").wantStatus(t, http.StatusTooManyRequests, "tenth guess from one address")
	if n := events("limit_mu"); n != 1 {
		t.Errorf("one lockout of an address logged %d times, want once:\n%s", n, e.logs)
	}
	logs := e.logs.String()
	for _, secret := range []string{"s3cret-guess", "ada@example.com", "zed@example.com"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "key=login:client:") || !strings.Contains(logs, "key=login:ip:") {
		t.Errorf("the events do not name their hashed keys:\n%s", logs)
	}
}

// TestLoginDeviceCookie: only a cookie the server signed, for this account,
// not expired, makes a known device.
func TestLoginDeviceCookie(t *testing.T) {
	e := newLoginEnv(t, stores[0].open(t), testThrottle)
	l := e.pages.limits
	rec := httptest.NewRecorder()
	l.RememberDevice(rec, "ada@example.com")
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("RememberDevice set %d cookies", len(cookies))
	}
	good := cookies[0]
	if !good.HttpOnly || good.Path != "/u/" || good.SameSite != http.SameSiteLaxMode || strings.Contains(good.Name, "ada") {
		t.Errorf("device cookie %s: want HttpOnly, Path /u/, SameSite Lax, no email in the name", good)
	}
	id, exp, _ := strings.Cut(good.Value, ".")
	exp, sig, _ := strings.Cut(exp, ".")
	later := strconv.FormatInt(e.clock.Now().Add(400*24*time.Hour).Unix(), 10)
	tests := []struct {
		name    string
		account string
		cookie  *http.Cookie
		known   bool
	}{
		{"signed", "ada@example.com", good, true},
		{"another account", "bob@example.com", &http.Cookie{Name: l.deviceCookie("bob@example.com"), Value: good.Value}, false},
		{"another id", "ada@example.com", &http.Cookie{Name: good.Name, Value: "AAAAAAAAAAAAAAAAAAAAAA." + exp + "." + sig}, false},
		{"later expiry", "ada@example.com", &http.Cookie{Name: good.Name, Value: id + "." + later + "." + sig}, false},
		{"no signature", "ada@example.com", &http.Cookie{Name: good.Name, Value: id + "." + exp + "."}, false},
		{"not base64", "ada@example.com", &http.Cookie{Name: good.Name, Value: id + "." + exp + ".!!"}, false},
		{"no dots", "ada@example.com", &http.Cookie{Name: good.Name, Value: id}, false},
		{"empty id", "ada@example.com", &http.Cookie{Name: good.Name, Value: "." + exp + "." + sig}, false},
		{"bad expiry", "ada@example.com", &http.Cookie{Name: good.Name, Value: id + ".soon." + sig}, false},
		{"no account", "", good, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, loginPath, nil)
			r.AddCookie(tt.cookie)
			got := l.Device(r, tt.account)
			if (got != "") != tt.known || (tt.known && got != id) {
				t.Errorf("Device = %q, want known %v (id %q)", got, tt.known, id)
			}
		})
	}
	e.clock.Advance(deviceTTL)
	r := httptest.NewRequest(http.MethodPost, loginPath, nil)
	r.AddCookie(good)
	if got := l.Device(r, "ada@example.com"); got != "" {
		t.Errorf("Device after %v = %q, want none (expired)", deviceTTL, got)
	}

	// Another server's key: not a known device.
	other, err := NewLimiter(LimiterConfig{Store: e.st, Policies: Policies(testThrottle), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(-deviceTTL)
	if got := other.Device(r, "ada@example.com"); got != "" {
		t.Errorf("another key's Device = %q, want none", got)
	}

	// A forged cookie on the login page counts as a stranger: held back
	// by the account's limit during an attack from many addresses.
	e.user("ada@example.com")
	for i := range 20 {
		e.login(&visitor{ip: fmt.Sprintf("198.51.100.%d", i+1)}, "ada@example.com", "guess").wantStatus(t, http.StatusUnauthorized, "distributed guess")
	}
	forger := &visitor{ip: "192.0.2.99", cookies: []*http.Cookie{{Name: good.Name, Value: id + "." + later + "." + sig}}}
	e.login(forger, "ada@example.com", testPassword).wantRefused(t, 45*time.Second, "forged device cookie")
	e.login(&visitor{ip: "192.0.2.99", cookies: []*http.Cookie{good}}, "ada@example.com", testPassword).
		wantStatus(t, http.StatusSeeOther, "signed device cookie")
}

// TestClearThrottle: a user who proved control of the email gets in at
// once; the attacker stays throttled.
func TestClearThrottle(t *testing.T) {
	e := newLoginEnv(t, stores[0].open(t), testThrottle)
	e.user("ada@example.com")
	owner := &visitor{ip: "192.0.2.10"}
	for range 5 {
		e.login(owner, "ada@example.com", "forgotten").wantStatus(t, http.StatusUnauthorized, "owner's wrong guess")
	}
	for i := range 15 {
		e.login(&visitor{ip: fmt.Sprintf("198.51.100.%d", i+1)}, "ada@example.com", "guess").wantStatus(t, http.StatusUnauthorized, "distributed guess")
	}
	mallory := &visitor{ip: "203.0.113.66"}
	e.login(mallory, "ada@example.com", "guess").wantStatus(t, http.StatusTooManyRequests, "attacker after the account's limit")
	e.login(owner, "ada@example.com", testPassword).wantStatus(t, http.StatusTooManyRequests, "owner before the reset")

	// The reset flow: the owner opened a valid link in this browser.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/u/reset", nil)
	r.RemoteAddr = addr(owner.ip)
	if err := e.pages.ClearThrottle(rec, r, " Ada@Example.com "); err != nil {
		t.Fatal(err)
	}
	owner.cookies = append(owner.cookies, rec.Result().Cookies()...)
	e.login(&visitor{ip: owner.ip}, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "owner after the reset, even without the cookie")
	e.login(mallory, "ada@example.com", "guess").wantStatus(t, http.StatusUnauthorized, "attacker after the reset: one more from the refilled account")
	for range 4 {
		e.login(mallory, "ada@example.com", "guess")
	}
	e.login(mallory, "ada@example.com", "guess").wantStatus(t, http.StatusTooManyRequests, "the attacker's own limit holds")
	e.login(owner, "ada@example.com", testPassword).wantStatus(t, http.StatusSeeOther, "owner's browser is a known device")

	if err := e.pages.limits.ClearAccount(t.Context(), Subject{IP: "192.0.2.1"}); err == nil {
		t.Error("ClearAccount without an account: no error")
	}
}

// TestSignUpThrottle: sign-ups are limited per address, with Retry-After.
func TestSignUpThrottle(t *testing.T) {
	th := testThrottle
	th.PerIP = 3
	e := newLoginEnv(t, stores[0].open(t), th)
	b := &visitor{ip: "203.0.113.5"}
	signup := func(b *visitor, email string) answer {
		return e.post(b, signupPath, url.Values{"req": {e.request()}, "email": {email}, "password": {testPassword}})
	}
	signup(b, "one@example.com").wantStatus(t, http.StatusSeeOther, "first sign-up")
	if len(b.cookies) != 1 {
		t.Errorf("sign-up set %d device cookies, want 1", len(b.cookies))
	}
	signup(b, "not an email").wantStatus(t, http.StatusBadRequest, "invalid sign-up")
	signup(b, "one@example.com").wantStatus(t, http.StatusConflict, "taken email")
	signup(b, "four@example.com").wantRefused(t, 5*time.Minute, "fourth sign-up from one address")
	if _, err := e.st.GetUserByEmail(t.Context(), store.DefaultDatabaseConnection, "four@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused sign-up: user lookup %v, want not found", err)
	}
	signup(&visitor{ip: "203.0.113.6"}, "four@example.com").wantStatus(t, http.StatusSeeOther, "sign-up from another address")
	e.clock.Advance(5 * time.Minute)
	signup(b, "five@example.com").wantStatus(t, http.StatusSeeOther, "sign-up after the wait")
	if !strings.Contains(e.logs.String(), "event=limit_mu action=signup") {
		t.Errorf("sign-up lockout not logged:\n%s", e.logs)
	}
}

// failingThrottler fails every Throttler call with err.
type failingThrottler struct {
	store.Store
	err error
	// after is how many TakeAttempt calls succeed before they fail.
	after atomic.Int64
	// returnErr fails ReturnAttempt and ClearAttempts.
	returnErr error
}

func (f *failingThrottler) TakeAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (store.Attempt, error) {
	if f.after.Add(-1) >= 0 {
		return f.Store.TakeAttempt(ctx, key, limit, window, now)
	}
	return store.Attempt{}, f.err
}

func (f *failingThrottler) ReturnAttempt(ctx context.Context, key string, limit int, window time.Duration, now time.Time) error {
	if f.returnErr != nil {
		return f.returnErr
	}
	return f.Store.ReturnAttempt(ctx, key, limit, window, now)
}

func (f *failingThrottler) ClearAttempts(ctx context.Context, key string) error {
	if f.returnErr != nil {
		return f.returnErr
	}
	return f.Store.ClearAttempts(ctx, key)
}

// TestThrottleStoreErrors: a store that fails is an error page (503 with
// Retry-After when the database is unreachable), never a password check.
func TestThrottleStoreErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		path   string
	}{
		{"login unavailable", fmt.Errorf("take attempt: %w", store.ErrUnavailable), http.StatusServiceUnavailable, loginPath},
		{"login broken", errors.New("disk I/O error"), http.StatusInternalServerError, loginPath},
		{"signup unavailable", fmt.Errorf("take attempt: %w", store.ErrUnavailable), http.StatusServiceUnavailable, signupPath},
		{"signup broken", errors.New("disk I/O error"), http.StatusInternalServerError, signupPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &failingThrottler{Store: stores[0].open(t), err: tt.err}
			e := newLoginEnv(t, st, testThrottle)
			a := e.post(&visitor{ip: "192.0.2.1"}, tt.path, url.Values{"req": {e.request()}, "email": {"ada@example.com"}, "password": {testPassword}})
			a.wantStatus(t, tt.status, tt.name)
			if tt.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if strings.Contains(a.body, "disk I/O") {
				t.Error("the page shows the store's error")
			}
			if h := e.hashes.n.Load(); h != 0 {
				t.Errorf("%d passwords checked without a reservation", h)
			}
		})
	}

	// A limit that fails after the first was taken: the first is given
	// back (or the error says why not).
	st := &failingThrottler{Store: stores[0].open(t), err: errors.New("disk I/O error")}
	e := newLoginEnv(t, st, testThrottle)
	l := e.pages.limits
	s := Subject{Account: "ada@example.com", IP: "192.0.2.1"}
	st.after.Store(1)
	if _, err := l.Reserve(t.Context(), ActionLogin, s); err == nil {
		t.Fatal("Reserve with a failing second limit: no error")
	}
	st.after.Store(100)
	for i := range 5 {
		res, err := l.Reserve(t.Context(), ActionLogin, s)
		if err != nil || !res.OK {
			t.Fatalf("reservation %d after a failed one: %+v, %v; want the failed one given back", i, res, err)
		}
	}
	// Giving back fails: Reserve, Succeeded and ClearAccount say so.
	strict, err := NewLimiter(LimiterConfig{Store: st, Policies: map[Action]Policy{
		ActionLogin: {Client: Rate{5, time.Minute}, IP: Rate{1, time.Minute}}}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := strict.Reserve(t.Context(), ActionLogin, Subject{Account: "bob@example.com", IP: "192.0.2.2"})
	if err != nil || !res.OK {
		t.Fatalf("reserve: %+v, %v", res, err)
	}
	st.returnErr = errors.New("disk full")
	// The address's one attempt is gone, and the account's must be given back.
	if _, err := strict.Reserve(t.Context(), ActionLogin, Subject{Account: "carol@example.com", IP: "192.0.2.2"}); err == nil {
		t.Error("Reserve that cannot give back: no error")
	}
	if err := res.Succeeded(t.Context()); err == nil {
		t.Error("Succeeded that cannot give back: no error")
	}
	if err := l.ClearAccount(t.Context(), s); err == nil {
		t.Error("ClearAccount that cannot clear: no error")
	}
	if _, err := l.Reserve(t.Context(), "nonsense", s); err == nil {
		t.Error("Reserve of an unknown action: no error")
	}
}

// TestLimiterConfig: NewLimiter checks its rates and slows ones faster than
// the store counts.
func TestLimiterConfig(t *testing.T) {
	st := stores[0].open(t)
	if _, err := NewLimiter(LimiterConfig{}); err == nil {
		t.Error("NewLimiter without a store: no error")
	}
	for _, bad := range []Policy{
		{Client: Rate{0, time.Minute}},
		{IP: Rate{5, 0}},
		{Account: []Rate{{5, time.Minute}, {-1, time.Hour}}},
	} {
		if _, err := NewLimiter(LimiterConfig{Store: st, Policies: map[Action]Policy{ActionLogin: bad}}); err == nil {
			t.Errorf("NewLimiter with policy %+v: no error", bad)
		}
	}
	l, err := NewLimiter(LimiterConfig{Store: st, Policies: map[Action]Policy{ActionSignUp: {IP: Rate{5000, time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := l.Policy(ActionSignUp); p.IP != (Rate{1000, time.Second}) {
		t.Errorf("5000 per second became %+v, want 1000 per second", p.IP)
	}
	if _, ok := l.Policy(ActionLogin); ok {
		t.Error("a policy that was not configured")
	}
	// Every action has a policy by default, and its rates are valid.
	l, err = NewLimiter(LimiterConfig{Store: st, Policies: Policies(Throttle{PerAccount: 1000, PerIP: 100000, Window: time.Second})})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Action{ActionLogin, ActionSignUp, ActionPasswordReset, ActionResendVerification, ActionMFACode} {
		if _, ok := l.Policy(a); !ok {
			t.Errorf("no policy for %s", a)
		}
		if _, err := l.Reserve(t.Context(), a, Subject{Account: "ada@example.com", IP: "192.0.2.1"}); err != nil {
			t.Errorf("reserve %s: %v", a, err)
		}
	}
}

func TestWaitText(t *testing.T) {
	tests := []struct {
		d    time.Duration
		text string
		secs int
	}{
		{0, "a second", 1},
		{time.Millisecond, "a second", 1},
		{time.Second, "a second", 1},
		{1500 * time.Millisecond, "2 seconds", 2},
		{45 * time.Second, "45 seconds", 45},
		{time.Minute, "a minute", 60},
		{61 * time.Second, "2 minutes", 61},
		{3 * time.Minute, "3 minutes", 180},
		{18 * time.Minute, "18 minutes", 1080},
		{time.Hour, "an hour", 3600},
		{90 * time.Minute, "2 hours", 5400},
	}
	for _, tt := range tests {
		if got := waitText(tt.d); got != tt.text {
			t.Errorf("waitText(%v) = %q, want %q", tt.d, got, tt.text)
		}
		if got := retrySeconds(tt.d); got != tt.secs {
			t.Errorf("retrySeconds(%v) = %d, want %d", tt.d, got, tt.secs)
		}
	}
}
