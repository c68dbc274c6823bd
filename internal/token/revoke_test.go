package token

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// RevokeSigningKey follows store.SigningKeyRevoker's contract.
func (m *memStore) RevokeSigningKey(ctx context.Context, kid string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.keys, func(k store.SigningKey) bool {
		return k.ID == kid && k.State == store.KeyPrevious && k.RevokedAt.IsZero()
	})
	if i < 0 {
		return store.ErrNotFound
	}
	if now.Before(m.keys[i].RetireAt) {
		m.keys[i].RetireAt = now
	}
	m.keys[i].RevokedAt = now
	return nil
}

func TestRevoke(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newTestKeys(t, st, testSealer(t), ES256, clk)
	ctx := t.Context()
	before, err := k.Sign(ctx, map[string]any{"sub": "before"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	current, next := stateKid(t, st, store.KeyCurrent), stateKid(t, st, store.KeyNext)
	for _, kid := range []string{current, next, "unknown"} {
		if err := k.Revoke(ctx, kid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Revoke(%q) = %v, want store.ErrNotFound", kid, err)
		}
	}
	if _, _, err := k.Verify(ctx, before); err != nil {
		t.Fatalf("a refused revocation broke verification: %v", err)
	}

	if err := k.Rotate(ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	// The key cache is fresh: Revoke must not wait for it to expire.
	if _, _, err := k.Verify(ctx, before); err != nil {
		t.Fatalf("token of the previous key before revocation: %v", err)
	}
	if err := k.Revoke(ctx, current); err != nil {
		t.Fatalf("Revoke(previous) = %v", err)
	}
	if _, _, err := k.Verify(ctx, before); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify() of a revoked key's token: error = %v, want ErrInvalidToken", err)
	}
	jwks, err := k.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(kids(jwks), current) || len(jwks.Keys) != 2 {
		t.Errorf("JWKS after revocation = %q, want the current and next keys only", kids(jwks))
	}
	if err := k.Revoke(ctx, current); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Revoke() = %v, want store.ErrNotFound", err)
	}
	if got := signedKid(t, k); got != next {
		t.Errorf("signs with %q after revocation, want %q", got, next)
	}
}
