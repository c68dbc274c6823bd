package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/store"
)

var connectionNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// MappableFields are the user fields a connection's claim mapping may set
// from the upstream's claims.
var MappableFields = []string{"sub", "email", "email_verified", "name", "nickname", "picture", "given_name", "family_name"}

// ConnectionSettings are the settings of an upstream connection that
// create and update take; a nil field keeps its value on update.
type ConnectionSettings struct {
	// Strategy is github, oidc or oauth2. Required on create; it cannot
	// change afterwards.
	Strategy *string
	ClientID *string // the client id registered at the upstream provider
	// ClientSecret is the upstream client secret in clear. It is stored
	// sealed with the master key and never returned.
	ClientSecret *string
	Issuer       *string // oidc: the provider's issuer (discovery)
	AuthorizeURL *string // oauth2
	TokenURL     *string // oauth2
	UserinfoURL  *string // oauth2
	BaseURL      *string // github: GitHub Enterprise Server's web URL
	APIURL       *string // github: its API URL
	Scopes       *[]string
	// ClaimMapping maps user fields (MappableFields) to upstream claims.
	ClaimMapping *map[string]string
	// EnableFor are applications to enable the connection for, besides
	// those it is enabled for already.
	EnableFor []string
	// EnabledClients, when set, replaces the applications the connection
	// is enabled for (EnableFor adds to them). Each must exist.
	EnabledClients *[]string
}

// upstream reports whether in sets any setting of the upstream provider.
func (in ConnectionSettings) upstream() bool {
	return in.ClientID != nil || in.ClientSecret != nil || in.Issuer != nil || in.AuthorizeURL != nil ||
		in.TokenURL != nil || in.UserinfoURL != nil || in.BaseURL != nil || in.APIURL != nil ||
		in.Scopes != nil || in.ClaimMapping != nil
}

