package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// TestEndToEndClientTypes drives a running server: a native app logs in
// through a loopback callback on a port it picked, a single-page app's
// origin passes CORS while another does not, and a private_key_jwt app
// authenticates with a signed assertion, once.
func TestEndToEndClientTypes(t *testing.T) {
	g := startGatehouse(t, nil)
	g.user(userEmail, userPass)
	create := func(args ...string) {
		t.Helper()
		if _, errOut, code := g.cli("", append([]string{"apps", "create", "--name", "App"}, args...)...); code != 0 {
			t.Fatalf("apps create %v: exit %d: %s", args, code, errOut)
		}
	}

	t.Run("native loopback", func(t *testing.T) {
		create("--type", "native", "--client-id", "native-e2e", "--first-party", "--callback", "http://127.0.0.1/callback")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		cb := "http://127.0.0.1:" + port + "/callback"
		r := newRP(t, g, "native-e2e", "", "openid", "profile")
		r.conf.RedirectURL = cb
		r.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		u, f := r.authURL()
		br := newBrowser(t, g.issuer)
		p := br.login(br.get(u), userEmail, userPass)
		_, idt := r.exchange(callbackParams(t, p, cb), f)
		if idt.Audience[0] != "native-e2e" {
			t.Errorf("aud %q", idt.Audience)
		}
	})

	t.Run("spa CORS", func(t *testing.T) {
		create("--type", "spa", "--client-id", "spa-e2e", "--callback", "https://spa.example/cb", "--allowed-origin", "https://spa.example")
		for origin, want := range map[string]string{"https://spa.example": "https://spa.example", "https://evil.example": ""} {
			req, _ := http.NewRequest(http.MethodOptions, g.issuer+"/oauth/token", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
				t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
			}
		}
	})

	t.Run("private_key_jwt", func(t *testing.T) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}})
		path := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(path, set, 0o600); err != nil {
			t.Fatal(err)
		}
		create("--client-id", "pkj-e2e", "--callback", rpCallback, "--token-endpoint-auth-method", "private_key_jwt", "--jwks", path)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		assertion, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: "pkj-e2e", Subject: "pkj-e2e", ID: "jti-1",
			Audience: jwt.Audience{g.issuer + "/oauth/token"}, Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute))}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		revoke := func() int {
			form := url.Values{"token": {"not-a-token"}, "client_assertion": {assertion},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
			resp, err := http.Post(g.issuer+"/oauth/revoke", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := revoke(); got != http.StatusOK {
			t.Fatalf("revoke with the assertion: status %d", got)
		}
		if got := revoke(); got != http.StatusUnauthorized {
			t.Errorf("the replayed assertion: status %d, want 401", got)
		}
	})
}
