package storetest

import (
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// testRoles runs the role tests on one store; each uses its own users,
// organizations, APIs and roles. Besides what RoleStore documents, they pin:
//   - role names are unique as written ("Admin" and "admin" are two roles);
//     NameContains compares lower-cased, as strings.ToLower does;
//   - ListRoles and ListRoleUsers count every row the filter selects,
//     whatever the page, an empty page past the end included;
//   - LinkUsers does not move the secondary user's roles or permissions:
//     they go with it.
func testRoles(t *testing.T, s store.Store) {
	t.Run("CRUD", func(t *testing.T) { testRoleCRUD(t, s) })
	t.Run("ListRoles", func(t *testing.T) { testListRoles(t, s) })
	t.Run("RolePermissions", func(t *testing.T) { testRolePermissions(t, s) })
	t.Run("Assignments", func(t *testing.T) { testRoleAssignments(t, s) })
	t.Run("ListRoleUsers", func(t *testing.T) { testListRoleUsers(t, s) })
	t.Run("UserPermissions", func(t *testing.T) { testUserPermissions(t, s) })
	t.Run("EffectivePermissions", func(t *testing.T) { testEffectivePermissions(t, s) })
	t.Run("Cascades", func(t *testing.T) { testRoleCascades(t, s) })
}

func newRole(id, name string) store.Role {
	return store.Role{
		ID:          id,
		Name:        name,
		Description: "Can do — ünïcødé — what " + name + " does",
		CreatedAt:   t0.Add(-time.Hour).In(elsewhere),
		UpdatedAt:   t0.In(elsewhere),
	}
}

func perm(audience, name string) store.Permission {
	return store.Permission{Audience: audience, Name: name}
}

func testRoleCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetRole(ctx, "rol_crud1")
	wantErr(t, err, store.ErrNotFound, "get role before create")
	_, err = s.GetRoleByName(ctx, "Editor")
	wantErr(t, err, store.ErrNotFound, "get role by name before create")

	r1, r2 := newRole("rol_crud1", "Editor"), newRole("rol_crud2", "editor")
	r2.Description = ""
	must(t, s.CreateRole(ctx, r1), "create role 1")
	must(t, s.CreateRole(ctx, r2), "create role 2, the name in another case")
	got, err := s.GetRole(ctx, r1.ID)
	must(t, err, "get role 1")
	wantEqual(t, got, r1, "get role 1")
	got, err = s.GetRoleByName(ctx, "editor")
	must(t, err, "get role 2 by name")
	wantEqual(t, got, r2, "get role 2 by name")
	_, err = s.GetRoleByName(ctx, "EDITOR")
	wantErr(t, err, store.ErrNotFound, "get role by a name in another case")

	wantErr(t, s.CreateRole(ctx, newRole(r1.ID, "Other")), store.ErrConflict, "create role with a taken id")
	wantErr(t, s.CreateRole(ctx, newRole("rol_crud3", r1.Name)), store.ErrConflict, "create role with a taken name")
	_, err = s.GetRole(ctx, "rol_crud3")
	wantErr(t, err, store.ErrNotFound, "role refused for its name")

	upd := r1
	upd.Name, upd.Description = "Writer", "Writes"
	upd.CreatedAt = t0.Add(time.Hour) // ignored
	upd.UpdatedAt = t0.Add(2 * time.Hour).In(elsewhere)
	must(t, s.UpdateRole(ctx, upd), "update role 1")
	want := upd
	want.CreatedAt = r1.CreatedAt
	got, err = s.GetRole(ctx, r1.ID)
	must(t, err, "get updated role 1")
	wantEqual(t, got, want, "updated role 1")
	_, err = s.GetRoleByName(ctx, "Editor")
	wantErr(t, err, store.ErrNotFound, "get role by its old name")
	taken := upd
	taken.Name = r2.Name
	wantErr(t, s.UpdateRole(ctx, taken), store.ErrConflict, "rename role 1 to role 2's name")
	wantErr(t, s.UpdateRole(ctx, newRole("rol_nope", "Nope")), store.ErrNotFound, "update unknown role")
	_, err = s.GetRoleByName(ctx, "Nope")
	wantErr(t, err, store.ErrNotFound, "update must not create")

	must(t, s.DeleteRole(ctx, r1.ID), "delete role 1")
	_, err = s.GetRole(ctx, r1.ID)
	wantErr(t, err, store.ErrNotFound, "get deleted role")
	wantErr(t, s.DeleteRole(ctx, r1.ID), store.ErrNotFound, "delete role twice")
	// Deleted, its ID and name are free again.
	must(t, s.CreateRole(ctx, newRole(r1.ID, "Writer")), "create role with the deleted one's id and name")
	// ListRoles, next, counts every role of the store.
	for _, id := range []string{r1.ID, r2.ID} {
		must(t, s.DeleteRole(ctx, id), "delete "+id)
	}
}

func testListRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Byte order: upper case before lower case, "-" before letters.
	names := []string{"billing-admin", "Billing", "auditor", "Zeta", "BILLING viewer"}
	byID := map[string]store.Role{}
	for i, n := range names {
		r := newRole(fmt.Sprintf("rol_list%d", i), n)
		must(t, s.CreateRole(ctx, r), "create role "+n)
		byID[n] = r
	}
	roles := func(names ...string) []store.Role {
		var rs []store.Role
		for _, n := range names {
			rs = append(rs, byID[n])
		}
		return rs
	}
	tests := []struct {
		name  string
		f     store.RoleFilter
		want  []store.Role
		total int
	}{
		{"all", store.RoleFilter{}, roles("BILLING viewer", "Billing", "Zeta", "auditor", "billing-admin"), 5},
		{"filter in any case", store.RoleFilter{NameContains: "bILLing"}, roles("BILLING viewer", "Billing", "billing-admin"), 3},
		{"filter inside the name", store.RoleFilter{NameContains: "-ad"}, roles("billing-admin"), 1},
		{"filter with LIKE wildcards is literal", store.RoleFilter{NameContains: "b%g"}, nil, 0},
		{"filter with an underscore is literal", store.RoleFilter{NameContains: "billing_"}, nil, 0},
		{"first page", store.RoleFilter{Limit: 2}, roles("BILLING viewer", "Billing"), 5},
		{"second page", store.RoleFilter{Offset: 2, Limit: 2}, roles("Zeta", "auditor"), 5},
		{"last page", store.RoleFilter{Offset: 4, Limit: 2}, roles("billing-admin"), 5},
		{"past the end", store.RoleFilter{Offset: 10, Limit: 2}, nil, 5},
		{"filtered page", store.RoleFilter{NameContains: "billing", Offset: 1, Limit: 1}, roles("Billing"), 3},
		{"offset without limit", store.RoleFilter{Offset: 3}, roles("auditor", "billing-admin"), 5},
		{"no match", store.RoleFilter{NameContains: "nobody"}, nil, 0},
	}
	for _, tc := range tests {
		got, total, err := s.ListRoles(ctx, tc.f)
		must(t, err, "list roles: "+tc.name)
		wantEqual(t, got, tc.want, "list roles: "+tc.name)
		if total != tc.total {
			t.Errorf("list roles: %s: total %d, want %d", tc.name, total, tc.total)
		}
	}
}

