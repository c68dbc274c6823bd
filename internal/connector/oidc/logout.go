package oidc

import (
	"fmt"
	"net/url"

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/oauth2"
)

var _ connector.LogoutConnector = (*Connector)(nil)

// LogoutURL returns the provider's end_session_endpoint (from its
// discovery document) with this connection's client_id and returnTo as
// the post_logout_redirect_uri (RP-Initiated Logout 1.0 §2, §3), or ""
// when the provider lists none. returnTo must be registered at the
// provider as a post-logout redirect URI of this client.
func (c *Connector) LogoutURL(returnTo string) (string, error) {
	var md struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := c.provider.Claims(&md); err != nil {
		return "", fmt.Errorf("oidc connection %q: discovery document: %w", c.name, err)
	}
	if md.EndSession == "" {
		return "", nil
	}
	if err := oauth2.CheckURL("discovery: end_session_endpoint", md.EndSession); err != nil {
		return "", fmt.Errorf("oidc connection %q: %w", c.name, err)
	}
	u, err := url.Parse(md.EndSession)
	if err != nil {
		return "", fmt.Errorf("oidc connection %q: end_session_endpoint: %w", c.name, err)
	}
	q := u.Query()
	q.Set("client_id", c.oauth.ClientID)
	if returnTo != "" {
		q.Set("post_logout_redirect_uri", returnTo)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
