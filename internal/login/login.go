package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/connector"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/email"
	"gatehouse/internal/mfa"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/web"
)

// Paths this package serves, and the protocol path it hands back to
// (defined once, in internal/authflow).
const (
	loginPath        = authflow.LoginPath
	signupPath       = authflow.SignupPath
	consentPath      = authflow.ConsentPath
	organizationPath = authflow.OrganizationPath
	resumePath       = authflow.ResumePath
	CallbackPath     = authflow.CallbackPath
)

// Config wires the hosted pages.
type Config struct {
	Issuer string
	Store  store.Store
	// OpenConnector builds upstream connectors; nil disables them.
	OpenConnector OpenConnector
	Sessions      *session.Manager
	Pages         *web.Renderer
	Database      *database.Connector
	Log           *slog.Logger
	// Binder binds pending requests and CSRF tokens to the browser.
	Binder   authflow.Binder
	Throttle Throttle
	// MinPasswordLength is shown on the sign-up page.
	MinPasswordLength int
	// Mail sends the account emails (verification, password reset); nil
	// when the server has no email settings, which turns those pages off.
	Mail email.Sender
	// ResetKeepsSessions keeps the user's other sessions and refresh
	// tokens after a password reset (by default a reset ends them).
	ResetKeepsSessions bool
	// Secure sets the Secure attribute on cookies (https issuer).
	Secure bool
	Now    func() time.Time

	// MFA checks second factors and passkeys; nil turns their pages off.
	MFA *mfa.Service
	// MFAPolicy is the server's second-factor policy (mfa.Policy*): the
	// account page offers second factors unless it is never.
	MFAPolicy string

	// Audit records logins, sign-ups, password and verification events
	// and lockouts; nil records nothing.
	Audit audit.Recorder
}

// Pages serves the hosted pages.
type Pages struct {
	cfg        Config
	cop        *http.CrossOriginProtection
	file       http.Handler
	connectors connectorCache
	limits     *Limiter // attempts of every throttled action (throttle.go)
	mail       *mailer  // the account emails (mail.go)
}

// New returns the hosted pages.
func New(cfg Config) (*Pages, error) {
	if cfg.Store == nil || cfg.Sessions == nil || cfg.Pages == nil || cfg.Database == nil {
		return nil, errors.New("login: store, sessions, pages and database connector are required")
	}
	if len(cfg.Binder.CSRFKey) == 0 {
		return nil, errors.New("login: a browser binder is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OpenConnector == nil {
		cfg.OpenConnector = func(_ context.Context, c store.Connection) (connector.CallbackConnector, error) {
			return nil, fmt.Errorf("connection %s: upstream connections are not configured", c.Name)
		}
	}
	if cfg.Throttle.PerAccount <= 0 || cfg.Throttle.PerIP <= 0 || cfg.Throttle.Window <= 0 {
		return nil, errors.New("login: throttle limits must be positive")
	}
	limits, err := newPagesLimiter(cfg)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &Pages{
		cfg:    cfg,
		cop:    http.NewCrossOriginProtection(),
		file:   http.StripPrefix("/u/static/", http.FileServerFS(web.Static())),
		limits: limits,
		mail:   newMailer(cfg.Mail, cfg.Log, cfg.Now),
	}, nil
}

// Mount registers the hosted pages on mux.
func (p *Pages) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+loginPath, p.loginForm)
	mux.HandleFunc("POST "+loginPath, p.protect(p.loginSubmit))
	mux.HandleFunc("GET "+signupPath, p.signupForm)
	mux.HandleFunc("POST "+signupPath, p.protect(p.signupSubmit))
	mux.HandleFunc("GET "+consentPath, p.consentForm)
	mux.HandleFunc("POST "+consentPath, p.protect(p.consentSubmit))
	mux.HandleFunc("GET /u/login/{connection}", p.upstreamStart)
	mux.HandleFunc("GET "+organizationPath, p.organizationForm)
	mux.HandleFunc("POST "+organizationPath, p.protect(p.organizationSubmit))
	mux.HandleFunc("GET /u/org/{id}/theme.css", p.orgTheme)
	mux.HandleFunc("GET "+CallbackPath, p.upstreamCallback)
	mux.HandleFunc("GET "+authflow.EmailVerificationPath, p.emailVerificationForm)
	mux.HandleFunc("POST "+authflow.EmailVerificationPath, p.protect(p.emailVerificationSubmit))
	mux.HandleFunc("GET "+authflow.VerifyEmailPath, p.verifyEmailForm)
	mux.HandleFunc("POST "+authflow.VerifyEmailPath, p.protect(p.verifyEmailSubmit))
	mux.HandleFunc("GET "+authflow.ForgotPasswordPath, p.forgotForm)
	mux.HandleFunc("POST "+authflow.ForgotPasswordPath, p.protect(p.forgotSubmit))
	mux.HandleFunc("GET "+authflow.ResetPasswordPath, p.resetForm)
	mux.HandleFunc("POST "+authflow.ResetPasswordPath, p.protect(p.resetSubmit))
	mux.HandleFunc("POST "+dbSignupPath, p.dbSignup)
	mux.HandleFunc("POST "+dbChangePasswordPath, p.dbChangePassword)
	mux.Handle("GET /u/static/", p.file)
	if p.cfg.MFA != nil {
		p.mountMFA(mux)
	}
}

