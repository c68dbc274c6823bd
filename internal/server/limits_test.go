package server

import (
	"bufio"
	"context"
	"errors"
	"gatehouse/internal/authflow"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
)

// TestConnLimits checks the documented connection limits and that they
// hold: a client that never finishes its headers or body, or idles on a
// kept-alive connection, is disconnected, and oversized headers get Go's
// own 431 before any handler runs.
func TestConnLimits(t *testing.T) {
	s, _ := newTestServer(t, nil)
	srv := s.httpServer()
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, 10 * time.Second},
		{"ReadTimeout", srv.ReadTimeout, 30 * time.Second},
		{"WriteTimeout", srv.WriteTimeout, 30 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, 120 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v (as the README says)", c.name, c.got, c.want)
		}
	}
	if srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want 64 KiB", srv.MaxHeaderBytes)
	}
	if srv.Handler == nil || srv.ErrorLog == nil {
		t.Error("the server has no handler or error log")
	}

	// The same limits, short enough to watch.
	s.limits = connLimits{readHeader: 200 * time.Millisecond, read: 500 * time.Millisecond, write: 2 * time.Second, idle: 300 * time.Millisecond, maxHeaderBytes: 1024}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	tests := []struct {
		name string
		send string
		// wantStatus is the status of the one response before the server
		// closes the connection; 0 wants none.
		wantStatus int
		// keepAlive sends a complete request first and reads its 200.
		keepAlive bool
	}{
		{name: "headers never finish", send: "GET /healthz HTTP/1.1\r\nHost: x\r\n"},
		{name: "body never finishes", send: "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=", wantStatus: http.StatusBadRequest},
		{name: "idle kept-alive connection", keepAlive: true},
		// Go adds 4 KiB of slack to MaxHeaderBytes, and answers itself.
		{name: "headers over the limit", send: "GET /userinfo HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 1024+4096) + "\r\n\r\n", wantStatus: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			if tt.keepAlive {
				if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("first request: %v %v", resp, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
			}
			if _, err := io.WriteString(conn, tt.send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if tt.wantStatus != 0 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("read response: %v", err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
				}
			}
			// Then the server hangs up, well before the test's deadline.
			_, err = br.ReadByte()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %v", time.Since(start))
			}
			if err == nil {
				t.Fatalf("unexpected data after the answer")
			}
		})
	}
}

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
	authorize := func(t *testing.T, ts *httptest.Server, app testApp, xff string) *http.Response {
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
		case st.allowed && (resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), authflow.LoginPath)):
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
