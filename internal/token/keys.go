package token

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/store"
)

// Signing algorithms Gatehouse generates keys for.
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
	EdDSA = "EdDSA" // Ed25519
)

// supportedAlgorithms is the "alg" allow-list for parsing: anything else,
// "none" and the HMAC algorithms included, is refused before any key is
// looked at.
var supportedAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

const (
	defaultCacheTTL = 10 * time.Second
	// minForcedReload bounds how often Verify re-reads the store for a kid it
	// does not know, so tokens with made-up kids cannot hammer the database.
	minForcedReload = time.Second
	rsaKeyBits      = 2048
)

// errNoKeys means the store holds no signing keys at all: Init has not run
// yet.
var errNoKeys = fmt.Errorf("no signing keys (run Init first): %w", store.ErrNotFound)

// errNoRing reports that the store has no ring for alg.
func errNoRing(alg string) error {
	return fmt.Errorf("no %s signing keys (run EnsureAlgorithm first): %w", alg, store.ErrNotFound)
}

// KeyOptions configures Keys.
type KeyOptions struct {
	// Algorithm is the default algorithm: the ring Init creates and Sign
	// and SigningAlgorithm use. RS256 (the default, and the only one OIDC
	// requires relying parties to support), ES256 or EdDSA. Rings of other
	// algorithms are created with EnsureAlgorithm and used with SignWith.
	Algorithm string
	// CacheTTL is how long a process uses its cached key set before
	// re-reading the store; 10s when zero. Other processes pick up a
	// rotation within this time, so a rotated-out key must stay published
	// (retireAfter) for at least the longest token lifetime plus CacheTTL.
	CacheTTL time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Keys manages the signing keys kept in the store: generation, rotation, the
// published JWKS, signing and verification. The keys form one ring per
// algorithm, each with its own next, current and previous keys, rotated
// together but independently of each other; the JWKS publishes every ring.
// Several processes may share one store; each caches the key set of all
// rings for KeyOptions.CacheTTL. Keys is safe for concurrent use.
type Keys struct {
	st     store.Store
	sealer *Sealer
	alg    string // the default ring
	ttl    time.Duration
	now    func() time.Time

	// mu guards set and loadedAt. It is held across a reload, so callers
	// that find the cache stale wait for one store read instead of each
	// issuing their own.
	mu       sync.Mutex
	set      *keySet // nil before the first load and after Rotate
	loadedAt time.Time
}

// keySet is an immutable snapshot of the store's keys, shared by readers
// without locking once obtained.
type keySet struct {
	signers map[string]signingKey // each ring's current key, decrypted, by algorithm
	// published holds every ring's keys, the default ring first, each ring
	// as current, next, then previous keys, newest first.
	published []publicKey
}

// rings returns the algorithms of the set's rings, default ring first.
func (s *keySet) rings() []string {
	var algs []string
	for _, p := range s.published {
		if !slices.Contains(algs, p.alg) {
			algs = append(algs, p.alg)
		}
	}
	return algs
}

// signingKey is a decrypted private key.
type signingKey struct {
	kid string
	alg string
	jwk jose.JSONWebKey // private
}

// publicKey is one key of the JWKS.
type publicKey struct {
	kid      string
	alg      string
	state    string
	jwk      jose.JSONWebKey // public members only
	retireAt time.Time       // zero for current and next keys
}

// publishedAt reports whether the key is still published at now: previous
// keys disappear at their RetireAt.
func (p publicKey) publishedAt(now time.Time) bool {
	return p.retireAt.IsZero() || now.Before(p.retireAt)
}

// DeriveKey returns a key for one purpose derived from the master key.
func (k *Keys) DeriveKey(purpose string) []byte { return k.sealer.DeriveKey(purpose) }

// NewKeys returns Keys over the signing keys in st, sealing private keys
// with sealer. It does not touch the store; call Init before use.
func NewKeys(st store.Store, sealer *Sealer, opts KeyOptions) (*Keys, error) {
	if st == nil || sealer == nil {
		return nil, errors.New("new keys: store and sealer are required")
	}
	alg := opts.Algorithm
	if alg == "" {
		alg = RS256
	}
	if !isSupported(alg) {
		return nil, fmt.Errorf("new keys: unsupported algorithm %q (want %s, %s or %s)", alg, RS256, ES256, EdDSA)
	}
	ttl := opts.CacheTTL
	if ttl < 0 {
		return nil, fmt.Errorf("new keys: negative cache TTL %v", ttl)
	}
	if ttl == 0 {
		ttl = defaultCacheTTL
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Keys{st: st, sealer: sealer, alg: alg, ttl: ttl, now: now}, nil
}

func isSupported(alg string) bool {
	return slices.Contains(supportedAlgorithms, jose.SignatureAlgorithm(alg))
}

// Init makes sure the store holds the default ring: when it is missing (on
// first start, or after the default algorithm was changed) it generates a
// current and a next key. Rings of other algorithms are left alone. Init is
// idempotent, and safe to run from several processes at once: when another
// process stores its keys first, Init uses those. It then loads the keys of
// every ring, so a wrong master key fails here.
func (k *Keys) Init(ctx context.Context) error {
	if err := k.ensure(ctx, k.alg); err != nil {
		return fmt.Errorf("init signing keys: %w", err)
	}
	return nil
}

// EnsureAlgorithm makes sure the store holds a ring for alg, generating its
// current and next keys when missing: an API that signs its access tokens
// with an algorithm other than the default needs one. Like Init it is
// idempotent and safe to run concurrently, and loads the keys.
func (k *Keys) EnsureAlgorithm(ctx context.Context, alg string) error {
	if !isSupported(alg) {
		return fmt.Errorf("ensure %q signing keys: unsupported algorithm (want %s, %s or %s)", alg, RS256, ES256, EdDSA)
	}
	if err := k.ensure(ctx, alg); err != nil {
		return fmt.Errorf("ensure %s signing keys: %w", alg, err)
	}
	return nil
}

// ensure creates the ring of alg unless the store has it, then reloads the
// key set.
func (k *Keys) ensure(ctx context.Context, alg string) error {
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	hasRing := slices.ContainsFunc(rows, func(r store.SigningKey) bool {
		return r.Algorithm == alg && r.State == store.KeyCurrent
	})
	if !hasRing {
		if len(rows) > 0 {
			// Open the existing keys before sealing new ones: a ring sealed
			// under a wrong master key would break the key set of every
			// process that has the right one.
			if _, err := k.parseKeySet(rows); err != nil {
				return err
			}
		}
		now := k.now()
		current, err := k.generate(alg, store.KeyCurrent, now)
		if err != nil {
			return err
		}
		next, err := k.generate(alg, store.KeyNext, now)
		if err != nil {
			return err
		}
		err = k.st.RotateSigningKeys(ctx, alg, "", &current, next, time.Time{}, now)
		// ErrConflict: another process created the ring first; its keys stand.
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	k.dropCache()
	set, err := k.keys(ctx)
	if err != nil {
		return err
	}
	if _, ok := set.signers[alg]; !ok {
		// The store accepted the ring, or refused it as taken, yet lists none.
		return errNoRing(alg)
	}
	return nil
}

// JWKSMaxAge is how long verifiers may cache the JWKS. A key published as
// "next" must be this old (plus the servers' key cache period) before a
// rotation makes it sign.
const JWKSMaxAge = 60 * time.Second

// Rotate rotates every ring: it promotes the ring's next key to current,
// demotes its current key to previous (published until now+retireAfter,
// which must cover the longest lifetime of a token it signed plus
// CacheTTL), and generates a new next key. A ring another process rotated
// concurrently keeps that rotation, which counts as this one: it is not an
// error and does not stop the other rings. Other failures are joined into
// the returned error after every ring has been tried. Either way this
// process re-reads the keys on next use; others do within CacheTTL, and
// since each new current key was published as next beforehand, their
// verifiers already know it.
func (k *Keys) Rotate(ctx context.Context, retireAfter time.Duration) error {
	if retireAfter < 0 {
		return fmt.Errorf("rotate signing keys: negative retirement delay %v", retireAfter)
	}
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	// Parsing opens every current key, so new keys are never sealed under a
	// wrong master key, and names each ring's current key.
	set, err := k.parseKeySet(rows)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	now := k.now()
	var errs []error
	for _, alg := range set.rings() {
		next, err := k.generate(alg, store.KeyNext, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", alg, err))
			continue
		}
		err = k.st.RotateSigningKeys(ctx, alg, set.signers[alg].kid, nil, next, now.Add(retireAfter), now)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			errs = append(errs, fmt.Errorf("%s: %w", alg, err))
		}
	}
	k.dropCache()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	return nil
}

// Revoke revokes the previous key kid (store.SigningKeyRevoker): it is no
// longer published, and tokens it signed no longer verify, in this process
// at once and in others within CacheTTL. store.ErrNotFound unless kid is a
// previous key that is not revoked yet.
func (k *Keys) Revoke(ctx context.Context, kid string) error {
	err := k.st.RevokeSigningKey(ctx, kid, k.now())
	// Whatever the outcome, the next use re-reads the keys.
	k.dropCache()
	if err != nil {
		return fmt.Errorf("revoke signing key: %w", err)
	}
	return nil
}

// JWKS returns the public keys to publish: the next, current and unretired
// previous keys of every ring, each with "kid", "use":"sig" and "alg",
// never private members.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	set, err := k.keys(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks: %w", err)
	}
	now := k.now()
	jwks := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(set.published))}
	for _, p := range set.published {
		if p.publishedAt(now) {
			jwks.Keys = append(jwks.Keys, p.jwk)
		}
	}
	return jwks, nil
}

