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
// server signed for issuer (RFC 9068 §4: typ at+jwt, so that an ID token
// is never taken for an access token), and returns its claims. Every
// refusal wraps ErrInvalidToken, but for a store failure.
func (k *Keys) VerifyAccess(ctx context.Context, raw, issuer string, now time.Time) (AccessClaims, error) {
	payload, hdr, err := k.Verify(ctx, raw)
	if err != nil {
		return AccessClaims{}, err
	}
	typ, _ := hdr.ExtraHeaders["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return AccessClaims{}, fmt.Errorf("verify access token: %w: typ %.20q", ErrInvalidToken, typ)
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return AccessClaims{}, fmt.Errorf("verify access token: %w: %w", ErrInvalidToken, err)
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
