package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/config"
)

// startGatehouseAuth0Style starts Gatehouse over https with an issuer that
// ends with "/", as an Auth0 tenant's does (https://TENANT.auth0.com/):
// the SDKs are given that issuer unchanged.
// host names the server in the issuer: 127.0.0.1 or localhost.
func startGatehouseAuth0Style(t *testing.T, host string) *tlsGatehouse {
	t.Helper()
	g := startGatehouseTLS(t, func(c *config.Config) {
		_, port, _ := net.SplitHostPort(c.Addr)
		c.Issuer = "https://" + net.JoinHostPort(host, port) + "/"
	})
	if !strings.HasSuffix(g.issuer, "/") {
		t.Fatalf("issuer %q has no trailing slash", g.issuer)
	}
	return g
}

// chromiumTrusting starts Chromium trusting Gatehouse's certificate. A
// Chromium on Linux takes its extra trust anchors from an NSS database,
// which needs certutil (libnss3-tools) to write; instead the certificate's
// key is pinned with --ignore-certificate-errors-spki-list, which accepts
// that one key only: any other certificate error still fails the page.
func chromiumTrusting(t *testing.T, chrome string, g *tlsGatehouse) *browserTab {
	t.Helper()
	raw, err := os.ReadFile(g.cfg.TLS.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("%s holds no PEM block", g.cfg.TLS.CertFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return startChromium(t, chrome, chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(sum[:])))
}

// sdkLoopbackPort returns a loopback port nobody listens on.
func sdkLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNodeApp runs a node script of sdkDir with env added until the test
// ends, and waits for it to print "listening". What it prints goes to the
// test log.
func startNodeApp(t *testing.T, node, script string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var stderr strings.Builder
	cmd.Stderr = sdkStderr(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return stderr.Write(p)
	})
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", script, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})
	ready := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if sc.Text() == "listening" {
				once.Do(func() { close(ready) })
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s exited before listening:\n%s", script, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start listening in 20 s", script)
	}
}

// sdkStderr collects a node app's stderr.
type sdkStderr func([]byte) (int, error)

func (f sdkStderr) Write(p []byte) (int, error) { return f(p) }

// readElementJSON reads the JSON text of the element with the id into v.
func readElementJSON(t *testing.T, tab *browserTab, id string, v any) {
	t.Helper()
	tab.do(t, "wait for #"+id, chromedp.WaitReady(chromedp.ID(id)))
	text := browserRun(t, tab, "read #"+id, chromedp.Text(chromedp.ID(id)))
	if err := json.Unmarshal([]byte(text), v); err != nil {
		tab.fatalf(t, "#%s holds %q: %v", id, text, err)
	}
}

// chromiumSignIn fills Gatehouse's login form in the tab, which shows it.
func chromiumSignIn(t *testing.T, tab *browserTab) {
	t.Helper()
	tab.do(t, "wait for the login form", chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), browserEmail), chromedp.SendKeys(chromedp.ID("password"), browserPassword))
	tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
}

