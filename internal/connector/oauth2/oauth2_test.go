package oauth2_test

import (
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

	"github.com/google/go-cmp/cmp"
	xoauth2 "golang.org/x/oauth2"

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/oauth2"
)

const (
	clientID     = "gatehouse-client"
	clientSecret = "s3cret"
	callbackURL  = "https://gatehouse.example/login/callback"
	// verifier is 43 unreserved characters, the shortest RFC 7636 allows.
	verifier = "abcdefghijklmnopqrstuvwxyz0123456789-._~ABC"
	// testTimeout is the client timeout the slow-upstream cases exceed.
	testTimeout = 200 * time.Millisecond
)

var flow = connector.Flow{State: "st-1", Nonce: "n-1", CodeVerifier: verifier, CallbackURL: callbackURL}

// provider is a fake OAuth 2.0 provider: its authorize endpoint issues a
// code for the request, its token endpoint checks the client, the
// redirect_uri and the PKCE verifier (RFC 7636 §4.6) like a real one.
type provider struct {
	srv *httptest.Server

	mu    sync.Mutex            // guards codes
	codes map[string]url.Values // code → the authorize request's parameters

	userinfo     string                                       // the userinfo JSON
	bodyAuthOnly bool                                         // the token endpoint ignores HTTP Basic
	token        func(w http.ResponseWriter, r *http.Request) // replaces the token endpoint when set
	info         func(w http.ResponseWriter, r *http.Request) // replaces the userinfo endpoint when set
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{codes: map[string]url.Values{}, userinfo: `{"sub":"u-1","email":"ada@example.com","email_verified":true,"name":"Ada Lovelace"}`}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		code := "code-" + q.Get("state")
		p.codes[code] = q
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if p.token != nil {
			p.token(w, r)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || p.bodyAuthOnly {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if id != clientID || secret != clientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		// A code is good for one exchange (RFC 6749 §4.1.2).
		p.mu.Lock()
		auth, found := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		p.mu.Unlock()
		switch {
		case r.PostFormValue("grant_type") != "authorization_code" || !found ||
			r.PostFormValue("redirect_uri") != auth.Get("redirect_uri") ||
			auth.Get("code_challenge_method") != "S256" ||
			xoauth2.S256ChallengeFromVerifier(r.PostFormValue("code_verifier")) != auth.Get("code_challenge"):
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		default:
			_, _ = w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`))
		}
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if p.info != nil {
			p.info(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer at-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(p.userinfo))
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) config() oauth2.Config {
	return oauth2.Config{
		Name:         "acme",
		AuthorizeURL: p.srv.URL + "/authorize",
		TokenURL:     p.srv.URL + "/token",
		UserinfoURL:  p.srv.URL + "/userinfo",
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Scopes:       []string{"profile", "email"},
		HTTPClient:   &http.Client{Timeout: testTimeout},
	}
}

// callback drives the browser's part: it follows the login URL to the
// fake's authorize endpoint and returns the request the browser makes to
// the callback.
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

// stall answers after the client gave up.
func stall(w http.ResponseWriter, r *http.Request) {
	// Until the body is read, the server does not notice the client hang up.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func jsonAnswer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestLoginURL(t *testing.T) {
	p := newProvider(t)
	cfg := p.config()
	cfg.AuthorizeURL += "?tenant=7" // a provider's own parameters are kept
	c, err := oauth2.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hint string
		want url.Values
	}{
		{name: "no hint", want: url.Values{
			"tenant": {"7"}, "response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURL},
			"scope": {"profile email"}, "state": {"st-1"},
			"code_challenge": {xoauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		}},
		{name: "hint", hint: "ada@example.com", want: url.Values{
			"tenant": {"7"}, "response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURL},
			"scope": {"profile email"}, "state": {"st-1"}, "login_hint": {"ada@example.com"},
			"code_challenge": {xoauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := flow
			f.LoginHint = tc.hint
			got, err := c.LoginURL(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if base := u.Scheme + "://" + u.Host + u.Path; base != p.srv.URL+"/authorize" {
				t.Errorf("endpoint %s, want %s/authorize", base, p.srv.URL)
			}
			if diff := cmp.Diff(tc.want, u.Query()); diff != "" {
				t.Errorf("parameters (-want +got):\n%s", diff)
			}
		})
	}
	if c.Provider() != "oauth2-acme" {
		t.Errorf("Provider() = %q", c.Provider())
	}
}

// result is what a callback case expects: an identity, or an error of a kind.
type result struct {
	id     connector.Identity
	denied bool   // connector.ErrAccessDenied
	desc   string // an *UpstreamError whose Description contains this
}

func check(t *testing.T, got connector.Identity, err error, want result) {
	t.Helper()
	var ue *connector.UpstreamError
	switch {
	case want.denied:
		if !errors.Is(err, connector.ErrAccessDenied) {
			t.Fatalf("err = %v, want ErrAccessDenied", err)
		}
	case want.desc != "":
		if !errors.As(err, &ue) {
			t.Fatalf("err = %#v, want *UpstreamError", err)
		}
		if !strings.Contains(ue.Description, want.desc) {
			t.Errorf("Description = %q, want it to contain %q", ue.Description, want.desc)
		}
	default:
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		if diff := cmp.Diff(want.id, got); diff != "" {
			t.Errorf("identity (-want +got):\n%s", diff)
		}
	}
}

func TestHandleCallback(t *testing.T) {
	ada := connector.Identity{UserID: "u-1", Email: "ada@example.com", EmailVerified: true, Name: "Ada Lovelace"}
	tests := []struct {
		name    string
		setup   func(*provider, *oauth2.Config)
		query   string // a callback query of the test's own instead of the fake's redirect
		want    result
		maxTime time.Duration // the callback must fail within this (timeouts)
	}{
		{name: "happy path", want: result{id: ada}},
		{
			name: "client secret in the body",
			// A provider that ignores HTTP Basic: x/oauth2 retries with the body.
			setup: func(p *provider, _ *oauth2.Config) { p.bodyAuthOnly = true },
			want:  result{id: ada},
		},
		{
			name: "no sub: id, a big number, is the user id",
			setup: func(p *provider, _ *oauth2.Config) {
				p.userinfo = `{"id":12345678901234567890,"login":"ada","email":"ada@example.com","avatar_url":"https://img.example/a.png"}`
			},
			want: result{id: connector.Identity{UserID: "12345678901234567890", Email: "ada@example.com"}},
		},
		{
			name: "custom claim mapping",
			setup: func(p *provider, c *oauth2.Config) {
				p.userinfo = `{"user_id":42.0,"mail":"ada@example.com","mail_ok":"true","display":"Ada","login":"ada",
					"avatar":"https://img.example/a.png","first":"Ada","last":"Lovelace","sub":"ignored"}`
				c.ClaimMapping = map[string]string{"sub": "user_id", "email": "mail", "email_verified": "mail_ok", "name": "display",
					"nickname": "login", "picture": "avatar", "given_name": "first", "family_name": "last"}
			},
			want: result{id: connector.Identity{UserID: "42", Email: "ada@example.com", EmailVerified: true, Name: "Ada", Nickname: "ada",
				Picture: "https://img.example/a.png", GivenName: "Ada", FamilyName: "Lovelace"}},
		},
		{name: "cancel", query: "error=access_denied&state=st-1", want: result{denied: true}},
		{
			name:  "upstream error",
			query: "error=temporarily_unavailable&error_description=down+for+maintenance&state=st-1",
			want:  result{desc: "temporarily_unavailable: down for maintenance"},
		},
		{name: "no code", query: "state=st-1", want: result{desc: "no authorization code"}},
		{
			name:  "token endpoint 500",
			setup: func(p *provider, _ *oauth2.Config) { p.token = jsonAnswer(500, `oops`) },
			want:  result{desc: "token endpoint answered 500"},
		},
		{
			name: "token endpoint error JSON",
			setup: func(p *provider, _ *oauth2.Config) {
				p.token = jsonAnswer(400, `{"error":"invalid_grant","error_description":"the code expired"}`)
			},
			want: result{desc: "invalid_grant: the code expired"},
		},
		{
			name:  "token endpoint error JSON with 200",
			setup: func(p *provider, _ *oauth2.Config) { p.token = jsonAnswer(200, `{"error":"bad_verification_code"}`) },
			want:  result{desc: "bad_verification_code"},
		},
		{
			name:  "token endpoint malformed JSON",
			setup: func(p *provider, _ *oauth2.Config) { p.token = jsonAnswer(200, `{"access_token":`) },
			want:  result{desc: "token request failed"},
		},
		{
			name:    "slow token endpoint",
			setup:   func(p *provider, _ *oauth2.Config) { p.token = stall },
			want:    result{desc: "did not answer in time"},
			maxTime: 2 * time.Second,
		},
		{
			name:  "wrong client secret",
			setup: func(_ *provider, c *oauth2.Config) { c.ClientSecret = "wrong" },
			want:  result{desc: "invalid_client"},
		},
		{
			name:  "userinfo 500",
			setup: func(p *provider, _ *oauth2.Config) { p.info = jsonAnswer(500, `{}`) },
			want:  result{desc: "userinfo request failed: HTTP 500 Internal Server Error"},
		},
		{
			name:    "slow userinfo",
			setup:   func(p *provider, _ *oauth2.Config) { p.info = stall },
			want:    result{desc: "did not answer in time"},
			maxTime: 2 * time.Second,
		},
		{
			name:  "userinfo malformed JSON",
			setup: func(p *provider, _ *oauth2.Config) { p.userinfo = `{"sub":"u-1",` },
			want:  result{desc: "not a JSON object"},
		},
		{
			name:  "userinfo is an array",
			setup: func(p *provider, _ *oauth2.Config) { p.userinfo = `[{"sub":"u-1"}]` },
			want:  result{desc: "not a JSON object"},
		},
		{
			name:  "no user id",
			setup: func(p *provider, _ *oauth2.Config) { p.userinfo = `{"email":"ada@example.com"}` },
			want:  result{desc: "no user id"},
		},
		{
			name:  "user id of the wrong type",
			setup: func(p *provider, _ *oauth2.Config) { p.userinfo = `{"sub":{"id":1}}` },
			want:  result{desc: "no user id"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t)
			cfg := p.config()
			if tc.setup != nil {
				tc.setup(p, &cfg)
			}
			c, err := oauth2.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			loginURL, err := c.LoginURL(t.Context(), flow)
			if err != nil {
				t.Fatal(err)
			}
			r := callback(t, loginURL)
			if tc.query != "" {
				r = httptest.NewRequest(http.MethodGet, callbackURL+"?"+tc.query, nil)
			}
			start := time.Now()
			got, err := c.HandleCallback(t.Context(), flow, r)
			if tc.maxTime > 0 && time.Since(start) > tc.maxTime {
				t.Errorf("the callback took %v; the client timeout is %v", time.Since(start), testTimeout)
			}
			check(t, got, err, tc.want)
		})
	}
}

func TestHandleCallbackBadFlow(t *testing.T) {
	p := newProvider(t)
	c, err := oauth2.Open(p.config())
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, callbackURL+"?code=x&state=st-1", nil)
	for _, f := range []connector.Flow{
		{Nonce: "n", CodeVerifier: verifier, CallbackURL: callbackURL},
		{State: "s", Nonce: "n", CodeVerifier: "short", CallbackURL: callbackURL},
		{State: "s", Nonce: "n", CodeVerifier: verifier},
	} {
		if _, err := c.LoginURL(t.Context(), f); err == nil {
			t.Errorf("LoginURL(%+v) succeeded", f)
		}
		_, err := c.HandleCallback(t.Context(), f, r)
		var ue *connector.UpstreamError
		if err == nil || errors.As(err, &ue) {
			t.Errorf("HandleCallback(%+v) = %v, want a plain error", f, err)
		}
	}
}

func TestOpen(t *testing.T) {
	good := oauth2.Config{
		Name: "acme", AuthorizeURL: "https://acme.example/authorize", TokenURL: "https://acme.example/token",
		UserinfoURL: "https://acme.example/userinfo", ClientID: "id", ClientSecret: "secret",
	}
	tests := []struct {
		name   string
		change func(*oauth2.Config)
		want   string // substring of the error; "" for success
	}{
		{name: "valid", change: func(*oauth2.Config) {}},
		{name: "loopback http", change: func(c *oauth2.Config) { c.TokenURL = "http://127.0.0.1:8080/token" }},
		{name: "no name", change: func(c *oauth2.Config) { c.Name = "" }, want: "name is missing"},
		{name: "name with a bar", change: func(c *oauth2.Config) { c.Name = "a|b" }, want: "must not contain '|'"},
		{name: "no client id", change: func(c *oauth2.Config) { c.ClientID = "" }, want: "client id is missing"},
		{name: "no client secret", change: func(c *oauth2.Config) { c.ClientSecret = "" }, want: "client secret is missing"},
		{name: "no authorize URL", change: func(c *oauth2.Config) { c.AuthorizeURL = "" }, want: "authorize URL is missing"},
		{name: "relative token URL", change: func(c *oauth2.Config) { c.TokenURL = "/token" }, want: "token URL: \"/token\" is not an absolute"},
		{name: "ftp userinfo URL", change: func(c *oauth2.Config) { c.UserinfoURL = "ftp://acme.example/u" }, want: "userinfo URL"},
		{name: "remote http", change: func(c *oauth2.Config) { c.TokenURL = "http://acme.example/token" }, want: "must use https"},
		{name: "credentials in URL", change: func(c *oauth2.Config) { c.TokenURL = "https://u:p@acme.example/token" }, want: "no user info"},
		{name: "fragment", change: func(c *oauth2.Config) { c.AuthorizeURL = "https://acme.example/a#x" }, want: "fragment"},
		{name: "bad scope", change: func(c *oauth2.Config) { c.Scopes = []string{"read write"} }, want: "scope \"read write\""},
		{name: "unknown mapping field", change: func(c *oauth2.Config) { c.ClaimMapping = map[string]string{"mail": "email"} },
			want: `unknown field "mail"`},
		{name: "empty mapping claim", change: func(c *oauth2.Config) { c.ClaimMapping = map[string]string{"sub": ""} },
			want: `field "sub" maps to an empty claim name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			_, err := oauth2.Open(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestMappingIdentity(t *testing.T) {
	tests := []struct {
		name    string
		mapping map[string]string
		claims  string
		want    connector.Identity
		wantErr bool
	}{
		{name: "standard claims", claims: `{"sub":"a","email":"a@x.example","email_verified":true,"name":"A","nickname":"a",
			"picture":"https://x.example/a.png","given_name":"G","family_name":"F"}`,
			want: connector.Identity{UserID: "a", Email: "a@x.example", EmailVerified: true, Name: "A", Nickname: "a",
				Picture: "https://x.example/a.png", GivenName: "G", FamilyName: "F"}},
		{name: "integer id", claims: `{"sub":9007199254740993}`, want: connector.Identity{UserID: "9007199254740993"}},
		{name: "exponent id", claims: `{"sub":1e21}`, want: connector.Identity{UserID: "1000000000000000000000"}},
		{name: "fractional id", claims: `{"sub":1.5}`, want: connector.Identity{UserID: "1.5"}},
		{name: "email_verified as a string", claims: `{"sub":"a","email":"a@x.example","email_verified":"TRUE"}`,
			want: connector.Identity{UserID: "a", Email: "a@x.example", EmailVerified: true}},
		{name: "verified without an email", claims: `{"sub":"a","email_verified":true}`, want: connector.Identity{UserID: "a"}},
		{name: "non-http picture dropped", claims: `{"sub":"a","picture":"javascript:alert(1)"}`, want: connector.Identity{UserID: "a"}},
		{name: "wrong-typed fields ignored", claims: `{"sub":"a","name":7,"email":["a@x.example"]}`, want: connector.Identity{UserID: "a"}},
		{name: "empty sub", claims: `{"sub":""}`, wantErr: true},
		{name: "boolean sub", claims: `{"sub":true}`, wantErr: true},
		{name: "mapped sub missing", mapping: map[string]string{"sub": "oid"}, claims: `{"sub":"a"}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := oauth2.NewMapping(tc.mapping)
			if err != nil {
				t.Fatal(err)
			}
			claims, err := oauth2.DecodeClaims([]byte(tc.claims))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Identity(claims)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Identity = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeClaims(t *testing.T) {
	for _, in := range []string{``, `null`, `[]`, `"x"`, `{"a":1} {"b":2}`, `{"a":`} {
		if _, err := oauth2.DecodeClaims([]byte(in)); err == nil {
			t.Errorf("DecodeClaims(%q) succeeded", in)
		}
	}
	got, err := oauth2.DecodeClaims([]byte(" {\"n\": 12345678901234567890}\n"))
	if err != nil || got["n"] != json.Number("12345678901234567890") {
		t.Errorf("DecodeClaims = %v, %v", got, err)
	}
}
