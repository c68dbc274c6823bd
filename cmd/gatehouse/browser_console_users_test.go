package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsoleUsers walks the console's main journey of the users
// and the log in Chromium: an admin creates an application and copies its
// quickstart's /authorize URL; a user logs in to it in another browser
// context; the admin sees that login arrive in the audit log (by the live
// tail, the page's script) and in the dashboard, blocks the user, and the
// user's next login is refused. Every page is saved as a screenshot, also
// at 390 px, where none may scroll sideways.
func TestBrowserConsoleUsers(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t)
	g := startGatehouse(t, nil)
	consoleAdmin(t, g, "admin@example.com", browserPassword, false)
	g.user("shopper@example.com", browserPassword)

	// The application's callback: it shows the code it got, as an app
	// would before exchanging it.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if code := r.URL.Query().Get("code"); code != "" {
			fmt.Fprint(w, `<!doctype html><title>Shop</title><p id="signed-in">Signed in to the shop</p>`)
			return
		}
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><p id="failed">%s</p>`, htmlEscape(r.URL.Query().Get("error")))
	}))
	t.Cleanup(app.Close)

	tab := startChromium(t, chrome)
	consoleLogin(t, tab, g, "admin@example.com", browserPassword)

	// Create the application, first-party so the user is not asked for
	// consent, and copy its quickstart's /authorize URL.
	tab.do(t, "open New application", chromedp.Navigate(g.issuer+"/admin/applications/new"))
	tab.do(t, "fill the application form",
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Shop"),
		chromedp.SendKeys(chromedp.ID("callbacks"), app.URL+"/callback"),
		chromedp.Click(chromedp.CSS(`input[name=is_first_party]`)))
	tab.click(t, "create the application", chromedp.CSS("form.console-form button[type=submit]"))
	tab.do(t, "wait for the quickstart", chromedp.WaitVisible(chromedp.ID("qs-authorize")))
	if n := tab.count(t, "#qs-authorize + button.copy"); n != 1 {
		tab.fatalf(t, "the quickstart's authorize URL has %d Copy buttons", n)
	}
	quickstart := strings.TrimSpace(browserRun(t, tab, "copy the authorize URL", chromedp.Text(chromedp.ID("qs-authorize"))))
	authorize, err := url.Parse(quickstart)
	if err != nil || !strings.HasPrefix(quickstart, g.issuer+"/authorize?") {
		tab.fatalf(t, "the quickstart's authorize URL is %q (%v)", quickstart, err)
	}
	// The quickstart leaves the PKCE challenge and state to fill in.
	sum := sha256.Sum256([]byte("a-code-verifier-of-the-shop-that-is-long-enough-0123456789"))
	q := authorize.Query()
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("state", "shop-state")
	authorize.RawQuery = q.Encode()

	// Open the log of logins before the user logs in: the tail shows it.
	tab.do(t, "open the logins of the log", chromedp.Navigate(g.issuer+"/admin/logs?type=s"))
	tab.do(t, "wait for the live tail", chromedp.WaitVisible(chromedp.ID("tail")))

	userCtx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	user := newBrowserTab(t, userCtx, tab.deadline)
	login := func(what string) int64 {
		user.do(t, what, chromedp.Navigate(authorize.String()))
		user.wantLocation(t, g.issuer+"/u/login")
		user.do(t, "fill the login form",
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), "shopper@example.com"),
			chromedp.SendKeys(chromedp.ID("password"), browserPassword))
		return user.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
	}
	login("open the shop's login")
	user.wantLocation(t, app.URL+"/callback?code=")
	user.do(t, "wait for the shop", chromedp.WaitVisible(chromedp.ID("signed-in")))

	// The script puts the login at the top of the open log.
	tab.do(t, "wait for the tail's new row", chromedp.WaitVisible(chromedp.CSS("#log-rows tr.new")))
	if row := browserRun(t, tab, "read the new row", chromedp.Text(chromedp.CSS("#log-rows tr.new"))); !strings.Contains(row, "Login (s)") ||
		!strings.Contains(row, "Shop") {
		tab.fatalf(t, "the tail's row is %q", row)
	}
	tab.screenshots(t, shots, "console-users-01-logs-tail")

	// Without the script, the filtered log shows it too.
	tab.do(t, "filter the log by the user", chromedp.Navigate(g.issuer+"/admin/logs?user=shopper%40example.com"))
	tab.do(t, "wait for the user's login", chromedp.WaitVisible(chromedp.CSS("#log-rows tr")))
	if rows := browserRun(t, tab, "read the rows", chromedp.Text(chromedp.ID("log-rows"))); !strings.Contains(rows, "Login (s)") || !strings.Contains(rows, "Shop") {
		tab.fatalf(t, "the user's log is %q", rows)
	}
	tab.screenshots(t, shots, "console-users-02-logs-filtered")
	consoleOpen(t, tab, "open the event", "#log-rows a", g.issuer+"/admin/logs/")
	tab.screenshots(t, shots, "console-users-03-log-event")

	// The dashboard counts it.
	consoleOpen(t, tab, "open the dashboard", `nav.console-nav a[href="/admin/"]`, g.issuer+"/admin/")
	if n := browserRun(t, tab, "read the logins", chromedp.Text(chromedp.ID("chart-0-total"))); n != "2" { // the admin's and the user's
		tab.fatalf(t, "the dashboard counts %s logins, want 2", n)
	}
	if n := tab.count(t, "svg.chart-svg rect.bar"); n != 72 {
		tab.fatalf(t, "the charts have %d bars, want 72", n)
	}
	tab.screenshots(t, shots, "console-users-04-dashboard")

	// Find the user, look at them, block them.
	consoleOpen(t, tab, "open Users", `nav.console-nav a[href="/admin/users"]`, g.issuer+"/admin/users")
	tab.do(t, "search for the user", chromedp.SendKeys(chromedp.ID("q"), "shop"))
	tab.click(t, "search", chromedp.CSS("form.search button[type=submit]"))
	tab.wantLocation(t, g.issuer+"/admin/users?q=shop")
	if n := tab.count(t, "table.list tbody tr"); n != 1 {
		tab.fatalf(t, "the search found %d users, want 1", n)
	}
	tab.screenshots(t, shots, "console-users-05-users")
	consoleOpen(t, tab, "open the user", `table.list a[href^="/admin/users/"]`, g.issuer+"/admin/users/")
	if n := tab.count(t, "main section"); n < 7 {
		tab.fatalf(t, "the user's page has %d sections", n)
	}
	tab.screenshots(t, shots, "console-users-06-user")

	// Metadata that is not JSON is refused beside its field.
	tab.do(t, "type bad metadata", chromedp.SetValue(chromedp.ID("app_metadata"), `{"plan": `))
	if status := tab.click(t, "save the metadata", chromedp.CSS(`form[action$="/metadata"] button[type=submit]`)); status != 400 {
		tab.fatalf(t, "bad metadata: HTTP %d", status)
	}
	tab.do(t, "wait for the field's error", chromedp.WaitVisible(chromedp.ID("err-app_metadata")))
	tab.screenshots(t, shots, "console-users-07-metadata-error")

	tab.click(t, "block the user", chromedp.CSS("#block"))
	tab.do(t, "wait for the unblock button", chromedp.WaitVisible(chromedp.ID("unblock")))
	if s := browserRun(t, tab, "read the status", chromedp.Text(chromedp.ID("user-status"))); s != "blocked" {
		tab.fatalf(t, "the user's status is %q", s)
	}
	tab.screenshots(t, shots, "console-users-08-user-blocked")

	// The user's session no longer logs them in, and the password is
	// refused.
	if status := login("log in to the shop again"); status != http.StatusForbidden {
		user.fatalf(t, "the blocked user's login answered HTTP %d", status)
	}
	if body := browserRun(t, user, "read the refusal", chromedp.Text(chromedp.CSS("body"))); !strings.Contains(body, "blocked") {
		user.fatalf(t, "the refusal says %q", body)
	}
	if n := user.count(t, "#signed-in"); n != 0 {
		user.fatalf(t, "the blocked user reached the shop")
	}

	// The other pages of the user, for the screenshots.
	userPage := browserRun(t, tab, "read the location", chromedp.Location())
	for i, p := range []struct{ name, path string }{
		{"password-link", ""}, {"revoke-sessions", "/sessions/revoke"}, {"delete-confirm", "/delete"},
	} {
		if p.path == "" {
			tab.click(t, "make a password link", chromedp.CSS(`form[action$="/password-link"] button[type=submit]`))
			tab.do(t, "wait for the link", chromedp.WaitVisible(chromedp.ID("password-link")))
			if n := tab.count(t, "#password-link + button.copy"); n != 1 {
				tab.fatalf(t, "the password link has %d Copy buttons", n)
			}
		} else {
			tab.do(t, "open "+p.name, chromedp.Navigate(userPage+p.path))
			tab.do(t, "wait for the confirmation", chromedp.WaitVisible(chromedp.CSS("main form button[type=submit]")))
		}
		tab.screenshots(t, shots, fmt.Sprintf("console-users-%02d-%s", 9+i, p.name))
	}
	tab.do(t, "open New user", chromedp.Navigate(g.issuer+"/admin/users/new"))
	tab.do(t, "wait for the form", chromedp.WaitVisible(chromedp.ID("email")))
	if n := tab.count(t, "form.console-form input:not([type=hidden]):not([type=checkbox])"); n != tab.count(t, "form.console-form label[for]") {
		tab.fatalf(t, "the new-user form has %d inputs but %d labels", n, tab.count(t, "form.console-form label[for]"))
	}
	tab.screenshots(t, shots, "console-users-12-new-user")
}

// htmlEscape escapes text for the test app's page.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
