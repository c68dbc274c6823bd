package mgmt_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func TestOrganizationBrandingAndMetadata(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	meta := map[string]string{"plan": "enterprise", "region": "eu"}
	o, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme"), PageBackground: ptr("#FAFAFA"), Metadata: &meta})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.GetOrganization(ctx, o.ID)
	if err != nil || got.PageBackground != "#FAFAFA" || got.Metadata["plan"] != "enterprise" {
		t.Fatalf("stored %+v, %v", got, err)
	}
	// Metadata is replaced as a whole; other settings stay.
	got, err = e.svc.UpdateOrganization(ctx, "acme", mgmt.OrganizationSettings{Metadata: &map[string]string{"plan": "free"}})
	if err != nil || len(got.Metadata) != 1 || got.Metadata["plan"] != "free" || got.PageBackground != "#FAFAFA" {
		t.Fatalf("updated %+v, %v", got, err)
	}

	many := map[string]string{}
	for i := range 26 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name string
		in   mgmt.OrganizationSettings
		msg  string
	}{
		{"bad background", mgmt.OrganizationSettings{PageBackground: ptr("white")}, "#RRGGBB"},
		{"too many keys", mgmt.OrganizationSettings{Metadata: &many}, "at most 25"},
		{"empty key", mgmt.OrganizationSettings{Metadata: &map[string]string{"": "v"}}, "metadata keys"},
		{"long value", mgmt.OrganizationSettings{Metadata: &map[string]string{"k": strings.Repeat("é", 256)}}, "metadata keys"},
		{"long display name", mgmt.OrganizationSettings{DisplayName: ptr(strings.Repeat("x", 256))}, "display_name"},
	}
	field := map[string]string{"bad background": "page_background", "long display name": "display_name"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.UpdateOrganization(t.Context(), "acme", tt.in)
			f := field[tt.name]
			if f == "" {
				f = "metadata"
			}
			wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, f, tt.msg)
		})
	}
}

