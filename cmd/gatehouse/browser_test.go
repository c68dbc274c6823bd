package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"gatehouse/examples/webapp"
)

const (
	browserEmail    = "browser.user@example.com"
	browserPassword = "correct horse battery staple"

	// browserTimeout bounds the whole browser session; browserStepTimeout
	// bounds one step, so a missing element fails fast with the page in the
	// message instead of eating the whole budget.
	browserTimeout     = 60 * time.Second
	browserStepTimeout = 15 * time.Second
)

// TestBrowserLoginThroughExampleApp signs in to the example web app with a
// real headless Chromium: the hosted login and consent pages, single sign-on
// on a second login, and a wrong password in a browser with no cookies.
func TestBrowserLoginThroughExampleApp(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t, "01-app-home", "02-login", "03-consent", "04-profile", "05-login-failed")

	g := startGatehouse(t, nil)
	appURL, _ := startExampleWebApp(t, g, nil)
	g.user(browserEmail, browserPassword)

	tab := startChromium(t, chrome)

	ok := t.Run("login and consent", func(t *testing.T) {
		tab.do(t, "open the app", chromedp.Navigate(appURL+"/"))
		link := chromedp.CSS(`a[href="/login"]`)
		if got := browserRun(t, tab, "read the login link", chromedp.Text(link)); strings.TrimSpace(got) != "Log in" {
			tab.fatalf(t, "the app's home page links to /login with %q, want %q", got, "Log in")
		}
		tab.screenshot(t, shots, "01-app-home")

		tab.click(t, "click Log in", link)
		tab.wantLocation(t, g.issuer+"/u/login")
		tab.do(t, "wait for the login form", chromedp.WaitVisible(chromedp.ID("email")))
		for _, sel := range []string{"label[for=email]", "label[for=password]", "button[type=submit]"} {
			if n := tab.count(t, sel); n != 1 {
				tab.fatalf(t, "the login page has %d %s, want 1", n, sel)
			}
		}
		// The hosted pages must work in a browser without JavaScript.
		if n := tab.count(t, "script"); n != 0 {
			tab.fatalf(t, "the login page has %d <script> elements, want none", n)
		}
		tab.screenshot(t, shots, "02-login")

		tab.do(t, "fill the login form",
			chromedp.SendKeys(chromedp.ID("email"), browserEmail),
			chromedp.SendKeys(chromedp.ID("password"), browserPassword))
		tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
		tab.wantLocation(t, g.issuer+"/u/consent")
		tab.do(t, "wait for the consent page", chromedp.WaitVisible(chromedp.ID("accept")))
		if got := browserRun(t, tab, "read the signed-in user", chromedp.Text(chromedp.ID("user"))); got != browserEmail {
			tab.fatalf(t, "the consent page names the user %q, want %q", got, browserEmail)
		}
		tab.screenshot(t, shots, "03-consent")

		tab.click(t, "accept", chromedp.CSS("#accept"))
		tab.wantLocation(t, appURL+"/profile")
		tab.wantProfile(t, browserEmail)
		// The app is registered with --allow-offline-access and asks for
		// offline_access, so it holds a refresh token.
		if got := browserRun(t, tab, "read the refresh token row", chromedp.Text(chromedp.ID("refresh-token"))); got != "yes" {
			tab.fatalf(t, "the profile says refresh token issued %q, want %q", got, "yes")
		}
		tab.screenshot(t, shots, "04-profile")
	})
	if !ok {
		return
	}

	t.Run("single sign-on", func(t *testing.T) {
		tab.resetDocuments()
		tab.do(t, "log in again", chromedp.Navigate(appURL+"/login"))
		tab.wantLocation(t, appURL+"/profile")
		tab.wantProfile(t, browserEmail)
		docs := tab.documents()
		t.Logf("the second login loaded:\n  %s", strings.Join(docs, "\n  "))
		if !slices.ContainsFunc(docs, func(u string) bool { return strings.HasPrefix(u, g.issuer+"/authorize") }) {
			t.Errorf("the second login never reached %s/authorize; documents:\n%s", g.issuer, strings.Join(docs, "\n"))
		}
		// Consent is remembered, so neither hosted page is shown again.
		for _, u := range docs {
			if strings.HasPrefix(u, g.issuer+"/u/") {
				t.Errorf("the second login showed %s; documents:\n%s", u, strings.Join(docs, "\n"))
			}
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		// A browser context of its own has none of the cookies above.
		freshCtx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		fresh := newBrowserTab(t, freshCtx, tab.deadline)

		fresh.do(t, "open the app's login", chromedp.Navigate(appURL+"/login"))
		fresh.wantLocation(t, g.issuer+"/u/login")
		fresh.do(t, "fill the login form",
			chromedp.SendKeys(chromedp.ID("email"), browserEmail),
			chromedp.SendKeys(chromedp.ID("password"), "not the password"))
		status := fresh.click(t, "submit a wrong password", chromedp.CSS("button[type=submit]"))
		t.Logf("the failed login answered HTTP %d", status)
		fresh.wantLocation(t, g.issuer+"/u/login")
		fresh.do(t, "wait for the error", chromedp.WaitVisible(chromedp.ID("error")))
		if got := browserRun(t, fresh, "read the error", chromedp.Text(chromedp.ID("error"))); !strings.Contains(got, "Wrong email or password") {
			fresh.fatalf(t, "the error says %q, want it to say %q", got, "Wrong email or password")
		}
		if got := browserRun(t, fresh, "read the email field", chromedp.Value(chromedp.ID("email"))); got != browserEmail {
			fresh.fatalf(t, "the email field holds %q after a failed login, want %q", got, browserEmail)
		}
		if got := browserRun(t, fresh, "read the password field", chromedp.Value(chromedp.ID("password"))); got != "" {
			fresh.fatalf(t, "the password field holds %q after a failed login, want it empty", got)
		}
		fresh.screenshot(t, shots, "05-login-failed")
	})
}

