package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
	"gatehouse/web"
)

// RFC 8176 methods the second-factor pages record. A recovery code counts
// as a one-time password: it is one, if not an RFC 4226 one.
const (
	amrOTP = "otp"
	amrMFA = "mfa"
)

// mountMFA registers the second-factor, passkey and account pages.
func (p *Pages) mountMFA(mux *http.ServeMux) {
	mux.HandleFunc("GET "+authflow.MFAPath, p.mfaForm)
	mux.HandleFunc("POST "+authflow.MFAPath, p.protect(p.mfaSubmit))
	mux.HandleFunc("GET "+authflow.MFAEnrollPath, p.enrollForm)
	mux.HandleFunc("POST "+authflow.MFAEnrollPath, p.protect(p.enrollSubmit))
	mux.HandleFunc("GET "+authflow.PasskeyPath, p.passkeyForm)
	mux.HandleFunc("POST "+authflow.PasskeyPath, p.protect(p.passkeySubmit))
	mux.HandleFunc("GET "+authflow.AccountSecurityPath, p.accountForm)
	mux.HandleFunc("POST "+authflow.AccountSecurityPath, p.protect(p.accountSubmit))
	mux.HandleFunc("POST "+accountVerifyPath, p.protect(p.accountVerify))
	mux.HandleFunc("GET "+accountEnrollPath, p.accountEnrollForm)
	mux.HandleFunc("POST "+accountEnrollPath, p.protect(p.accountEnrollSubmit))
}

// passkeysAvailable reports whether security keys and passkeys can be
// used: the issuer's host can be a WebAuthn relying party.
func (p *Pages) passkeysAvailable() bool {
	return p.cfg.MFA != nil && p.cfg.MFA.WebAuthnAvailable()
}

// hasMFA reports whether the session passed a second factor (or a passkey
// that verified the user).
func hasMFA(s store.Session) bool { return slices.Contains(s.Methods, amrMFA) }

// mfaLogin is what a second-factor page of a pending login works on.
type mfaLogin struct {
	req     store.AuthRequest
	client  store.Client
	sess    store.Session
	user    store.User
	factors []store.Factor
}

// loadMFALogin loads the request (which must be this browser's), the
// session's user and their factors. Without a session of the user who
// authenticated on the request, the browser goes back to the flow, which
// sends it to the login page.
func (p *Pages) loadMFALogin(w http.ResponseWriter, r *http.Request, id string) (mfaLogin, bool) {
	var st mfaLogin
	var ok bool
	st.req, st.client, ok = p.request(w, r, id)
	if !ok {
		return st, false
	}
	sess, ok, err := p.cfg.Sessions.Get(r)
	if err != nil {
		p.internalError(w, "second factor: get session", err)
		return st, false
	}
	if !ok || (st.req.AuthUserID != "" && st.req.AuthUserID != sess.UserID) {
		p.backToFlow(w, r, st.req.ID)
		return st, false
	}
	st.sess = sess
	st.user, err = p.cfg.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && st.user.Blocked) {
		p.backToFlow(w, r, st.req.ID)
		return st, false
	}
	if err != nil {
		p.internalError(w, "second factor: get user", err)
		return st, false
	}
	st.factors, err = p.cfg.Store.ListFactors(r.Context(), st.user.ID)
	if err != nil {
		p.internalError(w, "second factor: list factors", err)
		return st, false
	}
	return st, true
}

// backToFlow sends the browser to /authorize/resume, which decides what
// the request needs next.
func (p *Pages) backToFlow(w http.ResponseWriter, r *http.Request, reqID string) {
	http.Redirect(w, r, authflow.For(resumePath, reqID), http.StatusSeeOther)
}

// challengeSite is where a second factor is asked for: a pending login, or
// the account page before a change.
type challengeSite struct {
	page      web.Page
	action    string // the URL the forms post to
	requestID string // "" on the account page
	purpose   string // of the security-key ceremony
	// methodURL is the page asking for another method.
	methodURL func(method string) string
	cancelURL string
}

