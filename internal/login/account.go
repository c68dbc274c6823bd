package login

import (
	"errors"
	"net/http"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
	"gatehouse/web"
)

// The account security page belongs to no authorization request: a user
// with an SSO session (in this browser) manages their factors there. A
// user who has a second factor passes it again before any change, so that
// a stolen password or an unlocked session alone never adds or removes
// one.
const (
	accountPath       = authflow.AccountSecurityPath
	accountVerifyPath = accountPath + "/verify"
	accountEnrollPath = accountPath + "/enroll"
)

// account is what the account pages work on.
type account struct {
	sess    store.Session
	user    store.User
	factors []store.Factor
}

// loadAccount loads the browser's session, its user and their factors; a
// browser without a session gets a page that says to log in first.
func (p *Pages) loadAccount(w http.ResponseWriter, r *http.Request) (account, bool) {
	w.Header().Set("Cache-Control", "no-store")
	var a account
	sess, ok, err := p.cfg.Sessions.Get(r)
	if err != nil {
		p.internalError(w, "account: get session", err)
		return a, false
	}
	if !ok {
		p.errorPage(w, http.StatusUnauthorized, "You are not logged in. Log in to an application that uses this server, then open this page again.")
		return a, false
	}
	a.sess = sess
	a.user, err = p.cfg.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		p.errorPage(w, http.StatusUnauthorized, "You are not logged in. Log in to an application that uses this server, then open this page again.")
		return a, false
	}
	if err != nil {
		p.internalError(w, "account: get user", err)
		return a, false
	}
	if a.user.Blocked {
		p.errorPage(w, http.StatusForbidden, "This account is blocked. Contact the application's administrator.")
		return a, false
	}
	a.factors, err = p.cfg.Store.ListFactors(r.Context(), a.user.ID)
	if err != nil {
		p.internalError(w, "account: list factors", err)
		return a, false
	}
	return a, true
}

// needsStepUp reports whether the user must pass a second factor before a
// change: they have one and the session has not passed it.
func (a account) needsStepUp() bool {
	return mfa.HasSecondFactor(a.factors) && !hasMFA(a.sess)
}

// secondFactorsOffered reports whether the page offers the authenticator
// app and security keys: the server's policy lets users enroll, or the
// user has factors to manage.
func (p *Pages) secondFactorsOffered(a account) bool {
	return (p.cfg.MFAPolicy != "" && p.cfg.MFAPolicy != mfa.PolicyNever) || mfa.HasSecondFactor(a.factors)
}

// accountSite is the account page as a place to pass a second factor.
func accountSite() challengeSite {
	return challengeSite{action: accountVerifyPath, purpose: purposeStepUp,
		methodURL: func(m string) string { return methodQuery(accountPath, m) }}
}

// accountNotices are the confirmations the page shows after a change,
// named by the done parameter; nothing else from the URL is shown.
var accountNotices = map[string]string{
	"totp":    "Your authenticator app is set up.",
	"key":     "Your security key was added.",
	"passkey": "Your passkey was added.",
	"removed": "Removed.",
}

func (p *Pages) accountForm(w http.ResponseWriter, r *http.Request) {
	a, ok := p.loadAccount(w, r)
	if !ok {
		return
	}
	if a.needsStepUp() {
		p.showChallenge(w, r, accountSite(), a.user, a.factors, r.URL.Query().Get("method"), http.StatusOK, "", "")
		return
	}
	page := web.AccountPage{CSRF: p.csrfToken(w, r), UserEmail: userLabel(a.user),
		SecondFactors: p.secondFactorsOffered(a), WebAuthn: p.passkeysAvailable(),
		Notice: accountNotices[r.URL.Query().Get("done")]}
	for _, f := range a.factors {
		row := web.AccountFactor{ID: f.ID, Name: f.Name, Added: f.CreatedAt.Format("2 Jan 2006"), LastUsed: "never"}
		if !f.LastUsedAt.IsZero() {
			row.LastUsed = f.LastUsedAt.Format("2 Jan 2006")
		}
		switch {
		case f.Type == store.FactorTOTP && f.Confirmed:
			page.TOTP = &row
		case f.Type == store.FactorPasskey:
			page.Passkeys = append(page.Passkeys, row)
		case store.IsWebAuthnType(f.Type):
			page.Keys = append(page.Keys, row)
		case f.Type == store.FactorRecoveryCode:
			page.HasRecoveryCodes, page.RecoveryCodesLeft = true, f.RecoveryCodesLeft
		}
	}
	p.cfg.Pages.Account(w, http.StatusOK, page)
}

// accountVerify passes a second factor before changes.
func (p *Pages) accountVerify(w http.ResponseWriter, r *http.Request) {
	a, ok := p.loadAccount(w, r)
	if !ok {
		return
	}
	if !a.needsStepUp() {
		http.Redirect(w, r, accountPath, http.StatusSeeOther)
		return
	}
	methods, ref, err := p.verifyFactor(w, r, a.user, purposeStepUp, "")
	if err != nil {
		p.internalError(w, "account: second factor", err)
		return
	}
	if ref != nil {
		p.showChallenge(w, r, accountSite(), a.user, a.factors, ref.method, ref.status, ref.msg, ref.field)
		return
	}
	if _, err := p.cfg.Sessions.AddMethods(r.Context(), a.sess, methods); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.internalError(w, "account: record second factor", err)
		return
	}
	http.Redirect(w, r, accountPath, http.StatusSeeOther)
}

