package mgmtapi_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

type orgOut struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Branding    *struct {
		LogoURL string `json:"logo_url"`
		Colors  *struct {
			Primary        string `json:"primary"`
			PageBackground string `json:"page_background"`
		} `json:"colors"`
	} `json:"branding"`
	Metadata map[string]string `json:"metadata"`
}

func (e *env) createOrg(t *testing.T, name string) orgOut {
	t.Helper()
	var o orgOut
	e.call(t, "POST", "/api/v2/organizations", map[string]any{"name": name}, 201, &o)
	return o
}

func TestOrganizationsCRUD(t *testing.T) {
	e := newEnv(t)
	var o orgOut
	e.call(t, "POST", "/api/v2/organizations", map[string]any{"name": "acme", "display_name": "Acme Corp",
		"branding":            map[string]any{"logo_url": "https://cdn.example/acme.png", "colors": map[string]any{"primary": "#0A5FFF", "page_background": "#FAFAFA"}},
		"metadata":            map[string]string{"plan": "enterprise"},
		"enabled_connections": []map[string]any{{"connection_id": store.DefaultDatabaseConnection, "assign_membership_on_login": true}}}, 201, &o)
	if !strings.HasPrefix(o.ID, "org_") || o.Name != "acme" || o.DisplayName != "Acme Corp" || o.Branding == nil ||
		o.Branding.LogoURL != "https://cdn.example/acme.png" || o.Branding.Colors == nil || o.Branding.Colors.Primary != "#0A5FFF" ||
		o.Branding.Colors.PageBackground != "#FAFAFA" || o.Metadata["plan"] != "enterprise" {
		t.Fatalf("created %+v", o)
	}
	stored, err := e.st.GetOrganization(t.Context(), o.ID)
	if err != nil || len(stored.Connections) != 1 || !stored.Connections[0].AssignMembership {
		t.Fatalf("stored connections %+v, %v", stored.Connections, err)
	}
	var got orgOut
	e.call(t, "GET", "/api/v2/organizations/"+o.ID, nil, 200, &got)
	if !reflect.DeepEqual(got, o) {
		t.Errorf("get %+v, want %+v", got, o)
	}
	e.call(t, "GET", "/api/v2/organizations/name/acme", nil, 200, &got)
	if got.ID != o.ID {
		t.Errorf("by name %+v", got)
	}

	// PATCH changes what it names.
	got = orgOut{}
	e.call(t, "PATCH", "/api/v2/organizations/"+o.ID, map[string]any{"name": "acme-corp",
		"branding": map[string]any{"colors": map[string]any{"primary": "#112233"}}, "metadata": map[string]string{}}, 200, &got)
	if got.Name != "acme-corp" || got.DisplayName != "Acme Corp" || got.Branding.LogoURL != "https://cdn.example/acme.png" ||
		got.Branding.Colors.Primary != "#112233" || got.Branding.Colors.PageBackground != "#FAFAFA" || len(got.Metadata) != 0 || got.Metadata == nil {
		t.Fatalf("patched %+v", got)
	}
	// A bare organization shows no branding and empty metadata.
	bare := e.createOrg(t, "bare")
	if bare.Branding != nil || bare.Metadata == nil || bare.DisplayName != "bare" {
		t.Errorf("bare %+v", bare)
	}

	tok := e.token(t, all...)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"no name", "POST", "/api/v2/organizations", map[string]any{"display_name": "X"}, 400, "name is required"},
		{"bad name", "POST", "/api/v2/organizations", map[string]any{"name": "Acme Inc"}, 400, "organization name"},
		{"taken name", "POST", "/api/v2/organizations", map[string]any{"name": "bare"}, 409, "already exists"},
		{"unknown field", "POST", "/api/v2/organizations", map[string]any{"name": "x", "token_quota": 1}, 400, "Additional properties not allowed: token_quota"},
		{"unknown branding field", "POST", "/api/v2/organizations", map[string]any{"name": "x", "branding": map[string]any{"font": "x"}}, 400, "Additional properties not allowed: font"},
		{"http logo", "POST", "/api/v2/organizations", map[string]any{"name": "x", "branding": map[string]any{"logo_url": "http://x.example/l.png"}}, 400, "https"},
		{"bad color", "POST", "/api/v2/organizations", map[string]any{"name": "x", "branding": map[string]any{"colors": map[string]any{"page_background": "white"}}}, 400, "#RRGGBB"},
		{"metadata not strings", "POST", "/api/v2/organizations", map[string]any{"name": "x", "metadata": map[string]any{"n": 1}}, 400, "Expected type string"},
		{"unknown connection", "POST", "/api/v2/organizations", map[string]any{"name": "x", "enabled_connections": []map[string]any{{"connection_id": "nope"}}}, 404, `connection "nope" not found`},
		{"hidden connection", "POST", "/api/v2/organizations", map[string]any{"name": "x", "enabled_connections": []map[string]any{{"connection_id": store.DefaultDatabaseConnection, "show_as_button": false}}}, 400, "show_as_button"},
		{"taken on rename", "PATCH", "/api/v2/organizations/" + o.ID, map[string]any{"name": "bare"}, 409, "already exists"},
		{"connections on patch", "PATCH", "/api/v2/organizations/" + o.ID, map[string]any{"enabled_connections": []any{}}, 400, "Additional properties not allowed: enabled_connections"},
		{"get unknown", "GET", "/api/v2/organizations/org_nope", nil, 404, "not found"},
		{"get by name as ID", "GET", "/api/v2/organizations/bare", nil, 404, "starts with org_"},
		{"unknown name", "GET", "/api/v2/organizations/name/nope", nil, 404, "not found"},
		{"an ID as name", "GET", "/api/v2/organizations/name/" + o.ID, nil, 404, "not found"},
		{"not a route", "GET", "/api/v2/organizations/" + o.ID + "/nothing", nil, 404, "Not Found"},
		{"patch unknown", "PATCH", "/api/v2/organizations/org_nope", map[string]any{}, 404, "not found"},
		{"delete unknown", "DELETE", "/api/v2/organizations/org_nope", nil, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	e.call(t, "DELETE", "/api/v2/organizations/"+o.ID, nil, 204, nil)
	status, body := e.do(t, "GET", "/api/v2/organizations/"+o.ID, nil, tok)
	wantError(t, status, body, 404, "not found")
}

