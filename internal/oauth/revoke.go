package oauth

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// revoke handles POST /oauth/revoke (RFC 7009): a refresh token revokes its
// whole family and the family's access tokens; an opaque access token
// revokes itself. Unknown tokens answer 200 (RFC 7009 §2.2).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	if err := p.handleRevoke(r); err != nil {
		var oe *Error
		if !errors.As(err, &oe) {
			oe = p.internalError("revocation endpoint", err)
		}
		writeJSONError(w, oe)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) handleRevoke(r *http.Request) error {
	form, err := p.parseClientForm(r)
	if err != nil {
		return err
	}
	client, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return newError(ErrInvalidRequest, "the token parameter is missing")
	}
	ctx := r.Context()
	if looksLikeJWT(raw) {
		if _, err := p.verifyAccessJWT(ctx, raw, p.now()); err == nil {
			// RFC 7009 §2.2.1: self-contained tokens stay valid until they expire.
			return newError("unsupported_token_type", "JWT access tokens cannot be revoked; they expire on their own")
		}
		return nil
	}
	id := token.Hash(raw)
	// token_type_hint only orders the look-ups (RFC 7009 §2.1); both are tried.
	rt, err := p.cfg.Store.GetRefreshToken(ctx, id)
	switch {
	case err == nil:
		if rt.ClientID != client.ID {
			return newError(ErrUnauthorizedClient, "the token was issued to another client")
		}
		if err := p.cfg.Store.RevokeGrant(ctx, rt.FamilyID); err != nil {
			return fmt.Errorf("revoke refresh token family: %w", err)
		}
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("revoke: get refresh token: %w", err)
	}
	at, err := p.cfg.Store.GetAccessToken(ctx, id, p.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("revoke: get access token: %w", err)
	case at.ClientID != client.ID:
		return newError(ErrUnauthorizedClient, "the token was issued to another client")
	}
	if err := p.cfg.Store.RevokeAccessToken(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke access token: %w", err)
	}
	return nil
}

// parseClientForm reads a form-encoded POST body of a client-authenticated
// endpoint, refusing repeated parameters (RFC 6749 §3.2).
func (p *Provider) parseClientForm(r *http.Request) (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, newError(ErrInvalidRequest, "the request body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if formTooLarge(err) {
			return nil, errFormTooLarge()
		}
		return nil, newError(ErrInvalidRequest, "the request body could not be parsed")
	}
	for name, vals := range r.PostForm {
		if len(vals) > 1 {
			return nil, newError(ErrInvalidRequest, "the %s parameter was given more than once", name)
		}
	}
	return r.PostForm, nil
}
