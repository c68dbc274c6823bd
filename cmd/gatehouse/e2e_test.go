package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/internal/config"
)

const (
	rpCallback = "http://127.0.0.1:5555/callback"
	userEmail  = "alice@example.com"
	userPass   = "correct horse battery"
)

// rp is a relying party built from the stock client libraries.
type rp struct {
	t        *testing.T
	g        *gatehouse
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, g *gatehouse, clientID, secret string, scopes ...string) *rp {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), g.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	return &rp{
		t: t, g: g, provider: provider,
		conf: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
			RedirectURL: rpCallback, Scopes: scopes},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
	}
}

// flow is one authorization request's secrets.
type flow struct {
	state, nonce, verifier string
}

func (r *rp) authURL(opts ...oauth2.AuthCodeOption) (string, flow) {
	f := flow{state: oauth2.GenerateVerifier()[:20], nonce: oauth2.GenerateVerifier()[:20], verifier: oauth2.GenerateVerifier()}
	opts = append(opts, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
	return r.conf.AuthCodeURL(f.state, opts...), f
}

// exchange redeems the code from a callback and verifies the ID token.
func (r *rp) exchange(q url.Values, f flow) (*oauth2.Token, *oidc.IDToken) {
	r.t.Helper()
	if q.Get("error") != "" {
		r.t.Fatalf("authorization error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		r.t.Fatalf("state %q, want %q", q.Get("state"), f.state)
	}
	if q.Get("iss") != r.g.issuer {
		r.t.Fatalf("iss %q, want %q", q.Get("iss"), r.g.issuer)
	}
	tok, err := r.conf.Exchange(r.t.Context(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.t.Context(), raw)
	if err != nil {
		r.t.Fatalf("verify id token: %v", err)
	}
	if idt.Nonce != f.nonce {
		r.t.Fatalf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		r.t.Fatalf("at_hash: %v", err)
	}
	return tok, idt
}

// loginFlow runs authorize → login → consent (when asked) → callback.
func loginFlow(t *testing.T, b *browser, r *rp, opts ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	u, f := r.authURL(opts...)
	p := b.get(u)
	if strings.HasPrefix(p.url.Path, "/u/login") {
		p = b.login(p, userEmail, userPass)
	}
	if p.url != nil && strings.HasPrefix(p.url.Path, "/u/consent") {
		p = b.consent(p, "accept")
	}
	return r.exchange(callbackParams(t, p, rpCallback), f)
}

type claims struct {
	Sub           string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Name          string `json:"name"`
	Nickname      string `json:"nickname"`
	AuthTime      int64  `json:"auth_time"`
	Sid           string `json:"sid"`
	UpdatedAt     int64  `json:"updated_at"`
}

func TestEndToEndLoginConsentUserinfo(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--allow-offline-access")
	userID := g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)

	u, f := r.authURL()
	p := b.get(u)
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("login page: %d %s", p.status, p.body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"} {
		if p.header.Get(h) == "" {
			t.Errorf("login page lacks %s", h)
		}
	}
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP %q lacks frame-ancestors 'none'", p.header.Get("Content-Security-Policy"))
	}
	p = b.login(p, userEmail, userPass)
	if !strings.Contains(p.body, "Test App") || !strings.Contains(p.body, "See your email address") {
		t.Fatalf("consent page: %s", p.body)
	}
	p = b.consent(p, "accept")
	tok, idt := r.exchange(callbackParams(t, p, rpCallback), f)

	var c claims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Sub != userID || !strings.HasPrefix(c.Sub, "gatehouse|") {
		t.Errorf("sub = %q, want %q", c.Sub, userID)
	}
	if c.Email != userEmail || c.EmailVerified == nil || c.Name != "Test User" || c.Sid == "" || c.AuthTime == 0 || c.UpdatedAt == 0 {
		t.Errorf("id token claims = %+v", c)
	}
	if idt.Issuer != g.issuer || !slices.Equal(idt.Audience, []string{id}) {
		t.Errorf("iss/aud = %q %q", idt.Issuer, idt.Audience)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token despite offline_access and --allow-offline-access")
	}
	if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token type %q expiry %v", tok.TokenType, tok.Expiry)
	}
	if got := tok.Extra("scope"); got != "email offline_access openid profile" {
		t.Errorf("scope = %v", got)
	}

	info, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != userID || info.Email != userEmail {
		t.Errorf("userinfo = %+v", info)
	}

	// SSO: a second authorization in the same browser skips the login page
	// and, consent being remembered, the consent page.
	u, f = r.authURL()
	p = b.get(u)
	_, idt2 := r.exchange(callbackParams(t, p, rpCallback), f)
	if idt2.Subject != idt.Subject {
		t.Errorf("sub changed across logins: %q vs %q", idt2.Subject, idt.Subject)
	}

	// New scopes ask for consent again.
	r2 := newRP(t, g, id, secret, oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess)
	r2.conf.Scopes = []string{oidc.ScopeOpenID}
	u, _ = r2.authURL(oauth2.SetAuthURLParam("prompt", "consent"))
	p = b.get(u)
	if !strings.HasPrefix(p.url.Path, "/u/consent") {
		t.Errorf("prompt=consent did not show the consent page: %s", p.url)
	}
}

