package oidc_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	xoauth2 "golang.org/x/oauth2"

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/oidc"
)

const (
	clientID     = "gatehouse-client"
	clientSecret = "s3cret"
	callbackURL  = "https://gatehouse.example/login/callback"
	verifier     = "abcdefghijklmnopqrstuvwxyz0123456789-._~ABC"
	keyID        = "k1"
	// testTimeout is the client timeout the slow-upstream cases exceed.
	testTimeout = 200 * time.Millisecond
)

var flow = connector.Flow{State: "st-1", Nonce: "nonce-1", CodeVerifier: verifier, CallbackURL: callbackURL}

// The provider's signing key, and another one an attacker might sign with
// (under the same key id). RSA keys are slow to make, so once per run.
var providerKey, otherKey = mustKey(), mustKey()

func mustKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// op is a fake OpenID provider: discovery, JWKS, an authorize endpoint
// that issues a code bound to the request's nonce and PKCE challenge, a
// token endpoint that checks them and signs an ID token, and userinfo.
type op struct {
	srv    *httptest.Server
	issuer string

	mu    sync.Mutex            // guards codes
	codes map[string]url.Values // code → the authorize request's parameters

	// Settings a case changes before Open.
	authMethods []string // token_endpoint_auth_methods_supported; nil leaves it out
	issParam    bool     // authorization_response_iss_parameter_supported
	redirectIss string   // iss the authorize endpoint adds to its redirect; "" for none
	noUserinfo  bool     // no userinfo_endpoint in discovery
	signKey     *rsa.PrivateKey
	idClaims    func(claims map[string]any) // edits the ID token's claims
	userinfo    map[string]any
	token, info http.HandlerFunc // replace the endpoint when set
}

func newOP(t *testing.T) *op {
	t.Helper()
	p := &op{
		codes:   map[string]url.Values{},
		signKey: providerKey,
		userinfo: map[string]any{"sub": "248289761001", "name": "Jane Doe", "given_name": "Jane", "family_name": "Doe",
			"picture": "https://img.example/jane.png", "email": "jane@example.com", "email_verified": true},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		d := map[string]any{
			"issuer":                                p.issuer,
			"authorization_endpoint":                p.issuer + "/authorize",
			"token_endpoint":                        p.issuer + "/token",
			"jwks_uri":                              p.issuer + "/jwks",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		}
		if !p.noUserinfo {
			d["userinfo_endpoint"] = p.issuer + "/userinfo"
		}
		if p.authMethods != nil {
			d["token_endpoint_auth_methods_supported"] = p.authMethods
		}
		if p.issParam {
			d["authorization_response_iss_parameter_supported"] = true
		}
		writeJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &providerKey.PublicKey, KeyID: keyID, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := "code-" + q.Get("state")
		p.mu.Lock()
		p.codes[code] = q
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := url.Values{"code": {code}, "state": {q.Get("state")}}
		if p.redirectIss != "" {
			v.Set("iss", p.redirectIss)
		}
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if p.token != nil {
			p.token(w, r)
			return
		}
		id, secret, basic := r.BasicAuth()
		if post := p.authMethods != nil && !strings.Contains(strings.Join(p.authMethods, " "), "client_secret_basic"); post {
			id, secret, basic = r.PostFormValue("client_id"), r.PostFormValue("client_secret"), false
			if _, _, ok := r.BasicAuth(); ok {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "use client_secret_post"})
				return
			}
		} else if !basic {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "use client_secret_basic"})
			return
		}
		if id != clientID || secret != clientSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		code := r.PostFormValue("code")
		p.mu.Lock()
		auth, ok := p.codes[code]
		delete(p.codes, code)
		p.mu.Unlock()
		if !ok || r.PostFormValue("redirect_uri") != auth.Get("redirect_uri") || auth.Get("code_challenge_method") != "S256" ||
			xoauth2.S256ChallengeFromVerifier(r.PostFormValue("code_verifier")) != auth.Get("code_challenge") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "bad code or verifier"})
			return
		}
		const at = "access-1"
		sum := sha256.Sum256([]byte(at))
		now := time.Now()
		claims := map[string]any{
			"iss": p.issuer, "sub": "248289761001", "aud": clientID, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"nonce": auth.Get("nonce"), "at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
			"email": "jane@example.com", "email_verified": true, "name": "Jane (ID token)", "nickname": "jd",
		}
		if p.idClaims != nil {
			p.idClaims(claims)
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600,
			"id_token": sign(t, p.signKey, claims)})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if p.info != nil {
			p.info(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer access-1" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
			return
		}
		writeJSON(w, http.StatusOK, p.userinfo)
	})
	p.srv = httptest.NewServer(mux)
	p.issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

func sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Error(err)
		return ""
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Error(err)
		return ""
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Error(err)
		return ""
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Error(err)
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// stall answers after the client gave up.
func stall(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // the server notices a hang-up only once the body is read
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func (p *op) config() oidc.Config {
	return oidc.Config{Name: "corp", Issuer: p.issuer, ClientID: clientID, ClientSecret: clientSecret,
		HTTPClient: &http.Client{Timeout: testTimeout}}
}

// callback follows the login URL to the fake's authorize endpoint and
// returns the browser's request to the callback.
func callback(t *testing.T, loginURL string) *http.Request {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, callbackURL+"?") {
		t.Fatalf("authorize answered %s, Location %q", resp.Status, loc)
	}
	return httptest.NewRequest(http.MethodGet, loc, nil)
}

func TestLoginURL(t *testing.T) {
	p := newOP(t)
	c, err := oidc.Open(t.Context(), p.config())
	if err != nil {
		t.Fatal(err)
	}
	if c.Provider() != "oidc-corp" {
		t.Errorf("Provider() = %q", c.Provider())
	}
	base := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURL}, "scope": {"openid profile email"},
		"state": {"st-1"}, "nonce": {"nonce-1"},
		"code_challenge": {xoauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	withHint := url.Values{"login_hint": {"jane@example.com"}}
	for k, v := range base {
		withHint[k] = v
	}
	tests := []struct {
		name string
		hint string
		want url.Values
	}{
		{name: "no hint", want: base},
		{name: "hint", hint: "jane@example.com", want: withHint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := flow
			f.LoginHint = tc.hint
			got, err := c.LoginURL(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			endpoint, query, _ := strings.Cut(got, "?")
			if endpoint != p.issuer+"/authorize" {
				t.Errorf("endpoint %s, want %s/authorize", endpoint, p.issuer)
			}
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, q); diff != "" {
				t.Errorf("parameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandleCallback(t *testing.T) {
	// The userinfo answer's claims win over the ID token's.
	jane := connector.Identity{UserID: "248289761001", Email: "jane@example.com", EmailVerified: true, Name: "Jane Doe",
		Nickname: "jd", Picture: "https://img.example/jane.png", GivenName: "Jane", FamilyName: "Doe"}
	tests := []struct {
		name   string
		setup  func(*op, *oidc.Config)
		query  func(p *op) string // a callback query of the test's own instead of the fake's redirect
		flow   func(*connector.Flow)
		want   connector.Identity
		denied bool   // want ErrAccessDenied
		desc   string // want an *UpstreamError whose Description contains this
	}{
		{name: "happy path", want: jane},
		{
			name:  "no userinfo endpoint: the ID token's claims",
			setup: func(p *op, _ *oidc.Config) { p.noUserinfo = true },
			want:  connector.Identity{UserID: "248289761001", Email: "jane@example.com", EmailVerified: true, Name: "Jane (ID token)", Nickname: "jd"},
		},
		{
			name:  "client_secret_post only",
			setup: func(p *op, _ *oidc.Config) { p.authMethods = []string{"client_secret_post"} },
			want:  jane,
		},
		{
			name: "custom claim mapping",
			setup: func(p *op, c *oidc.Config) {
				p.idClaims = func(claims map[string]any) { claims["oid"] = 7001; claims["upn"] = "jane@corp.example" }
				p.userinfo["preferred_username"] = "jane.doe"
				c.ClaimMapping = map[string]string{"sub": "oid", "email": "upn", "email_verified": "upn_verified", "nickname": "preferred_username"}
			},
			want: connector.Identity{UserID: "7001", Email: "jane@corp.example", Name: "Jane Doe", Nickname: "jane.doe",
				Picture: "https://img.example/jane.png", GivenName: "Jane", FamilyName: "Doe"},
		},
		{
			name:  "RFC 9207: the right iss",
			setup: func(p *op, _ *oidc.Config) { p.issParam, p.redirectIss = true, p.issuer },
			want:  jane,
		},
		{
			name:  "RFC 9207: another provider's iss",
			setup: func(p *op, _ *oidc.Config) { p.issParam, p.redirectIss = true, "https://evil.example" },
			desc:  "was not issued by",
		},
		{
			name:  "RFC 9207: iss missing though promised",
			setup: func(p *op, _ *oidc.Config) { p.issParam = true },
			desc:  "was not issued by",
		},
		{
			name:  "RFC 9207: wrong iss from a provider that does not promise it",
			setup: func(_ *op, c *oidc.Config) {},
			query: func(p *op) string { return "code=x&state=st-1&iss=" + url.QueryEscape(p.issuer+"/other") },
			desc:  "was not issued by",
		},
		{
			name:  "RFC 9207: a cancel with another provider's iss",
			setup: func(p *op, _ *oidc.Config) { p.issParam = true },
			query: func(*op) string { return "error=access_denied&state=st-1&iss=https%3A%2F%2Fevil.example" },
			desc:  "was not issued by",
		},
		{name: "cancel", query: func(*op) string { return "error=access_denied&state=st-1" }, denied: true},
		{
			name:  "upstream error",
			query: func(*op) string { return "error=login_required&error_description=the+session+expired&state=st-1" },
			desc:  "login_required: the session expired",
		},
		{name: "no code", query: func(*op) string { return "state=st-1" }, desc: "no authorization code"},
		{
			name:  "token endpoint 500",
			setup: func(p *op, _ *oidc.Config) { p.token = answer(500, `boom`) },
			desc:  "token endpoint answered 500 Internal Server Error",
		},
		{
			name:  "token endpoint error JSON",
			query: func(*op) string { return "code=forged&state=st-1" },
			desc:  "invalid_grant: bad code or verifier",
		},
		{
			name: "wrong PKCE verifier",
			flow: func(f *connector.Flow) { f.CodeVerifier = strings.Repeat("x", 43) },
			desc: "invalid_grant",
		},
		{
			name:  "token endpoint malformed JSON",
			setup: func(p *op, _ *oidc.Config) { p.token = answer(200, `{"access_token":"a",`) },
			desc:  "token request failed",
		},
		{
			name:  "slow token endpoint",
			setup: func(p *op, _ *oidc.Config) { p.token = stall },
			desc:  "token request failed: the provider did not answer in time",
		},
		{
			name: "no ID token",
			setup: func(p *op, _ *oidc.Config) {
				p.token = answer(200, `{"access_token":"access-1","token_type":"Bearer"}`)
			},
			desc: "no ID token",
		},
		{
			name: "wrong nonce",
			flow: func(f *connector.Flow) { f.Nonce = "nonce-of-another-login" },
			desc: "nonce mismatch",
		},
		{
			name:  "no nonce in the ID token",
			setup: func(p *op, _ *oidc.Config) { p.idClaims = func(c map[string]any) { delete(c, "nonce") } },
			desc:  "nonce mismatch",
		},
		{
			name:  "signed by another key",
			setup: func(p *op, _ *oidc.Config) { p.signKey = otherKey },
			desc:  "ID token is not valid",
		},
		{
			name:  "wrong audience",
			setup: func(p *op, _ *oidc.Config) { p.idClaims = func(c map[string]any) { c["aud"] = "another-client" } },
			desc:  "ID token is not valid",
		},
		{
			name:  "wrong issuer",
			setup: func(p *op, _ *oidc.Config) { p.idClaims = func(c map[string]any) { c["iss"] = "https://evil.example" } },
			desc:  "ID token is not valid",
		},
		{
			name: "expired",
			setup: func(p *op, _ *oidc.Config) {
				p.idClaims = func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }
			},
			desc: "ID token is not valid",
		},
		{
			name: "several audiences, azp another client",
			setup: func(p *op, _ *oidc.Config) {
				p.idClaims = func(c map[string]any) { c["aud"] = []string{clientID, "other"}; c["azp"] = "other" }
			},
			desc: "issued to another client",
		},
		{
			name: "at_hash of another access token",
			setup: func(p *op, _ *oidc.Config) {
				p.idClaims = func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }
			},
			desc: "access token does not match",
		},
		{
			name:  "userinfo sub mismatch",
			setup: func(p *op, _ *oidc.Config) { p.userinfo["sub"] = "someone-else" },
			desc:  "about another user",
		},
		{
			name:  "userinfo 500",
			setup: func(p *op, _ *oidc.Config) { p.info = answer(500, `{}`) },
			desc:  "userinfo request failed",
		},
		{
			name:  "slow userinfo",
			setup: func(p *op, _ *oidc.Config) { p.info = stall },
			desc:  "userinfo request failed: the provider did not answer in time",
		},
		{
			name:  "userinfo malformed JSON",
			setup: func(p *op, _ *oidc.Config) { p.info = answer(200, `{"sub":`) },
			desc:  "userinfo request failed",
		},
		{
			name: "mapped sub missing",
			setup: func(p *op, c *oidc.Config) {
				c.ClaimMapping = map[string]string{"sub": "oid"}
			},
			desc: "no user id",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newOP(t)
			cfg := p.config()
			if tc.setup != nil {
				tc.setup(p, &cfg)
			}
			c, err := oidc.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := flow
			loginURL, err := c.LoginURL(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			r := callback(t, loginURL)
			if tc.query != nil {
				r = httptest.NewRequest(http.MethodGet, callbackURL+"?"+tc.query(p), nil)
			}
			if tc.flow != nil {
				tc.flow(&f)
			}
			start := time.Now()
			got, err := c.HandleCallback(t.Context(), f, r)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the callback took %v; the client timeout is %v", d, testTimeout)
			}
			var ue *connector.UpstreamError
			switch {
			case tc.denied:
				if !errors.Is(err, connector.ErrAccessDenied) {
					t.Fatalf("err = %v, want ErrAccessDenied", err)
				}
			case tc.desc != "":
				if !errors.As(err, &ue) {
					t.Fatalf("err = %#v, want *UpstreamError", err)
				}
				if !strings.Contains(ue.Description, tc.desc) {
					t.Errorf("Description = %q, want it to contain %q (err: %v)", ue.Description, tc.desc, err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestOpen(t *testing.T) {
	p := newOP(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	slow := httptest.NewServer(http.HandlerFunc(stall))
	t.Cleanup(slow.Close)
	tests := []struct {
		name   string
		change func(*oidc.Config)
		want   string // substring of the error; "" for success
	}{
		{name: "valid", change: func(*oidc.Config) {}},
		{name: "scopes without openid", change: func(c *oidc.Config) { c.Scopes = []string{"email"} }},
		{name: "no name", change: func(c *oidc.Config) { c.Name = "" }, want: "name is missing"},
		{name: "name with a bar", change: func(c *oidc.Config) { c.Name = "a|b" }, want: "must not contain '|'"},
		{name: "no client id", change: func(c *oidc.Config) { c.ClientID = "" }, want: "client id is missing"},
		{name: "no client secret", change: func(c *oidc.Config) { c.ClientSecret = "" }, want: "client secret is missing"},
		{name: "no issuer", change: func(c *oidc.Config) { c.Issuer = "" }, want: "issuer is missing"},
		{name: "relative issuer", change: func(c *oidc.Config) { c.Issuer = "login.example.com" }, want: "not an absolute http(s) URL"},
		{name: "http issuer", change: func(c *oidc.Config) { c.Issuer = "http://login.example.com" }, want: "must use https"},
		{name: "issuer with a query", change: func(c *oidc.Config) { c.Issuer += "?tenant=1" }, want: "must have no query"},
		{name: "bad scope", change: func(c *oidc.Config) { c.Scopes = []string{"openid", "a b"} }, want: "scope"},
		{name: "unknown mapping field", change: func(c *oidc.Config) { c.ClaimMapping = map[string]string{"username": "upn"} },
			want: `unknown field "username"`},
		{name: "unreachable", change: func(c *oidc.Config) { c.Issuer = down.URL }, want: "discovery at " + down.URL + " failed"},
		{name: "slow", change: func(c *oidc.Config) { c.Issuer = slow.URL }, want: "discovery at " + slow.URL + " failed"},
		{name: "issuer mismatch", change: func(c *oidc.Config) { c.Issuer = p.issuer + "/" }, want: "discovery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := p.config()
			tc.change(&cfg)
			_, err := oidc.Open(t.Context(), cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("no usable client authentication", func(t *testing.T) {
		q := newOP(t)
		q.authMethods = []string{"private_key_jwt"}
		_, err := oidc.Open(t.Context(), q.config())
		if err == nil || !strings.Contains(err.Error(), "neither client_secret_basic nor client_secret_post") {
			t.Fatalf("Open: %v", err)
		}
	})
}
