package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/store"
)

// ParseAPIScope reads "name" or "name:description". Scope names often hold
// colons themselves ("read:messages"), so the description starts after the
// last colon before the first space: "read:messages:Read your messages" is
// the scope read:messages described as "Read your messages". Without a
// space, the whole value is the name.
func ParseAPIScope(s string) (store.APIScope, error) {
	name, desc := s, ""
	if sp := strings.IndexAny(s, " \t"); sp >= 0 {
		if i := strings.LastIndexByte(s[:sp], ':'); i >= 0 {
			name, desc = s[:i], s[i+1:]
		}
	}
	sc := store.APIScope{Name: strings.TrimSpace(name), Description: strings.TrimSpace(desc)}
	if sc.Description == "" {
		sc.Description = sc.Name
	}
	return sc, validateScopeName(sc.Name)
}

func validateScopeName(name string) error {
	switch {
	case name == "":
		return errors.New("scope name must not be empty")
	case strings.ContainsAny(name, " \t\"\\"):
		return fmt.Errorf("scope %q must not contain spaces, quotes or backslashes", name)
	case slices.Contains(supportedScopes, name):
		return fmt.Errorf("scope %q is an OpenID Connect scope and cannot be an API scope", name)
	}
	return nil
}

// ValidateAPI checks an API before it is stored.
func ValidateAPI(a store.API) error {
	u, err := url.Parse(a.Identifier)
	if err != nil || u.Scheme == "" || strings.ContainsAny(a.Identifier, " \t") {
		return fmt.Errorf("identifier %q must be an absolute URI, e.g. https://api.example.com", a.Identifier)
	}
	if strings.TrimSpace(a.Name) == "" {
		return errors.New("the API needs a name")
	}
	seen := map[string]bool{}
	for _, s := range a.Scopes {
		if err := validateScopeName(s.Name); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("scope %q is listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	switch a.SigningAlgorithm {
	case "RS256", "ES256", "EdDSA":
	default:
		return fmt.Errorf("signing algorithm %q is not RS256, ES256 or EdDSA", a.SigningAlgorithm)
	}
	if a.TokenLifetime < 0 || a.TokenLifetime > 30*24*time.Hour {
		return errors.New("token lifetime must be between 0 (server default) and 30 days")
	}
	return nil
}
