package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/token"
)

// Cookies of the console. The session is sealed (encrypted and
// authenticated under a key derived from the master key), so replicas
// share it and the server keeps no state; the role is checked at every
// request, so a sealed session outlives no admin's role.
const (
	sessionCookie = "gatehouse-console"
	loginCookie   = "gatehouse-console-login"
	loginTTL      = 10 * time.Minute
)

// session is the sealed content of the session cookie.
type session struct {
	UserID   string `json:"u"`
	Email    string `json:"e"`
	Created  int64  `json:"c"` // Unix seconds
	LastSeen int64  `json:"l"`
}

// pendingLogin is the sealed content of the login cookie: what the
// callback checks the authorization response against (RFC 6749 §10.12,
// RFC 7636, OIDC Core §3.1.2.1's nonce).
type pendingLogin struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
	// Test names the connection a "Test connection" login goes through:
	// its callback shows the profile and opens no session.
	Test string `json:"t,omitempty"`
}

func (c *Console) cookieName(base string) string {
	if c.cfg.Secure {
		return "__Host-" + base
	}
	return base
}

func (c *Console) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

// seal and unseal bind the cookie's content to its name, so that one
// cookie cannot stand in for the other.
func (c *Console) seal(name string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(c.sealer.Seal(b, []byte(name))), nil
}

func (c *Console) unseal(r *http.Request, name string, v any) bool {
	ck, err := r.Cookie(c.cookieName(name))
	if err != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return false
	}
	b, err := c.sealer.Open(raw, []byte(name))
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// session returns the request's live session.
func (c *Console) session(r *http.Request) (session, bool) {
	var s session
	if !c.unseal(r, sessionCookie, &s) || s.UserID == "" {
		return session{}, false
	}
	now := c.cfg.Now()
	if now.Sub(time.Unix(s.LastSeen, 0)) >= c.cfg.IdleTimeout || now.Sub(time.Unix(s.Created, 0)) >= c.cfg.MaxAge {
		return session{}, false
	}
	return s, true
}

// touch renews the session's idle deadline; at most once a minute, so
// that not every request sets a cookie.
func (c *Console) touch(w http.ResponseWriter, s session) {
	now := c.cfg.Now()
	if now.Unix()-s.LastSeen < 60 {
		return
	}
	s.LastSeen = now.Unix()
	c.writeSession(w, s)
}

func (c *Console) writeSession(w http.ResponseWriter, s session) {
	v, err := c.seal(sessionCookie, s)
	if err != nil {
		c.cfg.Log.Error("console: seal session", "err", err)
		return
	}
	// The cookie outlives the browser session up to the absolute cap;
	// the idle deadline is checked inside.
	remaining := time.Unix(s.Created, 0).Add(c.cfg.MaxAge).Sub(c.cfg.Now())
	c.setCookie(w, sessionCookie, v, int(remaining/time.Second))
}

// safeNext keeps a return path inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// login starts the authorization code flow with PKCE, state and nonce at
// the server's own /authorize: the hosted login, MFA and all.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	c.startLogin(w, r, safeNext(r.URL.Query().Get("next")), "")
}

// startLogin sends the browser to /authorize; test, when set, is the
// connection to log in through, with a fresh login (prompt=login).
func (c *Console) startLogin(w http.ResponseWriter, r *http.Request, next, test string) {
	p := pendingLogin{State: token.NewOpaque(), Nonce: token.NewOpaque(), Verifier: token.NewOpaque(),
		Next: next, Expires: c.cfg.Now().Add(loginTTL).Unix(), Test: test}
	v, err := c.seal(loginCookie, p)
	if err != nil {
		c.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "The sign-in could not start.")
		return
	}
	c.setCookie(w, loginCookie, v, int(loginTTL/time.Second))
	sum := sha256.Sum256([]byte(p.Verifier))
	q := url.Values{
		"client_id": {mgmt.ConsoleClientID}, "response_type": {"code"}, "redirect_uri": {mgmt.ConsoleRedirectURI(c.cfg.Issuer)},
		"scope": {"openid email profile"}, "state": {p.State}, "nonce": {p.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	if test != "" {
		q.Set("connection", test)
		q.Set("prompt", "login")
	}
	http.Redirect(w, r, config.IssuerURL(c.cfg.Issuer, "/authorize")+"?"+q.Encode(), http.StatusFound)
}

// callback finishes the sign-in: it checks the state, exchanges the code
// at the token endpoint in-process, verifies the ID token, and opens a
// session for an admin; anyone else gets the 403 page.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	var p pendingLogin
	q := r.URL.Query()
	ok := c.unseal(r, loginCookie, &p) && c.cfg.Now().Unix() < p.Expires &&
		subtle.ConstantTimeCompare([]byte(p.State), []byte(q.Get("state"))) == 1
	c.setCookie(w, loginCookie, "", -1)
	if !ok {
		c.renderError(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in was not started here or took too long. Open the console again.")
		return
	}
	if p.Test != "" {
		c.testResult(w, r, p, q)
		return
	}
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		c.renderError(w, r, http.StatusBadRequest, "Sign-in failed", "The sign-in did not finish. Open the console again to retry.")
		return
	}
	claims, err := c.exchange(r, q.Get("code"), p)
	if err != nil {
		c.cfg.Log.Warn("console: sign-in refused", "err", err)
		c.renderError(w, r, http.StatusBadRequest, "Sign-in failed", "The sign-in could not be completed. Open the console again to retry.")
		return
	}
	level, err := c.cfg.Service.AdminLevelOf(r.Context(), claims.Subject)
	if err != nil {
		c.renderError(w, r, http.StatusServiceUnavailable, "Unavailable", "The console cannot reach the database; retry later.")
		return
	}
	if level == mgmt.AdminNone {
		c.forbidden(w, r)
		return
	}
	now := c.cfg.Now().Unix()
	c.writeSession(w, session{UserID: claims.Subject, Email: claims.Email, Created: now, LastSeen: now})
	http.Redirect(w, r, safeNext(p.Next), http.StatusFound)
}

