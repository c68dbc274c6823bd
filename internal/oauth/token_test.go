package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/oauth"
)

// s256 is the S256 code challenge of verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestTokenErrors covers every error of the token endpoint: RFC 6749 §5.2
// JSON with the no-store headers, 401 invalid_client for failed client
// authentication (with a Basic challenge when Basic was tried).
func TestTokenErrors(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	other := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)

	verifier := strings.Repeat("v", 43)
	// codeForm is a valid client_secret_post redemption of a fresh code of
	// app, obtained with the extra authorization parameters.
	codeForm := func(t *testing.T, extra url.Values) url.Values {
		return url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {e.code(t, app, cookie, extra)},
			"redirect_uri":  {loopbackCB},
			"client_id":     {app.ID},
			"client_secret": {app.Secret},
		}
	}
	// post builds a form of name, value pairs, for errors found before any
	// code is looked at.
	post := func(kv ...string) func(*testing.T) (url.Values, func(*http.Request)) {
		return func(*testing.T) (url.Values, func(*http.Request)) {
			form := url.Values{}
			for i := 0; i < len(kv); i += 2 {
				form.Add(kv[i], kv[i+1])
			}
			return form, nil
		}
	}

	tests := []struct {
		name string
		// method is POST when empty.
		method string
		// build returns the form and a change to the request.
		build      func(t *testing.T) (url.Values, func(*http.Request))
		wantStatus int
		wantError  string
		// wantBasic wants WWW-Authenticate: Basic (RFC 6749 §5.2).
		wantBasic bool
	}{
		{name: "GET", method: http.MethodGet, build: post(), wantStatus: http.StatusMethodNotAllowed, wantError: "invalid_request"},
		{name: "GET with query", method: http.MethodGet, build: post("grant_type", "authorization_code", "client_id", app.ID, "client_secret", app.Secret), wantStatus: http.StatusMethodNotAllowed, wantError: "invalid_request"},
		{name: "PUT", method: http.MethodPut, build: post("grant_type", "authorization_code"), wantStatus: http.StatusMethodNotAllowed, wantError: "invalid_request"},
		{
			name: "JSON body",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				body := `{"grant_type":"authorization_code","client_id":"` + app.ID + `","client_secret":"` + app.Secret + `"}`
				return nil, func(r *http.Request) {
					r.Header.Set("Content-Type", "application/json")
					r.Body = io.NopCloser(strings.NewReader(body))
					r.ContentLength = int64(len(body))
				}
			},
			wantStatus: http.StatusBadRequest, wantError: "invalid_request",
		},
		{
			name: "no content type",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form, _ := post("grant_type", "authorization_code", "client_id", app.ID, "client_secret", app.Secret)(t)
				return form, func(r *http.Request) { r.Header.Del("Content-Type") }
			},
			wantStatus: http.StatusBadRequest, wantError: "invalid_request",
		},
		{
			name: "multipart content type",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form, _ := post("grant_type", "authorization_code", "client_id", app.ID, "client_secret", app.Secret)(t)
				return form, func(r *http.Request) { r.Header.Set("Content-Type", "multipart/form-data; boundary=x") }
			},
			wantStatus: http.StatusBadRequest, wantError: "invalid_request",
		},
		{name: "no client credentials", build: post("grant_type", "authorization_code", "code", "x", "redirect_uri", loopbackCB), wantStatus: 401, wantError: "invalid_client"},
		{name: "client_id without secret", build: post("grant_type", "authorization_code", "client_id", app.ID), wantStatus: 401, wantError: "invalid_client"},
		{name: "client_id with empty secret", build: post("grant_type", "authorization_code", "client_id", app.ID, "client_secret", ""), wantStatus: 401, wantError: "invalid_client"},
		{name: "unknown client, post", build: post("grant_type", "authorization_code", "client_id", "no-such-client", "client_secret", app.Secret), wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong secret, post", build: post("grant_type", "authorization_code", "client_id", app.ID, "client_secret", other.Secret), wantStatus: 401, wantError: "invalid_client"},
		{name: "secret only", build: post("grant_type", "authorization_code", "client_secret", app.Secret), wantStatus: 401, wantError: "invalid_client"},
		{
			name: "unknown client, basic",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}}, basicAuth("no-such-client", app.Secret)
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "wrong secret, basic",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}}, basicAuth(app.ID, other.Secret)
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "empty secret, basic",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}}, basicAuth(app.ID, "")
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "empty id, basic",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}}, basicAuth("", app.Secret)
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "malformed percent-encoding, basic",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}}, func(r *http.Request) { r.SetBasicAuth(app.ID, "%zz"+app.Secret) }
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			// RFC 6749 §5.2: a client that tried the Authorization header
			// gets a 401 with WWW-Authenticate of its scheme, even when the
			// header does not decode.
			name: "malformed base64, basic",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}}, func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!not-base64!!!") }
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "basic without colon",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}}, func(r *http.Request) {
					r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(app.ID)))
				}
			},
			wantStatus: 401, wantError: "invalid_client", wantBasic: true,
		},
		{
			name: "bearer authorization header",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}, "client_id": {app.ID}, "client_secret": {app.Secret}},
					func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }
			},
			wantStatus: 401, wantError: "invalid_client",
		},
		{
			name: "basic and client_secret_post",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}, "client_id": {app.ID}, "client_secret": {app.Secret}}, basicAuth(app.ID, app.Secret)
			},
			wantStatus: 400, wantError: "invalid_request",
		},
		{
			name: "basic and another client_id in the body",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return url.Values{"grant_type": {"authorization_code"}, "client_id": {other.ID}}, basicAuth(app.ID, app.Secret)
			},
			wantStatus: 400, wantError: "invalid_request",
		},
		{name: "missing grant_type", build: post("client_id", app.ID, "client_secret", app.Secret, "code", "x"), wantStatus: 400, wantError: "invalid_request"},
		{name: "empty grant_type", build: post("grant_type", "", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "invalid_request"},
		{name: "unknown grant_type", build: post("grant_type", "urn:example:magic", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "password grant", build: post("grant_type", "password", "username", "u", "password", "p", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "client_credentials grant of a web application", build: post("grant_type", "client_credentials", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "unauthorized_client"},
		{name: "implicit grant", build: post("grant_type", "implicit", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "device_code grant", build: post("grant_type", "urn:ietf:params:oauth:grant-type:device_code", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "grant_type with quotes, backslash and non-ASCII", build: post("grant_type", "a\"b\\c é\x01", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "refresh_token grant without offline access", build: post("grant_type", "refresh_token", "refresh_token", "x", "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "unauthorized_client"},
		{name: "missing code", build: post("grant_type", "authorization_code", "redirect_uri", loopbackCB, "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "invalid_request"},
		{name: "unknown code", build: post("grant_type", "authorization_code", "code", "no-such-code", "redirect_uri", loopbackCB, "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "invalid_grant"},
		{
			name: "another client's code",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				form.Set("client_id", other.ID)
				form.Set("client_secret", other.Secret)
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "missing redirect_uri",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				form.Del("redirect_uri")
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "different redirect_uri",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				form.Set("redirect_uri", loopbackCB+"/")
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "PKCE challenge without verifier",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				return codeForm(t, url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}), nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "PKCE wrong verifier",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}})
				form.Set("code_verifier", strings.Repeat("w", 43))
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "PKCE challenge as verifier",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}})
				form.Set("code_verifier", s256(verifier))
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "PKCE verifier without challenge",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				form.Set("code_verifier", verifier)
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "PKCE verifier too short",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				short := strings.Repeat("s", 42)
				form := codeForm(t, url.Values{"code_challenge": {s256(short)}, "code_challenge_method": {"S256"}})
				form.Set("code_verifier", short)
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "PKCE verifier with forbidden characters",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				bad := strings.Repeat("v", 42) + "+"
				form := codeForm(t, url.Values{"code_challenge": {s256(bad)}, "code_challenge_method": {"S256"}})
				form.Set("code_verifier", bad)
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "PKCE verifier too long",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				long := strings.Repeat("l", 129)
				form := codeForm(t, url.Values{"code_challenge": {s256(long)}, "code_challenge_method": {"S256"}})
				form.Set("code_verifier", long)
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "expired code",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				// Past the default one-minute CodeTTL; the checklist allows
				// at most ten.
				e.clock.Advance(2 * time.Minute)
				t.Cleanup(func() { e.clock.Advance(-2 * time.Minute) })
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "code over ten minutes old",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				e.clock.Advance(10*time.Minute + time.Second)
				t.Cleanup(func() { e.clock.Advance(-10*time.Minute - time.Second) })
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name: "duplicated code",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				form.Add("code", form.Get("code"))
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_request",
		},
		{name: "duplicated grant_type", build: post("grant_type", "authorization_code", "grant_type", "authorization_code", "code", "x", "redirect_uri", loopbackCB, "client_id", app.ID, "client_secret", app.Secret), wantStatus: 400, wantError: "invalid_request"},
		{name: "duplicated client_secret", build: post("grant_type", "authorization_code", "code", "x", "redirect_uri", loopbackCB, "client_id", app.ID, "client_secret", app.Secret, "client_secret", app.Secret), wantStatus: 400, wantError: "invalid_request"},
		{
			name: "duplicated redirect_uri",
			build: func(t *testing.T) (url.Values, func(*http.Request)) {
				form := codeForm(t, nil)
				form.Add("redirect_uri", loopbackCB)
				return form, nil
			},
			wantStatus: 400, wantError: "invalid_request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, setup := tt.build(t)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			var req *http.Request
			if method == http.MethodGet {
				req = e.newRequest(t, method, "/oauth/token?"+form.Encode(), nil)
			} else {
				req = e.newRequest(t, method, "/oauth/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if setup != nil {
				setup(req)
			}
			r := e.do(t, req)
			if r.status != tt.wantStatus {
				t.Errorf("status %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			body := decodeJSON(t, r)
			if got := body["error"]; got != tt.wantError {
				t.Errorf("error = %v, want %s (body %s)", got, tt.wantError, r.body)
			}
			desc, _ := body["error_description"].(string)
			checkDescription(t, desc)
			for k := range body {
				if k != "error" && k != "error_description" && k != "error_uri" {
					t.Errorf("unexpected member %q in error body %s", k, r.body)
				}
			}
			checkNoStore(t, r.header)
			wa := r.header.Get("WWW-Authenticate")
			if tt.wantBasic && !strings.HasPrefix(wa, "Basic") {
				t.Errorf("WWW-Authenticate %q, want a Basic challenge", wa)
			}
			if !tt.wantBasic && strings.HasPrefix(wa, "Basic") {
				t.Errorf("WWW-Authenticate %q, but Basic was not used", wa)
			}
			if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

// TestTokenSuccess redeems codes with each client authentication method.
func TestTokenSuccess(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	offline := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	// A secret full of characters that form-encoding changes (RFC 6749
	// §2.3.1, Appendix B): space, plus, percent, colon, slash, ampersand,
	// equals, question mark and non-ASCII.
	special := e.newClient(t, oauth.NewClientParams{
		FirstParty: true,
		ID:         "special.client~id_-1",
		Secret:     "s3cret with+plus%percent:colon/slash&amp=eq?q#h~é",
	})
	withQuery := e.newClient(t, oauth.NewClientParams{FirstParty: true, Callbacks: []string{"https://app.example/cb?tenant=1"}})
	_, _, cookie := e.login(t)
	verifier := "dBjftJeZ4CVP-mJ92K9uWzS1mvOpWSgd_fM_L6S7ehw"

	tests := []struct {
		name        string
		client      client
		authExtra   url.Values
		form        url.Values
		basic       bool                // client_secret_basic instead of client_secret_post
		setup       func(*http.Request) // a last change to the request
		wantScope   string
		wantIDToken bool
		wantRefresh bool
	}{
		{name: "client_secret_post", client: app, wantScope: "email openid profile", wantIDToken: true},
		{name: "client_secret_basic", client: app, basic: true, wantScope: "email openid profile", wantIDToken: true},
		{
			name: "client_secret_basic with client_id in the body", client: app,
			form:  url.Values{"client_id": {app.ID}},
			basic: true, wantScope: "email openid profile", wantIDToken: true,
		},
		{name: "basic with form-encoded special characters", client: special, basic: true, wantScope: "email openid profile", wantIDToken: true},
		{name: "post with special characters", client: special, wantScope: "email openid profile", wantIDToken: true},
		{
			name: "content type with charset", client: app, wantScope: "email openid profile", wantIDToken: true,
			setup: func(r *http.Request) {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
			},
		},
		{
			name: "PKCE", client: app, wantScope: "email openid profile", wantIDToken: true,
			authExtra: url.Values{"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}},
			form:      url.Values{"code_verifier": {verifier}},
		},
		{name: "callback with query", client: withQuery, wantScope: "email openid profile", wantIDToken: true},
		{name: "no openid", client: app, authExtra: url.Values{"scope": {"profile email"}}, wantScope: "email profile"},
		{name: "offline_access without permission", client: app, authExtra: url.Values{"scope": {"openid offline_access"}}, wantScope: "openid", wantIDToken: true},
		{name: "offline_access", client: offline, authExtra: url.Values{"scope": {"openid offline_access"}}, wantScope: "offline_access openid", wantIDToken: true, wantRefresh: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := e.code(t, tt.client, cookie, tt.authExtra)
			form := url.Values{
				"grant_type":   {"authorization_code"},
				"code":         {code},
				"redirect_uri": {tt.client.Callbacks[0]},
			}
			setup := func(r *http.Request) {
				if tt.basic {
					basicAuth(tt.client.ID, tt.client.Secret)(r)
				}
				if tt.setup != nil {
					tt.setup(r)
				}
			}
			if !tt.basic {
				form.Set("client_id", tt.client.ID)
				form.Set("client_secret", tt.client.Secret)
			}
			for k, v := range tt.form {
				form[k] = v
			}
			r := e.tokenReq(t, form, setup)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", r.status, r.body)
			}
			checkNoStore(t, r.header)
			body := decodeJSON(t, r)
			if s, _ := body["access_token"].(string); s == "" {
				t.Errorf("no access_token in %s", r.body)
			}
			if body["token_type"] != "Bearer" {
				t.Errorf("token_type = %v, want Bearer", body["token_type"])
			}
			if n, _ := body["expires_in"].(float64); n <= 0 {
				t.Errorf("expires_in = %v, want > 0", body["expires_in"])
			}
			if s, _ := body["scope"].(string); !sameSet(s, tt.wantScope) {
				t.Errorf("scope = %q, want %q", s, tt.wantScope)
			}
			if _, ok := body["id_token"]; ok != tt.wantIDToken {
				t.Errorf("id_token present = %v, want %v", ok, tt.wantIDToken)
			}
			if _, ok := body["refresh_token"]; ok != tt.wantRefresh {
				t.Errorf("refresh_token present = %v, want %v", ok, tt.wantRefresh)
			}
		})
	}
}

// TestTokenCodeReuse redeems a code twice: the second attempt fails and
// what the first one issued stops working (RFC 6749 §4.1.2).
func TestTokenCodeReuse(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		offline bool
		basic   bool
	}{
		{name: "post"},
		{name: "basic", basic: true},
		{name: "with refresh token", offline: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: tt.offline})
			_, _, cookie := e.login(t)
			scope := "openid profile"
			if tt.offline {
				scope += " offline_access"
			}
			code := e.code(t, c, cookie, url.Values{"scope": {scope}})
			first := e.exchange(t, c, code, nil)
			if r := e.get(t, "/userinfo", nil, nil); r.status != http.StatusUnauthorized {
				t.Fatalf("userinfo without token: status %d", r.status)
			}
			if r := userinfoGET(t, e, first.AccessToken); r.status != http.StatusOK {
				t.Fatalf("userinfo with the first access token before reuse: status %d, body %s", r.status, r.body)
			}
			if tt.offline && first.RefreshToken == "" {
				t.Fatalf("no refresh token for an offline client")
			}

			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.Callbacks[0]}}
			var setup func(*http.Request)
			if tt.basic {
				setup = basicAuth(c.ID, c.Secret)
			} else {
				form.Set("client_id", c.ID)
				form.Set("client_secret", c.Secret)
			}
			r := e.tokenReq(t, form, setup)
			if r.status != http.StatusBadRequest {
				t.Errorf("second redemption: status %d, want 400; body %s", r.status, r.body)
			}
			body := decodeJSON(t, r)
			if body["error"] != "invalid_grant" {
				t.Errorf("second redemption: error %v, want invalid_grant", body["error"])
			}
			checkNoStore(t, r.header)

			r = userinfoGET(t, e, first.AccessToken)
			if r.status != http.StatusUnauthorized {
				t.Errorf("userinfo with the first access token after reuse: status %d, want 401; body %s", r.status, r.body)
			}
			if wa := r.header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q, want error=\"invalid_token\"", wa)
			}
			if tt.offline {
				r := e.tokenReq(t, url.Values{
					"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken},
					"client_id": {c.ID}, "client_secret": {c.Secret},
				}, nil)
				if r.status != http.StatusBadRequest || decodeJSON(t, r)["error"] != "invalid_grant" {
					t.Errorf("refresh with the first refresh token after reuse: status %d, body %s; want 400 invalid_grant", r.status, r.body)
				}
			}
		})
	}
}

// TestTokenAnotherClientsCode checks that a code presented by the wrong
// client fails without issuing anything to that client.
func TestTokenAnotherClientsCode(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	thief := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)
	code := e.code(t, app, cookie, nil)
	tests := []struct {
		name  string
		setup func(*http.Request)
		form  url.Values
	}{
		{name: "post", form: url.Values{"client_id": {thief.ID}, "client_secret": {thief.Secret}}},
		{name: "basic", setup: basicAuth(thief.ID, thief.Secret)},
		{name: "victim id with thief secret", form: url.Values{"client_id": {app.ID}, "client_secret": {thief.Secret}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {loopbackCB}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := e.tokenReq(t, form, tt.setup)
			body := decodeJSON(t, r)
			if _, ok := body["access_token"]; ok || r.status == http.StatusOK {
				t.Fatalf("another client redeemed the code: %s", r.body)
			}
			if e := body["error"]; e != "invalid_grant" && e != "invalid_client" {
				t.Errorf("error %v, want invalid_grant or invalid_client", e)
			}
		})
	}
}