func testRolePermissions(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"urn:perm-b", "https://perm-a.example"} {
		must(t, s.CreateAPI(ctx, newAPI(id)), "create api "+id)
	}
	r := newRole("rol_perm1", "Permitted")
	must(t, s.CreateRole(ctx, r), "create role")
	ps, err := s.ListRolePermissions(ctx, r.ID)
	must(t, err, "list permissions of a new role")
	wantEqual(t, ps, nil, "permissions of a new role")

	must(t, s.AddRolePermissions(ctx, r.ID, []store.Permission{
		perm("urn:perm-b", "write:messages"),
		perm("https://perm-a.example", "read:messages"),
		perm("urn:perm-b", "admin"),
		perm("urn:perm-b", "admin"), // twice in one call
	}), "add permissions")
	must(t, s.AddRolePermissions(ctx, r.ID, []store.Permission{perm("urn:perm-b", "admin")}), "add a permission the role has")
	want := []store.Permission{
		perm("https://perm-a.example", "read:messages"),
		perm("urn:perm-b", "admin"),
		perm("urn:perm-b", "write:messages"),
	}
	ps, err = s.ListRolePermissions(ctx, r.ID)
	must(t, err, "list permissions")
	wantEqual(t, ps, want, "permissions, by audience then name")

	// A refusal adds nothing, not even the permissions listed before the
	// one that failed.
	wantErr(t, s.AddRolePermissions(ctx, r.ID, []store.Permission{
		perm("https://perm-a.example", "admin"),
		perm("https://nope.example", "admin"),
	}), store.ErrNotFound, "add a permission of an unknown api")
	wantErr(t, s.AddRolePermissions(ctx, "rol_nope", []store.Permission{perm("urn:perm-b", "admin")}), store.ErrNotFound, "add to an unknown role")
	ps, err = s.ListRolePermissions(ctx, r.ID)
	must(t, err, "list permissions after refusals")
	wantEqual(t, ps, want, "permissions after refusals")

	must(t, s.RemoveRolePermissions(ctx, r.ID, []store.Permission{
		perm("urn:perm-b", "admin"),
		perm("urn:perm-b", "delete:everything"), // never had it
		perm("https://nope.example", "admin"),
	}), "remove permissions")
	wantErr(t, s.RemoveRolePermissions(ctx, "rol_nope", []store.Permission{perm("urn:perm-b", "admin")}), store.ErrNotFound, "remove from an unknown role")
	ps, err = s.ListRolePermissions(ctx, r.ID)
	must(t, err, "list permissions after remove")
	wantEqual(t, ps, []store.Permission{want[0], want[2]}, "permissions after remove")
	_, err = s.ListRolePermissions(ctx, "rol_nope")
	wantErr(t, err, store.ErrNotFound, "list permissions of an unknown role")
}

// roleFixture creates users ada and bob, organization acme with both as
// members, and roles reader and writer; it returns the role IDs.
func roleFixture(t *testing.T, s store.Store, prefix string) (ada, bob, acme, reader, writer string) {
	t.Helper()
	ctx := t.Context()
	ada, bob = "gatehouse|"+prefix+"-ada", "gatehouse|"+prefix+"-bob"
	for _, id := range []string{ada, bob} {
		must(t, s.CreateUser(ctx, newUser(id, "")), "create user "+id)
	}
	acme = "org_" + prefix
	must(t, s.CreateOrganization(ctx, newOrganization(acme, prefix+"-acme")), "create organization")
	for _, id := range []string{ada, bob} {
		must(t, s.AddMember(ctx, acme, id), "add member "+id)
	}
	reader, writer = "rol_"+prefix+"_reader", "rol_"+prefix+"_writer"
	must(t, s.CreateRole(ctx, newRole(reader, prefix+" reader")), "create reader")
	must(t, s.CreateRole(ctx, newRole(writer, prefix+" writer")), "create writer")
	return ada, bob, acme, reader, writer
}

func wantUserRoles(t *testing.T, s store.Store, userID, orgID string, want []string, op string) {
	t.Helper()
	rs, err := s.UserRoles(t.Context(), userID, orgID)
	must(t, err, op)
	var got []string
	for _, r := range rs {
		got = append(got, r.ID)
	}
	wantEqual(t, got, want, op)
}

