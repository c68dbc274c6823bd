package webapp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

const (
	testClientID     = "webapp-client"
	testClientSecret = "webapp-secret"
	testSubject      = "user|123"
	testEmail        = "alice@example.com"
	testName         = "Alice <Liddell>" // exercises escaping on the pages
)

// testKey is shared because RSA key generation is slow.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fakeProvider is the smallest OpenID provider the app can sign in with:
// discovery, JWKS, an /authorize that consents at once, a token endpoint
// that enforces PKCE, userinfo and an end-session endpoint.
type fakeProvider struct {
	t          *testing.T
	srv        *httptest.Server
	signer     jose.Signer
	endSession bool // advertise end_session_endpoint

	mu            sync.Mutex // guards the fields below
	issParam      bool       // advertise RFC 9207 iss support
	sendIss       string     // the iss parameter /authorize sends back, when not empty
	wrongNonce    bool       // put a nonce other than the one sent into the ID token
	authorizeErr  url.Values // when set, /authorize answers with this error
	lastAuthorize url.Values // the latest /authorize query
	lastLogout    url.Values // the latest end-session query
	codes         map[string]codeGrant
	accessTokens  map[string]bool
}

type codeGrant struct {
	redirectURI, nonce, challenge, scope string
}

func newFakeProvider(t *testing.T, endSession bool) *fakeProvider {
	t.Helper()
	key := testKey()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "test-key"}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakeProvider{
		t:            t,
		signer:       signer,
		endSession:   endSession,
		codes:        map[string]codeGrant{},
		accessTokens: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", fp.discovery)
	mux.HandleFunc("GET /jwks", fp.jwks)
	mux.HandleFunc("GET /authorize", fp.authorize)
	mux.HandleFunc("POST /token", fp.token)
	mux.HandleFunc("GET /userinfo", fp.userinfo)
	mux.HandleFunc("GET /logout", fp.logout)
	fp.srv = httptest.NewServer(mux)
	t.Cleanup(fp.srv.Close)
	return fp
}

func (fp *fakeProvider) issuer() string { return fp.srv.URL }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (fp *fakeProvider) discovery(w http.ResponseWriter, r *http.Request) {
	doc := map[string]any{
		"issuer":                                fp.issuer(),
		"authorization_endpoint":                fp.issuer() + "/authorize",
		"token_endpoint":                        fp.issuer() + "/token",
		"userinfo_endpoint":                     fp.issuer() + "/userinfo",
		"jwks_uri":                              fp.issuer() + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	}
	if fp.endSession {
		doc["end_session_endpoint"] = fp.issuer() + "/logout"
	}
	fp.mu.Lock()
	if fp.issParam {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	fp.mu.Unlock()
	writeJSON(w, http.StatusOK, doc)
}

func (fp *fakeProvider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &testKey().PublicKey, KeyID: "test-key", Algorithm: "RS256", Use: "sig",
	}}})
}

func (fp *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.lastAuthorize = q
	if q.Get("client_id") != testClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	resp := url.Values{"state": {q.Get("state")}}
	if fp.sendIss != "" {
		resp.Set("iss", fp.sendIss)
	}
	if fp.authorizeErr != nil {
		for k, v := range fp.authorizeErr {
			resp[k] = v
		}
	} else {
		code := rand.Text()
		fp.codes[code] = codeGrant{
			redirectURI: q.Get("redirect_uri"),
			nonce:       q.Get("nonce"),
			challenge:   q.Get("code_challenge"),
			scope:       q.Get("scope"),
		}
		resp.Set("code", code)
	}
	redirect.RawQuery = resp.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (fp *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != testClientID || secret != testClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if r.PostFormValue("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	grant, ok := fp.codes[r.PostFormValue("code")]
	delete(fp.codes, r.PostFormValue("code"))
	if !ok || grant.redirectURI != r.PostFormValue("redirect_uri") ||
		oauth2.S256ChallengeFromVerifier(r.PostFormValue("code_verifier")) != grant.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "bad code, redirect_uri or code_verifier"})
		return
	}

	accessToken := rand.Text()
	fp.accessTokens[accessToken] = true
	nonce := grant.nonce
	if fp.wrongNonce {
		nonce = "not-the-nonce"
	}
	atHash := sha256.Sum256([]byte(accessToken))
	now := time.Now()
	claims, err := json.Marshal(map[string]any{
		"iss":     fp.issuer(),
		"sub":     testSubject,
		"aud":     testClientID,
		"iat":     now.Unix(),
		"exp":     now.Add(time.Hour).Unix(),
		"nonce":   nonce,
		"at_hash": base64.RawURLEncoding.EncodeToString(atHash[:16]),
		"email":   testEmail,
		"name":    testName,
	})
	if err != nil {
		fp.t.Error(err)
		return
	}
	jws, err := fp.signer.Sign(claims)
	if err != nil {
		fp.t.Error(err)
		return
	}
	idToken, err := jws.CompactSerialize()
	if err != nil {
		fp.t.Error(err)
		return
	}
	resp := map[string]any{
		"access_token": accessToken,
		"token_type":   "Bearer",
		"expires_in":   3600,
		"id_token":     idToken,
		"scope":        grant.scope,
	}
	if strings.Contains(grant.scope, "offline_access") {
		resp["refresh_token"] = rand.Text()
	}
	writeJSON(w, http.StatusOK, resp)
}

