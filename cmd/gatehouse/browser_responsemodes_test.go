package main

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// silentAuthPage frames an authorization request, as the SPA SDK does for
// getTokenSilently, and shows the message it receives from Gatehouse.
const silentAuthPage = `<!doctype html>
<html><body>
<script>
window.addEventListener("message", function (e) {
  if (e.origin !== %q || !e.data || e.data.type !== "authorization_response") return;
  var pre = document.createElement("pre");
  pre.id = "got";
  pre.textContent = JSON.stringify(e.data.response);
  document.body.appendChild(pre);
});
</script>
<iframe src="%s" title="silent"></iframe>
</body></html>`

// TestBrowserFormPostAndWebMessage runs the pages of the form_post and
// web_message modes in a real Chromium: their CSP must let the form post
// to the app and the script run, and the web_message page must reach the
// app's window when the app frames it, and no one else's.
func TestBrowserFormPostAndWebMessage(t *testing.T) {
	chrome := requireChromium(t)
	g := startGatehouse(t, nil)

	var mu sync.Mutex
	var posted url.Values // guarded by mu
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cb", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		posted = r.PostForm
		mu.Unlock()
		fmt.Fprintf(w, `<!doctype html><p id="posted">%s</p>`, html.EscapeString(r.PostForm.Get("state")))
	})
	mux.HandleFunc("GET /silent", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, silentAuthPage, strings.TrimSuffix(g.issuer, "/"), html.EscapeString(r.URL.Query().Get("u")))
	})
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	other := httptest.NewServer(mux) // another origin serving the same page
	t.Cleanup(other.Close)

	callback := app.URL + "/cb"
	id, secret := g.app(callback, "--allow-implicit", "--first-party")
	g.user(browserEmail, browserPassword)
	tab := startChromium(t, chrome)

	q := url.Values{"client_id": {id}, "redirect_uri": {callback}, "response_type": {"id_token"}, "response_mode": {"form_post"},
		"scope": {"openid email"}, "nonce": {"n-form-post"}, "state": {"s-form-post"}}
	tab.do(t, "open /authorize", chromedp.Navigate(g.issuer+"/authorize?"+q.Encode()))
	tab.do(t, "fill the login form", chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), browserEmail), chromedp.SendKeys(chromedp.ID("password"), browserPassword))
	tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
	tab.do(t, "wait for the form post to reach the app", chromedp.WaitVisible(chromedp.ID("posted")))
	tab.wantLocation(t, callback)
	mu.Lock()
	got := posted
	mu.Unlock()
	if got.Get("state") != "s-form-post" || got.Get("iss") != g.issuer {
		t.Fatalf("the app received %v", got)
	}
	provider, err := oidc.NewProvider(t.Context(), g.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(t.Context(), got.Get("id_token"))
	if err != nil || idt.Nonce != "n-form-post" {
		t.Fatalf("posted id token: %v", err)
	}

	// With PKCE, as every new application requires and auth0-spa-js sends.
	verifier := oauth2.GenerateVerifier()
	silent := url.Values{"client_id": {id}, "redirect_uri": {callback}, "response_type": {"code"}, "response_mode": {"web_message"},
		"prompt": {"none"}, "scope": {"openid"}, "state": {"s-silent"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	authorize := g.issuer + "/authorize?" + silent.Encode()
	tab.do(t, "open the app's silent authentication page", chromedp.Navigate(app.URL+"/silent?u="+url.QueryEscape(authorize)))
	tab.do(t, "wait for the message", chromedp.WaitVisible(chromedp.ID("got")))
	text := browserRun(t, tab, "read the message", chromedp.Text(chromedp.ID("got")))
	var resp map[string]string
	if err := json.Unmarshal([]byte(text), &resp); err != nil || resp["code"] == "" || resp["state"] != "s-silent" {
		t.Fatalf("message %q: %v", text, err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {resp["code"]}, "redirect_uri": {callback},
		"client_id": {id}, "client_secret": {secret}, "code_verifier": {verifier}}
	res, err := http.PostForm(g.issuer+"/oauth/token", form)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("exchange the code: %v %v", err, res.Status)
	}
	res.Body.Close()

	// Framed by another origin the page may not load, and no message is sent.
	tab.do(t, "open another origin's silent authentication page", chromedp.Navigate(other.URL+"/silent?u="+url.QueryEscape(authorize)),
		chromedp.Sleep(2*time.Second))
	if n := tab.count(t, "#got"); n != 0 {
		t.Errorf("another origin framed the web_message page and got %d messages", n)
	}
}
