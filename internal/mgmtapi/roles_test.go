package mgmtapi_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

type roleOut struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type permissionOut struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
	ResourceServerName       string `json:"resource_server_name"`
	Description              string `json:"description"`
	Sources                  []struct {
		SourceID   string `json:"source_id"`
		SourceName string `json:"source_name"`
		SourceType string `json:"source_type"`
	} `json:"sources"`
}

const rbacAPI = "https://api.example"

// rbacFixture is an API with three scopes, two users, an organization with
// the first as a member, and a role.
type rbacFixture struct {
	ada, bob userOut
	org      store.Organization
	role     roleOut
}

func (e *env) rbacFixture(t *testing.T) rbacFixture {
	t.Helper()
	var f rbacFixture
	e.call(t, "POST", "/api/v2/resource-servers", map[string]any{"identifier": rbacAPI, "name": "Messages",
		"scopes": []map[string]any{{"value": "read:messages", "description": "Read them"}, {"value": "write:messages"}, {"value": "delete:messages"}}}, 201, nil)
	f.ada = e.createUser(t, "ada@example.com", map[string]any{"name": "Ada"})
	f.bob = e.createUser(t, "bob@example.com", nil)
	var err error
	if f.org, err = e.svc.CreateOrganization(t.Context(), mgmt.OrganizationSettings{Name: ptr("acme")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AddMember(t.Context(), f.org.ID, f.ada.UserID); err != nil {
		t.Fatal(err)
	}
	e.call(t, "POST", "/api/v2/roles", map[string]any{"name": "Reader", "description": "Reads"}, 200, &f.role)
	return f
}

func ptr[T any](v T) *T { return &v }

func perms(names ...string) map[string]any {
	var ps []map[string]any
	for _, n := range names {
		ps = append(ps, map[string]any{"resource_server_identifier": rbacAPI, "permission_name": n})
	}
	return map[string]any{"permissions": ps}
}

// TestRBACRoutesAuthorization checks every route of roles, user and member
// roles and permissions, and resource servers: without a token, with
// another audience, and without the route's scope.
func TestRBACRoutesAuthorization(t *testing.T) {
	e := newEnv(t)
	paths := map[string]string{
		"/roles": "/api/v2/roles", "/roles/{id}": "/api/v2/roles/rol_x", "/roles/{id}/permissions": "/api/v2/roles/rol_x/permissions",
		"/roles/{id}/users": "/api/v2/roles/rol_x/users", "/users/{id}/roles": "/api/v2/users/a%7Cb/roles",
		"/users/{id}/permissions":                     "/api/v2/users/a%7Cb/permissions",
		"/organizations/{id}/members/{user_id}/roles": "/api/v2/organizations/org_x/members/a%7Cb/roles",
		"/resource-servers":                           "/api/v2/resource-servers", "/resource-servers/{id}": "/api/v2/resource-servers/x",
	}
	unrelated := e.token(t, "read:clients")
	otherAudience := e.tokenWith(t, map[string]any{"aud": "https://api.example", "scope": "read:roles read:users"})
	n := 0
	for _, rt := range e.api.Routes() {
		path, ok := paths[rt.Path]
		if !ok {
			continue
		}
		n++
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			status, body := e.do(t, rt.Method, path, nil, "")
			wantError(t, status, body, 401, "Missing authentication")
			status, body = e.do(t, rt.Method, path, nil, otherAudience)
			wantError(t, status, body, 401, "Bad audience")
			status, body = e.do(t, rt.Method, path, nil, unrelated)
			wantError(t, status, body, 403, "Insufficient scope")
		})
	}
	if n != 24 {
		t.Errorf("checked %d routes, want 24", n)
	}
	// Users through roles need both read:users and read:roles.
	for _, path := range []string{"/api/v2/roles/rol_x/users", "/api/v2/users/a%7Cb/roles"} {
		for _, scope := range []string{"read:users", "read:roles"} {
			status, body := e.do(t, "GET", path, nil, e.token(t, scope))
			wantError(t, status, body, 403, "Insufficient scope, expected all of: read:users,read:roles")
		}
	}
}