// loginSite is the challenge of a pending login.
func (p *Pages) loginSite(ctx context.Context, st mfaLogin) challengeSite {
	return challengeSite{
		page:      p.page(ctx, st.req, st.client),
		action:    authflow.MFAPath,
		requestID: st.req.ID,
		purpose:   purposeChallenge,
		methodURL: func(m string) string { return authflow.For(authflow.MFAPath, st.req.ID) + "&method=" + m },
	}
}

// factorMethods says which methods the user can pass.
type factorMethods struct {
	totp, key  bool
	recoveryOK bool // has unused recovery codes
}

func (p *Pages) methodsOf(factors []store.Factor) factorMethods {
	var m factorMethods
	for _, f := range factors {
		switch {
		case f.Type == store.FactorTOTP && f.Confirmed:
			m.totp = true
		case store.IsWebAuthnType(f.Type):
			m.key = p.passkeysAvailable()
		case f.Type == store.FactorRecoveryCode:
			m.recoveryOK = f.RecoveryCodesLeft > 0
		}
	}
	return m
}

// pick returns the method to show: the one asked for when the user has
// it, else the app, else a key, else a recovery code.
func (m factorMethods) pick(asked string) string {
	switch {
	case asked == web.MethodTOTP && m.totp, asked == web.MethodKey && m.key, asked == web.MethodRecovery && m.recoveryOK:
		return asked
	case m.totp:
		return web.MethodTOTP
	case m.key:
		return web.MethodKey
	}
	return web.MethodRecovery
}

// showChallenge renders the second-factor page for method; for a key it
// begins a WebAuthn ceremony first.
func (p *Pages) showChallenge(w http.ResponseWriter, r *http.Request, site challengeSite, user store.User, factors []store.Factor,
	asked string, status int, msg, field string) {
	have := p.methodsOf(factors)
	method := have.pick(asked)
	page := web.MFAPage{Page: site.page, Action: site.action, RequestID: site.requestID, CSRF: p.csrfToken(w, r),
		Method: method, CancelURL: site.cancelURL}
	page.Error, page.ErrorField = msg, field
	if have.totp && method != web.MethodTOTP {
		page.TOTPURL = site.methodURL(web.MethodTOTP)
	}
	if have.key && method != web.MethodKey {
		page.KeyURL = site.methodURL(web.MethodKey)
	}
	if have.recoveryOK && method != web.MethodRecovery {
		page.RecoveryURL = site.methodURL(web.MethodRecovery)
	}
	if method == web.MethodKey {
		ch, err := p.cfg.MFA.BeginLogin(r.Context(), user.ID)
		if err == nil {
			err = p.beginCeremony(w, r, ceremony{Purpose: site.purpose, RequestID: site.requestID, UserID: user.ID, Session: ch.Session})
		}
		if err != nil {
			p.internalError(w, "second factor: begin webauthn login", err)
			return
		}
		page.WebAuthn = &web.WebAuthnForm{Mode: "get", Options: string(ch.Options)}
	}
	p.cfg.Pages.MFA(w, status, page)
}

// refusal is a second factor that did not pass: the page is shown again
// with the message.
type refusal struct {
	status int
	method string // the method to show again
	msg    string
	field  string
}

