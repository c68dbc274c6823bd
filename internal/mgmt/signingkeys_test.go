package mgmt_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// keysEnv is a Service with real signing keys over SQLite, on a clock the
// test moves.
type keysEnv struct {
	svc  *mgmt.Service
	st   store.Store
	keys *token.Keys
	now  time.Time
}

func newKeysEnv(t *testing.T, algs ...string) *keysEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sealer, err := token.NewSealer(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &keysEnv{st: st, now: time.Now().UTC().Truncate(time.Millisecond)}
	clock := func() time.Time { return e.now }
	e.keys, err = token.NewKeys(st, sealer, token.KeyOptions{Algorithm: "ES256", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, alg := range algs {
		if err := e.keys.EnsureAlgorithm(t.Context(), alg); err != nil {
			t.Fatal(err)
		}
	}
	tokens := config.Default().Tokens
	tokens.IDToken = config.Duration(2 * time.Hour)
	e.svc, err = mgmt.New(mgmt.Config{Store: st, Signing: e.keys, Tokens: tokens, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *keysEnv) list(t *testing.T) []mgmt.SigningKey {
	t.Helper()
	keys, err := e.svc.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func states(keys []mgmt.SigningKey) string {
	var s []string
	for _, k := range keys {
		s = append(s, k.Algorithm+":"+k.State)
	}
	return strings.Join(s, " ")
}

func TestListSigningKeys(t *testing.T) {
	e := newKeysEnv(t, "RS256")
	keys := e.list(t)
	// The default ring (ES256) first, each ring current then next.
	if got, want := states(keys), "ES256:current ES256:next RS256:current RS256:next"; got != want {
		t.Fatalf("keys %s, want %s", got, want)
	}
	for _, k := range keys {
		var jwk map[string]any
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			t.Fatal(err)
		}
		if jwk["kid"] != k.KID || jwk["alg"] != k.Algorithm || jwk["d"] != nil || !k.Published || !k.RetireAt.IsZero() {
			t.Errorf("key %s: %+v, jwk %v", k.KID, k, jwk)
		}
		if len(k.Thumbprint) != 32 || len(k.ThumbprintHex()) != 64 {
			t.Errorf("thumbprint %x", k.Thumbprint)
		}
	}
	got, err := e.svc.GetSigningKey(t.Context(), keys[1].KID)
	if err != nil || got.KID != keys[1].KID || got.State != store.KeyNext {
		t.Errorf("GetSigningKey = %+v, %v", got, err)
	}
	_, err = e.svc.GetSigningKey(t.Context(), "nope")
	wantError(t, err, http.StatusNotFound, "inexistent_signing_key", "", `signing key "nope" not found`)
}

func TestRotateSigningKeys(t *testing.T) {
	e := newKeysEnv(t)
	ctx := t.Context()
	before := e.list(t)
	// The next key was just published: verifiers may not know it yet.
	_, err := e.svc.RotateSigningKeys(ctx, false)
	wantError(t, err, http.StatusConflict, mgmt.CodeKeyNotSettled, "", "the next ES256 key was published 0s ago")
	if got := e.list(t); len(got) != 2 || got[0].KID != before[0].KID {
		t.Fatalf("a refused rotation changed the keys: %s", states(got))
	}

	// Settled after the key cache period plus the JWKS cache period.
	e.now = e.now.Add(10*time.Second + token.JWKSMaxAge)
	next, err := e.svc.RotateSigningKeys(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	keys := e.list(t)
	if got, want := states(keys), "ES256:current ES256:next ES256:previous"; got != want {
		t.Fatalf("keys after rotation %s, want %s", got, want)
	}
	if keys[0].KID != before[1].KID || keys[2].KID != before[0].KID || next.KID != keys[1].KID {
		t.Errorf("rotation: before %v, after %v, returned %s", before, keys, next.KID)
	}
	// The previous key stays published for the longest token lifetime
	// (the ID token's 2h here) plus the key cache period and a margin.
	if want := e.now.Add(2*time.Hour + 10*time.Second + 5*time.Minute); !keys[2].RetireAt.Equal(want) || !keys[2].Published {
		t.Errorf("previous key retires at %v (published %v), want %v", keys[2].RetireAt, keys[2].Published, want)
	}
	// An application's longer lifetime counts.
	if err := e.st.CreateClient(ctx, store.Client{ID: "long", Name: "Long", IDTokenTTL: 10 * time.Hour, CreatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	// Forced: no waiting.
	if _, err := e.svc.RotateSigningKeys(ctx, true); err != nil {
		t.Fatal(err)
	}
	keys = e.list(t)
	if got := keys[2]; got.KID != before[1].KID || !got.RetireAt.Equal(e.now.Add(10*time.Hour+10*time.Second+5*time.Minute)) {
		t.Errorf("previous key %+v after a forced rotation", got)
	}
}

func TestRevokeSigningKey(t *testing.T) {
	e := newKeysEnv(t)
	ctx := t.Context()
	keys := e.list(t)
	current, next := keys[0].KID, keys[1].KID
	tok, err := e.keys.Sign(ctx, map[string]any{"sub": "x"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.RevokeSigningKey(ctx, current)
	wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, "kid", "rotate the keys first")
	_, err = e.svc.RevokeSigningKey(ctx, next)
	wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, "kid", "is the next signing key")
	_, err = e.svc.RevokeSigningKey(ctx, "nope")
	wantError(t, err, http.StatusNotFound, "inexistent_signing_key", "", "not found")

	if _, err := e.svc.RotateSigningKeys(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.keys.Verify(ctx, tok); err != nil {
		t.Fatalf("token of the previous key before revocation: %v", err)
	}
	e.now = e.now.Add(time.Minute)
	k, err := e.svc.RevokeSigningKey(ctx, current)
	if err != nil {
		t.Fatal(err)
	}
	if k.State != store.KeyPrevious || !k.RevokedAt.Equal(e.now) || !k.RetireAt.Equal(e.now) || k.Published {
		t.Errorf("revoked key %+v", k)
	}
	if _, _, err := e.keys.Verify(ctx, tok); err == nil {
		t.Error("a token of the revoked key still verifies")
	}
	_, err = e.svc.RevokeSigningKey(ctx, current)
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", "revoked already")
}

func TestSigningKeysNeedKeys(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.RotateSigningKeys(t.Context(), true); err == nil {
		t.Error("rotation without signing keys succeeded")
	}
	if _, err := e.svc.RevokeSigningKey(t.Context(), "x"); err == nil {
		t.Error("revocation without signing keys succeeded")
	}
}
