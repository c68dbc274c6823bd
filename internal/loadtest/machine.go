package loadtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// tokenMargin is how long before its expiry a worker of the management
// scenarios replaces its access token, so that no request carries one that
// expires on the way.
const tokenMargin = time.Minute

// clientToken runs a client_credentials grant (RFC 6749 §4.4) for the
// run's audience and checks the access token it returns.
func (r *runner) clientToken(ctx context.Context) (string, time.Time, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {r.cfg.Audience}}
	if len(r.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(r.cfg.Scopes, " "))
	}
	t, err := r.token(ctx, form)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("client_credentials: %w", err)
	}
	exp, err := r.checkAccessToken(ctx, t.AccessToken)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("client_credentials: %w", err)
	}
	if t.RefreshToken != "" {
		// RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
		return "", time.Time{}, errors.New("client_credentials: the response has a refresh token")
	}
	return t.AccessToken, exp, nil
}

// accessClaims are the claims of a JWT access token (RFC 9068 §2.2) the
// driver checks.
type accessClaims struct {
	Issuer   string          `json:"iss"`
	Audience json.RawMessage `json:"aud"`
	Subject  string          `json:"sub"`
	ClientID string          `json:"client_id"`
	Expiry   float64         `json:"exp"`
	IssuedAt float64         `json:"iat"`
	Scope    string          `json:"scope"`
}

// checkAccessToken verifies a JWT access token as a resource server would
// (RFC 9068 §4): its signature against the provider's JWKS, its type,
// issuer, audience, lifetime and client, and the scopes asked for. It
// returns the token's expiry.
func (r *runner) checkAccessToken(ctx context.Context, raw string) (time.Time, error) {
	header, _, ok := strings.Cut(raw, ".")
	if !ok {
		return time.Time{}, errors.New("access token: not a JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(header)
	var h struct {
		Typ string `json:"typ"`
	}
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return time.Time{}, errors.New("access token: unreadable JOSE header")
	}
	// RFC 9068 §2.1: "at+jwt", and §4: resource servers MUST check it.
	if typ := strings.ToLower(h.Typ); typ != "at+jwt" && typ != "application/at+jwt" {
		return time.Time{}, fmt.Errorf("access token: typ %q, want at+jwt", h.Typ)
	}
	payload, err := r.keySet.VerifySignature(ctx, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("access token: %w", err)
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return time.Time{}, fmt.Errorf("access token: claims: %w", err)
	}
	var aud []string
	if json.Unmarshal(c.Audience, &aud) != nil {
		var one string
		if json.Unmarshal(c.Audience, &one) != nil {
			return time.Time{}, fmt.Errorf("access token: aud %s is neither a string nor a list", c.Audience)
		}
		aud = []string{one}
	}
	exp := time.Unix(int64(c.Expiry), 0)
	now := time.Now()
	switch {
	case c.Issuer != r.issuer:
		return time.Time{}, fmt.Errorf("access token: iss %q, want %q", c.Issuer, r.issuer)
	case !slices.Contains(aud, r.cfg.Audience):
		return time.Time{}, fmt.Errorf("access token: aud %q, want %q among them", aud, r.cfg.Audience)
	case !exp.After(now):
		return time.Time{}, fmt.Errorf("access token: expired at %s", exp.UTC().Format(time.RFC3339))
	case c.IssuedAt == 0 || time.Unix(int64(c.IssuedAt), 0).After(now.Add(time.Minute)):
		return time.Time{}, fmt.Errorf("access token: iat %v is missing or in the future", c.IssuedAt)
	case c.ClientID != r.cfg.ClientID:
		return time.Time{}, fmt.Errorf("access token: client_id %q, want %q", c.ClientID, r.cfg.ClientID)
	case c.Subject == "":
		return time.Time{}, errors.New("access token: no sub")
	}
	granted := strings.Fields(c.Scope)
	for _, s := range r.cfg.Scopes {
		if !slices.Contains(granted, s) {
			return time.Time{}, fmt.Errorf("access token: scope %q lacks %q", c.Scope, s)
		}
	}
	return exp, nil
}

// setupMachine gets the access token of a management scenario's worker.
func (w *worker) setupMachine(ctx context.Context) error {
	if w.r.cfg.Scenario == ClientCredentials {
		return nil // every flow gets its own token
	}
	tok, exp, err := w.r.clientToken(ctx)
	if err != nil {
		return err
	}
	w.accessToken, w.tokenExp = tok, exp
	return nil
}

// machineFlow runs one flow of a machine-to-machine scenario.
func (w *worker) machineFlow(ctx context.Context) error {
	if w.r.cfg.Scenario == ClientCredentials {
		t0 := time.Now()
		if _, _, err := w.r.clientToken(ctx); err != nil {
			return err
		}
		w.observe(true, stepToken, t0)
		w.observe(true, stepFlow, t0)
		return nil
	}
	if w.accessToken == "" || time.Until(w.tokenExp) < tokenMargin {
		if err := w.setupMachine(ctx); err != nil {
			return fmt.Errorf("get a new access token: %w", err)
		}
	}
	t0 := time.Now()
	email := w.r.cfg.user(rand.IntN(w.r.cfg.Users) + 1)
	id, err := w.searchUser(ctx, email)
	if err != nil {
		return err
	}
	if w.r.cfg.Scenario == Mgmt {
		if err := w.getUser(ctx, id, email); err != nil {
			return err
		}
	}
	w.observe(true, stepFlow, t0)
	return nil
}

// apiUser is what the driver checks of a user of the management API.
type apiUser struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
}

