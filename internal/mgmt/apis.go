package mgmt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
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
	// RBAC (the hosted service's enforce_policies) limits a user's access
	// tokens to the scopes their permissions grant. Turning it off also
	// drops the permissions claim, unless TokenDialect or
	// PermissionsClaim says otherwise.
	RBAC *bool
	// TokenDialect is one of store.TokenDialects: rfc9068_profile (the
	// default) or access_token, each with an _authz variant that adds the
	// permissions claim, which needs RBAC.
	TokenDialect *string
	// PermissionsClaim switches the dialect, after TokenDialect, to its
	// _authz variant (true) or back (false).
	PermissionsClaim *bool
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
	set(&a.RBAC, in.RBAC)
	set(&a.TokenDialect, in.TokenDialect)
	claim := in.PermissionsClaim
	if in.RBAC != nil && !*in.RBAC && in.TokenDialect == nil && claim == nil {
		// The permissions claim lists what RBAC grants: it goes with it.
		claim = new(bool)
	}
	if claim != nil && slices.Contains(store.TokenDialects, a.Dialect()) {
		base := strings.TrimSuffix(a.Dialect(), authzSuffix)
		if *claim {
			base += authzSuffix
		}
		a.TokenDialect = base
	}
}

// authzSuffix turns a token dialect into its variant with the permissions
// claim.
const authzSuffix = "_authz"

// CreateAPI registers an API whose identifier is the audience of its
// access tokens.
func (s *Service) CreateAPI(ctx context.Context, identifier string, in APISettings) (store.API, error) {
	now := s.now()
	a := store.API{Identifier: identifier, SigningAlgorithm: "RS256", TokenDialect: store.DialectRFC9068, CreatedAt: now, UpdatedAt: now}
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
	if a.TokenDialect != "" && !slices.Contains(store.TokenDialects, a.TokenDialect) {
		return invalid("token_dialect", "token dialect %q is not %s", a.TokenDialect, strings.Join(store.TokenDialects, ", "))
	}
	if a.PermissionsClaim() && !a.RBAC {
		return invalid("token_dialect", "token dialect %s adds the permissions claim, which needs RBAC (enforce_policies) on", a.TokenDialect)
	}
	return nil
}

// APIID is the ID of the API with the identifier, as the management API
// shows it: 24 hex digits derived from the identifier, so that it needs no
// column and stays the same for as long as the identifier does.
func APIID(identifier string) string {
	sum := sha256.Sum256([]byte("gatehouse api " + identifier))
	return hex.EncodeToString(sum[:12])
}

// FindAPI finds an API by identifier or by its ID (APIID).
func (s *Service) FindAPI(ctx context.Context, idOrIdentifier string) (store.API, error) {
	a, err := s.st.GetAPI(ctx, idOrIdentifier)
	if !errors.Is(err, store.ErrNotFound) || !apiIDPattern.MatchString(idOrIdentifier) {
		if err != nil {
			return store.API{}, notFound(err, "API", idOrIdentifier)
		}
		return a, nil
	}
	apis, err := s.st.ListAPIs(ctx)
	if err != nil {
		return store.API{}, fmt.Errorf("find api: %w", err)
	}
	for _, a := range apis {
		if APIID(a.Identifier) == idOrIdentifier {
			return a, nil
		}
	}
	return store.API{}, notFound(store.ErrNotFound, "API", idOrIdentifier)
}

var apiIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)