func TestRolesAPI(t *testing.T) {
	e := newEnv(t)
	var r roleOut
	e.call(t, "POST", "/api/v2/roles", map[string]any{"name": "Editor", "description": "Edits"}, 200, &r)
	if len(r.ID) != 20 || r.ID[:4] != "rol_" || r.Name != "Editor" || r.Description != "Edits" {
		t.Fatalf("created %+v", r)
	}
	tok := e.token(t, all...)
	refused := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"create without name", "POST", "/api/v2/roles", map[string]any{"description": "x"}, 400, "Missing required property: name"},
		{"create with a blank name", "POST", "/api/v2/roles", map[string]any{"name": " "}, 400, "needs a name"},
		{"create with an unknown field", "POST", "/api/v2/roles", map[string]any{"name": "X", "permissions": []string{}}, 400, "Additional properties not allowed: permissions"},
		{"create with a wrong type", "POST", "/api/v2/roles", `{"name": 7}`, 400, "Expected type string but found type number"},
		{"create a taken name", "POST", "/api/v2/roles", map[string]any{"name": "Editor"}, 409, "already exists"},
		{"get unknown", "GET", "/api/v2/roles/rol_nope", nil, 404, `role "rol_nope" not found`},
		{"patch unknown", "PATCH", "/api/v2/roles/rol_nope", map[string]any{"name": "X"}, 404, "not found"},
		{"patch with an unknown field", "PATCH", "/api/v2/roles/" + r.ID, map[string]any{"id": "rol_other"}, 400, "Additional properties not allowed: id"},
		{"patch to a long name", "PATCH", "/api/v2/roles/" + r.ID, map[string]any{"name": string(make([]byte, 300))}, 400, "name"},
		{"delete unknown", "DELETE", "/api/v2/roles/rol_nope", nil, 404, "not found"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}

	var got roleOut
	e.call(t, "GET", "/api/v2/roles/"+r.ID, nil, 200, &got)
	if got != r {
		t.Fatalf("get %+v", got)
	}
	e.call(t, "PATCH", "/api/v2/roles/"+r.ID, map[string]any{"description": "Edits things"}, 200, &got)
	if got.Name != "Editor" || got.Description != "Edits things" {
		t.Fatalf("patched %+v", got)
	}

	// Listing: by name in byte order, name_filter in any case, pages.
	for i := range 5 {
		e.call(t, "POST", "/api/v2/roles", map[string]any{"name": fmt.Sprintf("Billing %d", i)}, 200, nil)
	}
	var list []roleOut
	e.call(t, "GET", "/api/v2/roles", nil, 200, &list)
	if len(list) != 6 || list[0].Name != "Billing 0" || list[5].Name != "Editor" {
		t.Fatalf("list %+v", list)
	}
	var page struct {
		Start, Limit, Length, Total int
		Roles                       []roleOut
	}
	e.call(t, "GET", "/api/v2/roles?name_filter=BILLING&page=1&per_page=2&include_totals=true", nil, 200, &page)
	if page.Start != 2 || page.Limit != 2 || page.Length != 2 || page.Total != 5 || page.Roles[0].Name != "Billing 2" {
		t.Fatalf("filtered page %+v", page)
	}
	e.call(t, "GET", "/api/v2/roles?name_filter=nobody", nil, 200, &list)
	if list == nil || len(list) != 0 {
		t.Fatalf("no match: %v", list)
	}
	for _, q := range []string{"per_page=0", "per_page=101", "page=-1", "include_totals=maybe", "q=x"} {
		status, body := e.do(t, "GET", "/api/v2/roles?"+q, nil, tok)
		wantError(t, status, body, 400, "Query validation error")
	}

	status, body := e.do(t, "DELETE", "/api/v2/roles/"+r.ID, nil, tok)
	if status != 200 || len(body) != 0 {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = e.do(t, "GET", "/api/v2/roles/"+r.ID, nil, tok)
	wantError(t, status, body, 404, "not found")
}

