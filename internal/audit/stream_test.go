package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// webhook is a log-stream receiver on loopback that can refuse requests,
// lose its answers and go down.
type webhook struct {
	t    *testing.T
	addr string

	mu       sync.Mutex // guards everything below
	srv      *httptest.Server
	received []string // log IDs in arrival order, duplicates included
	requests int
	failNext int  // answer 503 to this many more requests
	loseNext int  // take this many more batches, then drop the connection unanswered
	inFlight int  // requests being handled now
	overlap  bool // two requests were handled at once
	badAuth  bool
	got      chan struct{} // signalled after each accepted batch
}

func newWebhook(t *testing.T) *webhook {
	h := &webhook{t: t, got: make(chan struct{}, 1000)}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	h.addr = h.srv.Listener.Addr().String()
	t.Cleanup(func() { h.down() })
	return h
}

func (h *webhook) url() string { return "http://" + h.addr + "/logs" }

func (h *webhook) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests++
	h.inFlight++
	if h.inFlight > 1 {
		h.overlap = true
	}
	if r.Header.Get("Authorization") != "Bearer hook-secret" || r.Header.Get("Content-Type") != "application/json" {
		h.badAuth = true
	}
	fail := h.failNext > 0
	if fail {
		h.failNext--
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	if fail {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	var items []struct {
		LogID string `json:"log_id"`
		Data  Event  `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&items); err != nil {
		h.t.Errorf("webhook: decode: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	for _, it := range items {
		if it.LogID != it.Data.LogID || it.Data.Type == "" || it.Data.Date.IsZero() {
			h.t.Errorf("webhook: malformed item %+v", it)
		}
		h.received = append(h.received, it.LogID)
	}
	lose := h.loseNext > 0
	if lose {
		h.loseNext--
	}
	h.mu.Unlock()
	h.got <- struct{}{}
	if lose {
		// The batch arrived, the answer never does: the stream must send
		// it again.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// down stops the server: connections are refused until up.
func (h *webhook) down() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// up serves again on the same address.
func (h *webhook) up() {
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		h.t.Fatalf("webhook: listen again on %s: %v", h.addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
}

func (h *webhook) snapshot() (received []string, requests int, overlap, badAuth bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.received...), h.requests, h.overlap, h.badAuth
}

// waitReceived waits until the webhook has every ID in want.
func (h *webhook) waitReceived(want []string) {
	h.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		got, _, _, _ := h.snapshot()
		if missing := missingIDs(got, want); len(missing) == 0 {
			return
		}
		select {
		case <-h.got:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			got, _, _, _ := h.snapshot()
			h.t.Fatalf("webhook: %d of %d events missing after 20s", len(missingIDs(got, want)), len(want))
		}
	}
}

func missingIDs(got, want []string) []string {
	have := make(map[string]bool, len(got))
	for _, id := range got {
		have[id] = true
	}
	var missing []string
	for _, id := range want {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

// checkOrder checks that every wanted event arrived, and that the first
// arrivals are in the order they were committed: duplicates (a batch sent
// again) are allowed, skips and reorderings are not.
func checkOrder(t *testing.T, got, want []string) {
	t.Helper()
	if missing := missingIDs(got, want); len(missing) > 0 {
		t.Fatalf("%d events never arrived, first %s", len(missing), missing[0])
	}
	seen := map[string]bool{}
	var first []string
	for _, id := range got {
		if !seen[id] {
			seen[id] = true
			first = append(first, id)
		}
	}
	if strings.Join(first, ",") != strings.Join(want, ",") {
		t.Fatalf("events arrived out of order:\n got %v\nwant %v", first, want)
	}
}

// record writes n events through a writer and returns their IDs in commit
// order.
func record(t *testing.T, st store.Store, n int, tag string) []string {
	t.Helper()
	w := newWriter(t, WriterConfig{Store: st, Batch: 13})
	before, err := st.ReadLogs(t.Context(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	after := int64(0)
	if len(before) > 0 {
		after = before[len(before)-1].Seq
	}
	for i := range n {
		w.Record(Event{Type: TypeSuccessLogin, Description: fmt.Sprintf("%s %d", tag, i), UserID: "gatehouse|u"})
	}
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, err := st.ReadLogs(t.Context(), after, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("recorded %d, stored %d", n, len(events))
	}
	ids := make([]string, n)
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func startStream(t *testing.T, st store.Store, url, owner string) (stop func()) {
	t.Helper()
	s, err := NewStream(StreamConfig{Store: st, URL: url, Authorization: "Bearer hook-secret", Log: quietLog(),
		Owner: owner, Batch: 40, Poll: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Client: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("stream %s: %v", owner, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestStreamAtLeastOnce drives a stream through a webhook that refuses the
// first attempts, loses an answer, goes down mid-stream, and a restart of
// the process that streams: every event arrives at least once, in order.
func TestStreamAtLeastOnce(t *testing.T) {
	st := newStore(t)
	hook := newWebhook(t)
	hook.failNext = 3

	want := record(t, st, 100, "first")
	stop := startStream(t, st, hook.url(), "replica-1")
	hook.waitReceived(want[:40])

	// The next batch arrives but its answer is lost; then the webhook
	// goes down while more events are recorded.
	hook.mu.Lock()
	hook.loseNext = 1
	hook.mu.Unlock()
	hook.waitReceived(want[:80])
	hook.down()
	want = append(want, record(t, st, 60, "while down")...)
	time.Sleep(100 * time.Millisecond) // the stream retries against a closed port
	hook.up()
	hook.waitReceived(want[:120])

	// The process restarts: a new owner continues from the stored cursor.
	stop()
	want = append(want, record(t, st, 30, "after restart")...)
	startStream(t, st, hook.url(), "replica-1-restarted")
	hook.waitReceived(want)

	got, requests, overlap, badAuth := hook.snapshot()
	checkOrder(t, got, want)
	if badAuth {
		t.Error("a request came without the Authorization or Content-Type header")
	}
	if overlap {
		t.Error("two requests were in flight at once")
	}
	if len(got) == len(want) {
		t.Error("no batch was sent twice, although an answer was lost")
	}
	t.Logf("%d events, %d received with duplicates, %d requests", len(want), len(got), requests)
}

// TestStreamReplicas runs two streams on one store, as two replicas do:
// the lease lets one deliver at a time, and when it stops the other takes
// over where it left off.
func TestStreamReplicas(t *testing.T) {
	st := newStore(t)
	hook := newWebhook(t)
	want := record(t, st, 90, "both")
	stopA := startStream(t, st, hook.url(), "replica-a")
	startStream(t, st, hook.url(), "replica-b")
	hook.waitReceived(want)

	// a releases its lease if it held it, and b delivers what comes next.
	// A batch a was sending when it stopped may arrive twice.
	stopA()
	want = append(want, record(t, st, 50, "after a stopped")...)
	hook.waitReceived(want)

	got, _, overlap, _ := hook.snapshot()
	checkOrder(t, got, want)
	if overlap {
		t.Error("both replicas delivered at once")
	}
	s, err := st.ClaimLogStream(t.Context(), "webhook", "observer", time.Now(), time.Second)
	if err == nil {
		t.Fatalf("the stream's lease is free while replica-b runs: %+v", s)
	}
}

func TestNewStreamRefuses(t *testing.T) {
	st := newStore(t)
	for _, u := range []string{"", "ftp://example.com/x", "/relative", "https://user:pass@example.com/x", "https://"} {
		if _, err := NewStream(StreamConfig{Store: st, URL: u}); err == nil {
			t.Errorf("NewStream accepted %q", u)
		}
	}
	if _, err := NewStream(StreamConfig{URL: "https://example.com"}); err == nil {
		t.Error("NewStream accepted no store")
	}
}
