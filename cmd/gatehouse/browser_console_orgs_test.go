package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/config"
	"gatehouse/internal/token"
)

// TestBrowserConsoleOrganizations walks the console's organization
// journey in Chromium: an admin creates an organization, brands it,
// enables its connection and invites a user, copying the invitation link;
// the invitee accepts it in a browser context of their own and shows up
// as a member in the console. The Signing keys page first refuses a
// rotation of a next key that has not settled, with the reason, and once
// it has, rotates. The APIs and Connections pages are visited too. Every
// page is saved as a screenshot, also at 390 px, where none may scroll
// sideways.
func TestBrowserConsoleOrganizations(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t)
	const (
		inviteeEmail    = "invited.person@example.com"
		inviteePassword = "a long enough password"
		orgColor        = "#b4441c"
		orgColorRGB     = "rgb(180, 68, 28)"
	)
	keysCache := 200 * time.Millisecond
	g := startGatehouse(t, func(c *config.Config) { c.Tokens.KeysCacheTTL = config.Duration(keysCache) })
	started := time.Now()
	appURL, clientID := startExampleWebApp(t, g, func(appURL string) []string {
		return []string{"--organization-usage", "require", "--organization-behavior", "pre_login_prompt",
			"--initiate-login-uri", appURL + "/login"}
	})
	consoleAdmin(t, g, "admin@example.com", browserPassword, false)

	tab := startChromium(t, chrome)
	consoleLogin(t, tab, g, "admin@example.com", browserPassword)

	// A rotation right after the start is refused with its reason.
	consoleOpen(t, tab, "open Signing keys", `nav.console-nav a[href="/admin/keys"]`, g.issuer+"/admin/keys")
	if n := tab.count(t, "tr.key-current"); n < 1 {
		tab.fatalf(t, "the keys page lists %d current keys", n)
	}
	tab.screenshots(t, shots, "console-orgs-01-keys")
	consoleOpen(t, tab, "open the rotation", "a#rotate", g.issuer+"/admin/keys/rotate")
	tab.screenshots(t, shots, "console-orgs-02-rotate-confirm")
	tab.click(t, "confirm the rotation", chromedp.CSS("main form button[type=submit]"))
	tab.do(t, "wait for the refusal", chromedp.WaitVisible(chromedp.ID("error")))
	if got := browserRun(t, tab, "read the refusal", chromedp.Text(chromedp.ID("error"))); !strings.Contains(got, "Not rotated") || !strings.Contains(got, "try again in") {
		tab.fatalf(t, "the refusal says %q", got)
	}
	tab.screenshots(t, shots, "console-orgs-03-rotate-refused")

	// The APIs and Connections pages.
	consoleOpen(t, tab, "open APIs", `nav.console-nav a[href="/admin/apis"]`, g.issuer+"/admin/apis")
	tab.screenshots(t, shots, "console-orgs-04-apis")
	consoleOpen(t, tab, "open New API", `a[href="/admin/apis/new"]`, g.issuer+"/admin/apis/new")
	tab.screenshots(t, shots, "console-orgs-05-new-api")
	tab.do(t, "fill the API",
		chromedp.SendKeys(chromedp.ID("name"), "Orders"),
		chromedp.SendKeys(chromedp.ID("identifier"), "https://orders.example"),
		chromedp.SendKeys(chromedp.ID("scopes"), "read:orders Read the orders\nwrite:orders Change them"),
		chromedp.Click(chromedp.CSS(`input[name=enforce_policies]`)))
	tab.click(t, "create the API", chromedp.CSS("form.console-form button[type=submit]"))
	tab.do(t, "wait for the API", chromedp.WaitVisible(chromedp.ID("api-identifier")))
	if got := browserRun(t, tab, "read the scopes", chromedp.Value(chromedp.ID("scopes"))); !strings.Contains(got, "write:orders Change them") {
		tab.fatalf(t, "the API's scopes are %q", got)
	}
	tab.screenshots(t, shots, "console-orgs-05b-api")
	consoleOpen(t, tab, "open Connections", `nav.console-nav a[href="/admin/connections"]`, g.issuer+"/admin/connections")
	tab.screenshots(t, shots, "console-orgs-06-connections")
	consoleOpen(t, tab, "open New connection", `a[href="/admin/connections/new"]`, g.issuer+"/admin/connections/new")
	tab.screenshots(t, shots, "console-orgs-07-new-connection")
	// The database connection's page, and its test: a real login through
	// it, whose profile the console shows (in the same tab here; the
	// button opens a new one).
	conn := g.issuer + "/admin/connections/Username-Password-Authentication"
	tab.do(t, "open the database connection", chromedp.Navigate(conn))
	tab.do(t, "wait for the test button", chromedp.WaitVisible(chromedp.ID("test-connection")))
	tab.screenshots(t, shots, "console-orgs-07b-connection")
	tab.do(t, "start the test", chromedp.Navigate(conn+"/test"))
	tab.wantLocation(t, g.issuer+"/u/login")
	tab.do(t, "log in for the test",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "admin@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), browserPassword))
	tab.click(t, "submit the test login", chromedp.CSS("button[type=submit]"))
	tab.do(t, "wait for the test's profile", chromedp.WaitVisible(chromedp.ID("test-profile")))
	if got := browserRun(t, tab, "read the profile", chromedp.Text(chromedp.ID("test-profile"))); !strings.Contains(got, "admin@example.com") {
		tab.fatalf(t, "the test's profile is %q", got)
	}
	tab.screenshots(t, shots, "console-orgs-07c-connection-test")
	// The console session is the one it was.
	tab.do(t, "back to the console", chromedp.Navigate(g.issuer+"/admin/"), chromedp.WaitVisible(chromedp.CSS("nav.console-nav")))
	tab.wantLocation(t, g.issuer+"/admin/")

	// An organization, branded.
	consoleOpen(t, tab, "open Organizations", `nav.console-nav a[href="/admin/organizations"]`, g.issuer+"/admin/organizations")
	tab.screenshots(t, shots, "console-orgs-08-organizations")
	consoleOpen(t, tab, "open New organization", `a[href="/admin/organizations/new"]`, g.issuer+"/admin/organizations/new")
	tab.do(t, "fill the organization",
		chromedp.SendKeys(chromedp.ID("name"), "acme"),
		chromedp.SendKeys(chromedp.ID("display_name"), "Acme Corporation"))
	tab.click(t, "create the organization", chromedp.CSS("form.console-form button[type=submit]"))
	tab.do(t, "wait for the organization", chromedp.WaitVisible(chromedp.ID("org-id")))
	orgID := browserRun(t, tab, "read the organization id", chromedp.Text(chromedp.ID("org-id")))
	orgURL := g.issuer + "/admin/organizations/" + orgID
	if n := tab.count(t, "form.console-form input:not([type=hidden]):not([type=checkbox]), form.console-form select"); n != tab.count(t, "form.console-form label[for]") {
		tab.fatalf(t, "the organization's forms have %d inputs but %d labels", n, tab.count(t, "form.console-form label[for]"))
	}
	tab.do(t, "type a color", chromedp.SendKeys(chromedp.ID("primary"), orgColor))
	tab.click(t, "preview", chromedp.CSS(`button[name=preview]`))
	tab.do(t, "wait for the preview", chromedp.WaitVisible(chromedp.ID("org-preview")))
	bg := browserRun(t, tab, "read the preview's button color", chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector(".org-preview-button")).backgroundColor`))
	if bg != orgColorRGB {
		tab.fatalf(t, "the preview's button is %s, want %s", bg, orgColorRGB)
	}
	tab.screenshots(t, shots, "console-orgs-09-branding-preview")
	tab.click(t, "save the branding", chromedp.CSS(`.org-branding form button[type=submit]:not([name])`))
	tab.do(t, "wait for the save", chromedp.WaitVisible(chromedp.CSS("p.notice")))

	// Its login connection, then an invitation.
	tab.click(t, "enable the database connection", chromedp.CSS(`form[action$="/connections"] button[type=submit]`))
	tab.wantLocation(t, orgURL)
	tab.do(t, "wait for the connection", chromedp.WaitVisible(chromedp.ID("org-connections")))
	tab.do(t, "fill the invitation", chromedp.SendKeys(chromedp.ID("email"), inviteeEmail))
	tab.click(t, "invite", chromedp.CSS(`form[action$="/invitations"] button[type=submit]`))
	tab.do(t, "wait for the invitation link", chromedp.WaitVisible(chromedp.ID("invitation-url")))
	link := browserRun(t, tab, "read the invitation link", chromedp.Text(chromedp.ID("invitation-url")))
	if !strings.HasPrefix(link, appURL+"/login?") || !strings.Contains(link, "organization="+orgID) {
		tab.fatalf(t, "the invitation link is %q", link)
	}
	if n := tab.count(t, `#invitation-url + button.copy`); n != 1 {
		tab.fatalf(t, "the invitation link has %d Copy buttons, want 1", n)
	}
	tab.screenshots(t, shots, "console-orgs-10-invitation")
	_ = clientID

	// The invitee accepts in a browser context of their own.
	ctx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	invitee := newBrowserTab(t, ctx, tab.deadline)
	invitee.do(t, "open the invitation", chromedp.Navigate(link))
	invitee.wantLocation(t, g.issuer+"/u/")
	invitee.do(t, "wait for the sign-up form", chromedp.WaitVisible(chromedp.ID("name")))
	invitee.do(t, "fill the sign-up form",
		chromedp.SendKeys(chromedp.ID("name"), "Invited Person"),
		chromedp.SendKeys(chromedp.ID("password"), inviteePassword))
	invitee.click(t, "sign up", chromedp.CSS("button[type=submit]"))
	invitee.wantLocation(t, g.issuer+"/u/consent")
	invitee.do(t, "wait for the consent page", chromedp.WaitVisible(chromedp.ID("accept")))
	invitee.click(t, "accept", chromedp.CSS("#accept"))
	invitee.wantLocation(t, appURL+"/profile")
	invitee.wantProfile(t, inviteeEmail)

	// The member is in the console; the invitation is used up.
	tab.do(t, "reload the organization", chromedp.Navigate(orgURL))
	tab.do(t, "wait for the members", chromedp.WaitVisible(chromedp.ID("members-table")))
	if got := browserRun(t, tab, "read the members", chromedp.Text(chromedp.ID("members-table"))); !strings.Contains(got, inviteeEmail) {
		tab.fatalf(t, "the members are %q, want %s among them", got, inviteeEmail)
	}
	tab.screenshots(t, shots, "console-orgs-11-member")
	tab.click(t, "open the member's roles", chromedp.CSS(`#members-table a[href$="/roles"]`))
	tab.do(t, "wait for the roles page", chromedp.WaitVisible(chromedp.ID("role")))
	tab.screenshots(t, shots, "console-orgs-11b-member-roles")

	// Once the next key has been published for the key cache period plus
	// the JWKS cache period, the rotation goes through. The browser
	// session has a deadline of its own, so a new one does it.
	settle := keysCache + token.JWKSMaxAge + time.Second
	time.Sleep(time.Until(started.Add(settle)))
	tab = startChromium(t, chrome)
	consoleLogin(t, tab, g, "admin@example.com", browserPassword)
	tab.do(t, "open the rotation", chromedp.Navigate(g.issuer+"/admin/keys/rotate"))
	tab.click(t, "confirm the rotation", chromedp.CSS("main form button[type=submit]"))
	tab.wantLocation(t, g.issuer+"/admin/keys?rotated=")
	tab.do(t, "wait for the notice", chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if n := tab.count(t, "tr.key-previous"); n < 1 {
		tab.fatalf(t, "after the rotation the keys page lists %d previous keys", n)
	}
	tab.screenshots(t, shots, "console-orgs-12-rotated")
}
