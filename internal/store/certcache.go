package store

import (
	"context"
	"time"
)

// CertCache keeps what an ACME client caches (its account key, the
// certificates and their private keys) in the database, so that every
// replica serves the same certificate and only one of them orders it.
// Values are opaque to the store: the caller seals private keys before
// they get here.
type CertCache interface {
	// GetCertCacheEntry returns the value stored under key; ErrNotFound
	// when there is none.
	GetCertCacheEntry(ctx context.Context, key string) ([]byte, error)
	// PutCertCacheEntry stores value under key, replacing any value there.
	PutCertCacheEntry(ctx context.Context, key string, value []byte, now time.Time) error
	// DeleteCertCacheEntry removes key; a key that is not there is no
	// error.
	DeleteCertCacheEntry(ctx context.Context, key string) error
}
