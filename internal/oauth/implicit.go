package oauth

import (
	"context"
	"errors"
	"slices"
)

// frontIDToken signs the ID token that /authorize returns for the
// response types id_token and code id_token (OIDC Core §3.2.2.10,
// §3.3.2.11), with c_hash when code is not empty. No access token comes
// with it, so it has no at_hash, and the claims of the profile and email
// scopes travel in it (§5.4).
func (p *Provider) frontIDToken(ctx context.Context, f *flow, code string) (string, error) {
	if f.user.Blocked {
		return "", newError(ErrAccessDenied, "the user is blocked")
	}
	org, err := p.orgClaims(ctx, f.req.Organization, f.user.ID)
	var oerr *Error
	if errors.As(err, &oerr) {
		// At /authorize a refusal is the user's, not a grant's.
		return "", newError(ErrAccessDenied, "%s", oerr.Description)
	}
	if err != nil {
		return "", err
	}
	user := f.user
	ip := issueParams{
		client: f.client, user: &user, userID: user.ID, session: f.sess.ID,
		scopes:   slices.DeleteFunc(slices.Clone(f.req.Scopes), func(s string) bool { return s == "offline_access" }),
		audience: f.req.Audience, org: f.req.Organization, nonce: f.req.Nonce, code: code,
		authTime: f.sess.AuthTime, amr: amr(f.sess.Methods), orgClaims: org,
	}
	// The application gets this session's sid now: its logout is owed.
	if err := p.recordSessionClient(ctx, f.sess.ID, f.client, p.now()); err != nil {
		return "", err
	}
	idTTL, _ := p.lifetimes(f.client)
	return p.idToken(ctx, ip, ip.scopes, "", p.now(), idTTL)
}
