package mgmt

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// MinClientSecretLength keeps client secrets out of reach of offline
// guessing: they are stored as a fast SHA-256 hash, which is safe only for
// high-entropy values.
const MinClientSecretLength = 32

// maxTokenTTL bounds the token lifetimes an application or API may set.
const maxTokenTTL = 30 * 24 * time.Hour

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// ClientSettings are the settings of an application that create and
// update take. A nil field keeps its value on update and gets its default
// on create.
type ClientSettings struct {
	Name *string
	// Type is store.ClientRegularWeb (the default), ClientSPA,
	// ClientNative or ClientM2M. It sets the defaults below.
	Type *string
	// TokenEndpointAuthMethod is store.AuthMethodSecretBasic (the default
	// of confidential types), AuthMethodSecretPost, or AuthMethodNone: the
	// method of public types (spa and native), and theirs only.
	TokenEndpointAuthMethod *string
	Callbacks               *[]string // allowed redirect URIs, matched exactly
	LogoutURLs              *[]string
	FirstParty              *bool // first-party applications skip consent
	// AllowOfflineAccess lets the application get refresh tokens.
	AllowOfflineAccess *bool
	// AllowImplicit lets a regular_web or spa application get ID tokens
	// from /authorize (response_type id_token or code id_token): the
	// implicit grant, never with access tokens.
	AllowImplicit *bool
	// Token lifetimes; zero means the server's.
	IDTokenTTL     *time.Duration
	AccessTokenTTL *time.Duration
	// The refresh-token policy; zero durations mean the server's.
	RefreshNoRotation *bool
	RefreshOverlap    *time.Duration
	RefreshIdle       *time.Duration
	RefreshAbsolute   *time.Duration
	// Organizations: store.OrgUsage* and store.OrgBehavior*.
	OrganizationUsage    *string
	OrganizationBehavior *string
	// InitiateLoginURI is the application's login route that invitation
	// links open.
	InitiateLoginURI *string
	// MFAPolicy is mfa.PolicyAlways, PolicyOptional, PolicyNever, or
	// PolicyInherit (stored as "") to take the server's mfa.policy.
	MFAPolicy *string
	// RequireVerifiedEmail holds logins back until the user's email is verified.
	RequireVerifiedEmail *bool
	// BackchannelLogoutURI receives the application's logout tokens
	// (OpenID Back-Channel Logout 1.0); "" sends none.
	BackchannelLogoutURI *string
	// WebOrigins may frame the web_message response; AllowedOrigins may
	// call the token endpoint and the others from a browser (CORS). Both
	// are origins: scheme://host[:port].
	WebOrigins     *[]string
	AllowedOrigins *[]string
	// RequirePKCE makes a confidential application send a PKCE challenge
	// (RFC 9700 §2.1.1); on by default for new applications. Public ones
	// must always.
	RequirePKCE *bool
	// IDTokenSigningAlg is RS256 (the default), ES256 or EdDSA.
	IDTokenSigningAlg *string
	// JWKS is the JSON Web Key Set of the public keys that verify the
	// client assertions of a private_key_jwt application.
	JWKS *string
}

// apply copies the settings that are set onto c.
func (in ClientSettings) apply(c *store.Client) {
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
	}
	if in.Type != nil && *in.Type != c.Type {
		c.Type = *in.Type
		// A new type brings its own method unless one is given.
		c.TokenEndpointAuthMethod = defaultAuthMethod(c.Type)
	}
	set(&c.TokenEndpointAuthMethod, in.TokenEndpointAuthMethod)
	set(&c.Callbacks, in.Callbacks)
	set(&c.LogoutURLs, in.LogoutURLs)
	set(&c.FirstParty, in.FirstParty)
	set(&c.AllowOfflineAccess, in.AllowOfflineAccess)
	if in.AllowImplicit != nil {
		c.GrantTypes = slices.DeleteFunc(slices.Clone(c.GrantTypes), func(g string) bool { return g == store.GrantImplicit })
		if *in.AllowImplicit {
			c.GrantTypes = append(c.GrantTypes, store.GrantImplicit)
		}
	}
	set(&c.IDTokenTTL, in.IDTokenTTL)
	set(&c.AccessTokenTTL, in.AccessTokenTTL)
	set(&c.Refresh.NoRotation, in.RefreshNoRotation)
	set(&c.Refresh.Overlap, in.RefreshOverlap)
	set(&c.Refresh.Idle, in.RefreshIdle)
	set(&c.Refresh.Absolute, in.RefreshAbsolute)
	set(&c.OrganizationUsage, in.OrganizationUsage)
	set(&c.OrganizationBehavior, in.OrganizationBehavior)
	set(&c.InitiateLoginURI, in.InitiateLoginURI)
	set(&c.RequireVerifiedEmail, in.RequireVerifiedEmail)
	set(&c.BackchannelLogoutURI, in.BackchannelLogoutURI)
	if in.WebOrigins != nil {
		c.WebOrigins = normalizeOrigins(*in.WebOrigins)
	}
	if in.AllowedOrigins != nil {
		c.AllowedOrigins = normalizeOrigins(*in.AllowedOrigins)
	}
	set(&c.RequirePKCE, in.RequirePKCE)
	set(&c.IDTokenSigningAlg, in.IDTokenSigningAlg)
	set(&c.JWKS, in.JWKS)
	if c.IDTokenSigningAlg == "RS256" {
		c.IDTokenSigningAlg = "" // the default, stored as such
	}
	if c.TokenEndpointAuthMethod != store.AuthMethodPrivateKeyJWT && in.JWKS == nil {
		// The keys verify client assertions only; another method drops them.
		c.JWKS = ""
	}
	if in.MFAPolicy != nil {
		c.MFAPolicy = *in.MFAPolicy
		if c.MFAPolicy == mfa.PolicyInherit {
			c.MFAPolicy = ""
		}
	}
}

