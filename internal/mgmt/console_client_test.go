package mgmt_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

// TestConsoleClientProtected checks that the console's own application
// cannot be deleted, nor changed so that admins could no longer sign in
// to the console, while its harmless settings still change, and that
// other applications are not held to its rules.
func TestConsoleClientProtected(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	svc, err := mgmt.New(mgmt.Config{Store: st, Keys: &fakeRings{}, Sealer: fakeSealer{}, Issuer: "https://id.example",
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.EnsureConsole(ctx); err != nil {
		t.Fatal(err)
	}

	wantError(t, svc.DeleteClient(ctx, mgmt.ConsoleClientID), http.StatusForbidden, mgmt.CodeOperationNotSupported, "", "cannot be deleted")
	if _, err := svc.GetClient(ctx, mgmt.ConsoleClientID); err != nil {
		t.Fatalf("the console's application is gone after a refused delete: %v", err)
	}

	for _, tc := range []struct {
		name  string
		in    mgmt.ClientSettings
		field string
	}{
		{"type", mgmt.ClientSettings{Type: ptr(store.ClientRegularWeb), TokenEndpointAuthMethod: ptr(store.AuthMethodSecretBasic)}, "app_type"},
		{"callbacks", mgmt.ClientSettings{Callbacks: &[]string{"https://elsewhere.example/cb"}}, "callbacks"},
		{"organizations", mgmt.ClientSettings{OrganizationUsage: ptr(store.OrgUsageRequire), OrganizationBehavior: ptr(store.OrgBehaviorPostLoginPrompt)}, "organization_usage"},
		{"consent", mgmt.ClientSettings{FirstParty: ptr(false)}, "is_first_party"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := svc.UpdateClient(ctx, mgmt.ConsoleClientID, tc.in)
			wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, tc.field, "admin console")
			c, err := svc.GetClient(ctx, mgmt.ConsoleClientID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Type != store.ClientSPA || !c.FirstParty || len(c.Callbacks) != 1 || c.OrganizationUsage == store.OrgUsageRequire {
				t.Errorf("the console's application changed after a refused update: %+v", c)
			}
		})
	}

	// A new name and more callbacks are fine.
	c, _, err := svc.UpdateClient(ctx, mgmt.ConsoleClientID, mgmt.ClientSettings{Name: ptr("Console"),
		Callbacks: &[]string{"https://id.example/admin/callback", "https://id2.example/admin/callback"}})
	if err != nil {
		t.Fatalf("harmless update refused: %v", err)
	}
	if c.Name != "Console" || len(c.Callbacks) != 2 {
		t.Errorf("updated console application %+v", c)
	}

	// Other applications are free.
	other, _, err := svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{Name: ptr("Shop"),
		Type: ptr(store.ClientSPA), Callbacks: &[]string{"https://shop.example/cb"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.UpdateClient(ctx, other.ID, mgmt.ClientSettings{FirstParty: ptr(false), Type: ptr(store.ClientRegularWeb), TokenEndpointAuthMethod: ptr(store.AuthMethodSecretBasic)}); err != nil {
		t.Errorf("update of another application: %v", err)
	}
	if err := svc.DeleteClient(ctx, other.ID); err != nil {
		t.Errorf("delete of another application: %v", err)
	}
}