// verifyFactor checks the second factor the form posts (action totp,
// recovery or key) and returns the methods to record. Each code is an
// attempt of ActionMFACode, reserved before it is checked and throttled
// as passwords are.
func (p *Pages) verifyFactor(w http.ResponseWriter, r *http.Request, user store.User, purpose, requestID string) ([]string, *refusal, error) {
	ctx := r.Context()
	action := r.PostForm.Get("action")
	outcome := func(typ, desc string) {
		p.record(r, withUser(audit.Event{Type: typ, Description: desc,
			Details: map[string]any{"method": action, "purpose": purpose}}, user))
	}
	switch action {
	case web.MethodTOTP, web.MethodRecovery:
		code := strings.TrimSpace(r.PostForm.Get("code"))
		if code == "" {
			return nil, &refusal{http.StatusBadRequest, action, "Enter the code.", "code"}, nil
		}
		attempt, ref, err := p.reserveCode(w, r, user, action)
		if ref != nil || err != nil {
			return nil, ref, err
		}
		if action == web.MethodTOTP {
			err = p.cfg.MFA.VerifyTOTP(ctx, user.ID, code)
		} else {
			_, err = p.cfg.MFA.UseRecoveryCode(ctx, user.ID, code)
		}
		switch {
		case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrCodeUsed), errors.Is(err, mfa.ErrNotEnrolled):
			// The attempt stays counted.
			msg := "That code did not work. Wait for the app to show a new code and try again."
			if action == web.MethodRecovery {
				msg = "That recovery code did not work. Check it, or try another one."
				outcome(audit.TypeMFARecoveryFailed, "wrong recovery code")
			} else {
				outcome(audit.TypeMFAFailed, "wrong one-time code")
			}
			return nil, &refusal{http.StatusUnauthorized, action, msg, "code"}, nil
		case err != nil:
			return nil, nil, err
		}
		p.passed(w, r, attempt, limitAccount(user))
		if action == web.MethodRecovery {
			outcome(audit.TypeMFARecoverySuccess, "")
		} else {
			outcome(audit.TypeMFASuccess, "")
		}
		return []string{amrOTP, amrMFA}, nil, nil
	case web.MethodKey:
		session, err := p.takeCeremony(w, r, purpose, requestID, user.ID)
		if errors.Is(err, errNoCeremony) {
			return nil, &refusal{http.StatusBadRequest, web.MethodKey, "The security key check expired. Try again.", ""}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		response, err := mfa.FormResponse(r, "response")
		if err != nil {
			return nil, &refusal{http.StatusBadRequest, web.MethodKey, "The browser sent no answer from a security key. Try again.", ""}, nil
		}
		cred, err := p.cfg.MFA.FinishLogin(ctx, user.ID, session, response)
		switch {
		case errors.Is(err, mfa.ErrCloneWarning):
			p.cfg.Log.Warn("security key refused: its signature counter did not advance", "user_id", user.ID)
			outcome(audit.TypeMFAFailed, "security key refused: its signature counter did not advance")
			return nil, &refusal{http.StatusForbidden, web.MethodKey,
				"This security key can no longer be used: it may have been copied. Use another way, then remove the key from your account.", ""}, nil
		case errors.Is(err, mfa.ErrCeremony), errors.Is(err, mfa.ErrNotEnrolled):
			outcome(audit.TypeMFAFailed, "security key not accepted")
			return nil, &refusal{http.StatusUnauthorized, web.MethodKey, "Your security key was not accepted. Try again, or use another way.", ""}, nil
		case err != nil:
			return nil, nil, err
		}
		outcome(audit.TypeMFASuccess, "")
		return []string{mfa.WebAuthnAMR(cred), amrMFA}, nil, nil
	}
	return nil, &refusal{http.StatusBadRequest, "", "Choose a way to verify it's you.", ""}, nil
}

// limitAccount is the account a user's code attempts count against: the
// one their password attempts count against (the email), so that a known
// device of the account is one for both; the user ID when there is no
// email (some upstream users).
func limitAccount(u store.User) string {
	if u.Email != "" {
		return accountName(u.Email)
	}
	return u.ID
}

// reserveCode takes one code attempt of the user for the browser of r, or
// returns the refusal to show (429, with Retry-After set).
func (p *Pages) reserveCode(w http.ResponseWriter, r *http.Request, user store.User, method string) (*Reservation, *refusal, error) {
	attempt, err := p.reserve(w, r, ActionMFACode, limitAccount(user))
	if err != nil {
		return nil, nil, fmt.Errorf("code throttle: %w", err)
	}
	if !attempt.OK {
		return nil, &refusal{http.StatusTooManyRequests, method, attempt.Refusal("Too many wrong codes."), ""}, nil
	}
	return attempt, nil, nil
}

// The challenge page of a login.