func TestRolePermissionsAPI(t *testing.T) {
	e := newEnv(t)
	f := e.rbacFixture(t)
	tok := e.token(t, all...)
	base := "/api/v2/roles/" + f.role.ID + "/permissions"
	e.call(t, "POST", base, perms("write:messages", "read:messages"), 201, nil)
	refused := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"not a scope", "POST", base, perms("admin"), 400, `permission "admin" is not a scope of https://api.example`},
		{"unknown API", "POST", base, map[string]any{"permissions": []map[string]any{{"resource_server_identifier": "https://nope.example", "permission_name": "x"}}}, 404, "not found"},
		{"no permissions", "POST", base, map[string]any{"permissions": []any{}}, 400, "minimum 1"},
		{"no body field", "POST", base, map[string]any{}, 400, "minimum 1"},
		{"missing permission_name", "POST", base, map[string]any{"permissions": []map[string]any{{"resource_server_identifier": rbacAPI}}}, 400, "permission_name"},
		{"unknown field in a permission", "POST", base, map[string]any{"permissions": []map[string]any{{"resource_server_identifier": rbacAPI, "permission_name": "x", "scope": "y"}}}, 400, "Additional properties not allowed: scope"},
		{"unknown role", "POST", "/api/v2/roles/rol_nope/permissions", perms("read:messages"), 404, "not found"},
		{"remove from an unknown role", "DELETE", "/api/v2/roles/rol_nope/permissions", perms("read:messages"), 404, "not found"},
		{"remove none", "DELETE", base, map[string]any{"permissions": []any{}}, 400, "minimum 1"},
		{"list of an unknown role", "GET", "/api/v2/roles/rol_nope/permissions", nil, 404, "not found"},
		{"list with an unknown parameter", "GET", base + "?name_filter=x", nil, 400, "Query validation error"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	var list []permissionOut
	e.call(t, "GET", base, nil, 200, &list)
	if len(list) != 2 || list[0].PermissionName != "read:messages" || list[0].ResourceServerName != "Messages" ||
		list[0].Description != "Read them" || list[1].PermissionName != "write:messages" {
		t.Fatalf("permissions %+v", list)
	}
	var page struct {
		Total       int
		Permissions []permissionOut
	}
	e.call(t, "GET", base+"?per_page=1&page=1&include_totals=true", nil, 200, &page)
	if page.Total != 2 || len(page.Permissions) != 1 || page.Permissions[0].PermissionName != "write:messages" {
		t.Fatalf("page %+v", page)
	}
	status, body := e.do(t, "DELETE", base, perms("write:messages", "delete:messages"), tok)
	if status != 200 {
		t.Fatalf("remove: %d %s", status, body)
	}
	e.call(t, "GET", base, nil, 200, &list)
	if len(list) != 1 || list[0].PermissionName != "read:messages" {
		t.Fatalf("after remove %+v", list)
	}
}

func TestRoleUsersAPI(t *testing.T) {
	e := newEnv(t)
	f := e.rbacFixture(t)
	tok := e.token(t, all...)
	base := "/api/v2/roles/" + f.role.ID + "/users"
	var ids []string
	for i := range 5 {
		u := e.createUser(t, fmt.Sprintf("user%d@example.com", i), nil)
		ids = append(ids, u.UserID)
	}
	slices.Sort(ids)
	e.call(t, "POST", base, map[string]any{"users": ids}, 200, nil)
	refused := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"unknown user", "POST", base, map[string]any{"users": []string{f.bob.UserID, "auth0|nobody"}}, 404, `user "auth0|nobody" not found`},
		{"no users", "POST", base, map[string]any{"users": []string{}}, 400, "minimum 1"},
		{"unknown role", "POST", "/api/v2/roles/rol_nope/users", map[string]any{"users": []string{f.bob.UserID}}, 404, "not found"},
		{"unknown field", "POST", base, map[string]any{"user_ids": []string{f.bob.UserID}}, 400, "Additional properties not allowed: user_ids"},
		{"list of an unknown role", "GET", "/api/v2/roles/rol_nope/users", nil, 404, "not found"},
		{"from with page", "GET", base + "?from=x&page=1", nil, 400, "cannot be used with"},
		{"take too large", "GET", base + "?take=101", nil, 400, "'take'"},
		{"take zero", "GET", base + "?take=0", nil, 400, "'take'"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	// The refused assignment stored nothing: bob has no role.
	var bobRoles []roleOut
	e.call(t, "GET", "/api/v2/users/"+url.PathEscape(f.bob.UserID)+"/roles", nil, 200, &bobRoles)
	if len(bobRoles) != 0 {
		t.Fatalf("bob's roles after a refused assignment: %+v", bobRoles)
	}

	type roleUser struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
	}
	var list []roleUser
	e.call(t, "GET", base, nil, 200, &list)
	if len(list) != 5 || list[0].UserID != ids[0] || list[0].Email == "" {
		t.Fatalf("users %+v", list)
	}
	var page struct {
		Total int
		Users []roleUser
	}
	e.call(t, "GET", base+"?page=2&per_page=2&include_totals=true", nil, 200, &page)
	if page.Total != 5 || len(page.Users) != 1 || page.Users[0].UserID != ids[4] {
		t.Fatalf("page %+v", page)
	}
	// Checkpoint pagination: from the next of each page to the last.
	var got []string
	from := ""
	for range 4 {
		var cp struct {
			Next  string
			Users []roleUser
		}
		// As the current Auth0 SDK asks: include_totals=true beside take,
		// which is ignored.
		q := "?include_totals=true&take=2"
		if from != "" {
			q += "&from=" + url.QueryEscape(from)
		}
		e.call(t, "GET", base+q, nil, 200, &cp)
		for _, u := range cp.Users {
			got = append(got, u.UserID)
		}
		if cp.Next == "" {
			break
		}
		from = cp.Next
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("checkpoint pages %q, want %q", got, ids)
	}
}

