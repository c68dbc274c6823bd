package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// introspect handles POST /oauth/introspect (RFC 7662). The caller
// authenticates as a client. It may introspect the tokens issued to it, and
// any token whose audience is an API (the API's backend registers as a
// client to ask). Everything else, including unknown, expired and revoked
// tokens, is {"active": false} (RFC 7662 §2.2).
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	resp, err := p.handleIntrospect(r)
	if err != nil {
		var oe *Error
		if !errors.As(err, &oe) {
			oe = p.internalError("introspection endpoint", err)
		}
		writeJSONError(w, oe)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

var inactive = map[string]any{"active": false}

func (p *Provider) handleIntrospect(r *http.Request) (map[string]any, error) {
	form, err := p.parseClientForm(r)
	if err != nil {
		return nil, err
	}
	client, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return nil, err
	}
	// Anyone may present a public client's id, and introspection shows
	// any API's tokens to the client that asks.
	if client.Public() {
		return nil, &Error{Code: ErrInvalidClient, Description: "a public client cannot introspect tokens", Status: http.StatusUnauthorized}
	}
	raw := form.Get("token")
	if raw == "" {
		return nil, newError(ErrInvalidRequest, "the token parameter is missing")
	}
	ctx := r.Context()
	now := p.now()
	if looksLikeJWT(raw) {
		c, err := p.verifyAccessJWT(ctx, raw, now)
		if err != nil {
			return inactive, nil
		}
		resp := map[string]any{
			"active": true, "token_type": "Bearer", "scope": c.Scope, "client_id": c.ClientID,
			"sub": c.Subject, "aud": c.Audience, "iss": c.Issuer, "exp": c.Expiry, "iat": c.IssuedAt,
		}
		if c.ID != "" { // the hosted service's default profile has no jti
			resp["jti"] = c.ID
		}
		return resp, nil
	}
	id := token.Hash(raw)
	at, err := p.cfg.Store.GetAccessToken(ctx, id, now)
	switch {
	case err == nil:
		if at.ClientID != client.ID && at.Audience == "" {
			return inactive, nil
		}
		return map[string]any{
			"active": true, "token_type": "Bearer", "scope": strings.Join(at.Scopes, " "), "client_id": at.ClientID,
			"sub": at.UserID, "iss": p.cfg.Issuer, "exp": at.ExpiresAt.Unix(), "iat": at.CreatedAt.Unix(),
		}, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("introspect: get access token: %w", err)
	}
	rt, err := p.cfg.Store.GetRefreshToken(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return inactive, nil
	case err != nil:
		return nil, fmt.Errorf("introspect: get refresh token: %w", err)
	}
	if rt.ClientID != client.ID || rt.Revoked || rt.UsedAt != nil || !now.Before(rt.ExpiresAt) {
		return inactive, nil
	}
	return map[string]any{
		"active": true, "token_type": "refresh_token", "scope": strings.Join(rt.Scopes, " "), "client_id": rt.ClientID,
		"sub": rt.UserID, "iss": p.cfg.Issuer, "exp": rt.ExpiresAt.Unix(), "iat": rt.CreatedAt.Unix(),
	}, nil
}