func TestEndToEndFirstPartySkipsConsentAndNoRefreshWithoutOffline(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)
	u, f := r.authURL()
	p := b.login(b.get(u), userEmail, userPass)
	tok, _ := r.exchange(callbackParams(t, p, rpCallback), f)
	if tok.RefreshToken != "" {
		t.Error("refresh token issued to an app without offline access")
	}
	if got := tok.Extra("scope"); got != "email openid profile" {
		t.Errorf("scope = %v, want offline_access dropped", got)
	}
}

func TestEndToEndPromptAndMaxAge(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)

	// prompt=none without a session.
	u, f := r.authURL(oauth2.SetAuthURLParam("prompt", "none"))
	q := callbackParams(t, b.get(u), rpCallback)
	if q.Get("error") != "login_required" || q.Get("state") != f.state || q.Get("code") != "" {
		t.Fatalf("prompt=none without session: %v", q)
	}

	_, first := loginFlow(t, b, r)
	var c1 claims
	_ = first.Claims(&c1)

	// prompt=none with a session: a code without any page.
	u, f = r.authURL(oauth2.SetAuthURLParam("prompt", "none"))
	r.exchange(callbackParams(t, b.get(u), rpCallback), f)

	// prompt=login shows the login page again and gives a later auth_time.
	time.Sleep(1100 * time.Millisecond)
	u, f = r.authURL(oauth2.SetAuthURLParam("prompt", "login"))
	p := b.get(u)
	if !strings.HasPrefix(p.url.Path, "/u/login") {
		t.Fatalf("prompt=login went to %s", p.url)
	}
	_, again := r.exchange(callbackParams(t, b.login(p, userEmail, userPass), rpCallback), f)
	var c2 claims
	_ = again.Claims(&c2)
	if c2.AuthTime <= c1.AuthTime {
		t.Errorf("auth_time after prompt=login %d, not later than %d", c2.AuthTime, c1.AuthTime)
	}

	// max_age=0 forces a new login; a large max_age does not.
	u, _ = r.authURL(oauth2.SetAuthURLParam("max_age", "0"))
	if p := b.get(u); !strings.HasPrefix(p.url.Path, "/u/login") {
		t.Errorf("max_age=0 went to %s", p.url)
	}
	u, f = r.authURL(oauth2.SetAuthURLParam("max_age", "3600"))
	_, idt := r.exchange(callbackParams(t, b.get(u), rpCallback), f)
	var c3 claims
	_ = idt.Claims(&c3)
	if c3.AuthTime != c2.AuthTime {
		t.Errorf("auth_time %d, want the session's %d", c3.AuthTime, c2.AuthTime)
	}
}

func TestEndToEndConsentDenied(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback)
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)
	u, f := r.authURL()
	p := b.consent(b.login(b.get(u), userEmail, userPass), "deny")
	q := callbackParams(t, p, rpCallback)
	if q.Get("error") != "access_denied" || q.Get("state") != f.state || q.Get("code") != "" {
		t.Fatalf("deny: %v", q)
	}
	// Without consent, prompt=none answers consent_required.
	u, _ = r.authURL(oauth2.SetAuthURLParam("prompt", "none"))
	if q := callbackParams(t, b.get(u), rpCallback); q.Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %v", q)
	}
}

func TestEndToEndRefreshRotationAndReuse(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--allow-offline-access", "--first-party")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)
	tok, idt := loginFlow(t, b, r)

	refresh := func(rt string, extra url.Values) (*http.Response, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}, "client_secret": {secret}}
		for k, v := range extra {
			form[k] = v
		}
		resp, err := http.PostForm(g.issuer+"/oauth/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}

	// x/oauth2's own refresh: a new access token and a rotated refresh token.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	next, err := r.conf.TokenSource(t.Context(), &expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	newID, err := r.verifier.Verify(t.Context(), next.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("refreshed id token: %v", err)
	}
	if newID.Subject != idt.Subject || newID.Issuer != idt.Issuer || !slices.Equal(newID.Audience, idt.Audience) {
		t.Error("refreshed id token has other iss/sub/aud")
	}

	// A narrower scope is honoured; a wider one is refused.
	resp, body := refresh(next.RefreshToken, url.Values{"scope": {"openid profile"}})
	if resp.StatusCode != 200 || body["scope"] != "openid profile" {
		t.Fatalf("narrower refresh: %d %v", resp.StatusCode, body)
	}
	latest := body["refresh_token"].(string)
	if resp, body := refresh(latest, url.Values{"scope": {"openid admin"}}); resp.StatusCode != 400 || body["error"] != "invalid_scope" {
		t.Fatalf("wider refresh: %d %v", resp.StatusCode, body)
	}

	// Another client may not use it.
	otherID, otherSecret := g.app(rpCallback, "--allow-offline-access")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {latest}}
	req, _ := http.NewRequest("POST", g.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(otherID, otherSecret)
	if resp := must[*http.Response](t)(http.DefaultClient.Do(req)); resp.StatusCode != 400 {
		t.Fatalf("other client's refresh: %d", resp.StatusCode)
	}

	// Replaying a rotated token revokes the whole family.
	if resp, body := refresh(tok.RefreshToken, nil); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", resp.StatusCode, body)
	}
	if resp, body := refresh(latest, nil); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("family member after reuse: %d %v", resp.StatusCode, body)
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(next)); err == nil {
		t.Error("access token of a revoked family still works at /userinfo")
	}
}

