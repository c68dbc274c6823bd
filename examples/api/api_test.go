package api

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testAudience = "https://api.example.com"
	testSubject  = "user|123"
	testClientID = "client-abc"
)

// testRSAKey is shared because RSA key generation is slow.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// signingKey is a private key the fake issuer signs with.
type signingKey struct {
	alg  jose.SignatureAlgorithm
	kid  string
	priv crypto.Signer
}

// public is the key as the issuer publishes it in its JWKS.
func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

func newECKey(t *testing.T, kid string) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{alg: jose.ES256, kid: kid, priv: priv}
}

func newEdKey(t *testing.T, kid string) signingKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{alg: jose.EdDSA, kid: kid, priv: priv}
}

// fakeIssuer serves what the API reads from an issuer: the discovery
// document and the JWKS.
type fakeIssuer struct {
	srv      *httptest.Server
	jwksHits atomic.Int32

	mu   sync.Mutex // guards keys
	keys []jose.JSONWebKey
}

func newFakeIssuer(t *testing.T, keys ...signingKey) *fakeIssuer {
	t.Helper()
	fi := &fakeIssuer{}
	fi.publish(keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":   fi.srv.URL,
			"jwks_uri": fi.srv.URL + "/.well-known/jwks.json",
		})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		fi.jwksHits.Add(1)
		fi.mu.Lock()
		defer fi.mu.Unlock()
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: fi.keys})
	})
	fi.srv = httptest.NewServer(mux)
	t.Cleanup(fi.srv.Close)
	return fi
}

// publish replaces the issuer's JWKS.
func (fi *fakeIssuer) publish(keys ...signingKey) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.keys = nil
	for _, k := range keys {
		fi.keys = append(fi.keys, k.public())
	}
}

// clock is a time source tests move by hand.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	issuer      *fakeIssuer
	api         *API
	clock       *clock
	rsa, ec, ed signingKey
}

