package loadtest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/loadtest"
)

// machineConfig is a short count-bounded run of a machine-to-machine
// scenario against g with its m2m application.
func machineConfig(g *gatehouse, scenario loadtest.Scenario) loadtest.Config {
	return loadtest.Config{
		Issuer:       g.issuer,
		ClientID:     g.m2mID,
		ClientSecret: g.m2mSecret,
		User:         "user{n}@example.com",
		Users:        4,
		Scenario:     scenario,
		Concurrency:  4,
		Count:        20,
	}
}

func TestMachineScenarios(t *testing.T) {
	g := startGatehouse(t, 4, nil)
	tests := []struct {
		scenario loadtest.Scenario
		steps    map[string]int
	}{
		{loadtest.ClientCredentials, map[string]int{"token": 20, "flow": 20}},
		{loadtest.Mgmt, map[string]int{"search": 20, "get_user": 20, "flow": 20}},
		{loadtest.MgmtSearch, map[string]int{"search": 20, "flow": 20}},
	}
	for _, tc := range tests {
		t.Run(string(tc.scenario), func(t *testing.T) {
			cfg := machineConfig(g, tc.scenario)
			cfg.ServerPID = os.Getpid()
			rep, err := loadtest.Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Errors != 0 || rep.SetupErrors != 0 || rep.FirstError != "" {
				t.Fatalf("%d errors, %d setup errors; first: %s", rep.Errors, rep.SetupErrors, rep.FirstError)
			}
			if rep.OK != 20 || rep.Flows != 20 || rep.FlowsPerSecond <= 0 {
				t.Errorf("ok %d, flows %d, flows/s %v; want 20, 20 and a rate", rep.OK, rep.Flows, rep.FlowsPerSecond)
			}
			got := map[string]int{}
			for _, s := range rep.Steps {
				got[s.Name] = int(s.Count)
				if s.P50 > s.P95 || s.P95 > s.P99 || s.P99 > s.Max || s.Mean <= 0 {
					t.Errorf("step %s: mean %.3f, p50 %.3f, p95 %.3f, p99 %.3f, max %.3f: not ordered", s.Name, s.Mean, s.P50, s.P95, s.P99, s.Max)
				}
			}
			for name, want := range tc.steps {
				if got[name] != want {
					t.Errorf("step %s: count %d, want %d", name, got[name], want)
				}
				delete(got, name)
			}
			for name, n := range got {
				t.Errorf("unexpected step %s (%d times)", name, n)
			}
			if rep.Server == nil || rep.Server.RSSKiB <= 0 {
				t.Errorf("server stats %+v: want the RSS and CPU of this process", rep.Server)
			}
			var text bytes.Buffer
			if err := rep.WriteText(&text); err != nil {
				t.Error(err)
			}
			t.Logf("report:\n%s", text.String())
		})
	}
}

