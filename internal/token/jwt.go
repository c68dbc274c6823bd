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
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
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
	return signCompact(key, typ, payload)
}

// jwsHeader is the protected header of every token signed here.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ,omitempty"`
}

// signCompact builds the compact JWS (RFC 7515 §7.1) of payload by hand:
// the header and payload are encoded once into the buffer the signature is
// appended to. Going through go-jose instead built a signer, re-encoded
// the payload and the header through its own JSON package and copied the
// result several times: about 70 allocations a token, for the same bytes.
func signCompact(key signingKey, typ string, payload []byte) (string, error) {
	header, err := json.Marshal(jwsHeader{Alg: key.alg, Kid: key.kid, Typ: typ})
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	enc := base64.RawURLEncoding
	// Room for the signature: RSA-4096's 512 bytes at most.
	buf := make([]byte, 0, enc.EncodedLen(len(header))+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	buf = enc.AppendEncode(buf, header)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := rawSignature(key, buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// rawSignature signs a JWS signing input with the key, in the signature
// format of its JWS algorithm (RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
func rawSignature(key signingKey, input []byte) ([]byte, error) {
	switch priv := key.jwk.Key.(type) {
	case *rsa.PrivateKey:
		if key.alg != RS256 {
			break
		}
		digest := sha256.Sum256(input)
		// PKCS #1 v1.5 is deterministic: no randomness to pass.
		sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", key.alg, err)
		}
		return sig, nil
	case *ecdsa.PrivateKey:
		if key.alg != ES256 || priv.Curve != elliptic.P256() {
			break
		}
		digest := sha256.Sum256(input)
		der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", key.alg, err)
		}
		return p256Signature(der)
	case ed25519.PrivateKey:
		if key.alg != EdDSA {
			break
		}
		return ed25519.Sign(priv, input), nil
	}
	return nil, fmt.Errorf("sign: key %q of type %T does not sign %s", key.kid, key.jwk.Key, key.alg)
}

// p256Signature turns an ASN.1 ECDSA signature into JWS's form: R and S as
// two 32-byte big-endian integers (RFC 7518 §3.4). It reads the bytes
// directly; ecdsa.Sign's big.Int values cost some 60 allocations.
func p256Signature(der []byte) ([]byte, error) {
	var r, s []byte
	in, inner := cryptobyte.String(der), cryptobyte.String(nil)
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return nil, errors.New("sign ES256: malformed signature")
	}
	sig := make([]byte, 64)
	for i, n := range [][]byte{r, s} {
		n = bytes.TrimLeft(n, "\x00") // ASN.1's sign byte
		if len(n) > 32 {
			return nil, errors.New("sign ES256: signature value longer than 32 bytes")
		}
		copy(sig[32*(i+1)-len(n):32*(i+1)], n)
	}
	return sig, nil
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
