package token

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AccessClaims are the claims of a JWT access token that Gatehouse reads
// when a token comes back to it (/userinfo, introspection, the management
// API).
type AccessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"-"`
	// ClientID is RFC 9068's client_id, or azp in Auth0's access_token
	// profile.
	ClientID    string   `json:"client_id"`
	AZP         string   `json:"azp"`
	Scope       string   `json:"scope"`
	Permissions []string `json:"permissions"`
	GrantType   string   `json:"gty"`
	OrgID       string   `json:"org_id"`
	IssuedAt    int64    `json:"iat"`
	Expiry      int64    `json:"exp"`
	ID          string   `json:"jti"`

	AudRaw json.RawMessage `json:"aud"`
}

// Scopes returns the scope claim's values.
func (c AccessClaims) Scopes() []string { return strings.Fields(c.Scope) }

// HasAudience reports whether aud is one of the token's audiences.
func (c AccessClaims) HasAudience(aud string) bool { return slices.Contains(c.Audience, aud) }

// VerifyAccess checks that raw is an unexpired access token that this
// server signed for issuer, and returns its claims. Every refusal wraps
// ErrInvalidToken, but for a store failure.
//
// Both profiles of access token are accepted, so that an API may switch
// dialects: RFC 9068 (§4: typ at+jwt, so that an ID token is never taken
// for an access token) and Auth0's access_token profile, typ JWT as ID
// tokens have. There an access token is told from an ID token by its
// claims: azp and scope, which Gatehouse's ID tokens never carry, and no
// client_id, nonce or at_hash.
func (k *Keys) VerifyAccess(ctx context.Context, raw, issuer string, now time.Time) (AccessClaims, error) {
	payload, hdr, err := k.Verify(ctx, raw)
	if err != nil {
		return AccessClaims{}, err
	}
	typ, _ := hdr.ExtraHeaders["typ"].(string)
	rfc9068 := strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
	if !rfc9068 && typ != "JWT" {
		return AccessClaims{}, fmt.Errorf("verify access token: %w: typ %.20q", ErrInvalidToken, typ)
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return AccessClaims{}, fmt.Errorf("verify access token: %w: %w", ErrInvalidToken, err)
	}
	if !rfc9068 {
		var idMarks struct {
			Scope  *string `json:"scope"`
			Nonce  string  `json:"nonce"`
			AtHash string  `json:"at_hash"`
		}
		if err := json.Unmarshal(payload, &idMarks); err != nil || c.AZP == "" || idMarks.Scope == nil ||
			c.ClientID != "" || idMarks.Nonce != "" || idMarks.AtHash != "" {
			return AccessClaims{}, fmt.Errorf("verify access token: %w: a JWT that is no access token", ErrInvalidToken)
		}
	}
	if c.Issuer != issuer || c.Subject == "" {
		return AccessClaims{}, fmt.Errorf("verify access token: %w: issuer or subject", ErrInvalidToken)
	}
	var one string
	if json.Unmarshal(c.AudRaw, &one) == nil {
		c.Audience = []string{one}
	} else if json.Unmarshal(c.AudRaw, &c.Audience) != nil {
		return AccessClaims{}, fmt.Errorf("verify access token: %w: aud", ErrInvalidToken)
	}
	if now.Unix() >= c.Expiry {
		return AccessClaims{}, fmt.Errorf("verify access token: %w: expired", ErrInvalidToken)
	}
	if c.ClientID == "" {
		c.ClientID = c.AZP
	}
	return c, nil
}
