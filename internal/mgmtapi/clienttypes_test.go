package mgmtapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

type clientTypeOut struct {
	ClientID                string          `json:"client_id"`
	ClientSecret            string          `json:"client_secret"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	WebOrigins              []string        `json:"web_origins"`
	AllowedOrigins          []string        `json:"allowed_origins"`
	RequirePKCE             bool            `json:"require_pkce"`
	JWKS                    json.RawMessage `json:"jwks"`
	JWTConfiguration        struct {
		Alg string `json:"alg"`
	} `json:"jwt_configuration"`
}

func TestClientTypes(t *testing.T) {
	e := newEnv(t)
	var spa clientTypeOut
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "SPA", "app_type": "spa", "callbacks": []string{"https://spa.example/cb"},
		"web_origins": []string{"https://spa.example/"}, "allowed_origins": []string{"https://spa.example", "http://localhost:3000"}}, 201, &spa)
	if !slices.Equal(spa.WebOrigins, []string{"https://spa.example"}) || len(spa.AllowedOrigins) != 2 || !spa.RequirePKCE ||
		spa.JWKS != nil || spa.JWTConfiguration.Alg != "RS256" {
		t.Fatalf("spa: %+v", spa)
	}

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}}
	var web clientTypeOut
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "Web", "callbacks": []string{"https://web.example/cb"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks, "jwt_configuration": map[string]any{"alg": "EdDSA"}}, 201, &web)
	if web.ClientSecret != "" || web.TokenEndpointAuthMethod != "private_key_jwt" || !web.RequirePKCE || web.JWTConfiguration.Alg != "EdDSA" {
		t.Fatalf("private_key_jwt app: %+v", web)
	}
	var back jose.JSONWebKeySet
	if err := json.Unmarshal(web.JWKS, &back); err != nil || len(back.Keys) != 1 || back.Keys[0].KeyID != "k1" {
		t.Fatalf("jwks shown %s: %v", web.JWKS, err)
	}

	var patched clientTypeOut
	e.call(t, "PATCH", "/api/v2/clients/"+web.ClientID, map[string]any{"token_endpoint_auth_method": "client_secret_post",
		"jwks": nil, "require_pkce": false}, 200, &patched)
	if patched.ClientSecret == "" || patched.JWKS != nil || patched.RequirePKCE {
		t.Fatalf("patched: %+v", patched)
	}

	tok := e.token(t, all...)
	tests := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"origin with a path", map[string]any{"name": "x", "app_type": "spa", "callbacks": []string{"https://a.example/cb"}, "allowed_origins": []string{"https://a.example/app"}}, "must not have a path"},
		{"HS256 ID tokens", map[string]any{"name": "x", "callbacks": []string{"https://a.example/cb"}, "jwt_configuration": map[string]any{"alg": "HS256"}}, "not RS256, ES256 or EdDSA"},
		{"private_key_jwt without keys", map[string]any{"name": "x", "callbacks": []string{"https://a.example/cb"}, "token_endpoint_auth_method": "private_key_jwt"}, "needs a JWK Set"},
		{"jwks not a set", map[string]any{"name": "x", "callbacks": []string{"https://a.example/cb"}, "token_endpoint_auth_method": "private_key_jwt", "jwks": []int{1}}, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b := e.do(t, "POST", "/api/v2/clients", tt.body, tok)
			wantError(t, status, b, 400, tt.msg)
		})
	}
}
