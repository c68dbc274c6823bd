package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/web"
)

// supportedScopes are the scopes Gatehouse understands without an API
// audience; others are dropped from the request (RFC 6749 §3.3 lets the
// server grant less than asked, and the token response says what it granted).
var supportedScopes = []string{"openid", "profile", "email", "offline_access"}

// authorizeParams is an /authorize request, parsed once.
type authorizeParams struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	ResponseMode        string
	Scope               string
	State               string
	Nonce               string
	Prompt              string
	MaxAge              string
	LoginHint           string
	CodeChallenge       string
	CodeChallengeMethod string
	Connection          string
	Organization        string
	Invitation          string
	Audience            string
	ACRValues           string
	Request             string
	RequestURI          string
	Registration        string
	ScreenHint          string

	hasRedirectURI bool
	duplicate      string // the first parameter given more than once
	// tooLarge names the first parameter over its limit (authorizeLimits,
	// maxScopeValues) and tooLargeMsg says how; that parameter is blanked,
	// so an oversized value is never stored or echoed.
	tooLarge, tooLargeMsg string
}

func parseAuthorize(v url.Values) authorizeParams {
	var a authorizeParams
	fields := map[string]*string{
		"client_id": &a.ClientID, "redirect_uri": &a.RedirectURI, "response_type": &a.ResponseType,
		"response_mode": &a.ResponseMode, "scope": &a.Scope, "state": &a.State, "nonce": &a.Nonce,
		"prompt": &a.Prompt, "max_age": &a.MaxAge, "login_hint": &a.LoginHint,
		"code_challenge": &a.CodeChallenge, "code_challenge_method": &a.CodeChallengeMethod,
		"connection": &a.Connection, "organization": &a.Organization, "invitation": &a.Invitation,
		"audience": &a.Audience, "acr_values": &a.ACRValues, "request": &a.Request, "request_uri": &a.RequestURI,
		"registration": &a.Registration, "screen_hint": &a.ScreenHint,
	}
	for name, dst := range fields {
		vals, ok := v[name]
		if !ok {
			continue
		}
		// RFC 6749 §3.1: request parameters MUST NOT be included more than once.
		if len(vals) > 1 && a.duplicate == "" {
			a.duplicate = name
		}
		*dst = vals[0]
	}
	_, a.hasRedirectURI = v["redirect_uri"]
	for _, l := range authorizeLimits {
		if !slices.ContainsFunc(v[l.name], func(s string) bool { return len(s) > l.max }) {
			continue
		}
		*fields[l.name] = ""
		if a.tooLarge == "" {
			a.tooLarge, a.tooLargeMsg = l.name, fmt.Sprintf("the %s parameter is longer than %d bytes", l.name, l.max)
		}
	}
	if a.tooLarge == "" && len(strings.Fields(a.Scope)) > maxScopeValues {
		a.Scope = ""
		a.tooLarge, a.tooLargeMsg = "scope", fmt.Sprintf("the scope parameter has more than %d values", maxScopeValues)
	}
	return a
}

