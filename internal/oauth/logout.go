package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"gatehouse/internal/store"
	"gatehouse/web"
)

// logoutParams is a /v2/logout or /oidc/logout request, parsed once.
type logoutParams struct {
	IDTokenHint           string
	PostLogoutRedirectURI string
	State                 string
	ClientID              string
	Confirmed             bool // the user pressed "Log out" on the confirmation page
	// V2 marks /v2/logout, whose returnTo without a client_id is checked
	// against the server's own allowed logout URLs, as the hosted
	// service's is.
	V2 bool
	// Federated asks to end the session at the upstream provider too.
	Federated bool
}

// v2Logout handles GET /v2/logout?client_id=…&returnTo=…: it ends the SSO
// session and redirects only to one of the application's allowed logout URLs.
// It asks nothing, so any page can log a user out through it (a link, an
// image): it is kept so, as the hosted service's endpoint of the same name
// is, because applications written for that service call it as a plain
// redirect. The README says so; /oidc/logout is the endpoint that asks.
func (p *Provider) v2Logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lp := logoutParams{ClientID: q.Get("client_id"), PostLogoutRedirectURI: q.Get("returnTo"), Confirmed: true,
		V2: true, Federated: q.Has("federated")}
	p.logout(w, r, lp)
}

// oidcLogout handles RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0 §2), GET or POST.
func (p *Provider) oidcLogout(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			if formTooLarge(err) {
				p.errorPage(w, http.StatusRequestEntityTooLarge, ErrInvalidRequest, fmt.Sprintf("The logout request is larger than %d KiB.", maxFormBytes>>10))
				return
			}
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The logout request could not be read.")
			return
		}
		v = r.PostForm
		crossSite := p.cop.Check(r) != nil
		if crossSite && v.Get("id_token_hint") != "" {
			// RP-Initiated Logout §2: the application may POST from its own
			// site. That cross-site POST carries no SameSite=Lax session
			// cookie, so a valid hint continues as a top-level GET, which does.
			if _, err := p.verifyIDTokenHint(r, v.Get("id_token_hint")); err != nil {
				p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The id_token_hint is not a valid ID token issued by this server.")
				return
			}
			q := url.Values{}
			for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"} {
				if x := v.Get(k); x != "" {
					q.Set(k, x)
				}
			}
			http.Redirect(w, r, "/oidc/logout?"+q.Encode(), http.StatusSeeOther)
			return
		}
		// Without a hint only our own confirmation form may post.
		if crossSite {
			p.errorPage(w, http.StatusForbidden, ErrInvalidRequest, "The logout form was sent from another site and was refused.")
			return
		}
	}
	lp := logoutParams{
		IDTokenHint:           v.Get("id_token_hint"),
		PostLogoutRedirectURI: v.Get("post_logout_redirect_uri"),
		State:                 v.Get("state"),
		ClientID:              v.Get("client_id"),
		Confirmed:             r.Method == http.MethodPost && v.Get("confirm") == "yes",
	}
	p.logout(w, r, lp)
}

