package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4/jwt"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// clientCredentials are what a request presents to authenticate its client
// (RFC 6749 §2.3.1): HTTP Basic, or client_id and client_secret in the
// body, or client_id alone for a public client.
type clientCredentials struct {
	id, secret string
	// triedBasic is set when an Authorization: Basic header came, well
	// formed or not: a 401 then carries a Basic challenge (RFC 6749 §5.2).
	triedBasic bool
	// assertionToken is a private_key_jwt client assertion (RFC 7523),
	// parsed but not verified; id is its iss.
	assertionToken *jwt.JSONWebToken
}

// parseClientCredentials reads the client's credentials from the
// Authorization header or the form.
func parseClientCredentials(r *http.Request, form url.Values) (clientCredentials, error) {
	auth := r.Header.Get("Authorization")
	c := clientCredentials{triedBasic: len(auth) >= 6 && strings.EqualFold(auth[:6], "basic ")}
	id, secret, basic := r.BasicAuth()
	_, postSecret := form["client_secret"]
	_, assertion := form["client_assertion"]
	_, assertionType := form["client_assertion_type"]
	if basic && postSecret || (assertion || assertionType) && (basic || postSecret) {
		return c, newError(ErrInvalidRequest, "use one client authentication method, not both")
	}
	if assertion || assertionType {
		return parseClientAssertion(c, form)
	}
	if basic {
		// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
		var err1, err2 error
		c.id, err1 = url.QueryUnescape(id)
		c.secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return c, c.unauthorized("malformed client credentials in the Authorization header")
		}
		if formID := form.Get("client_id"); formID != "" && formID != c.id {
			return c, newError(ErrInvalidRequest, "client_id in the body does not match the Authorization header")
		}
		return c, nil
	}
	if auth != "" {
		return c, c.unauthorized("unsupported Authorization header; use HTTP Basic or client_secret_post")
	}
	c.id, c.secret = form.Get("client_id"), form.Get("client_secret")
	return c, nil
}

// unauthorized is RFC 6749 §5.2's invalid_client: 401, with a Basic
// challenge when Basic was tried.
func (c clientCredentials) unauthorized(desc string) *Error {
	return &Error{Code: ErrInvalidClient, Description: desc, Status: http.StatusUnauthorized, BasicAuth: c.triedBasic}
}

// authenticate checks the credentials against the client's registered
// method. A confidential client proves itself with its secret, by either
// secret method: the seed's curl posts the secret of an application
// registered with the default, client_secret_basic. A public client
// (method none) presents its client_id alone.
func (p *Provider) authenticate(ctx context.Context, c clientCredentials) (store.Client, error) {
	if c.id == "" {
		return store.Client{}, c.unauthorized("client authentication is required")
	}
	client, err := p.cfg.Store.GetClient(ctx, c.id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, c.unauthorized("client authentication failed")
	}
	if err != nil {
		return store.Client{}, err
	}
	if client.TokenEndpointAuthMethod == store.AuthMethodPrivateKeyJWT || c.assertionToken != nil {
		if client.TokenEndpointAuthMethod != store.AuthMethodPrivateKeyJWT {
			return store.Client{}, c.unauthorized("the application does not authenticate with private_key_jwt")
		}
		if c.assertionToken == nil {
			return store.Client{}, c.unauthorized("the application authenticates with private_key_jwt: send client_assertion and client_assertion_type")
		}
		if err := p.verifyClientAssertion(ctx, c, client); err != nil {
			return store.Client{}, err
		}
		return client, nil
	}
	if client.Public() {
		if c.secret != "" {
			return store.Client{}, c.unauthorized("the application is a public client and has no secret; send client_id alone")
		}
		return client, nil
	}
	if c.secret == "" {
		return store.Client{}, c.unauthorized("the client secret is missing")
	}
	if subtle.ConstantTimeCompare([]byte(token.Hash(c.secret)), []byte(client.SecretHash)) != 1 {
		return store.Client{}, c.unauthorized("client authentication failed")
	}
	return client, nil
}

// authenticateClient authenticates the client of a revocation or
// introspection request.
func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (store.Client, error) {
	c, err := parseClientCredentials(r, form)
	if err != nil {
		return store.Client{}, err
	}
	return p.authenticate(ctx, c)
}

// parseClientAssertion reads a JWT client assertion (RFC 7523 §2.2); the
// client is its iss, which a client_id in the body must match.
func parseClientAssertion(c clientCredentials, form url.Values) (clientCredentials, error) {
	if form.Get("client_assertion_type") != ClientAssertionType {
		return c, newError(ErrInvalidRequest, "client_assertion_type must be %s", ClientAssertionType)
	}
	tok, iss, err := assertionIssuer(form.Get("client_assertion"))
	if err != nil {
		return c, c.unauthorized(err.Error())
	}
	if id := form.Get("client_id"); id != "" && id != iss {
		return c, c.unauthorized("client_id does not match the client assertion's iss")
	}
	c.id, c.assertionToken = iss, tok
	return c, nil
}
