package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"gatehouse/internal/store"
)

// StreamConfig configures a webhook Stream. Zero fields take the defaults.
type StreamConfig struct {
	Store store.LogStore
	// URL receives the events: an http(s) URL.
	URL string
	// Authorization, when set, is sent as the Authorization header.
	Authorization string
	// Client sends the requests (one with a 10s timeout).
	Client *http.Client
	Log    *slog.Logger
	// Name is the stream's name in the store ("webhook").
	Name string
	// Owner names this process in the stream's lease (random).
	Owner string
	// Batch is how many events one request carries at most (100).
	Batch int
	// Poll is how often an idle stream, or one leased to another
	// process, looks again (1s).
	Poll time.Duration
	// Lease is how long the stream stays this process's without renewal
	// (30s). Another process takes over once it runs out.
	Lease time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts at a
	// batch the webhook refused (500ms, 1m).
	MinBackoff, MaxBackoff time.Duration
	Now                    func() time.Time
}

// Stream delivers the audit log to a webhook: HTTP POSTs of JSON arrays of
// {"log_id", "data"} objects (the hosted service's log stream shape), in
// commit order, each batch retried with exponential backoff and jitter
// until the webhook answers 2xx. Its cursor lives in the store and moves
// only after a delivered batch, so delivery is at least once across
// restarts; a lease on the cursor lets one replica at a time deliver.
type Stream struct {
	cfg StreamConfig
}

// NewStream checks cfg and returns the stream; Run delivers.
func NewStream(cfg StreamConfig) (*Stream, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit stream: no store")
	}
	if err := CheckWebhookURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = "webhook"
	}
	if cfg.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Owner = hex.EncodeToString(b[:])
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, time.Second)
	def(&cfg.Lease, 30*time.Second)
	def(&cfg.MinBackoff, 500*time.Millisecond)
	def(&cfg.MaxBackoff, time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Stream{cfg: cfg}, nil
}

// CheckWebhookURL checks a webhook URL: absolute http or https, without
// user information (credentials go in the Authorization setting, which is
// never logged).
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("webhook URL %q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return errors.New("webhook URL must not hold credentials; use the authorization setting")
	}
	return nil
}

// errLostStream means another process took the stream over.
var errLostStream = errors.New("the stream changed hands")

// Run delivers until ctx ends, then gives the lease up so that another
// replica can take over at once. It returns nil when ctx ended.
func (s *Stream) Run(ctx context.Context) error {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.cfg.Store.ReleaseLogStream(rctx, s.cfg.Name, s.cfg.Owner); err != nil {
			s.cfg.Log.Warn("audit stream: release", "err", err)
		}
	}()
	storeFailures := 0
	for ctx.Err() == nil {
		idle, err := s.step(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, store.ErrConflict), errors.Is(err, errLostStream):
			// Another replica delivers: stand by.
			storeFailures = 0
			idle = true
		case err != nil:
			storeFailures++
			if storeFailures == 1 || storeFailures%10 == 0 {
				s.cfg.Log.Warn("audit stream: cannot read the log", "err", err, "attempts", storeFailures)
			}
			if !sleep(ctx, backoff(storeFailures, s.cfg.MinBackoff, s.cfg.MaxBackoff)) {
				return nil
			}
			continue
		default:
			storeFailures = 0
		}
		if idle && !sleep(ctx, s.cfg.Poll) {
			return nil
		}
	}
	return nil
}

// step claims the stream, reads the next batch and delivers it; idle is
// true when there was nothing to deliver.
func (s *Stream) step(ctx context.Context) (idle bool, err error) {
	st, err := s.cfg.Store.ClaimLogStream(ctx, s.cfg.Name, s.cfg.Owner, s.cfg.Now(), s.cfg.Lease)
	if err != nil {
		return false, err
	}
	events, err := s.cfg.Store.ReadLogs(ctx, st.Cursor, s.cfg.Batch)
	if err != nil {
		return false, err
	}
	if len(events) == 0 {
		return true, nil
	}
	if err := s.deliver(ctx, events); err != nil {
		return false, err
	}
	last := events[len(events)-1].Seq
	if err := s.cfg.Store.AdvanceLogStream(ctx, s.cfg.Name, s.cfg.Owner, st.Cursor, last, s.cfg.Now(), s.cfg.Lease); err != nil {
		return false, err
	}
	return false, nil
}

// streamItem is one event as the webhook receives it.
type streamItem struct {
	LogID string `json:"log_id"`
	Data  Event  `json:"data"`
}

// deliver posts the batch until the webhook accepts it, renewing the lease
// between attempts; errLostStream when another process took over
// meanwhile (it delivers the batch again: at least once).
func (s *Stream) deliver(ctx context.Context, events []store.LogEvent) error {
	items := make([]streamItem, len(events))
	for i, e := range events {
		items[i] = streamItem{LogID: e.ID, Data: FromStore(e)}
	}
	body, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("audit stream: encode: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := s.post(ctx, body)
		if err == nil {
			if attempt > 1 {
				s.cfg.Log.Info("audit stream: webhook accepts events again", "after_attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == 1 || attempt%10 == 0 {
			s.cfg.Log.Warn("audit stream: webhook refused events; retrying", "events", len(events), "attempts", attempt, "err", err)
		}
		if !sleep(ctx, backoff(attempt, s.cfg.MinBackoff, s.cfg.MaxBackoff)) {
			return ctx.Err()
		}
		if _, err := s.cfg.Store.ClaimLogStream(ctx, s.cfg.Name, s.cfg.Owner, s.cfg.Now(), s.cfg.Lease); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errLostStream
			}
			return err
		}
	}
}

// post sends one batch. The error never holds the Authorization value.
func (s *Stream) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-LogStream/1")
	if s.cfg.Authorization != "" {
		req.Header.Set("Authorization", s.cfg.Authorization)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err // without the URL, which the log has once already
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