// authorize handles GET and POST /authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	var v url.Values
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			if formTooLarge(err) {
				p.errorPage(w, http.StatusRequestEntityTooLarge, ErrInvalidRequest, fmt.Sprintf("The request is larger than %d KiB.", maxFormBytes>>10))
				return
			}
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The request body could not be read.")
			return
		}
		v = r.PostForm
	} else {
		v = r.URL.Query()
	}
	a := parseAuthorize(v)
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // never 307 after a POST: it would re-post the form to the client
	}

	// RFC 6749 §4.1.2.1: without a valid client and redirect URI the error
	// is shown to the user and never sent to the unverified URI.
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(v[name]) > 1 {
			p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, fmt.Sprintf("The %s parameter was given more than once.", name))
			return
		}
	}
	if a.tooLarge == "client_id" || a.tooLarge == "redirect_uri" {
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, fmt.Sprintf("The %s parameter is too long.", a.tooLarge))
		return
	}
	if a.ClientID == "" {
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The client_id parameter is missing.")
		return
	}
	client, err := p.cfg.Store.GetClient(r.Context(), a.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "Unknown client: no application is registered with this client_id.")
		return
	}
	if err != nil {
		p.internalErrorPage(w, "authorize: get client", err)
		return
	}
	if !a.hasRedirectURI && slices.Contains(strings.Fields(a.Scope), "openid") {
		// OIDC Core §3.1.2.1: redirect_uri is REQUIRED in OpenID requests,
		// even when the application has a single callback URL.
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The redirect_uri parameter is missing: OpenID Connect requests must name their callback URL.")
		return
	}
	redirectURI, ok := matchRedirectURI(client, a.RedirectURI, a.hasRedirectURI)
	if !ok {
		msg := "The redirect_uri is not registered for this application. Add it to the application's allowed callback URLs."
		if !a.hasRedirectURI {
			msg = "The redirect_uri parameter is missing and the application has several callback URLs."
		}
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, msg)
		return
	}

	to := responder{redirectURI: redirectURI, mode: errorMode(a), state: a.State, status: status}
	if to.mode == modeWebMessage && !slices.Contains(webOrigins(client), originOf(redirectURI)) {
		// The answer could reach no window: postMessage goes only to an
		// allowed web origin of the application.
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "response_mode=web_message needs a redirect_uri on one of the application's web origins.")
		return
	}

	// From here on every error goes back to the client's redirect URI.
	req, oerr, err := p.validateAuthorize(r.Context(), a, client)
	if err != nil {
		p.internalErrorPage(w, "authorize: validate", err)
		return
	}
	if oerr != nil {
		p.respondError(w, r, to, oerr)
		return
	}
	req.RedirectURI = redirectURI
	// The request is stored only when a page needs it: a session that
	// gets its code at once costs one write, the code.
	p.run(w, r, &flow{req: req, client: client, status: status, promptNone: slices.Contains(req.Prompt, "none"),
		signup: a.ScreenHint == "signup"})
}

// matchRedirectURI compares the requested URI with the registered ones by
// exact string match, after dropping any fragment (RFC 6749 §3.1.2 forbids
// fragments; the seed drops everything after '#').
func matchRedirectURI(c store.Client, requested string, given bool) (string, bool) {
	if !given {
		if len(c.Callbacks) == 1 {
			return c.Callbacks[0], true
		}
		return "", false
	}
	if i := strings.IndexByte(requested, '#'); i >= 0 {
		requested = requested[:i]
	}
	if requested != "" && slices.Contains(c.Callbacks, requested) {
		return requested, true
	}
	if requested != "" && c.Type == store.ClientNative && slices.ContainsFunc(c.Callbacks, loopbackMatch(requested)) {
		return requested, true
	}
	return "", false
}

// pkceChallenge is the shape of an S256 code challenge (RFC 7636 §4.2).
var pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

// validateAuthorize checks everything that is reported to the client by
// redirect, and builds the stored request.
func (p *Provider) validateAuthorize(ctx context.Context, a authorizeParams, client store.Client) (store.AuthRequest, *Error, error) {
	req, oerr := p.checkAuthorize(a, client)
	if oerr != nil {
		return req, oerr, nil
	}
	if a.Connection != "" {
		conn, err := p.cfg.Store.GetConnection(ctx, a.Connection)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return req, nil, fmt.Errorf("get connection: %w", err)
		}
		if err != nil || !slices.Contains(conn.EnabledClients, client.ID) {
			return req, newError(ErrInvalidRequest, "connection %s does not exist or is not enabled for this application", a.Connection), nil
		}
	}
	if oerr, err := p.validateOrganization(ctx, a, client, &req); oerr != nil || err != nil {
		return req, oerr, err
	}
	var api *store.API
	if a.Audience != "" && a.Audience == store.ManagementAudience(p.cfg.Issuer) {
		// Management scopes (delete:users, …) are for applications of the
		// operator, through client grants, never for whoever logs in.
		return req, newError(ErrInvalidRequest, "audience %s accepts client credentials only", a.Audience), nil
	}
	if a.Audience != "" {
		got, err := p.cfg.Store.GetAPI(ctx, a.Audience)
		if errors.Is(err, store.ErrNotFound) {
			return req, newError(ErrInvalidRequest, "audience %s is not a registered API", a.Audience), nil
		}
		if err != nil {
			return req, nil, fmt.Errorf("get api: %w", err)
		}
		api = &got
		req.Audience = got.Identifier
	}
	req.Scopes = parseScopes(a.Scope, api)
	if !client.AllowOfflineAccess || (api != nil && !api.AllowOfflineAccess) {
		// Without "Allow Offline Access" on the application (and on the API)
		// no refresh token is issued; the granted scope says so.
		req.Scopes = slices.DeleteFunc(req.Scopes, func(s string) bool { return s == "offline_access" })
	}
	return req, nil, nil
}

