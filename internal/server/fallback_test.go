package server

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// newTestServer is a Server over a fresh SQLite store with one registered
// third-party client; tweak may change the configuration first.
// testApp is the registered client of newTestServer.
type testApp struct {
	ID        string
	Callbacks []string
}

func newTestServer(t *testing.T, tweak func(*config.Config), opts ...Option) (*Server, testApp) {
	t.Helper()
	ctx := t.Context()
	cfg := config.Default()
	cfg.SigningAlgorithm = "ES256" // quick to generate
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	sealer, err := token.NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeys(st, sealer, token.KeyOptions{Algorithm: cfg.SigningAlgorithm})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Init(ctx); err != nil {
		t.Fatal(err)
	}
	params := testApp{ID: "test-app-0123456789", Callbacks: []string{"http://127.0.0.1:5555/cb"}}
	c := store.Client{ID: params.ID, SecretHash: "unused", Name: "Test app", Type: "regular_web", Callbacks: params.Callbacks,
		GrantTypes: []string{"authorization_code", "refresh_token"}, CreatedAt: time.Now().UTC()}
	if err := st.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.SetConnectionEnabled(ctx, store.DefaultDatabaseConnection, c.ID, true); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg, st, keys, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, params
}

// TestFallbackShapes checks through the whole handler that unknown paths
// and wrong methods at protocol endpoints answer in the endpoint's shape.
func TestFallbackShapes(t *testing.T) {
	s, _ := newTestServer(t, nil)
	tests := []struct {
		method, path string
		status       int
		shape        string // "json", "bearer" or "page"
		allow        string
	}{
		{"GET", "/oauth/unknown", 404, "json", ""},
		{"DELETE", "/oauth/token", 405, "json", "POST"},
		{"GET", "/oauth/revoke", 405, "json", "POST"},
		{"PUT", "/oauth/introspect", 405, "json", "POST"},
		{"PUT", "/userinfo", 405, "bearer", "GET, HEAD, POST"},
		{"POST", "/.well-known/openid-configuration", 405, "json", "GET, HEAD"},
		{"DELETE", "/.well-known/jwks.json", 405, "json", "GET, HEAD"},
		{"GET", "/.well-known/nothing-here", 404, "json", ""},
		{"PATCH", "/authorize", 405, "page", "GET, HEAD, POST"},
		{"GET", "/authorize/nothing-here", 404, "page", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.status {
				t.Errorf("status %d, want %d; body %.300s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			ct := w.Header().Get("Content-Type")
			switch tt.shape {
			case "json", "bearer":
				var body struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("body %q (%s) is not JSON: %v", w.Body, ct, err)
				}
				if body.Error != "invalid_request" || body.Description == "" {
					t.Errorf("error %q (%q), want invalid_request with a description", body.Error, body.Description)
				}
				if w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", w.Header().Get("Cache-Control"))
				}
			case "page":
				if !strings.HasPrefix(ct, "text/html") || !strings.Contains(w.Body.String(), "invalid_request") {
					t.Errorf("Content-Type %q, body %.300s; want the error page", ct, w.Body)
				}
			}
			wa := w.Header().Get("WWW-Authenticate")
			if tt.shape == "bearer" && (!strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_request"`)) {
				t.Errorf("WWW-Authenticate %q, want Bearer error=\"invalid_request\"", wa)
			}
			if w.Header().Get("X-Frame-Options") != "DENY" {
				t.Error("the security headers are missing")
			}
		})
	}
}
