package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/internal/store"
)

// WriterConfig configures a Writer. Zero fields take the defaults.
type WriterConfig struct {
	Store store.LogStore
	Log   *slog.Logger
	// Buffer is how many events may wait to be written (4096). Beyond it
	// events are dropped: see the package documentation.
	Buffer int
	// Batch is how many events one write stores at most (100).
	Batch int
	// Interval is how long an event waits for others to share its write
	// (100ms).
	Interval time.Duration
	// Timeout bounds one write (5s).
	Timeout time.Duration
	// MaxBackoff caps the wait between attempts at a failed write (10s).
	MaxBackoff time.Duration
	Now        func() time.Time
}

// Writer stores audit events in the background, in batches. Record never
// blocks; Flush and Close wait for the events recorded before them.
type Writer struct {
	cfg     WriterConfig
	events  chan Event
	flushes chan chan error
	stop    chan context.Context // Close hands the loop its deadline
	done    chan struct{}
	dropped atomic.Uint64
	lost    atomic.Uint64 // of the dropped, those Close could not store

	mu     sync.RWMutex // guards closed; Record holds it for reading while it sends
	closed bool
}

var _ Recorder = (*Writer)(nil)

// NewWriter starts a writer over the store. Close it to stop it.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit writer: no store")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Interval, 100*time.Millisecond)
	def(&cfg.Timeout, 5*time.Second)
	def(&cfg.MaxBackoff, 10*time.Second)
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	w := &Writer{
		cfg:     cfg,
		events:  make(chan Event, cfg.Buffer),
		flushes: make(chan chan error),
		stop:    make(chan context.Context),
		done:    make(chan struct{}),
	}
	go w.loop()
	return w, nil
}

// Record queues the event, giving it a date and a log ID when it has
// none. It never blocks: with the buffer full, or the writer closed, the
// event is dropped and counted.
func (w *Writer) Record(e Event) {
	if w == nil {
		return
	}
	if e.Date.IsZero() {
		e.Date = w.cfg.Now()
	}
	e.Date = e.Date.UTC()
	if e.LogID == "" {
		e.LogID = NewID(e.Date)
	}
	e = sanitize(e)
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	select {
	case w.events <- e:
	default:
		w.dropped.Add(1)
	}
}

// Dropped returns how many events were dropped since the writer started.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Flush waits until every event recorded before it is stored, or ctx
// ends. It returns the error of the last failed write.
func (w *Writer) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case w.flushes <- reply:
	case <-w.done:
		return errors.New("audit writer: closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events and stores those waiting, retrying failed
// writes until ctx ends; what is left then is counted as dropped and
// logged. It may be called more than once.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	first := !w.closed
	w.closed = true
	w.mu.Unlock()
	if first {
		select {
		case w.stop <- ctx:
		case <-w.done:
		}
	}
	<-w.done
	if n := w.lost.Load(); n > 0 {
		return fmt.Errorf("audit writer: close: %d events could not be stored", n)
	}
	return nil
}

// loop collects events into batches and writes them.
func (w *Writer) loop() {
	defer close(w.done)
	var batch []Event
	var failures int
	var retryAt time.Time
	var lastErr error
	reported := uint64(0)
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()

	write := func(ctx context.Context) {
		for len(batch) > 0 {
			n := min(len(batch), w.cfg.Batch)
			if err := w.write(ctx, batch[:n]); err != nil {
				lastErr = err
				failures++
				retryAt = w.cfg.Now().Add(backoff(failures, 100*time.Millisecond, w.cfg.MaxBackoff))
				// Nothing is lost yet (the events wait in memory): a
				// warning, as for the other requests a database outage
				// fails; dropping events is the error.
				if failures == 1 || failures%10 == 0 {
					w.cfg.Log.Warn("audit log: cannot store events; retrying", "events", len(batch), "attempts", failures, "err", err)
				}
				return
			}
			if failures > 0 {
				w.cfg.Log.Info("audit log: storing events again", "after_attempts", failures)
			}
			failures, lastErr = 0, nil
			batch = batch[n:]
		}
	}
	// take moves waiting events into the batch, without blocking.
	take := func() {
		for {
			select {
			case e := <-w.events:
				batch = append(batch, e)
			default:
				return
			}
		}
	}
	report := func() {
		if d := w.dropped.Load(); d != reported {
			w.cfg.Log.Error("audit log: events dropped: the buffer was full", "dropped_total", d, "dropped_since_last_report", d-reported)
			reported = d
		}
	}

	for {
		// Read more only while the batch has room, so that memory stays
		// bounded by the buffer plus one batch while the store is down.
		in := w.events
		if len(batch) >= w.cfg.Batch {
			in = nil
		}
		select {
		case e := <-in:
			batch = append(batch, e)
			if len(batch) >= w.cfg.Batch && !w.cfg.Now().Before(retryAt) {
				write(context.Background())
			}
		case <-tick.C:
			report()
			if !w.cfg.Now().Before(retryAt) {
				write(context.Background())
			}
		case reply := <-w.flushes:
			take()
			retryAt = time.Time{}
			write(context.Background())
			if len(batch) == 0 {
				reply <- nil
			} else {
				reply <- lastErr
			}
		case ctx := <-w.stop:
			w.drain(ctx, batch)
			return
		}
	}
}

// drain stores what is left once the writer is closed, the batch and
// whatever the channel holds (nothing more can arrive), retrying failed
// writes until ctx ends.
func (w *Writer) drain(ctx context.Context, batch []Event) {
	for {
		select {
		case e := <-w.events:
			batch = append(batch, e)
			continue
		default:
		}
		break
	}
	for attempt := 0; len(batch) > 0; {
		n := min(len(batch), w.cfg.Batch)
		err := w.write(ctx, batch[:n])
		if err == nil {
			batch, attempt = batch[n:], 0
			continue
		}
		attempt++
		t := time.NewTimer(backoff(attempt, 50*time.Millisecond, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			w.cfg.Log.Error("audit log: events lost at shutdown", "events", len(batch), "err", err)
			w.dropped.Add(uint64(len(batch)))
			w.lost.Add(uint64(len(batch)))
			return
		case <-t.C:
		}
	}
	if d := w.dropped.Load(); d > 0 {
		w.cfg.Log.Warn("audit log: events were dropped while running", "dropped_total", d)
	}
}

// write stores one batch within the write timeout.
func (w *Writer) write(ctx context.Context, events []Event) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	rows := make([]store.LogEvent, len(events))
	for i, e := range events {
		rows[i] = e.toStore()
	}
	return w.cfg.Store.AppendLogs(ctx, rows)
}

// backoff is the wait before attempt n (1, 2, …): lo doubled each time up
// to hi, with "equal jitter" (a random half), so that replicas that failed
// together do not retry together.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 30 {
		d = lo << (n - 1)
	}
	if d > hi || d <= 0 {
		d = hi
	}
	return d/2 + rand.N(d/2+1)
}

// Append stores events at once, with the defaults and the sanitizing of
// Record, for a short-lived process that has no writer running (a command
// of the CLI).
func Append(ctx context.Context, st store.LogStore, events ...Event) error {
	rows := make([]store.LogEvent, len(events))
	for i, e := range events {
		if e.Date.IsZero() {
			e.Date = time.Now()
		}
		e.Date = e.Date.UTC()
		if e.LogID == "" {
			e.LogID = NewID(e.Date)
		}
		rows[i] = sanitize(e).toStore()
	}
	if err := st.AppendLogs(ctx, rows); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}