func (fp *fakeProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	fp.mu.Lock()
	valid := ok && fp.accessTokens[token]
	fp.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": testSubject, "email": testEmail, "email_verified": true, "name": testName,
	})
}

func (fp *fakeProvider) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fp.mu.Lock()
	fp.lastLogout = q
	fp.mu.Unlock()
	http.Redirect(w, r, q.Get("post_logout_redirect_uri"), http.StatusFound)
}

func (fp *fakeProvider) set(f func(fp *fakeProvider)) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	f(fp)
}

func (fp *fakeProvider) authorizeQuery() url.Values {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.lastAuthorize
}

func (fp *fakeProvider) logoutQuery() url.Values {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.lastLogout
}

type testEnv struct {
	fp      *fakeProvider
	app     *App
	baseURL string
}

// newTestEnv serves an App next to a fake provider.
func newTestEnv(t *testing.T, endSession bool, audience string, setup ...func(*fakeProvider)) *testEnv {
	t.Helper()
	fp := newFakeProvider(t, endSession)
	for _, f := range setup {
		fp.set(f)
	}
	env := &testEnv{fp: fp}
	// The app's base URL must be known before New, so the server starts first.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.app.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	env.baseURL = srv.URL
	app, err := New(t.Context(), Config{
		Issuer:       fp.issuer(),
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		BaseURL:      srv.URL,
		Audience:     audience,
		HTTPClient:   fp.srv.Client(),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.app = app
	return env
}

// browser returns a client with a cookie jar; follow says whether it
// follows redirects. Pass an existing browser's jar to share its cookies.
func browser(t *testing.T, jar http.CookieJar, follow bool) *http.Client {
	t.Helper()
	if jar == nil {
		var err error
		if jar, err = cookiejar.New(nil); err != nil {
			t.Fatal(err)
		}
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp, string(body)
}

func wantContains(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("page does not contain %q; page:\n%s", want, body)
		}
	}
}

func TestHappyPath(t *testing.T) {
	env := newTestEnv(t, true, "https://api.example.com")
	c := browser(t, nil, true)

	resp, body := get(t, c, env.baseURL+"/login")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" {
		t.Fatalf("login flow ended on %s with %d, want /profile with 200; page:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	wantContains(t, body,
		`id="email">alice@example.com<`,
		`id="name">Alice &lt;Liddell&gt;<`,
		`id="sub">user|123<`,
		`id="refresh-token">yes<`,
		`id="scope">openid profile email offline_access<`,
		`<pre id="claims"`,
		`&#34;nonce&#34;: `,
		`<pre id="userinfo"`,
		`&#34;email_verified&#34;: true`,
	)
	if strings.Contains(body, "<Liddell>") {
		t.Error("profile page contains the unescaped name")
	}

	q := env.fp.authorizeQuery()
	for name, want := range map[string]string{
		"scope":                 "openid profile email offline_access",
		"redirect_uri":          env.baseURL + "/callback",
		"audience":              "https://api.example.com",
		"code_challenge_method": "S256",
	} {
		if got := q.Get(name); got != want {
			t.Errorf("/authorize %s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(name) == "" {
			t.Errorf("/authorize has no %s", name)
		}
	}

	_, body = get(t, c, env.baseURL+"/")
	wantContains(t, body, testEmail, `href="/profile"`, `href="/logout"`)

	resp, body = get(t, c, env.baseURL+"/logout")
	if resp.Request.URL.String() != env.baseURL+"/" {
		t.Errorf("logout ended on %s, want %s/", resp.Request.URL, env.baseURL)
	}
	wantContains(t, body, `href="/login"`)
	lq := env.fp.logoutQuery()
	if lq.Get("client_id") != testClientID || lq.Get("post_logout_redirect_uri") != env.baseURL+"/" || lq.Get("id_token_hint") == "" {
		t.Errorf("end-session query = %v, want client_id, post_logout_redirect_uri and id_token_hint", lq)
	}

	resp, _ = get(t, browser(t, c.Jar, false), env.baseURL+"/profile")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		t.Errorf("/profile after logout = %d to %q, want 302 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLoginForwardsParams(t *testing.T) {
	env := newTestEnv(t, false, "")
	tests := []struct {
		name  string
		query string
		want  url.Values // must appear at /authorize
		unset []string   // must not appear at /authorize
	}{
		{
			name:  "none",
			unset: []string{"prompt", "connection", "organization", "invitation", "login_hint", "audience"},
		},
		{
			name:  "all",
			query: "prompt=login&connection=github&organization=org_1&invitation=inv_1&login_hint=bob%40example.com",
			want: url.Values{"prompt": {"login"}, "connection": {"github"}, "organization": {"org_1"},
				"invitation": {"inv_1"}, "login_hint": {"bob@example.com"}},
		},
		{
			name:  "unknown parameters stay behind",
			query: "prompt=none&redirect_uri=https://evil.example&scope=admin",
			want:  url.Values{"prompt": {"none"}, "redirect_uri": {env.baseURL + "/callback"}, "scope": {"openid profile email offline_access"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := get(t, browser(t, nil, false), env.baseURL+"/login?"+tt.query)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("/login = %d, want 302", resp.StatusCode)
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != env.fp.issuer()+"/authorize" {
				t.Errorf("redirected to %s, want the provider's /authorize", got)
			}
			q := loc.Query()
			for name, want := range tt.want {
				if got := q[name]; len(got) != 1 || got[0] != want[0] {
					t.Errorf("/authorize %s = %q, want %q", name, got, want)
				}
			}
			for _, name := range tt.unset {
				if q.Has(name) {
					t.Errorf("/authorize has %s=%q, want none", name, q.Get(name))
				}
			}
			var cookie *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == loginCookie {
					cookie = c
				}
			}
			if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
				t.Errorf("login cookie = %+v, want an HttpOnly SameSite=Lax cookie", cookie)
			}
		})
	}
}

func TestCallbackStateMismatch(t *testing.T) {
	env := newTestEnv(t, false, "")
	c := browser(t, nil, false)

	resp, _ := get(t, c, env.baseURL+"/login")
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	realState := loc.Query().Get("state")

	resp, body := get(t, c, env.baseURL+"/callback?code=whatever&state=forged")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback with wrong state = %d, want 400", resp.StatusCode)
	}
	wantContains(t, body, "state_mismatch")

	// The failed attempt used up the pending login, so the real state no
	// longer works either.
	resp, _ = get(t, c, env.baseURL+"/callback?code=whatever&state="+url.QueryEscape(realState))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed callback = %d, want 400", resp.StatusCode)
	}
	assertSignedOut(t, env, c.Jar)
}

