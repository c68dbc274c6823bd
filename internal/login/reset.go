package login

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/email"
	"gatehouse/internal/store"
	"gatehouse/web"
)

// forgotForm asks for the address to send a reset link to. It is reached
// from the login page of a request (?req=…, to come back to it) or alone.
func (p *Pages) forgotForm(w http.ResponseWriter, r *http.Request) {
	page, _, ok := p.forgotPage(w, r, r.URL.Query().Get("req"))
	if !ok {
		return
	}
	page.Email = strings.TrimSpace(r.URL.Query().Get("email"))
	p.cfg.Pages.ForgotPassword(w, http.StatusOK, page)
}

// forgotPage builds the page, framed by the request's application when the
// browser has one pending.
func (p *Pages) forgotPage(w http.ResponseWriter, r *http.Request, reqID string) (web.ForgotPasswordPage, store.AuthRequest, bool) {
	w.Header().Set("Cache-Control", "no-store")
	if !p.mail.enabled() {
		p.errorPage(w, http.StatusNotFound, "Password reset by email is not available: this server sends no email. Ask the application's administrator for a reset link.")
		return web.ForgotPasswordPage{}, store.AuthRequest{}, false
	}
	page := web.ForgotPasswordPage{CSRF: p.csrfToken(w, r)}
	var req store.AuthRequest
	if reqID != "" {
		var client store.Client
		var ok bool
		if req, client, ok = p.request(w, r, reqID); !ok {
			return page, req, false
		}
		page.Page, page.RequestID = p.page(r.Context(), req, client), req.ID
		page.LoginURL = authflow.For(loginPath, req.ID)
	}
	return page, req, true
}

// forgotSubmit sends a reset link to the address if it belongs to an
// account that signs in with a password, and answers the same way — same
// status, same words, at once — whether or not it does.
func (p *Pages) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	page, req, ok := p.forgotPage(w, r, r.PostForm.Get("req"))
	if !ok {
		return
	}
	page.Email = strings.TrimSpace(r.PostForm.Get("email"))
	addr, err := database.NormalizeEmail(page.Email)
	if err != nil {
		page.Error, page.ErrorField = "Enter a valid email address.", "email"
		p.cfg.Pages.ForgotPassword(w, http.StatusBadRequest, page)
		return
	}
	attempt, err := p.reserve(w, r, ActionPasswordReset, accountName(addr))
	if err != nil {
		p.internalError(w, "forgot password: throttle", err)
		return
	}
	if !attempt.OK {
		page.Error = attempt.Refusal("Too many reset requests.")
		p.cfg.Pages.ForgotPassword(w, http.StatusTooManyRequests, page)
		return
	}
	if !p.mail.healthy() {
		page.Error = "We cannot send email right now. Try again in a few minutes."
		p.cfg.Pages.ForgotPassword(w, http.StatusServiceUnavailable, page)
		return
	}
	client := store.Client{Name: ""}
	if req.ID != "" {
		client, _ = p.cfg.Store.GetClient(r.Context(), req.ClientID)
	}
	// Recorded for any address: whether it has an account is only known
	// when the email is built, later.
	e := withPasswordConnection(requestEvent(audit.TypeSuccessPasswordRequest, "", req, client))
	e.UserName = addr
	p.record(r, e)
	p.mail.sendLater("reset_password", func(ctx context.Context) (email.Message, error) {
		return p.resetEmail(ctx, addr, client, req)
	})
	p.cfg.Pages.Message(w, http.StatusOK, web.MessagePage{Page: page.Page, Heading: "Check your inbox", Status: true,
		Message: "If an account exists for " + addr + ", we sent it a link to choose a new password. The link works once, for 30 minutes."})
}

// resetEmail builds the reset email for the account of addr, or
// errNothingToSend when there is no account that signs in with a password.
func (p *Pages) resetEmail(ctx context.Context, addr string, client store.Client, req store.AuthRequest) (email.Message, error) {
	user, err := p.cfg.Store.GetUserByEmail(ctx, store.DefaultDatabaseConnection, addr)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!p.cfg.Database.IsPasswordUser(user) || user.Blocked)) {
		return email.Message{}, errNothingToSend
	}
	if err != nil {
		return email.Message{}, err
	}
	tok, err := database.IssueTicket(ctx, p.cfg.Store, store.TicketPasswordReset, user, database.DefaultResetTTL, client.ID, req.ID)
	if err != nil {
		return email.Message{}, err
	}
	link, err := database.TicketURL(p.cfg.Issuer, store.TicketPasswordReset, tok)
	if err != nil {
		return email.Message{}, err
	}
	return email.ResetPassword(user.Email, p.branding(ctx, client, req.Organization), link, database.DefaultResetTTL)
}

