package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// testRP is an application's back-channel logout endpoint: it records the
// logout tokens it is sent and fails the first fail requests with 500.
type testRP struct {
	srv *httptest.Server

	mu       sync.Mutex // guards the fields below
	fail     int
	tokens   []string
	attempts int
	received chan struct{} // gets a value at each accepted token
}

func newTestRP(t *testing.T, fail int) *testRP {
	rp := &testRP{fail: fail, received: make(chan struct{}, 16)}
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.mu.Lock()
		defer rp.mu.Unlock()
		rp.attempts++
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("logout token sent with %s and Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		if err := r.ParseForm(); err != nil || len(r.PostForm) != 1 || r.PostForm.Get("logout_token") == "" {
			t.Errorf("logout request form %v, %v; want only logout_token", r.PostForm, err)
		}
		if rp.fail > 0 {
			rp.fail--
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		rp.tokens = append(rp.tokens, r.PostForm.Get("logout_token"))
		rp.received <- struct{}{}
	}))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *testRP) got() (tokens []string, attempts int) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]string{}, rp.tokens...), rp.attempts
}

// bcEnv is a provider with an application that has a back-channel URI
// (rp) and one that has none (plain).
type bcEnv struct {
	*env
	rp        *testRP
	app       client
	plain     client
	sender    *oauth.LogoutSender
	retryBase time.Duration
}

func newBCEnv(t *testing.T, fail int) *bcEnv {
	e := &bcEnv{env: newEnv(t), rp: newTestRP(t, fail), retryBase: time.Minute}
	e.app = e.newClientWith(t, oauth.NewClientParams{FirstParty: true, LogoutURLs: []string{logoutURL}}, func(c *store.Client) {
		c.BackchannelLogoutURI = e.rp.srv.URL + "/backchannel"
	})
	e.plain = e.newClient(t, oauth.NewClientParams{FirstParty: true})
	e.sender = e.provider.LogoutSender(oauth.LogoutSenderConfig{RetryBase: e.retryBase, MaxAttempts: 3, Poll: 20 * time.Millisecond})
	return e
}

// signIn logs a user in and has both applications get tokens in that
// session; it returns the app's ID token.
func (e *bcEnv) signIn(t *testing.T) (store.User, *http.Cookie, string) {
	t.Helper()
	u, _, cookie := e.login(t)
	idToken := e.exchange(t, e.app, e.code(t, e.app, cookie, nil), nil).IDToken
	e.exchange(t, e.plain, e.code(t, e.plain, cookie, nil), nil)
	return u, cookie, idToken
}

// checkLogoutToken verifies raw as OpenID Back-Channel Logout 1.0 §2.4
// asks, against the provider's JWKS, for the user and the session of the
// ID token, and returns its jti.
func (e *bcEnv) checkLogoutToken(t *testing.T, raw string, u store.User, idToken string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("parse logout token: %v", err)
	}
	hdr := jws.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders["typ"].(string); typ != "logout+jwt" {
		t.Errorf("typ %q, want logout+jwt", typ)
	}
	set := e.jwks(t)
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", hdr.KeyID, len(keys))
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatalf("verify logout token: %v", err)
	}
	c := jwtPart(t, raw, 1)
	idc := jwtPart(t, idToken, 1)
	if c["iss"] != e.issuer || c["aud"] != e.app.ID || c["sub"] != u.ID {
		t.Errorf("iss %v aud %v sub %v; want %s, %s, %s", c["iss"], c["aud"], c["sub"], e.issuer, e.app.ID, u.ID)
	}
	if sid, _ := c["sid"].(string); sid == "" || sid != idc["sid"] {
		t.Errorf("sid %v, want the ID token's %v", c["sid"], idc["sid"])
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if now := float64(e.clock.Now().Unix()); iat < now-5 || iat > now+5 || exp <= iat || exp-iat > 120 {
		t.Errorf("iat %v exp %v at %v: want now and a short life", iat, exp, now)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token must not carry a nonce (§2.4)")
	}
	events, _ := c["events"].(map[string]any)
	ev, ok := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	if len(events) != 1 || !ok || len(ev) != 0 {
		t.Errorf("events %v", c["events"])
	}
	jti, _ := c["jti"].(string)
	if jti == "" {
		t.Error("no jti")
	}
	return jti
}

