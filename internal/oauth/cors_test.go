package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

func TestCORS(t *testing.T) {
	e := newEnv(t)
	spa := e.newClientWith(t, oauth.NewClientParams{FirstParty: true, Type: store.ClientSPA, TokenEndpointAuthMethod: store.AuthMethodNone},
		func(c *store.Client) { c.AllowedOrigins = []string{"https://spa.example", "http://localhost:3000"} })
	const allowed, refused = "https://spa.example", "https://evil.example"

	preflight := func(t *testing.T, path, origin, method string) response {
		t.Helper()
		req := e.newRequest(t, http.MethodOptions, path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		return e.do(t, req)
	}
	for _, tt := range []struct{ path, method string }{{"/oauth/token", "POST"}, {"/oauth/revoke", "POST"}, {"/userinfo", "GET"}} {
		t.Run("preflight "+tt.path, func(t *testing.T) {
			r := preflight(t, tt.path, allowed, tt.method)
			if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != allowed ||
				!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), tt.method) ||
				!strings.Contains(strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "content-type") {
				t.Errorf("allowed origin: status %d, headers %v", r.status, r.header)
			}
			if r.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials must not be allowed")
			}
			r = preflight(t, tt.path, refused, tt.method)
			if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("refused origin got CORS headers: %v", r.header)
			}
			// A path's origin is matched whole: no prefix or suffix tricks.
			for _, o := range []string{"https://spa.example.evil.example", "https://spa.example:8443", "http://spa.example", "null"} {
				if r := preflight(t, tt.path, o, tt.method); r.header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("origin %s allowed", o)
				}
			}
		})
	}

	post := func(t *testing.T, origin string) response {
		t.Helper()
		req := e.newRequest(t, http.MethodPost, "/oauth/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {"nope"}, "client_id": {spa.ID}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		return e.do(t, req)
	}
	t.Run("actual request", func(t *testing.T) {
		r := post(t, allowed)
		if r.header.Get("Access-Control-Allow-Origin") != allowed || !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
			t.Errorf("allowed origin: headers %v", r.header)
		}
		if r := post(t, refused); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("refused origin: headers %v", r.header)
		}
	})

	t.Run("discovery and keys", func(t *testing.T) {
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
			for origin, want := range map[string]string{allowed: allowed, refused: ""} {
				req := e.newRequest(t, http.MethodGet, path, nil)
				req.Header.Set("Origin", origin)
				r := e.do(t, req)
				if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != want {
					t.Errorf("GET %s from %s: %d, Access-Control-Allow-Origin %q, want %q", path, origin, r.status, r.header.Get("Access-Control-Allow-Origin"), want)
				}
			}
		}
	})

	t.Run("non-preflight OPTIONS", func(t *testing.T) {
		r := e.do(t, e.newRequest(t, http.MethodOptions, "/oauth/token", nil))
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", r.status)
		}
	})

	t.Run("new origin seen after the cache period", func(t *testing.T) {
		const later = "https://later.example"
		if r := preflight(t, "/oauth/token", later, "POST"); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("unregistered origin allowed")
		}
		c, err := e.st.GetClient(t.Context(), spa.ID)
		if err != nil {
			t.Fatal(err)
		}
		c.AllowedOrigins = append(c.AllowedOrigins, later)
		if err := e.st.UpdateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(11 * time.Second)
		if r := preflight(t, "/oauth/token", later, "POST"); r.header.Get("Access-Control-Allow-Origin") != later {
			t.Errorf("registered origin refused: %v", r.header)
		}
	})
}