// checkAuthorize checks the parameters that need no lookup.
func (p *Provider) checkAuthorize(a authorizeParams, client store.Client) (store.AuthRequest, *Error) {
	if a.duplicate != "" {
		return store.AuthRequest{}, newError(ErrInvalidRequest, "the %s parameter was given more than once", a.duplicate)
	}
	if a.tooLarge != "" {
		return store.AuthRequest{}, newError(ErrInvalidRequest, "%s", a.tooLargeMsg)
	}
	switch {
	case a.Request != "":
		return store.AuthRequest{}, newError("request_not_supported", "request objects are not supported")
	case a.RequestURI != "":
		return store.AuthRequest{}, newError("request_uri_not_supported", "request_uri is not supported")
	case a.Registration != "":
		return store.AuthRequest{}, newError("registration_not_supported", "the registration parameter is not supported")
	}
	if a.ResponseType == "" {
		return store.AuthRequest{}, newError(ErrInvalidRequest, "the response_type parameter is missing")
	}
	typ, ok := parseResponseType(a.ResponseType)
	if !ok {
		return store.AuthRequest{}, newError(ErrUnsupportedResponseType, "response_type %s is not supported; use code, id_token or code id_token", a.ResponseType)
	}
	mode, ok := resolveMode(a.ResponseMode, typ)
	if !ok {
		return store.AuthRequest{}, newError(ErrInvalidRequest, "response_mode %s is not supported for response_type %s; use %s", a.ResponseMode, typ, strings.Join(responseModesSupported, ", "))
	}
	if hasCode(typ) && !slices.Contains(client.GrantTypes, store.GrantAuthorizationCode) {
		return store.AuthRequest{}, newError(ErrUnauthorizedClient, "the application may not use the authorization code grant")
	}
	if hasIDToken(typ) {
		// An ID token from the authorization endpoint is the implicit
		// grant's (OIDC Core §3.2, §3.3): only for applications allowed it,
		// only for OpenID requests, and bound to the client's nonce
		// (§3.2.2.1: REQUIRED), its one defence against replay.
		switch {
		case !slices.Contains(client.GrantTypes, store.GrantImplicit):
			return store.AuthRequest{}, newError(ErrUnauthorizedClient, "the application may not receive ID tokens from the authorization endpoint (the implicit grant is off)")
		case !slices.Contains(strings.Fields(a.Scope), "openid"):
			return store.AuthRequest{}, newError(ErrInvalidRequest, "response_type %s needs the openid scope", typ)
		case a.Nonce == "":
			return store.AuthRequest{}, newError(ErrInvalidRequest, "response_type %s needs a nonce", typ)
		}
	}

	prompt := strings.Fields(a.Prompt)
	for _, v := range prompt {
		switch v {
		case "none", "login", "consent", "select_account":
		default:
			return store.AuthRequest{}, newError(ErrInvalidRequest, "prompt value %s is not supported", v)
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return store.AuthRequest{}, newError(ErrInvalidRequest, "prompt=none cannot be combined with other prompt values")
	}

	maxAge := -1
	if a.MaxAge != "" {
		n, err := strconv.Atoi(a.MaxAge)
		if err != nil || n < 0 {
			return store.AuthRequest{}, newError(ErrInvalidRequest, "max_age must be a non-negative integer number of seconds")
		}
		maxAge = n
	}

	if a.CodeChallenge != "" || a.CodeChallengeMethod != "" {
		switch {
		case a.CodeChallenge == "":
			return store.AuthRequest{}, newError(ErrInvalidRequest, "code_challenge_method was given without code_challenge")
		case a.CodeChallengeMethod != "S256":
			// RFC 7636 §4.3: an absent method means plain, which Gatehouse refuses.
			return store.AuthRequest{}, newError(ErrInvalidRequest, "code_challenge_method must be S256")
		case !pkceChallenge.MatchString(a.CodeChallenge):
			return store.AuthRequest{}, newError(ErrInvalidRequest, "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]")
		}
	}
	if oerr := checkPKCERequired(client, a.ResponseType, a.CodeChallenge); oerr != nil {
		return store.AuthRequest{}, oerr
	}

	now := p.now()
	return store.AuthRequest{
		ID:                  token.NewOpaque(),
		ClientID:            client.ID,
		ResponseMode:        encodeResponse(mode, typ),
		State:               a.State,
		Nonce:               a.Nonce,
		Prompt:              prompt,
		MaxAge:              maxAge,
		LoginHint:           a.LoginHint,
		CodeChallenge:       a.CodeChallenge,
		CodeChallengeMethod: a.CodeChallengeMethod,
		Connection:          a.Connection,
		ACRValues:           strings.Fields(a.ACRValues),
		CreatedAt:           now,
		ExpiresAt:           now.Add(p.cfg.AuthRequestTTL),
	}, nil
}

// parseScopes splits a scope parameter and keeps, once each and in a
// stable order, the OpenID scopes and the scopes of the requested API.
func parseScopes(s string, api *store.API) []string {
	var out []string
	for _, v := range strings.Fields(s) {
		if slices.Contains(out, v) {
			continue
		}
		if slices.Contains(supportedScopes, v) || (api != nil && slices.ContainsFunc(api.Scopes, func(sc store.APIScope) bool { return sc.Name == v })) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// resume continues a stored request after a hosted page (login, consent).
// Only the browser that started the request may continue it: a resume
// link opened anywhere else (a victim lured to someone else's pending
// request) shows an error page and never issues a code.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id := r.URL.Query().Get("req")
	req, err := p.cfg.Store.GetAuthRequest(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || id == "" {
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "This login request has expired or was already completed. Go back to the application and log in again.")
		return
	}
	if err != nil {
		p.internalErrorPage(w, "resume: get request", err)
		return
	}
	if !p.cfg.Binder.Owns(r, req) {
		p.cfg.Log.Info("authorization request resumed by another browser", "client_id", req.ClientID)
		p.errorPage(w, http.StatusForbidden, ErrAccessDenied, "This login was started in another browser. Go back to the application and log in again.")
		return
	}
	client, err := p.cfg.Store.GetClient(r.Context(), req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, ErrInvalidRequest, "The application was removed.")
		return
	}
	if err != nil {
		p.internalErrorPage(w, "resume: get client", err)
		return
	}
	p.run(w, r, &flow{req: req, client: client, stored: true, status: http.StatusFound,
		promptNone: slices.Contains(req.Prompt, "none")})
}

// appendQuery adds q to a registered redirect URI, keeping its own query.
func appendQuery(base string, q url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q.Encode()
}

// errorPage shows an error to the user without redirecting anywhere.
func (p *Provider) errorPage(w http.ResponseWriter, status int, code, msg string) {
	p.cfg.Pages.Error(w, status, web.ErrorPage{Page: web.Page{Error: msg}, Code: code})
}

func (p *Provider) internalErrorPage(w http.ResponseWriter, op string, err error) {
	e := p.internalError(op, err)
	msg := "The server could not complete the request. Try again in a moment."
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
		msg = "The service is temporarily unavailable. Try again in a moment."
	}
	p.cfg.Pages.Error(w, e.Status, web.ErrorPage{Page: web.Page{Error: msg}, Code: e.Code})
}

// sid is the "sid" claim for a session id.
func sid(sessionID string) string { return session.PublicID(store.Session{ID: sessionID}) }
