package login

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/email"
	"gatehouse/internal/store"
	"gatehouse/web"
)

// emailVerificationForm shows the page that holds a login back until the
// user's email address is verified (the application requires it).
func (p *Pages) emailVerificationForm(w http.ResponseWriter, r *http.Request) {
	req, client, ok := p.request(w, r, r.URL.Query().Get("req"))
	if !ok {
		return
	}
	user, ok := p.sessionUser(w, r, req)
	if !ok {
		return
	}
	p.cfg.Pages.EmailVerification(w, http.StatusOK, web.EmailVerificationPage{Page: p.page(r.Context(), req, client),
		RequestID: req.ID, CSRF: p.csrfToken(w, r), MaskedEmail: maskEmail(user.Email), CanResend: p.mail.enabled()})
}

// emailVerificationSubmit continues (the flow checks the address again),
// sends the email again, or gives up: the application then gets
// access_denied.
func (p *Pages) emailVerificationSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, client, ok := p.request(w, r, r.PostForm.Get("req"))
	if !ok {
		return
	}
	user, ok := p.sessionUser(w, r, req)
	if !ok {
		return
	}
	page := web.EmailVerificationPage{Page: p.page(ctx, req, client), RequestID: req.ID, CSRF: p.csrfToken(w, r),
		MaskedEmail: maskEmail(user.Email), CanResend: p.mail.enabled()}
	switch r.PostForm.Get("action") {
	case "continue":
	case "resend":
		if !p.mail.enabled() {
			p.errorPage(w, http.StatusBadRequest, "This server cannot send email.")
			return
		}
		attempt, err := p.reserve(w, r, ActionResendVerification, accountName(user.Email))
		if err != nil {
			p.internalError(w, "resend verification: throttle", err)
			return
		}
		status := http.StatusOK
		e := withUser(requestEvent(audit.TypeSuccessVerificationEmail, "", req, client), user)
		switch {
		case !attempt.OK:
			status, page.Error = http.StatusTooManyRequests, attempt.Refusal("We sent several emails already.")
			e.Type, e.Description = audit.TypeFailedVerificationEmail, "too many verification emails"
		case p.sendVerification(ctx, client, req, user) != nil:
			status, page.Error = http.StatusServiceUnavailable, "We could not send the email. Try again in a moment."
			e.Type, e.Description = audit.TypeFailedVerificationEmail, "the email could not be sent"
		default:
			page.Notice = "We sent the email again. It can take a minute to arrive; look in your spam folder too."
		}
		p.record(r, e)
		p.cfg.Pages.EmailVerification(w, status, page)
		return
	case "cancel":
		if err := p.cfg.Store.EndAuthRequest(ctx, req.ID, "access_denied", "the user did not verify their email address"); err != nil {
			p.internalError(w, "email verification: cancel", err)
			return
		}
	default:
		p.errorPage(w, http.StatusBadRequest, "Choose one of the buttons.")
		return
	}
	http.Redirect(w, r, authflow.For(resumePath, req.ID), http.StatusSeeOther)
}

// verificationEmail builds the verification email of user: a new
// one-time link that leads back to the request, when there is one.
func (p *Pages) verificationEmail(ctx context.Context, client store.Client, req store.AuthRequest, user store.User) (email.Message, error) {
	tok, err := database.IssueTicket(ctx, p.cfg.Store, store.TicketEmailVerification, user, database.DefaultVerificationTTL, client.ID, req.ID)
	if err != nil {
		return email.Message{}, err
	}
	link, err := database.TicketURL(p.cfg.Issuer, store.TicketEmailVerification, tok)
	if err != nil {
		return email.Message{}, err
	}
	return email.VerifyEmail(user.Email, p.branding(ctx, client, req.Organization), link, database.DefaultVerificationTTL)
}

// sendVerification sends user a verification email while the page waits.
func (p *Pages) sendVerification(ctx context.Context, client store.Client, req store.AuthRequest, user store.User) error {
	msg, err := p.verificationEmail(ctx, client, req, user)
	if err != nil {
		p.cfg.Log.Error("build verification email", "err", err)
		return err
	}
	return p.mail.send(ctx, msg)
}

// verifyEmailForm is the page a verification link opens. It does not use
// the link: mail scanners open links too. The user confirms with a button.
func (p *Pages) verifyEmailForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok := r.URL.Query().Get("ticket")
	t, user, err := p.checkTicket(r.Context(), tok, store.TicketEmailVerification)
	if err != nil {
		p.ticketError(w, err, "verify email: check link")
		return
	}
	p.cfg.Pages.VerifyEmail(w, http.StatusOK, web.VerifyEmailPage{Page: p.ticketPage(r.Context(), t),
		CSRF: p.csrfToken(w, r), Ticket: tok, MaskedEmail: maskEmail(user.Email)})
}

