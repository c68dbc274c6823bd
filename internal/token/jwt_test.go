package token

import (
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
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
)

// forgeToken signs payload with a freshly generated key for alg that is not
// in any store, under the given kid.
func forgeToken(t testing.TB, alg, kid string, payload []byte) string {
	t.Helper()
	var key any
	var err error
	switch alg {
	case "RS256":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "HS256":
		key = []byte(strings.Repeat("k", 32))
	default:
		t.Fatalf("forgeToken: algorithm %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signWith(t, jose.SignatureAlgorithm(alg), key, kid, payload)
}

func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, payload []byte) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type testClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	Nonce    string   `json:"nonce,omitempty"`
}

func TestSignVerify(t *testing.T) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			st, clk := &memStore{}, newClock()
			k := newTestKeys(t, st, testSealer(t), alg, clk)
			ctx := t.Context()
			claims := testClaims{
				Issuer:   "https://id.example.com/",
				Subject:  "gatehouse|42",
				Audience: []string{"client-1"},
				Expiry:   clk.Now().Add(time.Hour).Unix(),
				Nonce:    "n-0S6_WzA2Mj",
			}

			raw, err := k.Sign(ctx, claims, "at+jwt")
			if err != nil {
				t.Fatalf("Sign(): %v", err)
			}
			if got, err := k.SigningAlgorithm(ctx); err != nil || got != alg {
				t.Errorf("SigningAlgorithm() = %q, %v; want %q", got, err, alg)
			}

			payload, header, err := k.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("Verify(): %v", err)
			}
			var got testClaims
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(claims, got); diff != "" {
				t.Errorf("claims (-signed +verified):\n%s", diff)
			}
			if header.Algorithm != alg || header.KeyID != stateKid(t, st, "current") || header.ExtraHeaders[jose.HeaderType] != "at+jwt" {
				t.Errorf("header = alg %q kid %q typ %v; want %s, the current kid, at+jwt",
					header.Algorithm, header.KeyID, header.ExtraHeaders[jose.HeaderType], alg)
			}

			// A relying party: fetch the JWKS as JSON, verify with go-jose's jwt.
			jwks, err := k.JWKS(ctx)
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
				t.Fatalf("jwt.ParseSigned(): %v", err)
			}
			var std jwt.Claims
			if err := tok.Claims(published, &std); err != nil {
				t.Fatalf("verifying against the published JWKS: %v", err)
			}
			err = std.ValidateWithLeeway(jwt.Expected{
				Issuer:      claims.Issuer,
				AnyAudience: jwt.Audience{"client-1"},
				Time:        clk.Now(),
			}, 0)
			if err != nil {
				t.Errorf("claims validation: %v", err)
			}
		})
	}
}