// TestAuth0ExpressSDK runs an Express app built from Auth0's quickstart
// with Auth0's express-openid-connect, unmodified, against Gatehouse over
// https, with only the issuer and client changed: first exactly as the
// quickstart writes it (ID token by form_post), then with a client secret
// for the code flow and offline_access (refresh, userinfo). The first logs
// out through the app's /logout (/v2/logout with returnTo, back to the
// app); the second at Gatehouse, which reaches the app by the SDK's
// back-channel logout.
func TestAuth0ExpressSDK(t *testing.T) {
	node := needNodeSDK(t)
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "express-openid-connect", "package.json")); err != nil {
		// The lockfile has it: node_modules is older than the lockfile.
		t.Fatal("express-openid-connect is not installed: run `npm ci` in cmd/gatehouse/" + sdkDir)
	}
	chrome := requireChromium(t)
	g := startGatehouseAuth0Style(t, "127.0.0.1")
	uid := g.user(browserEmail, browserPassword)
	tab := chromiumTrusting(t, chrome, g)

	run := func(t *testing.T, name string, flags []string, withSecret bool, wantType, wantMode string) {
		port := sdkLoopbackPort(t)
		base := fmt.Sprintf("http://localhost:%d", port)
		flags = append([]string{"--first-party", "--logout-url", base}, flags...)
		for i, f := range flags {
			if strings.Contains(f, "%d") {
				flags[i] = fmt.Sprintf(f, port)
			}
		}
		id, secret := g.app(base+"/callback", flags...)
		env := []string{"GATEHOUSE_ISSUER=" + g.issuer, "GATEHOUSE_CLIENT_ID=" + id, fmt.Sprintf("APP_PORT=%d", port),
			"NODE_EXTRA_CA_CERTS=" + g.caFile}
		if withSecret {
			env = append(env, "GATEHOUSE_CLIENT_SECRET="+secret)
		}
		startNodeApp(t, node, "express-app.mjs", env...)

		ctx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		b := newBrowserTab(t, ctx, tab.deadline)
		b.do(t, "open the app's /login", chromedp.Navigate(base+"/login"))
		b.wantLocation(t, g.issuer)
		chromiumSignIn(t, b)
		b.do(t, "wait for the app's home page", chromedp.WaitReady(chromedp.ID("authenticated")))
		b.wantLocation(t, base+"/")
		for _, doc := range b.documents() {
			if u, err := url.Parse(doc); err == nil && strings.HasPrefix(doc, g.issuer+"authorize?") {
				if q := u.Query(); q.Get("response_type") != wantType || q.Get("response_mode") != wantMode {
					t.Errorf("%s: the SDK asked for response_type %q, response_mode %q; want %q, %q",
						name, q.Get("response_type"), q.Get("response_mode"), wantType, wantMode)
				}
			}
		}
		if got := browserRun(t, b, "read whether signed in", chromedp.Text(chromedp.ID("authenticated"))); got != "yes" {
			b.fatalf(t, "%s: req.oidc.isAuthenticated() is %q after the login", name, got)
		}
		var user map[string]any
		readElementJSON(t, b, "user", &user)
		if user["sub"] != uid || user["email"] != browserEmail {
			t.Errorf("%s: req.oidc.user = %v, want sub %s and email %s", name, user, uid, browserEmail)
		}

		b.do(t, "open /profile", chromedp.Navigate(base+"/profile"))
		var claims map[string]any
		readElementJSON(t, b, "claims", &claims)
		if claims["iss"] != g.issuer || claims["aud"] != id {
			t.Errorf("%s: ID token claims %v, want iss %s and aud %s", name, claims, g.issuer, id)
		}

		if withSecret {
			b.do(t, "open /tokens", chromedp.Navigate(base+"/tokens"))
			if b.count(t, "#error") > 0 {
				b.fatalf(t, "%s: refresh or userinfo failed", name)
			}
			var tokens map[string]bool
			readElementJSON(t, b, "tokens", &tokens)
			for _, k := range []string{"had_access_token", "had_refresh_token", "refreshed", "bearer", "expires_in", "same_after"} {
				if !tokens[k] {
					t.Errorf("%s: /tokens: %s is false (%v)", name, k, tokens)
				}
			}
			var info map[string]any
			readElementJSON(t, b, "userinfo", &info)
			if info["sub"] != uid || info["email"] != browserEmail {
				t.Errorf("%s: fetchUserInfo() = %v", name, info)
			}
		}

		if withSecret {
			// Logging out at Gatehouse, not through the app, reaches the
			// app by back-channel logout: its session ends too.
			b.do(t, "log out at Gatehouse", chromedp.Navigate(g.issuer+"v2/logout"))
			deadline := time.Now().Add(10 * time.Second)
			for {
				b.do(t, "open the app", chromedp.Navigate(base+"/"), chromedp.WaitReady(chromedp.ID("authenticated")))
				if browserRun(t, b, "read whether signed in", chromedp.Text(chromedp.ID("authenticated"))) == "no" {
					break
				}
				if time.Now().After(deadline) {
					b.fatalf(t, "%s: still signed in to the app 10 s after logging out at Gatehouse", name)
				}
				time.Sleep(200 * time.Millisecond)
			}
			return
		}

		// /logout goes through Gatehouse's /v2/logout with returnTo and
		// client_id, back to the app, signed out of both.
		b.resetDocuments()
		b.do(t, "open the app's /logout", chromedp.Navigate(base+"/logout"))
		b.do(t, "wait for the app's home page", chromedp.WaitReady(chromedp.ID("authenticated")))
		if got := browserRun(t, b, "read whether signed in", chromedp.Text(chromedp.ID("authenticated"))); got != "no" {
			b.fatalf(t, "%s: still signed in after /logout", name)
		}
		if !hasPrefixed(b.documents(), g.issuer+"v2/logout?") {
			b.fatalf(t, "%s: /logout did not go through %sv2/logout", name, g.issuer)
		}
		b.do(t, "open the app's /login again", chromedp.Navigate(base+"/login"))
		b.do(t, "wait for the login form", chromedp.WaitVisible(chromedp.ID("email")))
	}

	t.Run("quickstart id_token form_post", func(t *testing.T) {
		run(t, "quickstart", []string{"--allow-implicit"}, false, "id_token", "form_post")
	})
	t.Run("code flow with refresh", func(t *testing.T) {
		run(t, "code flow", []string{"--allow-offline-access", "--backchannel-logout-uri", "http://127.0.0.1:%d/backchannel-logout"}, true, "code", "")
	})
}

