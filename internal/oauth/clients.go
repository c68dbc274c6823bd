package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
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

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

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

// NewClientParams describes an application to register.
type NewClientParams struct {
	ID                 string // generated when empty
	Secret             string // generated when empty
	Name               string
	Callbacks          []string
	LogoutURLs         []string
	FirstParty         bool
	AllowOfflineAccess bool
}

// NewClient validates p and returns the client to store and its secret in
// clear, to be shown once.
func NewClient(p NewClientParams) (store.Client, string, error) {
	if p.ID == "" {
		p.ID = token.NewOpaque()[:32]
	} else if !clientIDPattern.MatchString(p.ID) {
		return store.Client{}, "", fmt.Errorf("client id %q must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -", p.ID)
	}
	if p.Secret == "" {
		p.Secret = token.NewOpaque()
	} else if len(p.Secret) < MinClientSecretLength {
		return store.Client{}, "", fmt.Errorf("client secret is too short: use at least %d characters, or omit it to generate one", MinClientSecretLength)
	}
	c := store.Client{
		ID:                 p.ID,
		SecretHash:         token.Hash(p.Secret),
		Name:               strings.TrimSpace(p.Name),
		Type:               "regular_web",
		Callbacks:          p.Callbacks,
		LogoutURLs:         p.LogoutURLs,
		FirstParty:         p.FirstParty,
		AllowOfflineAccess: p.AllowOfflineAccess,
	}
	if err := ValidateClient(c); err != nil {
		return store.Client{}, "", err
	}
	c.GrantTypes = GrantTypes(c)
	return c, p.Secret, nil
}

// ValidateClient checks a client's settings before it is stored.
func ValidateClient(c store.Client) error {
	if strings.TrimSpace(c.Name) == "" {
		return errors.New("the application needs a name")
	}
	if len(c.Callbacks) == 0 {
		return errors.New("the application needs at least one callback URL")
	}
	for _, u := range c.Callbacks {
		if err := ValidateRedirectURI(u); err != nil {
			return fmt.Errorf("callback: %w", err)
		}
	}
	for _, u := range c.LogoutURLs {
		if err := ValidateRedirectURI(u); err != nil {
			return fmt.Errorf("logout URL: %w", err)
		}
	}
	if c.IDTokenTTL < 0 || c.AccessTokenTTL < 0 || c.IDTokenTTL > 30*24*time.Hour || c.AccessTokenTTL > 30*24*time.Hour {
		return errors.New("token lifetimes must be between 0 (server default) and 30 days")
	}
	switch c.OrganizationUsage {
	case "", store.OrgUsageDeny, store.OrgUsageAllow, store.OrgUsageRequire:
	default:
		return fmt.Errorf("organization usage %q is not deny, allow or require", c.OrganizationUsage)
	}
	switch c.OrganizationBehavior {
	case "", store.OrgBehaviorNoPrompt, store.OrgBehaviorPreLoginPrompt, store.OrgBehaviorPostLoginPrompt:
	default:
		return fmt.Errorf("organization behavior %q is not no_prompt, pre_login_prompt or post_login_prompt", c.OrganizationBehavior)
	}
	if c.InitiateLoginURI != "" {
		if err := ValidateRedirectURI(c.InitiateLoginURI); err != nil {
			return fmt.Errorf("initiate login URI: %w", err)
		}
	}
	switch c.MFAPolicy {
	case "", mfa.PolicyNever, mfa.PolicyOptional, mfa.PolicyAlways:
	default:
		return fmt.Errorf("MFA policy %q is not always, optional or never (empty inherits the server's)", c.MFAPolicy)
	}
	r := c.Refresh
	if r.Overlap < 0 || r.Overlap > 5*time.Minute {
		return errors.New("refresh overlap must be between 0 and 5 minutes")
	}
	if r.Idle < 0 || r.Absolute < 0 || (r.Absolute > 0 && r.Idle > r.Absolute) {
		return errors.New("refresh idle lifetime must not exceed the absolute lifetime")
	}
	return nil
}

// GrantTypes are the grants a client with these settings may use.
func GrantTypes(c store.Client) []string {
	if c.AllowOfflineAccess {
		return []string{"authorization_code", "refresh_token"}
	}
	return []string{"authorization_code"}
}
