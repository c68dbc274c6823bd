package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// discovery serves OIDC Discovery §3 and RFC 8414 metadata. Every value
// listed is one Gatehouse implements.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.cfg.Issuer
	// ID tokens are signed with the default ring unless an application
	// chose another algorithm; the JWKS may hold other algorithms' keys
	// for API access tokens.
	alg, err := p.cfg.Keys.SigningAlgorithm(r.Context())
	if err != nil {
		writeJSONError(w, p.internalError("discovery: signing algorithm", err))
		return
	}
	algs := idTokenAlgorithms(alg)
	doc := map[string]any{
		"issuer":                 iss,
		"authorization_endpoint": p.endpoint("/authorize"),
		"token_endpoint":         p.endpoint("/oauth/token"),
		"userinfo_endpoint":      p.endpoint("/userinfo"),
		"jwks_uri":               p.endpoint("/.well-known/jwks.json"),
		"end_session_endpoint":   p.endpoint("/oidc/logout"),
		"revocation_endpoint":    p.endpoint("/oauth/revoke"),
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint":                        p.endpoint("/oauth/introspect"),
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":                      responseTypesSupported,
		"response_modes_supported":                      responseModesSupported,
		"grant_types_supported":                         append(p.grantTypes(), store.GrantImplicit),
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         algs,
		"scopes_supported":                              supportedScopes,
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"code_challenge_methods_supported":              []string{"S256"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "sid",
			"name", "nickname", "picture", "given_name", "family_name", "updated_at", "email", "email_verified",
			"amr", "acr"},
		// A client asks for a second factor with acr_values (OIDC Core
		// §3.1.2.1); the ID token's acr says when one was passed.
		"acr_values_supported":                           []string{ACRMultiFactor},
		"prompt_values_supported":                        []string{"none", "login", "consent", "select_account"},
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"authorization_response_iss_parameter_supported": true,
		"backchannel_logout_supported":                   true, "backchannel_logout_session_supported": true,
	}
	// private_key_jwt client assertions (RFC 7523, OIDC Core §9).
	doc["token_endpoint_auth_signing_alg_values_supported"] = ClientAssertionAlgorithms
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

// JWKSMaxAge is how long verifiers may cache the JWKS (token.JWKSMaxAge,
// which the rotation rule of package mgmt reads too).
const JWKSMaxAge = token.JWKSMaxAge

// jwks serves the public signing keys: next, current and previous.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := p.cfg.Keys.JWKS(r.Context())
	if err != nil {
		writeJSONError(w, p.internalError("jwks", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Short enough that a key published as "next" is seen by verifiers
	// well before it starts signing.
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge/time.Second)))
	_ = json.NewEncoder(w).Encode(set)
}
