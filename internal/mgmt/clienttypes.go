package mgmt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/store"
)

// maxJWKSBytes bounds a registered JWK Set: a handful of keys fit easily.
const maxJWKSBytes = 64 << 10

// ClientAssertionAlgorithms are the signature algorithms a private_key_jwt
// application may sign its client assertions with.
var ClientAssertionAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// ensureIDTokenRing creates the key ring of the application's ID token
// algorithm, so that its keys are published before the first ID token is
// signed with them. RS256's ring always exists.
func (s *Service) ensureIDTokenRing(ctx context.Context, c store.Client) error {
	if c.IDTokenSigningAlg == "" {
		return nil
	}
	return s.ensureRing(ctx, c.IDTokenSigningAlg)
}

// normalizeOrigins trims the origins and the trailing slash browsers never
// send in an Origin header, and lower-cases scheme and host, so that the
// stored value compares equal to the header.
func normalizeOrigins(in []string) []string {
	out := make([]string, 0, len(in))
	for _, o := range in {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		out = append(out, strings.ToLower(o))
	}
	return out
}

// validateOrigins checks the web origins and allowed origins of an
// application: a machine-to-machine application is never in a browser.
func validateOrigins(c store.Client) error {
	for _, l := range []struct {
		field   string
		origins []string
	}{{"web_origins", c.WebOrigins}, {"allowed_origins", c.AllowedOrigins}} {
		if len(l.origins) > 0 && c.Type == store.ClientM2M {
			return invalid(l.field, "an m2m application has no browser origins")
		}
		for _, o := range l.origins {
			if err := ValidateOrigin(o); err != nil {
				return invalid(l.field, "origin: %v", err)
			}
		}
	}
	return nil
}

// ValidateOrigin checks a browser origin (RFC 6454): scheme://host[:port]
// with nothing after it; https, or http on loopback hosts only.
func ValidateOrigin(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a valid origin", s)
	}
	switch {
	case u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an origin (scheme://host[:port])", s)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q is not an origin: it must not have a path, query, fragment or user information", s)
	case strings.Contains(u.Host, "*"):
		return fmt.Errorf("%q: wildcard origins are not supported", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		return fmt.Errorf("%q must use https (http is allowed only for localhost, 127.0.0.1 and [::1])", s)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// ValidateNativeRedirectURI checks a callback of a native application
// (RFC 8252): what ValidateRedirectURI accepts, or a private-use URI scheme
// in reverse domain name notation such as com.example.app:/callback
// (§7.1). A loopback callback registered without a port matches any port
// of the same IP literal at /authorize (§7.3); localhost is accepted as
// registered, port included, but not recommended (§8.3).
func ValidateNativeRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL", s)
	}
	if u.Scheme == "http" || u.Scheme == "https" || !strings.Contains(u.Scheme, ".") {
		if err := ValidateRedirectURI(s); err != nil {
			return fmt.Errorf("%w, or a private-use scheme such as com.example.app:/callback (RFC 8252 §7.1)", err)
		}
		return nil
	}
	switch {
	case strings.Contains(s, "#"):
		return fmt.Errorf("%q has a fragment; redirect URIs must not", s)
	case u.User != nil:
		return fmt.Errorf("%q contains user information", s)
	case u.Host != "":
		return fmt.Errorf("%q: a private-use scheme URI has a path and no host (com.example.app:/callback, RFC 8252 §7.1)", s)
	}
	return nil
}

// validateClientKeys checks the JWK Set of a private_key_jwt application:
// public keys only, of the types and sizes the assertion algorithms use.
func validateClientKeys(c store.Client) error {
	pkj := c.TokenEndpointAuthMethod == store.AuthMethodPrivateKeyJWT
	switch {
	case pkj && c.JWKS == "":
		return invalid("jwks", "a private_key_jwt application needs a JWK Set of the public keys that sign its client assertions")
	case !pkj && c.JWKS != "":
		return invalid("jwks", "a JWK Set is for private_key_jwt applications only")
	case c.JWKS == "":
		return nil
	}
	if _, err := ParseClientJWKS(c.JWKS); err != nil {
		return invalid("jwks", "%v", err)
	}
	return nil
}

// ParseClientJWKS reads and checks a client's JWK Set: at least one key,
// every key public and usable for RS256 (RSA of 2048 bits or more), ES256
// (P-256) or EdDSA (Ed25519), and a key's alg, when given, one of those.
func ParseClientJWKS(s string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if len(s) > maxJWKSBytes {
		return set, fmt.Errorf("the JWK Set is larger than %d bytes", maxJWKSBytes)
	}
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return set, fmt.Errorf("the JWK Set is not valid: %v", err)
	}
	if len(set.Keys) == 0 {
		return set, fmt.Errorf("the JWK Set has no keys")
	}
	for i, k := range set.Keys {
		if !k.IsPublic() {
			return set, fmt.Errorf("key %d of the JWK Set is a private key: register the public key only", i)
		}
		if k.Use != "" && k.Use != "sig" {
			return set, fmt.Errorf("key %d of the JWK Set has use %q, not sig", i, k.Use)
		}
		var alg string
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				return set, fmt.Errorf("key %d of the JWK Set is an RSA key of %d bits; use 2048 or more", i, pub.N.BitLen())
			}
			alg = "RS256"
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() {
				return set, fmt.Errorf("key %d of the JWK Set is not on curve P-256 (ES256)", i)
			}
			alg = "ES256"
		case ed25519.PublicKey:
			alg = "EdDSA"
		default:
			return set, fmt.Errorf("key %d of the JWK Set is not an RSA, P-256 or Ed25519 key", i)
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			return set, fmt.Errorf("key %d of the JWK Set has alg %q; its key type signs %s", i, k.Algorithm, alg)
		}
	}
	return set, nil
}