func TestUserRolesAndPermissionsAPI(t *testing.T) {
	e := newEnv(t)
	f := e.rbacFixture(t)
	tok := e.token(t, all...)
	var writer roleOut
	e.call(t, "POST", "/api/v2/roles", map[string]any{"name": "Writer"}, 200, &writer)
	e.call(t, "POST", "/api/v2/roles/"+f.role.ID+"/permissions", perms("read:messages"), 201, nil)
	ada := "/api/v2/users/" + url.PathEscape(f.ada.UserID)

	status, body := e.do(t, "POST", ada+"/roles", map[string]any{"roles": []string{writer.ID, f.role.ID}}, tok)
	if status != 204 || len(body) != 0 {
		t.Fatalf("assign: %d %s", status, body)
	}
	var roles []roleOut
	e.call(t, "GET", ada+"/roles", nil, 200, &roles)
	if len(roles) != 2 || roles[0].Name != "Reader" || roles[1].Name != "Writer" {
		t.Fatalf("roles %+v", roles)
	}
	var rolesPage struct {
		Total int
		Roles []roleOut
	}
	e.call(t, "GET", ada+"/roles?per_page=1&include_totals=true", nil, 200, &rolesPage)
	if rolesPage.Total != 2 || len(rolesPage.Roles) != 1 {
		t.Fatalf("roles page %+v", rolesPage)
	}

	e.call(t, "POST", ada+"/permissions", perms("read:messages", "write:messages"), 201, nil)
	var ps []permissionOut
	e.call(t, "GET", ada+"/permissions", nil, 200, &ps)
	if len(ps) != 2 || ps[0].PermissionName != "read:messages" || len(ps[0].Sources) != 2 ||
		ps[0].Sources[0].SourceType != "DIRECT" || ps[0].Sources[1].SourceType != "ROLE" || ps[0].Sources[1].SourceID != f.role.ID ||
		ps[1].PermissionName != "write:messages" || len(ps[1].Sources) != 1 {
		t.Fatalf("permissions %+v", ps)
	}
	refused := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"unknown role", "POST", ada + "/roles", map[string]any{"roles": []string{"rol_nope"}}, 404, "not found"},
		{"no roles", "POST", ada + "/roles", map[string]any{"roles": []string{}}, 400, "minimum 1"},
		{"an empty role ID", "POST", ada + "/roles", map[string]any{"roles": []string{""}}, 400, "minimum 1"},
		{"unknown field", "POST", ada + "/roles", map[string]any{"roles": []string{f.role.ID}, "organization": "acme"}, 400, "Additional properties not allowed: organization"},
		{"roles of an unknown user", "GET", "/api/v2/users/auth0%7Cnobody/roles", nil, 404, "not found"},
		{"assign to an unknown user", "POST", "/api/v2/users/auth0%7Cnobody/roles", map[string]any{"roles": []string{f.role.ID}}, 404, "not found"},
		{"unassign none", "DELETE", ada + "/roles", map[string]any{"roles": []string{}}, 400, "minimum 1"},
		{"a permission the API lacks", "POST", ada + "/permissions", perms("admin"), 400, "not a scope"},
		{"permissions of an unknown user", "GET", "/api/v2/users/auth0%7Cnobody/permissions", nil, 404, "not found"},
		{"remove none", "DELETE", ada + "/permissions", map[string]any{"permissions": []any{}}, 400, "minimum 1"},
		{"remove from an unknown user", "DELETE", "/api/v2/users/auth0%7Cnobody/permissions", perms("read:messages"), 404, "not found"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}

	status, body = e.do(t, "DELETE", ada+"/permissions", perms("read:messages", "write:messages"), tok)
	if status != 204 {
		t.Fatalf("remove permissions: %d %s", status, body)
	}
	e.call(t, "GET", ada+"/permissions", nil, 200, &ps)
	if len(ps) != 1 || len(ps[0].Sources) != 1 || ps[0].Sources[0].SourceName != "Reader" {
		t.Fatalf("permissions after remove %+v", ps)
	}
	status, _ = e.do(t, "DELETE", ada+"/roles", map[string]any{"roles": []string{f.role.ID, "rol_never"}}, tok)
	if status != 204 {
		t.Fatalf("unassign: %d", status)
	}
	e.call(t, "GET", ada+"/roles", nil, 200, &roles)
	if len(roles) != 1 || roles[0].ID != writer.ID {
		t.Fatalf("roles after unassign %+v", roles)
	}
}

