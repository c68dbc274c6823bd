package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	xoauth2 "golang.org/x/oauth2"

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/oauth2"
)

// DefaultScopes ask for the standard profile claims.
var DefaultScopes = []string{gooidc.ScopeOpenID, "profile", "email"}

// Config configures an oidc connection.
type Config struct {
	Name string // the connection name; users get ids "oidc-NAME|SUB"
	// Issuer is the provider's issuer identifier; discovery is at
	// Issuer + "/.well-known/openid-configuration" and the document must
	// name the same issuer.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes default to DefaultScopes; "openid" is added when missing.
	Scopes []string
	// ClaimMapping maps Gatehouse profile fields (see oauth2.ClaimFields)
	// to upstream claims; unmapped fields use the same-named standard
	// claim.
	ClaimMapping map[string]string
	// HTTPClient makes discovery, token, JWKS and userinfo requests; a nil
	// client or a zero Timeout gets oauth2.DefaultTimeout.
	HTTPClient *http.Client
}

// Connector is an oidc connection.
type Connector struct {
	name     string
	issuer   string
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	oauth    *xoauth2.Config
	mapping  oauth2.Mapping
	client   *http.Client
	// issParam: the provider sends iss on its authorization responses
	// (RFC 9207), so a response without it is refused.
	issParam bool
}

var _ connector.CallbackConnector = (*Connector)(nil)

// metadata is the part of the discovery document go-oidc does not expose.
type metadata struct {
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	ISSParam    bool     `json:"authorization_response_iss_parameter_supported"`
}

// Open validates cfg, then runs discovery. The client authenticates at the
// token endpoint with HTTP Basic unless the provider supports only
// client_secret_post.
func Open(ctx context.Context, cfg Config) (*Connector, error) {
	if err := oauth2.CheckName(cfg.Name); err != nil {
		return nil, fmt.Errorf("oidc connection: %w", err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("oidc connection %q: "+format, append([]any{cfg.Name}, args...)...)
	}
	if cfg.ClientID == "" {
		return nil, fail("client id is missing")
	}
	if cfg.ClientSecret == "" {
		return nil, fail("client secret is missing")
	}
	if err := oauth2.CheckURL("issuer", cfg.Issuer); err != nil {
		return nil, fail("%w", err)
	}
	if strings.Contains(cfg.Issuer, "?") {
		return nil, fail("issuer: %q must have no query", cfg.Issuer)
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	if !slices.Contains(scopes, gooidc.ScopeOpenID) {
		scopes = append([]string{gooidc.ScopeOpenID}, scopes...)
	}
	if err := oauth2.CheckScopes(scopes); err != nil {
		return nil, fail("%w", err)
	}
	m, err := oauth2.NewMapping(cfg.ClaimMapping)
	if err != nil {
		return nil, fail("%w", err)
	}

	client := oauth2.HTTPClient(cfg.HTTPClient)
	// The provider keeps the client for its JWKS requests.
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fail("discovery at %s failed: %w", cfg.Issuer, err)
	}
	ep := p.Endpoint()
	for _, u := range []struct{ field, value string }{
		{"discovery: authorization_endpoint", ep.AuthURL}, {"discovery: token_endpoint", ep.TokenURL},
	} {
		if err := oauth2.CheckURL(u.field, u.value); err != nil {
			return nil, fail("%w", err)
		}
	}
	if ui := p.UserInfoEndpoint(); ui != "" {
		if err := oauth2.CheckURL("discovery: userinfo_endpoint", ui); err != nil {
			return nil, fail("%w", err)
		}
	}
	var md metadata
	if err := p.Claims(&md); err != nil {
		return nil, fail("discovery document: %w", err)
	}
	switch {
	// client_secret_basic is the default when the provider does not say
	// (OpenID Connect Discovery 1.0 §3).
	case len(md.AuthMethods) == 0 || slices.Contains(md.AuthMethods, "client_secret_basic"):
		ep.AuthStyle = xoauth2.AuthStyleInHeader
	case slices.Contains(md.AuthMethods, "client_secret_post"):
		ep.AuthStyle = xoauth2.AuthStyleInParams
	default:
		return nil, fail("the provider supports neither client_secret_basic nor client_secret_post (it lists %v)", md.AuthMethods)
	}
	return &Connector{
		name:     cfg.Name,
		issuer:   cfg.Issuer,
		provider: p,
		verifier: p.Verifier(&gooidc.Config{ClientID: cfg.ClientID}),
		oauth: &xoauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     ep,
			Scopes:       slices.Clone(scopes),
		},
		mapping:  m,
		client:   client,
		issParam: md.ISSParam,
	}, nil
}

// Provider is "oidc-" and the connection name.
func (c *Connector) Provider() string { return "oidc-" + c.name }

