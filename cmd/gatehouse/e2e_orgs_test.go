package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// orgClaims are the organization claims of a token.
type orgClaims struct {
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name"`
}

func TestEndToEndOrganizations(t *testing.T) {
	g := startGatehouse(t, nil)
	mustCLI := func(args ...string) string {
		t.Helper()
		out, errOut, code := g.cli("", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access", "--organization-usage", "allow",
		"--initiate-login-uri", "http://127.0.0.1:5555/login")
	alice := g.user(userEmail, userPass)
	g.user("bob@example.com", userPass)
	acmeID := strings.TrimSpace(strings.TrimPrefix(mustCLI("orgs", "create", "--name", "acme", "--display-name", "Acme Corp",
		"--logo-url", "https://logo.example/acme.png", "--color", "#aa3300"), "org_id: "))
	betaID := strings.TrimSpace(strings.TrimPrefix(mustCLI("orgs", "create", "--name", "beta"), "org_id: "))
	for _, org := range []string{"acme", "beta"} {
		mustCLI("orgs", "connections", "enable", "--org", org, "Username-Password-Authentication")
	}
	mustCLI("orgs", "members", "add", "--org", "acme", "--user", userEmail)
	r := newRP(t, g, id, secret, "openid", "profile", "email", "offline_access")

	orgOf := func(tok *oauth2.Token) orgClaims {
		t.Helper()
		idt, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c orgClaims
		_ = idt.Claims(&c)
		return c
	}

	// Login to an organization by id: branded page, org claims.
	b := newBrowser(t, g.issuer)
	u, f := r.authURL(oauth2.SetAuthURLParam("organization", acmeID))
	p := b.get(u)
	if !strings.Contains(p.body, `id="org-name">Acme Corp<`) || !strings.Contains(p.body, "https://logo.example/acme.png") ||
		!strings.Contains(p.body, "/u/org/"+acmeID+"/theme.css") {
		t.Fatalf("login page lacks the organization's branding:\n%s", p.body)
	}
	if css := b.get(g.issuer + "/u/org/" + acmeID + "/theme.css"); !strings.Contains(css.body, "#aa3300") {
		t.Errorf("theme: %d %s", css.status, css.body)
	}
	tok, _ := r.exchange(callbackParams(t, b.login(p, userEmail, userPass), rpCallback), f)
	if c := orgOf(tok); c.OrgID != acmeID || c.OrgName != "acme" {
		t.Errorf("org claims %+v", c)
	}
	// Refresh keeps them.
	code, body := postForm(t, g.issuer+"/oauth/token", id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if code != 200 {
		t.Fatalf("refresh: %v", body)
	}
	_, idc := verifyJWT(t, g, body["id_token"].(string))
	if idc["org_id"] != acmeID {
		t.Errorf("refreshed id token org_id %v", idc["org_id"])
	}

	// By name, on the SSO session: no page.
	u, f = r.authURL(oauth2.SetAuthURLParam("organization", "acme"))
	tok, _ = r.exchange(callbackParams(t, b.get(u), rpCallback), f)
	if c := orgOf(tok); c.OrgID != acmeID {
		t.Errorf("by name: %+v", c)
	}
	// Without organization: a plain token.
	u, f = r.authURL()
	if c := orgOf(must2(r.exchange(callbackParams(t, b.get(u), rpCallback), f))); c.OrgID != "" {
		t.Errorf("org claims without organization: %+v", c)
	}
	// The session does not leak into another organization.
	u, f = r.authURL(oauth2.SetAuthURLParam("organization", betaID))
	q := callbackParams(t, b.get(u), rpCallback)
	if q.Get("error") != "access_denied" || !strings.Contains(q.Get("error_description"), "not a member") || q.Get("state") != f.state {
		t.Errorf("other organization: %v", q)
	}
	// A non-member is refused.
	bb := newBrowser(t, g.issuer)
	u, _ = r.authURL(oauth2.SetAuthURLParam("organization", "acme"))
	q = callbackParams(t, bb.login(bb.get(u), "bob@example.com", userPass), rpCallback)
	if q.Get("error") != "access_denied" || !strings.Contains(q.Get("error_description"), "not a member of the organization acme") ||
		strings.Contains(q.Get("error_description"), "bob@") {
		t.Errorf("non-member (the description must not carry the email): %v", q)
	}
	// The organization's login page offers no sign-up: acme's password
	// connection grants no membership, so a stranger's account would be
	// refused anyway.
	sb := newBrowser(t, g.issuer)
	p = sb.get(u)
	if !strings.HasPrefix(p.url.Path, "/u/login") || strings.Contains(p.body, "/u/signup") {
		t.Errorf("organization login page offers sign-up:\n%s", p.body)
	}
	if p := sb.get(g.issuer + "/u/signup?" + p.url.RawQuery); p.status != http.StatusForbidden || !strings.Contains(p.body, "does not allow sign-up") {
		t.Errorf("sign-up page of an organization without automatic membership: %d %.300s", p.status, p.body)
	}
	// With automatic membership on its password connection, an
	// organization offers sign-up, and the new account joins it.
	mustCLI("orgs", "connections", "enable", "--org", "beta", "--assign-membership", "Username-Password-Authentication")
	nb := newBrowser(t, g.issuer)
	u2, f2 := r.authURL(oauth2.SetAuthURLParam("organization", "beta"))
	p = nb.get(u2)
	link := regexpFind(t, `href="(/u/signup\?req=[^"]+)"`, p.body)
	p = nb.get(g.issuer + link)
	sv := formValues(t, p)
	sv.Set("email", "newcomer@example.com")
	sv.Set("password", "a long enough password")
	if c := orgOf(must2(r.exchange(callbackParams(t, nb.post(g.issuer+"/u/signup", sv), rpCallback), f2))); c.OrgID != betaID {
		t.Errorf("newcomer's org claims %+v, want %s", c, betaID)
	}
	// Unknown organization; an app that denies organizations.
	u, _ = r.authURL(oauth2.SetAuthURLParam("organization", "nope"))
	if q := callbackParams(t, bb.get(u), rpCallback); q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "nope") {
		t.Errorf("unknown organization: %v", q)
	}
	denyID, denySecret := g.app(rpCallback, "--first-party")
	rd := newRP(t, g, denyID, denySecret)
	u, _ = rd.authURL(oauth2.SetAuthURLParam("organization", "acme"))
	if q := callbackParams(t, bb.get(u), rpCallback); q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "does not use organizations") {
		t.Errorf("deny app: %v", q)
	}
	_ = alice
}