func testRoleAssignments(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada, bob, acme, reader, writer := roleFixture(t, s, "asg")
	outsider := "gatehouse|asg-outsider"
	must(t, s.CreateUser(ctx, newUser(outsider, "")), "create outsider")
	wantUserRoles(t, s, ada, "", nil, "ada's roles before any")

	must(t, s.AssignRoles(ctx, []store.RoleAssignment{
		{UserID: ada, RoleID: writer},
		{UserID: ada, RoleID: reader},
		{UserID: ada, RoleID: reader}, // twice in one call
		{UserID: bob, RoleID: writer, OrgID: acme},
	}), "assign roles")
	must(t, s.AssignRoles(ctx, []store.RoleAssignment{{UserID: ada, RoleID: reader}}), "assign a role ada has")
	wantUserRoles(t, s, ada, "", []string{reader, writer}, "ada's roles, by name")
	wantUserRoles(t, s, ada, acme, nil, "ada's roles in acme")
	wantUserRoles(t, s, bob, "", nil, "bob's roles everywhere")
	wantUserRoles(t, s, bob, acme, []string{writer}, "bob's roles in acme")
	wantUserRoles(t, s, bob, "org_nope", nil, "bob's roles in an unknown organization")
	wantUserRoles(t, s, "gatehouse|nobody", "", nil, "roles of an unknown user")

	refused := []struct {
		name string
		as   []store.RoleAssignment
	}{
		{"unknown user", []store.RoleAssignment{{UserID: bob, RoleID: reader}, {UserID: "gatehouse|nobody", RoleID: reader}}},
		{"unknown role", []store.RoleAssignment{{UserID: bob, RoleID: reader}, {UserID: bob, RoleID: "rol_nope"}}},
		{"not a member", []store.RoleAssignment{{UserID: bob, RoleID: reader}, {UserID: outsider, RoleID: reader, OrgID: acme}}},
		{"unknown organization", []store.RoleAssignment{{UserID: bob, RoleID: reader}, {UserID: bob, RoleID: reader, OrgID: "org_nope"}}},
	}
	for _, tc := range refused {
		wantErr(t, s.AssignRoles(ctx, tc.as), store.ErrNotFound, "assign roles: "+tc.name)
		// The first assignment of each, valid alone, was not stored.
		wantUserRoles(t, s, bob, "", nil, "bob's roles after a refusal: "+tc.name)
	}
	wantUserRoles(t, s, outsider, acme, nil, "outsider's roles in acme")

	must(t, s.UnassignRoles(ctx, []store.RoleAssignment{
		{UserID: ada, RoleID: writer},
		{UserID: ada, RoleID: writer, OrgID: acme}, // ada holds it everywhere, not in acme
		{UserID: bob, RoleID: reader, OrgID: acme}, // never held
		{UserID: "gatehouse|nobody", RoleID: "rol_nope"},
	}), "unassign roles")
	wantUserRoles(t, s, ada, "", []string{reader}, "ada's roles after unassigning writer")
	must(t, s.UnassignRoles(ctx, []store.RoleAssignment{{UserID: bob, RoleID: writer, OrgID: acme}}), "unassign bob's role in acme")
	wantUserRoles(t, s, bob, acme, nil, "bob's roles in acme after unassigning")
	must(t, s.UnassignRoles(ctx, nil), "unassign nothing")
	must(t, s.AssignRoles(ctx, nil), "assign nothing")
}

func testListRoleUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	role := newRole("rol_ru", "Crowd")
	must(t, s.CreateRole(ctx, role), "create role")
	must(t, s.CreateRole(ctx, newRole("rol_ru_other", "Other crowd")), "create other role")
	ids, total, err := s.ListRoleUsers(ctx, role.ID, "", 0, 0)
	must(t, err, "list users of a role without users")
	if len(ids) != 0 || total != 0 {
		t.Fatalf("users of a role without users: %q, total %d", ids, total)
	}
	// Byte order puts upper case first.
	users := []string{"gatehouse|ru-c", "gatehouse|RU-z", "gatehouse|ru-a", "gatehouse|ru-b"}
	var as []store.RoleAssignment
	for _, id := range users {
		must(t, s.CreateUser(ctx, newUser(id, "")), "create user "+id)
		as = append(as, store.RoleAssignment{UserID: id, RoleID: role.ID})
	}
	// A user with the role only in an organization is not listed.
	inOrg := "gatehouse|ru-member"
	must(t, s.CreateUser(ctx, newUser(inOrg, "")), "create member")
	must(t, s.CreateOrganization(ctx, newOrganization("org_ru", "ru-org")), "create organization")
	must(t, s.AddMember(ctx, "org_ru", inOrg), "add member")
	as = append(as, store.RoleAssignment{UserID: inOrg, RoleID: role.ID, OrgID: "org_ru"},
		store.RoleAssignment{UserID: inOrg, RoleID: "rol_ru_other"})
	must(t, s.AssignRoles(ctx, as), "assign the role")

	tests := []struct {
		name          string
		after         string
		offset, limit int
		want          []string
	}{
		{"all", "", 0, 0, []string{"gatehouse|RU-z", "gatehouse|ru-a", "gatehouse|ru-b", "gatehouse|ru-c"}},
		{"first page", "", 0, 2, []string{"gatehouse|RU-z", "gatehouse|ru-a"}},
		{"offset page", "", 2, 2, []string{"gatehouse|ru-b", "gatehouse|ru-c"}},
		{"past the end", "", 8, 2, nil},
		{"after", "gatehouse|ru-a", 0, 2, []string{"gatehouse|ru-b", "gatehouse|ru-c"}},
		{"after an ID that holds no role", "gatehouse|ru-aa", 0, 1, []string{"gatehouse|ru-b"}},
		{"after the last", "gatehouse|ru-c", 0, 2, nil},
	}
	for _, tc := range tests {
		ids, total, err := s.ListRoleUsers(ctx, role.ID, tc.after, tc.offset, tc.limit)
		must(t, err, "list role users: "+tc.name)
		wantEqual(t, ids, tc.want, "list role users: "+tc.name)
		if total != 4 {
			t.Errorf("list role users: %s: total %d, want 4", tc.name, total)
		}
	}
	_, _, err = s.ListRoleUsers(ctx, "rol_nope", "", 0, 0)
	wantErr(t, err, store.ErrNotFound, "list users of an unknown role")
}

