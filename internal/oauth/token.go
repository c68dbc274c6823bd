package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"gatehouse/internal/store"
)

// tokenRequest is a /oauth/token request, parsed once.
type tokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Audience     string
	// Scopes are the values of the scope parameter; hasScope tells an
	// empty scope parameter from none.
	Scopes   []string
	hasScope bool
	// creds are the client's credentials, from the header or the body.
	creds clientCredentials
}

// grant is one grant type of the token endpoint. The dispatcher has parsed
// the request, authenticated the client as its registered method says, and
// checked that the client may use the grant: the grant only exchanges.
type grant interface {
	exchange(ctx context.Context, req tokenRequest, client store.Client) (*tokenResponse, error)
}

// registeredGrant is a grant type the token endpoint offers, under its
// grant_type value.
type registeredGrant struct {
	name string
	// confidential grants are for confidential clients only (RFC 6749
	// §4.4.1: client_credentials).
	confidential bool
	grant
}

// tokenResponse is RFC 6749 §5.1's success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`

	// userID and audience say whom and what the tokens are for, for the
	// audit log; they are not sent.
	userID   string
	audience string
}

// postOnly answers anything but POST at the token, revocation and
// introspection endpoints, in their JSON error shape.
func postOnly(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "this endpoint accepts only POST", Status: http.StatusMethodNotAllowed})
}

// token handles POST /oauth/token (RFC 6749 §3.2).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	var ex exchange
	resp, err := p.handleToken(r, &ex)
	p.recordExchange(r, ex, resp, err)
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

// handleToken is the grant dispatcher: the steps every grant shares, in
// order, then the grant's exchange. It notes in ex how far the request
// got, for the audit log.
func (p *Provider) handleToken(r *http.Request, ex *exchange) (*tokenResponse, error) {
	req, err := p.parseTokenRequest(r)
	if err != nil {
		return nil, err
	}
	ex.grantType, ex.clientID = req.GrantType, req.creds.id
	client, err := p.authenticate(r.Context(), req.creds)
	if err != nil {
		return nil, err
	}
	ex.client = &client
	g, err := p.grantFor(req.GrantType, client)
	if err != nil {
		return nil, err
	}
	return g.exchange(r.Context(), req, client)
}

// parseTokenRequest reads the form and the client's credentials.
func (p *Provider) parseTokenRequest(r *http.Request) (tokenRequest, error) {
	form, err := p.parseClientForm(r)
	if err != nil {
		return tokenRequest{}, err
	}
	creds, err := parseClientCredentials(r, form)
	if err != nil {
		return tokenRequest{}, err
	}
	req := tokenRequest{
		GrantType:    form.Get("grant_type"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		Audience:     form.Get("audience"),
		Scopes:       strings.Fields(form.Get("scope")),
		creds:        creds,
	}
	_, req.hasScope = form["scope"]
	return req, nil
}

// grantFor returns the grant of grant_type for the authenticated client:
// one the server offers (unsupported_grant_type), the client's type
// allows (unauthorized_client) and its kind of client may use.
func (p *Provider) grantFor(grantType string, client store.Client) (grant, error) {
	if grantType == "" {
		return nil, newError(ErrInvalidRequest, "the grant_type parameter is missing")
	}
	i := slices.IndexFunc(p.grants, func(g registeredGrant) bool { return g.name == grantType })
	if i < 0 {
		return nil, newError(ErrUnsupportedGrantType, "grant_type %s is not supported", grantType)
	}
	g := p.grants[i]
	if !slices.Contains(client.GrantTypes, g.name) || (g.confidential && client.Public()) {
		return nil, newError(ErrUnauthorizedClient, "the application may not use the %s grant", g.name)
	}
	return g.grant, nil
}

// grantTypes are the grant_type values the token endpoint offers, as
// discovery lists them.
func (p *Provider) grantTypes() []string {
	names := make([]string, len(p.grants))
	for i, g := range p.grants {
		names[i] = g.name
	}
	return names
}
