package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleAdmin creates a user who may log in with password and makes it an
// admin of the console (read-only when asked) through the command line.
func consoleAdmin(t *testing.T, g *gatehouse, email, password string, readOnly bool) string {
	t.Helper()
	id := g.user(email, password)
	args := []string{"admins", "add", email}
	if readOnly {
		args = append(args, "--read-only")
	}
	if out, errOut, code := g.cli("", args...); code != 0 {
		t.Fatalf("admins add: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	return id
}

// consoleLogin opens the admin console in the tab and logs in through
// the hosted login page; it ends on the console's dashboard.
func consoleLogin(t *testing.T, tab *browserTab, g *gatehouse, email, password string) {
	t.Helper()
	tab.do(t, "open the console", chromedp.Navigate(g.issuer+"/admin/"))
	tab.wantLocation(t, g.issuer+"/u/login")
	tab.do(t, "fill the login form",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password))
	tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
	tab.wantLocation(t, g.issuer+"/admin/")
	tab.do(t, "wait for the console", chromedp.WaitVisible(chromedp.CSS("nav.console-nav")))
}

// consoleOpen follows a link of the console page and checks where it
// leads.
func consoleOpen(t *testing.T, tab *browserTab, what, css, wantPrefix string) {
	t.Helper()
	if status := tab.click(t, what, chromedp.CSS(css)); status != 200 {
		tab.fatalf(t, "%s: HTTP %d", what, status)
	}
	tab.wantLocation(t, wantPrefix)
}

// TestBrowserConsoleApplication walks the console's main journey in
// Chromium: log in as an admin through the hosted login, create an
// application, read its quickstart, rotate its secret. Every page is
// saved as a screenshot, also at 390 px, where none may scroll sideways.
func TestBrowserConsoleApplication(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t)
	g := startGatehouse(t, nil)
	adminID := consoleAdmin(t, g, "admin@example.com", browserPassword, false)
	tab := startChromium(t, chrome)

	consoleLogin(t, tab, g, "admin@example.com", browserPassword)
	// Scripts are same-origin files only (the CSP refuses inline ones).
	if n := tab.count(t, "script:not([src^='/u/static/'])"); n != 0 {
		tab.fatalf(t, "the console has %d inline or foreign <script> elements", n)
	}
	tab.screenshots(t, shots, "console-01-dashboard")

	consoleOpen(t, tab, "open Applications", `nav.console-nav a[href="/admin/applications"]`, g.issuer+"/admin/applications")
	tab.screenshots(t, shots, "console-02-applications")

	consoleOpen(t, tab, "open New application", `a[href="/admin/applications/new"]`, g.issuer+"/admin/applications/new")
	// Every input has its label.
	if n := tab.count(t, "form.console-form input:not([type=hidden]):not([type=checkbox]), form.console-form select, form.console-form textarea"); n != tab.count(t, "form.console-form label[for]") {
		tab.fatalf(t, "the form has %d inputs but %d labels", n, tab.count(t, "form.console-form label[for]"))
	}
	tab.screenshots(t, shots, "console-03-new-application")

	// An invalid callback is refused beside its field.
	tab.do(t, "fill the form with a bad callback",
		chromedp.SendKeys(chromedp.ID("name"), "Shop"),
		chromedp.SendKeys(chromedp.ID("callbacks"), "not a url"))
	tab.click(t, "create", chromedp.CSS("form.console-form button[type=submit]"))
	tab.do(t, "wait for the field's error", chromedp.WaitVisible(chromedp.ID("err-callbacks")))
	tab.screenshots(t, shots, "console-04-field-error")

	tab.do(t, "fix the callback",
		chromedp.SetValue(chromedp.ID("callbacks"), "https://shop.example/callback"))
	tab.click(t, "create", chromedp.CSS("form.console-form button[type=submit]"))
	tab.do(t, "wait for the secret", chromedp.WaitVisible(chromedp.ID("client-secret")))
	id := browserRun(t, tab, "read the client id", chromedp.Text(chromedp.ID("client-id")))
	secret := browserRun(t, tab, "read the secret", chromedp.Text(chromedp.ID("client-secret")))
	authorize := browserRun(t, tab, "read the quickstart", chromedp.Text(chromedp.ID("qs-authorize")))
	if !strings.HasPrefix(authorize, g.issuer+"/authorize?client_id="+id) || !strings.Contains(authorize, "shop.example%2Fcallback") {
		tab.fatalf(t, "the quickstart's /authorize URL is %q", authorize)
	}
	if curl := browserRun(t, tab, "read the token request", chromedp.Text(chromedp.ID("qs-token"))); !strings.Contains(curl, "client_id="+id) {
		tab.fatalf(t, "the quickstart's token request is %q", curl)
	}
	// The script adds a Copy button to the secret and each command.
	if n := tab.count(t, "button.copy"); n != 3 {
		tab.fatalf(t, "the application page has %d Copy buttons, want 3", n)
	}
	tab.screenshots(t, shots, "console-05-application-created")

	consoleOpen(t, tab, "rotate the secret", `a[href$="/rotate-secret"]`, g.issuer+"/admin/applications/"+id+"/rotate-secret")
	tab.screenshots(t, shots, "console-06-rotate-confirm")
	tab.click(t, "confirm", chromedp.CSS("main form button[type=submit]"))
	tab.do(t, "wait for the new secret", chromedp.WaitVisible(chromedp.ID("client-secret")))
	if got := browserRun(t, tab, "read the new secret", chromedp.Text(chromedp.ID("client-secret"))); got == secret || len(got) < 32 {
		tab.fatalf(t, "the rotated secret is %q (the old one %q)", got, secret)
	}
	tab.screenshots(t, shots, "console-07-secret-rotated")

	consoleOpen(t, tab, "open the delete confirmation", `a[href$="/delete"]`, g.issuer+"/admin/applications/"+id+"/delete")
	tab.screenshots(t, shots, "console-08-delete-confirm")

	// The console's changes are the admin's in the audit log (written in
	// the background, so wait for them).
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, _ := g.cli("", "logs", "list", "--type", "sapi", "--user", adminID, "--json")
		if strings.Count(out, "Create an application") == 1 && strings.Count(out, "Rotate an application's secret") == 1 &&
			strings.Contains(out, `"client_id":"gatehouse-console"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit log has no console events of %s:\n%s", adminID, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