func TestOrganizationMemberRolesAPI(t *testing.T) {
	e := newEnv(t)
	f := e.rbacFixture(t)
	tok := e.token(t, all...)
	member := "/api/v2/organizations/" + f.org.ID + "/members/" + url.PathEscape(f.ada.UserID) + "/roles"
	status, body := e.do(t, "POST", member, map[string]any{"roles": []string{f.role.ID}}, tok)
	if status != 204 {
		t.Fatalf("assign: %d %s", status, body)
	}
	var roles []roleOut
	e.call(t, "GET", member, nil, 200, &roles)
	if len(roles) != 1 || roles[0].ID != f.role.ID {
		t.Fatalf("member roles %+v", roles)
	}
	// Roles held in the organization are not the user's everywhere.
	e.call(t, "GET", "/api/v2/users/"+url.PathEscape(f.ada.UserID)+"/roles", nil, 200, &roles)
	if len(roles) != 0 {
		t.Fatalf("roles everywhere %+v", roles)
	}
	nonMember := "/api/v2/organizations/" + f.org.ID + "/members/" + url.PathEscape(f.bob.UserID) + "/roles"
	refused := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"not a member", "POST", nonMember, map[string]any{"roles": []string{f.role.ID}}, 404, "is not a member of acme"},
		{"roles of a non-member", "GET", nonMember, nil, 404, "is not a member"},
		{"unknown organization", "POST", "/api/v2/organizations/org_nope/members/" + url.PathEscape(f.ada.UserID) + "/roles",
			map[string]any{"roles": []string{f.role.ID}}, 404, `organization "org_nope" not found`},
		{"unknown role", "POST", member, map[string]any{"roles": []string{"rol_nope"}}, 404, "not found"},
		{"no roles", "DELETE", member, map[string]any{"roles": []string{}}, 400, "minimum 1"},
		{"unknown field", "POST", member, map[string]any{"roles": []string{f.role.ID}, "x": 1}, 400, "Additional properties not allowed: x"},
		{"bad page", "GET", member + "?per_page=0", nil, 400, "Query validation error"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	status, _ = e.do(t, "DELETE", member, map[string]any{"roles": []string{f.role.ID}}, tok)
	if status != 204 {
		t.Fatalf("unassign: %d", status)
	}
	e.call(t, "GET", member, nil, 200, &roles)
	if len(roles) != 0 {
		t.Fatalf("member roles after unassign %+v", roles)
	}
}
