package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/store"
)

// The admin console (/admin) is a first-party application of the server;
// operators hold one of two roles of the role store.
const (
	// ConsoleClientID is the console's application record.
	ConsoleClientID = "gatehouse-console"
	// ConsoleGrantType is the gty claim of the management-API tokens the
	// console mints for its signed-in admin; no grant of the token
	// endpoint issues it, so an ordinary user's token never passes for one.
	ConsoleGrantType = "urn:gatehouse:console"
	// AdminRole gives full use of the console and the management API.
	AdminRole = "gatehouse:admin"
	// ReadOnlyAdminRole gives the console and the API's read:* scopes only.
	ReadOnlyAdminRole = "gatehouse:admin-readonly"
)

// AdminLevel is what a user may do in the console.
type AdminLevel int

// Admin levels, from none.
const (
	AdminNone AdminLevel = iota
	AdminReadOnly
	AdminFull
)

// Scopes returns the management scopes of the level: all for a full
// admin, the read:* ones for a read-only one, none otherwise.
func (l AdminLevel) Scopes() []string {
	var out []string
	for _, n := range ManagementScopeNames() {
		if l == AdminFull || (l == AdminReadOnly && strings.HasPrefix(n, "read:")) {
			out = append(out, n)
		}
	}
	return out
}

// ConsoleRedirectURI is the console's callback under issuer.
func ConsoleRedirectURI(issuer string) string { return config.IssuerURL(issuer, "/admin/callback") }

// EnsureConsole registers the console's application and the two admin
// roles, or leaves them be when they exist. Every server runs it at
// start, after EnsureManagementAPI; replicas starting together agree.
func (s *Service) EnsureConsole(ctx context.Context) error {
	if s.issuer == "" {
		return errors.New("ensure console: the service has no issuer")
	}
	if err := s.ensureAdminRoles(ctx); err != nil {
		return err
	}
	if _, err := s.st.GetClient(ctx, ConsoleClientID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("ensure console: get its application: %w", err)
	}
	// A public client with PKCE: the code reaches only the console's own
	// callback, and the console holds the verifier server-side.
	name, typ, method := "Gatehouse admin console", store.ClientSPA, store.AuthMethodNone
	callbacks := []string{ConsoleRedirectURI(s.issuer)}
	logout := []string{config.IssuerURL(s.issuer, "/admin/")}
	first := true
	_, _, err := s.CreateClient(ctx, NewClient{ID: ConsoleClientID, ClientSettings: ClientSettings{Name: &name, Type: &typ,
		TokenEndpointAuthMethod: &method, Callbacks: &callbacks, LogoutURLs: &logout, FirstParty: &first}})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("ensure console: %w", err)
	}
	return nil
}

// checkConsoleClient refuses settings of the console's application that
// would lock the admins out of the console: its sign-in is a public PKCE
// client (the console keeps no secret) of the spa type, redirected to its
// own callback, with no organization prompt and no consent screen in
// the way. Other settings (name, logout URLs, second factor) stay free.
func (s *Service) checkConsoleClient(c store.Client) error {
	if c.ID != ConsoleClientID {
		return nil
	}
	const why = " would break the admin console's sign-in"
	switch {
	case c.Type != store.ClientSPA:
		return refused("app_type", "app_type of %s must stay %s: a change%s", ConsoleClientID, store.ClientSPA, why)
	case c.TokenEndpointAuthMethod != store.AuthMethodNone:
		return refused("token_endpoint_auth_method", "token_endpoint_auth_method of %s must stay none: a change%s", ConsoleClientID, why)
	case s.issuer != "" && !slices.Contains(c.Callbacks, ConsoleRedirectURI(s.issuer)):
		return refused("callbacks", "callbacks of %s must keep %s: removing it%s", ConsoleClientID, ConsoleRedirectURI(s.issuer), why)
	case c.OrganizationUsage == store.OrgUsageRequire:
		return refused("organization_usage", "organization_usage of %s cannot be require: it%s", ConsoleClientID, why)
	case !c.FirstParty:
		return refused("is_first_party", "is_first_party of %s must stay true: a consent screen%s", ConsoleClientID, why)
	}
	return nil
}

