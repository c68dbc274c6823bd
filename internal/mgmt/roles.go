package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/store"
)

// Limits of a role's text, in characters.
const (
	maxRoleName        = 255
	maxRoleDescription = 1000
)

// RoleSettings are the settings of a role that create and update take; a
// nil field keeps its value on update.
type RoleSettings struct {
	Name        *string // unique, as written
	Description *string
}

func (in RoleSettings) apply(r *store.Role) {
	if in.Name != nil {
		r.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		r.Description = strings.TrimSpace(*in.Description)
	}
}

func validateRole(r store.Role) error {
	switch {
	case r.Name == "":
		return invalid("name", "the role needs a name")
	case utf8.RuneCountInString(r.Name) > maxRoleName:
		return invalid("name", "name must be at most %d characters", maxRoleName)
	case strings.ContainsFunc(r.Name, unicode.IsControl):
		return invalid("name", "name must not contain control characters")
	case utf8.RuneCountInString(r.Description) > maxRoleDescription:
		return invalid("description", "description must be at most %d characters", maxRoleDescription)
	case strings.ContainsFunc(r.Description, func(c rune) bool { return unicode.IsControl(c) && c != '\n' && c != '\t' }):
		return invalid("description", "description must not contain control characters")
	}
	return nil
}

// CreateRole creates a role with a new ID ("rol_…") and no permissions.
func (s *Service) CreateRole(ctx context.Context, in RoleSettings) (store.Role, error) {
	now := s.now()
	r := store.Role{ID: randomID("rol_"), CreatedAt: now, UpdatedAt: now}
	in.apply(&r)
	if err := validateRole(r); err != nil {
		return store.Role{}, err
	}
	if err := s.st.CreateRole(ctx, r); err != nil {
		return store.Role{}, conflict(err, "a role named %q", r.Name)
	}
	return r, nil
}

// GetRole returns the role with the ID.
func (s *Service) GetRole(ctx context.Context, id string) (store.Role, error) {
	r, err := s.st.GetRole(ctx, id)
	if err != nil {
		return store.Role{}, notFound(err, "role", id)
	}
	return r, nil
}

// FindRole finds a role by ID ("rol_…") or, failing that, by name.
func (s *Service) FindRole(ctx context.Context, idOrName string) (store.Role, error) {
	if strings.HasPrefix(idOrName, "rol_") {
		r, err := s.st.GetRole(ctx, idOrName)
		if !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return store.Role{}, notFound(err, "role", idOrName)
			}
			return r, nil
		}
	}
	r, err := s.st.GetRoleByName(ctx, idOrName)
	if err != nil {
		return store.Role{}, notFound(err, "role", idOrName)
	}
	return r, nil
}

// ListRoles returns the page of roles the filter selects, by name, and how
// many it selects in all.
func (s *Service) ListRoles(ctx context.Context, f store.RoleFilter) ([]store.Role, int, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, 0, invalid("page", "page and per_page must not be negative")
	}
	rs, total, err := s.st.ListRoles(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("list roles: %w", err)
	}
	return rs, total, nil
}

// UpdateRole changes the settings that are set.
func (s *Service) UpdateRole(ctx context.Context, id string, in RoleSettings) (store.Role, error) {
	r, err := s.GetRole(ctx, id)
	if err != nil {
		return store.Role{}, err
	}
	in.apply(&r)
	if err := validateRole(r); err != nil {
		return store.Role{}, err
	}
	r.UpdatedAt = s.now()
	if err := s.st.UpdateRole(ctx, r); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Role{}, notFound(err, "role", id)
		}
		return store.Role{}, conflict(err, "a role named %q", r.Name)
	}
	return r, nil
}

// DeleteRole removes the role: whoever held it loses its permissions.
func (s *Service) DeleteRole(ctx context.Context, id string) error {
	if err := s.st.DeleteRole(ctx, id); err != nil {
		return notFound(err, "role", id)
	}
	return nil
}