// accountSubmit removes a factor or makes new recovery codes.
func (p *Pages) accountSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, ok := p.loadAccount(w, r)
	if !ok {
		return
	}
	if a.needsStepUp() {
		http.Redirect(w, r, accountPath, http.StatusSeeOther)
		return
	}
	switch r.PostForm.Get("action") {
	case "remove":
		id := r.PostForm.Get("factor")
		var found *store.Factor
		for i, f := range a.factors {
			if f.ID == id && f.Type != store.FactorRecoveryCode {
				found = &a.factors[i]
			}
		}
		if found == nil {
			p.errorPage(w, http.StatusBadRequest, "That factor was removed already. Go back and reload the page.")
			return
		}
		if err := p.cfg.Store.DeleteFactor(ctx, a.user.ID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.internalError(w, "account: remove factor", err)
			return
		}
		// Recovery codes back up the other factors: with none left they
		// go too, or they would pass a login on their own.
		var left []store.Factor
		for _, f := range a.factors {
			if f.ID != id {
				left = append(left, f)
			}
		}
		if !mfa.HasSecondFactor(left) {
			for _, f := range left {
				if f.Type == store.FactorRecoveryCode {
					if err := p.cfg.Store.DeleteFactor(ctx, a.user.ID, f.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
						p.internalError(w, "account: remove recovery codes", err)
						return
					}
				}
			}
		}
		p.cfg.Log.Info("factor removed by its user", "user_id", a.user.ID, "type", found.Type)
		p.record(r, withUser(audit.Event{Type: audit.TypeMFAUnenrolled, Description: "removed by its user",
			Details: map[string]any{"factor_type": found.Type}}, a.user))
		http.Redirect(w, r, accountPath+"?done=removed", http.StatusSeeOther)
	case "recovery":
		if !mfa.HasSecondFactor(a.factors) {
			http.Redirect(w, r, accountPath, http.StatusSeeOther)
			return
		}
		p.showNewRecoveryCodes(w, r, a)
	default:
		p.errorPage(w, http.StatusBadRequest, "Choose what to change.")
	}
}

// showNewRecoveryCodes replaces the user's recovery codes and shows them.
func (p *Pages) showNewRecoveryCodes(w http.ResponseWriter, r *http.Request, a account) {
	codes, err := p.cfg.MFA.NewRecoveryCodes(r.Context(), a.user.ID)
	if err != nil {
		p.internalError(w, "account: new recovery codes", err)
		return
	}
	p.cfg.Log.Info("recovery codes made", "user_id", a.user.ID)
	p.cfg.Pages.RecoveryCodes(w, http.StatusOK, web.RecoveryCodesPage{Codes: codes, ContinueAction: accountPath})
}

// accountEnrollSite is the account page as a place to add a factor.
func (p *Pages) accountEnrollSite(a account) enrollSite {
	return enrollSite{action: accountEnrollPath, purpose: purposeAccount,
		methodURL: func(m string) string { return methodQuery(accountEnrollPath, m) },
		cancelURL: accountPath, keys: p.passkeysAvailable() && p.secondFactorsOffered(a)}
}

// accountEnrollAllowed reports whether the user may add a factor of the
// kind (web.MethodTOTP, web.MethodKey or "passkey") now.
func (p *Pages) accountEnrollAllowed(a account, kind string) bool {
	switch kind {
	case web.MethodTOTP:
		for _, f := range a.factors {
			if f.Type == store.FactorTOTP && f.Confirmed {
				return false // one app per user: remove it first
			}
		}
		return p.secondFactorsOffered(a)
	case web.MethodKey:
		return p.passkeysAvailable() && p.secondFactorsOffered(a)
	case "passkey":
		return p.passkeysAvailable()
	}
	return false
}

func (p *Pages) accountEnrollForm(w http.ResponseWriter, r *http.Request) {
	a, ok := p.loadAccount(w, r)
	if !ok {
		return
	}
	kind := r.URL.Query().Get("method")
	if a.needsStepUp() || !p.accountEnrollAllowed(a, kind) {
		http.Redirect(w, r, accountPath, http.StatusSeeOther)
		return
	}
	site := p.accountEnrollSite(a)
	if kind == web.MethodTOTP {
		p.showEnrollTOTP(w, r, site, a.user, http.StatusOK, "", "")
		return
	}
	p.showEnrollKey(w, r, site, a.user, kind == "passkey", http.StatusOK, "")
}

func (p *Pages) accountEnrollSubmit(w http.ResponseWriter, r *http.Request) {
	a, ok := p.loadAccount(w, r)
	if !ok {
		return
	}
	kind := r.PostForm.Get("action")
	if a.needsStepUp() || !p.accountEnrollAllowed(a, kind) {
		http.Redirect(w, r, accountPath, http.StatusSeeOther)
		return
	}
	methods, ok := p.enrollFactor(w, r, p.accountEnrollSite(a), a.user)
	if !ok {
		return
	}
	// Adding the factor proved it; before, a user with factors passed one.
	if _, err := p.cfg.Sessions.AddMethods(r.Context(), a.sess, methods); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.internalError(w, "account: record factor", err)
		return
	}
	p.cfg.Log.Info("factor added by its user", "user_id", a.user.ID, "kind", kind)
	p.record(r, withUser(audit.Event{Type: audit.TypeMFAEnrolled, Details: map[string]any{"method": kind}}, a.user))
	// A first second factor comes with recovery codes, where second
	// factors are asked for.
	hasCodes := false
	for _, f := range a.factors {
		hasCodes = hasCodes || (f.Type == store.FactorRecoveryCode && f.RecoveryCodesLeft > 0)
	}
	if !hasCodes && p.secondFactorsOffered(a) {
		p.showNewRecoveryCodes(w, r, a)
		return
	}
	http.Redirect(w, r, accountPath+"?done="+kind, http.StatusSeeOther)
}