func TestEndToEndCodeReuseRevokesTokens(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)
	u, f := r.authURL()
	q := callbackParams(t, b.login(b.get(u), userEmail, userPass), rpCallback)
	tok, _ := r.exchange(q, f)
	_, err := r.conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("second redemption: %v", err)
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("access token from the first redemption still works")
	}
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	if _, err := r.conf.TokenSource(t.Context(), &expired).Token(); err == nil {
		t.Error("refresh token from the first redemption still works")
	}
}

// TestSeedTokenRequest sends the seed's own curl request: form body with
// client_id and client_secret, content-type header, nothing else.
func TestSeedTokenRequest(t *testing.T) {
	g := startGatehouse(t, nil)
	// New applications require PKCE; the seed's request has none, as an
	// application registered before the setting existed may still send.
	id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access", "--require-pkce=false")
	g.user(userEmail, userPass)
	b := newBrowser(t, g.issuer)
	// The seed's basic authorization request, without PKCE or nonce.
	authz := g.issuer + "/authorize?response_type=code&client_id=" + url.QueryEscape(id) +
		"&redirect_uri=" + url.QueryEscape(rpCallback) + "&scope=openid%20profile%20email%20offline_access&state=xyzABC123"
	q := callbackParams(t, b.login(b.get(authz), userEmail, userPass), rpCallback)
	if q.Get("state") != "xyzABC123" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	body := "grant_type=authorization_code&client_id=" + id + "&client_secret=" + secret +
		"&code=" + q.Get("code") + "&redirect_uri=" + rpCallback
	req, _ := http.NewRequest("POST", g.issuer+"/oauth/token", strings.NewReader(body))
	req.Header.Add("content-type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var tr map[string]any
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token", "token_type", "expires_in", "scope"} {
		if tr[k] == nil || tr[k] == "" {
			t.Errorf("response lacks %s: %s", k, raw)
		}
	}
	if tr["token_type"] != "Bearer" {
		t.Errorf("token_type %v", tr["token_type"])
	}
}

func TestEndToEndKeyRotation(t *testing.T) {
	g := startGatehouse(t, func(c *config.Config) { c.Tokens.KeysCacheTTL = config.Duration(200 * time.Millisecond) })
	id, secret := g.app(rpCallback, "--first-party")
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	b := newBrowser(t, g.issuer)
	tok, _ := loginFlow(t, b, r)
	oldRaw := tok.Extra("id_token").(string)
	oldKid := kidOf(t, oldRaw)

	out, errOut, code := g.cli("", "keys", "rotate", "--force") // the keys were made a moment ago
	if code != 0 {
		t.Fatalf("keys rotate: %s", errOut)
	}
	if !strings.Contains(out, "previous") || !strings.Contains(out, oldKid) {
		t.Errorf("keys rotate output lacks the old key as previous:\n%s", out)
	}
	time.Sleep(300 * time.Millisecond)

	// A fresh verifier (empty JWKS cache) still accepts the old token.
	fresh := newRP(t, g, id, secret)
	if _, err := fresh.verifier.Verify(context.Background(), oldRaw); err != nil {
		t.Errorf("token signed before rotation fails after: %v", err)
	}
	// New tokens are signed with the new key, which both verifiers accept:
	// it was published (as "next") before it signed anything.
	tok2, _ := loginFlow(t, b, r)
	newRaw := tok2.Extra("id_token").(string)
	if kidOf(t, newRaw) == oldKid {
		t.Error("still signing with the old key after rotation")
	}
	if _, err := fresh.verifier.Verify(context.Background(), newRaw); err != nil {
		t.Errorf("new token: %v", err)
	}
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	hdr, err := base64URLDecode(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(hdr, &h); err != nil || h.Kid == "" {
		t.Fatalf("header %s: %v", hdr, err)
	}
	return h.Kid
}

func TestHealthAndMetrics(t *testing.T) {
	g := startGatehouse(t, nil)
	b := newBrowser(t, g.issuer)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok"} {
		if p := b.get(g.issuer + path); p.status != 200 || !strings.Contains(p.body, want) {
			t.Errorf("%s: %d %q", path, p.status, p.body)
		}
	}
	b.get(g.issuer + "/.well-known/openid-configuration")
	b.get(g.issuer + "/no/such/page")
	p := b.get(g.issuer + "/metrics")
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",method="GET",route="GET /.well-known/openid-configuration"} 1`,
		`gatehouse_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		"gatehouse_http_request_duration_seconds_bucket",
		"go_goroutines",
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
