package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// The tests in this file replay attacks against pending authorization
// requests through the public HTTP surface, with two cookie jars: Mallory
// prepares a request of her own and gets a victim, who has a single-sign-on
// session, to open a link to it.

const (
	malloryEmail = "mallory@example.com"
	victimEmail  = "victim@example.com"
)

// securityServer is a server with a third-party application (consent
// needed, offline access allowed), a first-party one, and two users.
type securityServer struct {
	g                      *gatehouse
	thirdID, thirdSecret   string
	firstID, firstSecret   string
	victimID               string
	third, first           *rp
	resumePrefix, callback string
}

func newSecurityServer(t *testing.T) *securityServer {
	g := startGatehouse(t, nil)
	s := &securityServer{g: g, resumePrefix: g.issuer + "/authorize/resume", callback: rpCallback}
	s.thirdID, s.thirdSecret = g.app(rpCallback, "--allow-offline-access")
	s.firstID, s.firstSecret = g.app(rpCallback, "--first-party")
	g.user(malloryEmail, userPass)
	s.victimID = g.user(victimEmail, userPass)
	s.third = newRP(t, g, s.thirdID, s.thirdSecret)
	s.first = newRP(t, g, s.firstID, s.firstSecret, "openid", "email")
	return s
}

// victimWithSession returns a browser in which the victim has logged in to
// the first-party application: a live SSO session.
func (s *securityServer) victimWithSession(t *testing.T) *browser {
	b := newBrowser(t, s.g.issuer)
	u, f := s.first.authURL()
	p := b.login(b.get(u), victimEmail, userPass)
	s.first.exchange(callbackParams(t, p, rpCallback), f)
	return b
}

// malloryPrepares runs Mallory's half: she starts a request for the
// third-party app, logs in as herself and consents, but stops before
// following the redirect to /authorize/resume, which she returns.
func (s *securityServer) malloryPrepares(t *testing.T, opts ...oauth2.AuthCodeOption) string {
	m := newBrowser(t, s.g.issuer)
	m.stopAt = s.resumePrefix
	u, _ := s.third.authURL(opts...)
	p := m.get(u)
	p = m.login(p, malloryEmail, userPass)
	if !strings.HasPrefix(p.location, s.resumePrefix) {
		t.Fatalf("after login, want a redirect to resume, got %d %q", p.status, p.location)
	}
	m.stopAt = ""
	p = m.get(p.location) // Mallory's own resume shows her the consent page
	m.stopAt = s.resumePrefix
	p = m.consent(p, "accept")
	if !strings.HasPrefix(p.location, s.resumePrefix) {
		t.Fatalf("after consent, want a redirect to resume, got %d %q", p.status, p.location)
	}
	return p.location
}

// refused checks that the victim's browser got an error page: no code, no
// redirect to the application.
func refused(t *testing.T, p page, what string) {
	t.Helper()
	if p.status != http.StatusForbidden || p.location != "" || strings.Contains(p.body, "code=") {
		t.Fatalf("%s: got %d location %q, want 403 and no redirect:\n%.400s", what, p.status, p.location, p.body)
	}
	if !strings.Contains(p.body, "another browser") {
		t.Errorf("%s: the page does not say why:\n%.400s", what, p.body)
	}
}

func TestPendingRequestBoundToBrowser(t *testing.T) {
	s := newSecurityServer(t)
	for _, prompt := range []string{"", "consent"} {
		t.Run("prompt="+prompt, func(t *testing.T) {
			var opts []oauth2.AuthCodeOption
			if prompt != "" {
				opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt))
			}
			resume := s.malloryPrepares(t, opts...)
			v := s.victimWithSession(t)
			refused(t, v.get(resume), "victim opens Mallory's resume link")
			reqID := mustReq(t, resume)
			for _, path := range []string{"/u/login", "/u/consent", "/u/signup", "/u/organization"} {
				refused(t, v.get(s.g.issuer+path+"?req="+url.QueryEscape(reqID)), "victim opens "+path)
			}
			// A form post with the victim's own CSRF token (from a request of
			// theirs) is refused too: the request is not theirs.
			u, _ := s.third.authURL()
			own := v.get(u)
			vals := formValues(t, own)
			vals.Set("req", reqID)
			vals.Set("action", "accept")
			refused(t, v.post(s.g.issuer+"/u/consent", vals), "victim posts consent on Mallory's request")
		})
	}
}

