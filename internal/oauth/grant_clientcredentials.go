package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// clientCredentialsGrant is the client_credentials grant (RFC 6749 §4.4): a
// confidential client gets an access token for itself, for an API it has a
// client grant for. There is no user, so no ID token and no refresh token
// (§4.4.3), and nothing is stored: the token is an RFC 9068 JWT.
type clientCredentialsGrant struct{ p *Provider }

// clientSubjectSuffix makes a client's access tokens' sub: CLIENT_ID@clients,
// as the hosted service writes it, so that no sub of a client is a user's.
const clientSubjectSuffix = "@clients"

func (g clientCredentialsGrant) exchange(ctx context.Context, req tokenRequest, client store.Client) (*tokenResponse, error) {
	st := g.p.cfg.Store
	grants, err := st.ListClientGrants(ctx, store.ClientGrantFilter{ClientID: client.ID})
	if err != nil {
		return nil, fmt.Errorf("client credentials: list client grants: %w", err)
	}
	audience := req.Audience
	if audience == "" {
		// Without an audience, an application with one grant means it.
		if len(grants) != 1 {
			return nil, newError(ErrInvalidRequest, "the audience parameter is missing: name the API the token is for")
		}
		audience = grants[0].Audience
	}
	api, err := st.GetAPI(ctx, audience)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(ErrInvalidRequest, "the audience %s is not a registered API", audience)
	}
	if err != nil {
		return nil, fmt.Errorf("client credentials: get api: %w", err)
	}
	i := slices.IndexFunc(grants, func(cg store.ClientGrant) bool { return cg.Audience == api.Identifier })
	if i < 0 {
		return nil, &Error{Code: ErrAccessDenied, Status: http.StatusForbidden,
			Description: sanitize(fmt.Sprintf("the application has no client grant for %s", api.Identifier))}
	}
	scopes, err := grantedScopes(grants[i], api, req)
	if err != nil {
		return nil, err
	}

	now := g.p.now()
	_, ttl := g.p.lifetimes(client)
	if api.TokenLifetime > 0 {
		ttl = api.TokenLifetime
	}
	claims := map[string]any{
		"iss":   g.p.cfg.Issuer,
		"sub":   client.ID + clientSubjectSuffix,
		"aud":   api.Identifier,
		"azp":   client.ID,
		"gty":   "client-credentials",
		"iat":   now.Unix(),
		"exp":   now.Add(ttl).Unix(),
		"scope": strings.Join(scopes, " "),
	}
	if rfc9068(api) {
		claims["client_id"] = client.ID
		claims["jti"] = token.NewOpaque()[:22]
	}
	if api.PermissionsClaim() {
		// Without a user, the permissions are what the client grant gives.
		claims["permissions"] = append([]string{}, scopes...)
	}
	access, err := g.p.signAccessToken(ctx, api, claims)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{
		AccessToken: access,
		TokenType:   "Bearer",
		ExpiresIn:   int64(ttl / time.Second),
		Scope:       strings.Join(scopes, " "),
		audience:    api.Identifier,
	}, nil
}

// grantedScopes are the scopes of the token: those of the client grant that
// the API still has, narrowed to the request's scope parameter when it has
// one (RFC 6749 §3.3). Asking only for scopes the grant lacks is
// invalid_scope.
func grantedScopes(cg store.ClientGrant, api store.API, req tokenRequest) ([]string, error) {
	var scopes []string
	for _, s := range cg.Scopes {
		if !slices.ContainsFunc(api.Scopes, func(a store.APIScope) bool { return a.Name == s }) {
			continue // removed from the API since the grant was made
		}
		if len(req.Scopes) == 0 || slices.Contains(req.Scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if len(req.Scopes) > 0 && len(scopes) == 0 {
		return nil, newError(ErrInvalidScope, "none of the requested scopes is granted to the application for %s", api.Identifier)
	}
	return scopes, nil
}
