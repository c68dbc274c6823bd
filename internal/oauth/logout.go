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
}

// v2Logout handles GET /v2/logout?client_id=…&returnTo=…: it ends the SSO
// session and redirects only to one of the application's allowed logout URLs.
func (p *Provider) v2Logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lp := logoutParams{ClientID: q.Get("client_id"), PostLogoutRedirectURI: q.Get("returnTo"), Confirmed: true}
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
		aud, err := p.verifyIDTokenHint(r, lp.IDTokenHint)
		if err != nil {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The id_token_hint is not a valid ID token issued by this server.")
			return
		}
		if clientID != "" && !slices.Contains(aud, clientID) {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The client_id does not match the id_token_hint.")
			return
		}
		if clientID == "" && len(aud) == 1 {
			clientID = aud[0]
		}
		hinted = true
	}

	var redirect string
	if lp.PostLogoutRedirectURI != "" {
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

	// Without proof that the request comes from the user's application, ask
	// the user first, so a third-party page cannot log them out silently.
	if !hinted && !lp.Confirmed {
		p.cfg.Pages.LogoutConfirm(w, http.StatusOK, web.LogoutConfirmPage{
			PostLogoutRedirectURI: lp.PostLogoutRedirectURI, State: lp.State, ClientID: clientID,
		})
		return
	}
	if err := p.cfg.Sessions.End(ctx, w, r); err != nil {
		p.internalErrorPage(w, "logout: end session", err)
		return
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
// the configured issuer and returns its audience. An expired token is
// accepted, as RP-Initiated Logout §2 allows.
func (p *Provider) verifyIDTokenHint(r *http.Request, raw string) ([]string, error) {
	payload, hdr, err := p.cfg.Keys.Verify(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	if typ, _ := hdr.ExtraHeaders["typ"].(string); typ != "" && typ != "JWT" {
		return nil, errors.New("not an ID token")
	}
	var c struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss != p.cfg.Issuer {
		return nil, errors.New("not issued here")
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil && one != "" {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(c.Aud, &many); err != nil || len(many) == 0 {
		return nil, errors.New("no audience")
	}
	return many, nil
}
