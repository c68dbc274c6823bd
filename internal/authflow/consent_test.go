package authflow_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

func TestConsentScopes(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC()
	scopes := []store.APIScope{{Name: "read"}, {Name: "write"}}
	for _, a := range []store.API{
		{Identifier: "https://rbac.example", Name: "RBAC", Scopes: scopes, RBAC: true, SigningAlgorithm: "RS256", CreatedAt: now, UpdatedAt: now},
		{Identifier: "https://open.example", Name: "Open", Scopes: scopes, SigningAlgorithm: "RS256", CreatedAt: now, UpdatedAt: now},
	} {
		if err := st.CreateAPI(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	const user = "gatehouse|ada"
	if err := st.CreateUser(ctx, store.User{ID: user, Connection: store.DefaultDatabaseConnection, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateOrganization(ctx, store.Organization{ID: "org_1", Name: "acme", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddMember(ctx, "org_1", user); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRole(ctx, store.Role{ID: "rol_w", Name: "Writer", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddRolePermissions(ctx, "rol_w", []store.Permission{{Audience: "https://rbac.example", Name: "write"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.AssignRoles(ctx, []store.RoleAssignment{{UserID: user, RoleID: "rol_w", OrgID: "org_1"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUserPermissions(ctx, user, []store.Permission{{Audience: "https://rbac.example", Name: "read"}}); err != nil {
		t.Fatal(err)
	}

	asked := []string{"openid", "offline_access", "read", "write"}
	tests := []struct {
		name          string
		audience, org string
		user          string
		want          []string
	}{
		{"no audience", "", "", user, asked},
		{"RBAC off", "https://open.example", "", user, asked},
		{"RBAC", "https://rbac.example", "", user, []string{"openid", "offline_access", "read"}},
		{"RBAC in the organization", "https://rbac.example", "org_1", user, asked},
		{"RBAC, a user without permissions", "https://rbac.example", "", "gatehouse|nobody", []string{"openid", "offline_access"}},
		{"an API deleted since", "https://gone.example", "", user, asked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := store.AuthRequest{Audience: tt.audience, Organization: tt.org, Scopes: asked}
			got, err := authflow.ConsentScopes(t.Context(), st, req, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
