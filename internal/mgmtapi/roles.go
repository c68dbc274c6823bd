package mgmtapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// rbacRoutes adds roles, the roles and permissions of users and of
// organization members, and resource servers (the APIs whose scopes are
// the permissions).
func (a *API) rbacRoutes() {
	a.add("GET", "/roles", "List roles", a.listRoles, "read:roles").lists("roles", roleJSON{})
	a.add("POST", "/roles", "Create a role", a.createRole, "create:roles").accepts(roleCreate{}).returns(200, roleJSON{})
	a.add("GET", "/roles/{id}", "Get a role", a.getRole, "read:roles").returns(200, roleJSON{})
	a.add("PATCH", "/roles/{id}", "Update a role", a.patchRole, "update:roles").accepts(rolePatch{}).returns(200, roleJSON{})
	a.add("DELETE", "/roles/{id}", "Delete a role", a.deleteRole, "delete:roles").returns(200, nil)
	a.add("GET", "/roles/{id}/permissions", "List a role's permissions", a.listRolePermissions, "read:roles").lists("permissions", permissionJSON{})
	a.add("POST", "/roles/{id}/permissions", "Add permissions to a role", a.addRolePermissions, "update:roles").accepts(permissionsBody{}).returns(201, nil)
	a.add("DELETE", "/roles/{id}/permissions", "Remove permissions from a role", a.removeRolePermissions, "update:roles").accepts(permissionsBody{}).returns(200, nil)
	a.add("GET", "/roles/{id}/users", "List a role's users (needs read:users and read:roles)", a.listRoleUsers, "read:users", "read:roles").lists("users", roleUserJSON{}).checkpoints()
	a.add("POST", "/roles/{id}/users", "Assign a role to users", a.assignRoleUsers, "update:roles", "create:role_members").accepts(roleUsersBody{}).returns(200, nil)

	a.add("GET", "/users/{id}/roles", "List a user's roles (needs read:users and read:roles)", a.listUserRoles, "read:users", "read:roles").lists("roles", roleJSON{})
	a.add("POST", "/users/{id}/roles", "Assign roles to a user", a.assignUserRoles, "update:users", "create:role_members").accepts(rolesBody{}).returns(204, nil)
	a.add("DELETE", "/users/{id}/roles", "Remove roles from a user", a.unassignUserRoles, "update:users", "delete:role_members").accepts(rolesBody{}).returns(204, nil)
	a.add("GET", "/users/{id}/permissions", "List a user's permissions", a.listUserPermissions, "read:users").lists("permissions", userPermissionJSON{})
	a.add("POST", "/users/{id}/permissions", "Give a user permissions", a.addUserPermissions, "update:users").accepts(permissionsBody{}).returns(201, nil)
	a.add("DELETE", "/users/{id}/permissions", "Remove permissions from a user", a.removeUserPermissions, "update:users").accepts(permissionsBody{}).returns(204, nil)

	a.add("GET", "/organizations/{id}/members/{user_id}/roles", "List an organization member's roles", a.listMemberRoles, "read:organization_member_roles").lists("roles", roleJSON{})
	a.add("POST", "/organizations/{id}/members/{user_id}/roles", "Assign roles to an organization member", a.assignMemberRoles, "create:organization_member_roles").accepts(rolesBody{}).returns(204, nil)
	a.add("DELETE", "/organizations/{id}/members/{user_id}/roles", "Remove roles from an organization member", a.unassignMemberRoles, "delete:organization_member_roles").accepts(rolesBody{}).returns(204, nil)

	a.resourceServerRoutes()
}

// needAll refuses a caller whose token lacks one of the scopes: the routes
// that show users through roles need both read:users and read:roles, as
// the hosted service's do.
func needAll(r *http.Request, scopes ...string) error {
	c, _ := CallerOf(r.Context())
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return &mgmt.Error{Status: http.StatusForbidden, Code: "insufficient_scope",
				Message: "Insufficient scope, expected all of: " + strings.Join(scopes, ",")}
		}
	}
	return nil
}

// roleJSON is a role as the API shows it.
type roleJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func toRoleJSON(r store.Role) roleJSON {
	return roleJSON{ID: r.ID, Name: r.Name, Description: r.Description}
}

func rolesJSON(rs []store.Role) []roleJSON {
	out := make([]roleJSON, len(rs))
	for i, r := range rs {
		out[i] = toRoleJSON(r)
	}
	return out
}

type roleCreate struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

type rolePatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// permissionRef names a permission in a request.
type permissionRef struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
}

// permissionsBody adds or removes permissions.
type permissionsBody struct {
	Permissions []permissionRef `json:"permissions"`
}

