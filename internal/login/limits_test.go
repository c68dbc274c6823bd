package login

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"gatehouse/internal/email"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestFormBodyLimits posts a body one byte over maxFormBytes to every
// hosted form and to /dbconnections: each is refused with 413 in the
// endpoint's shape (an error page, the hosted service's JSON error). A
// body at the limit is read (and then refused or accepted for what it
// says, never for its size).
func TestFormBodyLimits(t *testing.T) {
	e, b, reqID := fuzzPages(t)
	csrf := form(t, b.get(loginPath+"?req="+url.QueryEscape(reqID))).Get("csrf")
	pad := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	formBody := "csrf=" + url.QueryEscape(csrf) + "&req=" + url.QueryEscape(reqID) + "&pad="

	for _, path := range formPaths {
		for _, tt := range []struct {
			size int
			want bool // 413
		}{{maxFormBytes + 1, true}, {maxFormBytes, false}} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(pad(formBody, tt.size)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := b.serve(req)
			if got := w.Code == http.StatusRequestEntityTooLarge; got != tt.want {
				t.Errorf("POST %s with %d bytes: status %d, want 413 %v", path, tt.size, w.Code, tt.want)
			}
			if tt.want && (!strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), "larger than 64 KiB")) {
				t.Errorf("POST %s: the 413 is not the error page: %q %.300s", path, w.Header().Get("Content-Type"), w.Body)
			}
		}
	}

	jsonBody := func(n int) string {
		prefix := `{"client_id":"` + e.client.ID + `","connection":"Username-Password-Authentication","email":"x@example.com","name":"`
		return pad(prefix, n-2) + `"}`
	}
	for _, path := range []string{dbSignupPath, dbChangePasswordPath} {
		for _, tt := range []struct {
			name, ct, body string
			want           bool
		}{
			{"JSON over", "application/json", jsonBody(maxFormBytes + 1), true},
			{"JSON at the limit", "application/json", jsonBody(maxFormBytes), false},
			{"form over", "application/x-www-form-urlencoded", pad("client_id="+e.client.ID+"&name=", maxFormBytes+1), true},
			{"form at the limit", "application/x-www-form-urlencoded", pad("client_id="+e.client.ID+"&name=", maxFormBytes), false},
		} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ct)
			w := b.serve(req)
			if got := w.Code == http.StatusRequestEntityTooLarge; got != tt.want {
				t.Errorf("%s %s: status %d, want 413 %v; %.200s", path, tt.name, w.Code, tt.want, w.Body)
			}
			if !tt.want {
				continue
			}
			var got dbError
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Code != "payload_too_large" || got.StatusCode != 413 {
				t.Errorf("%s %s: body %.300s, want the payload_too_large error", path, tt.name, w.Body)
			}
		}
	}
}

// blockingSender holds every send until release is closed.
type blockingSender struct {
	release chan struct{}
	sent    atomic.Int32
}

func (s *blockingSender) Send(ctx context.Context, m email.Message) error {
	<-s.release
	s.sent.Add(1)
	return nil
}

// TestMailBacklog bounds the background sends: with maxBackgroundSends
// held by a slow mail server, one more is dropped at once (no goroutine
// waits for a slot), the pages say that email cannot be sent, and they
// send again as soon as the backlog drains: a full backlog is not a
// failure that keeps mail off for mailHealthWindow. (A flood of reset
// requests once turned mail off for every visitor for five minutes.)
func TestMailBacklog(t *testing.T) {
	s := &blockingSender{release: make(chan struct{})}
	m := newMailer(s, slog.New(slog.DiscardHandler), time.Now)
	build := func(context.Context) (email.Message, error) { return email.Message{Kind: "test"}, nil }
	before := runtime.NumGoroutine()
	for range maxBackgroundSends {
		m.sendLater("test", build)
	}
	if m.healthy() {
		t.Error("healthy with a full backlog")
	}
	m.sendLater("test", build) // dropped
	if n := runtime.NumGoroutine() - before; n > maxBackgroundSends {
		t.Errorf("%d goroutines for %d sends allowed in flight", n, maxBackgroundSends)
	}
	close(s.release)
	deadline := time.Now().Add(5 * time.Second)
	for !m.healthy() {
		if time.Now().After(deadline) {
			t.Fatal("still unhealthy after the backlog drained")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for len(m.slots) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.sent.Load(); n != maxBackgroundSends {
		t.Errorf("%d sent, want %d (the one over the bound dropped)", n, maxBackgroundSends)
	}
}
