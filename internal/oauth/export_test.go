package oauth

import (
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// The tests register applications straight in the store: the rules for
// registering them are internal/mgmt's, which this package may not import.
// NewClient builds the records the tests need.

// NewClientParams describes a test application.
type NewClientParams struct {
	ID                 string // generated when empty
	Secret             string // generated when empty
	Name               string
	Callbacks          []string
	LogoutURLs         []string
	FirstParty         bool
	AllowOfflineAccess bool
	// Type and TokenEndpointAuthMethod are regular_web and
	// client_secret_basic when empty; none makes a public client, without
	// a secret.
	Type                    string
	TokenEndpointAuthMethod string
	// Implicit allows ID tokens from /authorize (the implicit grant).
	Implicit bool
}

// NewClient returns the record of a regular web application with these
// settings, and its secret.
func NewClient(p NewClientParams) (store.Client, string, error) {
	if p.ID == "" {
		p.ID = token.NewOpaque()[:32]
	}
	if p.Secret == "" {
		p.Secret = token.NewOpaque()
	}
	c := store.Client{
		ID:                 p.ID,
		SecretHash:         token.Hash(p.Secret),
		Name:               p.Name,
		Type:               "regular_web",
		Callbacks:          p.Callbacks,
		LogoutURLs:         p.LogoutURLs,
		GrantTypes:         []string{"authorization_code"},
		FirstParty:         p.FirstParty,
		AllowOfflineAccess: p.AllowOfflineAccess,
	}
	if p.AllowOfflineAccess {
		c.GrantTypes = append(c.GrantTypes, "refresh_token")
	}
	if p.Implicit {
		c.GrantTypes = append(c.GrantTypes, store.GrantImplicit)
	}
	if p.Type != "" {
		c.Type = p.Type
	}
	if p.Type == store.ClientM2M {
		c.GrantTypes = []string{store.GrantClientCredentials}
	}
	c.TokenEndpointAuthMethod = p.TokenEndpointAuthMethod
	if c.Public() {
		c.SecretHash, p.Secret = "", ""
	}
	return c, p.Secret, nil
}