// defaultAuthMethod is the token endpoint authentication method of an
// application of type typ.
func defaultAuthMethod(typ string) string {
	switch typ {
	case store.ClientSPA, store.ClientNative:
		return store.AuthMethodNone
	}
	return store.AuthMethodSecretBasic
}

// NewClient is an application to register.
type NewClient struct {
	ID string // generated when empty
	// Secret is generated when empty; a public application has none.
	Secret string
	ClientSettings
	// NoDatabaseConnection leaves username/password login off. Otherwise a
	// new application gets it, as on the hosted service, but for a
	// machine-to-machine one, which no user logs in to.
	NoDatabaseConnection bool
}

// CreateClient registers an application. It returns the application as
// stored and its secret in clear, which is never stored: the caller shows
// it once. A public application has no secret ("").
func (s *Service) CreateClient(ctx context.Context, in NewClient) (store.Client, string, error) {
	c, secret, err := s.newClient(in)
	if err != nil {
		return store.Client{}, "", err
	}
	if err := s.ensureIDTokenRing(ctx, c); err != nil {
		return store.Client{}, "", err
	}
	if err := s.st.CreateClient(ctx, c); err != nil {
		return store.Client{}, "", conflict(err, "an application with client id %q", c.ID)
	}
	if !in.NoDatabaseConnection && c.Type != store.ClientM2M {
		if err := s.st.SetConnectionEnabled(ctx, store.DefaultDatabaseConnection, c.ID, true); err != nil {
			return store.Client{}, "", fmt.Errorf("enable the database connection: %w", err)
		}
	}
	return c, secret, nil
}

// newClient builds and checks the application to store, without storing
// it.
func (s *Service) newClient(in NewClient) (store.Client, string, error) {
	if in.ID == "" {
		in.ID = token.NewOpaque()[:32]
	} else if !clientIDPattern.MatchString(in.ID) {
		return store.Client{}, "", invalid("client_id", "client id %q must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -", in.ID)
	}
	// PKCE is on for every new application; records made before the
	// setting existed keep it off, so an upgrade breaks no login.
	c := store.Client{ID: in.ID, Type: store.ClientRegularWeb, TokenEndpointAuthMethod: store.AuthMethodSecretBasic,
		RequirePKCE: true, CreatedAt: s.now()}
	in.ClientSettings.apply(&c)
	c.GrantTypes = grantTypes(c)
	if err := validateClient(c); err != nil {
		return store.Client{}, "", err
	}
	if c.Public() {
		if in.Secret != "" {
			return store.Client{}, "", invalid("client_secret", "a public application (token_endpoint_auth_method none) has no client secret")
		}
		return c, "", nil
	}
	if c.TokenEndpointAuthMethod == store.AuthMethodPrivateKeyJWT {
		if in.Secret != "" {
			return store.Client{}, "", invalid("client_secret", "a private_key_jwt application proves itself with its keys and has no client secret")
		}
		return c, "", nil
	}
	secret, hash, err := clientSecret(in.Secret)
	if err != nil {
		return store.Client{}, "", err
	}
	c.SecretHash = hash
	return c, secret, nil
}

// clientSecret returns secret, or a generated one when it is empty, with
// its hash.
func clientSecret(secret string) (string, string, error) {
	if secret == "" {
		secret = token.NewOpaque()
	} else if len(secret) < MinClientSecretLength {
		return "", "", invalid("client_secret", "client secret is too short: use at least %d characters, or omit it to generate one", MinClientSecretLength)
	}
	return secret, token.Hash(secret), nil
}

// GetClient returns the application.
func (s *Service) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := s.st.GetClient(ctx, id)
	if err != nil {
		return store.Client{}, notFound(err, "application", id)
	}
	return withDefaults(c), nil
}

