package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// A pending authorization request runs through named steps, in order:
// each looks at the request's state, loaded once into a flow, and lets the
// request go on, sends the browser to a hosted page, or ends the request
// with an error for the client. When every step lets it go on, the code is
// issued. The hosted pages record what the user did through the store's
// intents (store.AuthRequestSteps) and send the browser back to
// /authorize/resume, which runs the steps again from the start.

// flow is one pass over a request.
type flow struct {
	req    store.AuthRequest
	client store.Client
	// stored says whether req is in the store already; it is stored (and
	// bound to the browser) before the first page is shown.
	stored bool
	status int // 302, or 303 after a POST /authorize
	// promptNone turns every page a step would show into an error.
	promptNone bool
	// signup sends a user who must log in to the sign-up page instead
	// (screen_hint=signup); it holds for the first pass only.
	signup bool
	// Set by the authenticate step.
	sess store.Session
	user store.User
}

// outcome is what a step decided. The zero outcome lets the request go on.
type outcome struct {
	page string // a hosted page to send the browser to
	// none is the error for the client when a page is needed but the
	// request has prompt=none (OIDC Core §3.1.2.6).
	none *Error
	err  *Error // ends the request with this error for the client
}

var proceed = outcome{}

func showPage(path string, none *Error) outcome { return outcome{page: path, none: none} }
func endWith(e *Error) outcome                  { return outcome{err: e} }

// step is one stage of the flow.
type step interface {
	name() string
	run(ctx context.Context, p *Provider, r *http.Request, f *flow) (outcome, error)
}

// steps are the stages every request passes, in order.
var steps = []step{
	endedStep{},
	orgPromptStep{afterLogin: false},
	authenticateStep{},
	secondFactorStep{},
	verifiedEmailStep{},
	orgPromptStep{afterLogin: true},
	joinOrganizationStep{},
	consentStep{},
}

// run takes the request through the steps and answers the browser.
func (p *Provider) run(w http.ResponseWriter, r *http.Request, f *flow) {
	ctx := r.Context()
	// Every answer of the flow may carry a code or an error for the
	// client: never cached (RFC 6749 §5.1 in spirit, RFC 9700 §4.2.4);
	// respond says so again for the answers it writes.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	for _, s := range steps {
		o, err := s.run(ctx, p, r, f)
		if err != nil {
			p.internalErrorPage(w, "authorize: "+s.name(), err)
			return
		}
		switch {
		case o.err != nil:
			p.endFlow(w, r, f, o.err)
			return
		case o.page != "" && f.promptNone:
			p.endFlow(w, r, f, o.none)
			return
		case o.page != "":
			p.toPage(w, r, f, o.page)
			return
		}
	}
	p.issueResponse(w, r, f)
}

// responder is where the flow's answer goes.
func (f *flow) responder() responder {
	mode, _ := decodeResponse(f.req.ResponseMode)
	return responder{redirectURI: f.req.RedirectURI, mode: mode, state: f.req.State, status: f.status}
}

// endFlow sends an error to the client and forgets the request.
func (p *Provider) endFlow(w http.ResponseWriter, r *http.Request, f *flow, e *Error) {
	if f.stored {
		if err := p.cfg.Store.DeleteAuthRequest(r.Context(), f.req.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.cfg.Log.Warn("delete auth request", "err", err)
		}
	}
	p.respondError(w, r, f.responder(), e)
}

// toPage sends the browser to a hosted page, storing the request first,
// bound to this browser, when it is not stored yet.
func (p *Provider) toPage(w http.ResponseWriter, r *http.Request, f *flow, path string) {
	if !f.stored {
		// Anonymous requests must not grow the store without bound.
		if ok, wait, err := p.allowPendingRequest(r.Context(), r); !ok || err != nil {
			p.pendingRequestRefused(w, wait, err)
			return
		}
		f.req.BrowserHash = p.cfg.Binder.Bind(w, r)
		if err := p.cfg.Store.CreateAuthRequest(r.Context(), f.req); err != nil {
			p.internalErrorPage(w, "authorize: store request", err)
			return
		}
	}
	http.Redirect(w, r, path, f.status)
}

