package console_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// want checks a page's status and that its body holds each text.
func want(t *testing.T, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d:\n%s", p.url, p.status, status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("%s: no %q in:\n%s", p.url, s, p.body)
		}
	}
}

// post sends a form of the page's with its CSRF token.
func (b *browser) postWith(from page, path string, form url.Values) page {
	b.e.t.Helper()
	form.Set("csrf", from.hidden(b.e.t, "csrf"))
	return b.post(path, form)
}

var orgIDRE = regexp.MustCompile(`<code id="org-id">(org_[^<]+)</code>`)

// TestOrganizationPages walks the Organizations pages: creation with its
// errors beside the fields, branding with its preview, members,
// invitations with their link, connections, and the refusals a read-only
// admin and a missing organization get.
func TestOrganizationPages(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.user("admin@example.com", mgmt.AdminFull)
	e.user("reader@example.com", mgmt.AdminReadOnly)
	memberID := e.user("member@example.com", mgmt.AdminNone)
	name, typ, usage, login := "Shop", store.ClientRegularWeb, store.OrgUsageAllow, "https://shop.example/login"
	app, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{Name: &name, Type: &typ,
		Callbacks: &[]string{"https://shop.example/cb"}, OrganizationUsage: &usage, InitiateLoginURI: &login}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("admin@example.com")

	form := b.get("/admin/organizations/new")
	want(t, form, 200, `name="name"`)
	p := b.postWith(form, "/admin/organizations", url.Values{"name": {"Not Valid!"}})
	want(t, p, 400, `id="err-name"`, `aria-invalid="true"`)

	p = b.postWith(form, "/admin/organizations", url.Values{"name": {"acme"}, "display_name": {"Acme Inc."}})
	want(t, p, 200, "The organization was created.", "Acme Inc.")
	m := orgIDRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no organization id on:\n%s", p.body)
	}
	orgPath := "/admin/organizations/" + m[1]
	if dup := b.postWith(form, "/admin/organizations", url.Values{"name": {"acme"}}); dup.status != 400 || !strings.Contains(dup.body, `class="alert"`) {
		t.Fatalf("a duplicate name: %d\n%s", dup.status, dup.body)
	}

	t.Run("list and search", func(t *testing.T) {
		want(t, b.get("/admin/organizations?q=acm"), 200, orgPath)
		if p := b.get("/admin/organizations?q=nothing-like-it"); p.status != 200 || strings.Contains(p.body, orgPath) {
			t.Fatalf("search for nothing: %d", p.status)
		}
	})

	t.Run("branding", func(t *testing.T) {
		p := b.postWith(p, orgPath, url.Values{"name": {"acme"}, "display_name": {"Acme Inc."}, "primary": {"red"}})
		want(t, p, 400, `id="err-primary"`)
		p = b.postWith(p, orgPath, url.Values{"name": {"acme"}, "display_name": {"Acme"}, "primary": {"#aa0000"},
			"page_background": {"#fafafa"}, "preview": {"1"}})
		want(t, p, 200, "not saved yet", "organization-preview.css?bg=%23fafafa&amp;primary=%23aa0000")
		if o, _ := e.svc.GetOrganization(ctx, m[1]); o.PrimaryColor != "" {
			t.Fatalf("the preview saved the color %q", o.PrimaryColor)
		}
		css := b.get("/admin/organization-preview.css?primary=%23AA0000&bg=red")
		want(t, css, 200, ".org-preview { --accent: #aa0000; }")
		if strings.Contains(css.body, "red") {
			t.Fatalf("an invalid color reached the stylesheet: %s", css.body)
		}
		p = b.postWith(p, orgPath, url.Values{"name": {"acme"}, "display_name": {"Acme"}, "primary": {"#aa0000"},
			"logo_url": {"https://acme.example/logo.png"}})
		want(t, p, 200, "The changes were saved.", `src="https://acme.example/logo.png"`)
		if o, _ := e.svc.GetOrganization(ctx, m[1]); o.PrimaryColor != "#aa0000" || o.LogoURL != "https://acme.example/logo.png" {
			t.Fatalf("saved organization %+v", o)
		}
	})

	t.Run("members", func(t *testing.T) {
		p := b.postWith(p, orgPath+"/members", url.Values{"member": {"nobody@example.com"}})
		want(t, p, 400, `id="err-member"`, "No single user")
		p = b.postWith(p, orgPath+"/members", url.Values{"member": {"auth0|nobody"}})
		want(t, p, 400, `id="err-member"`)
		p = b.postWith(p, orgPath+"/members", url.Values{"member": {"member@example.com"}})
		want(t, p, 200, "The member was added.", memberID)
		want(t, b.get(orgPath+"?q=MEMBER@"), 200, "<code>"+memberID+"</code>", "1 in all")
		if p := b.get(orgPath + "?q=someone-else"); !strings.Contains(p.body, "No member matches") {
			t.Fatalf("a search for no member:\n%s", p.body)
		}
		// The member's roles in the organization.
		roleName, roleDesc := "buyer", "Places orders"
		r, err := e.svc.CreateRole(ctx, mgmt.RoleSettings{Name: &roleName, Description: &roleDesc})
		if err != nil {
			t.Fatal(err)
		}
		rolesPath := orgPath + "/members/" + url.PathEscape(memberID) + "/roles"
		roles := b.get(rolesPath)
		want(t, roles, 200, "No roles in this organization.", `<option value="`+r.ID+`">buyer</option>`)
		if strings.Contains(roles.body, mgmt.AdminRole) {
			t.Fatal("the console's admin role is offered as an organization role")
		}
		want(t, b.postWith(roles, rolesPath, url.Values{"role": {""}}), 400, `id="err-role"`)
		want(t, b.postWith(roles, rolesPath, url.Values{"role": {"rol_missing"}}), 400, `id="err-role"`)
		want(t, b.postWith(roles, rolesPath, url.Values{"role": {r.ID}}), 200, "The role was assigned.", `id="member-roles"`, "Places orders")
		want(t, b.postWith(roles, rolesPath+"/remove", url.Values{"role": {r.ID}}), 200, "The role was removed.", "No roles in this organization.")
		want(t, b.get(orgPath+"/members/"+url.PathEscape("auth0|nobody")+"/roles"), 404)

		confirm := b.get(orgPath + "/members/remove?user=" + url.QueryEscape(memberID))
		want(t, confirm, 200, "Remove the member")
		p = b.postWith(confirm, orgPath+"/members/remove?user="+url.QueryEscape(memberID), url.Values{})
		want(t, p, 200, "The member was removed.")
		if strings.Contains(p.body, "<code>"+memberID+"</code>") {
			t.Fatal("the removed member is still listed")
		}
	})

	t.Run("invitations", func(t *testing.T) {
		p := b.postWith(p, orgPath+"/invitations", url.Values{"email": {"not an email"}, "client_id": {app.ID}})
		want(t, p, 400, `id="err-email"`)
		p = b.postWith(p, orgPath+"/invitations", url.Values{"email": {"new@example.com"}, "client_id": {mgmt.ConsoleClientID}})
		want(t, p, 400, `class="alert"`, "organization")
		p = b.postWith(p, orgPath+"/invitations", url.Values{"email": {"new@example.com"}, "client_id": {app.ID}, "ttl_days": {"3"}})
		want(t, p, 200, `id="invitation-url"`, "https://shop.example/login?invitation=", "new@example.com")
		inv, err := e.svc.PendingInvitations(ctx, m[1])
		if err != nil || len(inv) != 1 {
			t.Fatalf("invitations %v %v", inv, err)
		}
		// The link is shown once: not on the page's next view.
		again := b.get(orgPath)
		want(t, again, 200, "new@example.com")
		if strings.Contains(again.body, `id="invitation-url"`) {
			t.Fatal("the invitation link is shown again")
		}
		confirm := b.get(orgPath + "/invitations/" + inv[0].ID + "/revoke")
		want(t, confirm, 200, "Revoke the invitation")
		want(t, b.postWith(confirm, orgPath+"/invitations/"+inv[0].ID+"/revoke", url.Values{}), 200, "The invitation was revoked.")
		want(t, b.get(orgPath+"/invitations/inv_missing/revoke"), 404)
	})

	t.Run("connections", func(t *testing.T) {
		p := b.postWith(p, orgPath+"/connections", url.Values{"connection_id": {"no-such-connection"}})
		want(t, p, 400, `id="err-connection_id"`)
		p = b.postWith(p, orgPath+"/connections", url.Values{"connection_id": {store.DefaultDatabaseConnection}, "assign_membership_on_login": {"on"}})
		want(t, p, 200, "The connection was enabled.", "members on login")
		confirm := b.get(orgPath + "/connections/" + store.DefaultDatabaseConnection + "/disable")
		want(t, confirm, 200, "Disable the connection")
		want(t, b.postWith(confirm, orgPath+"/connections/"+store.DefaultDatabaseConnection+"/disable", url.Values{}), 200, "The connection was disabled.")
	})

	t.Run("missing", func(t *testing.T) {
		want(t, b.get("/admin/organizations/org_nothing"), 404)
		want(t, b.get("/admin/organizations/acme"), 404)
	})

	t.Run("read-only", func(t *testing.T) {
		r := e.browser()
		r.signIn("reader@example.com")
		want(t, r.get("/admin/organizations/new"), 403, "Read-only access", "read-only")
		view := r.get(orgPath)
		want(t, view, 200, "Acme")
		if strings.Contains(view.body, `name="csrf" value`) && strings.Contains(view.body, `action="`+orgPath+`/members"`) {
			t.Fatal("a read-only admin sees the member form")
		}
		want(t, r.postWith(view, orgPath+"/members", url.Values{"member": {"member@example.com"}}), 403, "read-only")
		want(t, r.postWith(view, orgPath+"/delete", url.Values{}), 403, "read-only")
		want(t, r.postWith(view, orgPath+"/members/"+url.PathEscape(memberID)+"/roles", url.Values{"role": {"rol_x"}}), 403, "read-only")
	})

	confirm := b.get(orgPath + "/delete")
	want(t, confirm, 200, "Delete the organization")
	want(t, b.postWith(confirm, orgPath+"/delete", url.Values{}), 200, "The organization was deleted.")
	want(t, b.get(orgPath), 404)
}
