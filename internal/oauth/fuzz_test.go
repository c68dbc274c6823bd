package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// The fuzz targets below send arbitrary input to the protocol endpoints'
// real handlers over a real SQLite store and check what every answer to
// bad input must be: no panic, no 5xx (the store is up), and the shape
// the protocol defines. The handlers are called directly, not through
// httptest.Server, so that a panic reaches the fuzzer instead of being
// swallowed by net/http's per-connection recovery. Under plain go test the
// seeds (below and in testdata/fuzz) run as ordinary tests; .ci/fuzz runs
// each target with -fuzz for a short time.

// fuzzEnv is one provider for a whole fuzz run, with a client of each
// kind and live credentials that seeds can use.
type fuzzEnv struct {
	*ccEnv
	web     client // regular web application, client_secret_basic
	post    client // client_secret_post
	public  client // single-page application, PKCE, no secret
	pkj     client // private_key_jwt
	cookie  *http.Cookie
	code    string // a code for web, unredeemed at setup
	pkce    string // a code for public, with challenge verifierChallenge
	refresh string // a refresh token of web
	access  string // an access token of web with openid
	jwt     string // a client assertion of pkj
}

const fuzzVerifier = "dBjftJeZ4CVP-mJ0ddmVmgKmJRBRmo0RjWxpiX3w7gk0"

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	e := &fuzzEnv{ccEnv: newCCEnvWith(f, func(c *oauth.Config) {
		// The limit on stored requests would turn most anonymous
		// /authorize inputs into 429 after the first minute.
		c.PendingRequestsPerIP = -1
	})}
	e.web = e.newClient(f, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true,
		LogoutURLs: []string{"http://127.0.0.1:5555/bye"}})
	e.post = e.newClient(f, oauth.NewClientParams{FirstParty: true, TokenEndpointAuthMethod: store.AuthMethodSecretPost})
	e.public = e.newClient(f, oauth.NewClientParams{FirstParty: true, Type: store.ClientSPA, TokenEndpointAuthMethod: store.AuthMethodNone})
	ec, _ := newKeys(f)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ec.PublicKey, KeyID: "ec1", Algorithm: "ES256", Use: "sig"}}})
	e.pkj = e.newClientWith(f, oauth.NewClientParams{FirstParty: true}, func(c *store.Client) {
		c.TokenEndpointAuthMethod, c.SecretHash, c.JWKS = store.AuthMethodPrivateKeyJWT, "", string(set)
	})
	now := e.clock.Now()
	e.jwt = assertion(f, jose.ES256, ec, "ec1", map[string]any{"iss": e.pkj.ID, "sub": e.pkj.ID,
		"aud": e.issuer + "/oauth/token", "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": token.NewOpaque()[:20]})

	_, _, e.cookie = e.login(f)
	e.code = e.env.code(f, e.web, e.cookie, nil)
	tr := e.exchange(f, e.web, e.env.code(f, e.web, e.cookie, url.Values{"scope": {"openid offline_access"}}), nil)
	e.refresh, e.access = tr.RefreshToken, tr.AccessToken
	e.pkce = e.env.code(f, e.public, e.cookie, url.Values{"code_challenge": {challenge(fuzzVerifier)}, "code_challenge_method": {"S256"}})
	return e
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// serve runs req through the provider's handlers in this goroutine.
func (e *env) serve(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.srv.Config.Handler.ServeHTTP(w, req)
	return w
}

// fuzzRequest builds a request as the server would hand it over, or
// reports false for input that cannot arrive over HTTP/1.1 (a header value
// with a line break or NUL is refused by Go's server before any handler).
func fuzzRequest(method, target, contentType, body, authorization string) (*http.Request, bool) {
	if !validHeader(contentType) || !validHeader(authorization) {
		return nil, false
	}
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req, true
}

func validHeader(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}

// withQuery returns path with the raw query q, as a request line would
// carry it (any bytes but space, CR and LF, which end the request line).
func withQuery(path, q string) (string, bool) {
	if strings.ContainsAny(q, " \r\n\x00#") {
		return "", false
	}
	if q == "" {
		return path, true
	}
	return path + "?" + q, true
}