func TestAddRemoveMembers(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme")}); err != nil {
		t.Fatal(err)
	}
	a, b := e.newUser(t, "gatehouse|a", "a@example.com"), e.newUser(t, "gatehouse|b", "b@example.com")
	if err := e.svc.AddMembers(ctx, "acme", []string{b.ID, a.ID, a.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddMembers(ctx, "acme", []string{a.ID}); err != nil {
		t.Fatalf("adding a member again: %v", err)
	}
	users, err := e.svc.ListMemberUsers(ctx, "acme")
	if err != nil || len(users) != 2 || users[0].ID != a.ID || users[1].Email != "b@example.com" {
		t.Fatalf("members %+v, %v", users, err)
	}
	// One unknown user: nobody is added.
	c := e.newUser(t, "gatehouse|c", "c@example.com")
	wantError(t, e.svc.AddMembers(ctx, "acme", []string{c.ID, "gatehouse|nope"}), http.StatusNotFound, "inexistent_user", "", "gatehouse|nope")
	if ids, _ := e.svc.ListMembers(ctx, "acme"); slices.Contains(ids, c.ID) {
		t.Error("a refused call added a member")
	}
	// An email is not a user ID here.
	wantError(t, e.svc.AddMembers(ctx, "acme", []string{"c@example.com"}), http.StatusNotFound, "inexistent_user", "", "not found")
	wantError(t, e.svc.AddMembers(ctx, "acme", nil), http.StatusBadRequest, mgmt.CodeInvalidBody, "members", "1 to 10")
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = a.ID
	}
	wantError(t, e.svc.AddMembers(ctx, "acme", eleven), http.StatusBadRequest, mgmt.CodeInvalidBody, "members", "1 to 10")
	wantError(t, e.svc.AddMembers(ctx, "nope", []string{a.ID}), http.StatusNotFound, "inexistent_organization", "", "not found")

	// Removing a non-member is no error.
	if err := e.svc.RemoveMembers(ctx, "acme", []string{a.ID, c.ID}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := e.svc.ListMembers(ctx, "acme"); !slices.Equal(ids, []string{b.ID}) {
		t.Errorf("members after removal %v", ids)
	}
	wantError(t, e.svc.RemoveMembers(ctx, "acme", []string{"gatehouse|nope"}), http.StatusNotFound, "inexistent_user", "", "not found")
}

func TestOrganizationInvitationsByOrganization(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, name := range []string{"acme", "beta"} {
		if _, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr(name)}); err != nil {
			t.Fatal(err)
		}
	}
	app := webApp("App")
	app.InitiateLoginURI, app.OrganizationUsage = ptr("https://app.example/login"), ptr(store.OrgUsageAllow)
	if _, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "app", ClientSettings: app}); err != nil {
		t.Fatal(err)
	}
	inv, _, err := e.svc.CreateInvitation(ctx, mgmt.NewInvitation{Organization: "acme", Email: "a@example.com", ClientID: "app", Inviter: "Ada"})
	if err != nil || inv.Inviter != "Ada" {
		t.Fatalf("invitation %+v, %v", inv, err)
	}
	_, _, err = e.svc.CreateInvitation(ctx, mgmt.NewInvitation{Organization: "acme", Email: "b@example.com", ClientID: "app", Inviter: strings.Repeat("x", 301)})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "inviter", "at most 300")
	other, _, err := e.svc.CreateInvitation(ctx, mgmt.NewInvitation{Organization: "acme", Email: "c@example.com", ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}

	if got, err := e.svc.GetInvitation(ctx, "acme", inv.ID); err != nil || got.Inviter != "Ada" {
		t.Errorf("GetInvitation = %+v, %v", got, err)
	}
	_, err = e.svc.GetInvitation(ctx, "beta", inv.ID)
	wantError(t, err, http.StatusNotFound, "inexistent_invitation", "", "not found")
	wantError(t, e.svc.DeleteInvitation(ctx, "beta", inv.ID), http.StatusNotFound, "inexistent_invitation", "", "not found")

	if err := e.svc.DeleteInvitation(ctx, "acme", other.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.GetInvitation(ctx, "acme", other.ID)
	wantError(t, err, http.StatusNotFound, "inexistent_invitation", "", "not found")
	wantError(t, e.svc.DeleteInvitation(ctx, "acme", other.ID), http.StatusNotFound, "inexistent_invitation", "", "not found")
	pend, err := e.svc.PendingInvitations(ctx, "acme")
	if err != nil || len(pend) != 1 || pend[0].ID != inv.ID {
		t.Errorf("pending %+v, %v", pend, err)
	}
	// An accepted invitation is no longer pending.
	u := e.newUser(t, "gatehouse|a", "a@example.com")
	if _, err := e.st.AcceptInvitation(ctx, inv.TicketHash, inv.OrganizationID, "a@example.com", u.ID, e.now); err != nil {
		t.Fatal(err)
	}
	if pend, _ := e.svc.PendingInvitations(ctx, "acme"); len(pend) != 0 {
		t.Errorf("pending after acceptance %+v", pend)
	}
	_, err = e.svc.GetInvitation(ctx, "acme", inv.ID)
	wantError(t, err, http.StatusNotFound, "inexistent_invitation", "", "not found")
}

func TestOrganizationConnections(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme")}); err != nil {
		t.Fatal(err)
	}
	db := store.DefaultDatabaseConnection
	_, err := e.svc.GetOrganizationConnection(ctx, "acme", db)
	wantError(t, err, http.StatusNotFound, "inexistent_connection", "", "is not enabled")
	oc, err := e.svc.EnableOrganizationConnection(ctx, "acme", db, true)
	if err != nil || oc.Name != db || !oc.AssignMembership || oc.Connection.Strategy != store.StrategyDatabase {
		t.Fatalf("enabled %+v, %v", oc, err)
	}
	_, err = e.svc.EnableOrganizationConnection(ctx, "acme", db, false)
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", "already enabled")
	_, err = e.svc.EnableOrganizationConnection(ctx, "acme", "gitlab", false)
	wantError(t, err, http.StatusNotFound, "inexistent_connection", "", `connection "gitlab" not found`)
	_, err = e.svc.EnableOrganizationConnection(ctx, "nope", db, false)
	wantError(t, err, http.StatusNotFound, "inexistent_organization", "", "not found")

	oc, err = e.svc.UpdateOrganizationConnection(ctx, "acme", db, false)
	if err != nil || oc.AssignMembership {
		t.Fatalf("updated %+v, %v", oc, err)
	}
	list, err := e.svc.ListOrganizationConnections(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].AssignMembership {
		t.Fatalf("list %+v, %v", list, err)
	}
	if err := e.svc.DisableOrganizationConnection(ctx, "acme", db); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.DisableOrganizationConnection(ctx, "acme", db), http.StatusNotFound, "inexistent_connection", "", "is not enabled")
	_, err = e.svc.UpdateOrganizationConnection(ctx, "acme", db, true)
	wantError(t, err, http.StatusNotFound, "inexistent_connection", "", "is not enabled")
}

