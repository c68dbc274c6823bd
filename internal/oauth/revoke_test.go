package oauth_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// clientEndpointError is a request that /oauth/revoke (RFC 7009 §2.2.1)
// and /oauth/introspect (RFC 7662 §2.3) must both refuse with an RFC 6749
// §5.2 error.
type clientEndpointError struct {
	name string
	// method is POST when empty.
	method string
	form   url.Values
	// setup makes a last change to the request.
	setup      func(*http.Request)
	wantStatus int
	wantError  string
	// wantBasic wants WWW-Authenticate: Basic (RFC 6749 §5.2).
	wantBasic bool
}

// clientEndpointErrors are the request and client authentication errors of
// a client-authenticated endpoint taking a token parameter.
func clientEndpointErrors(app, other client) []clientEndpointError {
	creds := func(kv ...string) url.Values {
		v := url.Values{"client_id": {app.ID}, "client_secret": {app.Secret}}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tok := url.Values{"token": {"some-token"}}
	return []clientEndpointError{
		{name: "GET", method: http.MethodGet, form: creds("token", "some-token"), wantStatus: http.StatusMethodNotAllowed, wantError: "invalid_request"},
		{name: "PUT", method: http.MethodPut, form: creds("token", "some-token"), wantStatus: http.StatusMethodNotAllowed, wantError: "invalid_request"},
		{
			name: "JSON body", form: creds("token", "some-token"),
			setup:      func(r *http.Request) { r.Header.Set("Content-Type", "application/json") },
			wantStatus: http.StatusBadRequest, wantError: "invalid_request",
		},
		{
			name: "no content type", form: creds("token", "some-token"),
			setup:      func(r *http.Request) { r.Header.Del("Content-Type") },
			wantStatus: http.StatusBadRequest, wantError: "invalid_request",
		},
		{
			name: "text/plain", form: creds("token", "some-token"),
			setup:      func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
			wantStatus: http.StatusBadRequest, wantError: "invalid_request",
		},
		{name: "no client authentication", form: tok, wantStatus: 401, wantError: "invalid_client"},
		{name: "client_id without secret", form: url.Values{"token": {"x"}, "client_id": {app.ID}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "empty secret", form: url.Values{"token": {"x"}, "client_id": {app.ID}, "client_secret": {""}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "unknown client, post", form: url.Values{"token": {"x"}, "client_id": {"no-such-client"}, "client_secret": {app.Secret}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong secret, post", form: url.Values{"token": {"x"}, "client_id": {app.ID}, "client_secret": {other.Secret}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong secret, basic", form: tok, setup: basicAuth(app.ID, other.Secret), wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "unknown client, basic", form: tok, setup: basicAuth("no-such-client", app.Secret), wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "empty secret, basic", form: tok, setup: basicAuth(app.ID, ""), wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{
			name: "malformed base64, basic", form: tok,
			setup:      func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!not-base64!!!") },
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "basic without colon", form: tok,
			setup: func(r *http.Request) {
				r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(app.ID)))
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "bearer authorization header", form: creds("token", "x"),
			setup:      func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") },
			wantStatus: 401, wantError: "invalid_client",
		},
		{name: "basic and client_secret_post", form: creds("token", "x"), setup: basicAuth(app.ID, app.Secret), wantStatus: 400, wantError: "invalid_request"},
		{name: "missing token", form: creds(), wantStatus: 400, wantError: "invalid_request"},
		{name: "empty token", form: creds("token", ""), wantStatus: 400, wantError: "invalid_request"},
		{name: "missing token, basic", form: url.Values{}, setup: basicAuth(app.ID, app.Secret), wantStatus: 400, wantError: "invalid_request"},
		{name: "duplicated token", form: creds("token", "a", "token", "b"), wantStatus: 400, wantError: "invalid_request"},
		{name: "duplicated identical token", form: creds("token", "a", "token", "a"), wantStatus: 400, wantError: "invalid_request"},
		{name: "duplicated token_type_hint", form: creds("token", "a", "token_type_hint", "access_token", "token_type_hint", "refresh_token"), wantStatus: 400, wantError: "invalid_request"},
		{name: "duplicated client_secret", form: creds("token", "a", "client_secret", app.Secret), wantStatus: 400, wantError: "invalid_request"},
	}
}

// runClientEndpointErrors sends each request to path and checks the error.
func runClientEndpointErrors(t *testing.T, e *env, path string, tests []clientEndpointError) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			var req *http.Request
			if method == http.MethodGet {
				req = e.newRequest(t, method, path+"?"+tt.form.Encode(), nil)
			} else {
				req = e.newRequest(t, method, path, strings.NewReader(tt.form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tt.setup != nil {
				tt.setup(req)
			}
			r := e.do(t, req)
			checkError(t, r, tt.wantStatus, tt.wantError)
			wa := r.header.Get("WWW-Authenticate")
			if tt.wantBasic && !strings.HasPrefix(wa, "Basic") {
				t.Errorf("WWW-Authenticate %q, want a Basic challenge", wa)
			}
			if !tt.wantBasic && strings.HasPrefix(wa, "Basic") {
				t.Errorf("WWW-Authenticate %q, but Basic was not tried", wa)
			}
			if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

// TestRevokeErrors covers the request and client authentication errors of
// the revocation endpoint (RFC 7009 §2.1, §2.2.1).
func TestRevokeErrors(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	other := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	runClientEndpointErrors(t, e, "/oauth/revoke", clientEndpointErrors(app, other))
}

// grantTokens are the tokens of one grant, oldest first.
type grantTokens struct {
	access  []string
	refresh []string // the last one is the live one
	idToken string
}

func (g grantTokens) lastRefresh() string { return g.refresh[len(g.refresh)-1] }

// issueGrant runs the code flow for c with offline access and, when
// rotate, one refresh; with audience the access tokens are RFC 9068 JWTs.
func (e *env) issueGrant(t *testing.T, c client, cookie *http.Cookie, audience string, rotate bool) grantTokens {
	t.Helper()
	q := url.Values{"scope": {"openid profile email offline_access"}}
	if audience != "" {
		q.Set("audience", audience)
	}
	tr := e.exchange(t, c, e.code(t, c, cookie, q), nil)
	if tr.RefreshToken == "" {
		t.Fatalf("setup: no refresh token in %+v", tr)
	}
	g := grantTokens{access: []string{tr.AccessToken}, refresh: []string{tr.RefreshToken}, idToken: tr.IDToken}
	if rotate {
		r := e.refresh(t, c, tr.RefreshToken)
		if r.status != http.StatusOK {
			t.Fatalf("setup: refresh: status %d, body %s", r.status, r.body)
		}
		body := decodeJSON(t, r)
		at, _ := body["access_token"].(string)
		rt, _ := body["refresh_token"].(string)
		if at == "" || rt == "" {
			t.Fatalf("setup: refresh response %s lacks tokens", r.body)
		}
		g.access = append(g.access, at)
		g.refresh = append(g.refresh, rt)
	}
	return g
}

// liveness is what a case expects of a token after the request.
type liveness int

const (
	unchecked liveness = iota
	alive
	dead
)

// checkAccess checks every access token at /userinfo.
func checkAccess(t *testing.T, e *env, g grantTokens, want liveness) {
	t.Helper()
	if want == unchecked {
		return
	}
	for i, at := range g.access {
		r := userinfoGET(t, e, at)
		switch {
		case want == alive && r.status != http.StatusOK:
			t.Errorf("access token %d: userinfo status %d, want 200 (still valid); body %s", i, r.status, r.body)
		case want == dead && r.status != http.StatusUnauthorized:
			t.Errorf("access token %d: userinfo status %d, want 401 (revoked); body %s", i, r.status, r.body)
		}
	}
}

// checkRefresh checks the live refresh token at the token endpoint (which
// rotates it when it works, so it runs last).
func checkRefresh(t *testing.T, e *env, c client, g grantTokens, want liveness) {
	t.Helper()
	if want == unchecked {
		return
	}
	r := e.refresh(t, c, g.lastRefresh())
	switch want {
	case alive:
		if r.status != http.StatusOK {
			t.Errorf("refresh: status %d, want 200 (still valid); body %s", r.status, r.body)
		}
	case dead:
		checkError(t, r, http.StatusBadRequest, "invalid_grant")
	}
}

// TestRevoke covers what a revocation does (RFC 7009 §2.1, §2.2): a refresh
// token takes its whole family and the family's access tokens with it, an
// opaque access token goes alone, tokens of other clients are refused, and
// unknown tokens answer 200.
func TestRevoke(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	other := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	api := e.newAPI(t, store.API{
		Identifier: "https://api.example/v1", AllowOfflineAccess: true,
		Scopes: []store.APIScope{{Name: "read", Description: "Read"}},
	})
	_, _, cookie := e.login(t)

	refresh := func(g grantTokens) string { return g.lastRefresh() }
	usedRefresh := func(g grantTokens) string { return g.refresh[0] }
	access := func(g grantTokens) string { return g.access[len(g.access)-1] }
	idToken := func(g grantTokens) string { return g.idToken }
	fixed := func(s string) func(grantTokens) string { return func(grantTokens) string { return s } }

	tests := []struct {
		name string
		// by revokes; the grant is always app's.
		by       client
		basic    bool
		audience string // JWT access tokens for this API
		rotate   bool   // refresh once before revoking
		pick     func(grantTokens) string
		hint     string
		// advance moves the clock before the revocation, and back after it.
		advance     time.Duration
		repeat      int // revoke this many times (1 when zero)
		wantStatus  int
		wantError   string
		wantAccess  liveness
		wantRefresh liveness
	}{
		{name: "unknown token", by: app, pick: fixed("no-such-token"), wantStatus: 200, wantAccess: alive, wantRefresh: alive},
		{name: "garbage JWT", by: app, pick: fixed("a.b.c"), wantStatus: 200, wantAccess: alive, wantRefresh: alive},
		{name: "refresh token of the caller", by: app, pick: refresh, wantStatus: 200, wantAccess: dead, wantRefresh: dead},
		{name: "refresh token of the caller, basic", by: app, basic: true, pick: refresh, wantStatus: 200, wantAccess: dead, wantRefresh: dead},
		{name: "refresh token after a rotation: whole family", by: app, rotate: true, pick: refresh, wantStatus: 200, wantAccess: dead, wantRefresh: dead},
		{name: "used refresh token: whole family", by: app, rotate: true, pick: usedRefresh, wantStatus: 200, wantAccess: dead, wantRefresh: dead},
		{name: "refresh token of another client", by: other, pick: refresh, wantStatus: 400, wantError: "unauthorized_client", wantAccess: alive, wantRefresh: alive},
		{name: "refresh token of another client, basic", by: other, basic: true, pick: refresh, wantStatus: 400, wantError: "unauthorized_client", wantAccess: alive, wantRefresh: alive},
		{name: "opaque access token", by: app, pick: access, wantStatus: 200, wantAccess: dead},
		{name: "opaque access token, basic", by: app, basic: true, pick: access, wantStatus: 200, wantAccess: dead},
		{name: "opaque access token of another client", by: other, pick: access, wantStatus: 400, wantError: "unauthorized_client", wantAccess: alive, wantRefresh: alive},
		{name: "refresh token with hint access_token", by: app, pick: refresh, hint: "access_token", wantStatus: 200, wantAccess: dead, wantRefresh: dead},
		{name: "access token with hint refresh_token", by: app, pick: access, hint: "refresh_token", wantStatus: 200, wantAccess: dead},
		{name: "refresh token with unknown hint", by: app, pick: refresh, hint: "id_token", wantStatus: 200, wantAccess: dead, wantRefresh: dead},
		{name: "access token with unknown hint", by: app, pick: access, hint: "urn:example:magic", wantStatus: 200, wantAccess: dead},
		{name: "JWT access token", by: app, audience: api.Identifier, pick: access, wantStatus: 400, wantError: "unsupported_token_type", wantAccess: alive, wantRefresh: alive},
		{name: "JWT access token with hint access_token", by: app, audience: api.Identifier, pick: access, hint: "access_token", wantStatus: 400, wantError: "unsupported_token_type", wantAccess: alive},
		{name: "refresh token of an API grant", by: app, audience: api.Identifier, pick: refresh, wantStatus: 200, wantRefresh: dead},
		{name: "ID token", by: app, pick: idToken, wantStatus: 200, wantAccess: alive, wantRefresh: alive},
		{name: "expired access token", by: app, pick: access, advance: 2 * time.Hour, wantStatus: 200, wantRefresh: alive},
		{name: "refresh token twice", by: app, pick: refresh, repeat: 2, wantStatus: 200, wantAccess: dead, wantRefresh: dead},
		{name: "access token twice", by: app, pick: access, repeat: 2, wantStatus: 200, wantAccess: dead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := e.issueGrant(t, app, cookie, tt.audience, tt.rotate)
			form := url.Values{"token": {tt.pick(g)}}
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
			}
			for i := range max(tt.repeat, 1) {
				r := e.clientPost(t, "/oauth/revoke", form, setup)
				if tt.wantError != "" {
					checkError(t, r, tt.wantStatus, tt.wantError)
					continue
				}
				if r.status != tt.wantStatus {
					t.Errorf("revocation %d: status %d, want %d; body %s", i+1, r.status, tt.wantStatus, r.body)
				}
			}
			if tt.advance != 0 {
				e.clock.Advance(-tt.advance)
			}
			checkAccess(t, e, g, tt.wantAccess)
			checkRefresh(t, e, app, g, tt.wantRefresh)
		})
	}
}