// checkNot5xx fails on any server error: the store is up, so every 5xx
// is a bug for some input.
func checkNot5xx(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d for bad input; body %.500s", w.Code, w.Body)
	}
}

// checkJSONShape checks an OAuth JSON endpoint's answer: an error is RFC
// 6749 §5.2's object with a string error and a description in its
// charset; a success is a JSON object.
func checkJSONShape(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	checkNot5xx(t, w)
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d, Content-Type %q, want JSON; body %.500s", w.Code, ct, w.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d: body %.500s is not a JSON object: %v", w.Code, w.Body, err)
	}
	if w.Code >= 400 {
		code, _ := body["error"].(string)
		if code == "" {
			t.Fatalf("status %d: error body %.500s has no error", w.Code, w.Body)
		}
		if desc, ok := body["error_description"].(string); ok {
			for i := 0; i < len(desc); i++ {
				if c := desc[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					t.Fatalf("error_description %q has byte %#x outside RFC 6749 §5.2's set", desc, c)
				}
			}
		}
	}
	return body
}

// checkPageShape checks a browser endpoint's answer (/authorize, logout):
// a redirect to a parseable absolute URL, an HTML page, or a JSON error
// for a CORS preflight-free API misuse; never a 5xx.
func checkPageShape(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	checkNot5xx(t, w)
	switch {
	case w.Code >= 300 && w.Code < 400:
		loc := w.Header().Get("Location")
		u, err := url.Parse(loc)
		if err != nil || (!u.IsAbs() && !strings.HasPrefix(loc, "/")) {
			t.Fatalf("status %d with Location %q: %v", w.Code, loc, err)
		}
	default:
		ct := w.Header().Get("Content-Type")
		if !strings.HasPrefix(ct, "text/html") && !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("status %d, Content-Type %q; body %.300s", w.Code, ct, w.Body)
		}
		if !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("status %d: the page is not UTF-8", w.Code)
		}
	}
}

