package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// accessClaims are the claims of an access token that Gatehouse itself
// reads (at /userinfo and /oauth/introspect), in either profile: RFC 9068
// (client_id) or the hosted service's default (azp).
type accessClaims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	AudRaw   json.RawMessage `json:"aud"`
	ClientID string          `json:"client_id"`
	Azp      string          `json:"azp"`
	Scope    *string         `json:"scope"`
	Iat      int64           `json:"iat"`
	Exp      int64           `json:"exp"`
	Jti      string          `json:"jti"`
	// An ID token has these, an access token never.
	Nonce  string `json:"nonce"`
	AtHash string `json:"at_hash"`

	aud []string
}

var errNotAccessToken = errors.New("not a valid access token")

// looksLikeJWT tells a JWS compact serialization from an opaque token,
// which never contains a dot.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }

// verifyAccessJWT checks that raw is an unexpired access token signed by
// this server for our issuer, in either profile. RFC 9068 §4: typ at+jwt,
// so that an ID token is refused. The hosted service's default profile has
// typ JWT, as ID tokens do: there an access token is told from an ID token
// by its claims — azp and scope, which ID tokens never carry, and no nonce
// or at_hash, which they may.
func (p *Provider) verifyAccessJWT(ctx context.Context, raw string, now time.Time) (accessClaims, error) {
	payload, hdr, err := p.cfg.Keys.Verify(ctx, raw)
	if err != nil {
		return accessClaims{}, errNotAccessToken
	}
	typ, _ := hdr.ExtraHeaders["typ"].(string)
	rfc9068 := strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
	if !rfc9068 && typ != "JWT" {
		return accessClaims{}, errNotAccessToken
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss != p.cfg.Issuer || c.Sub == "" {
		return accessClaims{}, errNotAccessToken
	}
	if !rfc9068 && (c.Azp == "" || c.Scope == nil || c.ClientID != "" || c.Nonce != "" || c.AtHash != "") {
		return accessClaims{}, errNotAccessToken
	}
	if c.ClientID == "" {
		c.ClientID = c.Azp
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

func (c accessClaims) scopes() []string { return strings.Fields(c.scope()) }

// scope is the scope claim; "" when absent.
func (c accessClaims) scope() string {
	if c.Scope == nil {
		return ""
	}
	return *c.Scope
}

func (c accessClaims) hasAudience(a string) bool { return slices.Contains(c.aud, a) }