// issueResponse ends the flow with what the response type asks for: a
// code, an ID token, or both (the hybrid flow, whose ID token binds the
// code with c_hash, OIDC Core §3.3.2.11).
func (p *Provider) issueResponse(w http.ResponseWriter, r *http.Request, f *flow) {
	ctx := r.Context()
	_, typ := decodeResponse(f.req.ResponseMode)
	params := url.Values{}
	var code string
	if hasCode(typ) {
		code = token.NewOpaque()
		params.Set("code", code)
	}
	if hasIDToken(typ) {
		// Signed before the code is stored: a login that can no longer
		// get an ID token (user blocked meanwhile) gets no code either.
		idt, err := p.frontIDToken(ctx, f, code)
		var oerr *Error
		if errors.As(err, &oerr) {
			p.endFlow(w, r, f, oerr)
			return
		}
		if err != nil {
			p.internalErrorPage(w, "authorize: id token", err)
			return
		}
		params.Set("id_token", idt)
	}
	if hasCode(typ) {
		if !p.storeCode(w, r, f, code) {
			return
		}
	} else if f.stored {
		if err := p.cfg.Store.DeleteAuthRequest(ctx, f.req.ID); err != nil {
			p.internalErrorPage(w, "authorize: complete request", err)
			return
		}
	}
	p.respond(w, r, f.responder(), params)
}

// storeCode stores the code of the flow's request, spending the stored
// request with it; on failure it answers the browser and returns false.
func (p *Provider) storeCode(w http.ResponseWriter, r *http.Request, f *flow, code string) bool {
	ctx := r.Context()
	now := p.now()
	req := f.req
	c := store.AuthCode{
		ID:                  token.Hash(code),
		GrantID:             token.NewOpaque(),
		ClientID:            f.client.ID,
		UserID:              f.user.ID,
		SessionID:           f.sess.ID,
		RedirectURI:         req.RedirectURI,
		Scopes:              req.Scopes,
		Nonce:               req.Nonce,
		Audience:            req.Audience,
		Organization:        req.Organization,
		AuthTime:            f.sess.AuthTime,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		AMR:                 amr(f.sess.Methods),
		CreatedAt:           now,
		ExpiresAt:           now.Add(p.cfg.CodeTTL),
	}
	var err error
	if f.stored {
		err = p.cfg.Store.ConsumeAuthRequestForCode(ctx, req.ID, c)
	} else {
		err = p.cfg.Store.CreateCode(ctx, c)
	}
	if errors.Is(err, store.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "This login request was already completed. Go back to the application and log in again.")
		return false
	}
	if err != nil {
		p.internalErrorPage(w, "authorize: issue code", err)
		return false
	}
	return true
}

// endedStep ends a request that a page ended: consent denied, or an
// upstream login cancelled or failed.
type endedStep struct{}

func (endedStep) name() string { return "ended" }

func (endedStep) run(_ context.Context, _ *Provider, _ *http.Request, f *flow) (outcome, error) {
	if f.req.Error != "" {
		return endWith(newError(f.req.Error, "%s", f.req.ErrorDescription)), nil
	}
	return proceed, nil
}

// orgPromptStep asks for the organization, before login (the user types
// its name) or after (the user picks one of theirs), when the application
// requires one and the request named none.
type orgPromptStep struct{ afterLogin bool }

func (s orgPromptStep) name() string {
	if s.afterLogin {
		return "post-login organization prompt"
	}
	return "pre-login organization prompt"
}

func (s orgPromptStep) run(_ context.Context, _ *Provider, _ *http.Request, f *flow) (outcome, error) {
	need := needsPreLoginPrompt(f.client, f.req)
	if s.afterLogin {
		need = needsPostLoginPrompt(f.client, f.req)
	}
	if !need {
		return proceed, nil
	}
	return showPage(authflow.For(authflow.OrganizationPath, f.req.ID),
		newError(ErrLoginRequired, "the organization must be chosen interactively")), nil
}

// authenticateStep finds the logged-in user: a live session of an
// unblocked user, through a connection the request accepts, fresh enough
// for prompt=login and max_age, and — when someone authenticated on this
// very request — that same user. Otherwise the login page.
type authenticateStep struct{}