// FuzzAuthorize sends arbitrary parameters to GET and POST /authorize,
// logged in or not.
func FuzzAuthorize(f *testing.F) {
	e := newFuzzEnv(f)
	q := func(c client, kv ...string) string {
		v := authQuery(c)
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	for _, s := range []string{
		q(e.web),
		q(e.web, "response_mode", "form_post", "nonce", "n-1", "prompt", "login consent", "max_age", "0"),
		q(e.web, "response_mode", "fragment", "response_type", "code id_token"),
		q(e.web, "response_mode", "web_message", "prompt", "none"),
		q(e.public, "code_challenge", challenge(fuzzVerifier), "code_challenge_method", "S256"),
		q(e.web, "audience", "https://api.example", "scope", "openid read:things offline_access"),
		q(e.web, "connection", "Username-Password-Authentication", "login_hint", "a@example.com", "screen_hint", "signup"),
		q(e.web, "organization", "org_nope", "invitation", "inv"),
		q(e.web, "request", "eyJhbGciOiJub25lIn0.e30.", "request_uri", "urn:x"),
		q(e.web, "max_age", "-1", "acr_values", "http://schemas.openid.net/pape/policies/2007/06/multi-factor"),
		"client_id=" + e.web.ID + "&redirect_uri=%zz&response_type=code",
		"client_id=" + e.web.ID + "&client_id=other&response_type=code",
		"response_type=token&client_id=" + e.web.ID + "&redirect_uri=" + url.QueryEscape(loopbackCB),
		"",
		"%",
		";;;&&=",
	} {
		f.Add(s, false, true)
		f.Add(s, true, false)
	}
	f.Add(q(e.web, "state", strings.Repeat("s", 60000)), false, false)
	f.Fuzz(func(t *testing.T, params string, post, loggedIn bool) {
		var req *http.Request
		if post {
			req = httptest.NewRequest(http.MethodPost, "/authorize", strings.NewReader(params))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			target, ok := withQuery("/authorize", params)
			if !ok {
				t.Skip("not a request line")
			}
			req = httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path, req.URL.RawQuery, req.RequestURI = "/authorize", target[len("/authorize"):], target
			req.URL.RawQuery = strings.TrimPrefix(req.URL.RawQuery, "?")
		}
		if loggedIn {
			req.AddCookie(e.cookie)
		}
		checkPageShape(t, e.serve(req))
	})
}

// FuzzToken sends arbitrary forms and Authorization headers to
// /oauth/token: every grant type, every client authentication method.
func FuzzToken(f *testing.F) {
	e := newFuzzEnv(f)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	basic := func(c client) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(c.Secret)))
	}
	const ct = "application/x-www-form-urlencoded"
	for _, s := range []struct{ body, auth string }{
		{form("grant_type", "authorization_code", "code", e.code, "redirect_uri", loopbackCB), basic(e.web)},
		{form("grant_type", "authorization_code", "code", e.pkce, "redirect_uri", loopbackCB, "client_id", e.public.ID, "code_verifier", fuzzVerifier), ""},
		{form("grant_type", "refresh_token", "refresh_token", e.refresh, "scope", "openid"), basic(e.web)},
		{form("grant_type", "refresh_token", "refresh_token", e.refresh, "client_id", e.post.ID, "client_secret", e.post.Secret), ""},
		{form("grant_type", "client_credentials", "audience", "https://api.example", "scope", "read:things"), basic(e.two)},
		{form("grant_type", "client_credentials", "audience", "urn:other", "client_id", e.one.ID, "client_secret", e.one.Secret), ""},
		{form("grant_type", "refresh_token", "refresh_token", "x", "client_assertion_type", oauth.ClientAssertionType, "client_assertion", e.jwt), ""},
		{form("grant_type", "refresh_token", "refresh_token", "x", "client_assertion_type", oauth.ClientAssertionType, "client_assertion", "a.b.c", "client_id", e.pkj.ID), ""},
		{form("grant_type", "password", "username", "a@example.com", "password", "pw"), basic(e.web)},
		{form("grant_type", "urn:ietf:params:oauth:grant-type:device_code", "device_code", "x"), basic(e.web)},
		{form("grant_type", "authorization_code", "grant_type", "refresh_token"), basic(e.web)},
		{"grant_type=%zz&code=%", "Basic %%%"},
		{"grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:%"))},
		{"grant_type=client_credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon"))},
		{"grant_type=client_credentials", "Bearer x"},
		{"", ""},
	} {
		f.Add(s.body, s.auth, ct)
	}
	f.Add("{\"grant_type\":\"client_credentials\"}", basic(e.two), "application/json")
	f.Add("--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--b--\r\n", basic(e.two), "multipart/form-data; boundary=b")
	f.Fuzz(func(t *testing.T, body, authorization, contentType string) {
		req, ok := fuzzRequest(http.MethodPost, "/oauth/token", contentType, body, authorization)
		if !ok {
			t.Skip("not an HTTP request")
		}
		w := e.serve(req)
		b := checkJSONShape(t, w)
		if w.Code == http.StatusOK {
			if s, _ := b["access_token"].(string); s == "" || b["token_type"] == nil {
				t.Fatalf("200 without access_token and token_type: %.500s", w.Body)
			}
		}
	})
}

// FuzzUserinfo sends arbitrary Authorization headers and bodies to GET
// and POST /userinfo (RFC 6750 §2.1 and §2.2).
func FuzzUserinfo(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range []struct {
		post       bool
		auth, body string
	}{
		{false, "Bearer " + e.access, ""},
		{true, "", "access_token=" + e.access},
		{true, "Bearer " + e.access, "access_token=" + e.access},
		{false, "Bearer", ""},
		{false, "bearer  x y", ""},
		{false, "Basic Zm9vOmJhcg==", ""},
		{true, "", "access_token=a&access_token=b"},
		{true, "", "access_token=%zz"},
		{false, "Bearer eyJhbGciOiJub25lIn0.e30.", ""},
		{false, "", ""},
	} {
		f.Add(s.post, s.auth, s.body)
	}
	f.Fuzz(func(t *testing.T, post bool, authorization, body string) {
		method, ct := http.MethodGet, ""
		if post {
			method, ct = http.MethodPost, "application/x-www-form-urlencoded"
		}
		req, ok := fuzzRequest(method, "/userinfo", ct, body, authorization)
		if !ok {
			t.Skip("not an HTTP request")
		}
		w := e.serve(req)
		checkNot5xx(t, w)
		if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("status %d without a Bearer challenge (RFC 6750 §3)", w.Code)
			}
		}
		if w.Body.Len() > 0 {
			b := checkJSONShape(t, w)
			if w.Code == http.StatusOK && b["sub"] == nil {
				t.Fatalf("200 without sub: %.500s", w.Body)
			}
		}
	})
}

