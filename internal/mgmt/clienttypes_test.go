package mgmt_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// jwksOf returns the JWK Set of the public halves of keys.
func jwksOf(t *testing.T, keys ...any) string {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: "k" + string(rune('0'+len(set.Keys)))})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestClientTypeValidation(t *testing.T) {
	e := newEnv(t)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	weakRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	wrongAlg := strings.Replace(jwksOf(t, edPub), `"kid"`, `"alg":"RS256","kid"`, 1)
	pkj := func(jwks string) func(*mgmt.NewClient) {
		return func(in *mgmt.NewClient) {
			in.TokenEndpointAuthMethod, in.JWKS = ptr(store.AuthMethodPrivateKeyJWT), ptr(jwks)
		}
	}
	tests := []struct {
		name  string
		edit  func(*mgmt.NewClient)
		field string
		msg   string
	}{
		{"origin with a path", func(in *mgmt.NewClient) { in.AllowedOrigins = &[]string{"https://spa.example/app"} }, "allowed_origins", "must not have a path"},
		{"http origin", func(in *mgmt.NewClient) { in.WebOrigins = &[]string{"http://spa.example"} }, "web_origins", "must use https"},
		{"wildcard origin", func(in *mgmt.NewClient) { in.AllowedOrigins = &[]string{"https://*.spa.example"} }, "allowed_origins", "wildcard"},
		{"not an origin", func(in *mgmt.NewClient) { in.AllowedOrigins = &[]string{"spa.example"} }, "allowed_origins", "not an origin"},
		{"m2m with origins", func(in *mgmt.NewClient) {
			in.Type, in.AllowedOrigins = ptr(store.ClientM2M), &[]string{"https://spa.example"}
		}, "allowed_origins", "no browser origins"},
		{"id token alg", func(in *mgmt.NewClient) { in.IDTokenSigningAlg = ptr("HS256") }, "id_token_signed_response_alg", "not RS256, ES256 or EdDSA"},
		{"private_key_jwt without keys", func(in *mgmt.NewClient) { in.TokenEndpointAuthMethod = ptr(store.AuthMethodPrivateKeyJWT) }, "jwks", "needs a JWK Set"},
		{"keys without private_key_jwt", func(in *mgmt.NewClient) { in.JWKS = ptr(jwksOf(t, edPub)) }, "jwks", "private_key_jwt applications only"},
		{"private key registered", pkj(jwksOf(t, edPriv)), "jwks", "is a private key"},
		{"weak RSA key", pkj(jwksOf(t, &weakRSA.PublicKey)), "jwks", "1024 bits"},
		{"P-384 key", pkj(jwksOf(t, &p384.PublicKey)), "jwks", "P-256"},
		{"alg of another key type", pkj(wrongAlg), "jwks", `alg "RS256"`},
		{"empty set", pkj(`{"keys":[]}`), "jwks", "no keys"},
		{"not JSON", pkj(`{"keys":`), "jwks", "not valid"},
		{"too large", pkj(strings.Repeat(" ", 70<<10)), "jwks", "larger than"},
		{"private_key_jwt spa", func(in *mgmt.NewClient) {
			pkj(jwksOf(t, edPub))(in)
			in.Type = ptr(store.ClientSPA)
		}, "token_endpoint_auth_method", "must be none"},
		{"private_key_jwt with a secret", func(in *mgmt.NewClient) {
			pkj(jwksOf(t, edPub))(in)
			in.Secret = strings.Repeat("s", 40)
		}, "client_secret", "has no client secret"},
		{"native http callback", func(in *mgmt.NewClient) {
			in.Type, in.Callbacks = ptr(store.ClientNative), &[]string{"http://app.example/cb"}
		}, "callbacks", "private-use scheme"},
		{"native scheme without a dot", func(in *mgmt.NewClient) {
			in.Type, in.Callbacks = ptr(store.ClientNative), &[]string{"myapp:/cb"}
		}, "callbacks", "private-use scheme"},
		{"native scheme with a host", func(in *mgmt.NewClient) {
			in.Type, in.Callbacks = ptr(store.ClientNative), &[]string{"com.example.app://host/cb"}
		}, "callbacks", "no host"},
		{"native scheme fragment", func(in *mgmt.NewClient) {
			in.Type, in.Callbacks = ptr(store.ClientNative), &[]string{"com.example.app:/cb#x"}
		}, "callbacks", "fragment"},
		{"web app private-use scheme", func(in *mgmt.NewClient) { in.Callbacks = &[]string{"com.example.app:/cb"} }, "callbacks", "not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mgmt.NewClient{ClientSettings: webApp("App")}
			tt.edit(&in)
			_, _, err := e.svc.CreateClient(t.Context(), in)
			wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, tt.field, tt.msg)
		})
	}
	if list, _ := e.svc.ListClients(t.Context()); len(list) != 0 {
		t.Errorf("refused applications were stored: %d", len(list))
	}
}

