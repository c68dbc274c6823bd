package github_test

import (
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

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/github"
)

const (
	clientID     = "Iv1.gatehouse"
	clientSecret = "s3cret"
	callbackURL  = "https://gatehouse.example/login/callback"
	accessToken  = "gho_token"
	// testTimeout is the client timeout the slow-upstream cases exceed.
	testTimeout = 200 * time.Millisecond
)

var flow = connector.Flow{State: "st-1", Nonce: "n-1", CodeVerifier: strings.Repeat("v", 43), CallbackURL: callbackURL}

// fakeGitHub serves GitHub's OAuth web flow and the two REST resources the
// connector reads. Like github.com it can be two hosts (web and API); like
// GitHub Enterprise Server it can be one, with the API under /api/v3.
type fakeGitHub struct {
	web, api string // base URLs

	mu    sync.Mutex        // guards codes
	codes map[string]string // code → redirect_uri it was issued for

	user   string // the /user JSON
	emails string // the /user/emails JSON
	// Handlers that replace an endpoint when set.
	token, userAPI, emailsAPI http.HandlerFunc
}

func newFakeGitHub(t *testing.T, enterprise bool) *fakeGitHub {
	t.Helper()
	g := &fakeGitHub{
		codes: map[string]string{},
		user:  `{"login":"octocat","id":100123456,"name":"The Octocat","avatar_url":"https://avatars.example/u/100123456","email":null}`,
		emails: `[{"email":"old@example.com","primary":false,"verified":true,"visibility":null},
			{"email":"octocat@example.com","primary":true,"verified":true,"visibility":"private"}]`,
	}
	webMux, apiMux := http.NewServeMux(), http.NewServeMux()
	webMux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := "code-" + q.Get("state")
		g.mu.Lock()
		g.codes[code] = q.Get("redirect_uri")
		g.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	webMux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if g.token != nil {
			g.token(w, r)
			return
		}
		if r.Header.Get("Accept") != "application/json" {
			http.Error(w, "this fake answers JSON only", http.StatusNotAcceptable)
			return
		}
		code := r.PostFormValue("code")
		g.mu.Lock()
		redirect, ok := g.codes[code]
		delete(g.codes, code)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch {
		case r.PostFormValue("client_id") != clientID || r.PostFormValue("client_secret") != clientSecret:
			_, _ = io.WriteString(w, `{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}`)
		case !ok || r.PostFormValue("redirect_uri") != redirect:
			// GitHub reports a bad code with 200 and an error field.
			_, _ = io.WriteString(w, `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/"}`)
		default:
			_, _ = io.WriteString(w, `{"access_token":"`+accessToken+`","token_type":"bearer","scope":"read:user,user:email"}`)
		}
	})
	api := func(body *string, override *http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if *override != nil {
				(*override)(w, r)
				return
			}
			if r.Header.Get("Authorization") != "Bearer "+accessToken || r.Header.Get("Accept") != "application/vnd.github+json" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"message":"Requires authentication"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, *body)
		}
	}
	prefix := ""
	if enterprise {
		prefix = "/api/v3"
	}
	apiMux.HandleFunc("GET "+prefix+"/user", api(&g.user, &g.userAPI))
	apiMux.HandleFunc("GET "+prefix+"/user/emails", api(&g.emails, &g.emailsAPI))

	if enterprise {
		webMux.Handle(prefix+"/", apiMux)
		srv := httptest.NewServer(webMux)
		t.Cleanup(srv.Close)
		g.web, g.api = srv.URL, srv.URL+prefix
		return g
	}
	web, apiSrv := httptest.NewServer(webMux), httptest.NewServer(apiMux)
	t.Cleanup(web.Close)
	t.Cleanup(apiSrv.Close)
	g.web, g.api = web.URL, apiSrv.URL
	return g
}

func (g *fakeGitHub) config() github.Config {
	return github.Config{ClientID: clientID, ClientSecret: clientSecret, BaseURL: g.web, APIURL: g.api,
		HTTPClient: &http.Client{Timeout: testTimeout}}
}