// newFixture starts a fake issuer publishing one RSA, one P-256 and one
// Ed25519 key, and an API trusting it.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		clock: &clock{t: time.Now()},
		rsa:   signingKey{alg: jose.RS256, kid: "rsa-1", priv: testRSAKey()},
		ec:    newECKey(t, "ec-1"),
		ed:    newEdKey(t, "ed-1"),
	}
	f.issuer = newFakeIssuer(t, f.rsa, f.ec, f.ed)
	a, err := newAPI(t.Context(), Config{
		Issuer:   f.issuer.srv.URL,
		Audience: testAudience,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.api = a
	return f
}

// claims are those of a valid access token for the API, now.
func (f *fixture) claims() map[string]any {
	now := f.clock.Now()
	return map[string]any{
		"iss":       f.issuer.srv.URL,
		"sub":       testSubject,
		"aud":       testAudience,
		"client_id": testClientID,
		"scope":     "openid profile read:messages",
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"jti":       "jti-1",
	}
}

// token signs a valid access token with k, after edit changes its claims.
func (f *fixture) token(t *testing.T, k signingKey, edit func(map[string]any)) string {
	t.Helper()
	c := f.claims()
	if edit != nil {
		edit(c)
	}
	return sign(t, k.alg, jose.JSONWebKey{Key: k.priv, KeyID: k.kid}, "at+jwt", c)
}

func sign(t *testing.T, alg jose.SignatureAlgorithm, key jose.JSONWebKey, typ string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// get calls the API; authorization is the Authorization header, if not empty.
func (f *fixture) get(path, authorization string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	return w
}

// want is the expected answer to one request.
type want struct {
	status int
	// err is the challenge's error attribute. Empty means: no challenge
	// for a 2xx answer, exactly `Bearer realm="api"` otherwise.
	err   string
	scope string // the challenge's scope attribute, with insufficient_scope
	desc  string // part of error_description, naming the reason
}

// check asserts the status, the WWW-Authenticate header and the JSON body.
func check(t *testing.T, w *httptest.ResponseRecorder, want want) {
	t.Helper()
	if w.Code != want.status {
		t.Errorf("status = %d, want %d; body %s", w.Code, want.status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Errorf("body %q is not a JSON object: %v", w.Body, err)
	}
	challenge := w.Header().Get("WWW-Authenticate")
	switch {
	case want.status < 300:
		if challenge != "" {
			t.Errorf("WWW-Authenticate = %q, want none", challenge)
		}
		return
	case want.err == "":
		if challenge != `Bearer realm="api"` {
			t.Errorf(`WWW-Authenticate = %q, want exactly Bearer realm="api"`, challenge)
		}
		if body["error"] != nil {
			t.Errorf("body error = %v, want none", body["error"])
		}
		return
	}
	params, ok := parseChallenge(challenge)
	if !ok {
		t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", challenge)
	}
	if params["realm"] != "api" || params["error"] != want.err || params["scope"] != want.scope || params["error_description"] == "" {
		t.Errorf("WWW-Authenticate = %q, want realm api, error %q, scope %q and a description", challenge, want.err, want.scope)
	}
	if !strings.Contains(params["error_description"], want.desc) {
		t.Errorf("error_description = %q, want it to mention %q", params["error_description"], want.desc)
	}
	if body["error"] != want.err || body["error_description"] != params["error_description"] {
		t.Errorf("body = %v, want error %q and the challenge's description", body, want.err)
	}
}

// parseChallenge splits a Bearer challenge into its attributes. The values
// the API sends are quoted strings without quotes or backslashes inside.
func parseChallenge(h string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return nil, false
	}
	params := map[string]string{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok {
			return nil, false
		}
		value, after, ok := strings.Cut(after, `"`)
		if !ok {
			return nil, false
		}
		params[name] = value
		rest = strings.TrimPrefix(after, ", ")
	}
	return params, true
}

func TestRequests(t *testing.T) {
	b64 := func(v any) string {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(j)
	}
	bearer := func(tok string) string { return "Bearer " + tok }

	tests := []struct {
		name string
		path string
		// authorization returns the Authorization header; nil sends none.
		authorization func(t *testing.T, f *fixture) string
		want          want
	}{
		{
			name: "public without token",
			path: "/api/public",
			want: want{status: http.StatusOK},
		},
		{
			name: "valid RS256",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, nil))
			},
			want: want{status: http.StatusOK},
		},
		{
			name: "valid ES256",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.ec, nil))
			},
			want: want{status: http.StatusOK},
		},
		{
			name: "valid EdDSA",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.ed, nil))
			},
			want: want{status: http.StatusOK},
		},
		{
			name: "messages with read:messages",
			path: "/api/messages",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, nil))
			},
			want: want{status: http.StatusOK},
		},
		{
			name: "audience array containing the API",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) {
					c["aud"] = []string{testAudience, f.issuer.srv.URL + "/userinfo"}
				}))
			},
			want: want{status: http.StatusOK},
		},
		{
			name: "typ application/at+jwt in upper case",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(sign(t, jose.ES256, jose.JSONWebKey{Key: f.ec.priv, KeyID: f.ec.kid}, "APPLICATION/AT+JWT", f.claims()))
			},
			want: want{status: http.StatusOK},
		},
		{
			name: "expired within the leeway",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) {
					c["iat"] = f.clock.Now().Add(-time.Hour).Unix()
					c["exp"] = f.clock.Now().Add(-10 * time.Second).Unix()
				}))
			},
			want: want{status: http.StatusOK},
		},
		{
			name: "missing token",
			path: "/api/private",
			want: want{status: http.StatusUnauthorized},
		},
		{
			name: "missing token on messages",
			path: "/api/messages",
			want: want{status: http.StatusUnauthorized},
		},
		{
			name: "token in the query only",
			path: "/api/private?access_token=abc",
			want: want{status: http.StatusUnauthorized},
		},
		{
			name:          "Basic credentials",
			path:          "/api/private",
			authorization: func(*testing.T, *fixture) string { return "Basic Y2xpZW50OnNlY3JldA==" },
			want:          want{status: http.StatusUnauthorized},
		},
		{
			name:          "Bearer without a token",
			path:          "/api/private",
			authorization: func(*testing.T, *fixture) string { return "Bearer " },
			want:          want{status: http.StatusBadRequest, err: "invalid_request", desc: "one token"},
		},
		{
			name:          "not a JWT",
			path:          "/api/private",
			authorization: func(*testing.T, *fixture) string { return "Bearer opaque-token" },
			want:          want{status: http.StatusUnauthorized, err: "invalid_token", desc: "not a JWT"},
		},
		{
			name: "expired",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) {
					c["iat"] = f.clock.Now().Add(-2 * time.Hour).Unix()
					c["exp"] = f.clock.Now().Add(-time.Hour).Unix()
				}))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "expired"},
		},
		{
			name: "issued far in the future",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) {
					c["iat"] = f.clock.Now().Add(time.Hour).Unix()
					c["exp"] = f.clock.Now().Add(2 * time.Hour).Unix()
				}))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "not valid yet"},
		},
		{
			name: "nbf in the future",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) {
					c["nbf"] = f.clock.Now().Add(10 * time.Minute).Unix()
				}))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "not valid yet"},
		},
		{
			name: "wrong audience",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) { c["aud"] = "https://other.example.com" }))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "not meant for"},
		},
		{
			name: "audience array without the API",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) {
					c["aud"] = []string{"https://other.example.com", f.issuer.srv.URL + "/userinfo"}
				}))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "not meant for"},
		},
		{
			name: "wrong issuer",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) { c["iss"] = "https://evil.example.com" }))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "not issued by"},
		},
		{
			name: "issuer with a trailing slash",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) { c["iss"] = f.issuer.srv.URL + "/" }))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "not issued by"},
		},
		{
			name: "wrong signature",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				// Another P-256 key, claiming to be the published one.
				impostor := newECKey(t, f.ec.kid)
				return bearer(f.token(t, impostor, nil))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "signature is invalid"},
		},
		{
			name: "alg none",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				hdr := map[string]string{"alg": "none", "typ": "at+jwt", "kid": f.rsa.kid}
				return bearer(b64(hdr) + "." + b64(f.claims()) + ".")
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "RS256, ES256 or EdDSA"},
		},
		{
			name: "HS256 keyed with the RSA public key",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				der, err := x509.MarshalPKIXPublicKey(f.rsa.priv.Public())
				if err != nil {
					t.Fatal(err)
				}
				secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				return bearer(sign(t, jose.HS256, jose.JSONWebKey{Key: secret, KeyID: f.rsa.kid}, "at+jwt", f.claims()))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "RS256, ES256 or EdDSA"},
		},
		{
			name: "ID token (typ JWT)",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(sign(t, jose.RS256, jose.JSONWebKey{Key: f.rsa.priv, KeyID: f.rsa.kid}, "JWT", f.claims()))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "typ must be at+jwt"},
		},
		{
			name: "key of another type under a published kid",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				// Signed correctly with the EC key, but naming the RSA key.
				return bearer(f.token(t, signingKey{alg: jose.ES256, kid: f.rsa.kid, priv: f.ec.priv}, nil))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "alg does not match"},
		},
		{
			name: "unknown kid",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, newEdKey(t, "never-published"), nil))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "unknown key"},
		},
		{
			name: "no sub",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) { delete(c, "sub") }))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "no sub"},
		},
		{
			name: "no exp",
			path: "/api/private",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) { delete(c, "exp") }))
			},
			want: want{status: http.StatusUnauthorized, err: "invalid_token", desc: "no exp"},
		},
		{
			name: "missing scope",
			path: "/api/messages",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) { c["scope"] = "openid profile read:messages:all" }))
			},
			want: want{status: http.StatusForbidden, err: "insufficient_scope", scope: "read:messages", desc: "read:messages"},
		},
		{
			name: "no scope claim",
			path: "/api/messages",
			authorization: func(t *testing.T, f *fixture) string {
				return bearer(f.token(t, f.rsa, func(c map[string]any) { delete(c, "scope") }))
			},
			want: want{status: http.StatusForbidden, err: "insufficient_scope", scope: "read:messages", desc: "read:messages"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var authorization string
			if tt.authorization != nil {
				authorization = tt.authorization(t, f)
			}
			check(t, f.get(tt.path, authorization), tt.want)
		})
	}
}