func (authenticateStep) name() string { return "authenticate" }

func (authenticateStep) run(ctx context.Context, p *Provider, r *http.Request, f *flow) (outcome, error) {
	ok, err := p.loadSessionUser(ctx, r, f)
	if err != nil {
		return proceed, err
	}
	if ok && f.req.AuthUserID != "" && f.req.AuthUserID != f.user.ID {
		// Someone else logged in on this request, and the browser's
		// session has changed since: nothing decided for them carries over.
		ok = false
	}
	if ok && !needsLogin(f.req, f.sess, p.now()) {
		return proceed, nil
	}
	none := newError(ErrLoginRequired, "the user is not logged in")
	if f.req.Connection != "" && f.req.Connection != store.DefaultDatabaseConnection {
		// connection= skips the login page and goes straight to the provider.
		conn, err := p.cfg.Store.GetConnection(ctx, f.req.Connection)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return proceed, fmt.Errorf("get connection: %w", err)
		}
		if err == nil && conn.Strategy != store.StrategyDatabase {
			return showPage(authflow.UpstreamLoginPath(conn.Name, f.req.ID), none), nil
		}
	}
	if f.signup {
		ok, err := p.offersSignup(ctx, f)
		if err != nil || ok {
			return showPage(authflow.For(authflow.SignupPath, f.req.ID), none), err
		}
	}
	return showPage(authflow.For(authflow.LoginPath, f.req.ID), none), nil
}

// offersSignup reports whether screen_hint=signup can open the sign-up
// page: the application has username/password login, the request forces
// no other connection, and no organization's rules are in the way (the
// login page, which links to sign-up where it is allowed, handles those).
func (p *Provider) offersSignup(ctx context.Context, f *flow) (bool, error) {
	if f.req.Organization != "" || (f.req.Connection != "" && f.req.Connection != store.DefaultDatabaseConnection) {
		return false, nil
	}
	conn, err := p.cfg.Store.GetConnection(ctx, store.DefaultDatabaseConnection)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get database connection: %w", err)
	}
	return slices.Contains(conn.EnabledClients, f.client.ID), nil
}

// loadSessionUser fills f.sess and f.user from the browser's session and
// reports whether they may serve the request.
func (p *Provider) loadSessionUser(ctx context.Context, r *http.Request, f *flow) (bool, error) {
	sess, ok, err := p.cfg.Sessions.Get(r)
	if err != nil || !ok {
		return false, err
	}
	user, err := p.cfg.Store.GetUser(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && user.Blocked) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get user: %w", err)
	}
	fits, err := p.sessionFits(ctx, f.req, user)
	if err != nil || !fits {
		return false, err
	}
	f.sess, f.user = sess, user
	return true, nil
}

// verifiedEmailStep holds the login back, on a page that says to check the
// inbox, while the application requires a verified email address and the
// user's is not; the user may resend the email or give up (access_denied).
type verifiedEmailStep struct{}

func (verifiedEmailStep) name() string { return "verified email" }

func (verifiedEmailStep) run(_ context.Context, _ *Provider, _ *http.Request, f *flow) (outcome, error) {
	if !f.client.RequireVerifiedEmail || f.user.EmailVerified {
		return proceed, nil
	}
	return showPage(authflow.For(authflow.EmailVerificationPath, f.req.ID),
		newError(ErrInteractionRequired, "the user must verify their email address")), nil
}

// joinOrganizationStep makes sure the user belongs to the request's
// organization (invitation, automatic membership, or membership).
type joinOrganizationStep struct{}

func (joinOrganizationStep) name() string { return "join organization" }

func (joinOrganizationStep) run(ctx context.Context, p *Provider, _ *http.Request, f *flow) (outcome, error) {
	if f.req.Organization == "" {
		return proceed, nil
	}
	oerr, err := p.joinOrganization(ctx, f.req, f.user)
	if err != nil || oerr == nil {
		return proceed, err
	}
	return endWith(oerr), nil
}

