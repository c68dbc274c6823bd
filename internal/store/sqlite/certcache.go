package sqlite

import (
	"context"
	"time"
)

// GetCertCacheEntry returns the value under key; ErrNotFound when none.
func (db *DB) GetCertCacheEntry(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	if err := db.queryRow(ctx, `SELECT value FROM cert_cache WHERE key = ?`, key).Scan(&v); err != nil {
		return nil, fail("get cert cache entry", err)
	}
	return v, nil
}

// PutCertCacheEntry stores value under key, replacing what was there.
func (db *DB) PutCertCacheEntry(ctx context.Context, key string, value []byte, now time.Time) error {
	_, err := db.exec(ctx, `INSERT INTO cert_cache (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, millis(now))
	return fail("put cert cache entry", err)
}

// DeleteCertCacheEntry removes key, if it is there.
func (db *DB) DeleteCertCacheEntry(ctx context.Context, key string) error {
	_, err := db.exec(ctx, `DELETE FROM cert_cache WHERE key = ?`, key)
	return fail("delete cert cache entry", err)
}