// protect refuses cross-origin form posts (Sec-Fetch-Site / Origin) and
// posts whose CSRF token is not this browser's (an HMAC of its binding
// cookie under the server key, so no attacker-chosen pair passes).
func (p *Pages) protect(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := p.cop.Check(r); err != nil {
			p.errorPage(w, http.StatusForbidden, "The form was sent from another site and was refused.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			if tooLarge(err) {
				p.errorPage(w, http.StatusRequestEntityTooLarge, tooLargeMessage)
				return
			}
			p.errorPage(w, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if !p.cfg.Binder.CheckCSRF(r, r.PostForm.Get("csrf")) {
			p.errorPage(w, http.StatusForbidden, "The form expired or was not sent from this site. Go back, reload the page and try again.")
			return
		}
		next(w, r)
	}
}

// csrfToken returns the browser's CSRF token for a form.
func (p *Pages) csrfToken(w http.ResponseWriter, r *http.Request) string {
	return p.cfg.Binder.CSRFToken(w, r)
}

// request loads the pending authorization request and its client, or
// writes an error page and returns ok=false. Only the browser that started
// the request may use it: a login or consent page opened from someone
// else's link would let its owner log in or consent on their behalf.
func (p *Pages) request(w http.ResponseWriter, r *http.Request, id string) (store.AuthRequest, store.Client, bool) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	req, err := p.cfg.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) || id == "" {
		p.errorPage(w, http.StatusBadRequest, "This login link has expired or was already used. Go back to the application and log in again.")
		return req, store.Client{}, false
	}
	if err != nil {
		p.internalError(w, "get auth request", err)
		return req, store.Client{}, false
	}
	if !p.cfg.Binder.Owns(r, req) {
		p.cfg.Log.Info("authorization request used by another browser", "client_id", req.ClientID)
		p.errorPage(w, http.StatusForbidden, "This login was started in another browser. Go back to the application and log in again.")
		return req, store.Client{}, false
	}
	client, err := p.cfg.Store.GetClient(ctx, req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, "The application you came from no longer exists.")
		return req, client, false
	}
	if err != nil {
		p.internalError(w, "get client", err)
		return req, client, false
	}
	return req, client, true
}

func (p *Pages) loginForm(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("req")
	req, client, ok := p.request(w, r, id)
	if !ok {
		return
	}
	if _, invited := p.invitation(r.Context(), req); invited && r.URL.Query().Get("mode") != "login" {
		// An invitee most likely has no account yet: start on sign-up when
		// passwords are an option.
		database, _, err := p.enabledConnections(r.Context(), client.ID, req.Organization)
		if err != nil {
			p.internalError(w, "login page", err)
			return
		}
		if database && (req.Connection == "" || req.Connection == store.DefaultDatabaseConnection) {
			p.cfg.Pages.SignUp(w, http.StatusOK, p.signupPage(w, r, req, client))
			return
		}
	}
	page, ok := p.loginPage(w, r, req, client)
	if !ok {
		return
	}
	page.Email = req.LoginHint
	p.cfg.Pages.Login(w, http.StatusOK, page)
}

