package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"testing"
)

func TestNewOpaque(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v := NewOpaque()
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("NewOpaque() = %q: not base64url without padding: %v", v, err)
		}
		if len(b) != 32 {
			t.Fatalf("NewOpaque() = %q decodes to %d bytes, want 32", v, len(b))
		}
		if seen[v] {
			t.Fatalf("NewOpaque() repeated %q", v)
		}
		seen[v] = true
	}
}

func TestHash(t *testing.T) {
	v := "some-refresh-token"
	sum := sha256.Sum256([]byte(v))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if got := Hash(v); got != want {
		t.Errorf("Hash(%q) = %q, want %q", v, got, want)
	}
	if Hash("a") == Hash("b") {
		t.Error("Hash(a) == Hash(b)")
	}
}

func TestAtHash(t *testing.T) {
	const token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
	s256 := sha256.Sum256([]byte(token))
	s384 := sha512.Sum384([]byte(token))
	s512 := sha512.Sum512([]byte(token))
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name string
		alg  string
		want string
	}{
		// OpenID Connect Core 1.0, Appendix A.3 and A.4 (an RS256 ID token).
		{"oidc core example", "RS256", "77QmUPtjPfzWtF2AnpK9RQ"},
		{"ES256 uses sha-256", "ES256", enc(s256[:16])},
		{"PS256 uses sha-256", "PS256", enc(s256[:16])},
		{"ES384 uses sha-384", "ES384", enc(s384[:24])},
		{"EdDSA uses sha-512", "EdDSA", enc(s512[:32])},
		{"unknown alg", "none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AtHash(token, tt.alg); got != tt.want {
				t.Errorf("AtHash(%q, %q) = %q, want %q", token, tt.alg, got, tt.want)
			}
		})
	}
}