// permissions checks the body's shape (the service checks the rest).
func (b permissionsBody) permissions() ([]store.Permission, error) {
	if len(b.Permissions) == 0 {
		return nil, badRequest("Payload validation error: 'Array is too short (0), minimum 1' on property permissions")
	}
	out := make([]store.Permission, len(b.Permissions))
	for i, p := range b.Permissions {
		if p.ResourceServerIdentifier == "" || p.PermissionName == "" {
			return nil, badRequest("Payload validation error: 'Missing required property: resource_server_identifier or permission_name' on property permissions[%d]", i)
		}
		out[i] = store.Permission{Audience: p.ResourceServerIdentifier, Name: p.PermissionName}
	}
	return out, nil
}

// permissionJSON is a permission as the API shows it.
type permissionJSON struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
	ResourceServerName       string `json:"resource_server_name"`
	Description              string `json:"description"`
}

func toPermissionJSON(p mgmt.PermissionInfo) permissionJSON {
	return permissionJSON{ResourceServerIdentifier: p.Audience, PermissionName: p.Name, ResourceServerName: p.APIName, Description: p.Description}
}

// userPermissionJSON is a user's permission with where it comes from.
type userPermissionJSON struct {
	permissionJSON
	Sources []permissionSourceJSON `json:"sources"`
}

type permissionSourceJSON struct {
	SourceID   string `json:"source_id"`
	SourceName string `json:"source_name"`
	SourceType string `json:"source_type"`
}

// roleUserJSON is a user of a role as the API shows it.
type roleUserJSON struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email,omitempty"`
	Picture string `json:"picture,omitempty"`
	Name    string `json:"name,omitempty"`
}

type roleUsersBody struct {
	Users []string `json:"users"`
}

type rolesBody struct {
	Roles []string `json:"roles"`
}

func (b rolesBody) roles() ([]string, error) {
	if len(b.Roles) == 0 {
		return nil, badRequest("Payload validation error: 'Array is too short (0), minimum 1' on property roles")
	}
	if slices.Contains(b.Roles, "") {
		return nil, badRequest("Payload validation error: 'String is too short (0 chars), minimum 1' on property roles")
	}
	return b.Roles, nil
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "name_filter"); err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	rs, total, err := a.svc.ListRoles(r.Context(), store.RoleFilter{NameContains: r.URL.Query().Get("name_filter"),
		Offset: p.offset(), Limit: p.PerPage})
	if err != nil {
		return err
	}
	writePage(w, p, "roles", rolesJSON(rs), total)
	return nil
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request) error {
	var in roleCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return badRequest("Payload validation error: 'Missing required property: name'")
	}
	role, err := a.svc.CreateRole(r.Context(), mgmt.RoleSettings{Name: in.Name, Description: in.Description})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRoleJSON(role))
	return nil
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request) error {
	role, err := a.svc.GetRole(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRoleJSON(role))
	return nil
}

func (a *API) patchRole(w http.ResponseWriter, r *http.Request) error {
	var in rolePatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	role, err := a.svc.UpdateRole(r.Context(), r.PathValue("id"), mgmt.RoleSettings{Name: in.Name, Description: in.Description})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRoleJSON(role))
	return nil
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteRole(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) listRolePermissions(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, "permissions", func() ([]mgmt.PermissionInfo, error) {
		return a.svc.RolePermissions(r.Context(), r.PathValue("id"))
	}, toPermissionJSON)
}

// changePermissions decodes a permissions body and applies change.
func changePermissions(w http.ResponseWriter, r *http.Request, status int, change func(ps []store.Permission) error) error {
	var in permissionsBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ps, err := in.permissions()
	if err != nil {
		return err
	}
	if err := change(ps); err != nil {
		return err
	}
	w.WriteHeader(status)
	return nil
}

func (a *API) addRolePermissions(w http.ResponseWriter, r *http.Request) error {
	return changePermissions(w, r, http.StatusCreated, func(ps []store.Permission) error {
		return a.svc.AddRolePermissions(r.Context(), r.PathValue("id"), ps)
	})
}

func (a *API) removeRolePermissions(w http.ResponseWriter, r *http.Request) error {
	return changePermissions(w, r, http.StatusOK, func(ps []store.Permission) error {
		return a.svc.RemoveRolePermissions(r.Context(), r.PathValue("id"), ps)
	})
}