// loginPage builds the login page for a request: the password form when
// the database connection is enabled for the application, a button per
// enabled upstream connection; only the forced one with connection=.
func (p *Pages) loginPage(w http.ResponseWriter, r *http.Request, req store.AuthRequest, client store.Client) (web.LoginPage, bool) {
	database, upstream, err := p.enabledConnections(r.Context(), client.ID, req.Organization)
	if err != nil {
		p.internalError(w, "login page", err)
		return web.LoginPage{}, false
	}
	page := web.LoginPage{
		Page:      p.page(r.Context(), req, client),
		RequestID: req.ID,
		CSRF:      p.csrfToken(w, r),
		Password:  database && (req.Connection == "" || req.Connection == store.DefaultDatabaseConnection),
	}
	allowed, err := p.signupAllowed(r.Context(), req)
	if err != nil {
		p.internalError(w, "login page", err)
		return web.LoginPage{}, false
	}
	if allowed {
		page.SignUpURL = authflow.For(signupPath, req.ID)
	}
	if p.mail.enabled() && page.Password {
		page.ForgotURL = authflow.For(authflow.ForgotPasswordPath, req.ID)
	}
	for _, c := range upstream {
		if req.Connection == "" || req.Connection == c.Name {
			page.Providers = append(page.Providers, web.ProviderButton{Name: c.Name, Label: providerLabel(c),
				URL: "/u/login/" + url.PathEscape(c.Name) + "?req=" + url.QueryEscape(req.ID)})
		}
	}
	if page.Password && p.passkeysAvailable() {
		page.PasskeyURL = authflow.For(authflow.PasskeyPath, req.ID)
	}
	if !page.Password && len(page.Providers) == 0 {
		p.errorPage(w, http.StatusBadRequest, "No login method is enabled for this application. Ask its administrator to enable a connection.")
		return web.LoginPage{}, false
	}
	return page, true
}

// passwordAllowed reports whether the request may use the password form;
// a form posted although the page did not offer it is refused.
func (p *Pages) passwordAllowed(w http.ResponseWriter, r *http.Request, req store.AuthRequest, client store.Client) bool {
	database, _, err := p.enabledConnections(r.Context(), client.ID, req.Organization)
	if err != nil {
		p.internalError(w, "login: connections", err)
		return false
	}
	if !database || (req.Connection != "" && req.Connection != store.DefaultDatabaseConnection) {
		p.errorPage(w, http.StatusBadRequest, "Username and password login is not enabled for this application.")
		return false
	}
	return true
}

func (p *Pages) loginSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, client, ok := p.request(w, r, r.PostForm.Get("req"))
	if !ok {
		return
	}
	if !p.passwordAllowed(w, r, req, client) {
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	page, ok := p.loginPage(w, r, req, client)
	if !ok {
		return
	}
	page.Email = email // kept on every failure; the password never is
	if email == "" || password == "" {
		page.Error, page.ErrorField = "Enter your email address and password.", "email"
		if email != "" {
			page.ErrorField = "password"
		}
		p.cfg.Pages.Login(w, http.StatusBadRequest, page)
		return
	}
	// The attempt is reserved before the password is hashed, so that
	// parallel guesses cannot all pass the limit.
	attempt, err := p.reserve(w, r, ActionLogin, accountName(email))
	if err != nil {
		p.internalError(w, "login: throttle", err)
		return
	}
	if !attempt.OK {
		page.Error = attempt.Refusal("Too many failed login attempts.")
		p.cfg.Pages.Login(w, http.StatusTooManyRequests, page)
		return
	}
	user, err := p.cfg.Database.Login(ctx, email, password)
	if errors.Is(err, connector.ErrInvalidCredentials) || errors.Is(err, connector.ErrBlocked) {
		p.record(r, failedPasswordLogin(err, email, req, client))
	}
	switch {
	case errors.Is(err, connector.ErrInvalidCredentials):
		// The same words for an unknown email and a wrong password.
		page.Error, page.ErrorField = "Wrong email or password.", "password"
		p.cfg.Pages.Login(w, http.StatusUnauthorized, page)
		return
	case errors.Is(err, connector.ErrBlocked):
		page.Error = "This account is blocked. Contact the application's administrator."
		p.cfg.Pages.Login(w, http.StatusForbidden, page)
		return
	case err != nil:
		p.internalError(w, "login", err)
		return
	}
	p.passed(w, r, attempt, accountName(email))
	p.finishLogin(w, r, req, user, "pwd")
}

