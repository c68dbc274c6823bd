package oauth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// rpFlow runs an authorization code flow with PKCE the way an x/oauth2
// relying party does, for a logged-in browser, and returns the token.
func (e *env) rpFlow(t *testing.T, conf *oauth2.Config, cookie *http.Cookie, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	authURL, err := url.Parse(conf.AuthCodeURL("state-123", append(opts, oauth2.S256ChallengeOption(verifier))...))
	if err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/authorize", authURL.Query(), cookie)
	loc := location(t, r)
	if loc.Query().Get("state") != "state-123" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize redirected to %s", loc)
	}
	if got := withoutQuery(loc); got != conf.RedirectURL {
		t.Fatalf("redirected to %s, want %s", got, conf.RedirectURL)
	}
	ctx := oidc.ClientContext(t.Context(), e.http)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// rpConfig is an x/oauth2 configuration of client c with redirect URI cb.
func (e *env) rpConfig(c client, cb string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: cb, Scopes: []string{oidc.ScopeOpenID, "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// verifyIDToken verifies the token's ID token with go-oidc, accepting
// only alg.
func (e *env) verifyIDToken(t *testing.T, tok *oauth2.Token, clientID, alg string) *oidc.IDToken {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), e.http)
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.VerifierContext(ctx, &oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{alg}}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify %s ID token: %v", alg, err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	return idt
}

// freePort is a port nothing listens on, as a native app picks one.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func TestSPAAndNativeCodeFlows(t *testing.T) {
	e := newEnv(t)
	_, _, cookie := e.login(t)
	public := oauth.NewClientParams{FirstParty: true, TokenEndpointAuthMethod: store.AuthMethodNone}

	spaP := public
	spaP.Type, spaP.Callbacks = store.ClientSPA, []string{"https://spa.example/cb"}
	spa := e.newClient(t, spaP)
	tok := e.rpFlow(t, e.rpConfig(spa, "https://spa.example/cb"), cookie)
	e.verifyIDToken(t, tok, spa.ID, "RS256")

	nativeP := public
	nativeP.Type = store.ClientNative
	nativeP.Callbacks = []string{"http://127.0.0.1/cb", "http://[::1]/cb", "com.example.app:/callback", "http://localhost/cb"}
	native := e.newClient(t, nativeP)
	for _, cb := range []string{
		"http://127.0.0.1:" + freePort(t) + "/cb",
		"http://127.0.0.1:" + freePort(t) + "/cb", // another run, another port
		"http://[::1]:" + freePort(t) + "/cb",
		"http://127.0.0.1/cb",
		"com.example.app:/callback",
		"http://localhost/cb",
	} {
		t.Run(cb, func(t *testing.T) {
			tok := e.rpFlow(t, e.rpConfig(native, cb), cookie)
			e.verifyIDToken(t, tok, native.ID, "RS256")
		})
	}

	webP := oauth.NewClientParams{FirstParty: true, Callbacks: []string{"http://127.0.0.1/cb"}}
	web := e.newClient(t, webP)
	port := freePort(t)
	refused := []struct {
		name string
		c    client
		cb   string
	}{
		{"localhost with a port", native, "http://localhost:" + port + "/cb"},
		{"another path", native, "http://127.0.0.1:" + port + "/other"},
		{"https loopback", native, "https://127.0.0.1:" + port + "/cb"},
		{"a query added", native, "http://127.0.0.1:" + port + "/cb?x=1"},
		{"IPv4 registration, IPv6 request", native, "http://[::1]:" + port + "/other"},
		{"another private-use scheme", native, "com.evil.app:/callback"},
		{"port wildcard for a web app", web, "http://127.0.0.1:" + port + "/cb"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			q := authQuery(tt.c)
			q.Set("redirect_uri", tt.cb)
			r := e.get(t, "/authorize", q, cookie)
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Errorf("status %d, Location %q; want 400 and no redirect", r.status, r.header.Get("Location"))
			}
		})
	}
}

func TestPKCERequired(t *testing.T) {
	e := newEnv(t)
	_, _, cookie := e.login(t)
	spa := e.newClient(t, oauth.NewClientParams{FirstParty: true, Type: store.ClientSPA, TokenEndpointAuthMethod: store.AuthMethodNone})
	strict := e.newClientWith(t, oauth.NewClientParams{FirstParty: true}, func(c *store.Client) { c.RequirePKCE = true })
	lax := e.newClient(t, oauth.NewClientParams{FirstParty: true})

	for _, c := range []client{spa, strict} {
		r := e.get(t, "/authorize", authQuery(c), cookie)
		q := location(t, r).Query()
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Errorf("authorize without PKCE for %s: %s", c.ID, r.header.Get("Location"))
		}
	}
	// PKCE still works for the confidential client, with its secret.
	tok := e.rpFlow(t, e.rpConfig(strict, loopbackCB), cookie)
	e.verifyIDToken(t, tok, strict.ID, "RS256")

	// An application without the setting is served without PKCE; a code
	// it got before the setting was turned on is refused afterwards.
	code := e.code(t, lax, cookie, nil)
	stored, err := e.st.GetClient(t.Context(), lax.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.RequirePKCE = true
	if err := e.st.UpdateClient(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	r := e.tokenReq(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {loopbackCB},
		"client_id": {lax.ID}, "client_secret": {lax.Secret}}, nil)
	checkError(t, r, http.StatusBadRequest, "invalid_grant")
}

func TestIDTokenAlgorithm(t *testing.T) {
	e := newEnv(t)
	_, _, cookie := e.login(t)
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			c := e.newClientWith(t, oauth.NewClientParams{FirstParty: true}, func(c *store.Client) { c.IDTokenSigningAlg = alg })
			tok := e.rpFlow(t, e.rpConfig(c, loopbackCB), cookie)
			e.verifyIDToken(t, tok, c.ID, alg)
		})
	}
	var doc struct {
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		AuthAlgs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(e.get(t, "/.well-known/openid-configuration", nil, nil).body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Algs) != 3 || doc.Algs[0] != "RS256" {
		t.Errorf("id_token_signing_alg_values_supported %q, want RS256 first, then ES256 and EdDSA", doc.Algs)
	}
	if len(doc.AuthAlgs) != 3 || !containsAll(doc.AuthMethods, "private_key_jwt", "client_secret_basic", "none") {
		t.Errorf("token endpoint auth methods %q, algorithms %q", doc.AuthMethods, doc.AuthAlgs)
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range list {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}

// newKeys returns an ES256 and an Ed25519 key.
func newKeys(t testing.TB) (*ecdsa.PrivateKey, ed25519.PrivateKey) {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ec, ed
}