// enabledClients checks the applications of EnabledClients and returns
// them sorted, each once.
func (s *Service) enabledClients(ctx context.Context, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if slices.Contains(out, id) {
			continue
		}
		if _, err := s.GetClient(ctx, id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// applyConnection copies the settings that are set onto c, sealing the
// secret.
func (s *Service) applyConnection(in ConnectionSettings, c *store.Connection) error {
	if err := applyConnectionSettings(in, c); err != nil {
		return err
	}
	if in.ClientSecret != nil {
		if s.sealer == nil {
			return fmt.Errorf("connection %s: no master key to seal the client secret with", c.Name)
		}
		c.ClientSecretSealed = s.sealer.Seal([]byte(*in.ClientSecret), []byte("connection:"+c.Name))
	}
	return nil
}

// applyConnectionSettings copies the settings that are set onto c, but the
// secret.
func applyConnectionSettings(in ConnectionSettings, c *store.Connection) error {
	set(&c.ClientID, in.ClientID)
	set(&c.Issuer, in.Issuer)
	set(&c.AuthorizeURL, in.AuthorizeURL)
	set(&c.TokenURL, in.TokenURL)
	set(&c.UserinfoURL, in.UserinfoURL)
	set(&c.BaseURL, in.BaseURL)
	set(&c.APIURL, in.APIURL)
	set(&c.Scopes, in.Scopes)
	set(&c.ClaimMapping, in.ClaimMapping)
	if in.ClientSecret != nil && *in.ClientSecret == "" {
		return invalid("client_secret", "client_secret must not be empty")
	}
	return nil
}

// CheckConnection checks the settings of a connection to create, without
// the store: what can be known before the server opens its database. A
// missing client secret is no error, as one may be stored already.
func CheckConnection(name string, in ConnectionSettings) error {
	c := store.Connection{Name: name, ClientSecretSealed: []byte("unchecked")}
	set(&c.Strategy, in.Strategy)
	if err := applyConnectionSettings(in, &c); err != nil {
		return err
	}
	return validateConnection(c)
}

// validateConnection checks a connection's settings without contacting the
// upstream.
func validateConnection(c store.Connection) error {
	if !connectionNamePattern.MatchString(c.Name) {
		return invalid("name", "connection name %q must be 1 to 64 characters of a-z 0-9 _ - (starting with a letter or digit)", c.Name)
	}
	checkURL := func(field, v string, required bool) error {
		if v == "" {
			if required {
				return invalid(field, "%s is required for the %s strategy", field, c.Strategy)
			}
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && config.IsLoopback(u.Hostname()))) {
			return invalid(field, "%s %q must be an https URL (http only on localhost)", field, v)
		}
		return nil
	}
	var checks []error
	switch c.Strategy {
	case store.StrategyGitHub:
		checks = append(checks, checkURL("base_url", c.BaseURL, false), checkURL("api_url", c.APIURL, false))
	case store.StrategyOIDC:
		checks = append(checks, checkURL("issuer", c.Issuer, true))
	case store.StrategyOAuth2:
		checks = append(checks, checkURL("authorize_url", c.AuthorizeURL, true), checkURL("token_url", c.TokenURL, true),
			checkURL("userinfo_url", c.UserinfoURL, true))
	case store.StrategyDatabase:
		return refused("strategy", "database connections other than the built-in one are not supported yet")
	default:
		return invalid("strategy", "strategy %q is not github, oidc or oauth2", c.Strategy)
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if c.ClientID == "" {
		return invalid("client_id", "client_id is required for the %s strategy", c.Strategy)
	}
	if len(c.ClientSecretSealed) == 0 {
		return invalid("client_secret", "client_secret is required for the %s strategy", c.Strategy)
	}
	for k := range c.ClaimMapping {
		if !slices.Contains(MappableFields, k) {
			return invalid("claim_mapping", "claim_mapping field %q is not one of %s", k, strings.Join(MappableFields, " "))
		}
	}
	return nil
}

// CreateConnection creates an upstream connection and enables it for the
// applications of EnableFor, which must exist.
func (s *Service) CreateConnection(ctx context.Context, name string, in ConnectionSettings) (store.Connection, error) {
	return s.createConnection(ctx, name, in, true)
}

// createConnection is CreateConnection; checkClients makes it refuse
// applications of EnableFor that do not exist.
func (s *Service) createConnection(ctx context.Context, name string, in ConnectionSettings, checkClients bool) (store.Connection, error) {
	now := s.now()
	c := store.Connection{Name: name, CreatedAt: now, UpdatedAt: now}
	set(&c.Strategy, in.Strategy)
	if err := s.applyConnection(in, &c); err != nil {
		return store.Connection{}, err
	}
	if err := validateConnection(c); err != nil {
		return store.Connection{}, err
	}
	for _, id := range in.EnableFor {
		if !checkClients {
			break
		}
		if _, err := s.GetClient(ctx, id); err != nil {
			return store.Connection{}, err
		}
	}
	if in.EnabledClients != nil {
		ids, err := s.enabledClients(ctx, *in.EnabledClients)
		if err != nil {
			return store.Connection{}, err
		}
		c.EnabledClients = ids
	}
	if err := s.st.CreateConnection(ctx, c); err != nil {
		return store.Connection{}, conflict(err, "a connection named %q", c.Name)
	}
	return c, s.enableFor(ctx, c.Name, in.EnableFor)
}

// UpdateConnection changes the settings that are set, and enables the
// connection for the applications of EnableFor.
func (s *Service) UpdateConnection(ctx context.Context, name string, in ConnectionSettings) (store.Connection, error) {
	c, err := s.GetConnection(ctx, name)
	if err != nil {
		return store.Connection{}, err
	}
	if in.Strategy != nil && *in.Strategy != c.Strategy {
		return store.Connection{}, refused("strategy", "the strategy of a connection cannot change; create another connection")
	}
	if c.Strategy == store.StrategyDatabase && in.upstream() {
		return store.Connection{}, refused("options", "connection %s is a database connection: it has no upstream provider to configure", c.Name)
	}
	if in.EnabledClients != nil {
		ids, err := s.enabledClients(ctx, *in.EnabledClients)
		if err != nil {
			return store.Connection{}, err
		}
		// Replaced in the same write as the other settings.
		c.EnabledClients = ids
	}
	if err := s.applyConnection(in, &c); err != nil {
		return store.Connection{}, err
	}
	// The built-in database connection has none of these settings.
	if c.Strategy != store.StrategyDatabase {
		if err := validateConnection(c); err != nil {
			return store.Connection{}, err
		}
	}
	c.UpdatedAt = s.now()
	if err := s.st.UpdateConnection(ctx, c); err != nil {
		return store.Connection{}, notFound(err, "connection", name)
	}
	return c, s.enableFor(ctx, c.Name, in.EnableFor)
}

// PutConnection creates the connection, or updates it when it exists with
// the same strategy: how the connections declared in the config file are
// kept in step with the database. The applications of EnableFor are not
// checked: the config may name one before it is registered.
func (s *Service) PutConnection(ctx context.Context, name string, in ConnectionSettings) (store.Connection, error) {
	c, err := s.st.GetConnection(ctx, name)
	switch {
	case err == nil:
		if in.Strategy != nil && *in.Strategy != c.Strategy {
			return store.Connection{}, refused("strategy", "strategy %s differs from the stored connection's, %s", *in.Strategy, c.Strategy)
		}
		return s.UpdateConnection(ctx, name, in)
	case errors.Is(err, store.ErrNotFound):
		return s.createConnection(ctx, name, in, false)
	}
	return store.Connection{}, fmt.Errorf("get connection: %w", err)
}

// GetConnection returns the connection with the name.
func (s *Service) GetConnection(ctx context.Context, name string) (store.Connection, error) {
	c, err := s.st.GetConnection(ctx, name)
	if err != nil {
		return store.Connection{}, notFound(err, "connection", name)
	}
	return c, nil
}

// ListConnections returns every connection.
func (s *Service) ListConnections(ctx context.Context) ([]store.Connection, error) {
	return s.st.ListConnections(ctx)
}

// DeleteConnection removes a connection; the built-in database connection
// stays.
func (s *Service) DeleteConnection(ctx context.Context, name string) error {
	if name == store.DefaultDatabaseConnection {
		return refused("", "the built-in database connection cannot be deleted; disable it for applications instead")
	}
	if err := s.st.DeleteConnection(ctx, name); err != nil {
		return notFound(err, "connection", name)
	}
	return nil
}

// SetConnectionEnabled enables or disables a connection for an
// application.
func (s *Service) SetConnectionEnabled(ctx context.Context, name, clientID string, enabled bool) error {
	if _, err := s.GetClient(ctx, clientID); err != nil {
		return err
	}
	if err := s.st.SetConnectionEnabled(ctx, name, clientID, enabled); err != nil {
		return notFound(err, "connection", name)
	}
	return nil
}

func (s *Service) enableFor(ctx context.Context, name string, clients []string) error {
	for _, id := range clients {
		if err := s.st.SetConnectionEnabled(ctx, name, id, true); err != nil {
			return fmt.Errorf("enable connection %s for %s: %w", name, id, err)
		}
	}
	return nil
}

// ConnectionClientChange enables (Enabled) or disables a connection for
// one application.
type ConnectionClientChange struct {
	ClientID string
	Enabled  bool
}

// ChangeConnectionClients enables and disables the connection for
// applications, one at a time, so that concurrent changes for other
// applications are kept. An application to enable must exist; one to
// disable need not (its row may outlive it).
func (s *Service) ChangeConnectionClients(ctx context.Context, name string, changes []ConnectionClientChange) error {
	if _, err := s.GetConnection(ctx, name); err != nil {
		return err
	}
	for _, ch := range changes {
		if ch.ClientID == "" {
			return invalid("client_id", "client_id is required")
		}
		if ch.Enabled {
			if _, err := s.GetClient(ctx, ch.ClientID); err != nil {
				return err
			}
		}
	}
	for _, ch := range changes {
		if err := s.st.SetConnectionEnabled(ctx, name, ch.ClientID, ch.Enabled); err != nil {
			return notFound(err, "connection", name)
		}
	}
	return nil
}