// finishLogin starts the SSO session and hands the browser back to
// /authorize. methods are the login's amr values (or an upstream
// connection's strategy).
func (p *Pages) finishLogin(w http.ResponseWriter, r *http.Request, req store.AuthRequest, user store.User, methods ...string) {
	if _, err := p.cfg.Sessions.Start(r.Context(), w, r, user.ID, methods); err != nil {
		p.internalError(w, "start session", err)
		return
	}
	// A successful login withdraws the reset links the user may have
	// asked for: whoever finds one later in the mailbox cannot use it.
	if err := p.cfg.Store.DeleteUserTickets(r.Context(), user.ID, store.TicketPasswordReset); err != nil {
		p.cfg.Log.Warn("withdraw reset links", "err", err)
	}
	p.recordAndResume(w, r, req, user, methods)
}

// recordAndResume notes on the request who logged in and how, and hands
// the browser back to /authorize.
func (p *Pages) recordAndResume(w http.ResponseWriter, r *http.Request, req store.AuthRequest, user store.User, methods []string) {
	ctx := r.Context()
	if err := p.cfg.Store.RecordAuthentication(ctx, req.ID, user.ID, methods); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			p.errorPage(w, http.StatusBadRequest, "This login link has expired or was already used. Go back to the application and log in again.")
			return
		}
		p.internalError(w, "record authentication", err)
		return
	}
	if err := p.cfg.Store.RecordLogin(ctx, user.ID, p.cfg.Now().UTC()); err != nil {
		p.cfg.Log.Warn("record login", "err", err)
	}
	p.cfg.Log.Info("user logged in", "user_id", user.ID, "client_id", req.ClientID, "methods", methods)
	e := withUser(audit.Event{Type: audit.TypeSuccessLogin, ClientID: req.ClientID, OrganizationID: req.Organization,
		Details: map[string]any{"amr": methods}}, user)
	if client, err := p.cfg.Store.GetClient(ctx, req.ClientID); err == nil {
		e.ClientName = client.Name
	}
	p.record(r, e)
	http.Redirect(w, r, authflow.For(resumePath, req.ID), http.StatusSeeOther)
}

// signupAllowed reports whether the request may create an account: always
// outside an organization; inside one only with an invitation or when the
// organization's password connection grants membership automatically, so
// that a stranger is never left with an account the organization refuses.
func (p *Pages) signupAllowed(ctx context.Context, req store.AuthRequest) (bool, error) {
	if req.Organization == "" || req.InvitationHash != "" {
		return true, nil
	}
	org, err := p.cfg.Store.GetOrganization(ctx, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get organization: %w", err)
	}
	return slices.ContainsFunc(org.Connections, func(c store.OrgConnection) bool {
		return c.Name == store.DefaultDatabaseConnection && c.AssignMembership
	}), nil
}

// signupOffered writes the refusal page and returns false when the request
// may not create an account.
func (p *Pages) signupOffered(w http.ResponseWriter, r *http.Request, req store.AuthRequest) bool {
	allowed, err := p.signupAllowed(r.Context(), req)
	if err != nil {
		p.internalError(w, "sign-up", err)
		return false
	}
	if !allowed {
		p.errorPage(w, http.StatusForbidden, "This organization does not allow sign-up. Ask its administrator for an invitation, or log in with an existing account.")
		return false
	}
	return true
}

func (p *Pages) signupForm(w http.ResponseWriter, r *http.Request) {
	req, client, ok := p.request(w, r, r.URL.Query().Get("req"))
	if !ok || !p.passwordAllowed(w, r, req, client) || !p.signupOffered(w, r, req) {
		return
	}
	p.cfg.Pages.SignUp(w, http.StatusOK, p.signupPage(w, r, req, client))
}