func TestResponseBodies(t *testing.T) {
	f := newFixture(t)
	tok := "Bearer " + f.token(t, f.ed, nil)

	var private map[string]string
	decode(t, f.get("/api/private", tok), &private)
	if private["sub"] != testSubject || private["client_id"] != testClientID || private["scope"] != "openid profile read:messages" {
		t.Errorf("/api/private = %v, want the token's sub, client_id and scope", private)
	}

	var messages struct {
		Messages []message `json:"messages"`
	}
	decode(t, f.get("/api/messages", tok), &messages)
	if len(messages.Messages) == 0 || messages.Messages[0].Text == "" {
		t.Errorf("/api/messages = %+v, want some messages", messages)
	}

	var public map[string]string
	decode(t, f.get("/api/public", ""), &public)
	if public["message"] == "" {
		t.Errorf("/api/public = %v, want a message", public)
	}
}

func decode(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
}

// TestKeyRotation follows the JWKS cache through a key rotation at the
// issuer, the rate limit on refetches and the periodic refresh.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	rotated := newEdKey(t, "ed-2")
	unpublished := newEdKey(t, "never-published")
	invalid := want{status: http.StatusUnauthorized, err: "invalid_token"}
	ok := want{status: http.StatusOK}

	steps := []struct {
		name     string
		setup    func()
		key      signingKey
		want     want
		wantHits int32 // JWKS fetches so far, counting the one in New
	}{
		{name: "cached key", key: f.rsa, want: ok, wantHits: 1},
		{
			name: "new kid is fetched",
			setup: func() {
				f.issuer.publish(f.rsa, f.ec, f.ed, rotated)
				f.clock.Advance(keysMinInterval)
			},
			key: rotated, want: ok, wantHits: 2,
		},
		{name: "unknown kid right after a fetch", key: unpublished, want: invalid, wantHits: 2},
		{
			name:  "unknown kid once the limit has passed",
			setup: func() { f.clock.Advance(keysMinInterval) },
			key:   unpublished, want: invalid, wantHits: 3,
		},
		{name: "rate limited again", key: unpublished, want: invalid, wantHits: 3},
		{
			name: "stale cache is refreshed, dropping a retired key",
			setup: func() {
				f.issuer.publish(f.rsa, f.ed, rotated)
				f.clock.Advance(keysMaxAge)
			},
			key: f.ec, want: invalid, wantHits: 4,
		},
		{name: "remaining keys still work", key: rotated, want: ok, wantHits: 4},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		w := f.get("/api/private", "Bearer "+f.token(t, s.key, nil))
		t.Run(s.name, func(t *testing.T) { check(t, w, s.want) })
		if got := f.issuer.jwksHits.Load(); got != s.wantHits {
			t.Errorf("%s: JWKS fetched %d times, want %d", s.name, got, s.wantHits)
		}
	}
}