// ListClients returns every application, by client id.
func (s *Service) ListClients(ctx context.Context) ([]store.Client, error) {
	cs, err := s.st.ListClients(ctx)
	for i := range cs {
		cs[i] = withDefaults(cs[i])
	}
	return cs, err
}

// withDefaults spells out what the store leaves empty in the records of
// applications registered before types and methods existed.
func withDefaults(c store.Client) store.Client {
	if c.Type == "" {
		c.Type = store.ClientRegularWeb
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = store.AuthMethodSecretBasic
	}
	return c
}

// UpdateClient changes the settings that are set. An application that
// becomes public loses its secret; one that becomes confidential gets a
// new one, returned in clear to be shown once ("" otherwise).
func (s *Service) UpdateClient(ctx context.Context, id string, in ClientSettings) (store.Client, string, error) {
	c, err := s.GetClient(ctx, id)
	if err != nil {
		return store.Client{}, "", err
	}
	in.apply(&c)
	c.GrantTypes = grantTypes(c)
	if err := validateClient(c); err != nil {
		return store.Client{}, "", err
	}
	if err := s.checkConsoleClient(c); err != nil {
		return store.Client{}, "", err
	}
	var secret string
	switch {
	case c.Public(), c.TokenEndpointAuthMethod == store.AuthMethodPrivateKeyJWT:
		c.SecretHash = ""
	case c.SecretHash == "":
		secret, c.SecretHash, _ = clientSecret("")
	}
	if err := s.ensureIDTokenRing(ctx, c); err != nil {
		return store.Client{}, "", err
	}
	if err := s.st.UpdateClient(ctx, c); err != nil {
		return store.Client{}, "", notFound(err, "application", id)
	}
	return c, secret, nil
}

// RotateClientSecret gives a confidential application a new secret,
// returned in clear to be shown once; the old one stops working at once
// (within the server's settings cache period on other replicas).
func (s *Service) RotateClientSecret(ctx context.Context, id string) (store.Client, string, error) {
	c, err := s.GetClient(ctx, id)
	if err != nil {
		return store.Client{}, "", err
	}
	if c.Public() {
		return store.Client{}, "", refused("token_endpoint_auth_method", "application %s is public (token_endpoint_auth_method none) and has no secret", id)
	}
	if c.TokenEndpointAuthMethod == store.AuthMethodPrivateKeyJWT {
		return store.Client{}, "", refused("token_endpoint_auth_method", "application %s authenticates with private_key_jwt and has no secret", id)
	}
	secret, hash, _ := clientSecret("")
	c.SecretHash = hash
	if err := s.st.UpdateClient(ctx, c); err != nil {
		return store.Client{}, "", notFound(err, "application", id)
	}
	return c, secret, nil
}

// DeleteClient removes the application. The store disables every
// connection for it and deletes its client grants, so that an application
// registered later with the same client id starts with none.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if id == ConsoleClientID {
		return &Error{Status: http.StatusForbidden, Code: CodeOperationNotSupported,
			Message: "application " + ConsoleClientID + " is the admin console's own: it cannot be deleted (the server would register it again at its next start, and until then no admin could sign in to the console)"}
	}
	if err := s.st.DeleteClient(ctx, id); err != nil {
		return notFound(err, "application", id)
	}
	return nil
}

// grantTypes are the grants an application with these settings may use:
// a machine-to-machine application gets tokens for itself only, the others
// for their users.
func grantTypes(c store.Client) []string {
	var out []string
	switch {
	case c.Type == store.ClientM2M:
		out = []string{store.GrantClientCredentials}
	case c.AllowOfflineAccess:
		out = []string{store.GrantAuthorizationCode, store.GrantRefreshToken}
	default:
		out = []string{store.GrantAuthorizationCode}
	}
	// The implicit grant is kept as set (AllowImplicit); validateClient
	// says which types may have it.
	if slices.Contains(c.GrantTypes, store.GrantImplicit) {
		out = append(out, store.GrantImplicit)
	}
	return out
}