func TestClientTypeSettings(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	// A single-page application: public, origins normalized as browsers
	// send them, PKCE on.
	spa, secret, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{
		Name: ptr("SPA"), Type: ptr(store.ClientSPA), Callbacks: &[]string{"https://spa.example/cb"},
		WebOrigins:     &[]string{" https://SPA.example/ "},
		AllowedOrigins: &[]string{"https://spa.example", "http://localhost:3000"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || !spa.Public() || !spa.RequirePKCE {
		t.Errorf("spa: secret %q, method %s, require_pkce %v", secret, spa.TokenEndpointAuthMethod, spa.RequirePKCE)
	}
	if !slices.Equal(spa.WebOrigins, []string{"https://spa.example"}) || !slices.Equal(spa.AllowedOrigins, []string{"https://spa.example", "http://localhost:3000"}) {
		t.Errorf("spa origins %q and %q", spa.WebOrigins, spa.AllowedOrigins)
	}

	// A native application with loopback and private-use callbacks.
	native, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{
		Name: ptr("Native"), Type: ptr(store.ClientNative),
		Callbacks: &[]string{"http://127.0.0.1/cb", "http://[::1]/cb", "com.example.app:/callback", "https://app.example/cb"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !native.Public() || len(native.Callbacks) != 4 {
		t.Errorf("native app %+v", native)
	}

	// A confidential application with private_key_jwt and an ES256 ID
	// token: no secret, and the ES256 key ring is created.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks := jwksOf(t, &ec.PublicKey)
	web, secret, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{
		Name: ptr("Web"), Callbacks: &[]string{"https://app.example/cb"},
		TokenEndpointAuthMethod: ptr(store.AuthMethodPrivateKeyJWT), JWKS: &jwks, IDTokenSigningAlg: ptr("ES256"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || web.SecretHash != "" || web.JWKS != jwks || web.IDTokenSigningAlg != "ES256" || !web.RequirePKCE {
		t.Errorf("private_key_jwt app: secret %q, hash %q, alg %q, require_pkce %v", secret, web.SecretHash, web.IDTokenSigningAlg, web.RequirePKCE)
	}
	if !slices.Contains(e.rings.algs, "ES256") {
		t.Errorf("key rings ensured: %q, want ES256", e.rings.algs)
	}
	_, _, err = e.svc.RotateClientSecret(ctx, web.ID)
	wantError(t, err, http.StatusBadRequest, "operation_not_supported", "token_endpoint_auth_method", "private_key_jwt")

	// Back to a secret: the keys go, a secret comes; PKCE can be turned off
	// and RS256 is stored as the default.
	web, secret, err = e.svc.UpdateClient(ctx, web.ID, mgmt.ClientSettings{
		TokenEndpointAuthMethod: ptr(store.AuthMethodSecretBasic), RequirePKCE: ptr(false), IDTokenSigningAlg: ptr("RS256"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if secret == "" || web.SecretHash == "" || web.JWKS != "" || web.RequirePKCE || web.IDTokenSigningAlg != "" {
		t.Errorf("after update: secret %q, jwks %q, require_pkce %v, alg %q", secret, web.JWKS, web.RequirePKCE, web.IDTokenSigningAlg)
	}
	// And to private_key_jwt again: the secret goes.
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	web, _, err = e.svc.UpdateClient(ctx, web.ID, mgmt.ClientSettings{
		TokenEndpointAuthMethod: ptr(store.AuthMethodPrivateKeyJWT), JWKS: ptr(jwksOf(t, edPub)), IDTokenSigningAlg: ptr("EdDSA"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if web.SecretHash != "" || !slices.Contains(e.rings.algs, "EdDSA") {
		t.Errorf("after second update: hash %q, rings %q", web.SecretHash, e.rings.algs)
	}
	stored, err := e.svc.GetClient(ctx, web.ID)
	if err != nil || stored.JWKS == "" || stored.TokenEndpointAuthMethod != store.AuthMethodPrivateKeyJWT {
		t.Errorf("stored %+v, %v", stored, err)
	}
}