// PermissionInfo is a permission with what the management API shows of it.
type PermissionInfo struct {
	store.Permission
	APIName     string // the API's name
	Description string // the scope's description
	// Sources say where a user's permission comes from: given directly,
	// from a role, or both. Empty for a role's permissions.
	Sources []PermissionSource
}

// PermissionSource is where a user's permission comes from.
type PermissionSource struct {
	Type     string // PermissionDirect or PermissionFromRole
	RoleID   string // the role, for PermissionFromRole
	RoleName string
}

// Permission sources, as the hosted service names them.
const (
	PermissionDirect   = "DIRECT"
	PermissionFromRole = "ROLE"
)

// checkPermissions checks that each permission is a scope of an existing
// API, and returns them without duplicates. The field names the input in
// errors.
func (s *Service) checkPermissions(ctx context.Context, ps []store.Permission) ([]store.Permission, error) {
	if len(ps) == 0 {
		return nil, invalid("permissions", "permissions must list at least one permission")
	}
	apis := map[string]store.API{}
	var out []store.Permission
	for _, p := range ps {
		if p.Audience == "" || p.Name == "" {
			return nil, invalid("permissions", "each permission needs resource_server_identifier and permission_name")
		}
		api, ok := apis[p.Audience]
		if !ok {
			a, err := s.GetAPI(ctx, p.Audience)
			if err != nil {
				return nil, err
			}
			api, apis[p.Audience] = a, a
		}
		if !slices.ContainsFunc(api.Scopes, func(sc store.APIScope) bool { return sc.Name == p.Name }) {
			return nil, invalid("permissions", "permission %q is not a scope of %s", p.Name, p.Audience)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// describe adds the API's name and the scope's description to each
// permission.
func (s *Service) describe(ctx context.Context, ps []store.Permission) ([]PermissionInfo, error) {
	apis := map[string]*store.API{}
	out := make([]PermissionInfo, 0, len(ps))
	for _, p := range ps {
		api, ok := apis[p.Audience]
		if !ok {
			a, err := s.st.GetAPI(ctx, p.Audience)
			switch {
			case errors.Is(err, store.ErrNotFound):
				// Deleted since the permissions were read; it has none now.
			case err != nil:
				return nil, fmt.Errorf("describe permissions: %w", err)
			default:
				api = &a
			}
			apis[p.Audience] = api
		}
		if api == nil {
			continue
		}
		info := PermissionInfo{Permission: p, APIName: api.Name}
		if i := slices.IndexFunc(api.Scopes, func(sc store.APIScope) bool { return sc.Name == p.Name }); i >= 0 {
			info.Description = api.Scopes[i].Description
		}
		out = append(out, info)
	}
	return out, nil
}

// AddRolePermissions gives a role permissions: scopes of existing APIs.
func (s *Service) AddRolePermissions(ctx context.Context, roleID string, ps []store.Permission) error {
	if _, err := s.GetRole(ctx, roleID); err != nil {
		return err
	}
	ps, err := s.checkPermissions(ctx, ps)
	if err != nil {
		return err
	}
	if err := s.st.AddRolePermissions(ctx, roleID, ps); err != nil {
		// The role or an API was deleted since they were read.
		return notFound(err, "role or API", roleID)
	}
	return nil
}

// RemoveRolePermissions takes permissions from a role; those it lacks are
// no error.
func (s *Service) RemoveRolePermissions(ctx context.Context, roleID string, ps []store.Permission) error {
	if len(ps) == 0 {
		return invalid("permissions", "permissions must list at least one permission")
	}
	if err := s.st.RemoveRolePermissions(ctx, roleID, ps); err != nil {
		return notFound(err, "role", roleID)
	}
	return nil
}

// RolePermissions returns a role's permissions, by API identifier, then
// name.
func (s *Service) RolePermissions(ctx context.Context, roleID string) ([]PermissionInfo, error) {
	ps, err := s.st.ListRolePermissions(ctx, roleID)
	if err != nil {
		return nil, notFound(err, "role", roleID)
	}
	return s.describe(ctx, ps)
}

// checkRoles checks that roleIDs is not empty and that each role exists,
// and returns them without duplicates.
func (s *Service) checkRoles(ctx context.Context, roleIDs []string) ([]string, error) {
	if len(roleIDs) == 0 {
		return nil, invalid("roles", "roles must list at least one role")
	}
	var out []string
	for _, id := range roleIDs {
		if slices.Contains(out, id) {
			continue
		}
		if _, err := s.GetRole(ctx, id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// memberOrg returns the organization (ID or name) of an assignment in one,
// checking that the user is a member; "" for none.
func (s *Service) memberOrg(ctx context.Context, org string, u store.User) (string, error) {
	if org == "" {
		return "", nil
	}
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return "", err
	}
	member, err := s.st.IsMember(ctx, o.ID, u.ID)
	if err != nil {
		return "", fmt.Errorf("check membership: %w", err)
	}
	if !member {
		return "", notMember(u.ID, o.Name, store.ErrNotFound)
	}
	return o.ID, nil
}

func notMember(userID, org string, err error) *Error {
	return &Error{Status: http.StatusNotFound, Code: "inexistent_member",
		Message: fmt.Sprintf("%s is not a member of %s", userID, org), err: err}
}

// AssignUserRoles gives a user roles: everywhere when org is "", or as a
// member of the organization (ID or name). Roles held already are no
// error.
func (s *Service) AssignUserRoles(ctx context.Context, userID, org string, roleIDs []string) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	orgID, err := s.memberOrg(ctx, org, u)
	if err != nil {
		return err
	}
	roleIDs, err = s.checkRoles(ctx, roleIDs)
	if err != nil {
		return err
	}
	as := make([]store.RoleAssignment, len(roleIDs))
	for i, id := range roleIDs {
		as[i] = store.RoleAssignment{UserID: u.ID, RoleID: id, OrgID: orgID}
	}
	if err := s.st.AssignRoles(ctx, as); err != nil {
		// A role, the user or the membership went since they were read.
		return notFound(err, "role or user", u.ID)
	}
	return nil
}

// UnassignUserRoles takes roles from a user, everywhere when org is "" or
// in the organization; roles not held are no error.
func (s *Service) UnassignUserRoles(ctx context.Context, userID, org string, roleIDs []string) error {
	if len(roleIDs) == 0 {
		return invalid("roles", "roles must list at least one role")
	}
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	orgID := ""
	if org != "" {
		o, err := s.GetOrganization(ctx, org)
		if err != nil {
			return err
		}
		orgID = o.ID
	}
	as := make([]store.RoleAssignment, len(roleIDs))
	for i, id := range roleIDs {
		as[i] = store.RoleAssignment{UserID: u.ID, RoleID: id, OrgID: orgID}
	}
	if err := s.st.UnassignRoles(ctx, as); err != nil {
		return fmt.Errorf("unassign roles: %w", err)
	}
	return nil
}

// UserRoles returns the roles a user holds everywhere (org "") or as a
// member of the organization, by name.
func (s *Service) UserRoles(ctx context.Context, userID, org string) ([]store.Role, error) {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	orgID := ""
	if org != "" {
		o, err := s.GetOrganization(ctx, org)
		if err != nil {
			return nil, err
		}
		member, err := s.st.IsMember(ctx, o.ID, u.ID)
		if err != nil {
			return nil, fmt.Errorf("check membership: %w", err)
		}
		if !member {
			return nil, notMember(u.ID, o.Name, store.ErrNotFound)
		}
		orgID = o.ID
	}
	rs, err := s.st.UserRoles(ctx, u.ID, orgID)
	if err != nil {
		return nil, fmt.Errorf("user roles: %w", err)
	}
	return rs, nil
}

// AssignRoleUsers gives a role to users, everywhere; users who hold it
// already are no error.
func (s *Service) AssignRoleUsers(ctx context.Context, roleID string, userIDs []string) error {
	if len(userIDs) == 0 {
		return invalid("users", "users must list at least one user")
	}
	if _, err := s.GetRole(ctx, roleID); err != nil {
		return err
	}
	var as []store.RoleAssignment
	for _, id := range userIDs {
		if _, err := s.GetUser(ctx, id); err != nil {
			return err
		}
		a := store.RoleAssignment{UserID: id, RoleID: roleID}
		if !slices.Contains(as, a) {
			as = append(as, a)
		}
	}
	if err := s.st.AssignRoles(ctx, as); err != nil {
		return notFound(err, "role or user", roleID)
	}
	return nil
}

// RoleUsers returns a page of the users who hold the role everywhere, by
// ID, after the ID after ("" from the first), skipping offset and at most
// limit (0: all), and how many hold it in all.
func (s *Service) RoleUsers(ctx context.Context, roleID, after string, offset, limit int) ([]store.User, int, error) {
	if offset < 0 || limit < 0 {
		return nil, 0, invalid("page", "page and per_page must not be negative")
	}
	ids, total, err := s.st.ListRoleUsers(ctx, roleID, after, offset, limit)
	if err != nil {
		return nil, 0, notFound(err, "role", roleID)
	}
	users := make([]store.User, 0, len(ids))
	for _, id := range ids {
		u, err := s.st.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the IDs were read
		}
		if err != nil {
			return nil, 0, fmt.Errorf("role users: %w", err)
		}
		users = append(users, u)
	}
	return users, total, nil
}

// AddUserPermissions gives a user permissions directly: scopes of existing
// APIs.
func (s *Service) AddUserPermissions(ctx context.Context, userID string, ps []store.Permission) error {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return err
	}
	ps, err := s.checkPermissions(ctx, ps)
	if err != nil {
		return err
	}
	if err := s.st.AddUserPermissions(ctx, userID, ps); err != nil {
		return notFound(err, "user or API", userID)
	}
	return nil
}

// RemoveUserPermissions takes permissions given directly from a user;
// those the user lacks are no error. Permissions from roles stay.
func (s *Service) RemoveUserPermissions(ctx context.Context, userID string, ps []store.Permission) error {
	if len(ps) == 0 {
		return invalid("permissions", "permissions must list at least one permission")
	}
	if err := s.st.RemoveUserPermissions(ctx, userID, ps); err != nil {
		return notFound(err, "user", userID)
	}
	return nil
}

// UserPermissions returns a user's permissions outside organizations: those
// given directly and those of the roles held everywhere, each once with its
// sources, by API identifier, then name.
func (s *Service) UserPermissions(ctx context.Context, userID string) ([]PermissionInfo, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	sources := map[store.Permission][]PermissionSource{}
	var all []store.Permission
	add := func(p store.Permission, src PermissionSource) {
		if _, ok := sources[p]; !ok {
			all = append(all, p)
		}
		sources[p] = append(sources[p], src)
	}
	direct, err := s.st.UserPermissions(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("user permissions: %w", err)
	}
	for _, p := range direct {
		add(p, PermissionSource{Type: PermissionDirect})
	}
	roles, err := s.st.UserRoles(ctx, userID, "")
	if err != nil {
		return nil, fmt.Errorf("user permissions: %w", err)
	}
	for _, r := range roles {
		ps, err := s.st.ListRolePermissions(ctx, r.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("user permissions: %w", err)
		}
		for _, p := range ps {
			add(p, PermissionSource{Type: PermissionFromRole, RoleID: r.ID, RoleName: r.Name})
		}
	}
	slices.SortFunc(all, func(a, b store.Permission) int {
		if c := strings.Compare(a.Audience, b.Audience); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	infos, err := s.describe(ctx, all)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		infos[i].Sources = sources[infos[i].Permission]
	}
	return infos, nil
}