// LoginURL is the authorization endpoint with state, nonce, a PKCE S256
// challenge and login_hint.
func (c *Connector) LoginURL(_ context.Context, f connector.Flow) (string, error) {
	if err := checkFlow(f); err != nil {
		return "", err
	}
	opts := []xoauth2.AuthCodeOption{
		xoauth2.SetAuthURLParam("redirect_uri", f.CallbackURL),
		gooidc.Nonce(f.Nonce),
		xoauth2.S256ChallengeOption(f.CodeVerifier),
	}
	if f.LoginHint != "" {
		opts = append(opts, xoauth2.SetAuthURLParam("login_hint", f.LoginHint))
	}
	return c.oauth.AuthCodeURL(f.State, opts...), nil
}

func checkFlow(f connector.Flow) error {
	if f.Nonce == "" {
		return errors.New("login flow: nonce is missing")
	}
	return oauth2.CheckFlow(f)
}

// HandleCallback exchanges the code, verifies the ID token and its nonce,
// and maps the ID token's claims merged with the userinfo endpoint's.
func (c *Connector) HandleCallback(ctx context.Context, f connector.Flow, r *http.Request) (connector.Identity, error) {
	if err := checkFlow(f); err != nil {
		return connector.Identity{}, err
	}
	// RFC 9207 §2.4: an iss that is not our provider's means the response
	// comes from another provider (a mix-up attack), error responses
	// included; if the provider promises iss, its absence is as bad.
	q := r.URL.Query()
	if iss, ok := q["iss"]; ok || c.issParam {
		if !ok || len(iss) != 1 || iss[0] != c.issuer {
			return connector.Identity{}, &connector.UpstreamError{
				Description: "the authorization response was not issued by " + c.issuer,
				Err:         fmt.Errorf("iss parameter %q", iss),
			}
		}
	}
	code, err := oauth2.CallbackCode(r)
	if err != nil {
		return connector.Identity{}, err
	}
	ctx = gooidc.ClientContext(ctx, c.client)
	tok, err := c.oauth.Exchange(ctx, code,
		xoauth2.SetAuthURLParam("redirect_uri", f.CallbackURL), xoauth2.VerifierOption(f.CodeVerifier))
	if err != nil {
		return connector.Identity{}, oauth2.ExchangeError(err)
	}

	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return connector.Identity{}, &connector.UpstreamError{Description: "the token response has no ID token"}
	}
	idt, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "the ID token is not valid", Err: err}
	}
	// The nonce ties the ID token to this login (OpenID Connect Core 1.0
	// §3.1.3.7 step 11): a token from another login must not be replayed.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return connector.Identity{}, &connector.UpstreamError{Description: "the ID token was issued for another login (nonce mismatch)"}
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return connector.Identity{}, &connector.UpstreamError{Description: "the access token does not match the ID token", Err: err}
		}
	}
	var rawClaims json.RawMessage
	if err := idt.Claims(&rawClaims); err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "the ID token's claims are malformed", Err: err}
	}
	claims, err := oauth2.DecodeClaims(rawClaims)
	if err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "the ID token's claims are malformed", Err: err}
	}
	// §3.1.3.7 step 3-5: with several audiences, azp must name us.
	if azp, ok := claims["azp"].(string); ok && len(idt.Audience) > 1 && azp != c.oauth.ClientID {
		return connector.Identity{}, &connector.UpstreamError{Description: "the ID token was issued to another client", Err: fmt.Errorf("azp %q", azp)}
	}

	if c.provider.UserInfoEndpoint() != "" {
		ui, err := c.provider.UserInfo(ctx, xoauth2.StaticTokenSource(tok))
		if err != nil {
			return connector.Identity{}, &connector.UpstreamError{Description: "the userinfo request failed" + oauth2.Reason(err), Err: err}
		}
		// OpenID Connect Core 1.0 §5.3.4: a userinfo answer about another
		// subject must not be used.
		if ui.Subject != idt.Subject {
			return connector.Identity{}, &connector.UpstreamError{
				Description: "the userinfo answer is about another user",
				Err:         fmt.Errorf("userinfo sub %q, ID token sub %q", ui.Subject, idt.Subject),
			}
		}
		var rawUI json.RawMessage
		if err := ui.Claims(&rawUI); err != nil {
			return connector.Identity{}, &connector.UpstreamError{Description: "the userinfo answer is malformed", Err: err}
		}
		uiClaims, err := oauth2.DecodeClaims(rawUI)
		if err != nil {
			return connector.Identity{}, &connector.UpstreamError{Description: "the userinfo answer is malformed", Err: err}
		}
		// userinfo is as trusted as the ID token (the same provider, over
		// TLS, for this access token) and may be fresher or fuller.
		maps.Copy(claims, uiClaims)
	}
	id, err := c.mapping.Identity(claims)
	if err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "the provider sent no user id", Err: err}
	}
	return id, nil
}
