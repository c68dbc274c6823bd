package token

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"

	"github.com/go-jose/go-jose/v4"
)

// ErrInvalidToken is wrapped by every error of Verify that is about the
// token itself (malformed, unknown key, bad signature) rather than the
// store.
var ErrInvalidToken = errors.New("invalid token")

// Sign returns the compact JWS of the JSON encoding of claims, signed with
// the current key of the default ring. The protected header carries "kid",
// "alg" and, unless typ is empty, "typ" (e.g. "JWT" for ID tokens, "at+jwt"
// for access tokens, RFC 9068 §2.1). claims must encode to a JSON object
// (RFC 7519 §7.1).
func (k *Keys) Sign(ctx context.Context, claims any, typ string) (string, error) {
	raw, err := k.sign(ctx, k.alg, claims, typ)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return raw, nil
}

// SignWith is Sign with the current key of alg's ring, for an API whose
// access tokens use another algorithm than the default. The error wraps
// store.ErrNotFound when the store has no ring for alg (see
// EnsureAlgorithm).
func (k *Keys) SignWith(ctx context.Context, alg string, claims any, typ string) (string, error) {
	if !isSupported(alg) {
		return "", fmt.Errorf("sign token: unsupported algorithm %q", alg)
	}
	raw, err := k.sign(ctx, alg, claims, typ)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", alg, err)
	}
	return raw, nil
}

func (k *Keys) sign(ctx context.Context, alg string, claims any, typ string) (string, error) {
	key, err := k.signer(ctx, alg)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	if len(payload) == 0 || payload[0] != '{' {
		return "", fmt.Errorf("claims encode to %.20q, not a JSON object", payload)
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	// The JWK carries the kid, which go-jose puts in the protected header.
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(key.alg),
		Key:       key.jwk,
	}, opts)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// signer returns the current key of alg's ring. A ring missing from the
// cache triggers a store read at most once per second, for a ring another
// process has just created.
func (k *Keys) signer(ctx context.Context, alg string) (signingKey, error) {
	set, err := k.keys(ctx)
	if err != nil {
		return signingKey{}, err
	}
	if key, ok := set.signers[alg]; ok {
		return key, nil
	}
	if set, err = k.keysAfterMiss(ctx); err != nil {
		return signingKey{}, err
	}
	if key, ok := set.signers[alg]; ok {
		return key, nil
	}
	return signingKey{}, errNoRing(alg)
}

// SigningAlgorithm returns the "alg" of the default ring, the one Sign
// uses, which decides the hash of at_hash and c_hash. It fails like Sign
// when the store has no such ring.
func (k *Keys) SigningAlgorithm(ctx context.Context) (string, error) {
	key, err := k.signer(ctx, k.alg)
	if err != nil {
		return "", fmt.Errorf("signing algorithm: %w", err)
	}
	return key.alg, nil
}

// Verify checks a compact JWS against the published key named by its "kid",
// whichever its ring, and returns the payload and the protected header. It
// refuses "alg":"none" and any algorithm other than RS256, ES256 and EdDSA,
// a missing or unknown kid, an alg that is not the key's, a retired key and
// a bad signature. It checks no claims: expiry, issuer, audience and "typ"
// are the caller's. A kid missing from the cache triggers a store read at
// most once per second, for keys another process has just generated.
func (k *Keys) Verify(ctx context.Context, raw string) (payload []byte, header jose.Header, err error) {
	// Parse before touching the cache, so garbage never reaches the store.
	// Compact serialization only: every header member is integrity protected.
	jws, err := jose.ParseSignedCompact(raw, supportedAlgorithms)
	if err != nil {
		return nil, jose.Header{}, fmt.Errorf("verify token: %w: %w", ErrInvalidToken, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, jose.Header{}, fmt.Errorf("verify token: %w: %d signatures", ErrInvalidToken, len(jws.Signatures))
	}
	header = jws.Signatures[0].Protected
	if header.KeyID == "" {
		return nil, jose.Header{}, fmt.Errorf("verify token: %w: no kid", ErrInvalidToken)
	}

	set, err := k.keys(ctx)
	if err != nil {
		return nil, jose.Header{}, fmt.Errorf("verify token: %w", err)
	}
	key, ok := k.lookup(set, header.KeyID)
	if !ok {
		if set, err = k.keysAfterMiss(ctx); err != nil {
			return nil, jose.Header{}, fmt.Errorf("verify token: %w", err)
		}
		if key, ok = k.lookup(set, header.KeyID); !ok {
			return nil, jose.Header{}, fmt.Errorf("verify token: %w: unknown kid %.64q", ErrInvalidToken, header.KeyID)
		}
	}
	// RFC 8725 §3.1: the key decides the algorithm, not the token.
	if header.Algorithm != key.alg {
		return nil, jose.Header{}, fmt.Errorf("verify token: %w: alg %q, key %q is %s", ErrInvalidToken, header.Algorithm, key.kid, key.alg)
	}
	payload, err = jws.Verify(key.jwk)
	if err != nil {
		return nil, jose.Header{}, fmt.Errorf("verify token: %w: %w", ErrInvalidToken, err)
	}
	return payload, header, nil
}

// lookup finds a published key by kid.
func (k *Keys) lookup(set *keySet, kid string) (publicKey, bool) {
	now := k.now()
	for _, p := range set.published {
		if p.kid == kid && p.publishedAt(now) {
			return p, true
		}
	}
	return publicKey{}, false
}

// AtHash returns the at_hash of an access token for an ID token signed with
// alg (OIDC Core §3.1.3.6; c_hash is computed the same way, §3.3.2.11): the
// left half of the hash of the token's ASCII octets, base64url without
// padding. The hash is the one of alg: SHA-256 for RS256, ES256 and PS256,
// SHA-384 and SHA-512 for the 384 and 512 variants. For EdDSA, which names
// no hash, it is SHA-512, the hash Ed25519 uses internally — the common
// interpretation, also that of panva's oidc-token-hash behind
// node-oidc-provider and openid-client; Ed448 keys, which would call for
// SHAKE256, are never generated here. It returns "" for other algorithms.
func AtHash(accessToken, alg string) string {
	var h hash.Hash
	switch alg {
	case "RS256", "ES256", "PS256", "HS256":
		h = sha256.New()
	case "RS384", "ES384", "PS384", "HS384":
		h = sha512.New384()
	case "RS512", "ES512", "PS512", "HS512", EdDSA:
		h = sha512.New()
	default:
		return ""
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
