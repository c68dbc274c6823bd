package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/email/emailtest"
)

const resetPassword = "a brand new passphrase"

// mailLinkTo waits for the n-th email and returns its link with the path.
func mailLinkTo(t *testing.T, smtp *emailtest.Server, n int, path string) string {
	t.Helper()
	msgs := smtp.Wait(t, n, 15*time.Second)
	for _, l := range msgs[n-1].TextLinks() {
		if strings.Contains(l, path) {
			return l
		}
	}
	t.Fatalf("email %d (%q) has no %s link:\n%s", n, msgs[n-1].Subject, path, msgs[n-1].Text)
	return ""
}

// TestBrowserPasswordResetAndVerification walks the account pages in a
// real Chromium through the example app, with a real SMTP server: forgot
// password → email → new password → back in the app; then sign-up →
// verification email → confirm → back in the app. Every page is also
// checked at 390 px.
func TestBrowserPasswordResetAndVerification(t *testing.T) {
	chrome := requireChromium(t)
	shots := browserArtifactsDir(t, "40-forgot-password", "41-reset-link-sent", "42-reset-password",
		"43-reset-weak-password", "44-signup-check-inbox", "45-verify-email")
	g, smtp := startMailGatehouse(t)
	appURL, _ := startExampleWebApp(t, g, nil)
	g.user(browserEmail, browserPassword)
	tab := startChromium(t, chrome)

	ok := t.Run("forgot password", func(t *testing.T) {
		tab.do(t, "open the app's login", chromedp.Navigate(appURL+"/login"))
		tab.wantLocation(t, g.issuer+"/u/login")
		tab.click(t, "click Forgot password?", chromedp.CSS("#forgot"))
		tab.wantLocation(t, g.issuer+"/u/forgot-password")
		tab.do(t, "wait for the form", chromedp.WaitVisible(chromedp.ID("email")))
		if n := tab.count(t, "label[for=email]"); n != 1 {
			tab.fatalf(t, "the forgot-password page has %d email labels", n)
		}
		tab.screenshots(t, shots, "40-forgot-password")
		tab.do(t, "enter the address", chromedp.SendKeys(chromedp.ID("email"), browserEmail))
		tab.click(t, "send the link", chromedp.CSS("button[type=submit]"))
		tab.do(t, "wait for the answer", chromedp.WaitVisible(chromedp.ID("message")))
		if got := browserRun(t, tab, "read the answer", chromedp.Text(chromedp.ID("message"))); !strings.Contains(got, "If an account exists") {
			tab.fatalf(t, "the answer says %q", got)
		}
		tab.screenshots(t, shots, "41-reset-link-sent")

		link := mailLinkTo(t, smtp, 1, "/u/reset-password?ticket=")
		tab.do(t, "open the reset link", chromedp.Navigate(link))
		tab.do(t, "wait for the form", chromedp.WaitVisible(chromedp.ID("password")))
		tab.screenshots(t, shots, "42-reset-password")
		tab.do(t, "type a common password", chromedp.SendKeys(chromedp.ID("password"), "password1"))
		tab.click(t, "submit it", chromedp.CSS("button[type=submit]"))
		tab.do(t, "wait for the error", chromedp.WaitVisible(chromedp.ID("error")))
		if inv := browserRun(t, tab, "read aria-invalid", chromedp.Evaluate[string](`document.getElementById("password").getAttribute("aria-invalid") || ""`)); inv != "true" {
			tab.fatalf(t, "the password field is not marked invalid (%q)", inv)
		}
		tab.screenshots(t, shots, "43-reset-weak-password")
		tab.do(t, "type a good password", chromedp.SendKeys(chromedp.ID("password"), resetPassword))
		tab.click(t, "submit it", chromedp.CSS("button[type=submit]"))
		// Back in the login the link came from, logged in: the consent
		// page of the (third-party) example app, then the app.
		tab.wantLocation(t, g.issuer+"/u/consent")
		tab.click(t, "accept", chromedp.CSS("#accept"))
		tab.wantLocation(t, appURL+"/profile")
		tab.wantProfile(t, browserEmail)
	})
	if !ok {
		return
	}

	t.Run("sign up and verify", func(t *testing.T) {
		freshCtx, cancel := chromedp.NewContext(tab.ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		fresh := newBrowserTab(t, freshCtx, tab.deadline)
		const newEmail = "new.person@example.com"
		fresh.do(t, "open the app's login", chromedp.Navigate(appURL+"/login"))
		fresh.wantLocation(t, g.issuer+"/u/login")
		fresh.click(t, "click Sign up", chromedp.CSS(`a[href^="/u/signup"]`))
		fresh.wantLocation(t, g.issuer+"/u/signup")
		fresh.do(t, "fill the form",
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), newEmail),
			chromedp.SendKeys(chromedp.ID("password"), "a long enough password"))
		fresh.click(t, "sign up", chromedp.CSS("button[type=submit]"))
		fresh.do(t, "wait for the answer", chromedp.WaitVisible(chromedp.ID("message")))
		fresh.screenshots(t, shots, "44-signup-check-inbox")

		// The reset sent two emails (link, notice): this is the third.
		link := mailLinkTo(t, smtp, 3, "/u/verify-email?ticket=")
		fresh.do(t, "open the verification link", chromedp.Navigate(link))
		fresh.do(t, "wait for the button", chromedp.WaitVisible(chromedp.ID("verify")))
		fresh.screenshots(t, shots, "45-verify-email")
		fresh.click(t, "verify", chromedp.CSS("#verify"))
		fresh.wantLocation(t, g.issuer+"/u/consent")
		fresh.click(t, "accept", chromedp.CSS("#accept"))
		fresh.wantLocation(t, appURL+"/profile")
		fresh.wantProfile(t, newEmail)
	})
}
