package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"unicode/utf8"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static returns the files served under /u/static/.
func Static() fs.FS {
	sub, _ := fs.Sub(staticFS, "static")
	return sub
}

// Renderer renders the hosted pages. Templates are parsed once.
type Renderer struct {
	pages map[string]*template.Template
	log   *slog.Logger
}

// NewRenderer parses every page template.
func NewRenderer(log *slog.Logger) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, log: log}
	for _, name := range []string{"login", "signup", "consent", "error", "logout", "loggedout", "organization",
		"mfa", "mfa_enroll", "recovery_codes", "passkey", "account", "emailverification",
		"message", "forgotpassword", "resetpassword", "verifyemail"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// funcs are the helpers every template may call.
var funcs = template.FuncMap{
	// field marks the input named name as the one the page's error is
	// about: aria-invalid, described by the alert, and focused, so a
	// screen reader and the keyboard land on what to fix.
	"field": func(errorField, name string) template.HTMLAttr {
		if errorField != name {
			return ""
		}
		return `aria-invalid="true" aria-describedby="error" autofocus`
	},
}

// Page is what every page shows around its form.
type Page struct {
	Title   string
	AppName string
	Error   string // a message for the user, shown in an alert
	// ErrorField names the form field the error is about (its name
	// attribute); empty for errors about the whole form.
	ErrorField string
	Org        *OrgBranding // the organization the login is for, if any
}

// OrgBranding is an organization's look on the hosted pages.
type OrgBranding struct {
	ID          string
	DisplayName string
	LogoURL     string // https URL or empty
	HasColor    bool   // a theme stylesheet sets the primary color
}

// OrganizationPage asks for the organization's name (before login) or lets
// the user pick one of theirs (after login).
type OrganizationPage struct {
	Page
	RequestID string
	CSRF      string
	Name      string      // what the user typed
	Choices   []OrgChoice // post-login: the user's organizations
}

// OrgChoice is one organization the user may pick.
type OrgChoice struct {
	ID          string
	DisplayName string
}

// Organization renders the organization prompt.
func (r *Renderer) Organization(w http.ResponseWriter, status int, p OrganizationPage) {
	p.Title = "Your organization"
	if p.Choices != nil {
		p.Title = "Choose an organization"
	}
	r.render(w, status, "organization", p)
}

// LoginPage is the username/password form.
type LoginPage struct {
	Page
	RequestID string
	CSRF      string
	Email     string
	SignUpURL string // empty when sign-up is not offered (an organization that allows none)
	ForgotURL string // empty when the server sends no email
	// Password shows the username/password form (the database connection
	// is enabled for the application).
	Password bool
	// Providers are the social and enterprise connections, one button each.
	Providers []ProviderButton
	// PasskeyURL is the passkey login page; empty when passkeys cannot
	// be used (an issuer without a host name, no password form).
	PasskeyURL string
}

// ProviderButton links to a login through an upstream connection.
type ProviderButton struct {
	Name  string // connection name
	Label string // e.g. "Continue with GitHub"
	URL   string
}

// SignUpPage is the sign-up form.
type SignUpPage struct {
	Page
	RequestID string
	CSRF      string
	Email     string
	Name      string
	LoginURL  string
	MinLength int
	// EmailLocked shows the email read-only (an invitation is for it).
	EmailLocked bool
}

// ConsentPage asks the user to allow an application access.
type ConsentPage struct {
	Page
	RequestID string
	CSRF      string
	UserEmail string
	API       string // the name of the API the access is for, if any
	Scopes    []ScopeDescription
}

// ScopeDescription is one line of the consent page.
type ScopeDescription struct {
	Name        string
	Description string
}

// ErrorPage explains what went wrong; it never links to a client URL.
type ErrorPage struct {
	Page
	Code string // machine-readable error code, e.g. invalid_request
}

// LogoutConfirmPage asks the user to confirm a logout that came without an
// id_token_hint.
type LogoutConfirmPage struct {
	Page
	PostLogoutRedirectURI string
	State                 string
	ClientID              string
}

// LogoutConfirm renders the logout confirmation page.
func (r *Renderer) LogoutConfirm(w http.ResponseWriter, status int, p LogoutConfirmPage) {
	p.Title = "Log out"
	r.render(w, status, "logout", p)
}

// LoggedOut renders the page shown after a logout with nowhere to go back to.
func (r *Renderer) LoggedOut(w http.ResponseWriter, status int) {
	r.render(w, status, "loggedout", Page{Title: "You are logged out"})
}

// Login renders the login page.
func (r *Renderer) Login(w http.ResponseWriter, status int, p LoginPage) {
	p.Title = "Log in"
	r.render(w, status, "login", p)
}

// SignUp renders the sign-up page.
func (r *Renderer) SignUp(w http.ResponseWriter, status int, p SignUpPage) {
	p.Title = "Sign up"
	r.render(w, status, "signup", p)
}

// Consent renders the consent page.
func (r *Renderer) Consent(w http.ResponseWriter, status int, p ConsentPage) {
	p.Title = "Allow access?"
	r.render(w, status, "consent", p)
}

// EmailVerificationPage holds a login back until the user's email address
// is verified.
type EmailVerificationPage struct {
	Page
	RequestID   string
	CSRF        string
	MaskedEmail string // e.g. a•••@example.com
	Notice      string // a confirmation, shown in a status region
	CanResend   bool   // the server sends email
}

// MessagePage tells the user something and offers nothing to do.
type MessagePage struct {
	Page
	Heading string
	Message string
	Status  bool // a confirmation, announced as a status
}

// Message renders a message page.
func (r *Renderer) Message(w http.ResponseWriter, status int, p MessagePage) {
	p.Title = p.Heading
	r.render(w, status, "message", p)
}

// ForgotPasswordPage asks for the address to send a reset link to.
type ForgotPasswordPage struct {
	Page
	RequestID string // the login to come back to, if any
	CSRF      string
	Email     string
	LoginURL  string // back to the login page, if any
}

// ForgotPassword renders the forgot-password page.
func (r *Renderer) ForgotPassword(w http.ResponseWriter, status int, p ForgotPasswordPage) {
	p.Title = "Reset your password"
	r.render(w, status, "forgotpassword", p)
}

// ResetPasswordPage asks for the new password of a reset link.
type ResetPasswordPage struct {
	Page
	CSRF      string
	Ticket    string // the link's token, sent back with the form
	Email     string // the account's address, for password managers
	MinLength int
}

// ResetPassword renders the new-password page.
func (r *Renderer) ResetPassword(w http.ResponseWriter, status int, p ResetPasswordPage) {
	p.Title = "Choose a new password"
	r.render(w, status, "resetpassword", p)
}

// VerifyEmailPage asks the user to confirm their address with a button:
// the link alone does nothing, as mail scanners open links too.
type VerifyEmailPage struct {
	Page
	CSRF        string
	Ticket      string
	MaskedEmail string
}

// VerifyEmail renders the page a verification link opens.
func (r *Renderer) VerifyEmail(w http.ResponseWriter, status int, p VerifyEmailPage) {
	p.Title = "Verify your email"
	r.render(w, status, "verifyemail", p)
}

// EmailVerification renders the page that asks the user to verify their email.
func (r *Renderer) EmailVerification(w http.ResponseWriter, status int, p EmailVerificationPage) {
	p.Title = "Verify your email"
	r.render(w, status, "emailverification", p)
}

// Error renders the error page.
func (r *Renderer) Error(w http.ResponseWriter, status int, p ErrorPage) {
	if p.Title == "" {
		p.Title = "Something went wrong"
	}
	r.render(w, status, "error", p)
}

func (r *Renderer) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := r.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		r.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	page := buf.Bytes()
	// Pages echo request parameters (a logout's client_id and state, a
	// login's email), which may be any bytes; the page is declared UTF-8,
	// so invalid sequences become U+FFFD instead of reaching the browser.
	if !utf8.Valid(page) {
		page = bytes.ToValidUTF8(page, []byte("\uFFFD"))
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(page)
}
