package mgmt_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func TestAPIRBACSettings(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a, err := e.svc.CreateAPI(ctx, "https://api.example", mgmt.APISettings{Name: ptr("API")})
	if err != nil {
		t.Fatal(err)
	}
	if a.RBAC || a.Dialect() != store.DialectRFC9068 || a.PermissionsClaim() {
		t.Errorf("a new API: RBAC %t, dialect %q", a.RBAC, a.Dialect())
	}

	steps := []struct {
		name    string
		in      mgmt.APISettings
		rbac    bool
		dialect string
		field   string // the refusal's field, when refused
		msg     string
	}{
		{name: "permissions claim without RBAC", in: mgmt.APISettings{PermissionsClaim: ptr(true)},
			field: "token_dialect", msg: "needs RBAC"},
		{name: "authz dialect without RBAC", in: mgmt.APISettings{TokenDialect: ptr(store.DialectAccessTokenAuthz)},
			field: "token_dialect", msg: "needs RBAC"},
		{name: "unknown dialect", in: mgmt.APISettings{TokenDialect: ptr("jwt")},
			field: "token_dialect", msg: `"jwt" is not access_token, access_token_authz, rfc9068_profile, rfc9068_profile_authz`},
		{name: "unknown dialect with the claim", in: mgmt.APISettings{RBAC: ptr(true), TokenDialect: ptr("jwt"), PermissionsClaim: ptr(true)},
			field: "token_dialect", msg: `"jwt" is not`},
		{name: "RBAC and the claim", in: mgmt.APISettings{RBAC: ptr(true), PermissionsClaim: ptr(true)},
			rbac: true, dialect: store.DialectRFC9068Authz},
		{name: "the claim again", in: mgmt.APISettings{PermissionsClaim: ptr(true)},
			rbac: true, dialect: store.DialectRFC9068Authz},
		{name: "the hosted service's profile keeps the claim", in: mgmt.APISettings{TokenDialect: ptr(store.DialectAccessToken), PermissionsClaim: ptr(true)},
			rbac: true, dialect: store.DialectAccessTokenAuthz},
		{name: "no claim", in: mgmt.APISettings{PermissionsClaim: ptr(false)},
			rbac: true, dialect: store.DialectAccessToken},
		{name: "claim back", in: mgmt.APISettings{PermissionsClaim: ptr(true)},
			rbac: true, dialect: store.DialectAccessTokenAuthz},
		{name: "RBAC off drops the claim", in: mgmt.APISettings{RBAC: ptr(false)},
			rbac: false, dialect: store.DialectAccessToken},
		{name: "RBAC off with an authz dialect", in: mgmt.APISettings{RBAC: ptr(false), TokenDialect: ptr(store.DialectRFC9068Authz)},
			field: "token_dialect", msg: "needs RBAC"},
		{name: "dialect alone", in: mgmt.APISettings{TokenDialect: ptr(store.DialectRFC9068)},
			rbac: false, dialect: store.DialectRFC9068},
		{name: "RBAC alone", in: mgmt.APISettings{RBAC: ptr(true)},
			rbac: true, dialect: store.DialectRFC9068},
	}
	for _, st := range steps {
		got, err := e.svc.UpdateAPI(ctx, a.Identifier, st.in)
		if st.field != "" {
			wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, st.field, st.msg)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		stored, err := e.st.GetAPI(ctx, a.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []store.API{got, stored} {
			if x.RBAC != st.rbac || x.Dialect() != st.dialect {
				t.Errorf("%s: RBAC %t, dialect %q; want %t, %q", st.name, x.RBAC, x.Dialect(), st.rbac, st.dialect)
			}
		}
	}

	if _, err := e.svc.CreateAPI(ctx, "https://b.example", mgmt.APISettings{Name: ptr("B"), RBAC: ptr(true),
		TokenDialect: ptr(store.DialectAccessTokenAuthz)}); err != nil {
		t.Errorf("create with RBAC and the claim: %v", err)
	}
}

func TestFindAPI(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a, err := e.svc.CreateAPI(ctx, "https://api.example", mgmt.APISettings{Name: ptr("API")})
	if err != nil {
		t.Fatal(err)
	}
	id := mgmt.APIID(a.Identifier)
	if len(id) != 24 || id == mgmt.APIID("https://api.example/") {
		t.Fatalf("APIID %q", id)
	}
	for _, key := range []string{a.Identifier, id} {
		got, err := e.svc.FindAPI(ctx, key)
		if err != nil || got.Identifier != a.Identifier {
			t.Errorf("FindAPI(%q) = %q, %v", key, got.Identifier, err)
		}
	}
	for _, key := range []string{"https://nope.example", mgmt.APIID("https://nope.example"), strings.ToUpper(id)} {
		_, err := e.svc.FindAPI(ctx, key)
		wantError(t, err, http.StatusNotFound, "inexistent_resource_server", "", "not found")
	}
}

// rbacEnv is an env with an API, two users, an organization with one of
// them as a member, and a role.
type rbacEnv struct {
	*env
	api      store.API
	ada, bob store.User
	org      store.Organization
	role     store.Role
}

func newRBACEnv(t *testing.T) rbacEnv {
	t.Helper()
	e := rbacEnv{env: newEnv(t)}
	ctx := t.Context()
	var err error
	e.api, err = e.svc.CreateAPI(ctx, "https://api.example", mgmt.APISettings{Name: ptr("Messages"),
		Scopes: &[]store.APIScope{{Name: "read:messages", Description: "Read them"}, {Name: "write:messages", Description: "Write them"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*store.User{&e.ada, &e.bob} {
		name := "ada"
		if u == &e.bob {
			name = "bob"
		}
		*u = store.User{ID: "gatehouse|" + name, Connection: store.DefaultDatabaseConnection, Email: name + "@example.com",
			Name: strings.ToUpper(name[:1]) + name[1:], CreatedAt: e.now, UpdatedAt: e.now}
		if err := e.st.CreateUser(ctx, *u); err != nil {
			t.Fatal(err)
		}
	}
	if e.org, err = e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AddMember(ctx, e.org.ID, e.ada.ID); err != nil {
		t.Fatal(err)
	}
	if e.role, err = e.svc.CreateRole(ctx, mgmt.RoleSettings{Name: ptr("Reader")}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	r, err := e.svc.CreateRole(ctx, mgmt.RoleSettings{Name: ptr("  Editor "), Description: ptr(" Edits\tthings ")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "rol_") || len(r.ID) != 20 || r.Name != "Editor" || r.Description != "Edits\tthings" || !r.CreatedAt.Equal(e.now) {
		t.Errorf("created %+v", r)
	}
	if got, err := e.svc.GetRole(ctx, r.ID); err != nil || got != r {
		t.Errorf("get %+v, %v", got, err)
	}
	for _, key := range []string{r.ID, "Editor"} {
		if got, err := e.svc.FindRole(ctx, key); err != nil || got.ID != r.ID {
			t.Errorf("find %q: %+v, %v", key, got, err)
		}
	}
	// A name that looks like an ID is still a name.
	odd, err := e.svc.CreateRole(ctx, mgmt.RoleSettings{Name: ptr("rol_named")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.FindRole(ctx, "rol_named"); err != nil || got.ID != odd.ID {
		t.Errorf("find by a name like an ID: %+v, %v", got, err)
	}
	_, err = e.svc.FindRole(ctx, "Nobody")
	wantError(t, err, http.StatusNotFound, "inexistent_role", "", `role "Nobody" not found`)

	refused := []struct {
		name       string
		in         mgmt.RoleSettings
		status     int
		code       string
		field, msg string
	}{
		{"no name", mgmt.RoleSettings{}, http.StatusBadRequest, mgmt.CodeInvalidBody, "name", "needs a name"},
		{"blank name", mgmt.RoleSettings{Name: ptr("  ")}, http.StatusBadRequest, mgmt.CodeInvalidBody, "name", "needs a name"},
		{"long name", mgmt.RoleSettings{Name: ptr(strings.Repeat("é", 256))}, http.StatusBadRequest, mgmt.CodeInvalidBody, "name", "at most 255"},
		{"control character", mgmt.RoleSettings{Name: ptr("a\x00b")}, http.StatusBadRequest, mgmt.CodeInvalidBody, "name", "control"},
		{"long description", mgmt.RoleSettings{Name: ptr("X"), Description: ptr(strings.Repeat("d", 1001))}, http.StatusBadRequest, mgmt.CodeInvalidBody, "description", "at most 1000"},
		{"escape in description", mgmt.RoleSettings{Name: ptr("X"), Description: ptr("\x1b[31m")}, http.StatusBadRequest, mgmt.CodeInvalidBody, "description", "control"},
		{"taken name", mgmt.RoleSettings{Name: ptr("Editor")}, http.StatusConflict, mgmt.CodeConflict, "", `a role named "Editor" already exists`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateRole(t.Context(), tt.in)
			wantError(t, err, tt.status, tt.code, tt.field, tt.msg)
		})
	}
	if _, err := e.svc.CreateRole(ctx, mgmt.RoleSettings{Name: ptr(strings.Repeat("é", 255))}); err != nil {
		t.Errorf("a name of 255 characters: %v", err)
	}

	e.now = e.now.Add(time.Minute)
	upd, err := e.svc.UpdateRole(ctx, r.ID, mgmt.RoleSettings{Description: ptr("Edits")})
	if err != nil || upd.Name != "Editor" || upd.Description != "Edits" || !upd.UpdatedAt.Equal(e.now) || !upd.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("updated %+v, %v", upd, err)
	}
	_, err = e.svc.UpdateRole(ctx, r.ID, mgmt.RoleSettings{Name: ptr("rol_named")})
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", "already exists")
	_, err = e.svc.UpdateRole(ctx, r.ID, mgmt.RoleSettings{Name: ptr("")})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "name", "needs a name")
	_, err = e.svc.UpdateRole(ctx, "rol_nope", mgmt.RoleSettings{Name: ptr("X")})
	wantError(t, err, http.StatusNotFound, "inexistent_role", "", "not found")

	list, total, err := e.svc.ListRoles(ctx, store.RoleFilter{NameContains: "EDIT"})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != r.ID {
		t.Errorf("list: %+v, %d, %v", list, total, err)
	}
	_, _, err = e.svc.ListRoles(ctx, store.RoleFilter{Offset: -1})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "page", "negative")

	if err := e.svc.DeleteRole(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.DeleteRole(ctx, r.ID), http.StatusNotFound, "inexistent_role", "", "not found")
}

func TestRolePermissions(t *testing.T) {
	e := newRBACEnv(t)
	ctx := t.Context()
	read, write := store.Permission{Audience: e.api.Identifier, Name: "read:messages"}, store.Permission{Audience: e.api.Identifier, Name: "write:messages"}
	if err := e.svc.AddRolePermissions(ctx, e.role.ID, []store.Permission{write, read, write}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.RolePermissions(ctx, e.role.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []mgmt.PermissionInfo{
		{Permission: read, APIName: "Messages", Description: "Read them"},
		{Permission: write, APIName: "Messages", Description: "Write them"},
	}
	if !slices.EqualFunc(got, want, func(a, b mgmt.PermissionInfo) bool {
		return a.Permission == b.Permission && a.APIName == b.APIName && a.Description == b.Description && len(a.Sources) == 0
	}) {
		t.Errorf("role permissions %+v, want %+v", got, want)
	}

	tests := []struct {
		name       string
		role       string
		ps         []store.Permission
		status     int
		code       string
		field, msg string
	}{
		{"none", e.role.ID, nil, http.StatusBadRequest, mgmt.CodeInvalidBody, "permissions", "at least one"},
		{"no name", e.role.ID, []store.Permission{{Audience: e.api.Identifier}}, http.StatusBadRequest, mgmt.CodeInvalidBody, "permissions", "permission_name"},
		{"not a scope", e.role.ID, []store.Permission{{Audience: e.api.Identifier, Name: "delete:messages"}}, http.StatusBadRequest, mgmt.CodeInvalidBody, "permissions", `"delete:messages" is not a scope of https://api.example`},
		{"unknown API", e.role.ID, []store.Permission{read, {Audience: "https://nope.example", Name: "read:messages"}}, http.StatusNotFound, "inexistent_resource_server", "", "not found"},
		{"unknown role", "rol_nope", []store.Permission{read}, http.StatusNotFound, "inexistent_role", "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.svc.AddRolePermissions(t.Context(), tt.role, tt.ps), tt.status, tt.code, tt.field, tt.msg)
		})
	}

	if err := e.svc.RemoveRolePermissions(ctx, e.role.ID, []store.Permission{write, {Audience: "urn:gone", Name: "x"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.RolePermissions(ctx, e.role.ID); len(got) != 1 || got[0].Permission != read {
		t.Errorf("after remove: %+v", got)
	}
	wantError(t, e.svc.RemoveRolePermissions(ctx, e.role.ID, nil), http.StatusBadRequest, mgmt.CodeInvalidBody, "permissions", "at least one")
	wantError(t, e.svc.RemoveRolePermissions(ctx, "rol_nope", []store.Permission{read}), http.StatusNotFound, "inexistent_role", "", "not found")
	_, err = e.svc.RolePermissions(ctx, "rol_nope")
	wantError(t, err, http.StatusNotFound, "inexistent_role", "", "not found")
}

func TestUserRoles(t *testing.T) {
	e := newRBACEnv(t)
	ctx := t.Context()
	admin, err := e.svc.CreateRole(ctx, mgmt.RoleSettings{Name: ptr("Admin")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AssignUserRoles(ctx, e.ada.ID, "", []string{e.role.ID, admin.ID, e.role.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AssignUserRoles(ctx, e.ada.ID, "acme", []string{admin.ID}); err != nil {
		t.Fatal(err)
	}
	wantRoles := func(user, org string, want ...string) {
		t.Helper()
		rs, err := e.svc.UserRoles(ctx, user, org)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("roles of %s in %q: %q, want %q", user, org, got, want)
		}
	}
	wantRoles(e.ada.ID, "", "Admin", "Reader")
	wantRoles(e.ada.ID, e.org.ID, "Admin")
	wantRoles(e.bob.ID, "")

	tests := []struct {
		name       string
		user, org  string
		roles      []string
		status     int
		code       string
		field, msg string
	}{
		{"no roles", e.ada.ID, "", nil, http.StatusBadRequest, mgmt.CodeInvalidBody, "roles", "at least one"},
		{"unknown role", e.bob.ID, "", []string{e.role.ID, "rol_nope"}, http.StatusNotFound, "inexistent_role", "", "not found"},
		{"unknown user", "gatehouse|nobody", "", []string{e.role.ID}, http.StatusNotFound, "inexistent_user", "", "not found"},
		{"not a member", e.bob.ID, "acme", []string{e.role.ID}, http.StatusNotFound, "inexistent_member", "", "gatehouse|bob is not a member of acme"},
		{"unknown organization", e.bob.ID, "org_nope", []string{e.role.ID}, http.StatusNotFound, "inexistent_organization", "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.svc.AssignUserRoles(t.Context(), tt.user, tt.org, tt.roles), tt.status, tt.code, tt.field, tt.msg)
		})
	}
	wantRoles(e.bob.ID, "")
	_, err = e.svc.UserRoles(ctx, e.bob.ID, "acme")
	wantError(t, err, http.StatusNotFound, "inexistent_member", "", "not a member")
	_, err = e.svc.UserRoles(ctx, "gatehouse|nobody", "")
	wantError(t, err, http.StatusNotFound, "inexistent_user", "", "not found")

	if err := e.svc.UnassignUserRoles(ctx, e.ada.ID, "", []string{admin.ID, "rol_never"}); err != nil {
		t.Fatal(err)
	}
	wantRoles(e.ada.ID, "", "Reader")
	wantRoles(e.ada.ID, "acme", "Admin")
	if err := e.svc.UnassignUserRoles(ctx, e.ada.ID, "acme", []string{admin.ID}); err != nil {
		t.Fatal(err)
	}
	wantRoles(e.ada.ID, "acme")
	wantError(t, e.svc.UnassignUserRoles(ctx, e.ada.ID, "", nil), http.StatusBadRequest, mgmt.CodeInvalidBody, "roles", "at least one")
	wantError(t, e.svc.UnassignUserRoles(ctx, "gatehouse|nobody", "", []string{admin.ID}), http.StatusNotFound, "inexistent_user", "", "not found")
	wantError(t, e.svc.UnassignUserRoles(ctx, e.ada.ID, "org_nope", []string{admin.ID}), http.StatusNotFound, "inexistent_organization", "", "not found")

	// Role users.
	if err := e.svc.AssignRoleUsers(ctx, e.role.ID, []string{e.bob.ID, e.ada.ID, e.bob.ID}); err != nil {
		t.Fatal(err)
	}
	users, total, err := e.svc.RoleUsers(ctx, e.role.ID, "", 0, 0)
	if err != nil || total != 2 || len(users) != 2 || users[0].ID != e.ada.ID || users[1].Email != "bob@example.com" {
		t.Errorf("role users %+v, %d, %v", users, total, err)
	}
	users, total, err = e.svc.RoleUsers(ctx, e.role.ID, e.ada.ID, 0, 1)
	if err != nil || total != 2 || len(users) != 1 || users[0].ID != e.bob.ID {
		t.Errorf("role users after ada %+v, %d, %v", users, total, err)
	}
	wantError(t, e.svc.AssignRoleUsers(ctx, e.role.ID, nil), http.StatusBadRequest, mgmt.CodeInvalidBody, "users", "at least one")
	wantError(t, e.svc.AssignRoleUsers(ctx, e.role.ID, []string{"gatehouse|nobody"}), http.StatusNotFound, "inexistent_user", "", "not found")
	wantError(t, e.svc.AssignRoleUsers(ctx, "rol_nope", []string{e.ada.ID}), http.StatusNotFound, "inexistent_role", "", "not found")
	_, _, err = e.svc.RoleUsers(ctx, "rol_nope", "", 0, 0)
	wantError(t, err, http.StatusNotFound, "inexistent_role", "", "not found")
	_, _, err = e.svc.RoleUsers(ctx, e.role.ID, "", 0, -1)
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "page", "negative")
}

func TestUserPermissions(t *testing.T) {
	e := newRBACEnv(t)
	ctx := t.Context()
	read, write := store.Permission{Audience: e.api.Identifier, Name: "read:messages"}, store.Permission{Audience: e.api.Identifier, Name: "write:messages"}
	if err := e.svc.AddRolePermissions(ctx, e.role.ID, []store.Permission{read}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AssignUserRoles(ctx, e.ada.ID, "", []string{e.role.ID}); err != nil {
		t.Fatal(err)
	}
	// A role held only in an organization does not count here.
	orgRole, err := e.svc.CreateRole(ctx, mgmt.RoleSettings{Name: ptr("Org writer")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddRolePermissions(ctx, orgRole.ID, []store.Permission{write}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AssignUserRoles(ctx, e.ada.ID, e.org.ID, []string{orgRole.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddUserPermissions(ctx, e.ada.ID, []store.Permission{read}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.UserPermissions(ctx, e.ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantSources := []mgmt.PermissionSource{{Type: mgmt.PermissionDirect}, {Type: mgmt.PermissionFromRole, RoleID: e.role.ID, RoleName: "Reader"}}
	if len(got) != 1 || got[0].Permission != read || got[0].APIName != "Messages" || !slices.Equal(got[0].Sources, wantSources) {
		t.Errorf("user permissions %+v", got)
	}

	tests := []struct {
		name       string
		user       string
		ps         []store.Permission
		status     int
		code       string
		field, msg string
	}{
		{"none", e.ada.ID, nil, http.StatusBadRequest, mgmt.CodeInvalidBody, "permissions", "at least one"},
		{"not a scope", e.ada.ID, []store.Permission{{Audience: e.api.Identifier, Name: "admin"}}, http.StatusBadRequest, mgmt.CodeInvalidBody, "permissions", "not a scope"},
		{"unknown user", "gatehouse|nobody", []store.Permission{read}, http.StatusNotFound, "inexistent_user", "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.svc.AddUserPermissions(t.Context(), tt.user, tt.ps), tt.status, tt.code, tt.field, tt.msg)
		})
	}

	// Removing the direct permission leaves the role's.
	if err := e.svc.RemoveUserPermissions(ctx, e.ada.ID, []store.Permission{read}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.svc.UserPermissions(ctx, e.ada.ID)
	if len(got) != 1 || !slices.Equal(got[0].Sources, wantSources[1:]) {
		t.Errorf("after removing the direct permission: %+v", got)
	}
	wantError(t, e.svc.RemoveUserPermissions(ctx, e.ada.ID, nil), http.StatusBadRequest, mgmt.CodeInvalidBody, "permissions", "at least one")
	wantError(t, e.svc.RemoveUserPermissions(ctx, "gatehouse|nobody", []store.Permission{read}), http.StatusNotFound, "inexistent_user", "", "not found")
	_, err = e.svc.UserPermissions(ctx, "gatehouse|nobody")
	wantError(t, err, http.StatusNotFound, "inexistent_user", "", "not found")
}
