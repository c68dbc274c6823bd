package main

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"gatehouse/internal/config"
	"gatehouse/internal/oauth"
)

// phoneWidth is the narrowest screen the hosted pages are checked at.
const phoneWidth = 390

// startLocalhostGatehouse starts Gatehouse with the issuer
// http://localhost:PORT: WebAuthn needs a host name as the relying party
// ID, which an IP address issuer cannot give.
func startLocalhostGatehouse(t *testing.T, policy string) *gatehouse {
	t.Helper()
	return startGatehouse(t, func(c *config.Config) {
		_, port, err := net.SplitHostPort(c.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Issuer = "http://localhost:" + port
		c.MFA.Policy = policy
	})
}

// screenshots saves the page as name.png at the tab's width and as
// name-390.png at a phone's, where it must not scroll sideways.
func (b *browserTab) screenshots(t *testing.T, dir, name string) {
	t.Helper()
	b.screenshot(t, dir, name)
	b.do(t, "narrow the viewport", chromedp.EmulateViewport(phoneWidth, 844))
	if w := browserRun(t, b, "read the page width", chromedp.Evaluate[int]("document.documentElement.scrollWidth")); w > phoneWidth {
		b.fatalf(t, "at %d px the page %s is %d px wide: it scrolls sideways", phoneWidth, name, w)
	}
	b.screenshot(t, dir, name+"-390")
	b.do(t, "restore the viewport", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))
}

// claimsOnProfile reads the ID token claims the example app's profile
// page shows.
func (b *browserTab) claimsOnProfile(t *testing.T) mfaClaims {
	t.Helper()
	raw := browserRun(t, b, "read the ID token claims", chromedp.Text(chromedp.ID("claims")))
	var c mfaClaims
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		b.fatalf(t, "the ID token claims are not JSON: %v\n%s", err, raw)
	}
	return c
}

// wantSecondFactor checks the profile's ID token: amr holds every method
// of want and "mfa", and acr is the multi-factor class.
func (b *browserTab) wantSecondFactor(t *testing.T, want ...string) mfaClaims {
	t.Helper()
	c := b.claimsOnProfile(t)
	for _, m := range append(want, "mfa") {
		if !slices.Contains(c.AMR, m) {
			b.fatalf(t, "the ID token's amr is %q, want it to hold %q", c.AMR, m)
		}
	}
	if c.ACR != oauth.ACRMultiFactor {
		b.fatalf(t, "the ID token's acr is %q, want %q", c.ACR, oauth.ACRMultiFactor)
	}
	return c
}

// typeCode types a TOTP code into the page's code field.
func (b *browserTab) typeCode(t *testing.T, code string) {
	t.Helper()
	b.do(t, "type the code", chromedp.WaitVisible(chromedp.ID("code")), chromedp.Clear(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), code))
}

