package oauth2

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// DefaultMaxPending bounds the calls one connection has in flight to its
// provider (token exchanges, userinfo, discovery), so that a provider that
// slows down cannot pile up server goroutines and connections without
// bound: past it a call waits for a slot no longer than the client's
// timeout allows, then fails with ErrTooManyPending.
const DefaultMaxPending = 32

// ErrTooManyPending is the error of a call that found every slot of its
// connection taken until its deadline.
var ErrTooManyPending = errors.New("too many calls to the provider are pending")

// LimitClient returns a copy of c (a new client when c is nil) with
// DefaultTimeout when it has no timeout, whose calls at most max at a
// time are pending: from the request until its response body is closed.
func LimitClient(c *http.Client, max int) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	if cp.Timeout <= 0 {
		cp.Timeout = DefaultTimeout
	}
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = &limitedTransport{base: base, slots: make(chan struct{}, max)}
	return &cp
}

// limitedTransport lets at most cap(slots) round trips be pending.
type limitedTransport struct {
	base  http.RoundTripper
	slots chan struct{} // one per pending call
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.slots <- struct{}{}:
	case <-req.Context().Done():
		// The client's timeout or the caller's context: either way the
		// caller learns both why it waited and why it stopped.
		return nil, fmt.Errorf("%s %s: %w (%d): %w", req.Method, req.URL.Redacted(), ErrTooManyPending, cap(t.slots), req.Context().Err())
	}
	var once sync.Once
	release := func() { once.Do(func() { <-t.slots }) }
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasingBody frees its call's slot when it is closed or read to the
// end.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
