package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/config"
	"gatehouse/internal/store"
)

// TestAuditWiring runs a server with a webhook: a token request's event
// reaches the log and the webhook, the events past retention go, and the
// writer is drained at shutdown.
func TestAuditWiring(t *testing.T) {
	var mu sync.Mutex // guards got
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var items []struct {
			LogID string      `json:"log_id"`
			Data  audit.Event `json:"data"`
		}
		if r.Header.Get("Authorization") != "Bearer hook" || json.NewDecoder(r.Body).Decode(&items) != nil {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, it := range items {
			got = append(got, it.Data.Type)
		}
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	s, app := newTestServer(t, func(c *config.Config) {
		c.Logs.Retention = config.Duration(time.Hour)
		c.Logs.WebhookURL = hook.URL + "/in"
		c.Logs.WebhookAuthorization = "Bearer hook"
	})
	ctx := t.Context()
	now := time.Now().UTC()
	old := store.LogEvent{ID: audit.NewID(now.Add(-2 * time.Hour)), Date: now.Add(-2 * time.Hour), Type: audit.TypeSuccessLogin}
	recent := store.LogEvent{ID: audit.NewID(now.Add(-30 * time.Minute)), Date: now.Add(-30 * time.Minute), Type: audit.TypeSuccessSignup}
	if err := s.store.AppendLogs(ctx, []store.LogEvent{old, recent}); err != nil {
		t.Fatal(err)
	}
	s.deleteOldLogs(ctx)
	if _, err := s.store.GetLog(ctx, old.ID); err == nil {
		t.Error("an event past retention was kept")
	}
	if _, err := s.store.GetLog(ctx, recent.ID); err != nil {
		t.Errorf("a recent event went: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx, ln) }()
	resp, err := http.PostForm("http://"+ln.Addr().String()+"/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {"nope"}, "client_id": {app.ID}, "client_secret": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		types := strings.Join(got, ",")
		mu.Unlock()
		if types == "ss,feacft" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook received %q, want ss,feacft", types)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n, err := s.store.CountLogs(ctx, store.LogFilter{Types: []string{audit.TypeFailedCodeExchange}, ClientID: app.ID})
	if err != nil || n != 1 {
		t.Fatalf("feacft events stored: %d %v", n, err)
	}
	// Serve closed the writer: later events are dropped, not stored.
	s.audit.Record(audit.Event{Type: audit.TypeSuccessLogin})
	if s.audit.Dropped() != 1 {
		t.Errorf("a record after shutdown: dropped %d", s.audit.Dropped())
	}
}
