package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"gatehouse/internal/config"
)

const apiID = "https://api.example.com"

// postForm posts a client-authenticated form and decodes the JSON answer.
func postForm(t *testing.T, endpoint, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// verifyJWT checks raw against the server's JWKS with go-jose and returns
// its header and claims.
func verifyJWT(t *testing.T, g *gatehouse, raw string) (jose.Header, map[string]any) {
	t.Helper()
	resp, err := http.Get(g.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", tok.Headers[0].KeyID)
	}
	claims := map[string]any{}
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	return tok.Headers[0], claims
}

func TestEndToEndAPIAccessTokens(t *testing.T) {
	g := startGatehouse(t, nil)
	if _, errOut, code := g.cli("", "apis", "create", "--identifier", apiID, "--name", "Example API",
		"--scope", "read:messages:Read your messages", "--scope", "write:messages", "--allow-offline-access"); code != 0 {
		t.Fatalf("apis create: %s", errOut)
	}
	if _, errOut, code := g.cli("", "apis", "create", "--identifier", "https://es.example.com", "--name", "ES API",
		"--signing-alg", "ES256", "--scope", "read"); code != 0 {
		t.Fatalf("apis create ES256: %s", errOut)
	}
	id, secret := g.app(rpCallback, "--allow-offline-access")
	otherID, otherSecret := g.app(rpCallback)
	userID := g.user(userEmail, userPass)
	r := newRP(t, g, id, secret, "openid", "profile", "read:messages", "unknown:scope", "offline_access")
	b := newBrowser(t, g.issuer)

	u, f := r.authURL(oauth2.SetAuthURLParam("audience", apiID))
	p := b.login(b.get(u), userEmail, userPass)
	if !strings.Contains(p.body, "Read your messages") || !strings.Contains(p.body, "Example API") {
		t.Fatalf("consent page lacks the API and its scope descriptions:\n%s", p.body)
	}
	tok, _ := r.exchange(callbackParams(t, b.consent(p, "accept"), rpCallback), f)
	if got := tok.Extra("scope"); got != "offline_access openid profile read:messages" {
		t.Errorf("granted scope = %v (unknown scopes must be dropped)", got)
	}

	// RFC 9068 access token.
	hdr, c := verifyJWT(t, g, tok.AccessToken)
	if hdr.ExtraHeaders["typ"] != "at+jwt" || hdr.Algorithm != "RS256" || hdr.KeyID == "" {
		t.Errorf("header = %+v", hdr)
	}
	aud, _ := c["aud"].([]any)
	if c["iss"] != g.issuer || c["sub"] != userID || c["client_id"] != id || c["scope"] != "offline_access openid profile read:messages" ||
		len(aud) != 2 || aud[0] != apiID || aud[1] != g.issuer+"/userinfo" || c["jti"] == "" || c["iat"] == nil || c["exp"] == nil {
		t.Errorf("claims = %v", c)
	}
	// The JWT works at /userinfo (its audience includes it).
	if info, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err != nil || info.Subject != userID {
		t.Errorf("userinfo with a JWT access token: %v", err)
	}
	// Introspection by a client of the API, and of garbage.
	code, body := postForm(t, g.issuer+"/oauth/introspect", otherID, otherSecret, url.Values{"token": {tok.AccessToken}})
	if code != 200 || body["active"] != true || body["sub"] != userID || body["scope"] != "offline_access openid profile read:messages" {
		t.Errorf("introspect: %d %v", code, body)
	}
	for _, bad := range []string{"garbage", tok.AccessToken + "x", tok.Extra("id_token").(string)} {
		if code, body := postForm(t, g.issuer+"/oauth/introspect", id, secret, url.Values{"token": {bad}}); code != 200 || body["active"] != false {
			t.Errorf("introspect %q: %d %v", bad[:10], code, body)
		}
	}
	if code, body := postForm(t, g.issuer+"/oauth/introspect", id, "wrong", url.Values{"token": {tok.AccessToken}}); code != 401 || body["error"] != "invalid_client" {
		t.Errorf("introspect with a wrong secret: %d %v", code, body)
	}
	// Refresh tokens introspect for their own client only.
	if _, body := postForm(t, g.issuer+"/oauth/introspect", id, secret, url.Values{"token": {tok.RefreshToken}}); body["active"] != true || body["token_type"] != "refresh_token" {
		t.Errorf("introspect refresh token: %v", body)
	}
	if _, body := postForm(t, g.issuer+"/oauth/introspect", otherID, otherSecret, url.Values{"token": {tok.RefreshToken}}); body["active"] != false {
		t.Errorf("another client introspected a refresh token: %v", body)
	}
	// A JWT cannot be revoked: the endpoint says so.
	if code, body := postForm(t, g.issuer+"/oauth/revoke", id, secret, url.Values{"token": {tok.AccessToken}}); code != 400 || body["error"] != "unsupported_token_type" {
		t.Errorf("revoke JWT: %d %v", code, body)
	}
	// Refresh returns a new JWT for the API.
	code, body = postForm(t, g.issuer+"/oauth/token", id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, body)
	}
	if _, c2 := verifyJWT(t, g, body["access_token"].(string)); c2["sub"] != userID || c2["jti"] == c["jti"] {
		t.Errorf("refreshed access token claims %v", c2)
	}

	// An ES256 API gets ES256 tokens; without offline access on the API, no
	// refresh token even though the app allows it.
	r2 := newRP(t, g, id, secret, "openid", "read", "offline_access")
	u, f = r2.authURL(oauth2.SetAuthURLParam("audience", "https://es.example.com"))
	tok2, _ := r2.exchange(callbackParams(t, b.consent(b.get(u), "accept"), rpCallback), f)
	if hdr, _ := verifyJWT(t, g, tok2.AccessToken); hdr.Algorithm != "ES256" {
		t.Errorf("ES256 API token alg %s", hdr.Algorithm)
	}
	if tok2.RefreshToken != "" || strings.Contains(tok2.Extra("scope").(string), "offline_access") {
		t.Error("refresh token issued for an API without offline access")
	}

	// Unknown audience.
	u, f = r.authURL(oauth2.SetAuthURLParam("audience", "https://nope.example.com"))
	q := callbackParams(t, b.get(u), rpCallback)
	if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "nope.example.com") || q.Get("state") != f.state {
		t.Errorf("unknown audience: %v", q)
	}
}