// TestBrowserMFATOTP: with mfa.policy always, a user's first login in a
// real Chromium enrolls an authenticator app (the key read from the page,
// the codes computed with the library), sees ten recovery codes, and gets
// an ID token with amr otp and mfa; in a new browser the password is not
// enough, the code is. Every page is also checked at 390 px.
func TestBrowserMFATOTP(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t, "20-login-with-passkey", "21-mfa-enroll-app", "22-mfa-enroll-wrong-code",
		"23-mfa-enroll-security-key", "24-recovery-codes", "25-mfa-challenge", "26-mfa-recovery-code", "27-account-verify")

	g := startLocalhostGatehouse(t, config.MFAAlways)
	appURL, _ := startExampleWebApp(t, g, nil)
	g.user(browserEmail, browserPassword)
	tab := startChromium(t, chrome)

	var secret string
	ok := t.Run("enroll an authenticator app", func(t *testing.T) {
		tab.do(t, "open the app's login", chromedp.Navigate(appURL+"/login"))
		tab.wantLocation(t, g.issuer+"/u/login")
		tab.do(t, "wait for the passkey button", chromedp.WaitVisible(chromedp.ID("passkey")))
		if got := browserRun(t, tab, "read the passkey button", chromedp.Text(chromedp.ID("passkey"))); strings.TrimSpace(got) != "Sign in with a passkey" {
			tab.fatalf(t, "the passkey button says %q", got)
		}
		// Still no script on the login page: the passkey page has it.
		if n := tab.count(t, "script"); n != 0 {
			tab.fatalf(t, "the login page has %d <script> elements, want none", n)
		}
		tab.screenshots(t, shots, "20-login-with-passkey")

		tab.do(t, "fill the login form",
			chromedp.SendKeys(chromedp.ID("email"), browserEmail),
			chromedp.SendKeys(chromedp.ID("password"), browserPassword))
		tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
		tab.wantLocation(t, g.issuer+"/u/mfa/enroll")
		tab.do(t, "wait for the key", chromedp.WaitVisible(chromedp.ID("manual-key")))
		for _, sel := range []string{".qr svg", "label[for=code]", "input#code", "#use-security-key"} {
			if n := tab.count(t, sel); n != 1 {
				tab.fatalf(t, "the enrollment page has %d %s, want 1", n, sel)
			}
		}
		if n := tab.count(t, "script"); n != 0 {
			tab.fatalf(t, "the app enrollment page has %d <script> elements, want none", n)
		}
		secret = strings.ReplaceAll(browserRun(t, tab, "read the key", chromedp.Text(chromedp.ID("manual-key"))), " ", "")
		tab.screenshots(t, shots, "21-mfa-enroll-app")

		tab.typeCode(t, wrongTOTP(totpCode(t, secret, time.Now())))
		tab.click(t, "submit a wrong code", chromedp.CSS("button[type=submit]"))
		tab.do(t, "wait for the error", chromedp.WaitVisible(chromedp.ID("error")))
		if got := browserRun(t, tab, "read the error", chromedp.Text(chromedp.ID("error"))); !strings.Contains(got, "That code did not work") {
			tab.fatalf(t, "the error says %q", got)
		}
		if !browserRun(t, tab, "check the field", chromedp.Evaluate[bool](
			`document.activeElement.id === "code" && document.getElementById("code").getAttribute("aria-invalid") === "true"`)) {
			tab.fatalf(t, "the code field is not focused and marked invalid after a wrong code")
		}
		if got := strings.ReplaceAll(browserRun(t, tab, "read the key again", chromedp.Text(chromedp.ID("manual-key"))), " ", ""); got != secret {
			tab.fatalf(t, "a wrong code changed the key from %s to %s", secret, got)
		}
		tab.screenshots(t, shots, "22-mfa-enroll-wrong-code")

		// The security-key alternative, and back.
		tab.click(t, "use a security key instead", chromedp.CSS("#use-security-key"))
		tab.do(t, "wait for the key form", chromedp.WaitVisible(chromedp.ID("add-key")))
		if n := tab.count(t, `script[src="/u/static/webauthn.js"]`); n != 1 {
			tab.fatalf(t, "the security-key page has %d webauthn.js scripts, want 1", n)
		}
		tab.screenshots(t, shots, "23-mfa-enroll-security-key")
		tab.click(t, "use an app instead", chromedp.CSS("#use-totp"))
		tab.do(t, "wait for the key", chromedp.WaitVisible(chromedp.ID("manual-key")))

		tab.typeCode(t, totpCode(t, secret, time.Now()))
		tab.click(t, "submit the code", chromedp.CSS("button[type=submit]"))
		tab.do(t, "wait for the recovery codes", chromedp.WaitVisible(chromedp.ID("recovery-codes")))
		if n := tab.count(t, "#recovery-codes li"); n != 10 {
			tab.fatalf(t, "the page shows %d recovery codes, want 10", n)
		}
		tab.screenshots(t, shots, "24-recovery-codes")
		tab.click(t, "I saved them", chromedp.CSS("#saved"))
		tab.wantLocation(t, g.issuer+"/u/consent")
		tab.click(t, "accept", chromedp.CSS("#accept"))
		tab.wantLocation(t, appURL+"/profile")
		tab.wantProfile(t, browserEmail)
		if c := tab.wantSecondFactor(t, "pwd", "otp"); len(c.AMR) != 3 {
			tab.fatalf(t, "amr %q, want pwd, otp and mfa", c.AMR)
		}
	})
	if !ok {
		return
	}

	t.Run("a new browser needs the code", func(t *testing.T) {
		ctx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		fresh := newBrowserTab(t, ctx, tab.deadline)
		fresh.do(t, "open the app's login", chromedp.Navigate(appURL+"/login"))
		fresh.wantLocation(t, g.issuer+"/u/login")
		fresh.do(t, "fill the login form",
			chromedp.SendKeys(chromedp.ID("email"), browserEmail),
			chromedp.SendKeys(chromedp.ID("password"), browserPassword))
		fresh.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
		fresh.wantLocation(t, g.issuer+"/u/mfa?")
		challenge := browserRun(t, fresh, "read the location", chromedp.Location())
		fresh.do(t, "wait for the code field", chromedp.WaitVisible(chromedp.ID("code")))
		if got := browserRun(t, fresh, "read the label", chromedp.Text(chromedp.CSS("label[for=code]"))); got != "Code from your authenticator app" {
			fresh.fatalf(t, "the code's label says %q", got)
		}
		fresh.screenshots(t, shots, "25-mfa-challenge")

		fresh.click(t, "use a recovery code", chromedp.CSS("#use-recovery"))
		fresh.do(t, "wait for the code field", chromedp.WaitVisible(chromedp.ID("code")))
		if got := browserRun(t, fresh, "read the label", chromedp.Text(chromedp.CSS("label[for=code]"))); got != "Recovery code" {
			fresh.fatalf(t, "the recovery code's label says %q", got)
		}
		fresh.screenshots(t, shots, "26-mfa-recovery-code")

		// The account page asks this session for the code too.
		fresh.do(t, "open the account page", chromedp.Navigate(g.issuer+"/u/account/security"))
		fresh.do(t, "wait for the code field", chromedp.WaitVisible(chromedp.ID("code")))
		if n := fresh.count(t, "#totp-list"); n != 0 {
			fresh.fatalf(t, "the account page lists factors to a session that has not passed one")
		}
		fresh.screenshots(t, shots, "27-account-verify")

		fresh.do(t, "back to the login's second factor", chromedp.Navigate(challenge))
		// The enrollment spent this time step's code: the next one.
		fresh.typeCode(t, totpCode(t, secret, time.Now().Add(30*time.Second)))
		fresh.click(t, "submit the code", chromedp.CSS("button[type=submit]"))
		fresh.wantLocation(t, appURL+"/profile")
		fresh.wantProfile(t, browserEmail)
		fresh.wantSecondFactor(t, "pwd", "otp")
	})
}