func (k *Keys) dropCache() {
	k.mu.Lock()
	k.set = nil
	k.mu.Unlock()
}

// keys returns the cached key set, reloading it when older than the TTL.
func (k *Keys) keys(ctx context.Context) (*keySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if k.set != nil && now.Sub(k.loadedAt) < k.ttl {
		return k.set, nil
	}
	set, err := k.reloadLocked(ctx)
	if err != nil && k.set != nil {
		// The store is unreachable: keep signing and publishing the last
		// keys read (nothing can rotate them meanwhile) and try the store
		// again in a second rather than on every request.
		k.loadedAt = now.Add(-k.ttl + min(k.ttl, time.Second))
		return k.set, nil
	}
	return set, err
}

// keysAfterMiss reloads the key set for a kid or a ring the cache does not
// know: another process may have rotated or created a ring. It reloads at
// most once per minForcedReload and otherwise returns the cached set.
func (k *Keys) keysAfterMiss(ctx context.Context) (*keySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.set != nil && k.now().Sub(k.loadedAt) < minForcedReload {
		return k.set, nil
	}
	return k.reloadLocked(ctx)
}

// reloadLocked reads the keys and decrypts each ring's current one; k.mu
// must be held. A failed reload is not cached: the next call tries again.
func (k *Keys) reloadLocked(ctx context.Context) (*keySet, error) {
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	set, err := k.parseKeySet(rows)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	k.set, k.loadedAt = set, k.now()
	return set, nil
}

