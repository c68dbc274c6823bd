package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// tokenRequest is a /oauth/token request, parsed once.
type tokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
	hasScope     bool
}

// grant is one grant type of the token endpoint. The dispatcher has
// already authenticated the client and checked that it may use the grant.
type grant interface {
	exchange(ctx context.Context, req tokenRequest, client store.Client) (*tokenResponse, error)
}

// tokenResponse is RFC 6749 §5.1's success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
}

// postOnly answers anything but POST at the token, revocation and
// introspection endpoints, in their JSON error shape.
func postOnly(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "this endpoint accepts only POST", Status: http.StatusMethodNotAllowed})
}

// token handles POST /oauth/token (RFC 6749 §3.2).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	resp, err := p.handleToken(r)
	if err != nil {
		var oe *Error
		if !errors.As(err, &oe) {
			oe = p.internalError("token endpoint", err)
		}
		writeJSONError(w, oe)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) handleToken(r *http.Request) (*tokenResponse, error) {
	form, err := p.parseClientForm(r)
	if err != nil {
		return nil, err
	}
	client, err := p.authenticateClient(r.Context(), r, form)
	if err != nil {
		return nil, err
	}
	req := tokenRequest{
		GrantType:    form.Get("grant_type"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		Scope:        form.Get("scope"),
	}
	_, req.hasScope = form["scope"]
	if req.GrantType == "" {
		return nil, newError(ErrInvalidRequest, "the grant_type parameter is missing")
	}
	g, ok := p.grants[req.GrantType]
	if !ok {
		return nil, newError(ErrUnsupportedGrantType, "grant_type %s is not supported", req.GrantType)
	}
	if !slices.Contains(client.GrantTypes, req.GrantType) {
		return nil, newError(ErrUnauthorizedClient, "the application may not use the %s grant", req.GrantType)
	}
	return g.exchange(r.Context(), req, client)
}

// authenticateClient checks client_secret_basic or client_secret_post
// (RFC 6749 §2.3.1). Failures are 401 invalid_client.
func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (store.Client, error) {
	id, secret, basic := r.BasicAuth()
	// A malformed Basic header still gets a Basic challenge (RFC 6749 §5.2).
	triedBasic := len(r.Header.Get("Authorization")) >= 6 && strings.EqualFold(r.Header.Get("Authorization")[:6], "basic ")
	_, postSecret := form["client_secret"]
	if basic && postSecret {
		return store.Client{}, newError(ErrInvalidRequest, "use one client authentication method, not both")
	}
	unauthorized := func(desc string) error {
		return &Error{Code: ErrInvalidClient, Description: desc, Status: http.StatusUnauthorized, BasicAuth: triedBasic}
	}
	if basic {
		// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return store.Client{}, unauthorized("malformed client credentials in the Authorization header")
		}
		if formID := form.Get("client_id"); formID != "" && formID != id {
			return store.Client{}, newError(ErrInvalidRequest, "client_id in the body does not match the Authorization header")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
		if r.Header.Get("Authorization") != "" {
			return store.Client{}, unauthorized("unsupported Authorization header; use HTTP Basic or client_secret_post")
		}
	}
	if id == "" {
		return store.Client{}, unauthorized("client authentication is required")
	}
	if secret == "" {
		return store.Client{}, unauthorized("the client secret is missing")
	}
	client, err := p.cfg.Store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, unauthorized("client authentication failed")
	}
	if err != nil {
		return store.Client{}, err
	}
	if subtle.ConstantTimeCompare([]byte(token.Hash(secret)), []byte(client.SecretHash)) != 1 {
		return store.Client{}, unauthorized("client authentication failed")
	}
	return client, nil
}