// listRoleUsers pages by offset (page, per_page) or, as the hosted
// service allows for long lists, by checkpoint (from, take): the answer
// is then {"users": […], "next": ID}, next naming where the following
// page starts, absent on the last.
func (a *API) listRoleUsers(w http.ResponseWriter, r *http.Request) error {
	if err := needAll(r, "read:users", "read:roles"); err != nil {
		return err
	}
	if err := checkQuery(r, "page", "per_page", "include_totals", "from", "take"); err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Has("from") || q.Has("take") {
		// include_totals is ignored here, as the hosted service does: the
		// current SDK sends include_totals=true with take on every call.
		if q.Has("page") || q.Has("per_page") {
			return badRequest("Query validation error: from and take cannot be used with page or per_page")
		}
		take := defaultPerPage
		if v := q.Get("take"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxPerPage {
				return badRequest("Query validation error: 'take' must be an integer from 1 to %d", maxPerPage)
			}
			take = n
		}
		// One more than asked tells whether there is a next page.
		users, _, err := a.svc.RoleUsers(r.Context(), r.PathValue("id"), q.Get("from"), 0, take+1)
		if err != nil {
			return err
		}
		body := map[string]any{}
		if len(users) > take {
			users = users[:take]
			body["next"] = users[take-1].ID
		}
		body["users"] = roleUsersJSON(users)
		writeJSON(w, http.StatusOK, body)
		return nil
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	users, total, err := a.svc.RoleUsers(r.Context(), r.PathValue("id"), "", p.offset(), p.PerPage)
	if err != nil {
		return err
	}
	writePage(w, p, "users", roleUsersJSON(users), total)
	return nil
}

func roleUsersJSON(us []store.User) []roleUserJSON {
	out := make([]roleUserJSON, len(us))
	for i, u := range us {
		out[i] = roleUserJSON{UserID: u.ID, Email: u.Email, Picture: u.Picture, Name: u.Name}
	}
	return out
}

func (a *API) assignRoleUsers(w http.ResponseWriter, r *http.Request) error {
	var in roleUsersBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if len(in.Users) == 0 {
		return badRequest("Payload validation error: 'Array is too short (0), minimum 1' on property users")
	}
	if err := a.svc.AssignRoleUsers(r.Context(), r.PathValue("id"), in.Users); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// writeRoles writes a page of roles held in memory.
func writeRoles(w http.ResponseWriter, r *http.Request, rs []store.Role) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	pageSlice(w, p, "roles", rolesJSON(rs))
	return nil
}

func (a *API) listUserRoles(w http.ResponseWriter, r *http.Request) error {
	if err := needAll(r, "read:users", "read:roles"); err != nil {
		return err
	}
	if err := checkQuery(r, "page", "per_page", "include_totals"); err != nil {
		return err
	}
	if _, err := pageOf(r); err != nil {
		return err
	}
	rs, err := a.svc.UserRoles(r.Context(), r.PathValue("id"), "")
	if err != nil {
		return err
	}
	return writeRoles(w, r, rs)
}

// changeRoles decodes a roles body and applies change.
func changeRoles(w http.ResponseWriter, r *http.Request, change func(roles []string) error) error {
	var in rolesBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	roles, err := in.roles()
	if err != nil {
		return err
	}
	if err := change(roles); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) assignUserRoles(w http.ResponseWriter, r *http.Request) error {
	return changeRoles(w, r, func(roles []string) error {
		return a.svc.AssignUserRoles(r.Context(), r.PathValue("id"), "", roles)
	})
}

func (a *API) unassignUserRoles(w http.ResponseWriter, r *http.Request) error {
	return changeRoles(w, r, func(roles []string) error {
		return a.svc.UnassignUserRoles(r.Context(), r.PathValue("id"), "", roles)
	})
}

func (a *API) listUserPermissions(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, "permissions", func() ([]mgmt.PermissionInfo, error) {
		return a.svc.UserPermissions(r.Context(), r.PathValue("id"))
	}, func(p mgmt.PermissionInfo) userPermissionJSON {
		out := userPermissionJSON{permissionJSON: toPermissionJSON(p), Sources: []permissionSourceJSON{}}
		for _, src := range p.Sources {
			out.Sources = append(out.Sources, permissionSourceJSON{SourceID: src.RoleID, SourceName: src.RoleName, SourceType: src.Type})
		}
		return out
	})
}

func (a *API) addUserPermissions(w http.ResponseWriter, r *http.Request) error {
	return changePermissions(w, r, http.StatusCreated, func(ps []store.Permission) error {
		return a.svc.AddUserPermissions(r.Context(), r.PathValue("id"), ps)
	})
}

func (a *API) removeUserPermissions(w http.ResponseWriter, r *http.Request) error {
	return changePermissions(w, r, http.StatusNoContent, func(ps []store.Permission) error {
		return a.svc.RemoveUserPermissions(r.Context(), r.PathValue("id"), ps)
	})
}

func (a *API) listMemberRoles(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals"); err != nil {
		return err
	}
	if _, err := pageOf(r); err != nil {
		return err
	}
	rs, err := a.svc.UserRoles(r.Context(), r.PathValue("user_id"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeRoles(w, r, rs)
}

func (a *API) assignMemberRoles(w http.ResponseWriter, r *http.Request) error {
	return changeRoles(w, r, func(roles []string) error {
		return a.svc.AssignUserRoles(r.Context(), r.PathValue("user_id"), r.PathValue("id"), roles)
	})
}

func (a *API) unassignMemberRoles(w http.ResponseWriter, r *http.Request) error {
	return changeRoles(w, r, func(roles []string) error {
		return a.svc.UnassignUserRoles(r.Context(), r.PathValue("user_id"), r.PathValue("id"), roles)
	})
}