// ensureAdminRoles creates the two admin roles where they are missing.
func (s *Service) ensureAdminRoles(ctx context.Context) error {
	for _, r := range []struct{ name, desc string }{
		{AdminRole, "Administers Gatehouse in the admin console"},
		{ReadOnlyAdminRole, "Reads everything in the admin console, changes nothing"},
	} {
		if _, err := s.st.GetRoleByName(ctx, r.name); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("ensure console: get role %s: %w", r.name, err)
		}
		name, desc := r.name, r.desc
		if _, err := s.CreateRole(ctx, RoleSettings{Name: &name, Description: &desc}); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("ensure console: %w", err)
		}
	}
	return nil
}

// AdminLevelOf returns what the user may do in the console: a blocked or
// deleted user nothing, whatever roles it holds.
func (s *Service) AdminLevelOf(ctx context.Context, userID string) (AdminLevel, error) {
	u, err := s.st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return AdminNone, nil
	}
	if err != nil {
		return AdminNone, fmt.Errorf("admin level: %w", err)
	}
	if u.Blocked {
		return AdminNone, nil
	}
	roles, err := s.st.UserRoles(ctx, userID, "")
	if err != nil {
		return AdminNone, fmt.Errorf("admin level: %w", err)
	}
	level := AdminNone
	for _, r := range roles {
		switch r.Name {
		case AdminRole:
			return AdminFull, nil
		case ReadOnlyAdminRole:
			level = AdminReadOnly
		}
	}
	return level, nil
}

// AddAdmin makes the user (ID or database email) an admin, full or
// read-only; the other admin role is taken away, so the user holds one.
func (s *Service) AddAdmin(ctx context.Context, idOrEmail string, readOnly bool) (store.User, error) {
	if err := s.ensureAdminRoles(ctx); err != nil {
		return store.User{}, err
	}
	u, err := s.FindUser(ctx, idOrEmail)
	if err != nil {
		return store.User{}, err
	}
	give, take := AdminRole, ReadOnlyAdminRole
	if readOnly {
		give, take = take, give
	}
	g, err := s.FindRole(ctx, give)
	if err != nil {
		return store.User{}, err
	}
	t, err := s.FindRole(ctx, take)
	if err != nil {
		return store.User{}, err
	}
	if err := s.UnassignUserRoles(ctx, u.ID, "", []string{t.ID}); err != nil {
		return store.User{}, err
	}
	if err := s.AssignUserRoles(ctx, u.ID, "", []string{g.ID}); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// RemoveAdmin takes both admin roles from the user; the console and its
// API tokens refuse the user from the next request on.
func (s *Service) RemoveAdmin(ctx context.Context, idOrEmail string) (store.User, error) {
	u, err := s.FindUser(ctx, idOrEmail)
	if err != nil {
		return store.User{}, err
	}
	roles, err := s.st.UserRoles(ctx, u.ID, "")
	if err != nil {
		return store.User{}, fmt.Errorf("remove admin: %w", err)
	}
	var ids []string
	for _, r := range roles {
		if r.Name == AdminRole || r.Name == ReadOnlyAdminRole {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return store.User{}, &Error{Status: http.StatusNotFound, Code: "inexistent_admin", Field: "email",
			Message: fmt.Sprintf("%s is not an admin", idOrEmail)}
	}
	if err := s.UnassignUserRoles(ctx, u.ID, "", ids); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// Admin is a user holding an admin role.
type Admin struct {
	User     store.User
	ReadOnly bool
}

// ListAdmins returns the admins, full ones first, each by ID.
func (s *Service) ListAdmins(ctx context.Context) ([]Admin, error) {
	var out []Admin
	for _, name := range []string{AdminRole, ReadOnlyAdminRole} {
		r, err := s.st.GetRoleByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list admins: %w", err)
		}
		users, _, err := s.RoleUsers(ctx, r.ID, "", 0, 0)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			out = append(out, Admin{User: u, ReadOnly: name == ReadOnlyAdminRole})
		}
	}
	return out, nil
}