func TestEndToEndCustomClaims(t *testing.T) {
	g := startGatehouse(t, func(c *config.Config) {
		c.Claims = []config.ClaimRule{
			{Claim: "https://example.com/roles", From: "app_metadata.roles"},
			{Claim: "https://example.com/theme", From: "user_metadata.theme", Tokens: []string{"id_token"}},
		}
	})
	g.cli("", "apis", "create", "--identifier", apiID, "--name", "API", "--scope", "read")
	id, secret := g.app(rpCallback, "--first-party")
	userID := g.user(userEmail, userPass)
	if _, errOut, code := g.cli("", "users", "update", userID, "--app-metadata", `{"roles":["admin","editor"]}`, "--user-metadata", `{"theme":"dark"}`); code != 0 {
		t.Fatalf("users update: %s", errOut)
	}
	r := newRP(t, g, id, secret, "openid", "read")
	b := newBrowser(t, g.issuer)
	u, f := r.authURL(oauth2.SetAuthURLParam("audience", apiID))
	p := b.login(b.get(u), userEmail, userPass)
	if strings.HasPrefix(p.url.Path, "/u/consent") { // first-party apps still consent to APIs unless the API skips it
		p = b.consent(p, "accept")
	}
	tok, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	var ic map[string]any
	_ = idt.Claims(&ic)
	if roles, _ := ic["https://example.com/roles"].([]any); len(roles) != 2 || roles[0] != "admin" || ic["https://example.com/theme"] != "dark" {
		t.Errorf("id token custom claims: %v", ic)
	}
	_, ac := verifyJWT(t, g, tok.AccessToken)
	if roles, _ := ac["https://example.com/roles"].([]any); len(roles) != 2 {
		t.Errorf("access token lacks roles: %v", ac)
	}
	if _, ok := ac["https://example.com/theme"]; ok {
		t.Error("an id_token-only claim reached the access token")
	}
}

