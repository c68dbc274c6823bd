package oauth

import (
	"context"
	"strings"
	"time"

	"gatehouse/internal/token"
)

// looksLikeJWT tells a JWS compact serialization from an opaque token,
// which never contains a dot.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }

// verifyAccessJWT checks that raw is an unexpired JWT access token signed
// by this server for its issuer (token.Keys.VerifyAccess).
func (p *Provider) verifyAccessJWT(ctx context.Context, raw string, now time.Time) (token.AccessClaims, error) {
	return p.cfg.Keys.VerifyAccess(ctx, raw, p.cfg.Issuer, now)
}
