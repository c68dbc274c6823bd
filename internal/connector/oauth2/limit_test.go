package oauth2_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/connector/oauth2"
)

// slowProvider answers each request once release is closed, and counts
// the requests it holds at once.
type slowProvider struct {
	release      chan struct{}
	now, maxSeen atomic.Int32
	arrived      chan struct{}
}

func (p *slowProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.now.Add(1)
	defer p.now.Add(-1)
	for {
		m := p.maxSeen.Load()
		if n <= m || p.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	p.arrived <- struct{}{}
	<-p.release
	_, _ = io.WriteString(w, `{"sub":"1"}`)
}

// TestLimitClient: with max calls held by a slow provider, call max+1
// waits for a slot and fails at its deadline with ErrTooManyPending,
// without reaching the provider; once the held calls end, calls go
// through again, and a slot is freed by closing the response body.
func TestLimitClient(t *testing.T) {
	const max = 3
	p := &slowProvider{release: make(chan struct{}), arrived: make(chan struct{}, 16)}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	c := oauth2.LimitClient(&http.Client{Timeout: 5 * time.Second}, max)

	get := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	var wg sync.WaitGroup
	errs := make(chan error, max)
	for range max {
		wg.Go(func() { errs <- get(t.Context()) })
	}
	for range max {
		<-p.arrived
	}

	// The one over the bound: its deadline ends the wait.
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	start := time.Now()
	err := get(ctx)
	cancel()
	if !errors.Is(err, oauth2.ErrTooManyPending) || !oauth2.IsTimeout(err) {
		t.Errorf("call %d: %v, want ErrTooManyPending and a timeout", max+1, err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("call %d waited %v, past its deadline", max+1, waited)
	}
	if n := p.maxSeen.Load(); n != max {
		t.Errorf("the provider held %d calls at once, want %d", n, max)
	}
	// It left nothing behind: no goroutine waits on for it.
	// (The client's timer goroutine ends just after the call returns.)
	for deadline := time.Now().Add(time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines after the refused call, %d before", runtime.NumGoroutine(), before)
			break
		}
	}

	// A waiting call gets the first slot that frees.
	waiting := make(chan error, 1)
	go func() { waiting <- get(t.Context()) }()
	close(p.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("held call: %v", err)
		}
	}
	if err := <-waiting; err != nil {
		t.Errorf("waiting call: %v", err)
	}
	// Every slot is free again: max calls at once succeed.
	for range max {
		wg.Go(func() {
			if err := get(t.Context()); err != nil {
				t.Errorf("after release: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestHTTPClientDefaults: every connection's client has the timeout and
// the bound, even when the configuration gives a client without them.
func TestHTTPClientDefaults(t *testing.T) {
	for _, in := range []*http.Client{nil, {}, {Timeout: time.Second}} {
		c := oauth2.HTTPClient(in)
		if c == in {
			t.Error("HTTPClient returned the configured client itself, unbounded")
		}
		if want := oauth2.DefaultTimeout; in != nil && in.Timeout > 0 {
			want = in.Timeout
			if c.Timeout != want {
				t.Errorf("timeout %v, want %v", c.Timeout, want)
			}
		} else if c.Timeout != want {
			t.Errorf("timeout %v, want %v", c.Timeout, want)
		}
		if c.Transport == nil {
			t.Error("no bounded transport")
		}
	}
}
