package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testCertCache(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	if _, err := s.GetCertCacheEntry(ctx, "id.example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of an absent key: %v, want ErrNotFound", err)
	}
	if err := s.DeleteCertCacheEntry(ctx, "id.example.com"); err != nil {
		t.Fatalf("delete of an absent key: %v", err)
	}
	binary := []byte{0, 1, 2, 0xff, 'x'} // values are bytes, not text
	must(t, s.PutCertCacheEntry(ctx, "id.example.com", binary, now), "put")
	must(t, s.PutCertCacheEntry(ctx, "acme_account+key", []byte("account"), now), "put another")
	got, err := s.GetCertCacheEntry(ctx, "id.example.com")
	must(t, err, "get")
	if !bytes.Equal(got, binary) {
		t.Errorf("get: %x, want %x", got, binary)
	}
	must(t, s.PutCertCacheEntry(ctx, "id.example.com", []byte("renewed"), now.Add(time.Hour)), "replace")
	if got, err := s.GetCertCacheEntry(ctx, "id.example.com"); err != nil || string(got) != "renewed" {
		t.Errorf("after replace: %q %v", got, err)
	}
	must(t, s.DeleteCertCacheEntry(ctx, "id.example.com"), "delete")
	if _, err := s.GetCertCacheEntry(ctx, "id.example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	if got, err := s.GetCertCacheEntry(ctx, "acme_account+key"); err != nil || string(got) != "account" {
		t.Errorf("the other key after delete: %q %v", got, err)
	}
}