// resetForm is the page a reset link opens: the new-password form. The
// link is used only when the form is sent.
func (p *Pages) resetForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok := r.URL.Query().Get("ticket")
	t, user, err := p.cfg.Database.CheckResetTicket(r.Context(), tok)
	if err != nil {
		p.ticketError(w, err, "reset password: check link")
		return
	}
	p.cfg.Pages.ResetPassword(w, http.StatusOK, web.ResetPasswordPage{Page: p.ticketPage(r.Context(), t),
		CSRF: p.csrfToken(w, r), Ticket: tok, Email: user.Email, MinLength: p.cfg.MinPasswordLength})
}

// resetSubmit sets the new password and logs the user in: back into the
// login the link came from when this browser started it. The user's other
// sessions and refresh tokens end (unless the server keeps them), and the
// throttle lets this browser through: the user proved control of the
// email.
func (p *Pages) resetSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	tok := r.PostForm.Get("ticket")
	t, user, err := p.cfg.Database.ResetPassword(ctx, tok, r.PostForm.Get("password"))
	var pe *database.PolicyError
	if errors.As(err, &pe) {
		t, user, cerr := p.cfg.Database.CheckResetTicket(ctx, tok)
		if cerr == nil {
			e := p.ticketEvent(r, audit.TypeFailedChangePassword, t, user)
			e.Description = weakPassword(pe)
			p.record(r, e)
		}
		if cerr != nil {
			p.ticketError(w, cerr, "reset password: check link")
			return
		}
		p.cfg.Pages.ResetPassword(w, http.StatusBadRequest, web.ResetPasswordPage{Page: web.Page{
			AppName: p.ticketPage(ctx, t).AppName, Error: capitalize(pe.Error()) + ".", ErrorField: "password"},
			CSRF: p.csrfToken(w, r), Ticket: tok, Email: user.Email, MinLength: p.cfg.MinPasswordLength})
		return
	}
	if err != nil {
		p.recordTicketFailure(r, audit.TypeFailedChangePassword, err)
		p.ticketError(w, err, "reset password")
		return
	}
	// Opening the link proved the address too, unless an administrator
	// handed it out instead of its being mailed there.
	if !user.EmailVerified && !t.KeepEmailUnverified {
		if err := p.cfg.Store.SetEmailVerified(ctx, user.ID, true, p.cfg.Now().UTC()); err != nil {
			p.cfg.Log.Warn("reset password: mark email verified", "err", err)
		}
		user.EmailVerified = true
	}
	p.cfg.Log.Info("password reset", "user_id", user.ID)
	p.record(r, p.ticketEvent(r, audit.TypeSuccessChangePassword, t, user))
	if err := p.ClearThrottle(w, r, user.Email); err != nil {
		p.cfg.Log.Warn("reset password: clear throttle", "err", err)
	}
	client, _ := p.cfg.Store.GetClient(ctx, t.ClientID)
	p.mail.sendLater("password_changed", func(ctx context.Context) (email.Message, error) {
		return email.PasswordChanged(user.Email, p.branding(ctx, client, ""), p.forgotLink(""))
	})
	sess, err := p.cfg.Sessions.Start(ctx, w, r, user.ID, []string{"pwd"})
	if err != nil {
		p.internalError(w, "reset password: start session", err)
		return
	}
	if p.cfg.ResetKeepsSessions {
		if err := p.cfg.Store.DeleteUserTickets(ctx, user.ID, store.TicketPasswordReset); err != nil {
			p.cfg.Log.Warn("reset password: withdraw links", "err", err)
		}
	} else if n, f, err := database.RevokeUserSessions(ctx, p.cfg.Store, user.ID, sess.ID); err != nil {
		p.cfg.Log.Error("reset password: end other sessions", "err", err)
	} else {
		p.cfg.Log.Info("password reset ended other sessions", "user_id", user.ID, "sessions", n, "refresh_families", f)
	}
	if req, ok := p.ownedRequest(r, t.RequestID); ok {
		p.recordAndResume(w, r, req, user, []string{"pwd"})
		return
	}
	if t.ResultURL != "" { // set through the management API
		http.Redirect(w, r, t.ResultURL, http.StatusSeeOther)
		return
	}
	p.cfg.Pages.Message(w, http.StatusOK, web.MessagePage{Page: p.ticketPage(ctx, t), Heading: "Password changed", Status: true,
		Message: "Your new password is set and you are logged in. Go back to the application to continue."})
}
