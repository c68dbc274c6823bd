package store

import (
	"context"
	"sync"
	"time"
)

// maxCached bounds each of a Cache's maps. Only stored rows are cached, so
// the bound is reached only with that many applications or APIs; then the
// map starts over.
const maxCached = 10000

// Cache is a Store whose reads of applications and APIs, which every
// authorization and token request makes and which rarely change, are
// answered from memory for up to TTL after the database answered them.
// Changes made through the Cache take effect at once in this process;
// changes made by another process (another replica, the command line)
// within TTL. Everything else goes straight to the Store.
type Cache struct {
	Store
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex // guards clients and apis
	clients map[string]cached[Client]
	apis    map[string]cached[API]
}

type cached[T any] struct {
	value   T
	expires time.Time
}

// NewCache wraps s; a ttl of zero or less returns s itself.
func NewCache(s Store, ttl time.Duration) Store {
	if ttl <= 0 {
		return s
	}
	return &Cache{Store: s, ttl: ttl, now: time.Now,
		clients: map[string]cached[Client]{}, apis: map[string]cached[API]{}}
}

// lookup returns the live entry for key, or reads it with get and caches it
// when found. Errors, ErrNotFound included, are not cached: a new row is seen
// at once, and unknown keys cannot fill the map.
func lookup[T any](c *Cache, m map[string]cached[T], key string, get func() (T, error)) (T, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := m[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.value, nil
	}
	v, err := get()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(m) >= maxCached {
		clear(m)
	}
	m[key] = cached[T]{value: v, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, nil
}

func (c *Cache) forget(clientID, api string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if clientID != "" {
		delete(c.clients, clientID)
	}
	if api != "" {
		delete(c.apis, api)
	}
}

// GetClient returns the application, from memory when read within TTL.
// Callers may keep but must not modify the slices and maps of the result.
func (c *Cache) GetClient(ctx context.Context, id string) (Client, error) {
	return lookup(c, c.clients, id, func() (Client, error) { return c.Store.GetClient(ctx, id) })
}

// UpdateClient updates the application and drops it from memory.
func (c *Cache) UpdateClient(ctx context.Context, cl Client) error {
	defer c.forget(cl.ID, "")
	return c.Store.UpdateClient(ctx, cl)
}

// DeleteClient deletes the application and drops it from memory.
func (c *Cache) DeleteClient(ctx context.Context, id string) error {
	defer c.forget(id, "")
	return c.Store.DeleteClient(ctx, id)
}

// GetAPI returns the API, from memory when read within TTL. Callers may
// keep but must not modify the slices and maps of the result.
func (c *Cache) GetAPI(ctx context.Context, identifier string) (API, error) {
	return lookup(c, c.apis, identifier, func() (API, error) { return c.Store.GetAPI(ctx, identifier) })
}

// UpdateAPI updates the API and drops it from memory.
func (c *Cache) UpdateAPI(ctx context.Context, a API) error {
	defer c.forget("", a.Identifier)
	return c.Store.UpdateAPI(ctx, a)
}

// DeleteAPI deletes the API and drops it from memory.
func (c *Cache) DeleteAPI(ctx context.Context, identifier string) error {
	defer c.forget("", identifier)
	return c.Store.DeleteAPI(ctx, identifier)
}