// TestBrowserGitHubLogin signs in to the example web app through a GitHub
// connection with a real headless Chromium: the hosted login page offers
// GitHub beside the password form, the fake GitHub sends the browser straight
// back to Gatehouse's /login/callback, and the consent page leads to the
// app's profile of the GitHub user.
func TestBrowserGitHubLogin(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t, "06-login-with-github", "07-profile-github")

	g := startGatehouse(t, nil)
	// The fake GitHub is on 127.0.0.1 like Gatehouse, and Chromium shares
	// cookies across the ports of a host; the fake sets no cookies, so the
	// two cannot clash.
	gh := newFakeGitHub(t)
	appURL, clientID := startExampleWebApp(t, g, nil)
	out, errOut, code := g.cli("", "connections", "create", "--name", "github", "--strategy", "github",
		"--client-id", "gh-client", "--client-secret", "gh-secret-value",
		"--base-url", gh.URL, "--api-url", gh.URL, "--enable-for", clientID)
	// The command is given only --db, so the callback URL it prints is
	// built from its own default issuer, not g's: check the path alone.
	if code != 0 || !strings.Contains(out, "/login/callback") {
		t.Fatalf("connections create: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	tab := startChromium(t, chrome)

	tab.do(t, "open the app", chromedp.Navigate(appURL+"/"))
	tab.click(t, "click Log in", chromedp.CSS(`a[href="/login"]`))
	tab.wantLocation(t, g.issuer+"/u/login")
	github := chromedp.ID("connection-github")
	tab.do(t, "wait for the GitHub button", chromedp.WaitVisible(github))
	if got := browserRun(t, tab, "read the GitHub button", chromedp.Text(github)); strings.TrimSpace(got) != "Continue with GitHub" {
		tab.fatalf(t, "the GitHub button says %q, want %q", got, "Continue with GitHub")
	}
	// The password form is still offered beside the button.
	for _, sel := range []string{"#connection-github", "input#email", "input#password", "button[type=submit]"} {
		if n := tab.count(t, sel); n != 1 {
			tab.fatalf(t, "the login page has %d %s, want 1", n, sel)
		}
	}
	tab.screenshot(t, shots, "06-login-with-github")

	tab.resetDocuments()
	tab.click(t, "click Continue with GitHub", chromedp.CSS("#connection-github"))
	tab.wantLocation(t, g.issuer+"/u/consent")
	docs := tab.documents()
	t.Logf("the GitHub login loaded:\n  %s", strings.Join(docs, "\n  "))
	for _, want := range []string{gh.URL + "/login/oauth/authorize?", g.issuer + "/login/callback?"} {
		if !slices.ContainsFunc(docs, func(u string) bool { return strings.HasPrefix(u, want) }) {
			t.Errorf("the GitHub login never loaded %s; documents:\n%s", want, strings.Join(docs, "\n"))
		}
	}
	tab.do(t, "wait for the consent page", chromedp.WaitVisible(chromedp.ID("accept")))
	if got := browserRun(t, tab, "read the signed-in user", chromedp.Text(chromedp.ID("user"))); got != "octocat@example.com" {
		tab.fatalf(t, "the consent page names the user %q, want %q", got, "octocat@example.com")
	}

	tab.click(t, "accept", chromedp.CSS("#accept"))
	tab.wantLocation(t, appURL+"/profile")
	tab.wantProfile(t, "octocat@example.com")
	if got := browserRun(t, tab, "read the profile subject", chromedp.Text(chromedp.ID("sub"))); got != "github|1001" {
		tab.fatalf(t, "the profile shows sub %q, want %q", got, "github|1001")
	}
	tab.screenshot(t, shots, "07-profile-github")
}

// TestBrowserOrganizations signs in to the example web app through an
// organization with a real headless Chromium. The app is registered as a
// third-party app that requires an organization and asks for it before the
// login (pre_login_prompt), so the consent page is shown after each login.
// The test covers the hosted organization prompt, an unknown name, the
// organization's branding on the login page and its claims in the ID token;
// then an invitation: the link `orgs invite` prints opens the app, which
// forwards it to Gatehouse's sign-up page with the invited email locked, and
// a second use of the link is refused.
func TestBrowserOrganizations(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t, "08-organization-prompt", "09-organization-unknown", "10-login-acme",
		"11-invitation-signup", "12-invitation-reused")

	const (
		orgColor        = "#b4441c"
		orgColorRGB     = "rgb(180, 68, 28)" // orgColor as getComputedStyle reports it
		orgDisplayName  = "Acme Corporation"
		inviteeEmail    = "new.person@example.com"
		inviteeName     = "New Person"
		inviteePassword = "a long enough password"
	)

	g := startGatehouse(t, nil)
	appURL, clientID := startExampleWebApp(t, g, func(appURL string) []string {
		return []string{"--organization-usage", "require", "--organization-behavior", "pre_login_prompt",
			"--initiate-login-uri", appURL + "/login"}
	})
	mustCLI := func(args ...string) string {
		t.Helper()
		out, errOut, code := g.cli("", args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	g.user(browserEmail, browserPassword)
	// No --logo-url: the test runs offline, and a logo that cannot load
	// would only spoil the screenshots.
	out := mustCLI("orgs", "create", "--name", "acme", "--display-name", orgDisplayName, "--color", orgColor)
	acmeID := strings.TrimSpace(strings.TrimPrefix(out, "org_id: "))
	if !strings.HasPrefix(acmeID, "org_") {
		t.Fatalf("orgs create printed %q, want org_id: org_…", out)
	}
	mustCLI("orgs", "connections", "enable", "--org", "acme", "Username-Password-Authentication")
	mustCLI("orgs", "members", "add", "--org", "acme", "--user", browserEmail)

	// wantOrgClaims checks the ID token claims the app's profile page shows.
	wantOrgClaims := func(t *testing.T, tab *browserTab, email string) {
		t.Helper()
		raw := browserRun(t, tab, "read the ID token claims", chromedp.Text(chromedp.ID("claims")))
		for _, want := range []string{`"org_id"`, `"org_name": "acme"`} {
			if !strings.Contains(raw, want) {
				tab.fatalf(t, "the ID token claims lack %s:\n%s", want, raw)
			}
		}
		var c struct {
			Email   string `json:"email"`
			OrgID   string `json:"org_id"`
			OrgName string `json:"org_name"`
		}
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			tab.fatalf(t, "the ID token claims are not JSON: %v\n%s", err, raw)
		}
		if c.Email != email || c.OrgID != acmeID || c.OrgName != "acme" {
			tab.fatalf(t, "the ID token claims email %q, org_id %q, org_name %q; want %q, %q, %q",
				c.Email, c.OrgID, c.OrgName, email, acmeID, "acme")
		}
	}

	tab := startChromium(t, chrome)
	// freshTab opens a tab in a browser context of its own, with none of
	// the cookies of the others.
	freshTab := func(t *testing.T) *browserTab {
		t.Helper()
		ctx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		return newBrowserTab(t, ctx, tab.deadline)
	}

	ok := t.Run("organization prompt", func(t *testing.T) {
		tab.do(t, "open the app", chromedp.Navigate(appURL+"/"))
		tab.click(t, "click Log in", chromedp.CSS(`a[href="/login"]`))
		tab.wantLocation(t, g.issuer+"/u/organization")
		org := chromedp.ID("organization")
		tab.do(t, "wait for the organization form", chromedp.WaitVisible(org))
		for _, sel := range []string{"label[for=organization]", "input#organization", "button[type=submit]"} {
			if n := tab.count(t, sel); n != 1 {
				tab.fatalf(t, "the organization page has %d %s, want 1", n, sel)
			}
		}
		if n := tab.count(t, "script"); n != 0 {
			tab.fatalf(t, "the organization page has %d <script> elements, want none", n)
		}
		tab.screenshot(t, shots, "08-organization-prompt")

		tab.do(t, "type an unknown organization", chromedp.SendKeys(org, "nope"))
		status := tab.click(t, "submit the unknown organization", chromedp.CSS("button[type=submit]"))
		t.Logf("the unknown organization answered HTTP %d", status)
		tab.wantLocation(t, g.issuer+"/u/organization")
		tab.do(t, "wait for the error", chromedp.WaitVisible(chromedp.ID("error")))
		if got := browserRun(t, tab, "read the error", chromedp.Text(chromedp.ID("error"))); !strings.Contains(got, `"nope"`) {
			tab.fatalf(t, "the error says %q, want it to name %q", got, "nope")
		}
		if got := browserRun(t, tab, "read the organization field", chromedp.Value(org)); got != "nope" {
			tab.fatalf(t, "the organization field holds %q after the error, want %q", got, "nope")
		}
		tab.screenshot(t, shots, "09-organization-unknown")

		tab.do(t, "type acme", chromedp.Clear(org), chromedp.SendKeys(org, "acme"))
		tab.click(t, "submit acme", chromedp.CSS("button[type=submit]"))
		tab.wantLocation(t, g.issuer+"/u/login")
		tab.do(t, "wait for the login form", chromedp.WaitVisible(chromedp.ID("email")))
		if got := browserRun(t, tab, "read the organization name", chromedp.Text(chromedp.ID("org-name"))); got != orgDisplayName {
			tab.fatalf(t, "the login page names the organization %q, want %q", got, orgDisplayName)
		}
		// The organization's theme.css sets the accent the button is drawn in.
		bg := browserRun(t, tab, "read the button color", chromedp.Evaluate[string](
			`getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor`))
		if bg != orgColorRGB {
			tab.fatalf(t, "the login button's background is %s, want %s (%s)", bg, orgColorRGB, orgColor)
		}
		tab.screenshot(t, shots, "10-login-acme")

		tab.do(t, "fill the login form",
			chromedp.SendKeys(chromedp.ID("email"), browserEmail),
			chromedp.SendKeys(chromedp.ID("password"), browserPassword))
		tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
		tab.wantLocation(t, g.issuer+"/u/consent")
		tab.do(t, "wait for the consent page", chromedp.WaitVisible(chromedp.ID("accept")))
		tab.click(t, "accept", chromedp.CSS("#accept"))
		tab.wantLocation(t, appURL+"/profile")
		tab.wantProfile(t, browserEmail)
		wantOrgClaims(t, tab, browserEmail)
	})
	if !ok {
		return
	}

	t.Run("invitation", func(t *testing.T) {
		out := mustCLI("orgs", "invite", "--org", "acme", "--email", inviteeEmail, "--app", clientID)
		m := regexp.MustCompile(`(?m)^url: (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("orgs invite printed no url:\n%s", out)
		}
		link := m[1]
		if !strings.HasPrefix(link, appURL+"/login?") {
			t.Fatalf("the invitation link is %s, want it under the app's initiate login URI %s/login", link, appURL)
		}
		t.Logf("invitation link %s", link)

		fresh := freshTab(t)
		fresh.do(t, "open the invitation", chromedp.Navigate(link))
		fresh.wantLocation(t, g.issuer+"/u/")
		docs := fresh.documents()
		t.Logf("the invitation loaded:\n  %s", strings.Join(docs, "\n  "))
		if !slices.ContainsFunc(docs, func(u string) bool {
			return strings.HasPrefix(u, g.issuer+"/authorize?") && strings.Contains(u, "invitation=") && strings.Contains(u, "organization="+acmeID)
		}) {
			t.Errorf("the app never forwarded the invitation and organization to %s/authorize; documents:\n%s", g.issuer, strings.Join(docs, "\n"))
		}
		email := chromedp.ID("email")
		fresh.do(t, "wait for the sign-up form", chromedp.WaitVisible(chromedp.ID("name")))
		if n := fresh.count(t, `form[action="/u/signup"]`); n != 1 {
			fresh.fatalf(t, "the page has %d sign-up forms, want 1", n)
		}
		if got := browserRun(t, fresh, "read the email field", chromedp.Value(email)); got != inviteeEmail {
			fresh.fatalf(t, "the email field holds %q, want %q", got, inviteeEmail)
		}
		if !browserRun(t, fresh, "read whether the email is read-only", chromedp.JavascriptAttribute[bool](email, "readOnly")) {
			fresh.fatalf(t, "the invited email field is not read-only")
		}
		if got := browserRun(t, fresh, "read the organization name", chromedp.Text(chromedp.ID("org-name"))); got != orgDisplayName {
			fresh.fatalf(t, "the sign-up page names the organization %q, want %q", got, orgDisplayName)
		}
		fresh.screenshot(t, shots, "11-invitation-signup")

		fresh.do(t, "fill the sign-up form",
			chromedp.SendKeys(chromedp.ID("name"), inviteeName),
			chromedp.SendKeys(chromedp.ID("password"), inviteePassword))
		fresh.click(t, "submit the sign-up form", chromedp.CSS("button[type=submit]"))
		fresh.wantLocation(t, g.issuer+"/u/consent")
		fresh.do(t, "wait for the consent page", chromedp.WaitVisible(chromedp.ID("accept")))
		if got := browserRun(t, fresh, "read the signed-in user", chromedp.Text(chromedp.ID("user"))); got != inviteeEmail {
			fresh.fatalf(t, "the consent page names the user %q, want %q", got, inviteeEmail)
		}
		fresh.click(t, "accept", chromedp.CSS("#accept"))
		fresh.wantLocation(t, appURL+"/profile")
		fresh.wantProfile(t, inviteeEmail)
		if got := browserRun(t, fresh, "read the profile name", chromedp.Text(chromedp.ID("name"))); got != inviteeName {
			fresh.fatalf(t, "the profile shows name %q, want %q", got, inviteeName)
		}
		wantOrgClaims(t, fresh, inviteeEmail)

		// The link is good for one sign-up only: Gatehouse refuses it at
		// /authorize and sends the error back to the app.
		again := freshTab(t)
		again.do(t, "open the invitation again", chromedp.Navigate(link))
		again.wantLocation(t, appURL+"/callback")
		again.do(t, "wait for the app's error page", chromedp.WaitVisible(chromedp.ID("error")))
		if got := browserRun(t, again, "read the error code", chromedp.Text(chromedp.ID("error"))); got != "invalid_request" {
			again.fatalf(t, "the app shows error %q, want %q", got, "invalid_request")
		}
		if got := browserRun(t, again, "read the error description", chromedp.Text(chromedp.ID("error-description"))); !strings.Contains(got, "already used") {
			again.fatalf(t, "the app's error description is %q, want it to say %q", got, "already used")
		}
		again.screenshot(t, shots, "12-invitation-reused")
	})
}

// startChromium starts a headless Chromium at chrome for the test, stopped
// when it ends, and opens its first tab. The tab's deadline, browserTimeout
// from now, bounds the whole browser session.
func startChromium(t *testing.T, chrome string, extra ...chromedp.ExecAllocatorOption) *browserTab {
	t.Helper()
	deadline := time.Now().Add(browserTimeout)
	// The allocator outlives the step deadline a little, so a failing step
	// can still read the page for its message.
	rootCtx, cancelRoot := context.WithDeadline(t.Context(), deadline.Add(10*time.Second))
	t.Cleanup(cancelRoot)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1024, 768),
		chromedp.UserDataDir(t.TempDir()),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(rootCtx, opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return newBrowserTab(t, browserCtx, deadline)
}

// requireChromium returns the browser to drive. Without one the test skips,
// except under CI=true, where a missing browser must not pass unnoticed.
func requireChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("CHROME_PATH=%q: %v", p, err)
		}
		return path
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "no Chromium found (looked for /usr/bin/chromium, and chromium, chromium-browser and google-chrome in PATH); install one or set CHROME_PATH"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so the browser test must run")
	}
	t.Skip(msg)
	return ""
}

// browserArtifactsDir is where the screenshots go: $GATEHOUSE_ARTIFACTS, or
// test-artifacts/browser at the repository root. The screenshots the test
// will take, names without ".png", are removed if an earlier run left them,
// so a failed run leaves none that look current.
func browserArtifactsDir(t *testing.T, screenshots ...string) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_ARTIFACTS")
	if dir == "" {
		// go test runs in the package directory, cmd/gatehouse.
		dir = filepath.Join("..", "..", "test-artifacts", "browser")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create the artifacts directory: %v", err)
	}
	for _, name := range screenshots {
		if err := os.Remove(filepath.Join(dir, name+".png")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("remove an old screenshot: %v", err)
		}
	}
	return dir
}

// startExampleWebApp serves the example web app on a free loopback port,
// registered at g as a third-party app with offline access. It returns the
// app's URL and client id. flags, when not nil, returns more flags for
// `apps create`, given the app's URL.
func startExampleWebApp(t *testing.T, g *gatehouse, flags func(appURL string) []string) (appURL, clientID string) {
	t.Helper()
	// The app's URL is part of its registration, and the app needs the
	// registration to start: take the port first, serve after.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	args := []string{"--allow-offline-access"}
	if flags != nil {
		args = append(args, flags(base)...)
	}
	id, secret := g.app(base+"/callback", args...)
	app, err := webapp.New(t.Context(), webapp.Config{
		Issuer:       g.issuer,
		ClientID:     id,
		ClientSecret: secret,
		BaseURL:      base,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		srv.Close()
		t.Fatalf("start the example web app: %v", err)
	}
	srv.Config.Handler = app
	srv.Start()
	t.Cleanup(srv.Close)
	return base, id
}

// browserTab is one Chromium tab. Every step gets browserStepTimeout, cut
// short by the deadline of the whole session.
type browserTab struct {
	ctx      context.Context // a chromedp context whose tab is open
	deadline time.Time

	mu   sync.Mutex // guards docs
	docs []string   // the URLs of the documents the tab requested, redirects included
}

// newBrowserTab opens the tab of ctx, starting the browser if ctx is the
// first context, and records the documents it loads.
func newBrowserTab(t *testing.T, ctx context.Context, deadline time.Time) *browserTab {
	t.Helper()
	// The first Run binds the tab's life to its context, so it gets no
	// timeout of its own; the allocator's deadline still bounds it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	b := &browserTab{ctx: ctx, deadline: deadline}
	err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok && ev.Type == network.ResourceTypeDocument {
			b.mu.Lock()
			b.docs = append(b.docs, ev.Request.URL)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	return b
}

func (b *browserTab) documents() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.docs)
}

func (b *browserTab) resetDocuments() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.docs = nil
}

func (b *browserTab) stepContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithDeadline(b.ctx, b.deadline)
	ctx, cancel2 := context.WithTimeout(ctx, browserStepTimeout)
	return ctx, func() { cancel2(); cancel() }
}

// do runs steps that load no new page.
func (b *browserTab) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fatalf(t, "%s: %v", what, err)
	}
}

// browserRun runs one step and returns its value.
func browserRun[T any](t *testing.T, b *browserTab, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatalf(t, "%s: %v", what, err)
	}
	return v
}

// click clicks the element and waits for the page it leads to, following
// redirects; it returns the HTTP status of that page.
func (b *browserTab) click(t *testing.T, what string, sel chromedp.CSS) int64 {
	t.Helper()
	ctx, cancel := b.stepContext()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil {
		b.fatalf(t, "%s: %v", what, err)
	}
	if resp == nil {
		b.fatalf(t, "%s: the page loaded with no HTTP response", what)
	}
	return resp.Status
}

// count returns how many elements match the CSS selector, without waiting
// for one to appear.
func (b *browserTab) count(t *testing.T, css string) int {
	t.Helper()
	return browserRun(t, b, "count "+css, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", css)))
}

// wantLocation checks that the tab shows a page under prefix.
func (b *browserTab) wantLocation(t *testing.T, prefix string) {
	t.Helper()
	if loc := browserRun(t, b, "read the location", chromedp.Location()); !strings.HasPrefix(loc, prefix) {
		b.fatalf(t, "the browser is at %s, want %s", loc, prefix)
	}
}

// wantProfile checks that the app's profile page shows the signed-in user.
func (b *browserTab) wantProfile(t *testing.T, email string) {
	t.Helper()
	b.do(t, "wait for the profile", chromedp.WaitVisible(chromedp.ID("email")))
	if got := browserRun(t, b, "read the profile email", chromedp.Text(chromedp.ID("email"))); got != email {
		b.fatalf(t, "the profile shows email %q, want %q", got, email)
	}
}

// screenshot saves a full-page PNG of the tab as dir/name.png.
func (b *browserTab) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png := browserRun(t, b, "screenshot "+name, chromedp.FullScreenshot(100)) // 100 means PNG
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(png))
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot %s", path)
}

// fatalf fails the test with the tab's URL, HTML and document history, which
// is what tells a server bug from a test bug.
func (b *browserTab) fatalf(t *testing.T, format string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		loc = "(unknown: " + err.Error() + ")"
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		html = "(unknown: " + err.Error() + ")"
	}
	t.Fatalf("%s\nat %s\ndocuments loaded:\n  %s\npage:\n%s", fmt.Sprintf(format, args...),
		loc, strings.Join(b.documents(), "\n  "), html)
}