func TestListOrganizations(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"delta", "alpha", "charlie", "bravo", "echo"} {
		e.createOrg(t, n)
	}
	names := func(os []orgOut) string {
		var out []string
		for _, o := range os {
			out = append(out, o.Name)
		}
		return strings.Join(out, " ")
	}
	var list []orgOut
	e.call(t, "GET", "/api/v2/organizations", nil, 200, &list)
	if got := names(list); got != "alpha bravo charlie delta echo" {
		t.Errorf("list %s", got)
	}
	var page struct {
		Start, Limit, Total int
		Organizations       []orgOut `json:"organizations"`
	}
	e.call(t, "GET", "/api/v2/organizations?page=1&per_page=2&include_totals=true", nil, 200, &page)
	if page.Start != 2 || page.Limit != 2 || page.Total != 5 || names(page.Organizations) != "charlie delta" {
		t.Errorf("page %+v", page)
	}
	var cp struct {
		Organizations []orgOut `json:"organizations"`
		Next          string   `json:"next"`
	}
	var seen []string
	from := ""
	for range 5 {
		cp.Next = ""
		e.call(t, "GET", "/api/v2/organizations?take=2&from="+url.QueryEscape(from), nil, 200, &cp)
		seen = append(seen, names(cp.Organizations))
		if cp.Next == "" {
			break
		}
		from = cp.Next
	}
	if got := strings.Join(seen, " | "); got != "alpha bravo | charlie delta | echo" {
		t.Errorf("checkpoint pages %s", got)
	}
	tok := e.token(t, all...)
	for _, q := range []string{"take=0", "take=101", "from=***", "from=x&per_page=2", "page=-1", "q=acme"} {
		status, body := e.do(t, "GET", "/api/v2/organizations?"+q, nil, tok)
		wantError(t, status, body, 400, "Query validation error")
	}
}

type memberOut struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
}