// callback follows the login URL to the fake's authorize page and returns
// the browser's request to the callback.
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
	_, _ = io.Copy(io.Discard, r.Body) // the server notices a hang-up only once the body is read
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestLoginURL(t *testing.T) {
	tests := []struct {
		name     string
		cfg      github.Config
		hint     string
		endpoint string
		want     url.Values
	}{
		{
			name:     "github.com defaults",
			cfg:      github.Config{ClientID: clientID, ClientSecret: clientSecret},
			endpoint: "https://github.com/login/oauth/authorize",
			want:     url.Values{"client_id": {clientID}, "redirect_uri": {callbackURL}, "scope": {"read:user user:email"}, "state": {"st-1"}},
		},
		{
			name:     "enterprise, scopes and login hint",
			cfg:      github.Config{ClientID: clientID, ClientSecret: clientSecret, BaseURL: "https://ghe.example.com/", Scopes: []string{"read:user", "user:email", "read:org"}},
			hint:     "octocat",
			endpoint: "https://ghe.example.com/login/oauth/authorize",
			want: url.Values{"client_id": {clientID}, "redirect_uri": {callbackURL}, "scope": {"read:user user:email read:org"},
				"state": {"st-1"}, "login": {"octocat"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := github.Open(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := flow
			f.LoginHint = tc.hint
			got, err := c.LoginURL(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			endpoint, query, _ := strings.Cut(got, "?")
			if endpoint != tc.endpoint {
				t.Errorf("endpoint %s, want %s", endpoint, tc.endpoint)
			}
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, q); diff != "" {
				t.Errorf("parameters (-want +got):\n%s", diff)
			}
			if c.Provider() != "github" {
				t.Errorf("Provider() = %q", c.Provider())
			}
		})
	}
}

func TestHandleCallback(t *testing.T) {
	octocat := connector.Identity{UserID: "100123456", Email: "octocat@example.com", EmailVerified: true, Name: "The Octocat",
		Nickname: "octocat", Picture: "https://avatars.example/u/100123456"}
	tests := []struct {
		name       string
		enterprise bool
		setup      func(*fakeGitHub, *github.Config)
		query      string // a callback query of the test's own instead of the fake's redirect
		want       connector.Identity
		denied     bool   // want ErrAccessDenied
		desc       string // want an *UpstreamError whose Description contains this
	}{
		{name: "happy path", want: octocat},
		{
			name:       "enterprise: API URL derived from the base URL",
			enterprise: true,
			setup:      func(_ *fakeGitHub, c *github.Config) { c.APIURL = "" },
			want:       octocat,
		},
		{
			name:       "enterprise: explicit API URL",
			enterprise: true,
			want:       octocat,
		},
		{
			name: "no name: the login is the name",
			setup: func(g *fakeGitHub, _ *github.Config) {
				g.user = `{"login":"octocat","id":100123456,"name":null,"avatar_url":""}`
			},
			want: connector.Identity{UserID: "100123456", Email: "octocat@example.com", EmailVerified: true, Name: "octocat", Nickname: "octocat"},
		},
		{
			name: "no verified primary email",
			setup: func(g *fakeGitHub, _ *github.Config) {
				g.emails = `[{"email":"octocat@example.com","primary":true,"verified":false},{"email":"other@example.com","primary":false,"verified":true}]`
			},
			want: connector.Identity{UserID: "100123456", Name: "The Octocat", Nickname: "octocat", Picture: "https://avatars.example/u/100123456"},
		},
		{
			name:  "no emails",
			setup: func(g *fakeGitHub, _ *github.Config) { g.emails = `[]` },
			want:  connector.Identity{UserID: "100123456", Name: "The Octocat", Nickname: "octocat", Picture: "https://avatars.example/u/100123456"},
		},
		{
			name:   "cancel",
			query:  "error=access_denied&error_description=The+user+has+denied+your+application+access.&state=st-1",
			denied: true,
		},
		{
			name:  "upstream error",
			query: "error=redirect_uri_mismatch&error_description=The+redirect_uri+MUST+match+the+registered+callback+URL.&state=st-1",
			desc:  "redirect_uri_mismatch: The redirect_uri MUST match the registered callback URL.",
		},
		{name: "no code", query: "state=st-1", desc: "no authorization code"},
		{
			name:  "token endpoint 500",
			setup: func(g *fakeGitHub, _ *github.Config) { g.token = answer(500, `{"message":"oops"}`) },
			desc:  "token endpoint answered 500 Internal Server Error",
		},
		{
			name:  "bad code: error JSON with 200",
			query: "code=forged&state=st-1",
			desc:  "bad_verification_code: The code passed is incorrect or expired.",
		},
		{
			name:  "wrong client secret",
			setup: func(_ *fakeGitHub, c *github.Config) { c.ClientSecret = "wrong" },
			desc:  "incorrect_client_credentials",
		},
		{
			name:  "token endpoint malformed JSON",
			setup: func(g *fakeGitHub, _ *github.Config) { g.token = answer(200, `{"access_token":`) },
			desc:  "token request failed",
		},
		{
			name:  "slow token endpoint",
			setup: func(g *fakeGitHub, _ *github.Config) { g.token = stall },
			desc:  "token request failed: the provider did not answer in time",
		},
		{
			name:  "user API 500",
			setup: func(g *fakeGitHub, _ *github.Config) { g.userAPI = answer(500, `{"message":"Server Error"}`) },
			desc:  "the GitHub API request /user failed: HTTP 500 Internal Server Error",
		},
		{
			name:  "emails API 403",
			setup: func(g *fakeGitHub, _ *github.Config) { g.emailsAPI = answer(403, `{"message":"rate limited"}`) },
			desc:  "/user/emails failed: HTTP 403 Forbidden",
		},
		{
			name:  "slow user API",
			setup: func(g *fakeGitHub, _ *github.Config) { g.userAPI = stall },
			desc:  "/user failed: the provider did not answer in time",
		},
		{
			name:  "slow emails API",
			setup: func(g *fakeGitHub, _ *github.Config) { g.emailsAPI = stall },
			desc:  "/user/emails failed: the provider did not answer in time",
		},
		{
			name:  "user API malformed JSON",
			setup: func(g *fakeGitHub, _ *github.Config) { g.user = `{"login":"octocat",` },
			desc:  "answer to /user is malformed",
		},
		{
			name:  "emails API malformed JSON",
			setup: func(g *fakeGitHub, _ *github.Config) { g.emails = `{"email":"octocat@example.com"}` },
			desc:  "answer to /user/emails is malformed",
		},
		{
			name:  "user without id",
			setup: func(g *fakeGitHub, _ *github.Config) { g.user = `{"login":"octocat"}` },
			desc:  "no numeric user id",
		},
		{
			name:  "user with a non-numeric id",
			setup: func(g *fakeGitHub, _ *github.Config) { g.user = `{"login":"octocat","id":-5}` },
			desc:  "no numeric user id",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGitHub(t, tc.enterprise)
			cfg := g.config()
			if tc.setup != nil {
				tc.setup(g, &cfg)
			}
			c, err := github.Open(cfg)
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
					t.Errorf("Description = %q, want it to contain %q", ue.Description, tc.desc)
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
	tests := []struct {
		name string
		cfg  github.Config
		want string // substring of the error
	}{
		{name: "no client id", cfg: github.Config{ClientSecret: "s"}, want: "client id is missing"},
		{name: "no client secret", cfg: github.Config{ClientID: "id"}, want: "client secret is missing"},
		{name: "relative base URL", cfg: github.Config{ClientID: "id", ClientSecret: "s", BaseURL: "ghe.example.com"}, want: "base URL"},
		{name: "http base URL", cfg: github.Config{ClientID: "id", ClientSecret: "s", BaseURL: "http://ghe.example.com"}, want: "must use https"},
		{name: "base URL with a query", cfg: github.Config{ClientID: "id", ClientSecret: "s", BaseURL: "https://ghe.example.com/?x=1"}, want: "must have no query"},
		{name: "bad API URL", cfg: github.Config{ClientID: "id", ClientSecret: "s", APIURL: "https://"}, want: "API URL"},
		{name: "bad scope", cfg: github.Config{ClientID: "id", ClientSecret: "s", Scopes: []string{""}}, want: "scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := github.Open(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
