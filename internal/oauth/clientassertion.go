package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"gatehouse/internal/store"
)

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ClientAssertionAlgorithms are the signature algorithms a client
// assertion may use; discovery lists them as
// token_endpoint_auth_signing_alg_values_supported.
var ClientAssertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// Limits of a client assertion's lifetime. A short exp bounds how long its
// jti must be remembered and how long a stolen assertion is any use.
const (
	maxAssertionLifetime = 5 * time.Minute
	assertionLeeway      = 30 * time.Second // clock skew between client and server
	maxAssertionBytes    = 8 << 10
)

// assertionClaims are the claims RFC 7523 §3 requires, and iat/nbf.
type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// assertionIssuer reads the client id from an assertion without verifying
// it: the key that verifies it is the client's.
func assertionIssuer(assertion string) (*jwt.JSONWebToken, string, error) {
	if len(assertion) > maxAssertionBytes {
		return nil, "", errors.New("the client assertion is too large")
	}
	tok, err := jwt.ParseSigned(assertion, ClientAssertionAlgorithms)
	if err != nil {
		return nil, "", errors.New("the client assertion is not a JWT signed with RS256, ES256 or EdDSA")
	}
	var c assertionClaims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil || c.Issuer == "" {
		return nil, "", errors.New("the client assertion has no iss claim")
	}
	return tok, c.Issuer, nil
}

// verifyClientAssertion checks a private_key_jwt client's assertion (RFC
// 7523 §3, OIDC Core §9): signed by a key of the client's JWK Set, iss
// and sub the client id, aud the token endpoint or the issuer, exp present
// and at most five minutes ahead, and jti not seen before. It records the
// jti, so that the assertion is accepted once.
func (p *Provider) verifyClientAssertion(ctx context.Context, c clientCredentials, client store.Client) error {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(client.JWKS), &set); err != nil {
		return fmt.Errorf("client %s: read its JWK Set: %w", client.ID, err)
	}
	keys := set.Keys
	if kid := c.assertionToken.Headers[0].KeyID; kid != "" {
		keys = set.Key(kid)
	}
	var claims assertionClaims
	verified := false
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != c.assertionToken.Headers[0].Algorithm {
			continue
		}
		if err := c.assertionToken.Claims(k.Key, &claims); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return c.unauthorized("the client assertion is not signed by a key of the application")
	}
	now := p.now()
	switch {
	case claims.Issuer != client.ID || claims.Subject != client.ID:
		return c.unauthorized("the client assertion's iss and sub must both be the client_id")
	case !slices.ContainsFunc(claims.Audience, p.assertionAudience):
		return c.unauthorized("the client assertion's aud must be the token endpoint URL or the issuer")
	case claims.Expiry == nil:
		return c.unauthorized("the client assertion has no exp claim")
	case !now.Before(claims.Expiry.Time().Add(assertionLeeway)):
		return c.unauthorized("the client assertion has expired")
	case claims.Expiry.Time().After(now.Add(maxAssertionLifetime + assertionLeeway)):
		return c.unauthorized("the client assertion's exp is more than 5 minutes ahead")
	case claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(assertionLeeway)):
		return c.unauthorized("the client assertion is not valid yet (nbf)")
	case claims.IssuedAt != nil && claims.IssuedAt.Time().After(now.Add(assertionLeeway)):
		return c.unauthorized("the client assertion was issued in the future (iat)")
	case claims.ID == "" || len(claims.ID) > 256:
		return c.unauthorized("the client assertion needs a jti claim of at most 256 characters")
	}
	// Kept until the assertion could no longer be accepted anyway.
	err := p.cfg.Store.UseClientAssertion(ctx, client.ID, claims.ID, now, claims.Expiry.Time().Add(assertionLeeway))
	if errors.Is(err, store.ErrAlreadyUsed) {
		return c.unauthorized("the client assertion was used before: sign a new one with a new jti for every request")
	}
	if err != nil {
		return fmt.Errorf("record client assertion: %w", err)
	}
	return nil
}

// assertionAudience reports whether aud names this server: its token
// endpoint (OIDC Core §9) or its issuer (RFC 7523 §3), with or without a
// trailing slash.
func (p *Provider) assertionAudience(aud string) bool {
	iss := strings.TrimSuffix(p.cfg.Issuer, "/")
	aud = strings.TrimSuffix(aud, "/")
	return aud == iss || aud == iss+"/oauth/token"
}