// verifyEmailSubmit uses the link: the address is verified. In the
// browser that started the login the link came from, the login goes on
// (and a user who has just signed up there is logged in); anywhere else
// the page says the address is verified.
func (p *Pages) verifyEmailSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	t, user, err := p.cfg.Database.VerifyEmail(ctx, r.PostForm.Get("ticket"))
	if err != nil {
		p.recordTicketFailure(r, audit.TypeFailedVerification, err)
		p.ticketError(w, err, "verify email")
		return
	}
	p.cfg.Log.Info("email verified", "user_id", user.ID)
	p.record(r, p.ticketEvent(r, audit.TypeSuccessVerification, t, user))
	if req, ok := p.ownedRequest(r, t.RequestID); ok {
		if s, has, err := p.cfg.Sessions.Get(r); err != nil || !has || s.UserID != user.ID {
			p.finishLogin(w, r, req, user, "pwd")
			return
		}
		http.Redirect(w, r, authflow.For(resumePath, req.ID), http.StatusSeeOther)
		return
	}
	if t.ResultURL != "" { // set through the management API
		http.Redirect(w, r, t.ResultURL, http.StatusSeeOther)
		return
	}
	p.cfg.Pages.Message(w, http.StatusOK, web.MessagePage{Page: p.ticketPage(ctx, t), Heading: "Email verified",
		Message: "Your email address " + maskEmail(user.Email) + " is verified. You can close this page and go back to the application."})
}

// checkTicket looks a link's ticket up without using it.
func (p *Pages) checkTicket(ctx context.Context, tok, kind string) (store.Ticket, store.User, error) {
	if kind == store.TicketPasswordReset {
		return p.cfg.Database.CheckResetTicket(ctx, tok)
	}
	return p.cfg.Database.CheckVerificationTicket(ctx, tok)
}

// ticketError shows why a link cannot be used; never which accounts exist.
func (p *Pages) ticketError(w http.ResponseWriter, err error, op string) {
	var pe *database.PolicyError
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		p.errorPage(w, http.StatusGone, "This link was already used. Each link works once.")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, database.ErrNotPasswordUser), errors.As(err, &pe):
		p.errorPage(w, http.StatusNotFound, "This link is invalid or has expired. Ask for a new one.")
	default:
		p.internalError(w, op, err)
	}
}

// ticketPage frames a link's page with the application it came from.
func (p *Pages) ticketPage(ctx context.Context, t store.Ticket) web.Page {
	if t.ClientID == "" {
		return web.Page{}
	}
	c, err := p.cfg.Store.GetClient(ctx, t.ClientID)
	if err != nil {
		return web.Page{}
	}
	pg := web.Page{AppName: c.Name}
	if t.RequestID != "" {
		if req, err := p.cfg.Store.GetAuthRequest(ctx, t.RequestID); err == nil {
			pg = p.page(ctx, req, c)
		}
	}
	return pg
}

// ownedRequest returns the pending request id when it is live and was
// started by this browser.
func (p *Pages) ownedRequest(r *http.Request, id string) (store.AuthRequest, bool) {
	if id == "" {
		return store.AuthRequest{}, false
	}
	req, err := p.cfg.Store.GetAuthRequest(r.Context(), id)
	if err != nil || !p.cfg.Binder.Owns(r, req) {
		return store.AuthRequest{}, false
	}
	return req, true
}

// maskEmail shows enough of an address for its owner to recognise it:
// the first character of the local part and the domain.
func maskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "your email address"
	}
	return local[:1] + "•••@" + domain
}

// forgotLink is the forgot-password page, for a request when there is one.
func (p *Pages) forgotLink(reqID string) string {
	if reqID == "" {
		return config.IssuerURL(p.cfg.Issuer, authflow.ForgotPasswordPath)
	}
	return config.IssuerURL(p.cfg.Issuer, authflow.ForgotPasswordPath) + "?req=" + url.QueryEscape(reqID)
}

// signupByEmail creates the account and sends a verification link, or, for
// an address that has an account already, tells its owner by email: the
// page answers "check your inbox" the same way for both, so sign-up
// reveals no account. The link leads back into the login (signupVerified).
func (p *Pages) signupByEmail(w http.ResponseWriter, r *http.Request, req store.AuthRequest, client store.Client, page web.SignUpPage, password string) {
	if !p.mail.healthy() {
		page.Error = "We cannot send email right now, and sign-up needs it. Try again in a few minutes."
		p.cfg.Pages.SignUp(w, http.StatusServiceUnavailable, page)
		return
	}
	addr, _ := database.NormalizeEmail(page.Email)
	user, err := p.cfg.Database.SignUp(r.Context(), page.Email, password, page.Name)
	switch {
	case errors.Is(err, store.ErrConflict):
		e := withPasswordConnection(requestEvent(audit.TypeFailedSignup, "the user already exists", req, client))
		e.UserName = addr
		p.record(r, e)
		loginLink := config.IssuerURL(p.cfg.Issuer, authflow.For(loginPath, req.ID))
		p.mail.sendLater("account_exists", func(ctx context.Context) (email.Message, error) {
			return email.AccountExists(addr, p.branding(ctx, client, req.Organization), loginLink, p.forgotLink(req.ID))
		})
	case err != nil:
		p.internalError(w, "sign up", err)
		return
	default:
		p.cfg.Log.Info("user signed up", "user_id", user.ID, "client_id", req.ClientID)
		p.record(r, withUser(withPasswordConnection(requestEvent(audit.TypeSuccessSignup, "", req, client)), user))
		p.mail.sendLater("verify_email", func(ctx context.Context) (email.Message, error) {
			return p.verificationEmail(ctx, client, req, user)
		})
	}
	p.cfg.Pages.Message(w, http.StatusOK, web.MessagePage{Page: p.page(r.Context(), req, client), Heading: "Check your inbox", Status: true,
		Message: "We sent a link to " + addr + ". Open it in this browser to verify your address and continue to " + client.Name + "."})
}
