package token

import (
	"bytes"
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

// errNoCurrentKey means the store holds no current signing key: Init has not
// run yet.
var errNoCurrentKey = fmt.Errorf("no current signing key (run Init first): %w", store.ErrNotFound)

// KeyOptions configures Keys.
type KeyOptions struct {
	// Algorithm is the algorithm of newly generated keys: RS256 (the
	// default, and the only one OIDC requires relying parties to support),
	// ES256 or EdDSA. Existing keys keep theirs.
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
// published JWKS, signing and verification. Several processes may share one
// store; each caches the key set for KeyOptions.CacheTTL. Keys is safe for
// concurrent use.
type Keys struct {
	st     store.Store
	sealer *Sealer
	alg    string
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
	signer    signingKey  // the current key, decrypted
	published []publicKey // current, next, then previous keys, newest first
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

// Init makes sure the store holds signing keys: on first start it generates
// a current and a next key. It is idempotent, and safe to run from several
// processes at once: when another process stores its keys first, Init uses
// those. It then loads the keys, so a wrong master key fails here.
func (k *Keys) Init(ctx context.Context) error {
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("init signing keys: %w", err)
	}
	if len(rows) == 0 {
		now := k.now()
		current, err := k.generate(store.KeyCurrent, now)
		if err != nil {
			return fmt.Errorf("init signing keys: %w", err)
		}
		next, err := k.generate(store.KeyNext, now)
		if err != nil {
			return fmt.Errorf("init signing keys: %w", err)
		}
		err = k.st.RotateSigningKeys(ctx, "", &current, next, time.Time{}, now)
		// ErrConflict: another process initialized first; its keys stand.
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("init signing keys: %w", err)
		}
	}
	k.dropCache()
	if _, err := k.keys(ctx); err != nil {
		return fmt.Errorf("init signing keys: %w", err)
	}
	return nil
}

// Rotate promotes the next key to current, demotes the current key to
// previous (published until now+retireAfter, which must cover the longest
// lifetime of a token it signed plus CacheTTL), and generates a new next
// key. When another process rotated concurrently it returns an error
// wrapping store.ErrConflict and that rotation stands. Either way this
// process re-reads the keys on next use; others do within CacheTTL, and
// since the new current key was published as next beforehand, their
// verifiers already know it.
func (k *Keys) Rotate(ctx context.Context, retireAfter time.Duration) error {
	if retireAfter < 0 {
		return fmt.Errorf("rotate signing keys: negative retirement delay %v", retireAfter)
	}
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	i := slices.IndexFunc(rows, func(r store.SigningKey) bool { return r.State == store.KeyCurrent })
	if i < 0 {
		return fmt.Errorf("rotate signing keys: %w", errNoCurrentKey)
	}
	now := k.now()
	next, err := k.generate(store.KeyNext, now)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	err = k.st.RotateSigningKeys(ctx, rows[i].ID, nil, next, now.Add(retireAfter), now)
	k.dropCache()
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	return nil
}

// JWKS returns the public keys to publish: the next, current and unretired
// previous keys, each with "kid", "use":"sig" and "alg", never private
// members.
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
	if k.set != nil && k.now().Sub(k.loadedAt) < k.ttl {
		return k.set, nil
	}
	return k.reloadLocked(ctx)
}

// keysForUnknownKid reloads the key set for a kid the cache does not know:
// another process may have rotated. It reloads at most once per
// minForcedReload and otherwise returns the cached set.
func (k *Keys) keysForUnknownKid(ctx context.Context) (*keySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.set != nil && k.now().Sub(k.loadedAt) < minForcedReload {
		return k.set, nil
	}
	return k.reloadLocked(ctx)
}

// reloadLocked reads the keys and decrypts the current one; k.mu must be
// held. A failed reload is not cached: the next call tries again.
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

// parseKeySet turns store rows into a keySet. Only the current key is
// decrypted: it is the only one that signs, and a next key is decrypted
// when it becomes current.
func (k *Keys) parseKeySet(rows []store.SigningKey) (*keySet, error) {
	set := &keySet{}
	var current *store.SigningKey
	for i, r := range rows {
		switch r.State {
		case store.KeyCurrent:
			if current != nil {
				return nil, fmt.Errorf("two current keys %q and %q", current.ID, r.ID)
			}
			current = &rows[i]
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
	if current == nil {
		return nil, errNoCurrentKey
	}
	rank := map[string]int{store.KeyCurrent: 0, store.KeyNext: 1, store.KeyPrevious: 2}
	slices.SortStableFunc(set.published, func(a, b publicKey) int {
		if a.state != b.state {
			return rank[a.state] - rank[b.state]
		}
		return b.retireAt.Compare(a.retireAt)
	})
	signer, err := k.openPrivateKey(*current, set.published[0])
	if err != nil {
		return nil, err
	}
	set.signer = signer
	return set, nil
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

// generate makes a new key pair with the configured algorithm and seals the
// private half. The kid is the RFC 7638 thumbprint of the public key, so
// distinct keys have distinct kids.
func (k *Keys) generate(state string, now time.Time) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch k.alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("unsupported algorithm %q", k.alg)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: k.alg, Use: "sig"}
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
		Algorithm:        k.alg,
		State:            state,
		PrivateEncrypted: k.sealer.Seal(privJSON, []byte(jwk.KeyID)),
		PublicJWK:        pubJSON,
		CreatedAt:        now,
	}, nil
}
