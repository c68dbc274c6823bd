package login

import (
	"errors"
	"net/http"
	"net/url"

	"gatehouse/internal/audit"
	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
	"gatehouse/web"
)

// passkeyOffered reports whether the request may sign in with a passkey:
// wherever it may use a password, since a passkey replaces one. It writes
// an error page and returns false otherwise.
func (p *Pages) passkeyOffered(w http.ResponseWriter, r *http.Request, req store.AuthRequest, client store.Client) bool {
	if !p.passkeysAvailable() {
		p.errorPage(w, http.StatusNotFound, "Passkeys cannot be used on this server.")
		return false
	}
	return p.passwordAllowed(w, r, req, client)
}

func (p *Pages) passkeyForm(w http.ResponseWriter, r *http.Request) {
	req, client, ok := p.request(w, r, r.URL.Query().Get("req"))
	if !ok || !p.passkeyOffered(w, r, req, client) {
		return
	}
	p.showPasskey(w, r, req, client, http.StatusOK, "")
}

// showPasskey begins a passkey login and shows the page that asks the
// browser for one.
func (p *Pages) showPasskey(w http.ResponseWriter, r *http.Request, req store.AuthRequest, client store.Client, status int, msg string) {
	ch, err := p.cfg.MFA.BeginPasskeyLogin(r.Context())
	if err == nil {
		err = p.beginCeremony(w, r, ceremony{Purpose: purposePasskey, RequestID: req.ID, Session: ch.Session})
	}
	if err != nil {
		p.internalError(w, "begin passkey login", err)
		return
	}
	page := web.PasskeyPage{Page: p.page(r.Context(), req, client), RequestID: req.ID, CSRF: p.csrfToken(w, r),
		WebAuthn: &web.WebAuthnForm{Mode: "get", Options: string(ch.Options)},
		LoginURL: loginPath + "?mode=login&req=" + url.QueryEscape(req.ID)}
	page.Error = msg
	p.cfg.Pages.Passkey(w, status, page)
}

// passkeySubmit signs the user in with the passkey the browser answered
// with. The login's methods are the key's amr (hwk or swk), and mfa when
// the authenticator verified the user (PIN or biometrics), as passkey
// logins require: possession and verification in one.
func (p *Pages) passkeySubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, client, ok := p.request(w, r, r.PostForm.Get("req"))
	if !ok || !p.passkeyOffered(w, r, req, client) {
		return
	}
	session, err := p.takeCeremony(w, r, purposePasskey, req.ID, "")
	if errors.Is(err, errNoCeremony) {
		p.showPasskey(w, r, req, client, http.StatusBadRequest, "The request to your browser expired. Try again.")
		return
	}
	if err != nil {
		p.internalError(w, "passkey login", err)
		return
	}
	refused := func() {
		p.record(r, requestEvent(audit.TypeFailedLogin, "passkey not accepted", req, client))
		p.showPasskey(w, r, req, client, http.StatusUnauthorized, "That passkey was not accepted. Try again, or use your password.")
	}
	response, err := mfa.FormResponse(r, "response")
	if err != nil {
		refused()
		return
	}
	userID, cred, err := p.cfg.MFA.FinishPasskeyLogin(ctx, session, response)
	switch {
	case errors.Is(err, mfa.ErrCloneWarning):
		p.cfg.Log.Warn("passkey refused: its signature counter did not advance", "user_id", userID)
		p.record(r, audit.Event{Type: audit.TypeFailedLogin, Description: "passkey refused: its signature counter did not advance",
			UserID: userID, ClientID: client.ID, ClientName: client.Name, OrganizationID: req.Organization})
		p.showPasskey(w, r, req, client, http.StatusForbidden,
			"This passkey can no longer be used: it may have been copied. Sign in with your password, then remove it from your account.")
		return
	case errors.Is(err, mfa.ErrCeremony):
		refused()
		return
	case err != nil:
		p.internalError(w, "passkey login", err)
		return
	}
	user, err := p.cfg.Store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		refused()
		return
	}
	if err != nil {
		p.internalError(w, "passkey login: get user", err)
		return
	}
	if user.Blocked {
		p.record(r, withUser(requestEvent(audit.TypeFailedLogin, "user is blocked", req, client), user))
		p.errorPage(w, http.StatusForbidden, "This account is blocked. Contact the application's administrator.")
		return
	}
	methods := []string{mfa.WebAuthnAMR(cred)}
	if cred.UserVerified {
		methods = append(methods, amrMFA)
	}
	p.finishLogin(w, r, req, user, methods...)
}
