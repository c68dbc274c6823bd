package mgmt_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// newUser stores a database user.
func (e *env) newUser(t *testing.T, id, email string) store.User {
	t.Helper()
	provider, uid, _ := strings.Cut(id, "|")
	u := store.User{ID: id, Connection: store.DefaultDatabaseConnection, Email: email, CreatedAt: e.now, UpdatedAt: e.now,
		Identities: []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: provider, UserID: uid}}}
	if err := e.st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestOrganizations(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	o, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(o.ID, "org_") || len(o.ID) != 20 || o.DisplayName != "acme" || !o.CreatedAt.Equal(e.now) {
		t.Errorf("created %+v", o)
	}
	_, err = e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme")})
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", `organization named "acme" already exists`)

	for _, key := range []string{o.ID, "acme", "ACME"} {
		if got, err := e.svc.GetOrganization(ctx, key); err != nil || got.ID != o.ID {
			t.Errorf("GetOrganization(%q) = %+v, %v", key, got, err)
		}
	}
	_, err = e.svc.GetOrganization(ctx, "org_nope")
	wantError(t, err, http.StatusNotFound, "inexistent_organization", "", `organization "org_nope" not found`)

	o, err = e.svc.UpdateOrganization(ctx, "acme", mgmt.OrganizationSettings{DisplayName: ptr("Acme Corp"), PrimaryColor: ptr("#112233")})
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "acme" || o.DisplayName != "Acme Corp" || o.PrimaryColor != "#112233" {
		t.Errorf("updated %+v", o)
	}
	if _, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("beta")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.UpdateOrganization(ctx, "acme", mgmt.OrganizationSettings{Name: ptr("beta")})
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", `"beta" already exists`)

	tests := []struct {
		name       string
		in         mgmt.OrganizationSettings
		field, msg string
	}{
		{"upper case name", mgmt.OrganizationSettings{Name: ptr("Acme")}, "name", "organization name"},
		{"space in name", mgmt.OrganizationSettings{Name: ptr("acme corp")}, "name", "organization name"},
		{"http logo", mgmt.OrganizationSettings{Name: ptr("c"), LogoURL: ptr("http://x.example/l.png")}, "logo_url", "https"},
		{"color", mgmt.OrganizationSettings{Name: ptr("c"), PrimaryColor: ptr("red")}, "primary", "#RRGGBB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateOrganization(t.Context(), tt.in)
			wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, tt.field, tt.msg)
		})
	}

	if err := e.svc.DeleteOrganization(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.DeleteOrganization(ctx, "beta"), http.StatusNotFound, "inexistent_organization", "", "not found")
}

