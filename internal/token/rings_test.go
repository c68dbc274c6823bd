package token

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"gatehouse/internal/store"
)

var allAlgorithms = []string{RS256, ES256, EdDSA}

// newRingKeys returns Keys with default ring RS256 and a ring for each of
// extra.
func newRingKeys(t *testing.T, st *memStore, sealer *Sealer, clk *clock, extra ...string) *Keys {
	t.Helper()
	k := newTestKeys(t, st, sealer, RS256, clk)
	for _, alg := range extra {
		if err := k.EnsureAlgorithm(t.Context(), alg); err != nil {
			t.Fatalf("EnsureAlgorithm(%s): %v", alg, err)
		}
	}
	return k
}

// verifyAsRelyingParty checks raw the way a relying party does: against
// the JWKS document as published, with go-jose's jwt package.
func verifyAsRelyingParty(t *testing.T, k *Keys, raw, alg string) {
	t.Helper()
	jwks, err := k.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(jwks)
	if err != nil {
		t.Fatal(err)
	}
	var published jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &published); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("jwt.ParseSigned() of a %s token: %v", alg, err)
	}
	var claims jwt.Claims
	if err := tok.Claims(published, &claims); err != nil {
		t.Errorf("%s token does not verify against the published JWKS: %v", alg, err)
	}
}

// signedWith signs a token with alg's ring, checks it verifies, and returns
// the token and its kid.
func signedWith(t *testing.T, k *Keys, alg string) (raw, kid string) {
	t.Helper()
	raw, err := k.SignWith(t.Context(), alg, map[string]any{"sub": "u", "aud": "https://api.example.com/"}, "at+jwt")
	if err != nil {
		t.Fatalf("SignWith(%s): %v", alg, err)
	}
	_, h, err := k.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("Verify() of a %s token: %v", alg, err)
	}
	if h.Algorithm != alg {
		t.Errorf("SignWith(%s) signed with alg %q", alg, h.Algorithm)
	}
	return raw, h.KeyID
}

func TestRingsCoexist(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newRingKeys(t, st, testSealer(t), clk, EdDSA, ES256)
	ctx := t.Context()

	if len(st.keys) != 6 {
		t.Fatalf("store holds %d keys, want a current and a next key per ring", len(st.keys))
	}
	// The default ring comes first in the JWKS, then the others in a fixed
	// order, each as current, next.
	var want []string
	for _, alg := range allAlgorithms {
		want = append(want, ringKid(t, st, alg, store.KeyCurrent), ringKid(t, st, alg, store.KeyNext))
	}
	jwks, err := k.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(jwks); !slices.Equal(got, want) {
		t.Errorf("JWKS kids = %q, want %q", got, want)
	}
	for i, key := range jwks.Keys {
		if key.Algorithm != allAlgorithms[i/2] {
			t.Errorf("JWKS key %d has alg %q, want %q", i, key.Algorithm, allAlgorithms[i/2])
		}
	}

	// Sign and SigningAlgorithm stay on the default ring.
	if got, want := signedKid(t, k), ringKid(t, st, RS256, store.KeyCurrent); got != want {
		t.Errorf("Sign() used %q, want the RS256 current key %q", got, want)
	}
	if alg, err := k.SigningAlgorithm(ctx); err != nil || alg != RS256 {
		t.Errorf("SigningAlgorithm() = %q, %v; want RS256", alg, err)
	}
}

func TestSignWith(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	k := newRingKeys(t, st, s, clk, ES256, EdDSA)
	// Another process, with another default, over the same store.
	other, err := NewKeys(st, s, KeyOptions{Algorithm: EdDSA, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range allAlgorithms {
		t.Run(alg, func(t *testing.T) {
			raw, kid := signedWith(t, k, alg)
			if want := ringKid(t, st, alg, store.KeyCurrent); kid != want {
				t.Errorf("signed with %q, want the %s current key %q", kid, alg, want)
			}
			verifyAsRelyingParty(t, k, raw, alg)
			if _, _, err := other.Verify(t.Context(), raw); err != nil {
				t.Errorf("another process does not verify the %s token: %v", alg, err)
			}
		})
	}
}

func TestVerifyAlgMustMatchKeyAcrossRings(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newRingKeys(t, st, testSealer(t), clk, ES256)
	// An ES256 signature under the RS256 ring's kid: the ES256 ring being
	// published does not make ES256 acceptable for an RS256 key.
	raw := forgeToken(t, ES256, ringKid(t, st, RS256, store.KeyCurrent), []byte(`{"sub":"u"}`))
	if _, _, err := k.Verify(t.Context(), raw); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), `alg "ES256"`) {
		t.Errorf("Verify() = %v, want ErrInvalidToken for the alg", err)
	}
}