func TestOrganizationMembers(t *testing.T) {
	e := newEnv(t)
	o := e.createOrg(t, "acme")
	path := "/api/v2/organizations/" + o.ID + "/members"
	var ids []string
	for _, n := range []string{"carol", "alice", "bob"} {
		u := e.createUser(t, n+"@example.com", map[string]any{"name": strings.ToUpper(n[:1]) + n[1:]})
		ids = append(ids, u.UserID)
	}
	e.call(t, "POST", path, map[string]any{"members": ids}, 204, nil)
	e.call(t, "POST", path, map[string]any{"members": ids[:1]}, 204, nil) // again: no error
	var list []memberOut
	e.call(t, "GET", path, nil, 200, &list)
	if len(list) != 3 || list[0].Email == "" || list[0].Name == "" || list[0].UserID > list[1].UserID {
		t.Fatalf("members %+v", list)
	}
	var page struct {
		Total   int         `json:"total"`
		Members []memberOut `json:"members"`
	}
	e.call(t, "GET", path+"?per_page=2&include_totals=true", nil, 200, &page)
	if page.Total != 3 || len(page.Members) != 2 {
		t.Errorf("page %+v", page)
	}
	var cp struct {
		Members []memberOut `json:"members"`
		Next    string      `json:"next"`
	}
	e.call(t, "GET", path+"?take=2", nil, 200, &cp)
	if len(cp.Members) != 2 || cp.Next == "" {
		t.Fatalf("checkpoint %+v", cp)
	}
	e.call(t, "GET", path+"?take=2&from="+cp.Next, nil, 200, &cp)
	if len(cp.Members) != 1 || cp.Members[0].UserID != list[2].UserID {
		t.Fatalf("checkpoint 2 %+v", cp)
	}

	e.call(t, "DELETE", path, map[string]any{"members": []string{list[0].UserID}}, 204, nil)
	e.call(t, "DELETE", path, map[string]any{"members": []string{list[0].UserID}}, 204, nil) // not a member: no error
	e.call(t, "GET", path, nil, 200, &list)
	if len(list) != 2 {
		t.Fatalf("after removal %+v", list)
	}

	tok := e.token(t, all...)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"no members", "POST", path, map[string]any{"members": []string{}}, 400, "1 to 10"},
		{"members missing", "POST", path, map[string]any{}, 400, "1 to 10"},
		{"eleven", "POST", path, map[string]any{"members": strings.Split(strings.Repeat("a|b ", 11), " ")[:11]}, 400, "1 to 10"},
		{"unknown user", "POST", path, map[string]any{"members": []string{"gatehouse|nope"}}, 404, `user "gatehouse|nope" not found`},
		{"unknown field", "POST", path, map[string]any{"members": ids, "roles": []string{}}, 400, "Additional properties not allowed: roles"},
		{"not a list", "POST", path, map[string]any{"members": "x"}, 400, "Expected type array"},
		{"unknown organization", "POST", "/api/v2/organizations/org_nope/members", map[string]any{"members": ids}, 404, "not found"},
		{"remove unknown user", "DELETE", path, map[string]any{"members": []string{"gatehouse|nope"}}, 404, "not found"},
		{"list unknown organization", "GET", "/api/v2/organizations/org_nope/members", nil, 404, "not found"},
		{"bad query", "GET", path + "?fields=email", nil, 400, "Query validation error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
}

type invitationOut struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
	Inviter        struct {
		Name string `json:"name"`
	} `json:"inviter"`
	Invitee struct {
		Email string `json:"email"`
	} `json:"invitee"`
	InvitationURL string   `json:"invitation_url"`
	ClientID      string   `json:"client_id"`
	ConnectionID  string   `json:"connection_id"`
	CreatedAt     string   `json:"created_at"`
	ExpiresAt     string   `json:"expires_at"`
	Roles         []string `json:"roles"`
}