func TestOrganizationMembersAndConnections(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	o, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme")})
	if err != nil {
		t.Fatal(err)
	}
	u := e.newUser(t, "gatehouse|bob", "bob@example.com")
	if _, got, err := e.svc.AddMember(ctx, "acme", "Bob@Example.com"); err != nil || got.ID != u.ID {
		t.Fatalf("add member by email: %+v, %v", got, err)
	}
	if ids, err := e.svc.ListMembers(ctx, o.ID); err != nil || !slices.Equal(ids, []string{u.ID}) {
		t.Errorf("members %v, %v", ids, err)
	}
	_, _, err = e.svc.AddMember(ctx, "acme", "zed@example.com")
	wantError(t, err, http.StatusNotFound, "inexistent_user", "", `user "zed@example.com" not found`)
	if _, _, err := e.svc.RemoveMember(ctx, "acme", u.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.RemoveMember(ctx, "acme", u.ID)
	wantError(t, err, http.StatusNotFound, "inexistent_member", "", "is not a member of acme")

	if _, err := e.svc.SetOrganizationConnection(ctx, "acme", store.DefaultDatabaseConnection, true, true); err != nil {
		t.Fatal(err)
	}
	got, _ := e.svc.GetOrganization(ctx, "acme")
	if len(got.Connections) != 1 || !got.Connections[0].AssignMembership {
		t.Errorf("connections %+v", got.Connections)
	}
	_, err = e.svc.SetOrganizationConnection(ctx, "acme", "gitlab", false, true)
	wantError(t, err, http.StatusNotFound, "inexistent_connection", "", `connection "gitlab" not found`)
	_, err = e.svc.SetOrganizationConnection(ctx, "nope", store.DefaultDatabaseConnection, false, true)
	wantError(t, err, http.StatusNotFound, "inexistent_organization", "", "not found")
}

func TestInvitations(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	o, err := e.svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: ptr("acme")})
	if err != nil {
		t.Fatal(err)
	}
	app := webApp("App")
	plain, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "plain", ClientSettings: app})
	if err != nil {
		t.Fatal(err)
	}
	app.InitiateLoginURI = ptr("https://app.example/login?from=gh")
	noOrgs, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "no-orgs", ClientSettings: app})
	if err != nil {
		t.Fatal(err)
	}
	app.OrganizationUsage = ptr(store.OrgUsageAllow)
	orgApp, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "org-app", ClientSettings: app})
	if err != nil {
		t.Fatal(err)
	}

	inv, link, err := e.svc.CreateInvitation(ctx, mgmt.NewInvitation{Organization: "acme", Email: " Carol@Example.com ", ClientID: orgApp.ID})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Email != "carol@example.com" || inv.OrganizationID != o.ID || !inv.ExpiresAt.Equal(e.now.Add(7*24*time.Hour)) {
		t.Errorf("invitation %+v", inv)
	}
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, "https://app.example/login?") || u.Query().Get("from") != "gh" ||
		u.Query().Get("organization") != o.ID || u.Query().Get("organization_name") != "acme" {
		t.Fatalf("link %q", link)
	}
	if token.Hash(u.Query().Get("invitation")) != inv.TicketHash {
		t.Error("the link's ticket is not the invitation's")
	}
	stored, err := e.st.GetInvitation(ctx, inv.ID)
	if err != nil || stored.TicketHash != inv.TicketHash {
		t.Errorf("stored %+v, %v", stored, err)
	}

	tests := []struct {
		name                string
		in                  mgmt.NewInvitation
		status              int
		code, field, errMsg string
	}{
		{"ttl too long", mgmt.NewInvitation{Organization: "acme", Email: "a@example.com", ClientID: orgApp.ID, TTL: 31 * 24 * time.Hour},
			400, mgmt.CodeInvalidBody, "ttl", "ttl must be between"},
		{"negative ttl", mgmt.NewInvitation{Organization: "acme", Email: "a@example.com", ClientID: orgApp.ID, TTL: -1},
			400, mgmt.CodeInvalidBody, "ttl", "ttl must be between"},
		{"bad email", mgmt.NewInvitation{Organization: "acme", Email: "nope", ClientID: orgApp.ID},
			400, mgmt.CodeInvalidBody, "email", "not a valid email"},
		{"unknown organization", mgmt.NewInvitation{Organization: "nope", Email: "a@example.com", ClientID: orgApp.ID},
			404, "inexistent_organization", "", "not found"},
		{"unknown application", mgmt.NewInvitation{Organization: "acme", Email: "a@example.com", ClientID: "nope"},
			404, "inexistent_client", "", "not found"},
		{"no login route", mgmt.NewInvitation{Organization: "acme", Email: "a@example.com", ClientID: plain.ID},
			400, mgmt.CodeOperationNotSupported, "initiate_login_uri", "no login route"},
		{"no organizations", mgmt.NewInvitation{Organization: "acme", Email: "a@example.com", ClientID: noOrgs.ID},
			400, mgmt.CodeOperationNotSupported, "organization_usage", "does not use organizations"},
		{"unknown connection", mgmt.NewInvitation{Organization: "acme", Email: "a@example.com", ClientID: orgApp.ID, Connection: "gitlab"},
			404, "inexistent_connection", "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.CreateInvitation(t.Context(), tt.in)
			wantError(t, err, tt.status, tt.code, tt.field, tt.errMsg)
		})
	}
	invs, err := e.svc.ListInvitations(ctx, "acme")
	if err != nil || len(invs) != 1 {
		t.Fatalf("invitations %+v, %v", invs, err)
	}
	if err := e.svc.RevokeInvitation(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.RevokeInvitation(ctx, "inv_nope"), http.StatusNotFound, "inexistent_invitation", "", "not found")
}