// parseKeySet turns store rows into a keySet. Only current keys are
// decrypted: they are the only ones that sign, and a next key is decrypted
// when it becomes current. Any bad row fails the whole set, whichever its
// ring, as a tampered store must not go unnoticed.
func (k *Keys) parseKeySet(rows []store.SigningKey) (*keySet, error) {
	set := &keySet{signers: make(map[string]signingKey)}
	current := make(map[string]int) // row index of each ring's current key
	for i, r := range rows {
		switch r.State {
		case store.KeyCurrent:
			if j, ok := current[r.Algorithm]; ok {
				return nil, fmt.Errorf("two current %s keys %q and %q", r.Algorithm, rows[j].ID, r.ID)
			}
			current[r.Algorithm] = i
		case store.KeyNext, store.KeyPrevious:
		default:
			return nil, fmt.Errorf("key %q: unknown state %q", r.ID, r.State)
		}
		pub, err := parsePublicKey(r)
		if err != nil {
			return nil, err
		}
		set.published = append(set.published, pub)
	}
	if len(rows) == 0 {
		return nil, errNoKeys
	}
	for _, r := range rows {
		if _, ok := current[r.Algorithm]; !ok {
			return nil, fmt.Errorf("%s keys but no current %s key", r.Algorithm, r.Algorithm)
		}
	}
	stateRank := map[string]int{store.KeyCurrent: 0, store.KeyNext: 1, store.KeyPrevious: 2}
	slices.SortStableFunc(set.published, func(a, b publicKey) int {
		return cmp.Or(
			cmp.Compare(k.ringRank(a.alg), k.ringRank(b.alg)),
			cmp.Compare(stateRank[a.state], stateRank[b.state]),
			b.retireAt.Compare(a.retireAt),
		)
	})
	for _, pub := range set.published {
		if pub.state != store.KeyCurrent {
			continue
		}
		signer, err := k.openPrivateKey(rows[current[pub.alg]], pub)
		if err != nil {
			return nil, err
		}
		set.signers[pub.alg] = signer
	}
	return set, nil
}

// ringRank orders rings for publication: the default ring first, so a
// relying party that naively takes the first key gets the one of ID tokens.
func (k *Keys) ringRank(alg string) int {
	if alg == k.alg {
		return -1
	}
	return slices.Index(supportedAlgorithms, jose.SignatureAlgorithm(alg))
}

