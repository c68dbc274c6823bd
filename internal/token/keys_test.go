package token

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/store"
)

// memStore implements the signing-key methods of store.Store in memory,
// following the interface's contract: one ring of keys per algorithm. Any
// other method panics through the nil embedded interface.
type memStore struct {
	store.Store

	mu        sync.Mutex // guards the fields below
	keys      []store.SigningKey
	listCalls int
	// beforeWrite runs once, before the next RotateSigningKeys touches
	// the keys, with the algorithm of that call.
	beforeWrite func(alg string)
	// failAlg makes RotateSigningKeys of that algorithm fail.
	failAlg string
	// listErr, when set, is returned by ListSigningKeys (the store is down).
	listErr error
}

var errDiskFull = errors.New("disk full")

func (m *memStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listCalls++
	if m.listErr != nil {
		return nil, m.listErr
	}
	return slices.Clone(m.keys), nil
}

func (m *memStore) RotateSigningKeys(ctx context.Context, alg, expectCurrent string, initial *store.SigningKey, newNext store.SigningKey, retireAt, now time.Time) error {
	m.mu.Lock()
	hook := m.beforeWrite
	m.beforeWrite = nil
	m.mu.Unlock()
	if hook != nil {
		hook(alg)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if alg == m.failAlg {
		return errDiskFull
	}
	if newNext.Algorithm != alg || initial != nil && initial.Algorithm != alg {
		return fmt.Errorf("memStore: a key of another algorithm for the %s ring", alg)
	}
	inRing := func(k store.SigningKey) bool { return k.Algorithm == alg }
	current := ""
	if i := slices.IndexFunc(m.keys, func(k store.SigningKey) bool { return inRing(k) && k.State == store.KeyCurrent }); i >= 0 {
		current = m.keys[i].ID
	}
	if current != expectCurrent {
		return store.ErrConflict
	}
	newNext.State, newNext.RetireAt = store.KeyNext, time.Time{}
	if current == "" {
		if initial == nil || slices.ContainsFunc(m.keys, inRing) {
			return store.ErrConflict
		}
		c := *initial
		c.State, c.RetireAt = store.KeyCurrent, time.Time{}
		m.keys = append(m.keys, c, newNext)
		return nil
	}
	m.keys = slices.DeleteFunc(m.keys, func(k store.SigningKey) bool {
		return inRing(k) && k.State == store.KeyPrevious && k.RetireAt.Before(now)
	})
	for i := range m.keys {
		if !inRing(m.keys[i]) {
			continue
		}
		switch m.keys[i].State {
		case store.KeyCurrent:
			m.keys[i].State, m.keys[i].RetireAt = store.KeyPrevious, retireAt
		case store.KeyNext:
			m.keys[i].State = store.KeyCurrent
		}
	}
	m.keys = append(m.keys, newNext)
	return nil
}

func (m *memStore) lists() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.listCalls
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testSealer(t testing.TB) *Sealer {
	t.Helper()
	key := make([]byte, MasterKeySize)
	rand.Read(key)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTestKeys returns initialized Keys over st.
func newTestKeys(t testing.TB, st store.Store, sealer *Sealer, alg string, clk *clock) *Keys {
	t.Helper()
	k, err := NewKeys(st, sealer, KeyOptions{Algorithm: alg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

// kids returns the kids of a JWKS, in order.
func kids(jwks jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range jwks.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// signedKid signs a token and returns the kid of its header.
func signedKid(t *testing.T, k *Keys) string {
	t.Helper()
	raw, err := k.Sign(t.Context(), map[string]any{"sub": "u"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	_, h, err := k.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return h.KeyID
}

// stateKid returns the kid of the store's key in state; for stores of one
// ring.
func stateKid(t *testing.T, st *memStore, state string) string {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, k := range st.keys {
		if k.State == state {
			return k.ID
		}
	}
	t.Fatalf("no %s key in store", state)
	return ""
}

// ringKid returns the kid of the key in state of alg's ring.
func ringKid(t *testing.T, st *memStore, alg, state string) string {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, k := range st.keys {
		if k.Algorithm == alg && k.State == state {
			return k.ID
		}
	}
	t.Fatalf("no %s %s key in store", state, alg)
	return ""
}

func TestNewKeysOptions(t *testing.T) {
	st, s := &memStore{}, testSealer(t)
	tests := []struct {
		name    string
		opts    KeyOptions
		wantErr bool
	}{
		{name: "defaults", opts: KeyOptions{}},
		{name: "ES256", opts: KeyOptions{Algorithm: "ES256"}},
		{name: "EdDSA", opts: KeyOptions{Algorithm: "EdDSA"}},
		{name: "unknown algorithm", opts: KeyOptions{Algorithm: "HS256"}, wantErr: true},
		{name: "none", opts: KeyOptions{Algorithm: "none"}, wantErr: true},
		{name: "negative ttl", opts: KeyOptions{CacheTTL: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeys(st, s, tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewKeys() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (k.alg == "" || k.ttl != defaultCacheTTL) {
				t.Errorf("NewKeys() alg %q ttl %v, want defaults filled in", k.alg, k.ttl)
			}
		})
	}
}

func TestInit(t *testing.T) {
	st, clk := &memStore{}, newClock()
	s := testSealer(t)
	k := newTestKeys(t, st, s, ES256, clk)
	if len(st.keys) != 2 {
		t.Fatalf("store holds %d keys after Init, want 2", len(st.keys))
	}
	current, next := stateKid(t, st, store.KeyCurrent), stateKid(t, st, store.KeyNext)
	if current == next {
		t.Fatal("current and next keys share a kid")
	}
	if got := signedKid(t, k); got != current {
		t.Errorf("signed with %q, want the current key %q", got, current)
	}
	if alg, err := k.SigningAlgorithm(t.Context()); err != nil || alg != ES256 {
		t.Errorf("SigningAlgorithm() = %q, %v; want ES256", alg, err)
	}

	// Idempotent.
	newTestKeys(t, st, s, ES256, clk)
	if len(st.keys) != 2 || stateKid(t, st, store.KeyCurrent) != current {
		t.Fatal("second Init changed the keys")
	}

	// A process with another default algorithm adds its ring and leaves
	// the first alone.
	k2 := newTestKeys(t, st, s, RS256, clk)
	if len(st.keys) != 4 || ringKid(t, st, ES256, store.KeyCurrent) != current || ringKid(t, st, ES256, store.KeyNext) != next {
		t.Fatal("Init of another default algorithm changed the existing ring")
	}
	if alg, _ := k2.SigningAlgorithm(t.Context()); alg != RS256 {
		t.Errorf("SigningAlgorithm() = %q for a process whose default is RS256", alg)
	}
	if got, want := signedKid(t, k2), ringKid(t, st, RS256, store.KeyCurrent); got != want {
		t.Errorf("signs with %q, want the RS256 current key %q", got, want)
	}
}

// TestInitLosesRace has another process store its keys between our read and
// our write: Init must take the winner's keys.
func TestInitLosesRace(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	loser, err := NewKeys(st, s, KeyOptions{Algorithm: EdDSA, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var winner *Keys
	st.beforeWrite = func(string) { winner = newTestKeys(t, st, s, EdDSA, clk) }
	if err := loser.Init(t.Context()); err != nil {
		t.Fatalf("Init() after losing the race: %v", err)
	}
	if len(st.keys) != 2 {
		t.Fatalf("store holds %d keys, want 2", len(st.keys))
	}
	if a, b := signedKid(t, loser), signedKid(t, winner); a != b {
		t.Errorf("loser signs with %q, winner with %q", a, b)
	}
}

func TestInitConcurrent(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	const n = 8
	keys := make([]*Keys, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		keys[i], _ = NewKeys(st, s, KeyOptions{Algorithm: ES256, Now: clk.Now})
		wg.Go(func() { errs[i] = keys[i].Init(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Init %d: %v", i, err)
		}
	}
	if len(st.keys) != 2 {
		t.Fatalf("store holds %d keys, want 2", len(st.keys))
	}
	want := stateKid(t, st, store.KeyCurrent)
	for i, k := range keys {
		if got := signedKid(t, k); got != want {
			t.Errorf("Keys %d signs with %q, want %q", i, got, want)
		}
	}
}

func TestSignBeforeInit(t *testing.T) {
	k, err := NewKeys(&memStore{}, testSealer(t), KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(t.Context(), map[string]any{}, "JWT"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Sign() before Init: error = %v, want store.ErrNotFound", err)
	}
	if err := k.Rotate(t.Context(), time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Rotate() before Init: error = %v, want store.ErrNotFound", err)
	}
}

func TestRotate(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newTestKeys(t, st, testSealer(t), EdDSA, clk)
	ctx := t.Context()

	oldCurrent, oldNext := stateKid(t, st, store.KeyCurrent), stateKid(t, st, store.KeyNext)
	before, err := k.Sign(ctx, map[string]any{"sub": "before"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}

	if err := k.Rotate(ctx, time.Hour); err != nil {
		t.Fatalf("Rotate(): %v", err)
	}
	newNext := stateKid(t, st, store.KeyNext)
	jwks, err := k.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kids(jwks), []string{oldNext, newNext, oldCurrent}; !slices.Equal(got, want) {
		t.Errorf("JWKS kids after rotation = %q, want current, next, previous %q", got, want)
	}
	if got := signedKid(t, k); got != oldNext {
		t.Errorf("signs with %q after rotation, want the former next key %q", got, oldNext)
	}
	if _, _, err := k.Verify(ctx, before); err != nil {
		t.Errorf("token signed before rotation does not verify: %v", err)
	}

	// The previous key stays published until its RetireAt...
	clk.Advance(time.Hour - time.Second)
	if _, _, err := k.Verify(ctx, before); err != nil {
		t.Errorf("token of a previous key before its retirement: %v", err)
	}
	// ...and then disappears, even before the store deletes it.
	clk.Advance(time.Second)
	jwks, err = k.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kids(jwks), []string{oldNext, newNext}; !slices.Equal(got, want) {
		t.Errorf("JWKS kids after retirement = %q, want %q", got, want)
	}
	if _, _, err := k.Verify(ctx, before); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify() of a retired key's token: error = %v, want ErrInvalidToken", err)
	}

	// The next rotation deletes the retired key.
	clk.Advance(time.Second)
	if err := k.Rotate(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if len(st.keys) != 3 {
		t.Errorf("store holds %d keys after second rotation, want 3", len(st.keys))
	}
	if got := signedKid(t, k); got != newNext {
		t.Errorf("signs with %q after second rotation, want %q", got, newNext)
	}
}

func TestRotateConflict(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	a := newTestKeys(t, st, s, ES256, clk)
	b := newTestKeys(t, st, s, ES256, clk)
	st.beforeWrite = func(string) {
		if err := b.Rotate(context.Background(), time.Hour); err != nil {
			t.Errorf("b.Rotate(): %v", err)
		}
	}
	// b's rotation stands for a's: not an error.
	if err := a.Rotate(t.Context(), time.Hour); err != nil {
		t.Fatalf("a.Rotate() racing b: %v", err)
	}
	if len(st.keys) != 3 {
		t.Errorf("store holds %d keys, want 3: one rotation, not two", len(st.keys))
	}
	// a dropped its cache, so it signs with b's rotation at once.
	if got, want := signedKid(t, a), stateKid(t, st, store.KeyCurrent); got != want {
		t.Errorf("a signs with %q, want %q", got, want)
	}
}

func TestCache(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	a := newTestKeys(t, st, s, ES256, clk)
	b := newTestKeys(t, st, s, ES256, clk)
	ctx := t.Context()
	first := signedKid(t, b)

	loads := st.lists()
	for range 20 {
		signedKid(t, b)
		if _, err := b.JWKS(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := st.lists() - loads; got != 0 {
		t.Errorf("%d store reads within the cache TTL, want 0", got)
	}

	// a rotates; b keeps its cached keys until the TTL passes, and in the
	// meantime verifies a's tokens, signed by the key b knew as next.
	if err := a.Rotate(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := signedKid(t, b); got != first {
		t.Errorf("b signs with %q within its TTL, want its cached %q", got, first)
	}
	fromA, err := a.Sign(ctx, map[string]any{"sub": "a"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	loads = st.lists()
	if _, _, err := b.Verify(ctx, fromA); err != nil {
		t.Errorf("b.Verify() of a's token after a's rotation: %v", err)
	}
	if got := st.lists() - loads; got != 0 {
		t.Errorf("verifying a token of a pre-published key read the store %d times", got)
	}
	clk.Advance(defaultCacheTTL)
	if got, want := signedKid(t, b), stateKid(t, st, store.KeyCurrent); got != want {
		t.Errorf("b signs with %q after its TTL, want %q", got, want)
	}
}

func TestVerifyUnknownKidReloadsBounded(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	a := newTestKeys(t, st, s, ES256, clk)
	b := newTestKeys(t, st, s, ES256, clk)
	ctx := t.Context()

	// Two rotations by a: its current key is one b has never seen.
	for range 2 {
		if err := a.Rotate(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	fromA, err := a.Sign(ctx, map[string]any{"sub": "a"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}

	// Tokens with made-up kids: at most one store read per second.
	garbage := forgeToken(t, "ES256", "no-such-kid", []byte(`{}`))
	loads := st.lists()
	for range 50 {
		if _, _, err := b.Verify(ctx, garbage); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify() of an unknown kid: error = %v, want ErrInvalidToken", err)
		}
	}
	clk.Advance(time.Second)
	for range 50 {
		b.Verify(ctx, garbage)
	}
	if got := st.lists() - loads; got != 1 {
		t.Errorf("%d store reads for 100 unknown kids over a second, want 1", got)
	}

	// A genuine new kid is found once the forced reload is allowed again.
	clk.Advance(time.Second)
	if _, _, err := b.Verify(ctx, fromA); err != nil {
		t.Errorf("b.Verify() of a key b has not cached: %v", err)
	}
}

func TestKeysRejectTamperedStore(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(keys []store.SigningKey)
		wantErr string
	}{
		{
			name: "private keys swapped between rows",
			tamper: func(keys []store.SigningKey) {
				keys[0].PrivateEncrypted, keys[1].PrivateEncrypted = keys[1].PrivateEncrypted, keys[0].PrivateEncrypted
			},
			wantErr: "decrypt private key",
		},
		{
			name: "public key swapped between rows",
			tamper: func(keys []store.SigningKey) {
				keys[0].PublicJWK, keys[1].PublicJWK = keys[1].PublicJWK, keys[0].PublicJWK
			},
			wantErr: "public jwk has kid",
		},
		{
			name: "private key in the public column",
			tamper: func(keys []store.SigningKey) {
				keys[0].PublicJWK = []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`)
			},
			wantErr: "not a public key",
		},
		{
			name:    "unknown algorithm",
			tamper:  func(keys []store.SigningKey) { keys[0].Algorithm = "HS256" },
			wantErr: "unsupported algorithm",
		},
		{
			name:    "two current keys in a ring",
			tamper:  func(keys []store.SigningKey) { keys[1].State = store.KeyCurrent },
			wantErr: "two current EdDSA keys",
		},
		{
			name:    "ring without a current key",
			tamper:  func(keys []store.SigningKey) { keys[0].State = store.KeyPrevious },
			wantErr: "no current EdDSA key",
		},
		{
			name:    "unknown state",
			tamper:  func(keys []store.SigningKey) { keys[1].State = "spare" },
			wantErr: "unknown state",
		},
		{
			name:    "algorithm does not fit the key",
			tamper:  func(keys []store.SigningKey) { keys[0].Algorithm = "RS256" },
			wantErr: "is not a RS256 key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, clk, s := &memStore{}, newClock(), testSealer(t)
			newTestKeys(t, st, s, EdDSA, clk)
			tt.tamper(st.keys)
			k, err := NewKeys(st, s, KeyOptions{Algorithm: EdDSA, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			_, err = k.Sign(t.Context(), map[string]any{}, "JWT")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Sign() over a tampered store: error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestWrongMasterKey also checks that a process with another master key
// never seals new keys into the store: every other process would fail to
// open them.
func TestWrongMasterKey(t *testing.T) {
	st, clk := &memStore{}, newClock()
	newTestKeys(t, st, testSealer(t), ES256, clk)
	before := slices.Clone(st.keys)
	tests := []struct {
		name string
		alg  string // the default algorithm of the process
		call func(k *Keys, ctx context.Context) error
	}{
		{name: "Init of the existing ring", alg: ES256, call: (*Keys).Init},
		{name: "Init of a new ring", alg: RS256, call: (*Keys).Init},
		{name: "EnsureAlgorithm", alg: ES256, call: func(k *Keys, ctx context.Context) error { return k.EnsureAlgorithm(ctx, EdDSA) }},
		{name: "Rotate", alg: ES256, call: func(k *Keys, ctx context.Context) error { return k.Rotate(ctx, time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeys(st, testSealer(t), KeyOptions{Algorithm: tt.alg, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.call(k, t.Context()); err == nil || !strings.Contains(err.Error(), "wrong master key") {
				t.Errorf("error = %v, want a decryption error", err)
			}
			if !slices.EqualFunc(st.keys, before, func(a, b store.SigningKey) bool { return a.ID == b.ID && a.State == b.State }) {
				t.Errorf("the store changed: %d keys, want the %d it had", len(st.keys), len(before))
			}
		})
	}
}

func TestStoredKeys(t *testing.T) {
	st, clk, s := &memStore{}, newClock(), testSealer(t)
	newTestKeys(t, st, s, ES256, clk)
	for _, r := range st.keys {
		var pub map[string]any
		if err := json.Unmarshal(r.PublicJWK, &pub); err != nil {
			t.Fatalf("key %s: public jwk: %v", r.ID, err)
		}
		if _, ok := pub["d"]; ok {
			t.Errorf("key %s: stored public jwk has a private member", r.ID)
		}
		if strings.Contains(string(r.PrivateEncrypted), `"d"`) {
			t.Errorf("key %s: private key stored in the clear", r.ID)
		}
		plain, err := s.Open(r.PrivateEncrypted, []byte(r.ID))
		if err != nil {
			t.Fatalf("key %s: sealed private key does not open with its kid: %v", r.ID, err)
		}
		var priv map[string]any
		if err := json.Unmarshal(plain, &priv); err != nil || priv["d"] == nil || priv["kid"] != r.ID {
			t.Errorf("key %s: sealed private jwk = %v, %v; want one with d and kid", r.ID, priv, err)
		}
		if !r.CreatedAt.Equal(clk.Now()) || !r.RetireAt.IsZero() || r.Algorithm != ES256 {
			t.Errorf("key %s: CreatedAt %v RetireAt %v Algorithm %q", r.ID, r.CreatedAt, r.RetireAt, r.Algorithm)
		}
	}
}

// TestStoreOutage: when the store cannot be read after the cache expired,
// the last keys keep signing and publishing, and the store is asked again
// at most once a second, not on every call.
func TestStoreOutage(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	clk := newClock()
	k := newTestKeys(t, st, testSealer(t), RS256, clk)
	before, err := k.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.listErr = store.ErrUnavailable
	st.mu.Unlock()
	clk.Advance(time.Minute)
	calls := func() int { st.mu.Lock(); defer st.mu.Unlock(); return st.listCalls }
	start := calls()
	for range 20 {
		set, err := k.JWKS(ctx)
		if err != nil || len(set.Keys) != len(before.Keys) {
			t.Fatalf("JWKS during the outage: %v, %d keys", err, len(set.Keys))
		}
		if _, err := k.Sign(ctx, map[string]any{"sub": "x"}, "JWT"); err != nil {
			t.Fatalf("Sign during the outage: %v", err)
		}
	}
	if n := calls() - start; n != 1 {
		t.Errorf("store read %d times in the same second of an outage, want 1", n)
	}
	clk.Advance(1100 * time.Millisecond)
	k.JWKS(ctx)
	if n := calls() - start; n != 2 {
		t.Errorf("store read %d times after a second, want 2", n)
	}
	// A process that never read the keys has nothing to serve: an error.
	cold, err := NewKeys(st, testSealer(t), KeyOptions{Algorithm: RS256, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cold.JWKS(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("cold JWKS during an outage = %v, want ErrUnavailable", err)
	}
}