func (p *Provider) logout(w http.ResponseWriter, r *http.Request, lp logoutParams) {
	ctx := r.Context()
	clientID := lp.ClientID
	hinted := false
	if lp.IDTokenHint != "" {
		hint, err := p.verifyIDTokenHint(r, lp.IDTokenHint)
		if err != nil {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The id_token_hint is not a valid ID token issued by this server.")
			return
		}
		aud := hint.aud
		if clientID != "" && !slices.Contains(aud, clientID) {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The client_id does not match the id_token_hint.")
			return
		}
		if clientID == "" && len(aud) == 1 {
			clientID = aud[0]
		}
		// RP-Initiated Logout §2: the OP MUST ask the user when the ID
		// token does not belong to the current session. Any page can send
		// an ID token the attacker got for themselves; it proves nothing
		// about this browser's session.
		sess, ok, err := p.cfg.Sessions.Get(r)
		if err != nil {
			p.internalErrorPage(w, "logout: get session", err)
			return
		}
		hinted = !ok || hint.belongsTo(sess)
	}

	var redirect string
	if lp.PostLogoutRedirectURI != "" && clientID == "" && lp.V2 {
		// Exact string match against the server's list.
		if !slices.Contains(p.cfg.LogoutURLs, lp.PostLogoutRedirectURI) {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The returnTo URL is not in this server's allowed logout URLs; add the client_id to check it against the application's.")
			return
		}
		redirect = lp.PostLogoutRedirectURI
	} else if lp.PostLogoutRedirectURI != "" {
		if clientID == "" {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "A logout redirect needs the client_id or an id_token_hint, to check the URL against the application's allowed logout URLs.")
			return
		}
		client, err := p.cfg.Store.GetClient(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "Unknown client: no application is registered with this client_id.")
			return
		}
		if err != nil {
			p.internalErrorPage(w, "logout: get client", err)
			return
		}
		// Exact string match, as for callbacks: no prefix or look-alike URL passes.
		if !slices.Contains(client.LogoutURLs, lp.PostLogoutRedirectURI) {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The logout redirect URL is not in the application's allowed logout URLs.")
			return
		}
		redirect = lp.PostLogoutRedirectURI
		if lp.State != "" {
			redirect = appendQuery(redirect, url.Values{"state": {lp.State}})
		}
	}

	// Without proof that the request comes from an application of this
	// browser's session, ask the user first, so a third-party page cannot
	// log them out silently.
	if !hinted && !lp.Confirmed {
		p.cfg.Pages.LogoutConfirm(w, http.StatusOK, web.LogoutConfirmPage{
			PostLogoutRedirectURI: lp.PostLogoutRedirectURI, State: lp.State, ClientID: clientID,
		})
		return
	}
	ending, hadSession, _ := p.cfg.Sessions.Get(r) // whose session ends, for the audit log
	if hadSession && lp.Federated {
		if upstream := p.upstreamLogoutURL(ctx, ending.UserID, redirect); upstream != "" {
			redirect = upstream
		}
	}
	if hadSession {
		// Queued before the session goes, which forgets its applications;
		// the LogoutSender posts them, so this response never waits.
		if err := p.queueLogouts(ctx, ending.ID); err != nil {
			p.internalErrorPage(w, "logout", err)
			return
		}
	}
	if err := p.cfg.Sessions.End(ctx, w, r); err != nil {
		p.internalErrorPage(w, "logout: end session", err)
		return
	}
	if hadSession {
		p.recordLogout(r, ending, clientID)
	}
	if redirect != "" {
		status := http.StatusFound
		if r.Method == http.MethodPost {
			status = http.StatusSeeOther
		}
		http.Redirect(w, r, redirect, status)
		return
	}
	p.cfg.Pages.LoggedOut(w, http.StatusOK)
}

// verifyIDTokenHint checks that raw is an ID token this server signed for
// the configured issuer and returns its audience, subject and session. An
// expired token is accepted, as RP-Initiated Logout §2 allows.
func (p *Provider) verifyIDTokenHint(r *http.Request, raw string) (idTokenHint, error) {
	payload, hdr, err := p.cfg.Keys.Verify(r.Context(), raw)
	if err != nil {
		return idTokenHint{}, err
	}
	if typ, _ := hdr.ExtraHeaders["typ"].(string); typ != "" && typ != "JWT" {
		return idTokenHint{}, errors.New("not an ID token")
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Sid string          `json:"sid"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss != p.cfg.Issuer {
		return idTokenHint{}, errors.New("not issued here")
	}
	h := idTokenHint{sub: c.Sub, sid: c.Sid}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil && one != "" {
		h.aud = []string{one}
		return h, nil
	}
	if err := json.Unmarshal(c.Aud, &h.aud); err != nil || len(h.aud) == 0 {
		return idTokenHint{}, errors.New("no audience")
	}
	return h, nil
}

// idTokenHint is what logout uses of a verified id_token_hint.
type idTokenHint struct {
	aud      []string
	sub, sid string
}

// belongsTo reports whether the hint was issued in session s: for its user
// and, when the token names a session, for that session.
func (h idTokenHint) belongsTo(s store.Session) bool {
	return h.sub == s.UserID && (h.sid == "" || h.sid == sid(s.ID))
}