func (p *Pages) mfaForm(w http.ResponseWriter, r *http.Request) {
	st, ok := p.loadMFALogin(w, r, r.URL.Query().Get("req"))
	if !ok {
		return
	}
	if hasMFA(st.sess) {
		p.backToFlow(w, r, st.req.ID)
		return
	}
	if !mfa.HasSecondFactor(st.factors) {
		http.Redirect(w, r, authflow.For(authflow.MFAEnrollPath, st.req.ID), http.StatusSeeOther)
		return
	}
	p.showChallenge(w, r, p.loginSite(r.Context(), st), st.user, st.factors, r.URL.Query().Get("method"), http.StatusOK, "", "")
}

func (p *Pages) mfaSubmit(w http.ResponseWriter, r *http.Request) {
	st, ok := p.loadMFALogin(w, r, r.PostForm.Get("req"))
	if !ok {
		return
	}
	if hasMFA(st.sess) {
		p.backToFlow(w, r, st.req.ID)
		return
	}
	if !mfa.HasSecondFactor(st.factors) {
		http.Redirect(w, r, authflow.For(authflow.MFAEnrollPath, st.req.ID), http.StatusSeeOther)
		return
	}
	methods, ref, err := p.verifyFactor(w, r, st.user, purposeChallenge, st.req.ID)
	if err != nil {
		p.internalError(w, "second factor", err)
		return
	}
	if ref != nil {
		p.showChallenge(w, r, p.loginSite(r.Context(), st), st.user, st.factors, ref.method, ref.status, ref.msg, ref.field)
		return
	}
	if !p.passSecondFactor(w, r, st, methods) {
		return
	}
	p.backToFlow(w, r, st.req.ID)
}

// passSecondFactor records the factor on the session and on the request;
// false when it wrote an error page.
func (p *Pages) passSecondFactor(w http.ResponseWriter, r *http.Request, st mfaLogin, methods []string) bool {
	ctx := r.Context()
	sess, err := p.cfg.Sessions.AddMethods(ctx, st.sess, methods)
	if errors.Is(err, store.ErrNotFound) {
		// The session ended meanwhile (logout in another tab): log in again.
		p.backToFlow(w, r, st.req.ID)
		return false
	}
	if err != nil {
		p.internalError(w, "second factor: record on session", err)
		return false
	}
	if err := p.cfg.Store.RecordAuthentication(ctx, st.req.ID, st.user.ID, sess.Methods); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			p.errorPage(w, http.StatusBadRequest, "This login link has expired or was already used. Go back to the application and log in again.")
			return false
		}
		p.internalError(w, "second factor: record authentication", err)
		return false
	}
	p.cfg.Log.Info("second factor passed", "user_id", st.user.ID, "client_id", st.req.ClientID, "method", methods[0])
	return true
}

// The enrollment page of a login, for a user who has no second factor yet
// and needs one.

func (p *Pages) enrollForm(w http.ResponseWriter, r *http.Request) {
	st, ok := p.loadEnrollment(w, r, r.URL.Query().Get("req"))
	if !ok {
		return
	}
	if r.URL.Query().Get("method") == web.MethodKey && p.passkeysAvailable() {
		p.showEnrollKey(w, r, p.enrollSite(r.Context(), st), st.user, false, http.StatusOK, "")
		return
	}
	p.showEnrollTOTP(w, r, p.enrollSite(r.Context(), st), st.user, http.StatusOK, "", "")
}

// loadEnrollment is loadMFALogin for the enrollment page, which is only
// for a user with no second factor: one who has one must pass it, so that
// a password alone never adds a factor.
func (p *Pages) loadEnrollment(w http.ResponseWriter, r *http.Request, id string) (mfaLogin, bool) {
	st, ok := p.loadMFALogin(w, r, id)
	if !ok {
		return st, false
	}
	if hasMFA(st.sess) {
		p.backToFlow(w, r, st.req.ID)
		return st, false
	}
	if mfa.HasSecondFactor(st.factors) {
		http.Redirect(w, r, authflow.For(authflow.MFAPath, st.req.ID), http.StatusSeeOther)
		return st, false
	}
	return st, true
}