func TestCallbackWithoutLogin(t *testing.T) {
	env := newTestEnv(t, false, "")
	resp, body := get(t, browser(t, nil, false), env.baseURL+"/callback?code=abc&state=xyz")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback without /login = %d, want 400", resp.StatusCode)
	}
	wantContains(t, body, "No sign-in in progress")
}

func TestCallbackWrongNonce(t *testing.T) {
	env := newTestEnv(t, false, "")
	env.fp.set(func(fp *fakeProvider) { fp.wrongNonce = true })
	c := browser(t, nil, true)

	resp, body := get(t, c, env.baseURL+"/login")
	if resp.Request.URL.Path != "/callback" || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("login flow ended on %s with %d, want the /callback error page with 400", resp.Request.URL.Path, resp.StatusCode)
	}
	wantContains(t, body, "nonce_mismatch")
	assertSignedOut(t, env, c.Jar)
}

func TestCallbackProviderError(t *testing.T) {
	env := newTestEnv(t, false, "")
	env.fp.set(func(fp *fakeProvider) {
		fp.authorizeErr = url.Values{
			"error":             {"access_denied"},
			"error_description": {`<script>alert("x")</script> said no`},
		}
	})
	c := browser(t, nil, true)

	resp, body := get(t, c, env.baseURL+"/login")
	if resp.Request.URL.Path != "/callback" || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("login flow ended on %s with %d, want the /callback error page with 400", resp.Request.URL.Path, resp.StatusCode)
	}
	wantContains(t, body, `<code id="error">access_denied</code>`, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; said no`)
	if strings.Contains(body, "<script>") {
		t.Errorf("error page contains an unescaped <script>:\n%s", body)
	}
	assertSignedOut(t, env, c.Jar)
}

func TestCallbackIssuer(t *testing.T) {
	tests := []struct {
		name       string
		advertised bool
		iss        string // "" = the fake's own issuer, "-" = none
		wantError  string // "" = signed in
	}{
		{name: "not advertised, not sent", iss: "-"},
		{name: "not advertised, sent", iss: ""},
		{name: "advertised and sent", advertised: true, iss: ""},
		{name: "advertised, missing", advertised: true, iss: "-", wantError: "issuer_missing"},
		{name: "wrong issuer", iss: "https://evil.example", wantError: "issuer_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, false, "", func(fp *fakeProvider) {
				fp.issParam = tt.advertised
				switch tt.iss {
				case "":
					fp.sendIss = fp.issuer()
				case "-":
					fp.sendIss = ""
				default:
					fp.sendIss = tt.iss
				}
			})
			c := browser(t, nil, true)
			resp, body := get(t, c, env.baseURL+"/login")
			if tt.wantError == "" {
				if resp.Request.URL.Path != "/profile" {
					t.Errorf("login flow ended on %s, want /profile; page:\n%s", resp.Request.URL, body)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("callback = %d, want 400", resp.StatusCode)
			}
			wantContains(t, body, tt.wantError)
			assertSignedOut(t, env, c.Jar)
		})
	}
}

func TestProfileSignedOut(t *testing.T) {
	env := newTestEnv(t, false, "")
	resp, _ := get(t, browser(t, nil, false), env.baseURL+"/profile")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		t.Errorf("/profile signed out = %d to %q, want 302 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLogoutWithoutEndSession(t *testing.T) {
	env := newTestEnv(t, false, "")
	c := browser(t, nil, true)
	if resp, _ := get(t, c, env.baseURL+"/login"); resp.Request.URL.Path != "/profile" {
		t.Fatalf("login flow ended on %s, want /profile", resp.Request.URL)
	}
	resp, _ := get(t, browser(t, c.Jar, false), env.baseURL+"/logout")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		t.Errorf("/logout = %d to %q, want 302 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	assertSignedOut(t, env, c.Jar)
}

func TestNewUnreachableProvider(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	issuer := srv.URL
	srv.Close() // nothing listens there any more

	_, err := New(t.Context(), Config{Issuer: issuer, ClientID: testClientID, BaseURL: "http://localhost:3000"})
	if err == nil || !strings.Contains(err.Error(), "discover OpenID provider "+issuer) {
		t.Errorf("New with unreachable issuer: err = %v, want a discovery error naming the issuer", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no issuer", Config{ClientID: "c", BaseURL: "http://localhost:3000"}},
		{"no client id", Config{Issuer: "http://localhost:8080", BaseURL: "http://localhost:3000"}},
		{"relative base URL", Config{Issuer: "http://localhost:8080", ClientID: "c", BaseURL: "/app"}},
		{"base URL with a path", Config{Issuer: "http://localhost:8080", ClientID: "c", BaseURL: "http://localhost:3000/app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(t.Context(), tt.cfg); err == nil {
				t.Error("New succeeded, want a config error")
			}
		})
	}
}

func assertSignedOut(t *testing.T, env *testEnv, jar http.CookieJar) {
	t.Helper()
	resp, body := get(t, browser(t, jar, false), env.baseURL+"/profile")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		t.Errorf("/profile = %d to %q, want 302 to / (signed out)", resp.StatusCode, resp.Header.Get("Location"))
	}
	if strings.Contains(body, testEmail) {
		t.Error("signed-out response shows the user's email")
	}
}