// consentStep asks the user to approve the scopes, unless the application
// is first-party (and the API lets first parties skip consent), the user
// approved on this request, or a remembered grant covers the scopes and
// the client did not ask again with prompt=consent.
type consentStep struct{}

func (consentStep) name() string { return "consent" }

func (consentStep) run(ctx context.Context, p *Provider, _ *http.Request, f *flow) (outcome, error) {
	skip, err := p.skipsConsent(ctx, f.client, f.req.Audience)
	if err != nil || skip {
		return proceed, err
	}
	// An approval counts for the user who gave it, never for whoever is
	// logged in when the request comes back.
	if f.req.ConsentUserID != "" && f.req.ConsentUserID == f.user.ID {
		return proceed, nil
	}
	g, err := p.cfg.Store.GetGrant(ctx, f.user.ID, f.client.ID, f.req.Audience)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return proceed, fmt.Errorf("get grant: %w", err)
	}
	// With RBAC, the page asks only for the scopes the user may get, and
	// that is what a remembered consent must cover.
	want, cerr := authflow.ConsentScopes(ctx, p.cfg.Store, f.req, f.user.ID)
	if cerr != nil {
		return proceed, cerr
	}
	remembered := err == nil && containsAll(g.Scopes, want)
	if remembered && !slices.Contains(f.req.Prompt, "consent") {
		return proceed, nil
	}
	return showPage(authflow.For(authflow.ConsentPath, f.req.ID),
		newError(ErrConsentRequired, "the user has not consented to these scopes")), nil
}

// skipsConsent reports whether a first-party application skips consent
// for the audience.
func (p *Provider) skipsConsent(ctx context.Context, client store.Client, audience string) (bool, error) {
	if !client.FirstParty || audience == "" {
		return client.FirstParty, nil
	}
	api, err := p.cfg.Store.GetAPI(ctx, audience)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get api: %w", err)
	}
	return api.SkipConsentFirstParty, nil
}

// sessionFits reports whether the session's user logged in through a
// connection the request accepts: the forced connection= one, and in an
// organization one enabled for it. A password session does not satisfy
// connection=github, nor one from a connection the organization disabled.
func (p *Provider) sessionFits(ctx context.Context, req store.AuthRequest, user store.User) (bool, error) {
	has := func(conn string) bool {
		return user.Connection == conn || slices.ContainsFunc(user.Identities, func(i store.Identity) bool { return i.Connection == conn })
	}
	if req.Connection != "" && !has(req.Connection) {
		return false, nil
	}
	if req.Organization == "" {
		return true, nil
	}
	org, err := p.cfg.Store.GetOrganization(ctx, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil // joinOrganization reports it
	}
	if err != nil {
		return false, fmt.Errorf("get organization: %w", err)
	}
	return slices.ContainsFunc(org.Connections, func(c store.OrgConnection) bool { return has(c.Name) }), nil
}

// needsLogin reports whether the session is too old for the request:
// prompt=login and max_age ask for an authentication that happened after
// the request was made, or within max_age seconds (OIDC Core §3.1.2.1).
func needsLogin(req store.AuthRequest, s store.Session, now time.Time) bool {
	fresh := !s.AuthTime.Before(req.CreatedAt.Truncate(time.Millisecond))
	if slices.Contains(req.Prompt, "login") && !fresh {
		return true
	}
	if req.MaxAge >= 0 && now.Sub(s.AuthTime) > time.Duration(req.MaxAge)*time.Second && !fresh {
		return true
	}
	return false
}

// ACRMultiFactor is the authentication context class of a login with a
// second factor: the value applications send in acr_values to ask for one,
// and the acr of such ID tokens.
const ACRMultiFactor = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"

// amrValues are the RFC 8176 methods a session may record. Upstream
// connections record their strategy, which is not an amr value and is
// left out of tokens.
var amrValues = []string{"pwd", "otp", "hwk", "swk", "mfa", "user", "pin", "fpt", "face", "sms", "kba"}

// amr returns the session's methods that are amr values, in order.
func amr(methods []string) []string {
	var out []string
	for _, m := range methods {
		if slices.Contains(amrValues, m) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}