// enrollSite is where an enrollment happens: a pending login or the
// account page.
type enrollSite struct {
	page      web.Page
	action    string
	requestID string
	purpose   string
	// methodURL is the enrollment page of another method.
	methodURL func(method string) string
	cancelURL string
	// keys offers security keys beside the app.
	keys bool
}

func (p *Pages) enrollSite(ctx context.Context, st mfaLogin) enrollSite {
	return enrollSite{
		page:      p.page(ctx, st.req, st.client),
		action:    authflow.MFAEnrollPath,
		requestID: st.req.ID,
		purpose:   purposeEnroll,
		methodURL: func(m string) string { return authflow.For(authflow.MFAEnrollPath, st.req.ID) + "&method=" + m },
		keys:      p.passkeysAvailable(),
	}
}

// userLabel names the user to themselves: on the account page, and in
// authenticator apps under the issuer.
func userLabel(u store.User) string {
	if u.Email != "" {
		return u.Email
	}
	return u.ID
}

// showEnrollTOTP shows the user's pending authenticator-app enrollment,
// starting one when none is pending.
func (p *Pages) showEnrollTOTP(w http.ResponseWriter, r *http.Request, site enrollSite, user store.User, status int, msg, field string) {
	ctx := r.Context()
	key, err := p.cfg.MFA.PendingTOTP(ctx, user.ID, userLabel(user))
	if errors.Is(err, mfa.ErrNotEnrolled) {
		key, err = p.cfg.MFA.EnrollTOTP(ctx, user.ID, userLabel(user))
	}
	if errors.Is(err, mfa.ErrAlreadyEnrolled) {
		// Confirmed in another tab meanwhile.
		http.Redirect(w, r, site.methodURL(web.MethodTOTP), http.StatusSeeOther)
		return
	}
	if err != nil {
		p.internalError(w, "enroll totp", err)
		return
	}
	page := web.MFAEnrollPage{Page: site.page, Action: site.action, RequestID: site.requestID, CSRF: p.csrfToken(w, r),
		Method: web.MethodTOTP, QRCode: key.QRCode, ManualKey: key.ManualKey, CancelURL: site.cancelURL}
	page.Error, page.ErrorField = msg, field
	if site.keys {
		page.KeyURL = site.methodURL(web.MethodKey)
	}
	p.cfg.Pages.MFAEnroll(w, status, page)
}

// showEnrollKey begins registering a security key (or a passkey) and shows
// the page that asks the browser for it.
func (p *Pages) showEnrollKey(w http.ResponseWriter, r *http.Request, site enrollSite, user store.User, passkey bool, status int, msg string) {
	ch, err := p.cfg.MFA.BeginRegistration(r.Context(), user, passkey)
	if err == nil {
		err = p.beginCeremony(w, r, ceremony{Purpose: site.purpose, RequestID: site.requestID, UserID: user.ID, Session: ch.Session})
	}
	if err != nil {
		p.internalError(w, "begin webauthn registration", err)
		return
	}
	page := web.MFAEnrollPage{Page: site.page, Action: site.action, RequestID: site.requestID, CSRF: p.csrfToken(w, r),
		Method: web.MethodKey, Passkey: passkey, WebAuthn: &web.WebAuthnForm{Mode: "create", Options: string(ch.Options)},
		CancelURL: site.cancelURL}
	page.Error = msg
	if !passkey && site.methodURL != nil {
		page.TOTPURL = site.methodURL(web.MethodTOTP)
	}
	p.cfg.Pages.MFAEnroll(w, status, page)
}