func must2[A, B any](a A, _ B) A { return a }

func TestEndToEndOrganizationPrompts(t *testing.T) {
	g := startGatehouse(t, nil)
	g.user(userEmail, userPass)
	for _, args := range [][]string{
		{"orgs", "create", "--name", "acme", "--display-name", "Acme Corp"},
		{"orgs", "create", "--name", "beta", "--display-name", "Beta Inc"},
		{"orgs", "connections", "enable", "--org", "acme", "Username-Password-Authentication"},
		{"orgs", "connections", "enable", "--org", "beta", "Username-Password-Authentication"},
		{"orgs", "members", "add", "--org", "acme", "--user", userEmail},
		{"orgs", "members", "add", "--org", "beta", "--user", userEmail},
	} {
		if _, errOut, code := g.cli("", args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	orgIDOf := func(t *testing.T, r *rp, p page, f flow) string {
		t.Helper()
		_, idt := r.exchange(callbackParams(t, p, rpCallback), f)
		var c orgClaims
		_ = idt.Claims(&c)
		return c.OrgID
	}

	t.Run("require without prompt", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--organization-usage", "require", "--organization-behavior", "no_prompt")
		r := newRP(t, g, id, secret)
		u, _ := r.authURL()
		q := callbackParams(t, newBrowser(t, g.issuer).get(u), rpCallback)
		if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "requires an organization") {
			t.Errorf("%v", q)
		}
	})

	t.Run("pre-login prompt", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--organization-usage", "require", "--organization-behavior", "pre_login_prompt")
		r := newRP(t, g, id, secret)
		b := newBrowser(t, g.issuer)
		u, f := r.authURL()
		p := b.get(u)
		if !strings.HasPrefix(p.url.Path, "/u/organization") || !strings.Contains(p.body, `name="organization"`) {
			t.Fatalf("expected the organization prompt, got %s:\n%s", p.url, p.body)
		}
		v := formValues(t, p)
		v.Set("organization", "nosuchorg")
		bad := b.post(g.issuer+"/u/organization", v)
		if bad.status != http.StatusNotFound || !strings.Contains(bad.body, "nosuchorg") || !strings.Contains(bad.body, `value="nosuchorg"`) {
			t.Errorf("unknown name: %d\n%s", bad.status, bad.body)
		}
		v.Set("organization", "Acme")
		p = b.post(g.issuer+"/u/organization", v)
		if !strings.Contains(p.body, "Acme Corp") {
			t.Fatalf("login page after the prompt lacks the organization:\n%s", p.body)
		}
		if got := orgIDOf(t, r, b.login(p, userEmail, userPass), f); !strings.HasPrefix(got, "org_") {
			t.Errorf("org_id %q", got)
		}
	})

	t.Run("post-login prompt", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--organization-usage", "require", "--organization-behavior", "post_login_prompt")
		r := newRP(t, g, id, secret)
		b := newBrowser(t, g.issuer)
		u, f := r.authURL()
		p := b.login(b.get(u), userEmail, userPass)
		if !strings.HasPrefix(p.url.Path, "/u/organization") || !strings.Contains(p.body, "Acme Corp") || !strings.Contains(p.body, "Beta Inc") {
			t.Fatalf("expected the organization choice, got %s:\n%s", p.url, p.body)
		}
		m := regexp.MustCompile(`name="organization" value="(org_[0-9a-f]+)" class="provider" id="org-org_[0-9a-f]+">Beta Inc`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no Beta button:\n%s", p.body)
		}
		v := formValues(t, p)
		v.Set("organization", "org_forged")
		if bad := b.post(g.issuer+"/u/organization", v); bad.status != http.StatusBadRequest {
			t.Errorf("forged choice: %d", bad.status)
		}
		v.Set("organization", m[1])
		if got := orgIDOf(t, r, b.post(g.issuer+"/u/organization", v), f); got != m[1] {
			t.Errorf("org_id %q, want %q", got, m[1])
		}
	})
}

