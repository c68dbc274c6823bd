package main

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"gatehouse/internal/config"
	"gatehouse/internal/oauth"
)

// mfaClaims are the ID token claims of the login's methods.
type mfaClaims struct {
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
	AuthTime int64    `json:"auth_time"`
}

func idClaims(t *testing.T, idt *oidc.IDToken) mfaClaims {
	t.Helper()
	var c mfaClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// wantMFA checks that the ID token says a second factor was passed with
// the method.
func wantMFA(t *testing.T, what string, idt *oidc.IDToken, method string) {
	t.Helper()
	c := idClaims(t, idt)
	if !slices.Contains(c.AMR, method) || !slices.Contains(c.AMR, "mfa") || c.ACR != oauth.ACRMultiFactor {
		t.Errorf("%s: amr %q acr %q; want %s and mfa in amr, acr %s", what, c.AMR, c.ACR, method, oauth.ACRMultiFactor)
	}
}

var manualKeyRE = regexp.MustCompile(`id="manual-key"[^>]*>([A-Z2-7 ]+)</p>`)

// enrollTOTP fills the enrollment page p with the app's code, checks the
// recovery codes shown, and follows "I saved them" back into the flow. It
// returns the secret and the page the flow goes to.
func (b *browser) enrollTOTP(p page) (string, page) {
	b.t.Helper()
	if p.url.Path != "/u/mfa/enroll" || p.status != http.StatusOK {
		b.t.Fatalf("expected the enrollment page, got %s (%d):\n%s", p.url, p.status, p.body)
	}
	m := manualKeyRE.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, "<svg") {
		b.t.Fatalf("the enrollment page has no QR code or key:\n%s", p.body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	v := formValues(b.t, p)
	v.Set("code", totpCode(b.t, secret, time.Now()))
	codes := b.post(origin(p.url)+"/u/mfa/enroll", v)
	if codes.status != http.StatusOK || strings.Count(codes.body, "<code>") != 10 {
		b.t.Fatalf("expected ten recovery codes, got %d:\n%s", codes.status, codes.body)
	}
	req := regexp.MustCompile(`name="req" value="([^"]+)"`).FindStringSubmatch(codes.body)
	if req == nil || !strings.Contains(codes.body, `action="/authorize/resume"`) {
		b.t.Fatalf("the recovery codes page does not go back to the flow:\n%s", codes.body)
	}
	return secret, b.get(origin(p.url) + "/authorize/resume?req=" + url.QueryEscape(req[1]))
}

// passTOTP fills the challenge page p with the code at.
func (b *browser) passTOTP(p page, secret string, at time.Time) page {
	b.t.Helper()
	if p.url.Path != "/u/mfa" || p.status != http.StatusOK {
		b.t.Fatalf("expected the second-factor page, got %s (%d):\n%s", p.url, p.status, p.body)
	}
	v := formValues(b.t, p)
	v.Set("code", totpCode(b.t, secret, at))
	return b.post(origin(p.url)+"/u/mfa", v)
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEndToEndMFAAlways: with mfa.policy always, a user's first login
// enrolls an authenticator app and the ID token says so (amr otp and mfa,
// acr multi-factor), and so does a refreshed one; a new browser needs the
// code after the password; prompt=none without the code gets
// interaction_required; after `users mfa reset` the next login enrolls
// again.
func TestEndToEndMFAAlways(t *testing.T) {
	g := startGatehouse(t, func(c *config.Config) { c.MFA.Policy = config.MFAAlways })
	id, secret := g.app(rpCallback, "--allow-offline-access")
	userID := g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)

	b := newBrowser(t, g.issuer)
	u, f := r.authURL()
	p := b.login(b.get(u), userEmail, userPass)
	key, p := b.enrollTOTP(p)
	p = b.consent(p, "accept")
	tok, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	wantMFA(t, "first login", idt, "otp")
	if c := idClaims(t, idt); !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("amr %q, want [pwd otp mfa]", c.AMR)
	}

	// A refreshed ID token keeps the login's methods.
	fresh, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	raw, _ := fresh.Extra("id_token").(string)
	refreshed, err := r.verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("verify refreshed id token: %v", err)
	}
	wantMFA(t, "refreshed", refreshed, "otp")

	// SSO in the same browser: the session remembers the factor.
	u, f = r.authURL()
	_, idt = r.exchange(callbackParams(t, b.get(u), rpCallback), f)
	wantMFA(t, "single sign-on", idt, "otp")

	// A new browser: the password is not enough. The code of the next time
	// step, since the enrollment spent this one.
	b2 := newBrowser(t, g.issuer)
	u, f = r.authURL()
	p = b2.login(b2.get(u), userEmail, userPass)
	if p.url.Path != "/u/mfa" {
		t.Fatalf("after the password a new browser went to %s, want /u/mfa:\n%s", p.url, p.body)
	}
	// prompt=none from a browser whose session lacks the factor.
	un, fn := r.authURL(oauth2.SetAuthURLParam("prompt", "none"))
	q := callbackParams(t, b2.get(un), rpCallback)
	if q.Get("error") != oauth.ErrInteractionRequired || q.Get("state") != fn.state || q.Get("code") != "" {
		t.Errorf("prompt=none without the second factor: %v", q)
	}
	p = b2.get(u) // the authorization again, from the same application state
	p = b2.passTOTP(p, key, time.Now().Add(30*time.Second))
	_, idt = r.exchange(callbackParams(t, p, rpCallback), f)
	wantMFA(t, "new browser", idt, "otp")

	// prompt=login: the password again, and the code again.
	u, f = r.authURL(oauth2.SetAuthURLParam("prompt", "login"))
	p = b2.login(b2.get(u), userEmail, userPass)
	if p.url.Path != "/u/mfa" {
		t.Fatalf("prompt=login went to %s after the password, want /u/mfa", p.url)
	}
	// The code of the last step is spent: it is refused.
	again := b2.passTOTP(p, key, time.Now().Add(30*time.Second))
	if again.status != http.StatusUnauthorized || !strings.Contains(again.body, "did not work") {
		t.Errorf("a spent code: %d %s", again.status, again.body)
	}

	// An operator removes the factors: the next login enrolls again.
	out, errOut, code := g.cli("", "users", "mfa", "reset", userID)
	if code != 0 || !strings.Contains(out, "removed 2 factors") {
		t.Fatalf("users mfa reset: exit %d %s %s", code, out, errOut)
	}
	b3 := newBrowser(t, g.issuer)
	u, _ = r.authURL()
	if p := b3.login(b3.get(u), userEmail, userPass); p.url.Path != "/u/mfa/enroll" {
		t.Errorf("after users mfa reset the login went to %s, want /u/mfa/enroll", p.url)
	}
}