func TestConnectionClientsAndDatabaseRules(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		if _, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: id, ClientSettings: webApp(id)}); err != nil {
			t.Fatal(err)
		}
	}
	db := store.DefaultDatabaseConnection
	_, err := e.svc.UpdateConnection(ctx, db, mgmt.ConnectionSettings{ClientID: ptr("x")})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeOperationNotSupported, "options", "database connection")
	c, err := e.svc.UpdateConnection(ctx, db, mgmt.ConnectionSettings{EnabledClients: &[]string{"c", "a", "a"}})
	if err != nil || !slices.Equal(c.EnabledClients, []string{"a", "c"}) {
		t.Fatalf("enabled clients %v, %v", c.EnabledClients, err)
	}
	_, err = e.svc.UpdateConnection(ctx, db, mgmt.ConnectionSettings{EnabledClients: &[]string{"a", "nope"}})
	wantError(t, err, http.StatusNotFound, "inexistent_client", "", "not found")
	if got, _ := e.svc.GetConnection(ctx, db); !slices.Equal(got.EnabledClients, []string{"a", "c"}) {
		t.Errorf("a refused replacement changed the clients: %v", got.EnabledClients)
	}

	err = e.svc.ChangeConnectionClients(ctx, db, []mgmt.ConnectionClientChange{{ClientID: "b", Enabled: true}, {ClientID: "a"}, {ClientID: "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.GetConnection(ctx, db); !slices.Equal(got.EnabledClients, []string{"b", "c"}) {
		t.Errorf("clients after changes %v", got.EnabledClients)
	}
	wantError(t, e.svc.ChangeConnectionClients(ctx, db, []mgmt.ConnectionClientChange{{ClientID: "nope", Enabled: true}}),
		http.StatusNotFound, "inexistent_client", "", "not found")
	wantError(t, e.svc.ChangeConnectionClients(ctx, db, []mgmt.ConnectionClientChange{{Enabled: true}}),
		http.StatusBadRequest, mgmt.CodeInvalidBody, "client_id", "required")
	wantError(t, e.svc.ChangeConnectionClients(ctx, "nope", nil), http.StatusNotFound, "inexistent_connection", "", "not found")

	gh, err := e.svc.CreateConnection(ctx, "github", mgmt.ConnectionSettings{Strategy: ptr(store.StrategyGitHub),
		ClientID: ptr("id"), ClientSecret: ptr("secret"), EnabledClients: &[]string{"b"}})
	if err != nil || !slices.Equal(gh.EnabledClients, []string{"b"}) {
		t.Fatalf("created %+v, %v", gh, err)
	}
	_, err = e.svc.CreateConnection(ctx, "github2", mgmt.ConnectionSettings{Strategy: ptr(store.StrategyGitHub),
		ClientID: ptr("id"), ClientSecret: ptr("secret"), EnabledClients: &[]string{"nope"}})
	wantError(t, err, http.StatusNotFound, "inexistent_client", "", "not found")
	if _, err := e.svc.GetConnection(ctx, "github2"); err == nil {
		t.Error("a refused create stored the connection")
	}
}

func TestCreateOrganizationWithConnections(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	db := store.OrgConnection{Name: store.DefaultDatabaseConnection, AssignMembership: true}
	o, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme"), Connections: []store.OrgConnection{db}})
	if err != nil || len(o.Connections) != 1 || !o.Connections[0].AssignMembership {
		t.Fatalf("created %+v, %v", o, err)
	}
	if got, _ := e.svc.GetOrganization(ctx, "acme"); len(got.Connections) != 1 {
		t.Errorf("stored %+v", got.Connections)
	}
	_, err = e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("beta"), Connections: []store.OrgConnection{{Name: "nope"}}})
	wantError(t, err, http.StatusNotFound, "inexistent_connection", "", "not found")
	_, err = e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("beta"), Connections: []store.OrgConnection{db, db}})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "enabled_connections", "listed twice")
	if _, err := e.svc.GetOrganization(ctx, "beta"); err == nil {
		t.Error("a refused create stored the organization")
	}
	_, err = e.svc.UpdateOrganization(ctx, "acme", mgmt.OrganizationSettings{Connections: []store.OrgConnection{}})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "enabled_connections", "on create only")
}
