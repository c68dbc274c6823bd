package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// keysMaxAge is how long a fetched JWKS is used before it is fetched again.
	keysMaxAge = 5 * time.Minute
	// keysMinInterval is the least time between two fetches. An unknown kid
	// triggers a fetch (that is how a key rotation at the issuer reaches us);
	// this keeps tokens with made-up kids from making us flood the issuer.
	keysMinInterval = 5 * time.Second
)

var (
	// errKeysUnavailable means the JWKS could not be fetched, so a token
	// signed with a key we do not have cannot be checked either way.
	errKeysUnavailable = errors.New("signing keys unavailable")
	// errUnknownKey means the JWKS, fresh or fetched no longer than
	// keysMinInterval ago, has no key with the token's kid.
	errUnknownKey = errors.New("unknown signing key")
)

// keyCache holds the issuer's published signing keys (its JWKS).
type keyCache struct {
	uri    string
	client *http.Client
	now    func() time.Time

	// mu guards keys, fetchedAt, triedAt and fetchErr. It is held during a
	// fetch, so requests that miss together wait for one fetch instead of
	// each starting their own. Lookups wait too, for at most the client's
	// timeout once every keysMinInterval; an example can afford that.
	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // the last successful fetch
	triedAt   time.Time // the last fetch, successful or not
	fetchErr  error     // the last fetch's error; nil after a success
}

// key returns the public key with id kid, fetching the JWKS again when it is
// older than keysMaxAge or has no such key, but not more often than every
// keysMinInterval.
func (c *keyCache) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	k, found := c.lookup(kid)
	stale := now.Sub(c.fetchedAt) >= keysMaxAge
	if (stale || !found) && now.Sub(c.triedAt) >= keysMinInterval {
		c.fetchLocked(ctx)
		k, found = c.lookup(kid)
	}
	switch {
	case found:
		// After a failed refresh the old keys stay in use: an issuer that
		// is briefly down should not take the API down with it.
		return k, nil
	case c.fetchErr != nil:
		return jose.JSONWebKey{}, fmt.Errorf("%w: %w", errKeysUnavailable, c.fetchErr)
	default:
		return jose.JSONWebKey{}, errUnknownKey
	}
}

// refresh fetches the JWKS now and reports whether that worked.
func (c *keyCache) refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetchLocked(ctx)
	return c.fetchErr
}

// fetchLocked fetches the JWKS; c.mu must be held.
func (c *keyCache) fetchLocked(ctx context.Context) {
	now := c.now()
	c.triedAt = now
	// The fetch serves every waiting request, so one caller hanging up
	// must not cancel it; the client's timeout still bounds it.
	keys, err := c.fetch(context.WithoutCancel(ctx))
	c.fetchErr = err
	if err == nil {
		c.keys, c.fetchedAt = keys, now
	}
}

func (c *keyCache) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, c.client, c.uri, &set); err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		// Skip, rather than fail on, keys we cannot use: other key types,
		// encryption keys, anything that is not a public signature key.
		if err := k.UnmarshalJSON(raw); err != nil || k.KeyID == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (c *keyCache) lookup(kid string) (jose.JSONWebKey, bool) {
	for _, k := range c.keys {
		if k.KeyID == kid {
			return k, true
		}
	}
	return jose.JSONWebKey{}, false
}

// keyFits reports whether k may verify a signature made with alg: the right
// key type, and the algorithm the JWKS pins the key to, if it does
// (RFC 8725 §3.1).
func keyFits(k jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == string(jose.RS256)
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256) && key.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}