// TestConcurrentMisses checks that requests missing the same new kid at
// once share one JWKS fetch.
func TestConcurrentMisses(t *testing.T) {
	f := newFixture(t)
	rotated := newEdKey(t, "ed-2")
	f.issuer.publish(f.rsa, f.ec, f.ed, rotated)
	f.clock.Advance(keysMinInterval)
	tok := "Bearer " + f.token(t, rotated, nil)

	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() { codes[i] = f.get("/api/private", tok).Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, c)
		}
	}
	if got := f.issuer.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (New, then one refetch)", got)
	}
}

// TestIssuerDown checks that cached keys keep working while the issuer is
// unreachable, and that a token needing a new key gets 503, not
// invalid_token, which would make the client drop a good token.
func TestIssuerDown(t *testing.T) {
	f := newFixture(t)
	f.issuer.srv.Close()
	f.clock.Advance(keysMaxAge)

	check(t, f.get("/api/private", "Bearer "+f.token(t, f.rsa, nil)), want{status: http.StatusOK})

	f.clock.Advance(keysMinInterval)
	w := f.get("/api/private", "Bearer "+f.token(t, newEdKey(t, "ed-2"), nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("status = %d, WWW-Authenticate = %q; want 503 and no challenge", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != "temporarily_unavailable" {
		t.Errorf("body = %s, want error temporarily_unavailable", w.Body)
	}
}

func TestNew(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	discovery := func(t *testing.T, doc func(url string) map[string]any) string {
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/openid-configuration" {
				http.NotFound(w, r)
				return
			}
			writeJSON(w, http.StatusOK, doc(srv.URL))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}

	tests := []struct {
		name     string
		issuer   func(t *testing.T) string
		audience string
		wantErr  string
	}{
		{
			name:     "no issuer",
			issuer:   func(*testing.T) string { return "" },
			audience: testAudience,
			wantErr:  "issuer is required",
		},
		{
			name:    "no audience",
			issuer:  func(t *testing.T) string { return newFakeIssuer(t).srv.URL },
			wantErr: "audience is required",
		},
		{
			name:     "issuer unreachable",
			issuer:   func(*testing.T) string { return down.URL },
			audience: testAudience,
			wantErr:  "discover issuer " + down.URL + " (is it running?)",
		},
		{
			name: "discovery names another issuer",
			issuer: func(t *testing.T) string {
				return discovery(t, func(string) map[string]any {
					return map[string]any{"issuer": "https://other.example.com", "jwks_uri": "https://other.example.com/jwks"}
				})
			},
			audience: testAudience,
			wantErr:  `is for issuer "https://other.example.com"`,
		},
		{
			name: "no jwks_uri",
			issuer: func(t *testing.T) string {
				return discovery(t, func(u string) map[string]any { return map[string]any{"issuer": u} })
			},
			audience: testAudience,
			wantErr:  "no usable jwks_uri",
		},
		{
			name: "JWKS unreachable",
			issuer: func(t *testing.T) string {
				return discovery(t, func(u string) map[string]any {
					return map[string]any{"issuer": u, "jwks_uri": u + "/.well-known/jwks.json"}
				})
			},
			audience: testAudience,
			wantErr:  "fetch JWKS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.Context(), Config{Issuer: tt.issuer(t), Audience: tt.audience})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