// TestMachineBrokenAnswers checks that a wrong access token or a wrong
// user from the management API is an error of its flow.
func TestMachineBrokenAnswers(t *testing.T) {
	g := startGatehouse(t, 2, nil)
	// accessToken re-signs the access token of token responses with the
	// server's key after f changed its claims, with header type typ.
	accessToken := func(typ string, f func(map[string]any)) func(*loadtest.Config) {
		return g.tamperTokenResponse(func(resp map[string]any) {
			raw, _ := resp["access_token"].(string)
			parts := strings.Split(raw, ".")
			if len(parts) != 3 {
				return
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				return
			}
			var claims map[string]any
			if json.Unmarshal(payload, &claims) != nil {
				return
			}
			f(claims)
			signed, err := g.keys.Sign(context.Background(), claims, typ)
			if err != nil {
				panic(err)
			}
			resp["access_token"] = signed
		})
	}
	unchanged := func(map[string]any) {}
	tests := []struct {
		name     string
		scenario loadtest.Scenario
		change   func(*loadtest.Config)
		want     string // in the first error
	}{
		{name: "wrong client secret", scenario: loadtest.ClientCredentials,
			change: func(c *loadtest.Config) { c.ClientSecret = strings.Repeat("x", 43) },
			want:   "invalid_client"},
		{name: "audience without a grant", scenario: loadtest.ClientCredentials,
			change: func(c *loadtest.Config) { c.Audience = "https://api.example.com/" },
			want:   "client_credentials: status"},
		{name: "not at+jwt", scenario: loadtest.ClientCredentials,
			change: accessToken("JWT", unchanged),
			want:   "typ"},
		{name: "bad signature", scenario: loadtest.ClientCredentials,
			change: g.tamperTokenResponse(func(r map[string]any) {
				raw := r["access_token"].(string)
				r["access_token"] = raw[:len(raw)-4] + "AAAA"
			}),
			want: "signature"},
		{name: "other audience", scenario: loadtest.ClientCredentials,
			change: accessToken("at+jwt", func(c map[string]any) { c["aud"] = "https://api.example.com/" }),
			want:   "aud"},
		{name: "other issuer", scenario: loadtest.ClientCredentials,
			change: accessToken("at+jwt", func(c map[string]any) { c["iss"] = "https://evil.example" }),
			want:   "iss"},
		{name: "other client", scenario: loadtest.ClientCredentials,
			change: accessToken("at+jwt", func(c map[string]any) { c["client_id"] = "another-client" }),
			want:   "client_id"},
		{name: "expired", scenario: loadtest.ClientCredentials,
			change: accessToken("at+jwt", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
			want:   "expired"},
		{name: "scope missing", scenario: loadtest.ClientCredentials,
			change: func(c *loadtest.Config) {
				c.Scopes = []string{"read:users"}
				accessToken("at+jwt", func(c map[string]any) { c["scope"] = "" })(c)
			},
			want: "lacks"},
		{name: "refresh token", scenario: loadtest.ClientCredentials,
			change: g.tamperTokenResponse(func(r map[string]any) { r["refresh_token"] = "rt" }),
			want:   "refresh token"},
		{name: "search finds nobody", scenario: loadtest.MgmtSearch,
			change: rewriteResponse("/api/v2/users", func([]byte) []byte { return []byte("[]") }),
			want:   "0 users"},
		{name: "search finds another user", scenario: loadtest.MgmtSearch,
			change: rewriteResponse("/api/v2/users", func([]byte) []byte {
				return []byte(`[{"user_id":"auth0|x","email":"someone@example.com"}]`)
			}),
			want: "want that one user"},
		{name: "search of users that do not exist", scenario: loadtest.MgmtSearch,
			change: func(c *loadtest.Config) { c.User = "nobody{n}@example.com" },
			want:   "0 users"},
		{name: "get returns another user", scenario: loadtest.Mgmt,
			change: rewriteResponse("/api/v2/users/", func(b []byte) []byte {
				return bytes.Replace(b, []byte("@example.com"), []byte("@other.example"), 1)
			}),
			want: "get user"},
		{name: "no read:users", scenario: loadtest.MgmtSearch,
			change: func(c *loadtest.Config) { c.Scopes = []string{"read:clients"} },
			want:   "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := machineConfig(g, tc.scenario)
			cfg.Concurrency, cfg.Count, cfg.Users = 1, 3, 2
			tc.change(&cfg)
			rep, err := loadtest.Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("first error: %s", rep.FirstError)
			if rep.OK != 0 || rep.Errors+rep.SetupErrors == 0 {
				t.Errorf("ok %d, errors %d, setup errors %d; want no success", rep.OK, rep.Errors, rep.SetupErrors)
			}
			if !strings.Contains(rep.FirstError, tc.want) {
				t.Errorf("first error %q, want it to mention %q", rep.FirstError, tc.want)
			}
		})
	}
}

func TestMachineConfigErrors(t *testing.T) {
	g := startGatehouse(t, 1, nil)
	cfg := machineConfig(g, loadtest.MgmtSearch)
	cfg.User = "user1@example.com"
	if _, err := loadtest.Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "{n}") {
		t.Errorf("Run with a user without {n}: %v, want an error about it", err)
	}
	cfg = machineConfig(g, loadtest.Mgmt)
	cfg.Users = -1
	if _, err := loadtest.Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("Run with -1 users: %v, want an error", err)
	}
	// No redirect URI or password is needed without a browser.
	cfg = machineConfig(g, loadtest.ClientCredentials)
	cfg.User, cfg.Count = "", 1
	if rep, err := loadtest.Run(t.Context(), cfg); err != nil || rep.OK != 1 {
		t.Errorf("client_credentials without a user: %v, %+v", err, rep)
	}
}

// rewriteResponse makes the driver see the bodies of successful responses
// to paths starting with prefix changed by f.
func rewriteResponse(prefix string, f func([]byte) []byte) func(*loadtest.Config) {
	return func(c *loadtest.Config) {
		c.Transport = rewriteTransport{base: loadtest.NewTransport(c.Concurrency), prefix: prefix, f: f}
	}
}

type rewriteTransport struct {
	base   http.RoundTripper
	prefix string
	f      func([]byte) []byte
}

func (t rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, t.prefix) || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	body = t.f(body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}