// TestDecisionsBoundToUser: in one browser, Mallory consents on a request
// and the session then becomes the victim's (a shared computer): the
// request must not reuse Mallory's consent for the victim.
func TestDecisionsBoundToUser(t *testing.T) {
	s := newSecurityServer(t)
	b := newBrowser(t, s.g.issuer)
	b.stopAt = s.resumePrefix
	u, _ := s.third.authURL()
	p := b.login(b.get(u), malloryEmail, userPass)
	b.stopAt = ""
	p = b.get(p.location)
	b.stopAt = s.resumePrefix
	p = b.consent(p, "accept")
	resume := p.location
	b.stopAt = ""

	// The victim logs in to the first-party app in the same browser.
	u2, f2 := s.first.authURL(oauth2.SetAuthURLParam("prompt", "login"))
	p = b.login(b.get(u2), victimEmail, userPass)
	s.first.exchange(callbackParams(t, p, rpCallback), f2)

	p = b.get(resume)
	if p.location != "" && strings.Contains(p.location, "code=") {
		t.Fatalf("Mallory's request issued a code to the victim's session: %s", p.location)
	}
	// Someone else authenticated on this request: the browser is asked to
	// log in again, and a victim who does so is asked for their own consent.
	if !strings.HasPrefix(p.url.Path, "/u/login") {
		t.Fatalf("want the login page, got %d %s", p.status, p.url)
	}
	p = b.login(p, victimEmail, userPass)
	if !strings.HasPrefix(p.url.Path, "/u/consent") || !strings.Contains(p.body, victimEmail) {
		t.Fatalf("want the consent page for the victim, got %d %s:\n%.400s", p.status, p.url, p.body)
	}
}

func TestUpstreamRequestBoundToBrowser(t *testing.T) {
	s := newSecurityServer(t)
	gh := newFakeGitHub(t)
	if _, errOut, code := s.g.cli("", "connections", "create", "--name", "github", "--strategy", "github",
		"--client-id", "gh-client", "--client-secret", "gh-secret-value", "--base-url", gh.URL, "--api-url", gh.URL,
		"--enable-for", s.thirdID, "--enable-for", s.firstID); code != 0 {
		t.Fatalf("connections create: %s", errOut)
	}
	// Mallory logs in through GitHub on a request with connection=github,
	// consents, and stops before the last resume.
	m := newBrowser(t, s.g.issuer, gh.URL)
	u, _ := s.third.authURL(oauth2.SetAuthURLParam("connection", "github"))
	p := m.get(u)
	if !strings.HasPrefix(p.url.Path, "/u/consent") {
		t.Fatalf("want the consent page after GitHub, got %d %s", p.status, p.url)
	}
	m.stopAt = s.resumePrefix
	p = m.consent(p, "accept")
	resume := p.location
	if !strings.HasPrefix(resume, s.resumePrefix) {
		t.Fatalf("want a resume redirect, got %q", resume)
	}
	v := s.victimWithSession(t)
	v.follow = append(v.follow, gh.URL)
	refused(t, v.get(resume), "victim opens Mallory's upstream resume link")
	refused(t, v.get(s.g.issuer+"/u/login/github?req="+url.QueryEscape(mustReq(t, resume))), "victim opens the upstream start")
}