func TestOrganizationInvitations(t *testing.T) {
	e := newEnv(t)
	o := e.createOrg(t, "acme")
	now := timeNow()
	if err := e.st.CreateClient(t.Context(), store.Client{ID: "app", Name: "App", InitiateLoginURI: "https://app.example/login",
		OrganizationUsage: store.OrgUsageAllow, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	path := "/api/v2/organizations/" + o.ID + "/invitations"
	var inv invitationOut
	e.call(t, "POST", path, map[string]any{"inviter": map[string]any{"name": "Ada"}, "invitee": map[string]any{"email": "Bob@Example.com"},
		"client_id": "app", "connection_id": store.DefaultDatabaseConnection, "ttl_sec": 3600, "send_invitation_email": false}, 201, &inv)
	u, err := url.Parse(inv.InvitationURL)
	if err != nil || !strings.HasPrefix(inv.InvitationURL, "https://app.example/login?") || u.Query().Get("organization") != o.ID ||
		u.Query().Get("organization_name") != "acme" || u.Query().Get("invitation") == "" {
		t.Fatalf("invitation_url %q", inv.InvitationURL)
	}
	stored, err := e.st.GetInvitation(t.Context(), inv.ID)
	if err != nil || stored.TicketHash != token.Hash(u.Query().Get("invitation")) {
		t.Fatalf("the link's ticket is not the invitation's: %v", err)
	}
	created, _ := time.Parse(time.RFC3339, inv.CreatedAt)
	expires, _ := time.Parse(time.RFC3339, inv.ExpiresAt)
	if inv.Inviter.Name != "Ada" || inv.Invitee.Email != "bob@example.com" || inv.OrganizationID != o.ID || inv.ClientID != "app" ||
		inv.ConnectionID != store.DefaultDatabaseConnection || expires.Sub(created) != time.Hour || inv.Roles == nil {
		t.Fatalf("invitation %+v", inv)
	}
	var got invitationOut
	e.call(t, "GET", path+"/"+inv.ID, nil, 200, &got)
	if got.ID != inv.ID || got.InvitationURL != "" || got.Inviter.Name != "Ada" {
		t.Errorf("get %+v (the link is shown once)", got)
	}
	var second invitationOut
	e.call(t, "POST", path, map[string]any{"inviter": map[string]any{"name": "Ada"}, "invitee": map[string]any{"email": "carol@example.com"},
		"client_id": "app"}, 201, &second)
	if d, _ := time.Parse(time.RFC3339, second.ExpiresAt); d.Sub(now) < 7*24*time.Hour-time.Minute {
		t.Errorf("default lifetime: expires %s", second.ExpiresAt)
	}
	var list []invitationOut
	e.call(t, "GET", path, nil, 200, &list)
	if len(list) != 2 {
		t.Fatalf("list %+v", list)
	}
	var page struct {
		Total       int             `json:"total"`
		Invitations []invitationOut `json:"invitations"`
	}
	e.call(t, "GET", path+"?page=1&per_page=1&include_totals=true", nil, 200, &page)
	if page.Total != 2 || len(page.Invitations) != 1 || page.Invitations[0].ID != second.ID {
		t.Errorf("page %+v", page)
	}
	e.call(t, "DELETE", path+"/"+inv.ID, nil, 204, nil)
	e.call(t, "GET", path, nil, 200, &list)
	if len(list) != 1 || list[0].ID != second.ID {
		t.Errorf("after deletion %+v", list)
	}

	other := e.createOrg(t, "other")
	tok := e.token(t, all...)
	valid := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"inviter": map[string]any{"name": "Ada"}, "invitee": map[string]any{"email": "x@example.com"}, "client_id": "app"}
		edit(b)
		return b
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"no inviter", "POST", path, valid(func(b map[string]any) { delete(b, "inviter") }), 400, "inviter.name, invitee.email and client_id are required"},
		{"blank inviter", "POST", path, valid(func(b map[string]any) { b["inviter"] = map[string]any{"name": " "} }), 400, "are required"},
		{"no client", "POST", path, valid(func(b map[string]any) { delete(b, "client_id") }), 400, "are required"},
		{"send email", "POST", path, valid(func(b map[string]any) { b["send_invitation_email"] = true }), 400, "send_invitation_email must be false"},
		{"roles", "POST", path, valid(func(b map[string]any) { b["roles"] = []string{"admin"} }), 400, "not supported"},
		{"metadata", "POST", path, valid(func(b map[string]any) { b["app_metadata"] = map[string]any{"a": 1} }), 400, "not supported"},
		{"ttl too long", "POST", path, valid(func(b map[string]any) { b["ttl_sec"] = 31 * 24 * 3600 }), 400, "ttl_sec"},
		{"ttl negative", "POST", path, valid(func(b map[string]any) { b["ttl_sec"] = -1 }), 400, "ttl_sec"},
		{"bad email", "POST", path, valid(func(b map[string]any) { b["invitee"] = map[string]any{"email": "nope"} }), 400, "not a valid email"},
		{"unknown client", "POST", path, valid(func(b map[string]any) { b["client_id"] = "nope" }), 404, `application "nope" not found`},
		{"unknown connection", "POST", path, valid(func(b map[string]any) { b["connection_id"] = "nope" }), 404, `connection "nope" not found`},
		{"unknown field", "POST", path, valid(func(b map[string]any) { b["identity"] = 1 }), 400, "Additional properties not allowed: identity"},
		{"unknown organization", "POST", "/api/v2/organizations/org_nope/invitations", valid(func(map[string]any) {}), 404, "not found"},
		{"deleted", "GET", path + "/" + inv.ID, nil, 404, "not found"},
		{"another organization's", "GET", "/api/v2/organizations/" + other.ID + "/invitations/" + second.ID, nil, 404, "not found"},
		{"delete another organization's", "DELETE", "/api/v2/organizations/" + other.ID + "/invitations/" + second.ID, nil, 404, "not found"},
		{"delete twice", "DELETE", path + "/" + inv.ID, nil, 404, "not found"},
		{"bad query", "GET", path + "?sort=created_at:1", nil, 400, "Query validation error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
}

type orgConnectionOut struct {
	ConnectionID            string `json:"connection_id"`
	AssignMembershipOnLogin bool   `json:"assign_membership_on_login"`
	ShowAsButton            bool   `json:"show_as_button"`
	Connection              struct {
		Name     string `json:"name"`
		Strategy string `json:"strategy"`
	} `json:"connection"`
}

func TestOrganizationConnections(t *testing.T) {
	e := newEnv(t)
	o := e.createOrg(t, "acme")
	e.call(t, "POST", "/api/v2/connections", map[string]any{"name": "github", "strategy": "github",
		"options": map[string]any{"client_id": "a", "client_secret": "b"}}, 201, nil)
	path := "/api/v2/organizations/" + o.ID + "/enabled_connections"
	db := url.PathEscape(store.DefaultDatabaseConnection)
	var oc orgConnectionOut
	e.call(t, "POST", path, map[string]any{"connection_id": store.DefaultDatabaseConnection, "assign_membership_on_login": true}, 201, &oc)
	if oc.ConnectionID != store.DefaultDatabaseConnection || !oc.AssignMembershipOnLogin || !oc.ShowAsButton ||
		oc.Connection.Name != store.DefaultDatabaseConnection || oc.Connection.Strategy != "auth0" {
		t.Fatalf("enabled %+v", oc)
	}
	e.call(t, "POST", path, map[string]any{"connection_id": "github"}, 201, &oc)
	if oc.AssignMembershipOnLogin || oc.Connection.Strategy != "github" {
		t.Fatalf("enabled github %+v", oc)
	}
	var list []orgConnectionOut
	e.call(t, "GET", path, nil, 200, &list)
	if len(list) != 2 || list[0].ConnectionID != store.DefaultDatabaseConnection || list[1].ConnectionID != "github" {
		t.Fatalf("list %+v", list)
	}
	var page struct {
		Total              int                `json:"total"`
		EnabledConnections []orgConnectionOut `json:"enabled_connections"`
	}
	e.call(t, "GET", path+"?per_page=1&include_totals=true", nil, 200, &page)
	if page.Total != 2 || len(page.EnabledConnections) != 1 {
		t.Errorf("page %+v", page)
	}
	e.call(t, "PATCH", path+"/"+db, map[string]any{"assign_membership_on_login": false}, 200, &oc)
	if oc.AssignMembershipOnLogin {
		t.Errorf("patched %+v", oc)
	}
	e.call(t, "PATCH", path+"/"+db, map[string]any{}, 200, &oc) // nothing to change
	e.call(t, "GET", path+"/github", nil, 200, &oc)
	if oc.ConnectionID != "github" {
		t.Errorf("get %+v", oc)
	}
	e.call(t, "DELETE", path+"/github", nil, 204, nil)
	if stored, _ := e.st.GetOrganization(t.Context(), o.ID); len(stored.Connections) != 1 {
		t.Errorf("stored after delete %+v", stored.Connections)
	}

	tok := e.token(t, all...)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"again", "POST", path, map[string]any{"connection_id": store.DefaultDatabaseConnection}, 409, "already enabled"},
		{"no id", "POST", path, map[string]any{"assign_membership_on_login": true}, 400, "connection_id is required"},
		{"unknown connection", "POST", path, map[string]any{"connection_id": "nope"}, 404, `connection "nope" not found`},
		{"hidden", "POST", path, map[string]any{"connection_id": "github", "show_as_button": false}, 400, "show_as_button"},
		{"unknown field", "POST", path, map[string]any{"connection_id": "github", "is_signup_enabled": true}, 400, "Additional properties not allowed: is_signup_enabled"},
		{"unknown organization", "POST", "/api/v2/organizations/org_nope/enabled_connections", map[string]any{"connection_id": "github"}, 404, "not found"},
		{"get disabled", "GET", path + "/github", nil, 404, "is not enabled"},
		{"patch disabled", "PATCH", path + "/github", map[string]any{"assign_membership_on_login": true}, 404, "is not enabled"},
		{"patch hidden", "PATCH", path + "/" + db, map[string]any{"show_as_button": false}, 400, "show_as_button"},
		{"delete disabled", "DELETE", path + "/github", nil, 404, "is not enabled"},
		{"list unknown organization", "GET", "/api/v2/organizations/org_nope/enabled_connections", nil, 404, "not found"},
		{"bad page", "GET", path + "?per_page=1000", nil, 400, "Query validation error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
}