func testUserPermissions(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"urn:up-b", "https://up-a.example"} {
		must(t, s.CreateAPI(ctx, newAPI(id)), "create api "+id)
	}
	ada := "gatehouse|up-ada"
	must(t, s.CreateUser(ctx, newUser(ada, "")), "create ada")
	ps, err := s.UserPermissions(ctx, ada)
	must(t, err, "permissions of a new user")
	wantEqual(t, ps, nil, "permissions of a new user")

	must(t, s.AddUserPermissions(ctx, ada, []store.Permission{
		perm("urn:up-b", "read:messages"),
		perm("https://up-a.example", "admin"),
		perm("urn:up-b", "read:messages"),
	}), "add permissions")
	must(t, s.AddUserPermissions(ctx, ada, []store.Permission{perm("urn:up-b", "admin")}), "add another")
	want := []store.Permission{perm("https://up-a.example", "admin"), perm("urn:up-b", "admin"), perm("urn:up-b", "read:messages")}
	ps, err = s.UserPermissions(ctx, ada)
	must(t, err, "user permissions")
	wantEqual(t, ps, want, "user permissions, by audience then name")

	wantErr(t, s.AddUserPermissions(ctx, ada, []store.Permission{perm("urn:up-b", "write:messages"), perm("urn:nope", "admin")}),
		store.ErrNotFound, "add a permission of an unknown api")
	wantErr(t, s.AddUserPermissions(ctx, "gatehouse|nobody", []store.Permission{perm("urn:up-b", "admin")}),
		store.ErrNotFound, "add to an unknown user")
	ps, err = s.UserPermissions(ctx, ada)
	must(t, err, "user permissions after refusals")
	wantEqual(t, ps, want, "user permissions after refusals")

	must(t, s.RemoveUserPermissions(ctx, ada, []store.Permission{perm("urn:up-b", "admin"), perm("urn:up-b", "never")}), "remove")
	wantErr(t, s.RemoveUserPermissions(ctx, "gatehouse|nobody", []store.Permission{perm("urn:up-b", "admin")}),
		store.ErrNotFound, "remove from an unknown user")
	ps, err = s.UserPermissions(ctx, ada)
	must(t, err, "user permissions after remove")
	wantEqual(t, ps, []store.Permission{want[0], want[2]}, "user permissions after remove")
	ps, err = s.UserPermissions(ctx, "gatehouse|nobody")
	must(t, err, "permissions of an unknown user")
	wantEqual(t, ps, nil, "permissions of an unknown user")
}

func wantEffective(t *testing.T, s store.Store, userID, orgID, audience string, want []string, op string) {
	t.Helper()
	got, err := s.EffectivePermissions(t.Context(), userID, orgID, audience)
	must(t, err, op)
	wantEqual(t, got, want, op)
}