// parsePublicKey parses a row's public JWK and checks that it is public and
// fits the row's algorithm.
func parsePublicKey(r store.SigningKey) (publicKey, error) {
	if !isSupported(r.Algorithm) {
		return publicKey{}, fmt.Errorf("key %q: unsupported algorithm %q", r.ID, r.Algorithm)
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(r.PublicJWK, &jwk); err != nil {
		return publicKey{}, fmt.Errorf("key %q: parse public jwk: %w", r.ID, err)
	}
	if !jwk.IsPublic() {
		return publicKey{}, fmt.Errorf("key %q: public jwk is not a public key", r.ID)
	}
	if jwk.KeyID != "" && jwk.KeyID != r.ID {
		return publicKey{}, fmt.Errorf("key %q: public jwk has kid %q", r.ID, jwk.KeyID)
	}
	if !keyFitsAlgorithm(jwk.Key, r.Algorithm) {
		return publicKey{}, fmt.Errorf("key %q: %T is not a %s key", r.ID, jwk.Key, r.Algorithm)
	}
	var retireAt time.Time
	if r.State == store.KeyPrevious {
		retireAt = r.RetireAt
	}
	return publicKey{
		kid:   r.ID,
		alg:   r.Algorithm,
		state: r.State,
		// Rebuilt from the key alone so that nothing else stored with the
		// JWK (certificates, private members) is ever published.
		jwk:      jose.JSONWebKey{Key: jwk.Key, KeyID: r.ID, Algorithm: r.Algorithm, Use: "sig"},
		retireAt: retireAt,
	}, nil
}

func keyFitsAlgorithm(key any, alg string) bool {
	switch key := key.(type) {
	case *rsa.PublicKey:
		return alg == RS256 && key.N.BitLen() >= rsaKeyBits
	case *ecdsa.PublicKey:
		return alg == ES256 && key.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == EdDSA
	}
	return false
}

// openPrivateKey decrypts a row's private key. The kid is the additional
// data of the seal, so a private key copied into another row fails to open;
// the decrypted key must also match the row's public key.
func (k *Keys) openPrivateKey(r store.SigningKey, pub publicKey) (signingKey, error) {
	plain, err := k.sealer.Open(r.PrivateEncrypted, []byte(r.ID))
	if err != nil {
		return signingKey{}, fmt.Errorf("key %q: decrypt private key (wrong master key?): %w", r.ID, err)
	}
	var jwk jose.JSONWebKey
	err = json.Unmarshal(plain, &jwk)
	clear(plain)
	if err != nil {
		return signingKey{}, fmt.Errorf("key %q: parse private jwk: %w", r.ID, err)
	}
	if jwk.IsPublic() || !jwk.Valid() {
		return signingKey{}, fmt.Errorf("key %q: sealed jwk is not a private key", r.ID)
	}
	if jwk.KeyID != r.ID {
		return signingKey{}, fmt.Errorf("key %q: sealed jwk has kid %q", r.ID, jwk.KeyID)
	}
	derived := jwk.Public()
	got, err := derived.Thumbprint(crypto.SHA256)
	if err != nil {
		return signingKey{}, fmt.Errorf("key %q: %w", r.ID, err)
	}
	want, err := pub.jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return signingKey{}, fmt.Errorf("key %q: %w", r.ID, err)
	}
	if !bytes.Equal(got, want) {
		return signingKey{}, fmt.Errorf("key %q: private key does not match the public jwk", r.ID)
	}
	if key, ok := jwk.Key.(*rsa.PrivateKey); ok {
		// Without this, every RSA signature would redo the CRT setup.
		key.Precompute()
	}
	jwk.Algorithm, jwk.Use = r.Algorithm, "sig"
	return signingKey{kid: r.ID, alg: r.Algorithm, jwk: jwk}, nil
}

// generate makes a new key pair for alg and seals the private half. The kid
// is the RFC 7638 thumbprint of the public key, so distinct keys have
// distinct kids.
func (k *Keys) generate(alg, state string, now time.Time) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	privJSON, err := jwk.MarshalJSON()
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	defer clear(privJSON)
	pubJSON, err := jwk.Public().MarshalJSON()
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	return store.SigningKey{
		ID:               jwk.KeyID,
		Algorithm:        alg,
		State:            state,
		PrivateEncrypted: k.sealer.Seal(privJSON, []byte(jwk.KeyID)),
		PublicJWK:        pubJSON,
		CreatedAt:        now,
	}, nil
}

// Sealer returns the master-key sealer the keys are sealed with, which
// seals the server's other secrets too (connections' upstream secrets).
func (k *Keys) Sealer() *Sealer { return k.sealer }
