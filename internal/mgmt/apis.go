package mgmt

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/store"
)

// APISettings are the settings of an API (a resource server) that create
// and update take. A nil field keeps its value on update and gets its
// default on create.
type APISettings struct {
	Name   *string
	Scopes *[]store.APIScope
	// TokenLifetime of its access tokens; zero means the server's.
	TokenLifetime *time.Duration
	// SigningAlgorithm of its access tokens: RS256 (the default), ES256 or
	// EdDSA.
	SigningAlgorithm   *string
	AllowOfflineAccess *bool
	// SkipConsentFirstParty lets first-party applications skip consent.
	SkipConsentFirstParty *bool
}

func (in APISettings) apply(a *store.API) {
	if in.Name != nil {
		a.Name = strings.TrimSpace(*in.Name)
	}
	set(&a.Scopes, in.Scopes)
	set(&a.TokenLifetime, in.TokenLifetime)
	set(&a.SigningAlgorithm, in.SigningAlgorithm)
	set(&a.AllowOfflineAccess, in.AllowOfflineAccess)
	set(&a.SkipConsentFirstParty, in.SkipConsentFirstParty)
}

// CreateAPI registers an API whose identifier is the audience of its
// access tokens.
func (s *Service) CreateAPI(ctx context.Context, identifier string, in APISettings) (store.API, error) {
	now := s.now()
	a := store.API{Identifier: identifier, SigningAlgorithm: "RS256", CreatedAt: now, UpdatedAt: now}
	in.apply(&a)
	if err := validateAPI(a); err != nil {
		return store.API{}, err
	}
	if err := s.st.CreateAPI(ctx, a); err != nil {
		return store.API{}, conflict(err, "an API with identifier %q", a.Identifier)
	}
	return a, s.ensureRing(ctx, a.SigningAlgorithm)
}

// GetAPI returns the API with the identifier.
func (s *Service) GetAPI(ctx context.Context, identifier string) (store.API, error) {
	a, err := s.st.GetAPI(ctx, identifier)
	if err != nil {
		return store.API{}, notFound(err, "API", identifier)
	}
	return a, nil
}

// ListAPIs returns every API, by identifier.
func (s *Service) ListAPIs(ctx context.Context) ([]store.API, error) {
	return s.st.ListAPIs(ctx)
}

// UpdateAPI changes the settings that are set.
func (s *Service) UpdateAPI(ctx context.Context, identifier string, in APISettings) (store.API, error) {
	if err := s.checkManagementAPIChange(identifier, in.Scopes, false); err != nil {
		return store.API{}, err
	}
	a, err := s.GetAPI(ctx, identifier)
	if err != nil {
		return store.API{}, err
	}
	in.apply(&a)
	if err := validateAPI(a); err != nil {
		return store.API{}, err
	}
	a.UpdatedAt = s.now()
	if err := s.st.UpdateAPI(ctx, a); err != nil {
		return store.API{}, notFound(err, "API", identifier)
	}
	return a, s.ensureRing(ctx, a.SigningAlgorithm)
}

// DeleteAPI removes the API. Tokens issued for it stay valid until they
// expire.
func (s *Service) DeleteAPI(ctx context.Context, identifier string) error {
	if err := s.checkManagementAPIChange(identifier, nil, true); err != nil {
		return err
	}
	if err := s.st.DeleteAPI(ctx, identifier); err != nil {
		return notFound(err, "API", identifier)
	}
	return nil
}

// ensureRing creates the key ring of alg now, so that its keys are
// published before the first token is signed with them.
func (s *Service) ensureRing(ctx context.Context, alg string) error {
	if s.keys == nil {
		return nil
	}
	if err := s.keys.EnsureAlgorithm(ctx, alg); err != nil {
		return fmt.Errorf("create the %s signing keys: %w", alg, err)
	}
	return nil
}

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
	if err := validateScopeName(sc.Name); err != nil {
		return store.APIScope{}, err
	}
	return sc, nil
}

// validateScopeName checks the name of an API's scope.
func validateScopeName(name string) error {
	switch {
	case name == "":
		return invalid("scopes", "scope name must not be empty")
	case strings.ContainsAny(name, " \t\"\\"):
		return invalid("scopes", "scope %q must not contain spaces, quotes or backslashes", name)
	case slices.Contains(store.OpenIDScopes, name):
		return invalid("scopes", "scope %q is an OpenID Connect scope and cannot be an API scope", name)
	}
	return nil
}

// validateAPI checks an API before it is stored.
func validateAPI(a store.API) error {
	u, err := url.Parse(a.Identifier)
	if err != nil || u.Scheme == "" || strings.ContainsAny(a.Identifier, " \t") {
		return invalid("identifier", "identifier %q must be an absolute URI, e.g. https://api.example.com", a.Identifier)
	}
	if a.Name == "" {
		return invalid("name", "the API needs a name")
	}
	seen := map[string]bool{}
	for _, s := range a.Scopes {
		if err := validateScopeName(s.Name); err != nil {
			return err
		}
		if seen[s.Name] {
			return invalid("scopes", "scope %q is listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	switch a.SigningAlgorithm {
	case "RS256", "ES256", "EdDSA":
	default:
		return invalid("signing_alg", "signing algorithm %q is not RS256, ES256 or EdDSA", a.SigningAlgorithm)
	}
	if a.TokenLifetime < 0 || a.TokenLifetime > maxTokenTTL {
		return invalid("token_lifetime", "token lifetime must be between 0 (server default) and 30 days")
	}
	return nil
}