func (p *Pages) signupPage(w http.ResponseWriter, r *http.Request, req store.AuthRequest, client store.Client) web.SignUpPage {
	page := web.SignUpPage{
		Page:      p.page(r.Context(), req, client),
		RequestID: req.ID,
		CSRF:      p.csrfToken(w, r),
		Email:     req.LoginHint,
		LoginURL:  loginPath + "?mode=login&req=" + url.QueryEscape(req.ID),
		MinLength: p.cfg.MinPasswordLength,
	}
	if inv, ok := p.invitation(r.Context(), req); ok {
		page.Email, page.EmailLocked = inv.Email, true
	}
	return page
}

func (p *Pages) signupSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, client, ok := p.request(w, r, r.PostForm.Get("req"))
	if !ok || !p.passwordAllowed(w, r, req, client) || !p.signupOffered(w, r, req) {
		return
	}
	page := p.signupPage(w, r, req, client)
	if !page.EmailLocked { // an invitation's address cannot be changed
		page.Email = strings.TrimSpace(r.PostForm.Get("email"))
	}
	page.Name = strings.TrimSpace(r.PostForm.Get("name"))
	password := r.PostForm.Get("password")

	// Sign-ups cost a password hash each: count them against the IP.
	attempt, err := p.reserve(w, r, ActionSignUp, "")
	if err != nil {
		p.internalError(w, "signup: throttle", err)
		return
	}
	if !attempt.OK {
		page.Error = attempt.Refusal("Too many sign-ups from your network.")
		p.cfg.Pages.SignUp(w, http.StatusTooManyRequests, page)
		return
	}
	failed := func(desc string) {
		e := withPasswordConnection(requestEvent(audit.TypeFailedSignup, desc, req, client))
		e.UserName = page.Email
		p.record(r, e)
	}
	if _, err := database.NormalizeEmail(page.Email); err != nil {
		failed("invalid email address")
		page.Error, page.ErrorField = "Enter a valid email address.", "email"
		p.cfg.Pages.SignUp(w, http.StatusBadRequest, page)
		return
	}
	if err := p.cfg.Database.CheckPassword(password, page.Email, page.Name); err != nil {
		failed(weakPassword(err))
		page.Error, page.ErrorField = capitalize(err.Error())+".", "password"
		p.cfg.Pages.SignUp(w, http.StatusBadRequest, page)
		return
	}
	if p.mail.enabled() && !page.EmailLocked {
		p.signupByEmail(w, r, req, client, page, password)
		return
	}
	user, err := p.cfg.Database.SignUp(ctx, page.Email, password, page.Name)
	if errors.Is(err, store.ErrConflict) {
		failed("the user already exists")
		page.Error, page.ErrorField = "An account with this email already exists. Log in instead.", "email"
		p.cfg.Pages.SignUp(w, http.StatusConflict, page)
		return
	}
	if err != nil {
		p.internalError(w, "sign up", err)
		return
	}
	p.cfg.Log.Info("user signed up", "user_id", user.ID, "client_id", req.ClientID)
	p.record(r, withUser(withPasswordConnection(requestEvent(audit.TypeSuccessSignup, "", req, client)), user))
	p.limits.RememberDevice(w, user.Email)
	p.finishLogin(w, r, req, user, "pwd")
}

// scopeDescriptions are shown on the consent page.
var scopeDescriptions = map[string]string{
	"openid":         "Confirm your identity",
	"profile":        "See your name, nickname and picture",
	"email":          "See your email address",
	"offline_access": "Stay signed in to your account when you are not using the application",
}