func testEffectivePermissions(t *testing.T, s store.Store) {
	ctx := t.Context()
	const api, other = "https://eff.example", "urn:eff-other"
	for _, id := range []string{api, other} {
		must(t, s.CreateAPI(ctx, newAPI(id)), "create api "+id)
	}
	ada, bob, acme, reader, writer := roleFixture(t, s, "eff")
	globex := "org_eff_globex"
	must(t, s.CreateOrganization(ctx, newOrganization(globex, "eff-globex")), "create globex")
	must(t, s.AddMember(ctx, globex, ada), "ada joins globex")
	orgRole := "rol_eff_org"
	must(t, s.CreateRole(ctx, newRole(orgRole, "eff org admin")), "create org role")

	must(t, s.AddRolePermissions(ctx, reader, []store.Permission{perm(api, "read:messages"), perm(other, "read:messages")}), "reader's permissions")
	must(t, s.AddRolePermissions(ctx, writer, []store.Permission{perm(api, "write:messages"), perm(api, "read:messages")}), "writer's permissions")
	must(t, s.AddRolePermissions(ctx, orgRole, []store.Permission{perm(api, "admin"), perm(api, "Zap")}), "org role's permissions")
	must(t, s.AddUserPermissions(ctx, ada, []store.Permission{perm(api, "read:messages"), perm(api, "direct"), perm(other, "admin")}), "ada's own")

	wantEffective(t, s, ada, "", api, []string{"direct", "read:messages"}, "ada, direct only")
	must(t, s.AssignRoles(ctx, []store.RoleAssignment{
		{UserID: ada, RoleID: reader},
		{UserID: ada, RoleID: writer},
		{UserID: ada, RoleID: orgRole, OrgID: acme},
	}), "assign ada's roles")
	// Byte order, no duplicates: read:messages comes from three places.
	wantEffective(t, s, ada, "", api, []string{"direct", "read:messages", "write:messages"}, "ada everywhere")
	wantEffective(t, s, ada, acme, api, []string{"Zap", "admin", "direct", "read:messages", "write:messages"}, "ada in acme")
	wantEffective(t, s, ada, globex, api, []string{"direct", "read:messages", "write:messages"}, "ada in globex, where she has no role")
	wantEffective(t, s, ada, "", other, []string{"admin", "read:messages"}, "ada for the other api")
	wantEffective(t, s, ada, "", "https://unknown.example", nil, "ada for an unknown api")
	wantEffective(t, s, bob, acme, api, nil, "bob, who has nothing")
	wantEffective(t, s, "gatehouse|nobody", acme, api, nil, "an unknown user")
}

