package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// accessClaims are the claims of an RFC 9068 access token that Gatehouse
// itself reads (at /userinfo and /oauth/introspect).
type accessClaims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	AudRaw   json.RawMessage `json:"aud"`
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
	Iat      int64           `json:"iat"`
	Exp      int64           `json:"exp"`
	Jti      string          `json:"jti"`

	aud []string
}

var errNotAccessToken = errors.New("not a valid access token")

// looksLikeJWT tells a JWS compact serialization from an opaque token,
// which never contains a dot.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }

// verifyAccessJWT checks that raw is an unexpired RFC 9068 access token
// signed by this server (RFC 9068 §4): typ at+jwt, our issuer.
func (p *Provider) verifyAccessJWT(ctx context.Context, raw string, now time.Time) (accessClaims, error) {
	payload, hdr, err := p.cfg.Keys.Verify(ctx, raw)
	if err != nil {
		return accessClaims{}, errNotAccessToken
	}
	// RFC 9068 §4: the typ header must be at+jwt, so an ID token is refused.
	if typ, _ := hdr.ExtraHeaders["typ"].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return accessClaims{}, errNotAccessToken
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss != p.cfg.Issuer || c.Sub == "" {
		return accessClaims{}, errNotAccessToken
	}
	var one string
	if json.Unmarshal(c.AudRaw, &one) == nil {
		c.aud = []string{one}
	} else if json.Unmarshal(c.AudRaw, &c.aud) != nil {
		return accessClaims{}, errNotAccessToken
	}
	if now.Unix() >= c.Exp {
		return accessClaims{}, errNotAccessToken
	}
	return c, nil
}

func (c accessClaims) scopes() []string { return strings.Fields(c.Scope) }

func (c accessClaims) hasAudience(a string) bool { return slices.Contains(c.aud, a) }