// fuzzClientEndpoint fuzzes a client-authenticated form endpoint
// (revocation, introspection).
func fuzzClientEndpoint(f *testing.F, path string) {
	e := newFuzzEnv(f)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(e.web.ID)+":"+url.QueryEscape(e.web.Secret)))
	for _, s := range []struct{ body, auth string }{
		{"token=" + url.QueryEscape(e.access), basic},
		{"token=" + url.QueryEscape(e.refresh) + "&token_type_hint=refresh_token", basic},
		{"token=" + url.QueryEscape(e.access) + "&token_type_hint=access_token&client_id=" + e.post.ID + "&client_secret=" + e.post.Secret, ""},
		{"token=x&client_id=" + e.public.ID, ""},
		{"token=x&token_type_hint=nonsense&client_assertion_type=" + url.QueryEscape(oauth.ClientAssertionType) + "&client_assertion=" + e.jwt, ""},
		{"token=&token=", basic},
		{"%zz", basic},
		{"", "Basic !!!"},
		{"", ""},
	} {
		f.Add(s.body, s.auth)
	}
	f.Fuzz(func(t *testing.T, body, authorization string) {
		req, ok := fuzzRequest(http.MethodPost, path, "application/x-www-form-urlencoded", body, authorization)
		if !ok {
			t.Skip("not an HTTP request")
		}
		w := e.serve(req)
		if w.Code == http.StatusOK && w.Body.Len() == 0 && path == "/oauth/revoke" {
			return // RFC 7009 §2.2: an empty 200
		}
		checkJSONShape(t, w)
	})
}

// FuzzRevoke fuzzes /oauth/revoke (RFC 7009).
func FuzzRevoke(f *testing.F) { fuzzClientEndpoint(f, "/oauth/revoke") }

// FuzzIntrospect fuzzes /oauth/introspect (RFC 7662).
func FuzzIntrospect(f *testing.F) { fuzzClientEndpoint(f, "/oauth/introspect") }

// FuzzLogout sends arbitrary parameters to GET and POST /oidc/logout and
// GET /v2/logout, with and without a session.
func FuzzLogout(f *testing.F) {
	e := newFuzzEnv(f)
	idToken := e.exchange(f, e.web, e.env.code(f, e.web, e.cookie, nil), nil).IDToken
	for _, s := range []string{
		"id_token_hint=" + idToken + "&post_logout_redirect_uri=" + url.QueryEscape("http://127.0.0.1:5555/bye") + "&state=s",
		"client_id=" + e.web.ID + "&post_logout_redirect_uri=" + url.QueryEscape("http://127.0.0.1:5555/bye"),
		"client_id=" + e.web.ID + "&returnTo=" + url.QueryEscape("http://127.0.0.1:5555/bye") + "&federated",
		"id_token_hint=a.b.c&client_id=other",
		"post_logout_redirect_uri=javascript:alert(1)",
		"ui_locales=%zz&logout_hint=x",
		"",
	} {
		for kind := range uint8(3) {
			f.Add(kind, s, true)
		}
		f.Add(uint8(0), s, false)
	}
	f.Fuzz(func(t *testing.T, kind uint8, params string, withSession bool) {
		var req *http.Request
		switch kind % 3 {
		case 0, 1:
			path := "/oidc/logout"
			if kind%3 == 1 {
				path = "/v2/logout"
			}
			target, ok := withQuery(path, params)
			if !ok {
				t.Skip("not a request line")
			}
			req = httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path, req.URL.RawQuery, req.RequestURI = path, strings.TrimPrefix(target[len(path):], "?"), target
		case 2:
			req = httptest.NewRequest(http.MethodPost, "/oidc/logout", strings.NewReader(params))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if withSession {
			// A copy of the session cookie: logout ends the session the
			// first time, after which this is a stale cookie.
			req.AddCookie(e.cookie)
		}
		checkPageShape(t, e.serve(req))
	})
}