// testRoleCascades checks what goes with a role, an API, a scope, a user,
// a membership and an organization, and that nothing comes back with one
// created again.
func testRoleCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	const api = "https://cascade-roles.example"
	must(t, s.CreateAPI(ctx, newAPI(api)), "create api")
	ada, bob, acme, reader, writer := roleFixture(t, s, "cas")
	setup := func() {
		t.Helper()
		must(t, s.AddRolePermissions(ctx, reader, []store.Permission{perm(api, "read:messages"), perm(api, "admin")}), "reader's permissions")
		must(t, s.AddRolePermissions(ctx, writer, []store.Permission{perm(api, "write:messages")}), "writer's permissions")
		must(t, s.AddUserPermissions(ctx, ada, []store.Permission{perm(api, "admin"), perm(api, "write:messages")}), "ada's own")
		must(t, s.AssignRoles(ctx, []store.RoleAssignment{
			{UserID: ada, RoleID: reader},
			{UserID: bob, RoleID: reader},
			{UserID: bob, RoleID: writer, OrgID: acme},
		}), "assign roles")
	}
	setup()

	// A scope dropped from the API is no longer anyone's permission.
	a := newAPI(api)
	a.Scopes = []store.APIScope{{Name: "read:messages"}, {Name: "write:messages"}}
	must(t, s.UpdateAPI(ctx, a), "drop the admin scope")
	ps, err := s.ListRolePermissions(ctx, reader)
	must(t, err, "reader's permissions after the scope went")
	wantEqual(t, ps, []store.Permission{perm(api, "read:messages")}, "reader's permissions after the scope went")
	ps, err = s.UserPermissions(ctx, ada)
	must(t, err, "ada's permissions after the scope went")
	wantEqual(t, ps, []store.Permission{perm(api, "write:messages")}, "ada's permissions after the scope went")
	a.Scopes = newAPI(api).Scopes
	must(t, s.UpdateAPI(ctx, a), "bring the admin scope back")
	wantEffective(t, s, ada, "", api, []string{"read:messages", "write:messages"}, "ada after the scope came back")

	// A removed member loses the roles held in the organization, and gets
	// none back when added again.
	wantEffective(t, s, bob, acme, api, []string{"read:messages", "write:messages"}, "bob in acme")
	must(t, s.RemoveMember(ctx, acme, bob), "remove bob from acme")
	must(t, s.AddMember(ctx, acme, bob), "add bob to acme again")
	wantUserRoles(t, s, bob, acme, nil, "bob's roles in acme after rejoining")
	wantUserRoles(t, s, bob, "", []string{reader}, "bob's roles everywhere after rejoining acme")

	// A deleted organization takes its members' roles with it.
	must(t, s.AssignRoles(ctx, []store.RoleAssignment{{UserID: bob, RoleID: writer, OrgID: acme}}), "bob's role in acme again")
	must(t, s.DeleteOrganization(ctx, acme), "delete acme")
	must(t, s.CreateOrganization(ctx, newOrganization(acme, "cas-acme")), "create acme again")
	must(t, s.AddMember(ctx, acme, bob), "bob joins the new acme")
	wantUserRoles(t, s, bob, acme, nil, "bob's roles in the new acme")

	// A deleted role leaves no permission or assignment behind.
	must(t, s.DeleteRole(ctx, reader), "delete reader")
	must(t, s.CreateRole(ctx, newRole(reader, "cas reader")), "create reader again")
	ps, err = s.ListRolePermissions(ctx, reader)
	must(t, err, "permissions of the new reader")
	wantEqual(t, ps, nil, "permissions of the new reader")
	wantUserRoles(t, s, ada, "", nil, "ada's roles after reader went")
	ids, total, err := s.ListRoleUsers(ctx, reader, "", 0, 0)
	must(t, err, "users of the new reader")
	if len(ids) != 0 || total != 0 {
		t.Errorf("users of the new reader: %q, total %d", ids, total)
	}

	// A deleted API takes its permissions from roles and users.
	setup()
	must(t, s.DeleteAPI(ctx, api), "delete the api")
	must(t, s.CreateAPI(ctx, newAPI(api)), "create the api again")
	for _, r := range []string{reader, writer} {
		ps, err := s.ListRolePermissions(ctx, r)
		must(t, err, "permissions of "+r+" after the api went")
		wantEqual(t, ps, nil, "permissions of "+r+" after the api went")
	}
	ps, err = s.UserPermissions(ctx, ada)
	must(t, err, "ada's permissions after the api went")
	wantEqual(t, ps, nil, "ada's permissions after the api went")

	// A deleted user takes their roles and permissions.
	setup()
	must(t, s.DeleteUser(ctx, ada), "delete ada")
	must(t, s.CreateUser(ctx, newUser(ada, "")), "create ada again")
	wantUserRoles(t, s, ada, "", nil, "roles of the new ada")
	ps, err = s.UserPermissions(ctx, ada)
	must(t, err, "permissions of the new ada")
	wantEqual(t, ps, nil, "permissions of the new ada")
	ids, _, err = s.ListRoleUsers(ctx, reader, "", 0, 0)
	must(t, err, "reader's users after ada went")
	wantEqual(t, ids, []string{bob}, "reader's users after ada went")

	// Linking keeps the primary's roles and drops the secondary's.
	carl := "gatehouse|cas-carl"
	must(t, s.CreateUser(ctx, newUser(carl, "")), "create carl")
	must(t, s.AssignRoles(ctx, []store.RoleAssignment{{UserID: carl, RoleID: writer}}), "carl is a writer")
	must(t, s.AddUserPermissions(ctx, carl, []store.Permission{perm(api, "admin")}), "carl's own")
	if _, err := s.LinkUsers(ctx, bob, carl); err != nil {
		t.Fatalf("link carl into bob: %v", err)
	}
	wantUserRoles(t, s, bob, "", []string{reader}, "bob's roles after linking carl")
	wantEffective(t, s, bob, "", api, []string{"admin", "read:messages"}, "bob's permissions after linking carl")
	// Carl's identities are bob's now; a new carl has none.
	newCarl := newUser(carl, "")
	newCarl.Identities = nil
	must(t, s.CreateUser(ctx, newCarl), "create carl again")
	wantUserRoles(t, s, carl, "", nil, "roles of the new carl")
}