func TestSignTypOptional(t *testing.T) {
	k := newTestKeys(t, &memStore{}, testSealer(t), ES256, newClock())
	raw, err := k.Sign(t.Context(), map[string]any{"sub": "x"}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, h, err := k.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if typ, ok := h.ExtraHeaders[jose.HeaderType]; ok {
		t.Errorf("typ = %v, want none", typ)
	}
}

func TestSignRefusesNonObjectClaims(t *testing.T) {
	k := newTestKeys(t, &memStore{}, testSealer(t), ES256, newClock())
	for _, claims := range []any{"a string", 42, []string{"x"}, nil, func() {}} {
		if raw, err := k.Sign(t.Context(), claims, "JWT"); err == nil {
			t.Errorf("Sign(%T) = %q, want an error", claims, raw)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	st, clk := &memStore{}, newClock()
	k := newTestKeys(t, st, testSealer(t), ES256, clk)
	ctx := t.Context()
	kid := stateKid(t, st, "current")
	valid, err := k.Sign(ctx, map[string]any{"sub": "alice", "admin": false}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := k.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	publicJSON, err := json.Marshal(jwks.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	ecPub := jwks.Keys[0].Key.(*ecdsa.PublicKey)

	tests := []struct {
		name    string
		raw     string
		wantMsg string
	}{
		{
			name:    "alg none",
			raw:     b64([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + ".",
			wantMsg: "unexpected signature algorithm",
		},
		{
			name:    "alg none with the valid signature",
			raw:     b64([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + "." + parts[2],
			wantMsg: "unexpected signature algorithm",
		},
		{
			name:    "HS256 keyed with the public key",
			raw:     signWith(t, jose.HS256, publicJSON, kid, []byte(`{"sub":"alice","admin":true}`)),
			wantMsg: "unexpected signature algorithm",
		},
		{
			name:    "foreign key under a foreign kid",
			raw:     forgeToken(t, "ES256", "foreign", []byte(`{"sub":"alice"}`)),
			wantMsg: "unknown kid",
		},
		{
			name:    "foreign key under our kid",
			raw:     forgeToken(t, "ES256", kid, []byte(`{"sub":"alice"}`)),
			wantMsg: "verify token: invalid token: go-jose/go-jose: error in cryptographic primitive",
		},
		{
			name:    "alg not matching the key",
			raw:     forgeToken(t, "EdDSA", kid, []byte(`{"sub":"alice"}`)),
			wantMsg: `alg "EdDSA"`,
		},
		{
			name:    "tampered payload",
			raw:     parts[0] + "." + b64([]byte(`{"sub":"alice","admin":true}`)) + "." + parts[2],
			wantMsg: "cryptographic primitive",
		},
		{
			name:    "tampered header",
			raw:     b64([]byte(`{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2],
			wantMsg: "cryptographic primitive",
		},
		{
			name:    "signature of another token",
			raw:     parts[0] + "." + parts[1] + "." + strings.Split(forgeToken(t, "ES256", kid, []byte(`{}`)), ".")[2],
			wantMsg: "cryptographic primitive",
		},
		{
			name: "signature with s out of range",
			raw: func() string {
				sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
				return parts[0] + "." + parts[1] + "." + b64(append(sig[:32:32], ecPub.Curve.Params().N.Bytes()...))
			}(),
			wantMsg: "cryptographic primitive",
		},
		{
			name:    "no kid",
			raw:     signWith(t, jose.ES256, mustECKey(t), "", []byte(`{}`)),
			wantMsg: "no kid",
		},
		{
			name:    "JSON serialization",
			raw:     `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
			wantMsg: "invalid token",
		},
		{name: "empty", raw: "", wantMsg: "invalid token"},
		{name: "garbage", raw: "garbage", wantMsg: "invalid token"},
		{name: "dots", raw: "..", wantMsg: "invalid token"},
		{name: "too many parts", raw: valid + "." + parts[2], wantMsg: "invalid token"},
		{name: "two parts", raw: parts[0] + "." + parts[1], wantMsg: "invalid token"},
		{name: "bad base64", raw: "!!!." + parts[1] + "." + parts[2], wantMsg: "invalid token"},
		{name: "header not json", raw: b64([]byte("not json")) + "." + parts[1] + "." + parts[2], wantMsg: "invalid token"},
		{name: "header json array", raw: b64([]byte("[1,2]")) + "." + parts[1] + "." + parts[2], wantMsg: "invalid token"},
		{name: "binary", raw: "\x00\xff\xfe.\x00.\x01", wantMsg: "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, _, err := k.Verify(ctx, tt.raw)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify() = %q, %v; want ErrInvalidToken", payload, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Verify() error = %q, want one containing %q", err, tt.wantMsg)
			}
		})
	}
	if _, _, err := k.Verify(ctx, valid); err != nil {
		t.Errorf("the untampered token fails: %v", err)
	}
}

func mustECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestJWKSHasNoPrivateMembers(t *testing.T) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			st, clk := &memStore{}, newClock()
			k := newTestKeys(t, st, testSealer(t), alg, clk)
			if err := k.Rotate(t.Context(), time.Hour); err != nil {
				t.Fatal(err)
			}
			jwks, err := k.JWKS(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			doc, err := json.Marshal(jwks)
			if err != nil {
				t.Fatal(err)
			}
			var parsed struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(doc, &parsed); err != nil {
				t.Fatal(err)
			}
			if len(parsed.Keys) != 3 {
				t.Fatalf("JWKS has %d keys, want 3", len(parsed.Keys))
			}
			seen := map[string]bool{}
			for _, key := range parsed.Keys {
				for _, member := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
					if _, ok := key[member]; ok {
						t.Errorf("key %v has private member %q", key["kid"], member)
					}
				}
				kid, _ := key["kid"].(string)
				if kid == "" || seen[kid] || key["use"] != "sig" || key["alg"] != alg {
					t.Errorf("key has kid %q (seen: %v), use %v, alg %v; want a distinct kid, sig, %s",
						kid, seen[kid], key["use"], key["alg"], alg)
				}
				seen[kid] = true
				var jwk jose.JSONWebKey
				b, _ := json.Marshal(key)
				if err := json.Unmarshal(b, &jwk); err != nil || !jwk.IsPublic() {
					t.Errorf("key %s does not parse as a public key: %v", kid, err)
				}
				// The kid is the RFC 7638 thumbprint.
				thumb, err := jwk.Thumbprint(crypto.SHA256)
				if err != nil || base64.RawURLEncoding.EncodeToString(thumb) != kid {
					t.Errorf("kid %s is not the key's SHA-256 thumbprint", kid)
				}
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	st, clk := &memStore{}, newClock()
	k := newTestKeys(f, st, testSealer(f), EdDSA, clk)
	valid, err := k.Sign(context.Background(), map[string]any{"sub": "x"}, "JWT")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{valid, "", ".", "..", "a.b.c", valid + ".", "eyJhbGciOiJub25lIn0.e30.",
		`{"payload":"e30","signatures":[]}`, strings.Repeat("a.", 1000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		payload, _, err := k.Verify(context.Background(), raw)
		if err == nil && raw != valid {
			// Only a token our key signed verifies; anything else is a forgery
			// unless it is the same signature in another form.
			if string(payload) != `{"sub":"x"}` {
				t.Errorf("Verify(%q) accepted payload %q", raw, payload)
			}
		}
	})
}

func benchmarkSign(b *testing.B, alg string) {
	k := newTestKeys(b, &memStore{}, testSealer(b), alg, newClock())
	ctx := context.Background()
	claims := map[string]any{
		"iss": "https://id.example.com/", "sub": "gatehouse|3f2a", "aud": "client-1",
		"exp": 1767225600, "iat": 1767222000, "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
	}
	b.ReportAllocs()
	start := processCPU(b)
	for b.Loop() {
		if _, err := k.Sign(ctx, claims, "JWT"); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

func BenchmarkSignRS256(b *testing.B) { benchmarkSign(b, RS256) }
func BenchmarkSignES256(b *testing.B) { benchmarkSign(b, ES256) }
func BenchmarkSignEdDSA(b *testing.B) { benchmarkSign(b, EdDSA) }

func BenchmarkVerifyRS256(b *testing.B) {
	k := newTestKeys(b, &memStore{}, testSealer(b), RS256, newClock())
	ctx := context.Background()
	raw, err := k.Sign(ctx, map[string]any{"sub": "x"}, "JWT")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
