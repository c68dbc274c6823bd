package store

import (
	"context"
	"slices"
	"time"
)

// Token dialects of an API (API.TokenDialect): the claims of its access
// tokens. The names are the hosted service's, so that settings carry over.
const (
	// DialectAccessToken is the hosted service's default profile: typ JWT,
	// azp for the client, no jti.
	DialectAccessToken = "access_token"
	// DialectAccessTokenAuthz adds the permissions claim to it.
	DialectAccessTokenAuthz = "access_token_authz"
	// DialectRFC9068 is RFC 9068: typ at+jwt, client_id and jti. It is
	// Gatehouse's default ("" means it too).
	DialectRFC9068 = "rfc9068_profile"
	// DialectRFC9068Authz adds the permissions claim to it.
	DialectRFC9068Authz = "rfc9068_profile_authz"
)

// TokenDialects are the dialects an API may have, in the order the hosted
// service lists them.
var TokenDialects = []string{DialectAccessToken, DialectAccessTokenAuthz, DialectRFC9068, DialectRFC9068Authz}

// Dialect returns the API's token dialect, DialectRFC9068 when unset.
func (a API) Dialect() string {
	if a.TokenDialect == "" {
		return DialectRFC9068
	}
	return a.TokenDialect
}

// PermissionsClaim reports whether the API's access tokens carry the
// permissions claim (an _authz dialect).
func (a API) PermissionsClaim() bool {
	d := a.Dialect()
	return d == DialectAccessTokenAuthz || d == DialectRFC9068Authz
}

// Role is a named set of permissions, held by users directly or as members
// of an organization.
type Role struct {
	ID          string // "rol_…"
	Name        string // unique
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Permission is one scope of one API, as roles and users hold it.
type Permission struct {
	Audience string // the API's identifier
	Name     string // one of the API's scopes
}

// RoleAssignment gives a user a role: everywhere when OrgID is empty, or
// as a member of that organization only.
type RoleAssignment struct {
	UserID string
	RoleID string
	OrgID  string
}

// RoleFilter selects and pages roles. Limit 0 means no limit.
type RoleFilter struct {
	// NameContains keeps the roles whose name contains it, compared in
	// lower case; "" keeps all.
	NameContains  string
	Offset, Limit int
}

// RoleStore keeps roles, their permissions, and who holds them.
//
// Permissions go with their API and roles with their users: DeleteAPI
// removes the API's permissions from every role and user, UpdateAPI those
// of the scopes it drops, DeleteUser the user's roles and permissions, and
// DeleteRole the role's permissions and assignments, each in the same
// transaction. A role held in an organization goes with the membership:
// RemoveMember, DeleteOrganization and DeleteUser end it, and a member
// added again starts with no roles.
type RoleStore interface {
	// CreateRole stores r; ErrConflict when its ID or name is taken.
	CreateRole(ctx context.Context, r Role) error
	// GetRole returns the role with the ID; ErrNotFound.
	GetRole(ctx context.Context, id string) (Role, error)
	// GetRoleByName returns the role with the name, compared exactly;
	// ErrNotFound.
	GetRoleByName(ctx context.Context, name string) (Role, error)
	// ListRoles returns the page of the roles the filter selects, by name
	// in byte order, and how many it selects in all.
	ListRoles(ctx context.Context, f RoleFilter) ([]Role, int, error)
	// UpdateRole replaces the role's Name, Description and UpdatedAt;
	// ErrNotFound, ErrConflict on a taken name.
	UpdateRole(ctx context.Context, r Role) error
	// DeleteRole removes the role with its permissions and assignments;
	// ErrNotFound.
	DeleteRole(ctx context.Context, id string) error

	// AddRolePermissions gives the role the permissions, atomically; those
	// it has already are no error. ErrNotFound, and nothing added, when
	// the role or one of the APIs does not exist. The store does not check
	// that the names are the APIs' scopes: the caller does.
	AddRolePermissions(ctx context.Context, roleID string, ps []Permission) error
	// RemoveRolePermissions takes the permissions from the role; those it
	// lacks are no error. ErrNotFound when the role does not exist.
	RemoveRolePermissions(ctx context.Context, roleID string, ps []Permission) error
	// ListRolePermissions returns the role's permissions by audience, then
	// name, in byte order; ErrNotFound when the role does not exist.
	ListRolePermissions(ctx context.Context, roleID string) ([]Permission, error)

	// AssignRoles stores the assignments, atomically; those that exist are
	// no error. ErrNotFound, and nothing stored, when a user or role does
	// not exist or, for an assignment in an organization, the user is not
	// a member of it.
	AssignRoles(ctx context.Context, as []RoleAssignment) error
	// UnassignRoles removes the assignments; those that do not exist are
	// no error.
	UnassignRoles(ctx context.Context, as []RoleAssignment) error
	// UserRoles returns the roles the user holds everywhere (orgID "") or
	// as a member of the organization, by name in byte order; none for an
	// unknown user or organization.
	UserRoles(ctx context.Context, userID, orgID string) ([]Role, error)
	// ListRoleUsers returns the IDs of the users who hold the role
	// everywhere, in byte order, after the ID after ("" from the first),
	// skipping offset and at most limit of them (0: all), and how many
	// hold it in all. ErrNotFound when the role does not exist.
	ListRoleUsers(ctx context.Context, roleID, after string, offset, limit int) ([]string, int, error)

	// AddUserPermissions gives the user the permissions directly,
	// atomically; those they have already are no error. ErrNotFound, and
	// nothing added, when the user or one of the APIs does not exist.
	AddUserPermissions(ctx context.Context, userID string, ps []Permission) error
	// RemoveUserPermissions takes the direct permissions from the user;
	// those they lack are no error. ErrNotFound when the user does not
	// exist.
	RemoveUserPermissions(ctx context.Context, userID string, ps []Permission) error
	// UserPermissions returns the permissions given to the user directly,
	// by audience, then name, in byte order; none for an unknown user.
	UserPermissions(ctx context.Context, userID string) ([]Permission, error)

	// EffectivePermissions returns the names of the permissions for the
	// API audience that the user has, in byte order without duplicates:
	// those given directly, those of the roles held everywhere and, when
	// orgID is set, those of the roles held as a member of that
	// organization. It is what an access token for the audience may carry.
	EffectivePermissions(ctx context.Context, userID, orgID, audience string) ([]string, error)
}

// PermittedScopes narrows the scopes requested for an API with RBAC on to
// those the user may get: the OpenID Connect scopes, and the API's scopes
// among the user's permissions (userPermissions, from
// EffectivePermissions). The order of requested is kept. With RBAC off it
// returns requested as it is.
func PermittedScopes(api API, requested, userPermissions []string) []string {
	if !api.RBAC {
		return requested
	}
	out := make([]string, 0, len(requested))
	for _, s := range requested {
		if slices.Contains(OpenIDScopes, s) || slices.Contains(userPermissions, s) {
			out = append(out, s)
		}
	}
	return out
}