// hasPrefixed tells whether a string of list starts with prefix.
func hasPrefixed(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// spaResult is what window.spa.call resolves to, in spa-server.mjs.
type spaResult struct {
	OK          bool            `json:"ok"`
	Value       json.RawMessage `json:"value"`
	Error       string          `json:"error"`
	Description string          `json:"description"`
}

// spaCall calls a method of the SPA SDK's client in the page and waits for
// it to settle.
func spaCall(t *testing.T, b *browserTab, method, arg string) spaResult {
	t.Helper()
	if arg == "" {
		arg = "undefined"
	}
	raw := browserRun(t, b, method, chromedp.Evaluate[string](fmt.Sprintf("spa.call(%q, %s)", method, arg), chromedp.EvalAwaitPromise))
	var r spaResult
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		b.fatalf(t, "%s resolved to %q: %v", method, raw, err)
	}
	return r
}

// spaLeave runs script, which leaves the page; spaReady then waits for
// the page the browser lands on.
func spaLeave(t *testing.T, b *browserTab, what, script string) {
	t.Helper()
	// The element goes first, so the wait below finds the next page's.
	b.do(t, what, chromedp.Evaluate[chromedp.Void](`document.getElementById("ready")?.remove(); `+script+`; undefined`))
}

// spaReady waits for the app's page and returns what it shows.
func spaReady(t *testing.T, b *browserTab) (authenticated bool, user map[string]any) {
	t.Helper()
	b.do(t, "wait for the app", chromedp.WaitReady(chromedp.CSS("#ready, #callback-error")))
	if b.count(t, "#callback-error") > 0 {
		b.fatalf(t, "the app failed")
	}
	var got struct {
		Authenticated bool           `json:"authenticated"`
		User          map[string]any `json:"user"`
	}
	readElementJSON(t, b, "ready", &got)
	return got.Authenticated, got.User
}