// searchUser finds the user with email through the management API's
// search and returns its ID. Exactly that user must come back.
func (w *worker) searchUser(ctx context.Context, email string) (string, error) {
	q := url.Values{"q": {`email:"` + email + `"`}}
	t0 := time.Now()
	body, err := w.mgmtGet(ctx, "/users?"+q.Encode())
	if err != nil {
		return "", fmt.Errorf("search %s: %w", email, err)
	}
	w.observe(true, stepSearch, t0)
	var users []apiUser
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '{' {
		var paged struct {
			Users []apiUser `json:"users"`
		}
		err = json.Unmarshal(b, &paged)
		users = paged.Users
	} else {
		err = json.Unmarshal(b, &users)
	}
	if err != nil {
		return "", fmt.Errorf("search %s: decode the response: %w", email, err)
	}
	if len(users) != 1 || !strings.EqualFold(users[0].Email, email) || users[0].UserID == "" {
		return "", fmt.Errorf("search %s: %d users (%s), want that one user", email, len(users), truncate(string(body), 200))
	}
	return users[0].UserID, nil
}

// getUser reads the user id and checks that it is the one with email.
func (w *worker) getUser(ctx context.Context, id, email string) error {
	t0 := time.Now()
	body, err := w.mgmtGet(ctx, "/users/"+url.PathEscape(id))
	if err != nil {
		return fmt.Errorf("get user %s: %w", id, err)
	}
	w.observe(true, stepGetUser, t0)
	var u apiUser
	if err := json.Unmarshal(body, &u); err != nil {
		return fmt.Errorf("get user %s: decode the response: %w", id, err)
	}
	if u.UserID != id || !strings.EqualFold(u.Email, email) {
		return fmt.Errorf("get user %s: user %q with email %q, want the user %s found", id, u.UserID, u.Email, email)
	}
	return nil
}

// mgmtGet sends a GET to the management API with the worker's token and
// returns the body of a 200 response.
func (w *worker) mgmtGet(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.r.apiBase+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+w.accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	body, status, err := w.r.call(req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		if status == http.StatusUnauthorized {
			w.accessToken = "" // the next flow gets a new one
		}
		return nil, fmt.Errorf("status %d: %s", status, truncate(strings.TrimSpace(string(body)), 200))
	}
	return body, nil
}
