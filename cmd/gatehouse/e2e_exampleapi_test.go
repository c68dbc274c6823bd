package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	exampleapi "gatehouse/examples/api"
	"gatehouse/examples/webapp"
)

// TestEndToEndExampleAPI: the example web app logs a user in with the API
// as audience and calls the example API with the access token; the API
// refuses expired, wrong-audience and wrong-signature tokens.
func TestEndToEndExampleAPI(t *testing.T) {
	g := startGatehouse(t, nil)
	for _, args := range [][]string{
		{"apis", "create", "--identifier", apiID, "--name", "Example API", "--scope", "read:messages:Read your messages"},
		{"apis", "create", "--identifier", "https://other.example.com", "--name", "Other API", "--scope", "read:messages"},
	} {
		if _, errOut, code := g.cli("", args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	g.user(userEmail, userPass)

	api, err := exampleapi.New(t.Context(), exampleapi.Config{Issuer: g.issuer, Audience: apiID})
	if err != nil {
		t.Fatal(err)
	}
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)

	// The example web app, configured for the API.
	appSrv := httptest.NewUnstartedServer(nil)
	appURL := "http://" + appSrv.Listener.Addr().String()
	id, secret := g.app(appURL+"/callback", "--first-party")
	app, err := webapp.New(t.Context(), webapp.Config{
		Issuer: g.issuer, ClientID: id, ClientSecret: secret, BaseURL: appURL, Audience: apiID,
		Scopes: []string{"openid", "profile", "email", "read:messages"}, APIURL: apiSrv.URL + "/api/messages",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	appSrv.Config.Handler = app
	appSrv.Start()
	t.Cleanup(appSrv.Close)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(u string) (*http.Response, string) {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(u string, v url.Values) (*http.Response, string) {
		resp, err := c.PostForm(u, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(appURL + "/login")
	v := formValues(t, page{body: body, url: resp.Request.URL})
	v.Set("email", userEmail)
	v.Set("password", userPass)
	resp, body = post(g.issuer+"/u/login", v)
	if strings.HasPrefix(resp.Request.URL.Path, "/u/consent") { // first-party apps consent to APIs unless the API skips it
		v = formValues(t, page{body: body, url: resp.Request.URL})
		v.Set("action", "accept")
		resp, body = post(g.issuer+"/u/consent", v)
	}
	if resp.Request.URL.Path != "/profile" || !strings.Contains(body, userEmail) {
		t.Fatalf("login through the example app ended at %s:\n%s", resp.Request.URL, body)
	}
	_, body = get(appURL + "/call-api")
	if !strings.Contains(body, `<span id="api-status">200</span>`) || !strings.Contains(body, "messages") {
		t.Fatalf("the API refused the app's token:\n%s", body)
	}

	callAPI := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", apiSrv.URL+"/api/messages", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}

	// Tokens from a stock relying party: one for another API, one tampered.
	rpID, rpSecret := g.app(rpCallback, "--first-party")
	r := newRP(t, g, rpID, rpSecret, "openid", "read:messages")
	b := newBrowser(t, g.issuer)
	u, f := r.authURL(oauth2.SetAuthURLParam("audience", "https://other.example.com"))
	p := b.login(b.get(u), userEmail, userPass)
	if strings.HasPrefix(p.url.Path, "/u/consent") {
		p = b.consent(p, "accept")
	}
	other, _ := r.exchange(callbackParams(t, p, rpCallback), f)
	u, f = r.authURL(oauth2.SetAuthURLParam("audience", apiID))
	p = b.get(u)
	if strings.HasPrefix(p.url.Path, "/u/consent") {
		p = b.consent(p, "accept")
	}
	good, _ := r.exchange(callbackParams(t, p, rpCallback), f)
	if code, _ := callAPI(good.AccessToken); code != 200 {
		t.Fatalf("good token: %d", code)
	}

	// An expired token, genuinely signed by Gatehouse's key.
	expired := signWithServerKey(t, g, map[string]any{
		"iss": g.issuer, "sub": "gatehouse|x", "aud": apiID, "client_id": rpID, "scope": "read:messages",
		"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix(), "jti": "expired-1",
	})
	tampered := good.AccessToken[:len(good.AccessToken)-4] + "AAAA"
	if tampered == good.AccessToken {
		tampered = good.AccessToken[:len(good.AccessToken)-4] + "BBBB"
	}
	for _, tt := range []struct{ name, tok string }{
		{"wrong audience", other.AccessToken},
		{"expired", expired},
		{"wrong signature", tampered},
		{"id token", good.Extra("id_token").(string)},
	} {
		code, challenge := callAPI(tt.tok)
		if code != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
			t.Errorf("%s: status %d, WWW-Authenticate %q", tt.name, code, challenge)
		}
	}
}

// signWithServerKey signs an access token with the server's current key, as
// read from its database with its master key.
func signWithServerKey(t *testing.T, g *gatehouse, claims map[string]any) string {
	t.Helper()
	st, err := openStore(t.Context(), g.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := openKeys(t.Context(), g.cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := keys.SignWith(t.Context(), "RS256", claims, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
