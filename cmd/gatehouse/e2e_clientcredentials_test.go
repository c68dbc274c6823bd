package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// m2mApp registers a machine-to-machine application through the CLI and
// grants it scopes of the API; it returns its id and secret.
func (g *gatehouse) m2mApp(audience, scope string) (id, secret string) {
	g.t.Helper()
	out, errOut, code := g.cli("", "apps", "create", "--type", "m2m", "--name", "Backend")
	if code != 0 {
		g.t.Fatalf("apps create --type m2m: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`client_id: (\S+)\nclient_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		g.t.Fatalf("apps create printed %q", out)
	}
	if _, errOut, code := g.cli("", "client-grants", "create", "--client-id", m[1], "--audience", audience, "--scope", scope); code != 0 {
		g.t.Fatalf("client-grants create: exit %d: %s", code, errOut)
	}
	return m[1], m[2]
}

// checkClientToken verifies a client_credentials access token with go-jose
// against the server's JWKS, as the API would, and checks its claims.
func checkClientToken(t *testing.T, g *gatehouse, raw, clientID, audience, alg, scope string, ttl time.Duration) {
	t.Helper()
	h, claims := verifyJWT(t, g, raw)
	if h.Algorithm != alg || h.ExtraHeaders["typ"] != "at+jwt" {
		t.Errorf("header alg %s typ %v, want %s at+jwt", h.Algorithm, h.ExtraHeaders["typ"], alg)
	}
	var std jwt.Claims
	b, _ := json.Marshal(claims)
	if err := json.Unmarshal(b, &std); err != nil {
		t.Fatal(err)
	}
	if err := std.Validate(jwt.Expected{Issuer: g.issuer, AnyAudience: jwt.Audience{audience}, Subject: clientID + "@clients", Time: time.Now()}); err != nil {
		t.Errorf("claims %v: %v", claims, err)
	}
	if std.Expiry.Time().Sub(std.IssuedAt.Time()) != ttl || std.ID == "" {
		t.Errorf("iat %v exp %v jti %q; want a lifetime of %v", std.IssuedAt, std.Expiry, std.ID, ttl)
	}
	for k, want := range map[string]any{"client_id": clientID, "azp": clientID, "gty": "client-credentials", "scope": scope} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
}

// TestEndToEndClientCredentials registers an API, an m2m application and
// its client grant with the CLI, then gets tokens for it with
// golang.org/x/oauth2/clientcredentials, both client authentication
// styles, and with the hosted service's curl request.
func TestEndToEndClientCredentials(t *testing.T) {
	g := startGatehouse(t, nil)
	const api = "https://api.example.com"
	if _, errOut, code := g.cli("", "apis", "create", "--identifier", api, "--name", "API", "--signing-alg", "EdDSA",
		"--token-lifetime", "15m", "--scope", "read:things", "--scope", "write:things", "--scope", "admin"); code != 0 {
		t.Fatalf("apis create: %s", errOut)
	}
	id, secret := g.m2mApp(api, "read:things write:things")

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: g.issuer + "/oauth/token",
			Scopes: []string{"read:things", "admin"}, EndpointParams: url.Values{"audience": {api}}, AuthStyle: style}
		tok, err := cfg.Token(t.Context())
		if err != nil {
			t.Fatalf("auth style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken != "" || tok.Extra("id_token") != nil || tok.Extra("scope") != "read:things" {
			t.Errorf("auth style %d: token %+v", style, tok)
		}
		if left := time.Until(tok.Expiry); left < 14*time.Minute || left > 15*time.Minute {
			t.Errorf("expires in %v, want the API's 15m", left)
		}
		checkClientToken(t, g, tok.AccessToken, id, api, "EdDSA", "read:things", 15*time.Minute)
	}

	// The library's error for a scope the application was not granted.
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: g.issuer + "/oauth/token",
		Scopes: []string{"admin"}, EndpointParams: url.Values{"audience": {api}}}
	_, err := cfg.Token(t.Context())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Errorf("ungranted scope: %v, want invalid_scope", err)
	}

	// The hosted service's request, as its curl sends it: a form with
	// everything in the body and no scope.
	body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret + "&audience=" + api
	req, _ := http.NewRequest("POST", g.issuer+"/oauth/token", strings.NewReader(body))
	req.Header.Add("content-type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, Cache-Control %q: %s", resp.StatusCode, resp.Header.Get("Cache-Control"), raw)
	}
	var tr map[string]any
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	if tr["token_type"] != "Bearer" || tr["expires_in"] != float64(900) || tr["scope"] != "read:things write:things" || tr["refresh_token"] != nil || tr["id_token"] != nil {
		t.Errorf("response %s", raw)
	}
	access, _ := tr["access_token"].(string)
	checkClientToken(t, g, access, id, api, "EdDSA", "read:things write:things", 15*time.Minute)

	// Discovery lists the grant.
	resp, err = http.Get(g.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || !strings.Contains(strings.Join(doc.GrantTypes, " "), "client_credentials") {
		t.Errorf("grant_types_supported %v (%v)", doc.GrantTypes, err)
	}

	// Deleting the grant ends it; a web application never had it.
	out, _, _ := g.cli("", "client-grants", "list", "--client-id", id)
	grant := regexp.MustCompile(`cgr_[0-9a-f]{16}`).FindString(out)
	if _, errOut, code := g.cli("", "client-grants", "delete", grant); code != 0 {
		t.Fatalf("client-grants delete %q: %s", grant, errOut)
	}
	cfg.Scopes = nil
	if _, err := cfg.Token(t.Context()); !errors.As(err, &re) || re.ErrorCode != "access_denied" || re.Response.StatusCode != http.StatusForbidden {
		t.Errorf("after the grant was deleted: %v, want 403 access_denied", err)
	}
	webID, webSecret := g.app(rpCallback)
	web := clientcredentials.Config{ClientID: webID, ClientSecret: webSecret, TokenURL: g.issuer + "/oauth/token",
		EndpointParams: url.Values{"audience": {api}}}
	if _, err := web.Token(t.Context()); !errors.As(err, &re) || re.ErrorCode != "unauthorized_client" {
		t.Errorf("web application: %v, want unauthorized_client", err)
	}
}