func TestCustomClaimsRefusedAtConfiguration(t *testing.T) {
	for _, tt := range []struct{ rule, want string }{
		{"claim: roles\n    from: app_metadata.roles", "must be namespaced"},
		{"claim: sub\n    from: app_metadata.x", "reserved"},
		{"claim: https://example.com/x\n    from: password_hash", "app_metadata.FIELD"},
	} {
		dir := t.TempDir()
		cfgFile := dir + "/g.yaml"
		writeFile(t, cfgFile, "db: sqlite:"+dir+"/g.db\nclaims:\n  - "+tt.rule+"\n")
		_, errOut, code := runCLI(t, "", "serve", "--config", cfgFile, "--addr", "127.0.0.1:0")
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("rule %q: exit %d, stderr %q, want %q", tt.rule, code, errOut, tt.want)
		}
	}
}

func TestEndToEndRefreshPolicy(t *testing.T) {
	// Rotated tokens strictly single-use, so that the overlap and the
	// replays below meet rotation alone: within the default grace period
	// a replay would get the successor again (TestCrashSafetySQLite).
	g := startGatehouse(t, func(c *config.Config) { c.Tokens.RefreshGrace = 0 })
	g.user(userEmail, userPass)
	refresh := func(id, secret, rt string) (int, map[string]any) {
		return postForm(t, g.issuer+"/oauth/token", id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}

	t.Run("lifetimes", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--access-token-ttl", "2m", "--id-token-ttl", "5m")
		tok, idt := loginFlow(t, newBrowser(t, g.issuer), newRP(t, g, id, secret))
		if d := time.Until(tok.Expiry); d < 100*time.Second || d > 125*time.Second {
			t.Errorf("access token expires in %v, want 2m", d)
		}
		if d := idt.Expiry.Sub(idt.IssuedAt); d != 5*time.Minute {
			t.Errorf("id token lifetime %v, want 5m", d)
		}
	})

	t.Run("overlap lets two tabs refresh at once", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access", "--refresh-overlap", "30s")
		tok, _ := loginFlow(t, newBrowser(t, g.issuer), newRP(t, g, id, secret))
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range codes {
			wg.Go(func() { codes[i], _ = refresh(id, secret, tok.RefreshToken) })
		}
		wg.Wait()
		if codes[0] != 200 || codes[1] != 200 {
			t.Fatalf("concurrent refreshes within the overlap: %v", codes)
		}
		// A third use is a replay: refused, and the family is revoked.
		if code, body := refresh(id, secret, tok.RefreshToken); code != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("third use: %d %v", code, body)
		}
	})

	t.Run("without overlap a concurrent replay revokes the family", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access")
		tok, _ := loginFlow(t, newBrowser(t, g.issuer), newRP(t, g, id, secret))
		code, body := refresh(id, secret, tok.RefreshToken)
		if code != 200 {
			t.Fatal(body)
		}
		next := body["refresh_token"].(string)
		if code, _ := refresh(id, secret, tok.RefreshToken); code != 400 {
			t.Fatalf("replay: %d", code)
		}
		if code, _ := refresh(id, secret, next); code != 400 {
			t.Error("the newest token survives a replay of its predecessor")
		}
	})

	t.Run("no rotation", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access", "--no-refresh-rotation")
		tok, _ := loginFlow(t, newBrowser(t, g.issuer), newRP(t, g, id, secret))
		for i := range 2 {
			code, body := refresh(id, secret, tok.RefreshToken)
			if code != 200 || body["refresh_token"] != nil {
				t.Fatalf("use %d: %d %v", i, code, body)
			}
		}
	})

	t.Run("absolute lifetime", func(t *testing.T) {
		id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access", "--refresh-absolute", "1s", "--refresh-idle", "1s")
		tok, _ := loginFlow(t, newBrowser(t, g.issuer), newRP(t, g, id, secret))
		time.Sleep(1100 * time.Millisecond)
		if code, body := refresh(id, secret, tok.RefreshToken); code != 400 || body["error"] != "invalid_grant" {
			t.Errorf("refresh after the absolute lifetime: %d %v", code, body)
		}
	})
}
