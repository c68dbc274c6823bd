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

// runConfig is a short count-bounded run of scenario against g.
func runConfig(g *gatehouse, scenario loadtest.Scenario) loadtest.Config {
	return loadtest.Config{
		Issuer:       g.issuer,
		ClientID:     g.clientID,
		ClientSecret: g.secret,
		RedirectURI:  testRedirectURI,
		User:         "user{n}@example.com",
		Password:     testPassword,
		Scenario:     scenario,
		Concurrency:  4,
		Count:        20,
		PKCE:         true,
	}
}

func TestScenarios(t *testing.T) {
	g := startGatehouse(t, 4, nil)
	// The steps each scenario times, and how many of each a clean run of
	// 20 flows has (-1: some, at most 20; the consent page shows once
	// per user, in whichever scenario runs first).
	tests := []struct {
		scenario loadtest.Scenario
		pkce     bool
		steps    map[string]int
	}{
		{loadtest.Login, true, map[string]int{"authorize": 20, "login": 20, "consent": -1, "token": 20, "flow": 20}},
		{loadtest.SSO, false, map[string]int{"authorize": 20, "token": 20, "flow": 20}},
		{loadtest.Exchange, true, map[string]int{"token": 20, "flow": 20}},
		{loadtest.Refresh, true, map[string]int{"refresh": 20, "flow": 20}},
		{loadtest.UserInfo, true, map[string]int{"userinfo": 20, "flow": 20}},
	}
	for _, tc := range tests {
		t.Run(string(tc.scenario), func(t *testing.T) {
			cfg := runConfig(g, tc.scenario)
			cfg.PKCE = tc.pkce
			cfg.ServerPID = os.Getpid() // the server runs in this process
			rep, err := loadtest.Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Errors != 0 || rep.SetupErrors != 0 || rep.FirstError != "" {
				t.Fatalf("%d errors, %d setup errors; first: %s", rep.Errors, rep.SetupErrors, rep.FirstError)
			}
			if rep.OK != 20 || rep.Flows != 20 {
				t.Errorf("ok %d, flows %d; want 20 and 20", rep.OK, rep.Flows)
			}
			if rep.Seconds <= 0 || rep.FlowsPerSecond <= 0 {
				t.Errorf("seconds %v, flows/s %v; want both positive", rep.Seconds, rep.FlowsPerSecond)
			}
			got := map[string]int{}
			for _, s := range rep.Steps {
				got[s.Name] = int(s.Count)
				if s.P50 > s.P95 || s.P95 > s.P99 || s.P99 > s.Max || s.Mean <= 0 {
					t.Errorf("step %s: mean %.3f, p50 %.3f, p95 %.3f, p99 %.3f, max %.3f: not ordered", s.Name, s.Mean, s.P50, s.P95, s.P99, s.Max)
				}
			}
			for name, want := range tc.steps {
				if n := got[name]; want >= 0 && n != want || want < 0 && n > 20 {
					t.Errorf("step %s: count %d, want %d", name, n, want)
				}
				delete(got, name)
			}
			for name, n := range got {
				if n > 0 {
					t.Errorf("unexpected step %s (%d times)", name, n)
				}
			}
			if rep.Server == nil || rep.Server.RSSKiB <= 0 || rep.Server.CPUSeconds < 0 {
				t.Errorf("server stats %+v: want the RSS and CPU of this process", rep.Server)
			}
			var text bytes.Buffer
			if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "flows/s") {
				t.Errorf("WriteText: %v\n%s", err, text.String())
			}
			t.Logf("report:\n%s", text.String())
			if _, err := json.Marshal(rep); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestDurationBound(t *testing.T) {
	g := startGatehouse(t, 2, nil)
	cfg := runConfig(g, loadtest.UserInfo)
	cfg.Count, cfg.Duration, cfg.Concurrency = 0, 300*time.Millisecond, 2
	start := time.Now()
	rep, err := loadtest.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.OK == 0 || rep.Flows != rep.OK+rep.Errors {
		t.Fatalf("ok %d, errors %d, flows %d (first error %q)", rep.OK, rep.Errors, rep.Flows, rep.FirstError)
	}
	if rep.Seconds < 0.3 || time.Since(start) > 30*time.Second {
		t.Errorf("measured %.2fs for a 300ms run", rep.Seconds)
	}
}

// TestBrokenAnswers checks that a wrong answer is an error, however fast.
func TestBrokenAnswers(t *testing.T) {
	g := startGatehouse(t, 1, nil)
	tests := []struct {
		name     string
		scenario loadtest.Scenario
		change   func(*loadtest.Config)
		want     string // in the first error
	}{
		{name: "wrong password", scenario: loadtest.Login,
			change: func(c *loadtest.Config) { c.Password = "not the password" },
			want:   "Wrong email or password"},
		{name: "unknown client", scenario: loadtest.SSO,
			change: func(c *loadtest.Config) { c.ClientID = "no-such-client" },
			want:   "Unknown client"},
		{name: "wrong client secret", scenario: loadtest.SSO,
			change: func(c *loadtest.Config) { c.ClientSecret = strings.Repeat("x", 43) },
			want:   "invalid_client"},
		{name: "aud of another client", scenario: loadtest.SSO,
			change: g.tamperIDToken(func(c map[string]any) { c["aud"] = "another-client" }),
			want:   "audience"},
		{name: "expired", scenario: loadtest.SSO,
			change: g.tamperIDToken(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
			want:   "expired"},
		{name: "other nonce", scenario: loadtest.SSO,
			change: g.tamperIDToken(func(c map[string]any) { c["nonce"] = "replayed" }),
			want:   "nonce"},
		{name: "other issuer", scenario: loadtest.SSO,
			change: g.tamperIDToken(func(c map[string]any) { c["iss"] = "https://evil.example" }),
			want:   "issued by a different provider"},
		{name: "other at_hash", scenario: loadtest.SSO,
			change: g.tamperIDToken(func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }),
			want:   "at_hash"},
		{name: "bad signature", scenario: loadtest.SSO,
			change: g.tamperTokenResponse(func(r map[string]any) {
				raw := r["id_token"].(string)
				r["id_token"] = raw[:len(raw)-4] + "AAAA"
			}),
			want: "signature"},
		{name: "no id token", scenario: loadtest.SSO,
			change: g.tamperTokenResponse(func(r map[string]any) { delete(r, "id_token") }),
			want:   "no id_token"},
		{name: "other userinfo sub", scenario: loadtest.UserInfo,
			change: tamperResponse("/userinfo", func(r map[string]any) { r["sub"] = "gatehouse|someone-else" }),
			want:   "userinfo: sub"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runConfig(g, tc.scenario)
			cfg.Concurrency, cfg.Count = 1, 3
			tc.change(&cfg)
			rep, err := loadtest.Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != 0 || rep.Errors != 3 || rep.Flows != 3 {
				t.Errorf("ok %d, errors %d, flows %d; want 0, 3, 3", rep.OK, rep.Errors, rep.Flows)
			}
			t.Logf("first error: %s", rep.FirstError)
			if !strings.Contains(rep.FirstError, tc.want) {
				t.Errorf("first error %q, want it to mention %q", rep.FirstError, tc.want)
			}
		})
	}
}

// tamperTokenResponse makes the driver see token responses changed by f.
func (g *gatehouse) tamperTokenResponse(f func(map[string]any)) func(*loadtest.Config) {
	return tamperResponse("/oauth/token", f)
}

// tamperIDToken makes the driver see ID tokens whose claims f changed,
// signed by the server's own key: only the claims are wrong.
func (g *gatehouse) tamperIDToken(f func(map[string]any)) func(*loadtest.Config) {
	return g.tamperTokenResponse(func(resp map[string]any) {
		raw, _ := resp["id_token"].(string)
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
		signed, err := g.keys.Sign(context.Background(), claims, "JWT")
		if err != nil {
			panic(err)
		}
		resp["id_token"] = signed
	})
}

// tamperResponse rewrites the JSON object of successful responses to path.
func tamperResponse(path string, f func(map[string]any)) func(*loadtest.Config) {
	return func(c *loadtest.Config) {
		c.Transport = tamperTransport{base: loadtest.NewTransport(c.Concurrency), path: path, f: f}
	}
}

type tamperTransport struct {
	base http.RoundTripper
	path string
	f    func(map[string]any)
}

func (t tamperTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || req.URL.Path != t.path || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	t.f(m)
	if body, err = json.Marshal(m); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestConfigErrors(t *testing.T) {
	valid := loadtest.Config{Issuer: "http://127.0.0.1:1", ClientID: "c", ClientSecret: "s",
		RedirectURI: testRedirectURI, User: "u", Password: "p", Scenario: loadtest.Login, Concurrency: 1, Count: 1}
	tests := []struct {
		name   string
		change func(*loadtest.Config)
		want   string
	}{
		{"no issuer", func(c *loadtest.Config) { c.Issuer = "" }, "issuer"},
		{"no secret", func(c *loadtest.Config) { c.ClientSecret = "" }, "secret"},
		{"relative redirect", func(c *loadtest.Config) { c.RedirectURI = "/cb" }, "redirect URI"},
		{"unknown scenario", func(c *loadtest.Config) { c.Scenario = "storm" }, "unknown scenario"},
		{"no password", func(c *loadtest.Config) { c.Password = "" }, "password"},
		{"no workers", func(c *loadtest.Config) { c.Concurrency = 0 }, "concurrency"},
		{"negative count", func(c *loadtest.Config) { c.Count = -1 }, "negative"},
		{"no provider", func(*loadtest.Config) {}, "discovery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.change(&cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := loadtest.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
