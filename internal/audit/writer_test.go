package audit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

// newStore opens a real SQLite store for the test.
func newStore(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// flakyStore is a real store whose AppendLogs fails while down is set, and
// waits for release while hold is set: a database that is down or slow.
type flakyStore struct {
	store.Store
	down    atomic.Bool
	hold    chan struct{} // when not nil, AppendLogs waits for it to close
	appends atomic.Int32
}

var errDown = errors.New("database down")

func (f *flakyStore) AppendLogs(ctx context.Context, events []store.LogEvent) error {
	f.appends.Add(1)
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.down.Load() {
		return errDown
	}
	return f.Store.AppendLogs(ctx, events)
}

func newWriter(t *testing.T, cfg WriterConfig) *Writer {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = quietLog()
	}
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

func TestWriterStoresInOrder(t *testing.T) {
	st := newStore(t)
	w := newWriter(t, WriterConfig{Store: st, Batch: 7})
	for i := range 50 {
		w.Record(Event{Type: TypeSuccessLogin, UserID: "gatehouse|u" + string(rune('a'+i%26)), Description: "login"})
	}
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := st.ReadLogs(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Fatalf("stored %d events, want 50", len(got))
	}
	for i, e := range got {
		if !ValidID(e.ID) || e.Type != TypeSuccessLogin || e.Date.IsZero() {
			t.Fatalf("event %d: %+v", i, e)
		}
		// Recorded one after the other: the time prefixes never go back.
		if i > 0 && e.ID[:16] < got[i-1].ID[:16] {
			t.Fatalf("event %d: ids out of order: %s after %s", i, e.ID, got[i-1].ID)
		}
	}
	if w.Dropped() != 0 {
		t.Fatalf("dropped %d", w.Dropped())
	}
}

// TestWriterNeverBlocks records while the store hangs: Record returns at
// once, the buffer's worth is kept, the rest is dropped and counted, and
// everything kept is stored once the store answers.
func TestWriterNeverBlocks(t *testing.T) {
	fs := &flakyStore{Store: newStore(t), hold: make(chan struct{})}
	w := newWriter(t, WriterConfig{Store: fs, Buffer: 10, Batch: 5, Interval: time.Millisecond, Timeout: 10 * time.Second})
	// Let the writer take the first batch and hang in AppendLogs.
	for range 5 {
		w.Record(Event{Type: TypeFailedLoginPassword})
	}
	deadline := time.Now().Add(5 * time.Second)
	for fs.appends.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	for range 100 {
		w.Record(Event{Type: TypeFailedLoginUsername})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 records took %v while the store hung", d)
	}
	// The writer holds the hanging batch (1 to 5 of the first events: as
	// many as had arrived when it woke), the rest of them wait in the
	// buffer of 10, which takes 5 to 9 more; the writer may have taken up
	// to one batch from the buffer before it hung.
	if d := w.Dropped(); d < 86 || d > 95 {
		t.Fatalf("dropped %d, want 86 to 95", d)
	}
	close(fs.hold)
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	n, err := fs.CountLogs(t.Context(), store.LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 105 - int(w.Dropped()); n != want {
		t.Fatalf("stored %d, want %d (recorded minus dropped)", n, want)
	}
}

// TestWriterRetries keeps the events of failed writes and stores them
// once the store is back, without duplicates.
func TestWriterRetries(t *testing.T) {
	fs := &flakyStore{Store: newStore(t)}
	fs.down.Store(true)
	w := newWriter(t, WriterConfig{Store: fs, Interval: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	for range 30 {
		w.Record(Event{Type: TypeSuccessAPIOperation})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	err := w.Flush(ctx)
	cancel()
	if err == nil {
		t.Fatal("flush succeeded while the store was down")
	}
	deadline := time.Now().Add(5 * time.Second)
	for fs.appends.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	fs.down.Store(false)
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	n, err := fs.CountLogs(t.Context(), store.LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 30 || w.Dropped() != 0 {
		t.Fatalf("stored %d, dropped %d; want 30 and 0", n, w.Dropped())
	}
}

// TestWriterCloseDrains stores on Close what was recorded before it, and
// drops (and counts) what comes after.
func TestWriterCloseDrains(t *testing.T) {
	st := newStore(t)
	w, err := NewWriter(WriterConfig{Store: st, Log: quietLog(), Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 25 {
				w.Record(Event{Type: TypeSuccessSignup, ClientID: string(rune('a' + g))})
			}
		})
	}
	wg.Wait()
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	n, err := st.CountLogs(t.Context(), store.LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Fatalf("stored %d at close, want 100", n)
	}
	w.Record(Event{Type: TypeSuccessLogin})
	if w.Dropped() != 1 {
		t.Fatalf("a record after close: dropped %d, want 1", w.Dropped())
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := w.Flush(t.Context()); err == nil {
		t.Fatal("flush after close succeeded")
	}
}

// TestWriterCloseGivesUp reports the events it could not store when the
// store stays down past Close's deadline.
func TestWriterCloseGivesUp(t *testing.T) {
	fs := &flakyStore{Store: newStore(t)}
	fs.down.Store(true)
	w, err := NewWriter(WriterConfig{Store: fs, Log: quietLog(), Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		w.Record(Event{Type: TypeSuccessLogin})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 events") {
		t.Fatalf("close = %v, want 3 events lost", err)
	}
	if w.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", w.Dropped())
	}
}

func TestNilWriter(t *testing.T) {
	var w *Writer
	w.Record(Event{Type: TypeSuccessLogin}) // no panic: recording is optional
}

// TestSanitize checks the writer's last line of defence: secret details
// redacted, long fields cut, control characters replaced.
func TestSanitize(t *testing.T) {
	st := newStore(t)
	w := newWriter(t, WriterConfig{Store: st})
	w.Record(Event{
		Type:        TypeSuccessAPIOperation,
		Description: "line one\nline two",
		UserAgent:   strings.Repeat("é", 600),
		UserName:    "ada@example.com",
		Details: map[string]any{
			"request": map[string]any{
				"body": map[string]any{"password": "hunter2", "client_secret": "s3cr3t", "name": "ok",
					"nested": []any{map[string]any{"refresh_token": "rt", "code": "c", "keep": "k"}}},
				"headers": map[string]any{"Authorization": "Bearer abc"},
			},
			"ticket": "t",
			"status": 201,
		},
	})
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := st.ReadLogs(t.Context(), 0, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("read: %v %d", err, len(got))
	}
	e := got[0]
	b, _ := json.Marshal(e.Details)
	for _, secret := range []string{"hunter2", "s3cr3t", `"rt"`, `"c"`, "Bearer abc", `"t"`} {
		if strings.Contains(string(b), secret) {
			t.Errorf("details hold %s: %s", secret, b)
		}
	}
	for _, kept := range []string{`"name":"ok"`, `"keep":"k"`, `"status":201`} {
		if !strings.Contains(string(b), kept) {
			t.Errorf("details lost %s: %s", kept, b)
		}
	}
	if strings.Contains(e.Description, "\n") {
		t.Errorf("description keeps a newline: %q", e.Description)
	}
	if len(e.UserAgent) > maxText || !strings.HasPrefix(e.UserAgent, "é") || strings.ContainsRune(e.UserAgent, '\uFFFD') {
		t.Errorf("user agent: %d bytes, cut inside a rune or wrong: %q…", len(e.UserAgent), e.UserAgent[:10])
	}
	if e.UserName != "ada@example.com" {
		t.Errorf("user name %q", e.UserName)
	}

	w.Record(Event{Type: TypeSuccessAPIOperation, Details: map[string]any{"big": strings.Repeat("x", 400), "list": slices.Repeat([]any{strings.Repeat("y", 500)}, 20)}})
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err = st.ReadLogs(t.Context(), e.Seq, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("read: %v %d", err, len(got))
	}
	if got[0].Details["truncated"] != true {
		t.Errorf("oversized details kept: %d keys", len(got[0].Details))
	}
}

func TestEventJSON(t *testing.T) {
	e := Event{LogID: "x", Date: time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("x", 3600)), Type: "s", UserID: "u"}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"log_id":"x","type":"s","user_id":"u","date":"2026-01-02T02:04:05.678Z"}`
	if string(b) != want {
		t.Fatalf("json %s, want %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || !back.Date.Equal(e.Date.Truncate(time.Millisecond)) {
		t.Fatalf("round trip: %v %v", err, back.Date)
	}
}

func TestNewID(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, b := NewID(at), NewID(at)
	if a == b || !ValidID(a) || !ValidID(b) {
		t.Fatalf("ids %s %s", a, b)
	}
	if later := NewID(at.Add(time.Microsecond)); later[:16] <= a[:16] {
		t.Fatalf("a later id %s does not sort after %s", later, a)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("0", 31), strings.Repeat("0", 16) + strings.Repeat("G", 16), "' OR 1=1 --"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q)", bad)
		}
	}
}
