package connector

// LogoutConnector is an upstream connection whose provider can end the
// user's session there too (the federated logout of /v2/logout), through
// OpenID Connect RP-Initiated Logout 1.0.
type LogoutConnector interface {
	// LogoutURL returns where to send the browser to end its session at
	// the provider, which then sends it back to returnTo ("" for none). It
	// returns "" when the provider offers no logout endpoint.
	LogoutURL(returnTo string) (string, error)
}
