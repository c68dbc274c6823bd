package store

import "context"

// UpstreamLogin is what a request remembers while the browser is at an
// upstream connection's provider.
type UpstreamLogin struct {
	Connection string
	StateHash  string // hash of the secret part of the state sent upstream
	Nonce      string
	Verifier   string // PKCE code verifier
}

// AuthRequestSteps records what happened on a pending authorization
// request, one intent at a time. Each method changes only the fields its
// name says, in one statement, so steps taken in parallel (two tabs, an
// upstream callback racing a consent post) never overwrite each other.
// Each returns ErrNotFound when the request is gone or expired.
type AuthRequestSteps interface {
	// RecordAuthentication notes that userID authenticated on the request
	// with the given methods (amr values).
	RecordAuthentication(ctx context.Context, requestID, userID string, methods []string) error
	// RecordConsent notes that userID approved the consent page.
	RecordConsent(ctx context.Context, requestID, userID string) error
	// SetAuthRequestOrganization sets the organization the user chose.
	SetAuthRequestOrganization(ctx context.Context, requestID, orgID string) error
	// StartUpstreamLogin remembers an upstream login in progress.
	StartUpstreamLogin(ctx context.Context, requestID string, u UpstreamLogin) error
	// EndAuthRequest ends the request with an error for the client
	// (access_denied when the user denied consent or cancelled upstream).
	EndAuthRequest(ctx context.Context, requestID, code, description string) error
}