// pending returns the deliveries still queued, whenever due.
func (e *bcEnv) pending(t *testing.T) []store.LogoutDelivery {
	t.Helper()
	ds, err := e.st.ClaimLogoutDeliveries(t.Context(), e.clock.Now().Add(24*time.Hour), time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestBackchannelLogout(t *testing.T) {
	tests := []struct {
		name   string
		logout func(e *bcEnv, t *testing.T, u store.User, cookie *http.Cookie, idToken string)
	}{
		{"hosted /v2/logout", func(e *bcEnv, t *testing.T, _ store.User, cookie *http.Cookie, _ string) {
			r := e.get(t, "/v2/logout", url.Values{"client_id": {e.app.ID}, "returnTo": {logoutURL}}, cookie)
			if r.status != http.StatusFound {
				t.Fatalf("logout: %d %s", r.status, r.body)
			}
		}},
		{"RP-initiated /oidc/logout", func(e *bcEnv, t *testing.T, _ store.User, cookie *http.Cookie, idToken string) {
			r := e.get(t, "/oidc/logout", url.Values{"id_token_hint": {idToken}}, cookie)
			if r.status != http.StatusOK {
				t.Fatalf("logout: %d %s", r.status, r.body)
			}
		}},
		{"operator ends the user's sessions", func(e *bcEnv, t *testing.T, u store.User, _ *http.Cookie, _ string) {
			// What mgmt.DeleteUserSessions does, through the store.
			if _, err := e.st.QueueSessionLogouts(t.Context(), "", u.ID, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := e.st.DeleteUserSessions(t.Context(), u.ID, ""); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newBCEnv(t, 0)
			u, cookie, idToken := e.signIn(t)
			// The logout answers without waiting for any application:
			// nothing is sent until the sender runs.
			tt.logout(e, t, u, cookie, idToken)
			if tokens, attempts := e.rp.got(); len(tokens) != 0 || attempts != 0 {
				t.Fatalf("the logout itself sent %d tokens", attempts)
			}
			n, err := e.sender.SendDue(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("SendDue sent %d, %v; want 1", n, err)
			}
			tokens, _ := e.rp.got()
			if len(tokens) != 1 {
				t.Fatalf("the application got %d logout tokens, want 1", len(tokens))
			}
			e.checkLogoutToken(t, tokens[0], u, idToken)
			// The app without a URI got nothing, and nothing is left.
			if ds := e.pending(t); len(ds) != 0 {
				t.Errorf("deliveries left: %+v", ds)
			}
		})
	}
}

// TestBackchannelLogoutRetries checks that a failed delivery is kept and
// retried after its backoff, with the same jti, and dropped after
// MaxAttempts.
func TestBackchannelLogoutRetries(t *testing.T) {
	e := newBCEnv(t, 1)
	u, cookie, idToken := e.signIn(t)
	e.get(t, "/v2/logout", url.Values{"client_id": {e.app.ID}}, cookie)
	if n, err := e.sender.SendDue(t.Context()); n != 0 || err != nil {
		t.Fatalf("first attempt: sent %d, %v", n, err)
	}
	if _, attempts := e.rp.got(); attempts != 1 {
		t.Fatalf("%d attempts, want 1", attempts)
	}
	// Not due again before the backoff.
	e.clock.Advance(e.retryBase - time.Second)
	if n, _ := e.sender.SendDue(t.Context()); n != 0 {
		t.Fatal("retried before the backoff")
	}
	e.clock.Advance(time.Second)
	if n, err := e.sender.SendDue(t.Context()); n != 1 || err != nil {
		t.Fatalf("retry: sent %d, %v", n, err)
	}
	tokens, attempts := e.rp.got()
	if attempts != 2 || len(tokens) != 1 {
		t.Fatalf("%d attempts, %d tokens; want 2 and 1", attempts, len(tokens))
	}
	e.checkLogoutToken(t, tokens[0], u, idToken)

	// An application that keeps failing is given up after MaxAttempts.
	e2 := newBCEnv(t, 100)
	_, cookie2, _ := e2.signIn(t)
	e2.get(t, "/v2/logout", url.Values{"client_id": {e2.app.ID}}, cookie2)
	for range 5 {
		if _, err := e2.sender.SendDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		e2.clock.Advance(time.Hour)
	}
	if _, attempts := e2.rp.got(); attempts != 3 {
		t.Errorf("%d attempts, want MaxAttempts 3", attempts)
	}
	if ds := e2.pending(t); len(ds) != 0 {
		t.Errorf("deliveries left after giving up: %+v", ds)
	}
}

// TestBackchannelLogoutRun checks the background sender: a logout wakes
// it, and the token arrives without anyone calling SendDue.
func TestBackchannelLogoutRun(t *testing.T) {
	e := newBCEnv(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); e.sender.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	u, cookie, idToken := e.signIn(t)
	e.get(t, "/v2/logout", url.Values{"client_id": {e.app.ID}}, cookie)
	select {
	case <-e.rp.received:
	case <-time.After(10 * time.Second):
		t.Fatal("no logout token arrived")
	}
	tokens, _ := e.rp.got()
	e.checkLogoutToken(t, tokens[0], u, idToken)
}

// TestBackchannelNothingWithoutURI checks that sessions that signed only
// into applications without a back-channel URI queue nothing, and that a
// logout without a session queues nothing either.
func TestBackchannelNothingWithoutURI(t *testing.T) {
	e := newBCEnv(t, 0)
	_, _, cookie := e.login(t)
	e.exchange(t, e.plain, e.code(t, e.plain, cookie, nil), nil)
	e.get(t, "/v2/logout", url.Values{"client_id": {e.plain.ID}}, cookie)
	e.get(t, "/v2/logout", url.Values{"client_id": {e.plain.ID}}, nil)
	if ds := e.pending(t); len(ds) != 0 {
		t.Errorf("deliveries queued: %+v", ds)
	}
	if n, err := e.sender.SendDue(t.Context()); n != 0 || err != nil {
		t.Errorf("SendDue: %d, %v", n, err)
	}
	if _, attempts := e.rp.got(); attempts != 0 {
		t.Errorf("the application was called %d times", attempts)
	}
}

// TestBackchannelLogoutInterrupted checks that a sender stopped in the
// middle of a post keeps the delivery, due at once and without counting
// the attempt against the application.
func TestBackchannelLogoutInterrupted(t *testing.T) {
	e := newBCEnv(t, 0)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	blocking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release // never answers while the sender waits
	}))
	t.Cleanup(blocking.Close)
	t.Cleanup(func() { close(release) }) // runs first
	c, err := e.st.GetClient(t.Context(), e.app.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.BackchannelLogoutURI = blocking.URL
	if err := e.st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	_, cookie, _ := e.signIn(t)
	e.get(t, "/v2/logout", url.Values{"client_id": {e.app.ID}}, cookie)

	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	if n, _ := e.sender.SendDue(ctx); n != 0 {
		t.Fatalf("sent %d", n)
	}
	ds, err := e.st.ClaimLogoutDeliveries(t.Context(), e.clock.Now(), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Attempts != 0 {
		t.Fatalf("after an interrupted attempt: %+v, want one delivery due now with no attempt counted", ds)
	}
}

// TestBackchannelLogoutImplicit checks that an application that got only
// an ID token from /authorize (response_type id_token) is owed the logout
// of that session too.
func TestBackchannelLogoutImplicit(t *testing.T) {
	e := newBCEnv(t, 0)
	app := e.newClientWith(t, oauth.NewClientParams{FirstParty: true, Implicit: true}, func(c *store.Client) {
		c.BackchannelLogoutURI = e.rp.srv.URL + "/backchannel"
	})
	e.app = app
	u, _, cookie := e.login(t)
	q := authQuery(app)
	q.Set("response_type", "id_token")
	q.Set("nonce", "n")
	got := answer(t, e.get(t, "/authorize", q, cookie), "fragment", app.Callbacks[0])
	idToken := got.Get("id_token")
	if idToken == "" {
		t.Fatalf("no ID token: %v", got)
	}
	e.get(t, "/v2/logout", url.Values{"client_id": {app.ID}}, cookie)
	if n, err := e.sender.SendDue(t.Context()); n != 1 || err != nil {
		t.Fatalf("SendDue: %d, %v", n, err)
	}
	tokens, _ := e.rp.got()
	e.checkLogoutToken(t, tokens[0], u, idToken)
}

// TestBackchannelLogoutAlgorithm checks that the logout token is signed
// with the algorithm of the application's ID tokens.
func TestBackchannelLogoutAlgorithm(t *testing.T) {
	e := newBCEnv(t, 0)
	c, err := e.st.GetClient(t.Context(), e.app.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.IDTokenSigningAlg = "ES256"
	if err := e.st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	u, cookie, idToken := e.signIn(t)
	if alg := jwtPart(t, idToken, 0)["alg"]; alg != "ES256" {
		t.Fatalf("ID token alg %v", alg)
	}
	e.get(t, "/v2/logout", url.Values{"client_id": {e.app.ID}}, cookie)
	if n, err := e.sender.SendDue(t.Context()); n != 1 || err != nil {
		t.Fatalf("SendDue: %d, %v", n, err)
	}
	tokens, _ := e.rp.got()
	if alg := jwtPart(t, tokens[0], 0)["alg"]; alg != "ES256" {
		t.Errorf("logout token alg %v, want the ID token's ES256", alg)
	}
	e.checkLogoutToken(t, tokens[0], u, idToken)
}