// validateClient checks an application's settings before it is stored.
func validateClient(c store.Client) error {
	if c.Name == "" {
		return invalid("name", "the application needs a name")
	}
	switch c.Type {
	case store.ClientRegularWeb, store.ClientSPA, store.ClientNative, store.ClientM2M:
	default:
		return invalid("app_type", "application type %q is not regular_web, spa, native or m2m", c.Type)
	}
	switch c.TokenEndpointAuthMethod {
	case store.AuthMethodSecretBasic, store.AuthMethodSecretPost, store.AuthMethodNone, store.AuthMethodPrivateKeyJWT:
	default:
		return invalid("token_endpoint_auth_method", "token_endpoint_auth_method %q is not client_secret_basic, client_secret_post, private_key_jwt or none", c.TokenEndpointAuthMethod)
	}
	// Single-page and native applications run where a secret cannot be
	// kept (RFC 6749 §2.1); the others must prove who they are, and
	// client_credentials is for confidential clients only (§4.4).
	if public := c.Type == store.ClientSPA || c.Type == store.ClientNative; public != c.Public() {
		if public {
			return invalid("token_endpoint_auth_method", "token_endpoint_auth_method of a %s application must be none: it cannot keep a secret", c.Type)
		}
		return invalid("token_endpoint_auth_method", "token_endpoint_auth_method of a %s application must be client_secret_basic, client_secret_post or private_key_jwt", c.Type)
	}
	if err := validateClientKeys(c); err != nil {
		return err
	}
	if err := validateOrigins(c); err != nil {
		return err
	}
	switch c.IDTokenSigningAlg {
	case "", "ES256", "EdDSA":
	default:
		return invalid("id_token_signed_response_alg", "ID token signing algorithm %q is not RS256, ES256 or EdDSA", c.IDTokenSigningAlg)
	}
	if slices.Contains(c.GrantTypes, store.GrantImplicit) && c.Type != store.ClientRegularWeb && c.Type != store.ClientSPA {
		return invalid("grant_types", "the implicit grant (ID tokens from /authorize) is for regular_web and spa applications, not %s", c.Type)
	}
	if c.Type == store.ClientM2M {
		if c.AllowOfflineAccess {
			return invalid("allow_offline_access", "an m2m application gets no refresh tokens: it can always ask for a new access token")
		}
	} else if len(c.Callbacks) == 0 {
		return invalid("callbacks", "the application needs at least one callback URL")
	}
	for _, u := range c.Callbacks {
		if c.Type == store.ClientNative {
			if err := ValidateNativeRedirectURI(u); err != nil {
				return invalid("callbacks", "callback: %v", err)
			}
			continue
		}
		if err := ValidateRedirectURI(u); err != nil {
			return invalid("callbacks", "callback: %v", err)
		}
	}
	for _, u := range c.LogoutURLs {
		if err := ValidateRedirectURI(u); err != nil {
			return invalid("allowed_logout_urls", "logout URL: %v", err)
		}
	}
	for _, d := range []time.Duration{c.IDTokenTTL, c.AccessTokenTTL} {
		if d < 0 || d > maxTokenTTL {
			return invalid("", "token lifetimes must be between 0 (server default) and 30 days")
		}
	}
	if !slices.Contains([]string{"", store.OrgUsageDeny, store.OrgUsageAllow, store.OrgUsageRequire}, c.OrganizationUsage) {
		return invalid("organization_usage", "organization usage %q is not deny, allow or require", c.OrganizationUsage)
	}
	if !slices.Contains([]string{"", store.OrgBehaviorNoPrompt, store.OrgBehaviorPreLoginPrompt, store.OrgBehaviorPostLoginPrompt}, c.OrganizationBehavior) {
		return invalid("organization_require_behavior", "organization behavior %q is not no_prompt, pre_login_prompt or post_login_prompt", c.OrganizationBehavior)
	}
	if c.InitiateLoginURI != "" {
		if err := ValidateRedirectURI(c.InitiateLoginURI); err != nil {
			return invalid("initiate_login_uri", "initiate login URI: %v", err)
		}
	}
	if err := validateBackchannelLogoutURI(c.BackchannelLogoutURI); err != nil {
		return err
	}
	switch c.MFAPolicy {
	case "", mfa.PolicyNever, mfa.PolicyOptional, mfa.PolicyAlways:
	default:
		return invalid("mfa_policy", "MFA policy %q is not always, optional, never or inherit", c.MFAPolicy)
	}
	r := c.Refresh
	if r.Overlap < 0 || r.Overlap > 5*time.Minute {
		return invalid("refresh_token", "refresh overlap must be between 0 and 5 minutes")
	}
	if r.Idle < 0 || r.Absolute < 0 || (r.Absolute > 0 && r.Idle > r.Absolute) {
		return invalid("refresh_token", "refresh idle lifetime must not exceed the absolute lifetime")
	}
	return nil
}

// ValidateRedirectURI checks a callback or logout URL before it is
// registered: absolute, https (http only on loopback hosts), no fragment,
// no user info (RFC 6749 §3.1.2, RFC 9700 §2.1).
func ValidateRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL", s)
	}
	switch {
	case u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an absolute URL", s)
	case strings.Contains(s, "#"):
		return fmt.Errorf("%q has a fragment; redirect URIs must not", s)
	case u.User != nil:
		return fmt.Errorf("%q contains user information", s)
	case u.Scheme == "https":
	case u.Scheme == "http":
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
		default:
			return fmt.Errorf("%q uses http; use https (http is allowed only for localhost, 127.0.0.1 and [::1])", s)
		}
	default:
		return fmt.Errorf("%q must use https", s)
	}
	return nil
}