// wrongTOTP returns a six-digit code that is not c.
func wrongTOTP(c string) string {
	if c == "123456" {
		return "654321"
	}
	return "123456"
}

// addVirtualAuthenticator gives the tab a platform authenticator, as a
// laptop's fingerprint reader: it holds discoverable credentials, verifies
// the user, and answers without a touch.
func addVirtualAuthenticator(t *testing.T, b *browserTab) {
	t.Helper()
	add := func(ctx context.Context, tg *chromedp.Target) (webauthn.AuthenticatorID, error) {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return "", err
		}
		r, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Ctap2version:                webauthn.Ctap2versionCtap21,
				Transport:                   webauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			},
		})
		return r.AuthenticatorID, err
	}
	if id := browserRun(t, b, "add a virtual authenticator", chromedp.Action[webauthn.AuthenticatorID](add)); id == "" {
		b.fatalf(t, "the virtual authenticator has no id")
	}
}

// TestBrowserPasskeys: with mfa.policy optional, a logged-in user adds a
// passkey on the account page through Chromium's virtual authenticator,
// and then uses it as the second factor after the password, and alone
// (passwordless) from the login page.
func TestBrowserPasskeys(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t, "28-account-security", "29-add-passkey", "30-passkey-recovery-codes",
		"31-account-with-passkey", "32-mfa-security-key", "33-passkey-login")

	g := startLocalhostGatehouse(t, config.MFAOptional)
	appURL, _ := startExampleWebApp(t, g, nil)
	g.user(browserEmail, browserPassword)
	tab := startChromium(t, chrome)
	addVirtualAuthenticator(t, tab)

	logout := func(t *testing.T) {
		t.Helper()
		tab.do(t, "log out", chromedp.Navigate(g.issuer+"/v2/logout"))
	}
	passwordLogin := func(t *testing.T) {
		t.Helper()
		tab.do(t, "open the app's login", chromedp.Navigate(appURL+"/login"))
		tab.wantLocation(t, g.issuer+"/u/login")
		tab.do(t, "fill the login form",
			chromedp.SendKeys(chromedp.ID("email"), browserEmail),
			chromedp.SendKeys(chromedp.ID("password"), browserPassword))
		tab.click(t, "submit the login form", chromedp.CSS("button[type=submit]"))
	}

	ok := t.Run("add a passkey", func(t *testing.T) {
		// Not enrolled, so the optional policy asks nothing more.
		passwordLogin(t)
		tab.wantLocation(t, g.issuer+"/u/consent")
		tab.click(t, "accept", chromedp.CSS("#accept"))
		tab.wantLocation(t, appURL+"/profile")
		if c := tab.claimsOnProfile(t); c.ACR != "" || !slices.Equal(c.AMR, []string{"pwd"}) {
			tab.fatalf(t, "a password login has amr %q acr %q", c.AMR, c.ACR)
		}

		tab.do(t, "open the account page", chromedp.Navigate(g.issuer+"/u/account/security"))
		tab.do(t, "wait for the page", chromedp.WaitVisible(chromedp.ID("add-passkey")))
		for _, sel := range []string{"#add-totp", "#add-key", "#add-passkey"} {
			if n := tab.count(t, sel); n != 1 {
				tab.fatalf(t, "the account page has %d %s, want 1", n, sel)
			}
		}
		tab.screenshots(t, shots, "28-account-security")

		tab.click(t, "add a passkey", chromedp.CSS("#add-passkey"))
		tab.do(t, "wait for the passkey form", chromedp.WaitVisible(chromedp.ID("add-key")))
		tab.screenshots(t, shots, "29-add-passkey")
		tab.do(t, "name the passkey", chromedp.SendKeys(chromedp.ID("name"), "Test laptop"))
		tab.click(t, "create the passkey", chromedp.CSS("#add-key"))
		// A first factor comes with recovery codes.
		tab.do(t, "wait for the recovery codes", chromedp.WaitVisible(chromedp.ID("recovery-codes")))
		tab.screenshots(t, shots, "30-passkey-recovery-codes")
		tab.click(t, "I saved them", chromedp.CSS("#saved"))
		tab.do(t, "wait for the passkey list", chromedp.WaitVisible(chromedp.ID("passkey-list")))
		if got := browserRun(t, tab, "read the passkeys", chromedp.Text(chromedp.ID("passkey-list"))); !strings.Contains(got, "Test laptop") {
			tab.fatalf(t, "the passkey list says %q", got)
		}
		tab.screenshots(t, shots, "31-account-with-passkey")
	})
	if !ok {
		return
	}

	ok = t.Run("the passkey as a second factor", func(t *testing.T) {
		logout(t)
		passwordLogin(t)
		tab.wantLocation(t, g.issuer+"/u/mfa")
		// The user has a passkey and no app: the page asks for the key.
		tab.do(t, "wait for the key button", chromedp.WaitVisible(chromedp.ID("use-key")))
		tab.screenshots(t, shots, "32-mfa-security-key")
		tab.click(t, "use the security key", chromedp.CSS("#use-key"))
		tab.wantLocation(t, appURL+"/profile")
		tab.wantProfile(t, browserEmail)
		c := tab.wantSecondFactor(t, "pwd")
		if !slices.Contains(c.AMR, "hwk") && !slices.Contains(c.AMR, "swk") {
			tab.fatalf(t, "amr %q names no key (hwk or swk)", c.AMR)
		}
	})
	if !ok {
		return
	}

	t.Run("passwordless", func(t *testing.T) {
		logout(t)
		tab.do(t, "open the app's login", chromedp.Navigate(appURL+"/login"))
		tab.wantLocation(t, g.issuer+"/u/login")
		tab.click(t, "sign in with a passkey", chromedp.CSS("#passkey"))
		tab.wantLocation(t, g.issuer+"/u/passkey")
		tab.do(t, "wait for the passkey button", chromedp.WaitVisible(chromedp.ID("use-passkey")))
		tab.screenshots(t, shots, "33-passkey-login")
		tab.click(t, "use the passkey", chromedp.CSS("#use-passkey"))
		tab.wantLocation(t, appURL+"/profile")
		tab.wantProfile(t, browserEmail)
		c := tab.wantSecondFactor(t)
		if slices.Contains(c.AMR, "pwd") || len(c.AMR) != 2 {
			tab.fatalf(t, "a passkey login has amr %q, want a key (hwk or swk) and mfa, no password", c.AMR)
		}
	})
}
