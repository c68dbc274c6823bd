package webapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// forwardedLoginParams are the /login query parameters passed on to the
// provider's /authorize, so links into this app can ask for a prompt, a
// connection, an organization, an invitation or a login hint.
var forwardedLoginParams = []string{"prompt", "connection", "organization", "invitation", "login_hint"}

// loginRequest is a parsed GET /login.
type loginRequest struct {
	forward [][2]string // name, value; only forwardedLoginParams, only non-empty
}

func parseLoginRequest(r *http.Request) loginRequest {
	q := r.URL.Query()
	var req loginRequest
	for _, name := range forwardedLoginParams {
		if v := q.Get(name); v != "" {
			req.forward = append(req.forward, [2]string{name, v})
		}
	}
	return req
}

// login starts the authorization code flow (OpenID Connect Core §3.1.2.1).
func (a *App) login(w http.ResponseWriter, r *http.Request) error {
	req := parseLoginRequest(r)
	p := &pendingLogin{
		State:    rand.Text(),
		Nonce:    rand.Text(),
		Verifier: oauth2.GenerateVerifier(),
		Expires:  time.Now().Add(loginLifetime),
	}
	key := a.store.putPending(p)
	a.setCookie(w, loginCookie, key, "/callback", loginLifetime)

	opts := []oauth2.AuthCodeOption{
		oidc.Nonce(p.Nonce),
		oauth2.S256ChallengeOption(p.Verifier),
	}
	if a.audience != "" {
		opts = append(opts, oauth2.SetAuthURLParam("audience", a.audience))
	}
	for _, kv := range req.forward {
		opts = append(opts, oauth2.SetAuthURLParam(kv[0], kv[1]))
	}
	http.Redirect(w, r, a.oauth2.AuthCodeURL(p.State, opts...), http.StatusFound)
	return nil
}

// callbackRequest is a parsed GET /callback: the authorization response
// (RFC 6749 §4.1.2 and §4.1.2.1).
type callbackRequest struct {
	Code             string
	State            string
	Issuer           string // RFC 9207 iss, when the provider sends it
	Error            string
	ErrorDescription string
}

func parseCallbackRequest(r *http.Request) callbackRequest {
	q := r.URL.Query()
	return callbackRequest{
		Code:             q.Get("code"),
		State:            q.Get("state"),
		Issuer:           q.Get("iss"),
		Error:            q.Get("error"),
		ErrorDescription: q.Get("error_description"),
	}
}

// callback finishes the flow: it checks the authorization response, redeems
// the code, validates the ID token, calls userinfo and starts a session.
func (a *App) callback(w http.ResponseWriter, r *http.Request) error {
	req := parseCallbackRequest(r)

	// The pending login is used up whatever the outcome, so a response can
	// never be replayed against it.
	var pending *pendingLogin
	if c, err := r.Cookie(loginCookie); err == nil {
		pending, _ = a.store.takePending(c.Value)
		a.setCookie(w, loginCookie, "", "/callback", -1)
	}

	if req.Error != "" {
		return &pageError{Status: http.StatusBadRequest, Title: "Sign-in failed", Code: req.Error, Description: req.ErrorDescription}
	}
	if pending == nil {
		return &pageError{Status: http.StatusBadRequest, Title: "No sign-in in progress",
			Description: "The sign-in took too long, was already completed, or was started in another browser. Please log in again."}
	}
	// RFC 6749 §10.12: the state binds the response to this browser (CSRF).
	if req.State == "" || subtle.ConstantTimeCompare([]byte(req.State), []byte(pending.State)) != 1 {
		return &pageError{Status: http.StatusBadRequest, Title: "Sign-in failed", Code: "state_mismatch",
			Description: "The state in the response does not match the one this browser sent. Please log in again."}
	}
	// RFC 9207 §2.4: iss MUST be present when the provider says it sends
	// it, and MUST match the issuer when present; this defeats mix-up attacks.
	if a.requireIss && req.Issuer == "" {
		return &pageError{Status: http.StatusBadRequest, Title: "Sign-in failed", Code: "issuer_missing",
			Description: "The provider promises an iss parameter in its responses, but this one has none."}
	}
	if req.Issuer != "" && req.Issuer != a.issuer {
		return &pageError{Status: http.StatusBadRequest, Title: "Sign-in failed", Code: "issuer_mismatch",
			Description: fmt.Sprintf("The response came from issuer %q, not %q.", req.Issuer, a.issuer)}
	}
	if req.Code == "" {
		return &pageError{Status: http.StatusBadRequest, Title: "Sign-in failed", Code: "invalid_request",
			Description: "The response carries neither a code nor an error."}
	}

	ctx := a.httpContext(r.Context())
	tok, err := a.oauth2.Exchange(ctx, req.Code, oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			pe := &pageError{Status: http.StatusBadGateway, Title: "Code exchange failed", Code: re.ErrorCode, Description: re.ErrorDescription, err: err}
			if pe.Code == "" && re.Response != nil {
				pe.Description = "The token endpoint answered " + re.Response.Status + "."
			}
			return pe
		}
		return &pageError{Status: http.StatusBadGateway, Title: "Code exchange failed",
			Description: "The provider's token endpoint could not be reached.", err: fmt.Errorf("exchange code: %w", err)}
	}

	p, err := a.verifyTokens(ctx, tok, pending.Nonce)
	if err != nil {
		return err
	}

	// A new session id on every sign-in prevents session fixation.
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.store.deleteSession(c.Value)
	}
	p.Expires = time.Now().Add(sessionLifetime)
	a.setCookie(w, sessionCookie, a.store.putSession(p), "/", sessionLifetime)
	http.Redirect(w, r, "/profile", http.StatusFound)
	return nil
}