func TestEndToEndInvitations(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party", "--organization-usage", "allow", "--initiate-login-uri", "https://app.example/login")
	g.user(userEmail, userPass)
	for _, args := range [][]string{
		{"orgs", "create", "--name", "acme"},
		{"orgs", "connections", "enable", "--org", "acme", "Username-Password-Authentication"},
	} {
		if _, errOut, code := g.cli("", args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	r := newRP(t, g, id, secret, "openid", "email")
	invite := func(email string, extra ...string) (link url.Values, invID string) {
		t.Helper()
		out, errOut, code := g.cli("", append([]string{"orgs", "invite", "--org", "acme", "--email", email, "--app", id}, extra...)...)
		if code != 0 {
			t.Fatalf("invite: %s", errOut)
		}
		m := regexp.MustCompile(`url: (\S+)`).FindStringSubmatch(out)
		u, err := url.Parse(m[1])
		if err != nil || !strings.HasPrefix(m[1], "https://app.example/login?") {
			t.Fatalf("invitation url %q", m[1])
		}
		if u.Query().Get("organization_name") != "acme" || !strings.HasPrefix(u.Query().Get("organization"), "org_") {
			t.Fatalf("invitation url %q", m[1])
		}
		return u.Query(), regexp.MustCompile(`invitation_id: (\S+)`).FindStringSubmatch(out)[1]
	}
	// What the app does with the link: forward invitation and organization.
	authorize := func(link url.Values) (string, flow) {
		return r.authURL(oauth2.SetAuthURLParam("invitation", link.Get("invitation")), oauth2.SetAuthURLParam("organization", link.Get("organization")))
	}

	link, _ := invite("Carol@Example.com")
	b := newBrowser(t, g.issuer)
	u, f := authorize(link)
	p := b.get(u)
	if !strings.HasPrefix(p.url.Path, "/u/login") || !strings.Contains(p.body, `value="carol@example.com" readonly`) {
		t.Fatalf("expected the sign-up page with the locked email:\n%s", p.body)
	}
	v := formValues(t, p)
	v.Set("email", "mallory@example.com") // the locked field is ignored if tampered with
	v.Set("password", "a long enough password")
	p = b.post(g.issuer+"/u/signup", v)
	_, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	var c struct {
		Email string `json:"email"`
		orgClaims
	}
	_ = idt.Claims(&c)
	if c.Email != "carol@example.com" || c.OrgID != link.Get("organization") || c.OrgName != "acme" {
		t.Errorf("invitee's claims %+v", c)
	}
	out, _, _ := g.cli("", "orgs", "members", "list", "--org", "acme")
	if !strings.Contains(out, idt.Subject) {
		t.Errorf("invitee is not a member: %s", out)
	}

	refusedAtAuthorize := func(t *testing.T, link url.Values, want string) {
		t.Helper()
		u, f := authorize(link)
		q := callbackParams(t, newBrowser(t, g.issuer).get(u), rpCallback)
		if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), want) || q.Get("state") != f.state {
			t.Errorf("got %v, want invalid_request %q", q, want)
		}
	}
	t.Run("reused", func(t *testing.T) { refusedAtAuthorize(t, link, "already used") })
	t.Run("expired", func(t *testing.T) {
		l, _ := invite("erin@example.com", "--ttl", "1s")
		time.Sleep(1100 * time.Millisecond)
		refusedAtAuthorize(t, l, "expired")
	})
	t.Run("revoked", func(t *testing.T) {
		l, invID := invite("frank@example.com")
		if _, errOut, code := g.cli("", "orgs", "invitations", "revoke", invID); code != 0 {
			t.Fatal(errOut)
		}
		refusedAtAuthorize(t, l, "revoked")
		out, _, _ := g.cli("", "orgs", "invitations", "list", "--org", "acme")
		if !strings.Contains(out, invID) || !strings.Contains(out, "revoked") {
			t.Errorf("invitations list:\n%s", out)
		}
	})
	t.Run("other organization", func(t *testing.T) {
		l, _ := invite("gina@example.com")
		g.cli("", "orgs", "create", "--name", "other")
		out, _, _ := g.cli("", "orgs", "show", "other")
		otherID := regexp.MustCompile(`"org_id": "(org_[0-9a-f]+)"`).FindStringSubmatch(out)[1]
		l.Set("organization", otherID)
		refusedAtAuthorize(t, l, "another organization")
	})
	t.Run("email mismatch", func(t *testing.T) {
		l, _ := invite("dave@example.com")
		b := newBrowser(t, g.issuer)
		u, f := authorize(l)
		p := b.get(u) // the sign-up page; alice logs in instead
		m := regexp.MustCompile(`href="(/u/login\?mode=login&amp;req=[^"]+)"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no link to the login page:\n%s", p.body)
		}
		p = b.get(g.issuer + strings.ReplaceAll(m[1], "&amp;", "&"))
		q := callbackParams(t, b.login(p, userEmail, userPass), rpCallback)
		if q.Get("error") != "access_denied" || !strings.Contains(q.Get("error_description"), "another email") || q.Get("state") != f.state {
			t.Errorf("email mismatch: %v", q)
		}
	})
}
