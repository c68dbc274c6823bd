package store

import "strings"

// OpenIDScopes are the scopes OpenID Connect defines, which Gatehouse
// understands without an API; no API may define a scope of these names.
var OpenIDScopes = []string{"openid", "profile", "email", "offline_access"}

// Application types (Client.Type).
const (
	ClientRegularWeb = "regular_web" // a web application with a server: confidential
	ClientSPA        = "spa"         // a single-page application in the browser: public
	ClientNative     = "native"      // a mobile or desktop application: public
	ClientM2M        = "m2m"         // a machine-to-machine client: client_credentials only
)

// Client authentication methods at the token endpoint
// (Client.TokenEndpointAuthMethod; RFC 7591 §2).
const (
	AuthMethodSecretBasic = "client_secret_basic" // the secret in HTTP Basic (RFC 6749 §2.3.1)
	AuthMethodSecretPost  = "client_secret_post"  // the secret in the form body
	AuthMethodNone        = "none"                // a public client: client_id alone, PKCE required
	// AuthMethodPrivateKeyJWT is a JWT signed with a key of the client's
	// registered JWK Set (RFC 7523 §2.2, OIDC Core §9).
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// Grant types (Client.GrantTypes; RFC 6749).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	// GrantImplicit lets an application receive ID tokens from /authorize
	// (response_type id_token and code id_token); never access tokens.
	GrantImplicit = "implicit"
)

// Public reports whether the client is a public client (RFC 6749 §2.1): one
// that cannot keep a secret and authenticates with its client_id alone.
// An empty method is a confidential client's default, client_secret_basic.
func (c Client) Public() bool { return c.TokenEndpointAuthMethod == AuthMethodNone }

// ManagementAudience is the identifier of the management API (/api/v2) of
// the server with this issuer; its tokens come from client_credentials only.
func ManagementAudience(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/api/v2/"
}
