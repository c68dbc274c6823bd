package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// userinfoGET calls GET /userinfo with a Bearer token.
func userinfoGET(t *testing.T, e *env, accessToken string) response {
	t.Helper()
	req := e.newRequest(t, http.MethodGet, "/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return e.do(t, req)
}

// TestUserinfo covers the ways of presenting a token (RFC 6750 §2) and
// every error (RFC 6750 §3, OIDC Core §5.3.3).
func TestUserinfo(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	user, _, cookie := e.login(t)
	full := e.exchange(t, app, e.code(t, app, cookie, nil), nil)
	noOpenID := e.exchange(t, app, e.code(t, app, cookie, url.Values{"scope": {"profile email"}}), nil)
	if full.IDToken == "" || noOpenID.AccessToken == "" {
		t.Fatalf("setup: tokens %+v %+v", full, noOpenID)
	}

	const formType = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		method      string
		auth        string // Authorization header
		contentType string
		body        string
		// advance moves the clock first, and back after the case.
		advance    time.Duration
		wantStatus int
		// wantError is the error attribute of WWW-Authenticate and the JSON
		// body; "" wants a challenge without error (RFC 6750 §3.1).
		wantError string
	}{
		{name: "GET without token", method: "GET", wantStatus: 401},
		{name: "POST without token", method: "POST", contentType: formType, body: "", wantStatus: 401},
		{name: "POST form without access_token", method: "POST", contentType: formType, body: "foo=bar", wantStatus: 401},
		{name: "GET bad token", method: "GET", auth: "Bearer not-a-token", wantStatus: 401, wantError: "invalid_token"},
		{name: "POST bad token in body", method: "POST", contentType: formType, body: "access_token=not-a-token", wantStatus: 401, wantError: "invalid_token"},
		{name: "expired token", method: "GET", auth: "Bearer " + full.AccessToken, advance: 2 * time.Hour, wantStatus: 401, wantError: "invalid_token"},
		{name: "ID token as access token", method: "GET", auth: "Bearer " + full.IDToken, wantStatus: 401, wantError: "invalid_token"},
		{name: "ID token in body", method: "POST", contentType: formType, body: "access_token=" + url.QueryEscape(full.IDToken), wantStatus: 401, wantError: "invalid_token"},
		{name: "token in header and body", method: "POST", auth: "Bearer " + full.AccessToken, contentType: formType, body: "access_token=" + full.AccessToken, wantStatus: 400, wantError: "invalid_request"},
		{name: "token twice in body", method: "POST", contentType: formType, body: "access_token=" + full.AccessToken + "&access_token=" + full.AccessToken, wantStatus: 400, wantError: "invalid_request"},
		{name: "GET with header", method: "GET", auth: "Bearer " + full.AccessToken, wantStatus: 200},
		{name: "GET with lower-case scheme", method: "GET", auth: "bearer " + full.AccessToken, wantStatus: 200},
		{name: "POST with header", method: "POST", auth: "Bearer " + full.AccessToken, wantStatus: 200},
		{name: "POST with header and an empty form", method: "POST", auth: "Bearer " + full.AccessToken, contentType: formType, body: "", wantStatus: 200},
		{name: "POST with form body", method: "POST", contentType: formType, body: "access_token=" + full.AccessToken, wantStatus: 200},
		{name: "POST with form body and charset", method: "POST", contentType: formType + "; charset=utf-8", body: "access_token=" + full.AccessToken, wantStatus: 200},
		{name: "token without openid scope", method: "GET", auth: "Bearer " + noOpenID.AccessToken, wantStatus: 403, wantError: "insufficient_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.advance != 0 {
				e.clock.Advance(tt.advance)
				t.Cleanup(func() { e.clock.Advance(-tt.advance) })
			}
			req := e.newRequest(t, tt.method, "/userinfo", strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := e.do(t, req)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; WWW-Authenticate %q, body %s", r.status, tt.wantStatus, r.header.Get("WWW-Authenticate"), r.body)
			}
			wa := r.header.Get("WWW-Authenticate")
			if tt.wantStatus == http.StatusOK {
				claims := decodeJSON(t, r)
				if claims["sub"] != user.ID {
					t.Errorf("sub = %v, want %s", claims["sub"], user.ID)
				}
				if claims["email"] != user.Email {
					t.Errorf("email = %v, want %s", claims["email"], user.Email)
				}
				if claims["name"] != user.Name {
					t.Errorf("name = %v, want %s", claims["name"], user.Name)
				}
				if wa != "" {
					t.Errorf("WWW-Authenticate %q on success", wa)
				}
				return
			}
			if tt.wantStatus == http.StatusUnauthorized || tt.wantStatus == http.StatusForbidden {
				if !strings.HasPrefix(wa, "Bearer") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", wa)
				}
			}
			if tt.wantError == "" {
				if strings.Contains(wa, "error=") {
					t.Errorf("WWW-Authenticate %q has an error attribute; a request without a token gets none (RFC 6750 §3.1)", wa)
				}
				return
			}
			if wa != "" && !strings.Contains(wa, `error="`+tt.wantError+`"`) {
				t.Errorf("WWW-Authenticate %q, want error=%q", wa, tt.wantError)
			}
			body := decodeJSON(t, r)
			if body["error"] != tt.wantError {
				t.Errorf("error = %v, want %s", body["error"], tt.wantError)
			}
			desc, _ := body["error_description"].(string)
			checkDescription(t, desc)
		})
	}
}

// TestUserinfoUserGone covers a token whose user was blocked or deleted
// after it was issued, for opaque and JWT access tokens alike.
func TestUserinfoUserGone(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	api := e.newAPI(t, store.API{Identifier: "https://gone.example/api", SigningAlgorithm: "ES256",
		Scopes: []store.APIScope{{Name: "read", Description: "Read"}}})
	tokens := func(t *testing.T) (store.User, tokenResult, tokenResult) {
		t.Helper()
		user, _, cookie := e.login(t)
		opaque := e.exchange(t, app, e.code(t, app, cookie, nil), nil)
		jwt := e.exchange(t, app, e.code(t, app, cookie, url.Values{"audience": {api.Identifier}, "scope": {"openid read"}}), nil)
		for _, tr := range []tokenResult{opaque, jwt} {
			if r := userinfoGET(t, e, tr.AccessToken); r.status != http.StatusOK {
				t.Fatalf("userinfo before: status %d, body %s", r.status, r.body)
			}
		}
		return user, opaque, jwt
	}
	wantInvalid := func(t *testing.T, accessToken string) {
		t.Helper()
		r := userinfoGET(t, e, accessToken)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("status %d, WWW-Authenticate %q, want 401 invalid_token; body %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
		if body := decodeJSON(t, r); body["error"] != "invalid_token" {
			t.Fatalf("error = %v, want invalid_token", body["error"])
		}
	}

	t.Run("blocked", func(t *testing.T) {
		user, opaque, jwt := tokens(t)
		user.Blocked = true
		if err := e.st.UpdateUser(t.Context(), user); err != nil {
			t.Fatal(err)
		}
		wantInvalid(t, opaque.AccessToken)
		wantInvalid(t, jwt.AccessToken)
	})
	t.Run("deleted", func(t *testing.T) {
		user, opaque, jwt := tokens(t)
		if err := e.st.DeleteUser(t.Context(), user.ID); err != nil {
			t.Fatal(err)
		}
		wantInvalid(t, opaque.AccessToken)
		wantInvalid(t, jwt.AccessToken) // still validly signed: the user lookup refuses it
	})
}
