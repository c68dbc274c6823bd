package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2/clientcredentials"
)

// TestEndToEndBackchannelLogout runs the whole path through a running
// server: an application registered with --backchannel-logout-uri gets a
// logout token when the user logs out at /v2/logout and when an operator
// ends the user's sessions through /api/v2, verified with go-oidc against
// the server's JWKS, with the sid of the user's ID token.
func TestEndToEndBackchannelLogout(t *testing.T) {
	tokens := make(chan string, 8)
	bc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("logout_token") == "" {
			http.Error(w, "no logout_token", http.StatusBadRequest)
			return
		}
		tokens <- r.PostForm.Get("logout_token")
	}))
	t.Cleanup(bc.Close)

	g := startGatehouse(t, nil)
	id, secret := g.app(rpCallback, "--first-party", "--logout-url", rpLogout, "--backchannel-logout-uri", bc.URL+"/backchannel")
	userID := g.user(userEmail, userPass)
	r := newRP(t, g, id, secret)
	op, err := oidc.NewProvider(t.Context(), g.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		BC        bool `json:"backchannel_logout_supported"`
		BCSession bool `json:"backchannel_logout_session_supported"`
	}
	if err := op.Claims(&disc); err != nil || !disc.BC || !disc.BCSession {
		t.Fatalf("discovery: %+v, %v", disc, err)
	}
	verifier := op.Verifier(&oidc.Config{ClientID: id})

	// check waits for one logout token and verifies it for the session of
	// idToken.
	check := func(t *testing.T, idToken *oidc.IDToken) {
		t.Helper()
		var raw string
		select {
		case raw = <-tokens:
		case <-time.After(30 * time.Second):
			t.Fatal("no logout token arrived")
		}
		lt, err := verifier.Verify(context.Background(), raw)
		if err != nil {
			t.Fatalf("verify logout token: %v", err)
		}
		hdr, _ := base64URLDecode(strings.Split(raw, ".")[0])
		var h struct {
			Typ string `json:"typ"`
		}
		_ = json.Unmarshal(hdr, &h)
		var c, idc struct {
			Sid    string                    `json:"sid"`
			Nonce  *string                   `json:"nonce"`
			Events map[string]map[string]any `json:"events"`
		}
		if err := lt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if err := idToken.Claims(&idc); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; h.Typ != "logout+jwt" || lt.Subject != userID ||
			c.Sid == "" || c.Sid != idc.Sid || c.Nonce != nil || !ok || len(c.Events) != 1 {
			t.Errorf("logout token typ %q sub %q claims %+v; want the session's sid %q", h.Typ, lt.Subject, c, idc.Sid)
		}
	}

	t.Run("v2 logout", func(t *testing.T) {
		b := newBrowser(t, g.issuer)
		_, idToken := loginFlow(t, b, r)
		p := b.get(g.issuer + "/v2/logout?" + url.Values{"client_id": {id}, "returnTo": {rpLogout}}.Encode())
		if p.location != rpLogout {
			t.Fatalf("logout redirect %q (status %d)", p.location, p.status)
		}
		check(t, idToken)
	})

	t.Run("operator ends the sessions", func(t *testing.T) {
		b := newBrowser(t, g.issuer)
		_, idToken := loginFlow(t, b, r)
		audience := g.issuer + "/api/v2/"
		mid, msecret := g.m2mApp(audience, "delete:sessions")
		cfg := clientcredentials.Config{ClientID: mid, ClientSecret: msecret, TokenURL: g.issuer + "/oauth/token",
			EndpointParams: url.Values{"audience": {audience}}}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, g.issuer+"/api/v2/users/"+url.PathEscape(userID)+"/sessions", nil)
		resp, err := cfg.Client(t.Context()).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("DELETE sessions: %d", resp.StatusCode)
		}
		check(t, idToken)
	})
}
