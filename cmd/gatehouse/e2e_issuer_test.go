package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"gatehouse/internal/config"
)

// An issuer written with a trailing slash, as the hosted service writes
// its own, is the iss of every token exactly as written, and the endpoints
// live under it without a double slash.
func TestEndToEndIssuerWithTrailingSlash(t *testing.T) {
	g := startGatehouse(t, func(c *config.Config) { c.Issuer += "/" })
	if !strings.HasSuffix(g.issuer, "/") {
		t.Fatalf("issuer %q", g.issuer)
	}
	base := strings.TrimSuffix(g.issuer, "/")
	id, secret := g.app(rpCallback, "--allow-offline-access")
	g.user(userEmail, userPass)

	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if doc["issuer"] != g.issuer {
		t.Errorf("discovery issuer %q, want %q", doc["issuer"], g.issuer)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"end_session_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		v, _ := doc[k].(string)
		if !strings.HasPrefix(v, base+"/") || strings.Contains(strings.TrimPrefix(v, "http://"), "//") {
			t.Errorf("%s = %q, want a URL under %s/ without //", k, v, base)
		}
	}

	// go-oidc discovers from the issuer as written and checks that the
	// document's issuer is exactly that string.
	r := newRP(t, g, id, secret)
	b := newBrowser(t, base)
	tok, idt := loginFlow(t, b, r)
	if idt.Issuer != g.issuer {
		t.Errorf("id token iss %q, want %q", idt.Issuer, g.issuer)
	}
	info, err := r.provider.UserInfo(t.Context(), r.conf.TokenSource(t.Context(), tok))
	if err != nil || info.Email != userEmail {
		t.Fatalf("userinfo: %v %+v", err, info)
	}
	tok.Expiry = tok.Expiry.Add(-24 * 365 * 3600e9) // force a refresh
	fresh, err := r.conf.TokenSource(t.Context(), tok).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	raw, _ := fresh.Extra("id_token").(string)
	if _, err := r.verifier.Verify(t.Context(), raw); err != nil {
		t.Errorf("refreshed id token: %v", err)
	}
}
