package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestEndToEndRBAC: an operator turns RBAC and the permissions claim on
// for an API with the CLI, in the hosted service's token profile, and
// gives a user a role. A relying party built on x/oauth2 and go-oidc logs
// the user in: the consent page asks only for what the user may get, and
// the access token carries only that, which go-jose and go-oidc accept as
// an API written against the hosted service would. A role given over
// /api/v2 reaches the next refreshed token, and the next login asks for
// consent to it.
func TestEndToEndRBAC(t *testing.T) {
	g := startGatehouse(t, nil)
	mustCLI := func(args ...string) string {
		t.Helper()
		out, errOut, code := g.cli("", args...)
		if code != 0 {
			t.Fatalf("gatehouse %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	mustCLI("apis", "create", "--identifier", apiID, "--name", "Messages", "--allow-offline-access",
		"--scope", "read:messages:Read your messages", "--scope", "write:messages:Write messages as you",
		"--scope", "delete:messages:Delete your messages")
	mustCLI("apis", "update", apiID, "--rbac", "--token-dialect", "access_token", "--permissions-claim")
	if out := mustCLI("apis", "show", apiID); !strings.Contains(out, `"token_dialect": "access_token_authz"`) || !strings.Contains(out, `"rbac": true`) {
		t.Fatalf("apis show: %s", out)
	}
	userID := g.user(userEmail, userPass)
	mustCLI("roles", "create", "--name", "Reader")
	mustCLI("roles", "add-permissions", "Reader", "--api", apiID, "--permissions", "read:messages")
	mustCLI("roles", "assign", "Reader", "--user", userEmail)
	id, secret := g.app(rpCallback, "--allow-offline-access") // third party: it asks for consent

	r := newRP(t, g, id, secret, "openid", "profile", "offline_access", "read:messages", "write:messages", "delete:messages")
	b := newBrowser(t, g.issuer)
	u, f := r.authURL(oauth2.SetAuthURLParam("audience", apiID))
	p := b.login(b.get(u), userEmail, userPass)
	if !strings.Contains(p.body, "Read your messages") || strings.Contains(p.body, "Write messages as you") || strings.Contains(p.body, "Delete your messages") {
		t.Fatalf("the consent page asks for scopes the user cannot get:\n%s", p.body)
	}
	tok, _ := r.exchange(callbackParams(t, b.consent(p, "accept"), rpCallback), f)
	if got := tok.Extra("scope"); got != "offline_access openid profile read:messages" {
		t.Errorf("granted scope %v", got)
	}

	// As an API written against the hosted service checks it: go-jose
	// against the JWKS, the profile's claims and no others.
	hdr, c := verifyJWT(t, g, tok.AccessToken)
	if hdr.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("typ %v, want JWT", hdr.ExtraHeaders["typ"])
	}
	if c["azp"] != id || c["sub"] != userID || c["iss"] != g.issuer || c["scope"] != "offline_access openid profile read:messages" {
		t.Errorf("claims %v", c)
	}
	for _, absent := range []string{"jti", "client_id", "auth_time"} {
		if _, ok := c[absent]; ok {
			t.Errorf("claim %s in the access_token profile: %v", absent, c)
		}
	}
	if perms, _ := c["permissions"].([]any); len(perms) != 1 || perms[0] != "read:messages" {
		t.Errorf("permissions %v", c["permissions"])
	}
	// go-oidc's verifier, with the API as the audience.
	v := r.provider.Verifier(&oidc.Config{ClientID: apiID})
	if _, err := v.Verify(t.Context(), tok.AccessToken); err != nil {
		t.Errorf("go-oidc refused the access token: %v", err)
	}
	// Gatehouse itself takes the token at /userinfo.
	if info, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err != nil || info.Subject != userID {
		t.Errorf("userinfo: %v", err)
	}

	// A role with write:messages, given over the management API, counts at
	// the next refresh.
	audience := g.issuer + "/api/v2/"
	m2mID, m2mSecret := g.m2mApp(audience, "create:roles update:roles update:users read:roles read:users")
	mc := (&clientcredentials.Config{ClientID: m2mID, ClientSecret: m2mSecret, TokenURL: g.issuer + "/oauth/token",
		EndpointParams: url.Values{"audience": {audience}}}).Client(t.Context())
	call := func(method, path string, body any, want int, out any) {
		t.Helper()
		j, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(t.Context(), method, g.issuer+"/api/v2"+path, bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		resp, err := mc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			var e map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&e)
			t.Fatalf("%s %s: %d %v, want %d", method, path, resp.StatusCode, e, want)
		}
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var writer struct {
		ID string `json:"id"`
	}
	call("POST", "/roles", map[string]any{"name": "Writer"}, 200, &writer)
	call("POST", "/roles/"+writer.ID+"/permissions", map[string]any{"permissions": []map[string]any{
		{"resource_server_identifier": apiID, "permission_name": "write:messages"}}}, 201, nil)
	call("POST", "/users/"+url.PathEscape(userID)+"/roles", map[string]any{"roles": []string{writer.ID}}, 204, nil)
	var ps []struct {
		PermissionName string `json:"permission_name"`
	}
	call("GET", "/users/"+url.PathEscape(userID)+"/permissions", nil, 200, &ps)
	if len(ps) != 2 {
		t.Fatalf("user permissions over the API: %+v", ps)
	}

	refreshed, err := r.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if got := refreshed.Extra("scope"); got != "offline_access openid profile read:messages write:messages" {
		t.Errorf("refreshed scope %v", got)
	}
	_, c = verifyJWT(t, g, refreshed.AccessToken)
	var perms []string
	for _, p := range c["permissions"].([]any) {
		perms = append(perms, p.(string))
	}
	if !slices.Equal(perms, []string{"read:messages", "write:messages"}) {
		t.Errorf("refreshed permissions %q", perms)
	}

	// The remembered consent does not cover write:messages: the next login
	// asks for it, and still not for delete:messages.
	u, f = r.authURL(oauth2.SetAuthURLParam("audience", apiID))
	p = b.get(u)
	if !strings.HasPrefix(p.url.Path, "/u/consent") || !strings.Contains(p.body, "Write messages as you") || strings.Contains(p.body, "Delete your messages") {
		t.Fatalf("second login: %s\n%s", p.url, p.body)
	}
	tok, _ = r.exchange(callbackParams(t, b.consent(p, "accept"), rpCallback), f)
	if got := tok.Extra("scope"); got != "offline_access openid profile read:messages write:messages" {
		t.Errorf("second login's scope %v", got)
	}
	// Remembered now: a third login needs no page.
	u, f = r.authURL(oauth2.SetAuthURLParam("audience", apiID))
	r.exchange(callbackParams(t, b.get(u), rpCallback), f)
}