func TestInvitationRequestBoundToBrowser(t *testing.T) {
	s := newSecurityServer(t)
	if _, errOut, code := s.g.cli("", "apps", "update", s.thirdID, "--organization-usage", "allow", "--initiate-login-uri", "https://app.example/login"); code != 0 {
		t.Fatalf("apps update: %s", errOut)
	}
	for _, args := range [][]string{
		{"orgs", "create", "--name", "acme"},
		{"orgs", "connections", "enable", "--org", "acme", "Username-Password-Authentication"},
	} {
		if _, errOut, code := s.g.cli("", args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	out, errOut, code := s.g.cli("", "orgs", "invite", "--org", "acme", "--email", victimEmail, "--app", s.thirdID)
	if code != 0 {
		t.Fatalf("invite: %s", errOut)
	}
	link, err := url.Parse(regexp.MustCompile(`url: (\S+)`).FindStringSubmatch(out)[1])
	if err != nil {
		t.Fatal(err)
	}
	// Mallory opens the invitation's authorization request and sends the
	// sign-up page's link to the victim.
	m := newBrowser(t, s.g.issuer)
	u, _ := s.third.authURL(oauth2.SetAuthURLParam("invitation", link.Query().Get("invitation")),
		oauth2.SetAuthURLParam("organization", link.Query().Get("organization")))
	p := m.get(u)
	if !strings.HasPrefix(p.url.Path, "/u/login") {
		t.Fatalf("want the invitation's sign-up page, got %s", p.url)
	}
	vals := formValues(t, p)
	v := newBrowser(t, s.g.issuer)
	refused(t, v.get(p.url.String()), "victim opens Mallory's invitation page")
	// The victim signs up through the planted form: refused.
	own := v.get(func() string { u, _ := s.first.authURL(); return u }())
	vals.Set("csrf", formValues(t, own).Get("csrf"))
	vals.Set("email", victimEmail)
	vals.Set("password", "another long password")
	refused(t, v.post(s.g.issuer+"/u/signup", vals), "victim signs up on Mallory's request")
}

// TestCSRFTokenBoundToServerKey: a cookie and form field chosen by an
// attacker (the same value in both) are refused; only the token the server
// derived for the browser passes.
func TestCSRFTokenBoundToServerKey(t *testing.T) {
	s := newSecurityServer(t)
	b := newBrowser(t, s.g.issuer)
	u, _ := s.first.authURL()
	p := b.get(u)
	vals := formValues(t, p)
	vals.Set("email", victimEmail)
	vals.Set("password", userPass)

	planted := strings.Repeat("A", 43)
	for _, name := range []string{"gatehouse_browser", "gatehouse_csrf"} {
		req, _ := http.NewRequest(http.MethodPost, s.g.issuer+"/u/login", strings.NewReader(func() string {
			v := url.Values{}
			for k := range vals {
				v.Set(k, vals.Get(k))
			}
			v.Set("csrf", planted)
			return v.Encode()
		}()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: name, Value: planted})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("planted %s=csrf pair: status %d, want 403", name, resp.StatusCode)
		}
	}
	// The genuine token still works.
	p = b.post(s.g.issuer+"/u/login", vals)
	if p.status >= 400 {
		t.Fatalf("genuine login: %d %.300s", p.status, p.body)
	}
}

// TestCodeRedirectNotCached: every answer that carries a code says no-store.
func TestCodeRedirectNotCached(t *testing.T) {
	s := newSecurityServer(t)
	b := newBrowser(t, s.g.issuer)
	u, f := s.first.authURL()
	p := b.login(b.get(u), victimEmail, userPass)
	if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || !strings.Contains(p.location, "code=") {
		t.Errorf("code redirect after login: Cache-Control %q location %q", cc, p.location)
	}
	s.first.exchange(callbackParams(t, p, rpCallback), f)
	u, f = s.first.authURL() // SSO: the code straight from /authorize
	p = b.get(u)
	if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || !strings.Contains(p.location, "code=") {
		t.Errorf("code redirect from /authorize: Cache-Control %q location %q", cc, p.location)
	}
	s.first.exchange(callbackParams(t, p, rpCallback), f)
}

func mustReq(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil || parsed.Query().Get("req") == "" {
		t.Fatalf("no req in %q", u)
	}
	return parsed.Query().Get("req")
}