func (p *Pages) consentForm(w http.ResponseWriter, r *http.Request) {
	req, client, ok := p.request(w, r, r.URL.Query().Get("req"))
	if !ok {
		return
	}
	user, ok := p.sessionUser(w, r, req)
	if !ok {
		return
	}
	page := web.ConsentPage{
		Page:      p.page(r.Context(), req, client),
		RequestID: req.ID,
		CSRF:      p.csrfToken(w, r),
		UserEmail: user.Email,
	}
	descriptions := scopeDescriptions
	if req.Audience != "" {
		api, err := p.cfg.Store.GetAPI(r.Context(), req.Audience)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.internalError(w, "consent: get api", err)
			return
		}
		descriptions = maps.Clone(scopeDescriptions)
		for _, sc := range api.Scopes {
			descriptions[sc.Name] = sc.Description
		}
		page.API = api.Name
	}
	// With RBAC on the API, only the scopes the user may get are asked for.
	scopes, err := authflow.ConsentScopes(r.Context(), p.cfg.Store, req, user.ID)
	if err != nil {
		p.internalError(w, "consent: scopes", err)
		return
	}
	for _, s := range scopes {
		page.Scopes = append(page.Scopes, web.ScopeDescription{Name: s, Description: descriptions[s]})
	}
	p.cfg.Pages.Consent(w, http.StatusOK, page)
}

func (p *Pages) consentSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, client, ok := p.request(w, r, r.PostForm.Get("req"))
	if !ok {
		return
	}
	user, ok := p.sessionUser(w, r, req)
	if !ok {
		return
	}
	var err error
	switch r.PostForm.Get("action") {
	case "accept":
		now := p.cfg.Now().UTC()
		// The consent covers what the page showed.
		scopes, err := authflow.ConsentScopes(ctx, p.cfg.Store, req, user.ID)
		if err != nil {
			p.internalError(w, "consent: scopes", err)
			return
		}
		if err := p.cfg.Store.UpsertGrant(ctx, store.Grant{UserID: user.ID, ClientID: client.ID, Audience: req.Audience,
			Scopes: slices.Clone(scopes), CreatedAt: now, UpdatedAt: now}); err != nil {
			p.internalError(w, "consent: store grant", err)
			return
		}
		err = p.cfg.Store.RecordConsent(ctx, req.ID, user.ID)
	case "deny":
		err = p.cfg.Store.EndAuthRequest(ctx, req.ID, "access_denied", "the user denied access")
	default:
		p.errorPage(w, http.StatusBadRequest, "Choose Accept or Deny.")
		return
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			p.errorPage(w, http.StatusBadRequest, "This login link has expired or was already used. Go back to the application and log in again.")
			return
		}
		p.internalError(w, "consent: record answer", err)
		return
	}
	http.Redirect(w, r, resumePath+"?req="+url.QueryEscape(req.ID), http.StatusSeeOther)
}

// sessionUser returns the logged-in user; without a session the browser is
// sent to the login page first.
func (p *Pages) sessionUser(w http.ResponseWriter, r *http.Request, req store.AuthRequest) (store.User, bool) {
	s, ok, err := p.cfg.Sessions.Get(r)
	if err != nil {
		p.internalError(w, "get session", err)
		return store.User{}, false
	}
	if !ok {
		http.Redirect(w, r, loginPath+"?req="+url.QueryEscape(req.ID), http.StatusSeeOther)
		return store.User{}, false
	}
	u, err := p.cfg.Store.GetUser(r.Context(), s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		http.Redirect(w, r, loginPath+"?req="+url.QueryEscape(req.ID), http.StatusSeeOther)
		return store.User{}, false
	}
	if err != nil {
		p.internalError(w, "get user", err)
		return store.User{}, false
	}
	return u, true
}

func (p *Pages) errorPage(w http.ResponseWriter, status int, msg string) {
	p.cfg.Pages.Error(w, status, web.ErrorPage{Page: web.Page{Error: msg}})
}

// internalError shows an unexpected failure: 503 when the database is
// unreachable (the user can retry), else 500. The cause is only logged.
func (p *Pages) internalError(w http.ResponseWriter, op string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		p.cfg.Log.Warn(op, "err", err)
		w.Header().Set("Retry-After", "5")
		p.cfg.Pages.Error(w, http.StatusServiceUnavailable, web.ErrorPage{Page: web.Page{
			Error: "The service is temporarily unavailable. Try again in a moment."}, Code: "temporarily_unavailable"})
		return
	}
	p.cfg.Log.Error(op, "err", err)
	p.cfg.Pages.Error(w, http.StatusInternalServerError, web.ErrorPage{Page: web.Page{
		Error: "The server could not complete the request. Try again in a moment."}, Code: "server_error"})
}

// clientIP is the peer address; trusted proxy headers come with the
// load-balancer settings.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
