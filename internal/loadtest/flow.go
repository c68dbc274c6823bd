package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// authRequest is one authorization request and the secrets the client keeps
// for it.
type authRequest struct {
	url      string
	state    string
	nonce    string
	verifier string // PKCE code verifier; "" without PKCE
}

func (r *runner) newAuthRequest() authRequest {
	a := authRequest{state: random(), nonce: random()}
	q := r.authURL.Query()
	q.Set("response_type", "code")
	q.Set("client_id", r.cfg.ClientID)
	q.Set("redirect_uri", r.cfg.RedirectURI)
	q.Set("scope", strings.Join(r.cfg.Scopes, " "))
	q.Set("state", a.state)
	q.Set("nonce", a.nonce)
	if r.cfg.PKCE {
		a.verifier = oauth2.GenerateVerifier()
		q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(a.verifier))
		q.Set("code_challenge_method", "S256")
	}
	u := *r.authURL
	u.RawQuery = q.Encode()
	a.url = u.String()
	return a
}

// random returns 128 random bits, base64url.
func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorize drives one authorization request in b to its code: the
// authorization endpoint, then the login and consent pages as they come.
// With allowLogin false a login page is an error: the browser was meant to
// have a session. timed says whether its steps count in the report.
func (w *worker) authorize(ctx context.Context, b *browser, a authRequest, allowLogin, timed bool) (string, error) {
	t0 := time.Now()
	p, err := b.get(ctx, a.url)
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	w.observe(timed, stepAuthorize, t0)
	loggedIn, consented := false, false
	for range 4 {
		if p.callback != nil {
			return w.r.code(p.callback, a)
		}
		doc := parseHTML(p.body)
		if f, v, ok := doc.loginForm(w.user, w.r.cfg.Password); ok {
			switch {
			case loggedIn:
				return "", fmt.Errorf("login refused: %s", p.describe())
			case !allowLogin:
				return "", fmt.Errorf("the provider asked for the password again: the session was not kept (%s)", p.describe())
			}
			t0 = time.Now()
			if p, err = b.submit(ctx, p.url, f, v); err != nil {
				return "", fmt.Errorf("login: %w", err)
			}
			w.observe(timed, stepLogin, t0)
			loggedIn = true
			continue
		}
		if f, v, ok := doc.consentForm(); ok {
			if consented {
				return "", fmt.Errorf("consent page shown again after accepting: %s", p.describe())
			}
			t0 = time.Now()
			if p, err = b.submit(ctx, p.url, f, v); err != nil {
				return "", fmt.Errorf("consent: %w", err)
			}
			w.observe(timed, stepConsent, t0)
			consented = true
			continue
		}
		return "", fmt.Errorf("authorize: no login or consent form: %s", p.describe())
	}
	return "", errors.New("authorize: still no redirect to the redirect URI after four pages")
}

// code checks the authorization response at the redirect URI (RFC 6749
// §4.1.2, RFC 9207) and returns its code.
func (r *runner) code(cb *url.URL, a authRequest) (string, error) {
	q := cb.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if got := q.Get("state"); got != a.state {
		return "", fmt.Errorf("authorization response: state %q, want the request's %q", got, a.state)
	}
	if iss, ok := q["iss"]; ok && (len(iss) != 1 || iss[0] != r.issuer) {
		return "", fmt.Errorf("authorization response: iss %q, want %q", iss, r.issuer)
	}
	c := q.Get("code")
	if c == "" {
		return "", errors.New("authorization response: no code")
	}
	return c, nil
}

// tokens is a token endpoint success response (RFC 6749 §5.1).
type tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

// redeem exchanges a code at the token endpoint.
func (r *runner) redeem(ctx context.Context, code string, a authRequest) (tokens, error) {
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {r.cfg.RedirectURI},
	}
	if a.verifier != "" {
		form.Set("code_verifier", a.verifier)
	}
	t, err := r.token(ctx, form)
	if err != nil {
		return t, fmt.Errorf("code exchange: %w", err)
	}
	return t, nil
}

