package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The compact JWS is built by hand (signCompact): check it with the
// standard library alone, not with the JOSE library Verify uses, so that a
// mistake both would share cannot hide.
func TestSignedTokenVerifiesWithStandardLibrary(t *testing.T) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			st := &memStore{}
			k := newTestKeys(t, st, testSealer(t), alg, newClock())
			raw, err := k.Sign(t.Context(), map[string]any{"sub": "gatehouse|42", "nonce": "<&>"}, "JWT")
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(raw, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q has %d parts", raw, len(parts))
			}
			header, err := base64.RawURLEncoding.DecodeString(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			kid := stateKid(t, st, "current")
			if want := `{"alg":"` + alg + `","kid":"` + kid + `","typ":"JWT"}`; string(header) != want {
				t.Errorf("header = %s, want %s", header, want)
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil || string(payload) != `{"nonce":"\u003c\u0026\u003e","sub":"gatehouse|42"}` {
				t.Errorf("payload = %s, %v", payload, err)
			}
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			jwks, err := k.JWKS(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var pub any
			for _, key := range jwks.Keys {
				if key.KeyID == kid {
					pub = key.Key
				}
			}
			input := []byte(parts[0] + "." + parts[1])
			digest := sha256.Sum256(input)
			switch pub := pub.(type) {
			case *rsa.PublicKey:
				err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
			case *ecdsa.PublicKey:
				if len(sig) != 64 {
					t.Fatalf("ES256 signature is %d bytes, want 64 (R || S)", len(sig))
				}
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				if !ecdsa.Verify(pub, digest[:], r, s) {
					err = errBadSignature
				}
			case ed25519.PublicKey:
				if !ed25519.Verify(pub, input, sig) {
					err = errBadSignature
				}
			default:
				t.Fatalf("published key %q is %T", kid, pub)
			}
			if err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
		})
	}
}

var errBadSignature = errors.New("bad signature")

// A key whose type is not its algorithm's signs nothing.
func TestRawSignatureRefusesMismatchedKey(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg string
		key any
	}{
		{RS256, edKey},
		{ES256, rsaKey},
		{EdDSA, rsaKey},
		{"HS256", rsaKey},
	} {
		key := signingKey{kid: "k1", alg: tc.alg, jwk: jose.JSONWebKey{Key: tc.key}}
		if sig, err := rawSignature(key, []byte("a.b")); err == nil {
			t.Errorf("rawSignature(%s with %T) = %x, want an error", tc.alg, tc.key, sig)
		}
	}
}

// p256Signature pads short values and drops ASN.1's sign byte; anything
// but one SEQUENCE of two INTEGERs of at most 32 bytes is an error.
func TestP256Signature(t *testing.T) {
	der := func(r, s *big.Int) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1BigInt(r)
			b.AddASN1BigInt(s)
		})
		return b.BytesOrPanic()
	}
	high := new(big.Int).Lsh(big.NewInt(1), 255) // 32 bytes, top bit set: 33 in ASN.1
	sig, err := p256Signature(der(big.NewInt(1), high))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 64)
	want[31], want[32] = 1, 0x80
	if !bytes.Equal(sig, want) {
		t.Errorf("p256Signature(1, 2^255) = %x, want %x", sig, want)
	}
	tooLong := new(big.Int).Lsh(big.NewInt(1), 256)
	for name, in := range map[string][]byte{
		"empty":          nil,
		"value too long": der(tooLong, big.NewInt(1)),
		"trailing data":  append(der(big.NewInt(1), big.NewInt(2)), 0),
		"not a sequence": {0x02, 0x01, 0x01},
	} {
		if got, err := p256Signature(in); err == nil {
			t.Errorf("%s: p256Signature() = %x, want an error", name, got)
		}
	}
}
