package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// TestBackchannelLogoutParallel bounds the back-channel posts in flight:
// with deliveries for five sessions queued and an application that is
// slow to answer, the sender never has more than Parallel posts pending
// (the rest stay queued in the store, not in goroutines), and each post
// is cut off at the client's timeout.
func TestBackchannelLogoutParallel(t *testing.T) {
	const parallel, sessions = 2, 5
	var now, maxSeen, posts atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		posts.Add(1)
		for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
		}
		time.Sleep(100 * time.Millisecond)
	}))
	t.Cleanup(slow.Close)

	e := newEnv(t)
	app := e.newClientWith(t, oauth.NewClientParams{FirstParty: true}, func(c *store.Client) {
		c.BackchannelLogoutURI = slow.URL + "/backchannel"
	})
	for range sessions {
		_, _, cookie := e.login(t)
		e.exchange(t, app, e.code(t, app, cookie, nil), nil)
		e.get(t, "/v2/logout", url.Values{"client_id": {app.ID}}, cookie)
	}
	sender := e.provider.LogoutSender(oauth.LogoutSenderConfig{Parallel: parallel, RetryBase: time.Minute, MaxAttempts: 3,
		Client: &http.Client{Timeout: 2 * time.Second}})
	n, err := sender.SendDue(t.Context())
	if err != nil || n != sessions {
		t.Fatalf("sent %d, %v; want %d", n, err, sessions)
	}
	if got := maxSeen.Load(); got != parallel {
		t.Errorf("%d posts pending at once, want at most (and here exactly) %d", got, parallel)
	}

	// An application that never answers holds a post only until the
	// client's timeout.
	hang := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(stuck.Close)
	t.Cleanup(func() { close(hang) })
	app2 := e.newClientWith(t, oauth.NewClientParams{FirstParty: true}, func(c *store.Client) {
		c.BackchannelLogoutURI = stuck.URL + "/backchannel"
	})
	_, _, cookie := e.login(t)
	e.exchange(t, app2, e.code(t, app2, cookie, nil), nil)
	e.get(t, "/v2/logout", url.Values{"client_id": {app2.ID}}, cookie)
	sender = e.provider.LogoutSender(oauth.LogoutSenderConfig{Parallel: parallel, RetryBase: time.Minute, MaxAttempts: 3,
		Client: &http.Client{Timeout: 200 * time.Millisecond}})
	start := time.Now()
	if n, err := sender.SendDue(t.Context()); n != 0 || err != nil {
		t.Errorf("stuck application: sent %d, %v; want 0 and the delivery kept for a retry", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a stuck application held the sender %v", d)
	}
}
