package main

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/email/emailtest"
)

// startMailGatehouse is a server that sends its email to a real SMTP
// server on loopback, which the test reads.
func startMailGatehouse(t *testing.T) (*gatehouse, *emailtest.Server) {
	smtp := emailtest.Start(t, emailtest.Config{})
	g := startGatehouse(t, func(c *config.Config) {
		c.Email.SMTPURL = smtp.URL()
		c.Email.From = "Gatehouse <login@example.com>"
	})
	return g, smtp
}

// mailLink waits for the n-th message (1-based) and returns its first link
// under the issuer, after checking the message has both parts.
func mailLink(t *testing.T, smtp *emailtest.Server, n int, to, issuer string) string {
	t.Helper()
	msgs := smtp.Wait(t, n, 10*time.Second)
	m := msgs[n-1]
	if len(m.EnvelopeTo) != 1 || !strings.EqualFold(m.EnvelopeTo[0], to) {
		t.Fatalf("message %d is for %v, want %s", n, m.EnvelopeTo, to)
	}
	if m.Text == "" || m.HTML == "" {
		t.Errorf("message %d lacks a text or an HTML part", n)
	}
	for _, l := range m.TextLinks() {
		if strings.HasPrefix(l, issuer+"/u/") {
			return l
		}
	}
	t.Fatalf("message %d (%q) has no link to %s:\n%s", n, m.Subject, issuer, m.Text)
	return ""
}

// TestEndToEndPasswordReset: forgot password → email → new password →
// back in the application with a code, logged in; the old password and
// the old session no longer work.
func TestEndToEndPasswordReset(t *testing.T) {
	g, smtp := startMailGatehouse(t)
	id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)

	// An old session with a refresh token, to be ended by the reset.
	old := newBrowser(t, g.issuer)
	oldTok, _ := loginFlow(t, old, r)

	b := newBrowser(t, g.issuer)
	u, f := r.authURL()
	p := b.get(u)
	forgot := regexpFind(t, `href="(/u/forgot-password\?req=[^"]+)"`, p.body)
	p = b.get(g.issuer + strings.ReplaceAll(forgot, "&amp;", "&"))
	v := formValues(t, p)
	v.Set("email", strings.ToUpper(userEmail))
	p = b.post(g.issuer+"/u/forgot-password", v)
	if p.status != http.StatusOK || !strings.Contains(p.body, "If an account exists for "+userEmail) {
		t.Fatalf("forgot password answer: %d %s", p.status, p.body)
	}
	// The same words for an address with no account, and no email.
	p2 := b.get(g.issuer + strings.ReplaceAll(forgot, "&amp;", "&"))
	v2 := formValues(t, p2)
	v2.Set("email", "nobody@example.com")
	if q := b.post(g.issuer+"/u/forgot-password", v2); q.status != p.status ||
		strings.ReplaceAll(q.body, "nobody@example.com", userEmail) != p.body {
		t.Errorf("unknown address answered differently: %d\n%s", q.status, q.body)
	}

	link := mailLink(t, smtp, 1, userEmail, g.issuer)
	p = b.get(link)
	if !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("reset page: %d %s", p.status, p.body)
	}
	rv := hiddenValues(p.body)
	rv.Set("password", "password") // common: refused, and the link stays usable
	p = b.post(g.issuer+"/u/reset-password", rv)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("weak password: %d %s", p.status, p.body)
	}
	rv.Set("password", "a brand new passphrase")
	p = b.post(g.issuer+"/u/reset-password", rv)
	_, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	if idt.Subject == "" {
		t.Fatal("no subject")
	}
	if time.Since(idt.IssuedAt) > time.Minute {
		t.Errorf("stale id token")
	}
	// The link was used; the old session and refresh token are gone.
	if p := newBrowser(t, g.issuer).get(link); p.status != http.StatusGone {
		t.Errorf("used link: %d", p.status)
	}
	oldTok.Expiry = time.Now().Add(-time.Minute)
	if _, err := r.conf.TokenSource(t.Context(), oldTok).Token(); err == nil {
		t.Error("the old refresh token still works after the reset")
	}
	u, _ = r.authURL()
	if p := old.get(u); !strings.HasPrefix(p.url.Path, "/u/login") {
		t.Errorf("the old session still logs in: %s %q", p.url, p.location)
	}
	// The new password works, the old one does not.
	nb := newBrowser(t, g.issuer)
	u, _ = r.authURL()
	if p := nb.login(nb.get(u), userEmail, userPass); p.status != http.StatusUnauthorized {
		t.Errorf("old password: %d", p.status)
	}
	u, f = r.authURL()
	p = nb.login(nb.get(u), userEmail, "a brand new passphrase")
	r.exchange(callbackParams(t, p, rpCallback), f)
	// A password-changed notice went out too.
	msgs := smtp.Wait(t, 2, 10*time.Second)
	if !strings.Contains(msgs[1].Subject, "password was changed") {
		t.Errorf("second email: %q", msgs[1].Subject)
	}
}

