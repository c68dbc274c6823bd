package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ClaimRule copies a value from a user's metadata into a namespaced claim.
//
//	claims:
//	  - claim: https://example.com/roles
//	    from: app_metadata.roles
//	    clients: [my-app]                   # optional: only for these applications
//	    audiences: [https://api.example.com] # optional: only for these APIs
//	    tokens: [id_token, access_token]    # optional: default both
type ClaimRule struct {
	Claim     string   `yaml:"claim"`
	From      string   `yaml:"from"`
	Clients   []string `yaml:"clients"`
	Audiences []string `yaml:"audiences"`
	Tokens    []string `yaml:"tokens"`
}

// reservedClaims are registered JWT and OIDC claims a rule may never set.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "nonce", "auth_time",
	"at_hash", "c_hash", "acr", "amr", "sid", "scope", "client_id", "org_id", "org_name", "typ", "cnf",
	"name", "nickname", "picture", "email", "email_verified", "updated_at", "given_name", "family_name"}

// Validate refuses claims that are not namespaced URLs, reserved names and
// unknown sources, so a bad rule fails at start rather than in a token.
func (r ClaimRule) Validate() error {
	if slices.Contains(reservedClaims, r.Claim) {
		return fmt.Errorf("claim %q is reserved", r.Claim)
	}
	u, err := url.Parse(r.Claim)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("claim %q must be namespaced: an http(s) URL such as https://example.com/roles", r.Claim)
	}
	if strings.Contains(u.Hostname(), "gatehouse") {
		return fmt.Errorf("claim %q uses a gatehouse namespace, which is reserved", r.Claim)
	}
	src, field, ok := strings.Cut(r.From, ".")
	if !ok || field == "" || (src != "app_metadata" && src != "user_metadata") {
		return fmt.Errorf("from %q must be app_metadata.FIELD or user_metadata.FIELD", r.From)
	}
	for _, t := range r.Tokens {
		if t != "id_token" && t != "access_token" {
			return fmt.Errorf("tokens: %q is not id_token or access_token", t)
		}
	}
	return nil
}

// Applies reports whether the rule is for a token of kind ("id_token" or
// "access_token") issued to client for audience.
func (r ClaimRule) Applies(kind, client, audience string) bool {
	if len(r.Tokens) > 0 && !slices.Contains(r.Tokens, kind) {
		return false
	}
	if len(r.Clients) > 0 && !slices.Contains(r.Clients, client) {
		return false
	}
	if len(r.Audiences) > 0 && !slices.Contains(r.Audiences, audience) {
		return false
	}
	return true
}

// Value returns the metadata value the rule copies, if present.
func (r ClaimRule) Value(appMetadata, userMetadata map[string]any) (any, bool) {
	src, field, _ := strings.Cut(r.From, ".")
	m := appMetadata
	if src == "user_metadata" {
		m = userMetadata
	}
	v, ok := m[field]
	return v, ok
}

// ConnectionConfig declares an upstream connection in the config file; it
// is created or updated in the database when the server starts.
//
//	connections:
//	  - name: github
//	    strategy: github
//	    client_id: Iv1.0123
//	    client_secret_env: GITHUB_CLIENT_SECRET   # or client_secret: …
//	    enable_for: [my-app]
type ConnectionConfig struct {
	Name            string            `yaml:"name"`
	Strategy        string            `yaml:"strategy"`
	ClientID        string            `yaml:"client_id"`
	ClientSecret    string            `yaml:"client_secret"`
	ClientSecretEnv string            `yaml:"client_secret_env"`
	Issuer          string            `yaml:"issuer"`
	AuthorizeURL    string            `yaml:"authorize_url"`
	TokenURL        string            `yaml:"token_url"`
	UserinfoURL     string            `yaml:"userinfo_url"`
	BaseURL         string            `yaml:"base_url"`
	APIURL          string            `yaml:"api_url"`
	Scopes          []string          `yaml:"scopes"`
	ClaimMapping    map[string]string `yaml:"claim_mapping"`
	EnableFor       []string          `yaml:"enable_for"`
}
