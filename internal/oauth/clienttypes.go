package oauth

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"

	"gatehouse/internal/store"
)

// checkPKCERequired refuses a request for a code without a PKCE challenge
// from a client that must send one: every public client (RFC 9700
// §2.1.1), and confidential ones with RequirePKCE. Responses without a
// code have nothing for PKCE to bind.
func checkPKCERequired(c store.Client, responseType, challenge string) *Error {
	if challenge != "" || !(c.Public() || c.RequirePKCE) || !slices.Contains(strings.Fields(responseType), "code") {
		return nil
	}
	if c.Public() {
		return newError(ErrInvalidRequest, "code_challenge is required: a public client must use PKCE (S256)")
	}
	return newError(ErrInvalidRequest, "code_challenge is required: the application requires PKCE (S256)")
}

// loopbackMatch returns a test of whether requested is a loopback
// redirect URI that a native client's registered callback allows: the
// registered one is http on the IP literal 127.0.0.1 or [::1] without a
// port, and requested is the same but for its port, which the app picks
// when it starts listening (RFC 8252 §7.3). localhost is matched exactly
// only: RFC 8252 §8.3 advises against it, since the name may resolve
// elsewhere and a firewall may treat it differently.
func loopbackMatch(requested string) func(registered string) bool {
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || req.Port() == "" || !isLoopbackIP(req.Hostname()) {
		return func(string) bool { return false }
	}
	return func(registered string) bool {
		reg, err := url.Parse(registered)
		if err != nil || reg.Scheme != "http" || reg.Port() != "" || !isLoopbackIP(reg.Hostname()) {
			return false
		}
		return reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() &&
			reg.RawQuery == req.RawQuery && reg.User == nil && req.User == nil
	}
}

// isLoopbackIP reports whether h is the IPv4 or IPv6 loopback literal the
// way RFC 8252 §7.3 names them.
func isLoopbackIP(h string) bool {
	if h != "127.0.0.1" && h != "::1" {
		return false
	}
	return net.ParseIP(h).IsLoopback()
}

// idTokenAlgorithm is the algorithm of the client's ID tokens: its
// id_token_signed_response_alg, or the default ring's.
func (p *Provider) idTokenAlgorithm(ctx context.Context, c store.Client) (string, error) {
	if c.IDTokenSigningAlg != "" {
		return c.IDTokenSigningAlg, nil
	}
	return p.cfg.Keys.SigningAlgorithm(ctx)
}

// signIDToken signs the ID token's claims with alg, creating alg's key
// ring when the client's algorithm has none yet (the management layer
// creates it with the application; this covers a ring deleted since).
func (p *Provider) signIDToken(ctx context.Context, c store.Client, alg string, claims map[string]any) (string, error) {
	if c.IDTokenSigningAlg == "" {
		return p.cfg.Keys.Sign(ctx, claims, "JWT")
	}
	s, err := p.cfg.Keys.SignWith(ctx, alg, claims, "JWT")
	if errors.Is(err, store.ErrNotFound) {
		if err = p.cfg.Keys.EnsureAlgorithm(ctx, alg); err == nil {
			s, err = p.cfg.Keys.SignWith(ctx, alg, claims, "JWT")
		}
	}
	return s, err
}

// idTokenAlgorithms are the ID token algorithms discovery lists: the
// default ring's first, RS256 always (OIDC Discovery §3), and those an
// application may choose.
func idTokenAlgorithms(def string) []string {
	algs := []string{def}
	for _, a := range []string{"RS256", "ES256", "EdDSA"} {
		if !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	return algs
}