// enrollFactor finishes the enrollment the form posts (action totp, key
// or passkey) and returns the methods it proved. On a refusal it has shown
// the page again and returns ok=false.
func (p *Pages) enrollFactor(w http.ResponseWriter, r *http.Request, site enrollSite, user store.User) (methods []string, ok bool) {
	ctx := r.Context()
	switch action := r.PostForm.Get("action"); action {
	case web.MethodTOTP:
		code := strings.TrimSpace(r.PostForm.Get("code"))
		if code == "" {
			p.showEnrollTOTP(w, r, site, user, http.StatusBadRequest, "Enter the 6-digit code the app shows.", "code")
			return nil, false
		}
		attempt, ref, err := p.reserveCode(w, r, user, web.MethodTOTP)
		if err != nil {
			p.internalError(w, "enroll totp", err)
			return nil, false
		}
		if ref != nil {
			p.showEnrollTOTP(w, r, site, user, ref.status, ref.msg, "")
			return nil, false
		}
		err = p.cfg.MFA.ConfirmTOTP(ctx, user.ID, code)
		switch {
		case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrCodeUsed):
			p.showEnrollTOTP(w, r, site, user, http.StatusUnauthorized,
				"That code did not work. Check that the app shows this account, wait for a new code and try again.", "code")
			return nil, false
		case errors.Is(err, mfa.ErrNotEnrolled), errors.Is(err, mfa.ErrAlreadyEnrolled):
			// Replaced or confirmed in another tab: start from the page.
			http.Redirect(w, r, site.methodURL(web.MethodTOTP), http.StatusSeeOther)
			return nil, false
		case err != nil:
			p.internalError(w, "enroll totp", err)
			return nil, false
		}
		p.passed(w, r, attempt, limitAccount(user))
		return []string{amrOTP, amrMFA}, true
	case web.MethodKey, "passkey":
		passkey := action == "passkey"
		session, err := p.takeCeremony(w, r, site.purpose, site.requestID, user.ID)
		if errors.Is(err, errNoCeremony) {
			p.showEnrollKey(w, r, site, user, passkey, http.StatusBadRequest, "The request to your browser expired. Try again.")
			return nil, false
		}
		if err != nil {
			p.internalError(w, "enroll security key", err)
			return nil, false
		}
		// The ceremony, not the form, says whether a passkey was asked for.
		passkey = session.Passkey
		response, err := mfa.FormResponse(r, "response")
		var cred store.WebAuthnCredential
		if err == nil {
			cred, err = p.cfg.MFA.FinishRegistration(ctx, user.ID, session, response, keyName(r.PostForm.Get("name")))
		}
		if errors.Is(err, mfa.ErrCeremony) {
			p.showEnrollKey(w, r, site, user, passkey, http.StatusBadRequest,
				"The security key could not be added. Try again, or use another key.")
			return nil, false
		}
		if err != nil {
			p.internalError(w, "enroll security key", err)
			return nil, false
		}
		return []string{mfa.WebAuthnAMR(cred), amrMFA}, true
	}
	p.errorPage(w, http.StatusBadRequest, "Choose what to set up.")
	return nil, false
}

// keyName is the name the user gave a key, trimmed to 64 characters.
func keyName(s string) string {
	s = strings.TrimSpace(s)
	for utf8.RuneCountInString(s) > 64 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

func (p *Pages) enrollSubmit(w http.ResponseWriter, r *http.Request) {
	st, ok := p.loadEnrollment(w, r, r.PostForm.Get("req"))
	if !ok {
		return
	}
	methods, ok := p.enrollFactor(w, r, p.enrollSite(r.Context(), st), st.user)
	if !ok || !p.passSecondFactor(w, r, st, methods) {
		return
	}
	codes, err := p.cfg.MFA.NewRecoveryCodes(r.Context(), st.user.ID)
	if err != nil {
		p.internalError(w, "new recovery codes", err)
		return
	}
	p.cfg.Log.Info("second factor enrolled", "user_id", st.user.ID, "client_id", st.req.ClientID, "method", methods[0])
	e := withUser(requestEvent(audit.TypeMFAEnrolled, "", st.req, st.client), st.user)
	e.Details = map[string]any{"method": methods[0]}
	p.record(r, e)
	p.cfg.Pages.RecoveryCodes(w, http.StatusOK, web.RecoveryCodesPage{Page: p.page(r.Context(), st.req, st.client),
		Codes: codes, ContinueAction: resumePath, RequestID: st.req.ID})
}

// methodQuery returns u with the method parameter.
func methodQuery(u, method string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "method=" + url.QueryEscape(method)
}