func TestRotateAllRings(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newRingKeys(t, st, testSealer(t), clk, ES256, EdDSA)
	ctx := t.Context()

	type ring struct{ current, next, token string }
	before := map[string]ring{}
	for _, alg := range allAlgorithms {
		raw, _ := signedWith(t, k, alg)
		before[alg] = ring{ringKid(t, st, alg, store.KeyCurrent), ringKid(t, st, alg, store.KeyNext), raw}
	}

	if err := k.Rotate(ctx, time.Hour); err != nil {
		t.Fatalf("Rotate(): %v", err)
	}
	if len(st.keys) != 9 {
		t.Errorf("store holds %d keys, want 3 per ring", len(st.keys))
	}
	for _, alg := range allAlgorithms {
		t.Run(alg, func(t *testing.T) {
			b := before[alg]
			if got := ringKid(t, st, alg, store.KeyCurrent); got != b.next {
				t.Errorf("current key %q, want the former next key %q", got, b.next)
			}
			if got := ringKid(t, st, alg, store.KeyPrevious); got != b.current {
				t.Errorf("previous key %q, want the former current key %q", got, b.current)
			}
			if _, _, err := k.Verify(ctx, b.token); err != nil {
				t.Errorf("token signed before the rotation: %v", err)
			}
			verifyAsRelyingParty(t, k, b.token, alg)
			raw, kid := signedWith(t, k, alg)
			if kid != b.next {
				t.Errorf("signs with %q after the rotation, want %q", kid, b.next)
			}
			verifyAsRelyingParty(t, k, raw, alg)
		})
	}

	// Each ring's previous key retires on time.
	clk.Advance(time.Hour)
	for alg, b := range before {
		if _, _, err := k.Verify(ctx, b.token); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s token of a retired key: error = %v, want ErrInvalidToken", alg, err)
		}
	}
}

// rotateRing rotates alg's ring directly in the store, as another process
// would.
func rotateRing(t *testing.T, st *memStore, k *Keys, alg string) {
	t.Helper()
	now := k.now()
	next, err := k.generate(alg, store.KeyNext, now)
	if err != nil {
		t.Error(err)
		return
	}
	if err := st.RotateSigningKeys(context.Background(), alg, ringKid(t, st, alg, store.KeyCurrent), nil, next, now.Add(time.Hour), now); err != nil {
		t.Errorf("rotate the %s ring: %v", alg, err)
	}
}

func TestRotateRingFailures(t *testing.T) {
	tests := []struct {
		name string
		// setup arranges for the ring of alg, the first Rotate writes, to
		// go wrong.
		setup     func(t *testing.T, st *memStore, k *Keys)
		wantErr   error
		rotated   []string // rings rotated once, by anyone
		untouched []string // rings left as they were
	}{
		{
			name: "conflict",
			setup: func(t *testing.T, st *memStore, k *Keys) {
				st.beforeWrite = func(alg string) { rotateRing(t, st, k, alg) }
			},
			rotated: allAlgorithms,
		},
		{
			name:      "failure",
			setup:     func(t *testing.T, st *memStore, k *Keys) { st.failAlg = RS256 },
			wantErr:   errDiskFull,
			rotated:   []string{ES256, EdDSA},
			untouched: []string{RS256},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, clk := &memStore{}, newClock()
			k := newRingKeys(t, st, testSealer(t), clk, ES256, EdDSA)
			next := map[string]string{}
			current := map[string]string{}
			for _, alg := range allAlgorithms {
				current[alg], next[alg] = ringKid(t, st, alg, store.KeyCurrent), ringKid(t, st, alg, store.KeyNext)
			}
			// The default ring, RS256, is the first Rotate writes.
			tt.setup(t, st, k)

			err := k.Rotate(t.Context(), time.Hour)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Rotate(): %v", err)
			}
			if tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), RS256)) {
				t.Fatalf("Rotate() error = %v, want %v naming the RS256 ring", err, tt.wantErr)
			}
			if errors.Is(err, store.ErrConflict) {
				t.Errorf("Rotate() error = %v wraps ErrConflict", err)
			}
			for _, alg := range tt.rotated {
				if got := ringKid(t, st, alg, store.KeyCurrent); got != next[alg] {
					t.Errorf("%s ring: current key %q, want the former next key %q (rotated once)", alg, got, next[alg])
				}
				if got := ringKid(t, st, alg, store.KeyPrevious); got != current[alg] {
					t.Errorf("%s ring: previous key %q, want %q", alg, got, current[alg])
				}
				if _, kid := signedWith(t, k, alg); kid != next[alg] {
					t.Errorf("%s ring: signs with %q, want %q", alg, kid, next[alg])
				}
			}
			for _, alg := range tt.untouched {
				if got := ringKid(t, st, alg, store.KeyCurrent); got != current[alg] {
					t.Errorf("%s ring: current key %q, want it unchanged %q", alg, got, current[alg])
				}
			}
			if len(st.keys) != 6+len(tt.rotated) {
				t.Errorf("store holds %d keys, want %d", len(st.keys), 6+len(tt.rotated))
			}
		})
	}
}

