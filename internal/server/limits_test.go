package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/oauth"
)

// TestPendingRequestsPerIP counts the authorization requests that need the
// login page by client address, as trusted proxies report it: the one over
// the limit gets 429 with Retry-After, other addresses are unaffected, an
// IPv6 /64 counts as one address, and 0 turns the limit off.
func TestPendingRequestsPerIP(t *testing.T) {
	// The store counts in minutes aligned on the clock: keep the test in one.
	if sec := time.Now().Second(); sec >= 55 {
		time.Sleep(time.Duration(61-sec) * time.Second)
	}
	s, app := newTestServer(t, func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1", "::1"}
		c.Throttle.PendingRequestsPerIP = 3
	})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// authorize starts a request for app at ts as the client xff.
	authorize := func(t *testing.T, ts *httptest.Server, app oauth.NewClientParams, xff string) *http.Response {
		t.Helper()
		q := url.Values{"client_id": {app.ID}, "redirect_uri": {app.Callbacks[0]}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/authorize?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}

	steps := []struct {
		xff     string
		allowed bool
	}{
		{"198.51.100.7", true},
		{"198.51.100.7", true},
		{"198.51.100.7", true},
		{"198.51.100.7", false},
		{"198.51.100.8", true},
		// A forged left entry does not change the client: the rightmost
		// untrusted address is 198.51.100.7.
		{"203.0.113.1, 198.51.100.7", false},
		{"2001:db8::1", true},
		{"2001:db8::2", true},
		{"2001:db8::3", true},
		{"2001:db8::4", false},    // the same /64
		{"2001:db8:0:1::1", true}, // another /64
	}
	for i, st := range steps {
		resp := authorize(t, ts, app, st.xff)
		switch {
		case st.allowed && (resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), oauth.LoginPath)):
			t.Errorf("step %d (%s): status %d, Location %q; want the login page", i+1, st.xff, resp.StatusCode, resp.Header.Get("Location"))
		case !st.allowed && resp.StatusCode != http.StatusTooManyRequests:
			t.Errorf("step %d (%s): status %d, want 429", i+1, st.xff, resp.StatusCode)
		case !st.allowed:
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
				t.Errorf("step %d (%s): Retry-After %q, want 1 to 60 seconds", i+1, st.xff, resp.Header.Get("Retry-After"))
			}
		}
	}

	t.Run("0 turns the limit off", func(t *testing.T) {
		s, app := newTestServer(t, func(c *config.Config) { c.Throttle.PendingRequestsPerIP = 0 })
		ts := httptest.NewServer(s.Handler())
		t.Cleanup(ts.Close)
		for i := range 65 { // more than oauth.Config's default of 60
			if resp := authorize(t, ts, app, ""); resp.StatusCode != http.StatusFound {
				t.Fatalf("request %d: status %d, want 302", i+1, resp.StatusCode)
			}
		}
	})
}
