package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// TestPublicClient covers the token endpoint for a public client (a
// single-page or native application, token_endpoint_auth_method none): it
// authenticates with its client_id alone and must use PKCE; a confidential
// client may not authenticate that way.
func TestPublicClient(t *testing.T) {
	e := newEnv(t)
	spa := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true,
		Type: store.ClientSPA, TokenEndpointAuthMethod: store.AuthMethodNone})
	web := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	if spa.Secret != "" {
		t.Fatalf("a public client got a secret")
	}
	_, _, cookie := e.login(t)
	verifier := strings.Repeat("p", 43)
	pkce := url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}
	redeem := func(code string, kv ...string) url.Values {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {loopbackCB}}
		for i := 0; i < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
		return form
	}

	tests := []struct {
		name       string
		build      func(t *testing.T) (url.Values, func(*http.Request))
		wantStatus int
		wantError  string // "" for success
	}{
		{
			name: "client_id and PKCE",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return redeem(e.code(t, spa, cookie, pkce), "client_id", spa.ID, "code_verifier", verifier), nil
			},
			wantStatus: http.StatusOK,
		},
		{
			name: "Basic with an empty password",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return redeem(e.code(t, spa, cookie, pkce), "code_verifier", verifier), basicAuth(spa.ID, "")
			},
			wantStatus: http.StatusOK,
		},
		// Without PKCE /authorize refuses (TestPKCERequired).
		{
			name: "without the verifier",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return redeem(e.code(t, spa, cookie, pkce), "client_id", spa.ID), nil
			},
			wantStatus: http.StatusBadRequest, wantError: "invalid_grant",
		},
		{
			name: "with a secret",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return redeem("any", "client_id", spa.ID, "client_secret", web.Secret, "code_verifier", verifier), nil
			},
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client",
		},
		{
			name: "confidential client with client_id alone",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return redeem(e.code(t, web, cookie, pkce), "client_id", web.ID, "code_verifier", verifier), nil
			},
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client",
		},
		{
			name: "another public client's code",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				other := e.newClient(t, oauth.NewClientParams{FirstParty: true, Type: store.ClientNative, TokenEndpointAuthMethod: store.AuthMethodNone})
				return redeem(e.code(t, spa, cookie, pkce), "client_id", other.ID, "code_verifier", verifier), nil
			},
			wantStatus: http.StatusBadRequest, wantError: "invalid_grant",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, setup := tt.build(t)
			r := e.tokenReq(t, form, setup)
			if tt.wantError != "" {
				checkError(t, r, tt.wantStatus, tt.wantError)
				return
			}
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if m := decodeJSON(t, r); m["access_token"] == "" || m["id_token"] == nil {
				t.Errorf("response %s", r.body)
			}
		})
	}

	t.Run("refresh with client_id alone", func(t *testing.T) {
		q := url.Values{"scope": {"openid offline_access"}}
		for k, v := range pkce {
			q[k] = v
		}
		r := e.tokenReq(t, redeem(e.code(t, spa, cookie, q), "client_id", spa.ID, "code_verifier", verifier), nil)
		rt, _ := decodeJSON(t, r)["refresh_token"].(string)
		if rt == "" {
			t.Fatalf("no refresh token: %s", r.body)
		}
		r = e.tokenReq(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa.ID}}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("refresh: status %d: %s", r.status, r.body)
		}
		// Revocation takes a public client's id alone too (RFC 7009 §2.1).
		next, _ := decodeJSON(t, r)["refresh_token"].(string)
		if r := e.clientPost(t, "/oauth/revoke", url.Values{"token": {next}, "client_id": {spa.ID}}, nil); r.status != http.StatusOK {
			t.Errorf("revoke: status %d: %s", r.status, r.body)
		}
		r = e.tokenReq(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}, "client_id": {spa.ID}}, nil)
		checkError(t, r, http.StatusBadRequest, "invalid_grant")
	})

	t.Run("no introspection", func(t *testing.T) {
		r := e.clientPost(t, "/oauth/introspect", url.Values{"token": {"x"}, "client_id": {spa.ID}}, nil)
		checkError(t, r, http.StatusUnauthorized, "invalid_client")
	})
}