func TestEnsureAlgorithmIdempotent(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newRingKeys(t, st, testSealer(t), clk, ES256)
	ids := func() []string {
		var out []string
		for _, r := range st.keys {
			out = append(out, r.ID+"/"+r.State)
		}
		return out
	}
	before := ids()
	for _, alg := range []string{ES256, RS256, ES256} {
		if err := k.EnsureAlgorithm(t.Context(), alg); err != nil {
			t.Fatalf("EnsureAlgorithm(%s): %v", alg, err)
		}
	}
	if got := ids(); !slices.Equal(got, before) {
		t.Errorf("keys after repeated EnsureAlgorithm = %q, want them unchanged %q", got, before)
	}
}

func TestEnsureAlgorithmRefuses(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newRingKeys(t, st, testSealer(t), clk)
	for _, alg := range []string{"", "none", "HS256", "RS512", "es256"} {
		if err := k.EnsureAlgorithm(t.Context(), alg); err == nil || !strings.Contains(err.Error(), "unsupported algorithm") {
			t.Errorf("EnsureAlgorithm(%q) error = %v, want unsupported algorithm", alg, err)
		}
	}
	if len(st.keys) != 2 {
		t.Errorf("store holds %d keys, want 2", len(st.keys))
	}
}

func TestEnsureAlgorithmConcurrent(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	newRingKeys(t, st, s, clk)
	const n = 8
	keys := make([]*Keys, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		// Processes of every default algorithm, all creating the ES256 ring.
		var err error
		keys[i], err = NewKeys(st, s, KeyOptions{Algorithm: allAlgorithms[i%len(allAlgorithms)], Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { errs[i] = keys[i].EnsureAlgorithm(t.Context(), ES256) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("EnsureAlgorithm %d: %v", i, err)
		}
	}
	var es int
	for _, r := range st.keys {
		if r.Algorithm == ES256 {
			es++
		}
	}
	if es != 2 || len(st.keys) != 4 {
		t.Fatalf("store holds %d keys, %d of them ES256; want one ES256 ring of 2 beside the RS256 ring", len(st.keys), es)
	}
	want := ringKid(t, st, ES256, store.KeyCurrent)
	for i, k := range keys {
		if _, got := signedWith(t, k, ES256); got != want {
			t.Errorf("Keys %d signs ES256 with %q, want %q", i, got, want)
		}
	}
}

func TestSignWithUnknownRing(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	a := newRingKeys(t, st, s, clk)
	b := newRingKeys(t, st, s, clk)
	ctx := t.Context()

	loads := st.lists()
	for range 50 {
		_, err := b.SignWith(ctx, ES256, map[string]any{"sub": "u"}, "at+jwt")
		if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "EnsureAlgorithm") {
			t.Fatalf("SignWith() without an ES256 ring: error = %v, want store.ErrNotFound naming EnsureAlgorithm", err)
		}
	}
	if got := st.lists() - loads; got > 1 {
		t.Errorf("%d store reads for 50 signatures of a missing ring within a second, want at most 1", got)
	}

	for _, alg := range []string{"", "none", "HS256"} {
		if _, err := b.SignWith(ctx, alg, map[string]any{}, "JWT"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("SignWith(%q) error = %v, want unsupported algorithm", alg, err)
		}
	}

	// Another process creates the ring: b finds it on its next forced
	// reload, without waiting for its cache TTL.
	if err := a.EnsureAlgorithm(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	clk.Advance(minForcedReload)
	if _, kid := signedWith(t, b, ES256); kid != ringKid(t, st, ES256, store.KeyCurrent) {
		t.Errorf("b signs ES256 with %q, want the new ring's current key", kid)
	}
}

func TestCacheCoversAllRings(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newRingKeys(t, st, testSealer(t), clk, ES256, EdDSA)
	for _, alg := range allAlgorithms {
		signedWith(t, k, alg)
	}
	loads := st.lists()
	for range 10 {
		for _, alg := range allAlgorithms {
			signedWith(t, k, alg)
		}
		if _, err := k.JWKS(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := st.lists() - loads; got != 0 {
		t.Errorf("%d store reads within the cache TTL, want 0", got)
	}
	clk.Advance(defaultCacheTTL)
	signedWith(t, k, ES256)
	if got := st.lists() - loads; got != 1 {
		t.Errorf("%d store reads after the cache TTL, want 1", got)
	}
}
