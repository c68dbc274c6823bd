package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const rpLogout = "http://127.0.0.1:5555/bye"

func TestEndToEndLogout(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party", "--logout-url", rpLogout)
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)

	loggedIn := func(t *testing.T, b *browser) bool {
		t.Helper()
		u, _ := r.authURL(oauth2.SetAuthURLParam("prompt", "none"))
		q := callbackParams(t, b.get(u), rpCallback)
		return q.Get("code") != ""
	}
	session := func(t *testing.T) (*browser, string) {
		b := newBrowser(t, g.issuer)
		tok, _ := loginFlow(t, b, r)
		return b, tok.Extra("id_token").(string)
	}
	forged := func(raw string) string { // header.payload of a real token, signature of nothing
		parts := strings.Split(raw, ".")
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("forged"))
	}
	algNone := func(raw string) string {
		parts := strings.Split(raw, ".")
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	}

	t.Run("id_token_hint and registered URL", func(t *testing.T) {
		b, idt := session(t)
		p := b.get(g.issuer + "/oidc/logout?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {rpLogout}, "state": {"s 1&x"}}.Encode())
		if p.location != rpLogout+"?state=s+1%26x" {
			t.Fatalf("redirect %q (status %d)", p.location, p.status)
		}
		if loggedIn(t, b) {
			t.Error("session survives logout: prompt=none still returns a code")
		}
	})

	refused := []struct {
		name   string
		params func(idt string) url.Values
	}{
		{"unregistered URL", func(idt string) url.Values {
			return url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/bye"}}
		}},
		{"trailing slash", func(idt string) url.Values {
			return url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {rpLogout + "/"}}
		}},
		{"added query", func(idt string) url.Values {
			return url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {rpLogout + "?x=1"}}
		}},
		{"look-alike host", func(idt string) url.Values {
			return url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"http://127.0.0.1:5555.evil.example/bye"}}
		}},
		{"forged hint", func(idt string) url.Values {
			return url.Values{"id_token_hint": {forged(idt)}, "post_logout_redirect_uri": {rpLogout}}
		}},
		{"alg none hint", func(idt string) url.Values {
			return url.Values{"id_token_hint": {algNone(idt)}, "post_logout_redirect_uri": {rpLogout}}
		}},
		{"hint for another client_id", func(idt string) url.Values {
			return url.Values{"id_token_hint": {idt}, "client_id": {"someone-else"}, "post_logout_redirect_uri": {rpLogout}}
		}},
		{"URL without client", func(string) url.Values {
			return url.Values{"post_logout_redirect_uri": {rpLogout}}
		}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			b, idt := session(t)
			p := b.get(g.issuer + "/oidc/logout?" + tt.params(idt).Encode())
			if p.status != http.StatusBadRequest || p.location != "" {
				t.Fatalf("status %d location %q, want an error page", p.status, p.location)
			}
			if !loggedIn(t, b) {
				t.Error("a refused logout ended the session")
			}
		})
	}

	t.Run("without hint asks for confirmation", func(t *testing.T) {
		b, _ := session(t)
		p := b.get(g.issuer + "/oidc/logout?" + url.Values{"client_id": {id}, "post_logout_redirect_uri": {rpLogout}, "state": {"abc"}}.Encode())
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="confirm"`) {
			t.Fatalf("confirmation page: %d %s", p.status, p.body)
		}
		if !loggedIn(t, b) {
			t.Fatal("the confirmation page alone ended the session")
		}
		p = b.post(g.issuer+"/oidc/logout", url.Values{"confirm": {"yes"}, "client_id": {id}, "post_logout_redirect_uri": {rpLogout}, "state": {"abc"}})
		if p.status != http.StatusSeeOther || p.location != rpLogout+"?state=abc" {
			t.Fatalf("confirmed logout: %d %q", p.status, p.location)
		}
		if loggedIn(t, b) {
			t.Error("session survives confirmed logout")
		}
	})

	t.Run("cross-site confirmation refused", func(t *testing.T) {
		b, _ := session(t)
		req, _ := http.NewRequest("POST", g.issuer+"/oidc/logout", strings.NewReader("confirm=yes"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := b.do(req); p.status != http.StatusForbidden {
			t.Fatalf("status %d", p.status)
		}
		if !loggedIn(t, b) {
			t.Error("cross-site logout ended the session")
		}
	})

	t.Run("v2 logout", func(t *testing.T) {
		b, _ := session(t)
		p := b.get(g.issuer + "/v2/logout?" + url.Values{"client_id": {id}, "returnTo": {"https://evil.example/"}}.Encode())
		if p.status != http.StatusBadRequest || p.location != "" {
			t.Fatalf("unregistered returnTo: %d %q", p.status, p.location)
		}
		p = b.get(g.issuer + "/v2/logout?" + url.Values{"client_id": {id}, "returnTo": {rpLogout}}.Encode())
		if p.location != rpLogout {
			t.Fatalf("registered returnTo: %d %q", p.status, p.location)
		}
		if loggedIn(t, b) {
			t.Error("session survives /v2/logout")
		}
	})
}

func TestEndToEndRevocation(t *testing.T) {
	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party", "--allow-offline-access")
	otherID, otherSecret := g.app(rpCallback)
	g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)

	revoke := func(clientID, clientSecret, tok string) (int, string) {
		form := url.Values{"token": {tok}}
		req, _ := http.NewRequest("POST", g.issuer+"/oauth/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if clientID != "" {
			req.SetBasicAuth(clientID, clientSecret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	works := func(tok *oauth2.Token) bool {
		_, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
		return err == nil
	}

	tok, _ := loginFlow(t, newBrowser(t, g.issuer), r)
	if code, body := revoke("", "", tok.RefreshToken); code != 401 || !strings.Contains(body, "invalid_client") {
		t.Errorf("unauthenticated revoke: %d %s", code, body)
	}
	if code, body := revoke(id, secret, ""); code != 400 || !strings.Contains(body, "invalid_request") {
		t.Errorf("missing token: %d %s", code, body)
	}
	if code, _ := revoke(id, secret, "no-such-token"); code != 200 {
		t.Errorf("unknown token: %d, want 200", code)
	}
	if code, body := revoke(otherID, otherSecret, tok.RefreshToken); code != 400 || !strings.Contains(body, "unauthorized_client") {
		t.Errorf("other client's token: %d %s", code, body)
	}
	if !works(tok) {
		t.Fatal("another client's revocation took effect")
	}
	// Revoking the refresh token revokes the family's access tokens too.
	if code, body := revoke(id, secret, tok.RefreshToken); code != 200 {
		t.Fatalf("revoke refresh token: %d %s", code, body)
	}
	if works(tok) {
		t.Error("access token survives the revocation of its refresh token")
	}
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	if _, err := r.conf.TokenSource(t.Context(), &expired).Token(); err == nil {
		t.Error("revoked refresh token still refreshes")
	}

	// An access token alone.
	tok2, _ := loginFlow(t, newBrowser(t, g.issuer), r)
	if code, _ := revoke(id, secret, tok2.AccessToken); code != 200 {
		t.Fatalf("revoke access token: %d", code)
	}
	if works(tok2) {
		t.Error("revoked access token still works at /userinfo")
	}
}
