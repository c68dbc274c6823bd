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
func startGatehouseAuth0Style(t *testing.T) *tlsGatehouse {
	t.Helper()
	g := startGatehouseTLS(t, func(c *config.Config) { c.Issuer = "https://" + c.Addr + "/" })
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

// freePort returns a loopback port nobody listens on.
func freePort(t *testing.T) int {
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
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
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

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// readJSON reads the JSON text of the element with the id into v.
func readJSON(t *testing.T, tab *browserTab, id string, v any) {
	t.Helper()
	tab.do(t, "wait for #"+id, chromedp.WaitReady(chromedp.ID(id)))
	text := browserRun(t, tab, "read #"+id, chromedp.Text(chromedp.ID(id)))
	if err := json.Unmarshal([]byte(text), v); err != nil {
		tab.fatalf(t, "#%s holds %q: %v", id, text, err)
	}
}

// signIn fills Gatehouse's login form in the tab, which shows it.
func signIn(t *testing.T, tab *browserTab) {
	t.Helper()
	tab.do(t, "wait for the login form", chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), browserEmail), chromedp.SendKeys(chromedp.ID("password"), browserPassword))
	tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
}

// TestAuth0ExpressSDK runs an Express app built from Auth0's quickstart
// with Auth0's express-openid-connect, unmodified, against Gatehouse over
// https, with only the issuer and client changed: first exactly as the
// quickstart writes it (ID token by form_post), then with a client secret
// for the code flow and offline_access (refresh, userinfo). Both log out
// through /v2/logout back to the app.
func TestAuth0ExpressSDK(t *testing.T) {
	node := needNodeSDK(t)
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "express-openid-connect", "package.json")); err != nil {
		// The lockfile has it: node_modules is older than the lockfile.
		t.Fatal("express-openid-connect is not installed: run `npm ci` in cmd/gatehouse/" + sdkDir)
	}
	chrome := requireChromium(t)
	g := startGatehouseAuth0Style(t)
	uid := g.user(browserEmail, browserPassword)
	tab := chromiumTrusting(t, chrome, g)

	run := func(t *testing.T, name string, flags []string, withSecret bool, wantType, wantMode string) {
		port := freePort(t)
		base := fmt.Sprintf("http://localhost:%d", port)
		flags = append([]string{"--first-party", "--logout-url", base}, flags...)
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
		signIn(t, b)
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
		readJSON(t, b, "user", &user)
		if user["sub"] != uid || user["email"] != browserEmail {
			t.Errorf("%s: req.oidc.user = %v, want sub %s and email %s", name, user, uid, browserEmail)
		}

		b.do(t, "open /profile", chromedp.Navigate(base+"/profile"))
		var claims map[string]any
		readJSON(t, b, "claims", &claims)
		if claims["iss"] != g.issuer || claims["aud"] != id {
			t.Errorf("%s: ID token claims %v, want iss %s and aud %s", name, claims, g.issuer, id)
		}

		if withSecret {
			b.do(t, "open /tokens", chromedp.Navigate(base+"/tokens"))
			if b.count(t, "#error") > 0 {
				b.fatalf(t, "%s: refresh or userinfo failed", name)
			}
			var tokens map[string]bool
			readJSON(t, b, "tokens", &tokens)
			for _, k := range []string{"had_access_token", "had_refresh_token", "refreshed", "bearer", "expires_in", "same_after"} {
				if !tokens[k] {
					t.Errorf("%s: /tokens: %s is false (%v)", name, k, tokens)
				}
			}
			var info map[string]any
			readJSON(t, b, "userinfo", &info)
			if info["sub"] != uid || info["email"] != browserEmail {
				t.Errorf("%s: fetchUserInfo() = %v", name, info)
			}
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
		run(t, "code flow", []string{"--allow-offline-access"}, true, "code", "")
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
