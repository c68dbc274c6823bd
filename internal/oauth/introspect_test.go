package oauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// TestIntrospectErrors covers the request and client authentication errors
// of the introspection endpoint (RFC 7662 §2.1, §2.3).
func TestIntrospectErrors(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	other := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	runClientEndpointErrors(t, e, "/oauth/introspect", clientEndpointErrors(app, other))
}

// TestIntrospect covers RFC 7662 §2.2: a live token the caller may see is
// described; everything else is {"active": false} and nothing more.
func TestIntrospect(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	other := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	// backend is the API's own registration, asking about tokens for it.
	backend := e.newClient(t, oauth.NewClientParams{Name: "API backend"})
	api := e.newAPI(t, store.API{
		Identifier: "https://api.example/v1", AllowOfflineAccess: true, TokenLifetime: 15 * time.Minute,
		Scopes: []store.APIScope{{Name: "read", Description: "Read"}, {Name: "write", Description: "Write"}},
	})
	user, _, cookie := e.login(t)
	opaqueScope := "email offline_access openid profile"

	revoke := func(t *testing.T, tok string) {
		t.Helper()
		r := e.clientPost(t, "/oauth/revoke", url.Values{"token": {tok}, "client_id": {app.ID}, "client_secret": {app.Secret}}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("setup: revoke: status %d, body %s", r.status, r.body)
		}
	}
	apiGrant := func(t *testing.T) grantTokens {
		t.Helper()
		tr := e.exchange(t, app, e.code(t, app, cookie, url.Values{"audience": {api.Identifier}, "scope": {"openid read offline_access"}}), nil)
		return grantTokens{access: []string{tr.AccessToken}, refresh: []string{tr.RefreshToken}, idToken: tr.IDToken}
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		by   client
		// tok issues (and maybe spoils) the token to introspect.
		tok   func(t *testing.T) string
		hint  string
		basic bool
		// advance moves the clock before the request, and back after it.
		advance   time.Duration
		active    bool
		wantType  string // token_type
		wantScope string
		wantAud   []string
		wantTTL   time.Duration // exp - iat
	}{
		{name: "unknown token", by: app, tok: func(*testing.T) string { return "no-such-token" }},
		{name: "garbage", by: app, tok: func(*testing.T) string { return "%%%garbage\x01 é" }},
		{name: "garbage JWT", by: app, tok: func(*testing.T) string { return "eyJhbGciOiJub25lIn0.e30.x" }},
		{
			name: "opaque access token by its client", by: app,
			tok:    func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).access[0] },
			active: true, wantType: "Bearer", wantScope: opaqueScope, wantTTL: time.Hour,
		},
		{
			name: "opaque access token by its client, basic", by: app, basic: true,
			tok:    func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).access[0] },
			active: true, wantType: "Bearer", wantScope: opaqueScope, wantTTL: time.Hour,
		},
		{
			name: "opaque access token with hint refresh_token", by: app, hint: "refresh_token",
			tok:    func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).access[0] },
			active: true, wantType: "Bearer", wantScope: opaqueScope, wantTTL: time.Hour,
		},
		{
			name: "opaque access token after a rotation", by: app,
			tok:    func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", true).access[1] },
			active: true, wantType: "Bearer", wantScope: opaqueScope, wantTTL: time.Hour,
		},
		{
			name: "opaque userinfo-only token by another client", by: other,
			tok: func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).access[0] },
		},
		{
			name: "opaque userinfo-only token by the API's backend", by: backend,
			tok: func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).access[0] },
		},
		{
			name: "expired opaque access token", by: app, advance: time.Hour + time.Minute,
			tok: func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).access[0] },
		},
		{
			name: "revoked opaque access token", by: app,
			tok: func(t *testing.T) string {
				g := e.issueGrant(t, app, cookie, "", false)
				revoke(t, g.access[0])
				return g.access[0]
			},
		},
		{
			name: "access token of a revoked family", by: app,
			tok: func(t *testing.T) string {
				g := e.issueGrant(t, app, cookie, "", true)
				revoke(t, g.lastRefresh())
				return g.access[0]
			},
		},
		{
			name: "JWT API token by its client", by: app,
			tok:    func(t *testing.T) string { return apiGrant(t).access[0] },
			active: true, wantType: "Bearer", wantScope: "offline_access openid read",
			wantAud: []string{api.Identifier, e.issuer + "/userinfo"}, wantTTL: 15 * time.Minute,
		},
		{
			name: "JWT API token by the API's backend", by: backend,
			tok:    func(t *testing.T) string { return apiGrant(t).access[0] },
			active: true, wantType: "Bearer", wantScope: "offline_access openid read",
			wantAud: []string{api.Identifier, e.issuer + "/userinfo"}, wantTTL: 15 * time.Minute,
		},
		{
			name: "JWT API token by another client, basic", by: other, basic: true,
			tok:    func(t *testing.T) string { return apiGrant(t).access[0] },
			active: true, wantType: "Bearer", wantScope: "offline_access openid read",
			wantAud: []string{api.Identifier, e.issuer + "/userinfo"}, wantTTL: 15 * time.Minute,
		},
		{
			name: "expired JWT API token", by: app, advance: 16 * time.Minute,
			tok: func(t *testing.T) string { return apiGrant(t).access[0] },
		},
		{
			name: "JWT signed by a foreign key", by: app,
			tok: func(t *testing.T) string {
				raw := apiGrant(t).access[0]
				kid, _ := jwtPart(t, raw, 0)["kid"].(string)
				return signForeign(t, rsaKey, jose.RS256, kid, "at+jwt", jwtPart(t, raw, 1))
			},
		},
		{
			name: "refresh token by its client", by: app,
			tok:    func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).lastRefresh() },
			active: true, wantType: "refresh_token", wantScope: opaqueScope, wantTTL: 30 * 24 * time.Hour,
		},
		{
			name: "refresh token with hint access_token", by: app, hint: "access_token",
			tok:    func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).lastRefresh() },
			active: true, wantType: "refresh_token", wantScope: opaqueScope, wantTTL: 30 * 24 * time.Hour,
		},
		{
			name: "rotated refresh token's successor", by: app,
			tok:    func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", true).lastRefresh() },
			active: true, wantType: "refresh_token", wantScope: opaqueScope, wantTTL: 30 * 24 * time.Hour,
		},
		{
			name: "refresh token by another client", by: other,
			tok: func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).lastRefresh() },
		},
		{
			name: "rotated (used) refresh token", by: app,
			tok: func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", true).refresh[0] },
		},
		{
			name: "revoked refresh token", by: app,
			tok: func(t *testing.T) string {
				g := e.issueGrant(t, app, cookie, "", false)
				revoke(t, g.lastRefresh())
				return g.lastRefresh()
			},
		},
		{
			name: "refresh token of a family revoked by reuse", by: app,
			tok: func(t *testing.T) string {
				g := e.issueGrant(t, app, cookie, "", true)
				if r := e.refresh(t, app, g.refresh[0]); r.status != http.StatusBadRequest {
					t.Fatalf("setup: reuse: status %d, body %s", r.status, r.body)
				}
				return g.lastRefresh()
			},
		},
		{
			name: "expired refresh token", by: app, advance: 31 * 24 * time.Hour,
			tok: func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).lastRefresh() },
		},
		{
			name: "ID token", by: app,
			tok: func(t *testing.T) string { return e.issueGrant(t, app, cookie, "", false).idToken },
		},
		{
			name: "ID token by the API's backend", by: backend,
			tok: func(t *testing.T) string { return apiGrant(t).idToken },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"token": {tt.tok(t)}}
			if tt.hint != "" {
				form.Set("token_type_hint", tt.hint)
			}
			var setup func(*http.Request)
			if tt.basic {
				setup = basicAuth(tt.by.ID, tt.by.Secret)
			} else {
				form.Set("client_id", tt.by.ID)
				form.Set("client_secret", tt.by.Secret)
			}
			if tt.advance != 0 {
				e.clock.Advance(tt.advance)
				t.Cleanup(func() { e.clock.Advance(-tt.advance) })
			}
			r := e.clientPost(t, "/oauth/introspect", form, setup)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", r.status, r.body)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			body := decodeJSON(t, r)
			if !tt.active {
				if len(body) != 1 || body["active"] != false {
					t.Errorf("body %s, want exactly {\"active\":false}", r.body)
				}
				return
			}
			if body["active"] != true {
				t.Fatalf("active = %v, want true; body %s", body["active"], r.body)
			}
			if body["token_type"] != tt.wantType {
				t.Errorf("token_type = %v, want %s", body["token_type"], tt.wantType)
			}
			if s, _ := body["scope"].(string); !sameSet(s, tt.wantScope) {
				t.Errorf("scope = %q, want %q", s, tt.wantScope)
			}
			if body["client_id"] != app.ID {
				t.Errorf("client_id = %v, want %s", body["client_id"], app.ID)
			}
			if body["sub"] != user.ID {
				t.Errorf("sub = %v, want %s", body["sub"], user.ID)
			}
			if body["iss"] != e.issuer {
				t.Errorf("iss = %v, want %s", body["iss"], e.issuer)
			}
			iat := numericDate(t, body, "iat")
			exp := numericDate(t, body, "exp")
			if now := e.clock.Now(); iat.After(now.Add(time.Second)) || iat.Before(now.Add(-time.Minute)) {
				t.Errorf("iat %v is not now (%v)", iat, now)
			}
			if got := exp.Sub(iat); got != tt.wantTTL {
				t.Errorf("exp - iat = %v, want %v", got, tt.wantTTL)
			}
			if tt.wantAud != nil {
				if aud := audiences(t, body["aud"]); !slices.Equal(aud, tt.wantAud) {
					t.Errorf("aud = %q, want %q", aud, tt.wantAud)
				}
			}
		})
	}
}