// verifyTokens validates the token response's ID token against the nonce,
// fetches userinfo and builds the profile.
func (a *App) verifyTokens(ctx context.Context, tok *oauth2.Token, nonce string) (*profile, error) {
	invalid := func(desc string, err error) error {
		return &pageError{Status: http.StatusBadGateway, Title: "Invalid ID token", Code: "invalid_id_token", Description: desc, err: err}
	}
	rawIDToken, _ := tok.Extra("id_token").(string)
	if rawIDToken == "" {
		return nil, invalid("The token response has no id_token; was the openid scope granted?", nil)
	}
	// Signature, iss, aud, exp (OpenID Connect Core §3.1.3.7).
	idToken, err := a.verifier.Verify(ctx, rawIDToken)
	if err != nil {
		return nil, invalid("The ID token failed validation: "+err.Error(), err)
	}
	// OpenID Connect Core §3.1.3.7 step 11: the nonce MUST match the one sent.
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 {
		return nil, &pageError{Status: http.StatusBadRequest, Title: "Invalid ID token", Code: "nonce_mismatch",
			Description: "The ID token's nonce does not match the one this browser sent. Please log in again."}
	}
	// at_hash is optional in the code flow (Core §3.1.3.8), but binds the
	// access token to the ID token when present.
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, invalid("The ID token's at_hash does not match the access token.", err)
		}
	}
	var idClaims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	var idRaw json.RawMessage
	if err := idToken.Claims(&idClaims); err != nil {
		return nil, invalid("The ID token's claims could not be read.", err)
	}
	if err := idToken.Claims(&idRaw); err != nil {
		return nil, invalid("The ID token's claims could not be read.", err)
	}

	info, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, &pageError{Status: http.StatusBadGateway, Title: "Userinfo request failed",
			Description: "The provider's userinfo endpoint did not answer with the user's claims.", err: fmt.Errorf("userinfo: %w", err)}
	}
	// OpenID Connect Core §5.3.2: a userinfo response whose sub differs from
	// the ID token's MUST NOT be used.
	if info.Subject != idToken.Subject {
		return nil, &pageError{Status: http.StatusBadGateway, Title: "Userinfo request failed", Code: "subject_mismatch",
			Description: "The userinfo response is about a different user than the ID token."}
	}
	var infoClaims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	var infoRaw json.RawMessage
	if err := info.Claims(&infoClaims); err != nil {
		return nil, &pageError{Status: http.StatusBadGateway, Title: "Userinfo request failed", err: fmt.Errorf("userinfo claims: %w", err)}
	}
	if err := info.Claims(&infoRaw); err != nil {
		return nil, &pageError{Status: http.StatusBadGateway, Title: "Userinfo request failed", err: fmt.Errorf("userinfo claims: %w", err)}
	}

	scope, _ := tok.Extra("scope").(string)
	return &profile{
		Subject:         idToken.Subject,
		Email:           firstNonEmpty(infoClaims.Email, idClaims.Email),
		Name:            firstNonEmpty(infoClaims.Name, idClaims.Name),
		IDTokenClaims:   indentJSON(idRaw),
		UserInfo:        indentJSON(infoRaw),
		RawIDToken:      rawIDToken,
		AccessToken:     tok.AccessToken,
		Scope:           scope,
		Expiry:          tok.Expiry,
		HasRefreshToken: tok.RefreshToken != "",
	}, nil
}

// logout ends the local session and, when the provider supports it,
// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2).
func (a *App) logout(w http.ResponseWriter, r *http.Request) error {
	var idTokenHint string
	if c, err := r.Cookie(sessionCookie); err == nil {
		if p, ok := a.store.session(c.Value); ok {
			idTokenHint = p.RawIDToken
		}
		a.store.deleteSession(c.Value)
	}
	a.setCookie(w, sessionCookie, "", "/", -1)

	if a.endSessionURL == nil {
		http.Redirect(w, r, "/", http.StatusFound)
		return nil
	}
	u := *a.endSessionURL
	q := u.Query()
	q.Set("client_id", a.oauth2.ClientID)
	q.Set("post_logout_redirect_uri", a.baseURL+"/")
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// indentJSON pretty-prints raw JSON as received, keeping numbers such as
// exp and iat exactly as the provider wrote them.
func indentJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