// idClaims are the ID token's claims the console checks.
type idClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   int64           `json:"exp"`
	Nonce    string          `json:"nonce"`
	Email    string          `json:"email"`
	Name     string          `json:"name"`
}

// exchange redeems the code at the token endpoint, called in-process, and
// verifies the ID token (OIDC Core §3.1.3.7) with the server's keys.
func (c *Console) exchange(r *http.Request, code string, p pendingLogin) (idClaims, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {mgmt.ConsoleClientID},
		"redirect_uri": {mgmt.ConsoleRedirectURI(c.cfg.Issuer)}, "code_verifier": {p.Verifier}}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return idClaims{}, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr, req.Host = r.RemoteAddr, r.Host
	req.Header.Set("User-Agent", r.UserAgent())
	rec := newRecorder()
	c.cfg.Handler.ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		return idClaims{}, fmt.Errorf("token endpoint answered %d", rec.status)
	}
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &tr); err != nil || tr.IDToken == "" {
		return idClaims{}, errors.New("token response without an ID token")
	}
	return c.verifyIDToken(r.Context(), tr.IDToken, p.Nonce)
}

func (c *Console) verifyIDToken(ctx context.Context, raw, nonce string) (idClaims, error) {
	payload, hdr, err := c.cfg.Keys.Verify(ctx, raw)
	if err != nil {
		return idClaims{}, fmt.Errorf("verify ID token: %w", err)
	}
	if typ, _ := hdr.ExtraHeaders["typ"].(string); typ != "" && typ != "JWT" {
		return idClaims{}, fmt.Errorf("verify ID token: typ %q", typ)
	}
	var cl idClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return idClaims{}, fmt.Errorf("verify ID token: %w", err)
	}
	var aud []string
	var one string
	if json.Unmarshal(cl.Audience, &one) == nil {
		aud = []string{one}
	} else if json.Unmarshal(cl.Audience, &aud) != nil {
		return idClaims{}, errors.New("verify ID token: aud")
	}
	switch {
	case cl.Issuer != c.cfg.Issuer:
		return idClaims{}, errors.New("verify ID token: issuer")
	case !slices.Contains(aud, mgmt.ConsoleClientID):
		return idClaims{}, errors.New("verify ID token: audience")
	case c.cfg.Now().Unix() >= cl.Expiry:
		return idClaims{}, errors.New("verify ID token: expired")
	case subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(nonce)) != 1:
		return idClaims{}, errors.New("verify ID token: nonce")
	case cl.Subject == "":
		return idClaims{}, errors.New("verify ID token: subject")
	}
	return cl, nil
}

// logout ends the console session, then the hosted login's session, and
// comes back to the console's start.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.parseForm(w, r) {
		return
	}
	if !c.cfg.Binder.CheckCSRF(r, r.PostForm.Get("csrf")) {
		c.renderError(w, r, http.StatusForbidden, "Form expired", "Reload the page and sign out again.")
		return
	}
	c.setCookie(w, sessionCookie, "", -1)
	q := url.Values{"client_id": {mgmt.ConsoleClientID}, "returnTo": {config.IssuerURL(c.cfg.Issuer, Prefix+"/")}}
	http.Redirect(w, r, config.IssuerURL(c.cfg.Issuer, "/v2/logout")+"?"+q.Encode(), http.StatusSeeOther)
}