// refresh runs a refresh-token grant.
func (r *runner) refresh(ctx context.Context, refreshToken string) (tokens, error) {
	t, err := r.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	if err != nil {
		return t, fmt.Errorf("refresh: %w", err)
	}
	return t, nil
}

// token posts a grant to the token endpoint with the client's credentials.
func (r *runner) token(ctx context.Context, form url.Values) (tokens, error) {
	if !r.basicAuth {
		form.Set("client_id", r.cfg.ClientID)
		form.Set("client_secret", r.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if r.basicAuth {
		// RFC 6749 §2.3.1: form-encoded before the Basic encoding.
		req.SetBasicAuth(url.QueryEscape(r.cfg.ClientID), url.QueryEscape(r.cfg.ClientSecret))
	}
	body, status, err := r.call(req)
	if err != nil {
		return tokens{}, err
	}
	if status != http.StatusOK {
		return tokens{}, protocolError(status, body)
	}
	var t tokens
	if err := json.Unmarshal(body, &t); err != nil {
		return tokens{}, fmt.Errorf("decode the token response: %w", err)
	}
	if t.AccessToken == "" || !strings.EqualFold(t.TokenType, "bearer") {
		return tokens{}, fmt.Errorf("token response without a bearer access token (token_type %q)", t.TokenType)
	}
	return t, nil
}

// call sends an API request and reads the response.
func (r *runner) call(req *http.Request) ([]byte, int, error) {
	resp, err := r.api.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, 0, fmt.Errorf("read the response: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return body, resp.StatusCode, nil
}

// protocolError turns an error response into an error naming its RFC 6749
// §5.2 code and description when it has them.
func protocolError(status int, body []byte) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("status %d: %s: %s", status, e.Error, e.Description)
	}
	return fmt.Errorf("status %d: %s", status, truncate(strings.TrimSpace(string(body)), 200))
}

// idWant is what a response's ID token must say besides what the verifier
// checks (signature, iss, aud, exp).
type idWant struct {
	required bool   // the response must carry an ID token
	nonce    string // the authorization request's nonce
	// refreshed: the token comes from a refresh, where the nonce may be
	// absent but, when present, is the original one (OIDC Core §12.2).
	refreshed bool
	sub       string // the subject of the earlier tokens of the chain, if any
}

// checkTokens validates the ID token of a token response, so that speed
// never hides a broken answer, and returns its subject (want.sub when the
// response has no ID token).
func (r *runner) checkTokens(ctx context.Context, t tokens, want idWant) (string, error) {
	if t.IDToken == "" {
		if want.required {
			return "", errors.New("the token response has no id_token")
		}
		return want.sub, nil
	}
	idt, err := r.verifier.Verify(ctx, t.IDToken)
	if err != nil {
		return "", fmt.Errorf("id token: %w", err)
	}
	switch {
	case want.refreshed && idt.Nonce != "" && idt.Nonce != want.nonce,
		!want.refreshed && idt.Nonce != want.nonce:
		return "", fmt.Errorf("id token: nonce %q, want the request's %q", idt.Nonce, want.nonce)
	case want.sub != "" && idt.Subject != want.sub:
		return "", fmt.Errorf("id token: sub %q, want %q as before", idt.Subject, want.sub)
	case idt.Subject == "":
		return "", errors.New("id token: no sub")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(t.AccessToken); err != nil {
			return "", fmt.Errorf("id token: at_hash: %w", err)
		}
	}
	return idt.Subject, nil
}

// userinfo calls the UserInfo endpoint and checks that it speaks of sub.
func (r *runner) userinfo(ctx context.Context, accessToken, sub string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.userinfoURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	body, status, err := r.call(req)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("userinfo: %w", protocolError(status, body))
	}
	// OIDC Core §5.3.2: a JSON object whose sub is the ID token's. (A
	// signed response would be application/jwt; the driver does not ask
	// for one.)
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(body, &claims); err != nil {
		return fmt.Errorf("userinfo: decode the response: %w", err)
	}
	if claims.Sub != sub {
		return fmt.Errorf("userinfo: sub %q, want the ID token's %q", claims.Sub, sub)
	}
	return nil
}
