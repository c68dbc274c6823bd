package web

import (
	"html/template"
	"net/http"
)

// Second-factor methods a challenge page may ask for.
const (
	MethodTOTP     = "totp"     // a code from an authenticator app
	MethodRecovery = "recovery" // a one-time recovery code
	MethodKey      = "key"      // a security key or passkey (WebAuthn)
)

// WebAuthnForm is what a page's WebAuthn form carries for the script
// (/u/static/webauthn.js): which ceremony to run and its options. Without
// JavaScript the form cannot be used; the page says so.
type WebAuthnForm struct {
	// Mode is "create" (register a credential) or "get" (use one).
	Mode string
	// Options is the JSON of the publicKey options, put in a data
	// attribute; html/template escapes it.
	Options string
}

// MFAPage asks for a second factor: during a login (RequestID set) or
// before a change on the account security page.
type MFAPage struct {
	Page
	// Action is the URL the forms post to.
	Action    string
	RequestID string
	CSRF      string
	// Method is what the page asks for now (Method*).
	Method string
	// The other methods the user may switch to, as links; empty when the
	// user lacks it or it is the one shown.
	TOTPURL, RecoveryURL, KeyURL string
	// WebAuthn is the security-key form when Method is MethodKey.
	WebAuthn *WebAuthnForm
	// CancelURL leaves the page (the login page, or the account page).
	CancelURL string
}

// MFAEnrollPage sets up a first second factor during a login: an
// authenticator app (a QR code, the key to type, and a code to confirm
// it), or a security key.
type MFAEnrollPage struct {
	Page
	Action    string
	RequestID string
	CSRF      string
	Method    string // MethodTOTP or MethodKey
	// TOTP enrollment.
	QRCode    template.HTML // an inline SVG, made server-side
	ManualKey string        // the secret in groups of four
	// KeyURL and TOTPURL switch between the two; empty when not offered.
	KeyURL, TOTPURL string
	WebAuthn        *WebAuthnForm
	// Passkey says the security-key form registers a passkey.
	Passkey bool
	// CancelURL leaves the page; empty during a login.
	CancelURL string
}

// RecoveryCodesPage shows new recovery codes, once.
type RecoveryCodesPage struct {
	Page
	Codes []string
	// ContinueAction and RequestID: during a login the continue button
	// goes back to the flow with the request; on the account page,
	// ContinueAction is the account page and RequestID is empty.
	ContinueAction string
	RequestID      string
}

// PasskeyPage signs in with a passkey, with no password.
type PasskeyPage struct {
	Page
	RequestID string
	CSRF      string
	WebAuthn  *WebAuthnForm
	LoginURL  string // back to the password form
}

// AccountPage is where a logged-in user manages their second factors and
// passkeys.
type AccountPage struct {
	Page
	CSRF      string
	UserEmail string
	// SecondFactors offers the authenticator app and security keys (the
	// server's policy lets users enroll, or the user has factors).
	SecondFactors bool
	// WebAuthn says security keys and passkeys can be used at all.
	WebAuthn bool
	// TOTP is the user's authenticator app, nil when none is set up.
	TOTP *AccountFactor
	Keys []AccountFactor // security keys used as second factors
	// Passkeys log in without a password.
	Passkeys []AccountFactor
	// RecoveryCodesLeft is how many unused recovery codes the user has;
	// HasRecoveryCodes says whether they have a set at all.
	RecoveryCodesLeft int
	HasRecoveryCodes  bool
	// Notice is a confirmation of the last change, shown as a status.
	Notice string
}

// AccountFactor is one row of the account page.
type AccountFactor struct {
	ID       string
	Name     string
	Added    string // a date
	LastUsed string // a date, or "never"
}

// MFA renders a second-factor challenge.
func (r *Renderer) MFA(w http.ResponseWriter, status int, p MFAPage) {
	p.Title = "Verify it's you"
	r.render(w, status, "mfa", p)
}

// MFAEnroll renders the second-factor enrollment page.
func (r *Renderer) MFAEnroll(w http.ResponseWriter, status int, p MFAEnrollPage) {
	switch {
	case p.Method == MethodKey && p.Passkey:
		p.Title = "Add a passkey"
	case p.Method == MethodKey:
		p.Title = "Add a security key"
	default:
		p.Title = "Set up an authenticator app"
	}
	r.render(w, status, "mfa_enroll", p)
}

// RecoveryCodes renders new recovery codes.
func (r *Renderer) RecoveryCodes(w http.ResponseWriter, status int, p RecoveryCodesPage) {
	p.Title = "Save your recovery codes"
	r.render(w, status, "recovery_codes", p)
}

// Passkey renders the passkey login page.
func (r *Renderer) Passkey(w http.ResponseWriter, status int, p PasskeyPage) {
	p.Title = "Sign in with a passkey"
	r.render(w, status, "passkey", p)
}

// Account renders the account security page.
func (r *Renderer) Account(w http.ResponseWriter, status int, p AccountPage) {
	p.Title = "Account security"
	r.render(w, status, "account", p)
}
