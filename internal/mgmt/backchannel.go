package mgmt

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// validateBackchannelLogoutURI checks an application's back-channel logout
// URI: absolute, https (http only on loopback hosts, for development), no
// fragment (OpenID Back-Channel Logout 1.0 §2.2). "" turns it off.
func validateBackchannelLogoutURI(s string) error {
	if s == "" {
		return nil
	}
	if err := ValidateRedirectURI(s); err != nil {
		return invalid("backchannel_logout_uri", "back-channel logout URI: %v", err)
	}
	// ValidateRedirectURI lets "localhost" use http; a name may resolve
	// anywhere, so the server-to-server call asks for an address.
	if u, _ := url.Parse(s); u.Scheme == "http" && strings.EqualFold(u.Hostname(), "localhost") {
		return invalid("backchannel_logout_uri", "back-channel logout URI %q uses http; use https (http is allowed only for 127.0.0.1 and [::1])", s)
	}
	return nil
}

// queueLogouts queues the back-channel logout tokens owed when an operator
// ends sessions: sessionID's, or every session of userID. The protocol
// server's worker sends them; this must run before the sessions go.
func (s *Service) queueLogouts(ctx context.Context, sessionID, userID string) error {
	if _, err := s.st.QueueSessionLogouts(ctx, sessionID, userID, s.now()); err != nil {
		return fmt.Errorf("queue back-channel logouts: %w", err)
	}
	return nil
}
