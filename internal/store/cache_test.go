package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// fakeSettings is a Store that holds only applications and APIs and counts
// the reads that reach it.
type fakeSettings struct {
	Store
	clients map[string]Client
	apis    map[string]API
	reads   int
	fail    error
}

func (f *fakeSettings) GetClient(_ context.Context, id string) (Client, error) {
	f.reads++
	if f.fail != nil {
		return Client{}, f.fail
	}
	c, ok := f.clients[id]
	if !ok {
		return Client{}, ErrNotFound
	}
	return c, nil
}

func (f *fakeSettings) UpdateClient(_ context.Context, c Client) error {
	f.clients[c.ID] = c
	return nil
}

func (f *fakeSettings) DeleteClient(_ context.Context, id string) error {
	delete(f.clients, id)
	return nil
}

func (f *fakeSettings) GetAPI(_ context.Context, id string) (API, error) {
	f.reads++
	a, ok := f.apis[id]
	if !ok {
		return API{}, ErrNotFound
	}
	return a, nil
}

func (f *fakeSettings) UpdateAPI(_ context.Context, a API) error {
	f.apis[a.Identifier] = a
	return nil
}

func (f *fakeSettings) DeleteAPI(_ context.Context, id string) error {
	delete(f.apis, id)
	return nil
}

func newTestCache(t *testing.T) (*Cache, *fakeSettings, *time.Time) {
	t.Helper()
	f := &fakeSettings{
		clients: map[string]Client{"app": {ID: "app", Name: "v1"}},
		apis:    map[string]API{"https://api": {Identifier: "https://api", Name: "v1"}},
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCache(f, time.Second).(*Cache)
	c.now = func() time.Time { return now }
	return c, f, &now
}

func TestCacheClient(t *testing.T) {
	ctx := t.Context()
	c, f, now := newTestCache(t)
	wantName := func(op, want string, wantReads int) {
		t.Helper()
		got, err := c.GetClient(ctx, "app")
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if got.Name != want || f.reads != wantReads {
			t.Fatalf("%s: name %q after %d reads, want %q after %d", op, got.Name, f.reads, want, wantReads)
		}
	}
	wantName("first read", "v1", 1)
	wantName("read within the TTL", "v1", 1)

	// A change made elsewhere shows once the TTL has passed.
	f.clients["app"] = Client{ID: "app", Name: "v2"}
	wantName("read after another process's change, within the TTL", "v1", 1)
	*now = now.Add(time.Second)
	wantName("read after the TTL", "v2", 2)

	// A change made through the cache shows at once.
	if err := c.UpdateClient(ctx, Client{ID: "app", Name: "v3"}); err != nil {
		t.Fatal(err)
	}
	wantName("read after an update", "v3", 3)
	if err := c.DeleteClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetClient(ctx, "app"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after a delete: %v, want ErrNotFound", err)
	}

	// Misses and errors are not cached: a new client is seen at once.
	reads := f.reads
	if _, err := c.GetClient(ctx, "new"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
	f.clients["new"] = Client{ID: "new"}
	if _, err := c.GetClient(ctx, "new"); err != nil {
		t.Fatalf("client created after a miss: %v", err)
	}
	f.fail = ErrUnavailable
	if _, err := c.GetClient(ctx, "other"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("store outage: %v", err)
	}
	f.fail = nil
	if _, err := c.GetClient(ctx, "new"); err != nil || f.reads != reads+3 {
		t.Fatalf("cached client after an outage: %v after %d reads, want %d", err, f.reads, reads+3)
	}
}

func TestCacheAPI(t *testing.T) {
	ctx := t.Context()
	c, f, now := newTestCache(t)
	for range 3 {
		if a, err := c.GetAPI(ctx, "https://api"); err != nil || a.Name != "v1" {
			t.Fatalf("get api: %+v, %v", a, err)
		}
	}
	if f.reads != 1 {
		t.Fatalf("%d reads for three lookups within the TTL, want 1", f.reads)
	}
	if err := c.UpdateAPI(ctx, API{Identifier: "https://api", Name: "v2"}); err != nil {
		t.Fatal(err)
	}
	if a, _ := c.GetAPI(ctx, "https://api"); a.Name != "v2" {
		t.Fatalf("after an update: %q, want v2", a.Name)
	}
	f.apis["https://api"] = API{Identifier: "https://api", Name: "v3"}
	*now = now.Add(time.Second)
	if a, _ := c.GetAPI(ctx, "https://api"); a.Name != "v3" {
		t.Fatalf("after the TTL: %q, want v3", a.Name)
	}
	if err := c.DeleteAPI(ctx, "https://api"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAPI(ctx, "https://api"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after a delete: %v, want ErrNotFound", err)
	}
}

func TestCacheBounded(t *testing.T) {
	c, f, _ := newTestCache(t)
	for i := range maxCached + 10 {
		id := fmt.Sprintf("app-%d", i)
		f.clients[id] = Client{ID: id}
		if _, err := c.GetClient(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.clients); n > maxCached {
		t.Fatalf("%d cached clients, want at most %d", n, maxCached)
	}
}

func TestCacheOff(t *testing.T) {
	f := &fakeSettings{}
	if got := NewCache(f, 0); got != Store(f) {
		t.Fatalf("NewCache with TTL 0 = %T, want the store itself", got)
	}
}
