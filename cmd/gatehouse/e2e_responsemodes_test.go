package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

var (
	formPostAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	formPostInput  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	webMessageData = regexp.MustCompile(`(?s)<script type="application/json" id="authorization-response">(.*?)</script>`)
)

// formPostParams reads the auto-submitting form of a form_post answer.
func formPostParams(t *testing.T, p page, callback string) url.Values {
	t.Helper()
	m := formPostAction.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || html.UnescapeString(m[1]) != callback {
		t.Fatalf("want a form posting to %s, got %d at %s:\n%s", callback, p.status, p.url, p.body)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("form_post page Cache-Control %q", cc)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action "+callback+";") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("form_post page CSP %q", csp)
	}
	v := url.Values{}
	for _, in := range formPostInput.FindAllStringSubmatch(p.body, -1) {
		v.Set(in[1], html.UnescapeString(in[2]))
	}
	return v
}

// The Express quickstart's default: response_type=id_token with
// response_mode=form_post, after a login on the hosted pages; then the
// hybrid flow and the silent web_message answer of single-page apps.
func TestEndToEndResponseModes(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--allow-implicit", "--first-party")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)

	u, f := r.authURL(oauth2.SetAuthURLParam("response_type", "id_token"), oauth2.SetAuthURLParam("response_mode", "form_post"))
	p := b.get(u)
	p = b.login(p, userEmail, userPass)
	v := formPostParams(t, p, rpCallback)
	if v.Get("state") != f.state || v.Get("code") != "" || v.Get("iss") != g.issuer {
		t.Fatalf("form_post answer %v", v)
	}
	idt, err := r.verifier.Verify(t.Context(), v.Get("id_token"))
	if err != nil || idt.Nonce != f.nonce {
		t.Fatalf("id token: %v", err)
	}
	var c struct {
		Email string `json:"email"`
		CHash string `json:"c_hash"`
	}
	if err := idt.Claims(&c); err != nil || c.Email != userEmail {
		t.Errorf("id token claims %+v %v", c, err)
	}

	// Hybrid, with the session from above: code and ID token in the
	// fragment; c_hash binds them.
	u, f = r.authURL(oauth2.SetAuthURLParam("response_type", "code id_token"))
	p = b.get(u)
	if p.location == "" || !strings.HasPrefix(p.location, rpCallback+"#") {
		t.Fatalf("hybrid: want a redirect to the callback's fragment, got %d %q", p.status, p.location)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("hybrid redirect Cache-Control %q", cc)
	}
	loc, _ := url.Parse(p.location)
	frag, _ := url.ParseQuery(loc.EscapedFragment())
	idt, err = r.verifier.Verify(t.Context(), frag.Get("id_token"))
	if err != nil {
		t.Fatalf("hybrid id token: %v", err)
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(frag.Get("code")))
	if c.CHash != base64.RawURLEncoding.EncodeToString(sum[:16]) {
		t.Errorf("c_hash %q does not match the code", c.CHash)
	}
	r.exchange(frag, f)

	// Silent authentication as auth0-spa-js does it: prompt=none in a
	// hidden iframe, answered by postMessage to the app's origin.
	u, _ = r.authURL(oauth2.SetAuthURLParam("response_mode", "web_message"), oauth2.SetAuthURLParam("prompt", "none"))
	p = b.get(u)
	if p.status != http.StatusOK {
		t.Fatalf("web_message: %d %s", p.status, p.body)
	}
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors http://127.0.0.1:5555") || strings.Contains(csp, "frame-ancestors 'none'") || p.header.Get("X-Frame-Options") != "" {
		t.Errorf("web_message page framing: CSP %q, X-Frame-Options %q", csp, p.header.Get("X-Frame-Options"))
	}
	m := webMessageData.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("web_message page:\n%s", p.body)
	}
	var data struct {
		Origin   string            `json:"origin"`
		Response map[string]string `json:"response"`
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil || data.Origin != "http://127.0.0.1:5555" || data.Response["code"] == "" {
		t.Fatalf("web_message data %s: %v", m[1], err)
	}

	// Every other page still refuses framing.
	b2 := newBrowser(t, g.issuer)
	u, _ = r.authURL()
	p = b2.get(u)
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || p.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("login page framing: %q %q", p.header.Get("Content-Security-Policy"), p.header.Get("X-Frame-Options"))
	}
	// An OpenID request without redirect_uri is an error page.
	q := url.Values{"client_id": {id}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	p = b.get(g.issuer + "/authorize?" + q.Encode())
	if p.status != http.StatusBadRequest || p.location != "" || !strings.Contains(p.body, "redirect_uri") {
		t.Errorf("no redirect_uri: %d %q", p.status, p.location)
	}
	// screen_hint=signup opens the sign-up page.
	u, _ = r.authURL(oauth2.SetAuthURLParam("screen_hint", "signup"))
	if p = b2.get(u); p.url.Path != "/u/signup" || !strings.Contains(p.body, `name="password"`) {
		t.Errorf("screen_hint=signup: %s (%d)", p.url, p.status)
	}
}