// TestEndToEndSignUpVerification: with email, sign-up answers "check your
// inbox" for a new and a taken address alike; the link verifies the address
// and continues the login in the same browser; an application that
// requires a verified email gets one.
func TestEndToEndSignUpVerification(t *testing.T) {
	g, smtp := startMailGatehouse(t)
	id, secret := g.app(rpCallback, "--first-party", "--require-verified-email")
	aliceID := g.user(userEmail, userPass)
	r := newRP(t, g, id, secret, "openid", "email")

	signup := func(b *browser, addr string) (page, flow) {
		t.Helper()
		u, f := r.authURL()
		p := b.get(u)
		link := regexpFind(t, `href="(/u/signup\?req=[^"]+)"`, p.body)
		p = b.get(g.issuer + strings.ReplaceAll(link, "&amp;", "&"))
		v := formValues(t, p)
		v.Set("email", addr)
		v.Set("password", "a long enough password")
		return b.post(g.issuer+"/u/signup", v), f
	}
	taken, _ := signup(newBrowser(t, g.issuer), userEmail)
	b := newBrowser(t, g.issuer)
	fresh, f := signup(b, "carol@example.com")
	if taken.status != http.StatusOK || fresh.status != taken.status ||
		strings.ReplaceAll(taken.body, userEmail, "carol@example.com") != fresh.body {
		t.Errorf("sign-up answers differ:\n%d %s\n---\n%d %s", taken.status, taken.body, fresh.status, fresh.body)
	}
	msgs := smtp.Wait(t, 2, 10*time.Second)
	var verify string
	for _, m := range msgs {
		subject := m.Subject
		switch {
		case strings.Contains(subject, "already have an account"):
		case strings.Contains(subject, "Verify"):
			for _, l := range m.TextLinks() {
				if strings.Contains(l, "/u/verify-email?ticket=") {
					verify = l
				}
			}
		default:
			t.Errorf("unexpected email %q", subject)
		}
	}
	if verify == "" {
		t.Fatal("no verification email")
	}
	// Opening the link changes nothing until the user confirms (mail
	// scanners open links too).
	p := b.get(verify)
	if !strings.Contains(p.body, `id="verify"`) {
		t.Fatalf("verify page: %d %s", p.status, p.body)
	}
	p = b.post(g.issuer+"/u/verify-email", hiddenValues(p.body))
	_, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	var c claims
	_ = idt.Claims(&c)
	if c.Email != "carol@example.com" || c.EmailVerified == nil || !*c.EmailVerified {
		t.Errorf("claims after verification: %+v", c)
	}
	// The link works once.
	p = newBrowser(t, g.issuer).get(verify)
	if p.status != http.StatusGone {
		t.Errorf("used verification link: %d", p.status)
	}

	// An unverified user of an application that requires verification is
	// held on a page until they verify; cancelling ends in access_denied.
	if _, errOut, code := g.cli("", "users", "update", "--email-verified=false", aliceID); code != 0 {
		t.Fatalf("users update: %s", errOut)
	}
	hb := newBrowser(t, g.issuer)
	u, f2 := r.authURL()
	p = hb.login(hb.get(u), userEmail, userPass)
	if !strings.HasPrefix(p.url.Path, "/u/email-verification") {
		t.Fatalf("want the verification page, got %d %s", p.status, p.url)
	}
	hv := formValues(t, p)
	hv.Set("action", "cancel")
	q := callbackParams(t, hb.post(g.issuer+"/u/email-verification", hv), rpCallback)
	if q.Get("error") != "access_denied" || q.Get("state") != f2.state {
		t.Errorf("cancelled verification: %v", q)
	}
}

// hiddenValues returns a page's hidden form fields.
func hiddenValues(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}
