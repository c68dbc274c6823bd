package oauth

import (
	"context"

	"gatehouse/internal/connector"
	"gatehouse/internal/store"
)

// upstreamLogoutURL returns where to send the browser to end the user's
// session at the upstream provider of their connection, coming back to
// returnTo; "" when the connection offers no logout (database, GitHub,
// generic OAuth 2.0, an OpenID provider without end_session_endpoint).
// Federated logout is best effort, as the hosted service's is: a failure
// is logged and the local logout goes on.
func (p *Provider) upstreamLogoutURL(ctx context.Context, userID, returnTo string) string {
	if p.cfg.OpenConnector == nil {
		return ""
	}
	log := p.cfg.Log.With("user_id", userID)
	u, err := p.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		log.Warn("federated logout: get user", "err", err)
		return ""
	}
	// The session keeps no connection; the user's own is the one it
	// signed in with unless accounts were linked.
	c, err := p.cfg.Store.GetConnection(ctx, u.Connection)
	if err != nil {
		log.Warn("federated logout: get connection", "err", err)
		return ""
	}
	if c.Strategy != store.StrategyOIDC {
		return ""
	}
	cc, err := p.cfg.OpenConnector(ctx, c)
	if err != nil {
		log.Warn("federated logout: open connection", "connection", c.Name, "err", err)
		return ""
	}
	lc, ok := cc.(connector.LogoutConnector)
	if !ok {
		return ""
	}
	to, err := lc.LogoutURL(returnTo)
	if err != nil {
		log.Warn("federated logout", "connection", c.Name, "err", err)
		return ""
	}
	return to
}