// TestEndToEndMFAACRValues: under the default policy (never) an
// application asks for a second factor for one request with acr_values;
// other requests are not asked, and their ID tokens carry no acr.
func TestEndToEndMFAACRValues(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	acr := oauth2.SetAuthURLParam("acr_values", oauth.ACRMultiFactor)

	// Discovery says what an application may ask for.
	if !strings.Contains(newBrowser(t, g.issuer).get(g.issuer+"/.well-known/openid-configuration").body, `"acr_values_supported":["`+oauth.ACRMultiFactor+`"]`) {
		t.Error("discovery lacks acr_values_supported")
	}

	plain := newBrowser(t, g.issuer)
	u, f := r.authURL()
	_, idt := r.exchange(callbackParams(t, plain.login(plain.get(u), userEmail, userPass), rpCallback), f)
	if c := idClaims(t, idt); c.ACR != "" || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Errorf("a login without acr_values: amr %q acr %q", c.AMR, c.ACR)
	}
	// The same session, asked for more with acr_values: the user (who has
	// no factor) enrolls one, without logging in again.
	u, f = r.authURL(acr)
	key, p := plain.enrollTOTP(plain.get(u))
	_, idt = r.exchange(callbackParams(t, p, rpCallback), f)
	wantMFA(t, "acr_values", idt, "otp")

	// Another browser without acr_values: the enrolled user is not asked
	// under policy never.
	other := newBrowser(t, g.issuer)
	u, f = r.authURL()
	_, idt = r.exchange(callbackParams(t, other.login(other.get(u), userEmail, userPass), rpCallback), f)
	if c := idClaims(t, idt); c.ACR != "" || slices.Contains(c.AMR, "mfa") {
		t.Errorf("a later request without acr_values: amr %q acr %q", c.AMR, c.ACR)
	}
	// And with acr_values: the code, on top of the existing session.
	u, f = r.authURL(acr)
	p = other.passTOTP(other.get(u), key, time.Now().Add(30*time.Second))
	_, idt = r.exchange(callbackParams(t, p, rpCallback), f)
	wantMFA(t, "acr_values on an existing session", idt, "otp")
}