// TestAuth0SPASDK runs a single-page app built with Auth0's
// @auth0/auth0-spa-js, unmodified, against Gatehouse over https, with only
// the domain and client id changed: loginWithRedirect,
// handleRedirectCallback, getUser, getTokenSilently (in a hidden iframe
// answered by web_message, and with rotating refresh tokens over CORS),
// and logout through /v2/logout.
func TestAuth0SPASDK(t *testing.T) {
	node := needNodeSDK(t)
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "@auth0", "auth0-spa-js", "package.json")); err != nil {
		t.Fatal("@auth0/auth0-spa-js is not installed: run `npm ci` in cmd/gatehouse/" + sdkDir)
	}
	chrome := requireChromium(t)
	// The app and Gatehouse are same-site (localhost, both https), as an
	// app and its Auth0 custom domain are: the session cookie reaches the
	// hidden iframe of getTokenSilently.
	g := startGatehouseAuth0Style(t, "localhost")
	uid := g.user(browserEmail, browserPassword)
	tab := chromiumTrusting(t, chrome, g)

	sameSite := fmt.Sprintf("https://localhost:%d", sdkLoopbackPort(t))
	crossSite := fmt.Sprintf("http://localhost:%d", sdkLoopbackPort(t))
	args := []string{"apps", "create", "--name", "SPA", "--type", "spa", "--first-party", "--allow-offline-access"}
	for _, base := range []string{sameSite, crossSite} {
		args = append(args, "--callback", base+"/", "--callback", base+"/refresh", "--web-origin", base, "--allowed-origin", base,
			"--logout-url", base+"/", "--logout-url", base+"/refresh")
	}
	out, errOut, code := g.cli("", args...)
	id, found := strings.CutPrefix(strings.TrimSpace(out), "client_id: ")
	if code != 0 || !found || strings.Contains(id, "\n") {
		t.Fatalf("apps create: exit %d: %s%s", code, out, errOut)
	}
	env := []string{"GATEHOUSE_DOMAIN=" + strings.TrimSuffix(strings.TrimPrefix(g.issuer, "https://"), "/"), "GATEHOUSE_CLIENT_ID=" + id}
	// Served with Gatehouse's certificate (for localhost too), which
	// Chromium trusts.
	startNodeApp(t, node, "spa-server.mjs", append(env, "APP_PORT="+strings.TrimPrefix(sameSite, "https://localhost:"),
		"APP_TLS_CERT="+g.cfg.TLS.CertFile, "APP_TLS_KEY="+g.cfg.TLS.KeyFile)...)
	startNodeApp(t, node, "spa-server.mjs", append(env, "APP_PORT="+strings.TrimPrefix(crossSite, "http://localhost:"))...)

	for _, mode := range []struct{ name, base, path, pending string }{
		{"iframe web_message", sameSite, "/", ""},
		{"refresh tokens", sameSite, "/refresh", ""},
		{"refresh tokens cross-site", crossSite, "/refresh", ""},
		{"iframe web_message cross-site", crossSite, "/", "Gatehouse's session cookie is SameSite=Lax (not None), " +
			"so a hidden iframe from another site gets login_required; apps on another site use refresh tokens " +
			"or a same-site domain for Gatehouse"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if mode.pending != "" && os.Getenv("GATEHOUSE_SDK_PENDING") != "1" {
				t.Skip("not supported yet: " + mode.pending + " (GATEHOUSE_SDK_PENDING=1 runs it)")
			}
			ctx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
			defer cancel()
			b := newBrowserTab(t, ctx, tab.deadline)
			app := mode.base + mode.path
			b.do(t, "open the app", chromedp.Navigate(app))
			if authenticated, _ := spaReady(t, b); authenticated {
				t.Fatal("signed in before loginWithRedirect")
			}
			spaLeave(t, b, "loginWithRedirect", `spa.call("loginWithRedirect")`)
			chromiumSignIn(t, b)
			authenticated, user := spaReady(t, b)
			if !authenticated || user["sub"] != uid || user["email"] != browserEmail {
				b.fatalf(t, "after handleRedirectCallback: authenticated %v, user %v", authenticated, user)
			}
			if r := spaCall(t, b, "getUser", ""); !r.OK || !strings.Contains(string(r.Value), uid) {
				t.Errorf("getUser: %+v", r)
			}

			// getTokenSilently skips the cache: a hidden iframe to
			// /authorize?prompt=none&response_mode=web_message, or a
			// refresh_token grant from the page.
			var first string
			for i := range 2 {
				r := spaCall(t, b, "getTokenSilently", "")
				var tok struct {
					AccessToken string `json:"access_token"`
					IDToken     string `json:"id_token"`
				}
				if !r.OK || json.Unmarshal(r.Value, &tok) != nil || tok.AccessToken == "" || tok.IDToken == "" {
					b.fatalf(t, "getTokenSilently #%d: %+v", i+1, r)
				}
				if tok.AccessToken == first {
					t.Errorf("getTokenSilently #%d returned the same access token", i+1)
				}
				first = tok.AccessToken
			}

			framed := false
			for _, doc := range b.documents() {
				if u, err := url.Parse(doc); err == nil && strings.HasPrefix(doc, g.issuer+"authorize?") {
					framed = framed || u.Query().Get("response_mode") == "web_message" && u.Query().Get("prompt") == "none"
				}
			}
			if want := mode.path == "/"; framed != want {
				t.Errorf("getTokenSilently framed /authorize with web_message: %v, want %v", framed, want)
			}

			spaLeave(t, b, "logout", fmt.Sprintf(`spa.call("logout", {logoutParams: {returnTo: %q}})`, app))
			if authenticated, _ := spaReady(t, b); authenticated {
				b.fatalf(t, "still signed in after logout")
			}
			b.wantLocation(t, app)
			if !hasPrefixed(b.documents(), g.issuer+"v2/logout?") {
				b.fatalf(t, "logout did not go through %sv2/logout", g.issuer)
			}
			// Gatehouse's session ended too: silent authentication now
			// needs a login.
			if r := spaCall(t, b, "getTokenSilently", ""); r.OK {
				t.Errorf("getTokenSilently after logout: %+v", r)
			}
		})
	}
}
