package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/authflow"
	"gatehouse/internal/oauth"
)

// oddState exercises state's round trip: a space, query delimiters, a
// slash and a non-ASCII letter.
const oddState = "a b&c=d/é"

// TestAuthorizeErrorPage covers requests whose client or redirect URI
// cannot be trusted: RFC 6749 §4.1.2.1 forbids redirecting those, so the
// user sees an HTML error page and the response has no Location at all.
func TestAuthorizeErrorPage(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	multi := e.newClient(t, oauth.NewClientParams{
		FirstParty: true,
		Callbacks:  []string{"https://app.example/cb", "https://app.example/other"},
	})
	withQuery := e.newClient(t, oauth.NewClientParams{
		FirstParty: true,
		Callbacks:  []string{"https://app.example/cb?tenant=1"},
	})
	native := e.newClient(t, oauth.NewClientParams{FirstParty: true, Callbacks: []string{"com.example.app:/cb"}})
	_, _, cookie := e.login(t)

	// req is a valid request for c with redirect_uri set to redirect.
	req := func(c client, redirect string) url.Values {
		q := authQuery(c)
		q.Set("redirect_uri", redirect)
		q.Set("state", oddState)
		return q
	}
	tests := []struct {
		name  string
		query url.Values
		post  bool
		// repeat sends the request several times: parameter order in the
		// server's parsing must not change the outcome.
		repeat int
	}{
		{name: "missing client_id", query: url.Values{"redirect_uri": {loopbackCB}, "response_type": {"code"}, "scope": {"openid"}}},
		{name: "empty client_id", query: url.Values{"client_id": {""}, "redirect_uri": {loopbackCB}, "response_type": {"code"}}},
		{name: "unknown client_id", query: url.Values{"client_id": {"no-such-client"}, "redirect_uri": {loopbackCB}, "response_type": {"code"}}},
		{name: "script client_id", query: url.Values{"client_id": {"<script>alert(1)</script>"}, "redirect_uri": {loopbackCB}, "response_type": {"code"}}},
		{name: "duplicated client_id", query: url.Values{"client_id": {app.ID, app.ID}, "redirect_uri": {loopbackCB}, "response_type": {"code"}}},
		{name: "duplicated client_id, other client second", query: url.Values{"client_id": {app.ID, multi.ID}, "redirect_uri": {loopbackCB}, "response_type": {"code"}}},
		{
			name: "duplicated client_id and scope",
			query: url.Values{"client_id": {app.ID, app.ID}, "redirect_uri": {loopbackCB}, "response_type": {"code"},
				"scope": {"openid", "openid"}, "state": {oddState}},
			repeat: 30,
		},
		{name: "duplicated redirect_uri", query: func() url.Values {
			q := req(app, loopbackCB)
			q.Add("redirect_uri", loopbackCB)
			return q
		}()},
		{
			name: "duplicated redirect_uri and state",
			query: func() url.Values {
				q := req(app, loopbackCB)
				q.Add("redirect_uri", loopbackCB)
				q.Add("state", "again")
				return q
			}(),
			repeat: 30,
		},
		{name: "empty redirect_uri", query: req(app, "")},
		{name: "trailing slash", query: req(app, loopbackCB+"/")},
		{name: "added query", query: req(app, loopbackCB+"?x=1")},
		{name: "added empty query", query: req(app, loopbackCB+"?")},
		{name: "changed query", query: req(withQuery, "https://app.example/cb?tenant=2")},
		{name: "extended query", query: req(withQuery, "https://app.example/cb?tenant=1&x=1")},
		{name: "removed query", query: req(withQuery, "https://app.example/cb")},
		{name: "other case in path", query: req(app, "http://127.0.0.1:5555/CB")},
		{name: "other case in scheme", query: req(app, "HTTP://127.0.0.1:5555/cb")},
		{name: "other case in host", query: req(multi, "https://APP.example/cb")},
		{name: "percent-encoded slash", query: req(app, "http://127.0.0.1:5555%2Fcb")},
		{name: "percent-encoded path", query: req(app, "http://127.0.0.1:5555/%63b")},
		{name: "percent-encoded slashes after scheme", query: req(app, "http:%2F%2F127.0.0.1:5555/cb")},
		{name: "path suffix", query: req(app, loopbackCB+"/extra")},
		{name: "path suffix without slash", query: req(app, loopbackCB+"x")},
		{name: "cb.evil.com", query: req(app, loopbackCB+".evil.com")},
		{name: "user info", query: req(app, "http://127.0.0.1:5555@evil.example/cb")},
		{name: "dot-dot segment", query: req(app, "http://127.0.0.1:5555/x/../cb")},
		{name: "dot-dot after callback", query: req(app, loopbackCB+"/../cb")},
		{name: "dot segment", query: req(app, "http://127.0.0.1:5555/./cb")},
		{name: "other port", query: req(app, "http://127.0.0.1:5556/cb")},
		{name: "localhost for 127.0.0.1", query: req(app, "http://localhost:5555/cb")},
		{name: "https for http", query: req(app, "https://127.0.0.1:5555/cb")},
		{name: "another client's callback", query: req(app, "https://app.example/cb")},
		{name: "only a fragment", query: req(app, "#cb")},
		{name: "several callbacks and no redirect_uri", query: func() url.Values {
			q := authQuery(multi)
			q.Del("redirect_uri")
			return q
		}()},
		// OIDC Core §3.1.2.1: an OpenID request names its redirect_uri,
		// even for an application with one callback URL.
		{name: "OpenID request without redirect_uri", query: func() url.Values {
			q := authQuery(app)
			q.Del("redirect_uri")
			return q
		}()},
		{name: "OpenID request without redirect_uri, id_token", query: func() url.Values {
			q := authQuery(app)
			q.Del("redirect_uri")
			q.Set("response_type", "id_token")
			return q
		}()},
		{name: "web_message to a custom scheme", query: func() url.Values {
			q := req(native, "com.example.app:/cb")
			q.Set("response_mode", "web_message")
			return q
		}()},
		{name: "POST unknown client", post: true, query: url.Values{"client_id": {"no-such-client"}, "redirect_uri": {loopbackCB}, "response_type": {"code"}}},
		{name: "POST unregistered redirect_uri", post: true, query: req(app, loopbackCB+"/")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range max(tt.repeat, 1) {
				var r response
				if tt.post {
					r = e.postForm(t, "/authorize", tt.query, cookie)
				} else {
					r = e.get(t, "/authorize", tt.query, cookie)
				}
				if !checkErrorPage(t, r) {
					return
				}
			}
		})
	}
}

// checkErrorPage checks an RFC 6749 §4.1.2.1 error page and reports
// whether it is one.
func checkErrorPage(t *testing.T, r response) bool {
	t.Helper()
	ok := true
	if r.status < 400 || r.status > 499 {
		t.Errorf("status %d, want 4xx", r.status)
		ok = false
	}
	if loc, found := r.header["Location"]; found {
		t.Errorf("Location %q present; an error page must not redirect", loc)
		return false
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
		ok = false
	}
	body := string(r.body)
	if strings.Contains(body, "<script") {
		t.Errorf("page contains an unescaped <script: %s", body)
		ok = false
	}
	if strings.Contains(body, "evil.example") || strings.Contains(body, "127.0.0.1:5555") {
		t.Errorf("page reflects a client URL: %s", body)
		ok = false
	}
	if !strings.Contains(body, "invalid_request") {
		t.Errorf("page does not show the error code invalid_request: %s", body)
		ok = false
	}
	return ok
}

// TestAuthorizeRedirectError covers errors reported to the verified
// redirect URI (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9207).
func TestAuthorizeRedirectError(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	withQuery := e.newClient(t, oauth.NewClientParams{
		FirstParty: true,
		Callbacks:  []string{"https://app.example/cb?tenant=1"},
	})
	_, _, cookie := e.login(t)

	validChallenge := strings.Repeat("A", 43)
	tests := []struct {
		name    string
		client  *client
		change  func(url.Values)
		post    bool
		session string // "" logged in, "none" no cookie, "unknown" a cookie of no session
		want    string
		// fragment: the error comes back in the fragment, as a response
		// with a token in it would (Multiple Response Types §3.0).
		fragment bool
	}{
		{name: "missing response_type", change: del("response_type"), want: "invalid_request"},
		{name: "empty response_type", change: set("response_type", ""), want: "invalid_request"},
		{name: "response_type token", change: set("response_type", "token"), want: "unsupported_response_type", fragment: true},
		{name: "response_type id_token without the implicit grant", change: set("response_type", "id_token", "nonce", "n"), want: "unauthorized_client", fragment: true},
		{name: "response_type code id_token without the implicit grant", change: set("response_type", "code id_token", "nonce", "n"), want: "unauthorized_client", fragment: true},
		{name: "response_type code token", change: set("response_type", "code token"), want: "unsupported_response_type", fragment: true},
		{name: "response_type id_token token", change: set("response_type", "id_token token"), want: "unsupported_response_type", fragment: true},
		{name: "response_type code twice", change: set("response_type", "code code"), want: "unsupported_response_type"},
		{name: "response_type none", change: set("response_type", "none"), want: "unsupported_response_type"},
		{name: "response_type with quotes, backslash and non-ASCII", change: set("response_type", "to\"k\\en é\x01"), want: "unsupported_response_type"},
		{name: "response_mode with quotes", change: set("response_mode", `"frag\ment"`), want: "invalid_request"},
		{name: "response_mode jwt", change: set("response_mode", "jwt"), want: "invalid_request"},
		{name: "response_mode fragment, bad prompt", change: set("response_mode", "fragment", "prompt", "bogus"), want: "invalid_request", fragment: true},
		{name: "response_mode query for an id_token", change: set("response_type", "id_token", "response_mode", "query", "nonce", "n"), want: "invalid_request", fragment: true},
		{name: "PKCE plain", change: set("code_challenge", validChallenge, "code_challenge_method", "plain"), want: "invalid_request"},
		{name: "PKCE without method", change: set("code_challenge", validChallenge), want: "invalid_request"},
		{name: "PKCE method without challenge", change: set("code_challenge_method", "S256"), want: "invalid_request"},
		{name: "PKCE lower-case method", change: set("code_challenge", validChallenge, "code_challenge_method", "s256"), want: "invalid_request"},
		{name: "PKCE challenge too short", change: set("code_challenge", "abc", "code_challenge_method", "S256"), want: "invalid_request"},
		{name: "PKCE challenge too long", change: set("code_challenge", strings.Repeat("A", 129), "code_challenge_method", "S256"), want: "invalid_request"},
		{name: "PKCE challenge with base64 padding", change: set("code_challenge", strings.Repeat("A", 42)+"=", "code_challenge_method", "S256"), want: "invalid_request"},
		{name: "PKCE challenge with plus", change: set("code_challenge", strings.Repeat("A", 42)+"+", "code_challenge_method", "S256"), want: "invalid_request"},
		{name: "prompt none and login", change: set("prompt", "none login"), want: "invalid_request"},
		{name: "prompt consent and none", change: set("prompt", "consent none"), want: "invalid_request"},
		{name: "unknown prompt", change: set("prompt", "bogus"), want: "invalid_request"},
		{name: "max_age non-integer", change: set("max_age", "abc"), want: "invalid_request"},
		{name: "max_age fraction", change: set("max_age", "1.5"), want: "invalid_request"},
		{name: "max_age negative", change: set("max_age", "-1"), want: "invalid_request"},
		{name: "duplicated scope", change: add("scope", "openid"), want: "invalid_request"},
		{name: "duplicated response_type", change: add("response_type", "code"), want: "invalid_request"},
		{name: "duplicated nonce", change: add("nonce", "n1", "nonce", "n2"), want: "invalid_request"},
		{name: "unknown connection", change: set("connection", "no-such-connection"), want: "invalid_request"},
		{name: "unknown audience", change: set("audience", "https://api.unknown.example"), want: "invalid_request"},
		{name: "organization", change: set("organization", "org_123"), want: "invalid_request"},
		{name: "invitation", change: set("invitation", "inv_123"), want: "invalid_request"},
		{name: "request object", change: set("request", "eyJhbGciOiJub25lIn0.e30."), want: "request_not_supported"},
		{name: "request_uri", change: set("request_uri", "https://app.example/request.jwt"), want: "request_uri_not_supported"},
		{name: "registration", change: set("registration", "{}"), want: "registration_not_supported"},
		{name: "prompt none without session", change: set("prompt", "none"), session: "none", want: "login_required"},
		{name: "prompt none with an unknown session", change: set("prompt", "none"), session: "unknown", want: "login_required"},
		{name: "POST missing response_type", change: del("response_type"), post: true, want: "invalid_request"},
		{name: "POST prompt none without session", change: set("prompt", "none"), post: true, session: "none", want: "login_required"},
		{name: "callback with query, token response_type", client: &withQuery, change: set("response_type", "token"), want: "unsupported_response_type", fragment: true},
		{name: "callback with query, fragment mode", client: &withQuery, change: set("response_mode", "fragment", "max_age", "x"), want: "invalid_request", fragment: true},
		{name: "redirect_uri with fragment, token response_type", change: set("redirect_uri", loopbackCB+"#frag", "response_type", "token"), want: "unsupported_response_type", fragment: true},
		{name: "single callback, no redirect_uri, not OpenID, token response_type", change: func(q url.Values) {
			q.Del("redirect_uri")
			q.Set("scope", "email")
			q.Set("response_type", "token")
		}, want: "unsupported_response_type", fragment: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := app
			if tt.client != nil {
				c = *tt.client
			}
			q := authQuery(c)
			q.Set("state", oddState)
			tt.change(q)
			ck := cookie
			switch tt.session {
			case "none":
				ck = nil
			case "unknown":
				ck = &http.Cookie{Name: cookie.Name, Value: "not-a-session"}
			}
			var r response
			wantStatus := http.StatusFound
			if tt.post {
				r = e.postForm(t, "/authorize", q, ck)
				wantStatus = http.StatusSeeOther
			} else {
				r = e.get(t, "/authorize", q, ck)
			}
			if r.status != wantStatus {
				t.Fatalf("status %d, want %d (Location %q, body %.300s)", r.status, wantStatus, r.header.Get("Location"), r.body)
			}
			loc := location(t, r)
			registered, _ := url.Parse(c.Callbacks[0])
			if got, want := withoutQuery(loc), withoutQuery(registered); got != want {
				t.Errorf("redirected to %s, want the registered %s", got, want)
			}
			got := loc.Query()
			for k, v := range registered.Query() {
				if got.Get(k) != v[0] {
					t.Errorf("registered query %s=%s lost: %s", k, v[0], loc)
				}
			}
			if tt.fragment {
				if _, ok := got["error"]; ok {
					t.Errorf("Location %q has the error in its query", r.header.Get("Location"))
				}
				var err error
				if got, err = url.ParseQuery(loc.EscapedFragment()); err != nil {
					t.Fatalf("fragment %q: %v", loc.Fragment, err)
				}
			} else if loc.Fragment != "" || strings.Contains(r.header.Get("Location"), "#") {
				t.Errorf("Location %q has a fragment", r.header.Get("Location"))
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if got.Get("error") != tt.want {
				t.Errorf("error = %q, want %q (description %q)", got.Get("error"), tt.want, got.Get("error_description"))
			}
			checkDescription(t, got.Get("error_description"))
			if got.Get("state") != oddState {
				t.Errorf("state = %q, want %q exactly", got.Get("state"), oddState)
			}
			if got.Get("iss") != e.issuer {
				t.Errorf("iss = %q, want %q", got.Get("iss"), e.issuer)
			}
			if _, ok := got["code"]; ok {
				t.Errorf("an error response carries a code: %s", loc)
			}
		})
	}
}

// set returns a change that sets pairs of name, value.
func set(kv ...string) func(url.Values) {
	return func(q url.Values) {
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
	}
}

// add returns a change that adds pairs of name, value.
func add(kv ...string) func(url.Values) {
	return func(q url.Values) {
		for i := 0; i < len(kv); i += 2 {
			q.Add(kv[i], kv[i+1])
		}
	}
}

// del returns a change that removes parameters.
func del(names ...string) func(url.Values) {
	return func(q url.Values) {
		for _, n := range names {
			q.Del(n)
		}
	}
}

// TestAuthorizeSuccess covers requests that must yield a code at once: a
// logged-in browser and a first-party client (no consent page).
func TestAuthorizeSuccess(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	withQuery := e.newClient(t, oauth.NewClientParams{
		FirstParty: true,
		Callbacks:  []string{"https://app.example/cb?tenant=1&lang=en"},
	})
	multi := e.newClient(t, oauth.NewClientParams{
		FirstParty: true,
		Callbacks:  []string{"https://app.example/cb", "http://[::1]:8080/callback"},
	})
	_, _, cookie := e.login(t)

	tests := []struct {
		name      string
		client    *client
		change    func(url.Values)
		post      bool
		wantState string // "" means no state parameter at all
		wantBase  string // the redirect target without query; the client's first callback when empty
	}{
		{name: "plain", wantState: oddState},
		{name: "no state", change: del("state")},
		{name: "no nonce", change: del("nonce"), wantState: oddState},
		{name: "with nonce", change: set("nonce", "n-0S6_WzA2Mj"), wantState: oddState},
		{name: "fragment dropped", change: set("redirect_uri", loopbackCB+"#frag"), wantState: oddState},
		{name: "empty fragment dropped", change: set("redirect_uri", loopbackCB+"#"), wantState: oddState},
		{name: "single callback, no redirect_uri, not OpenID", change: func(q url.Values) { q.Del("redirect_uri"); q.Set("scope", "email") }, wantState: oddState},
		{name: "second of several callbacks", client: &multi, change: set("redirect_uri", "http://[::1]:8080/callback"), wantState: oddState, wantBase: "http://[::1]:8080/callback"},
		{name: "unknown parameters ignored", change: set("foo", "bar", "x-custom", "<script>", "claims", `{"userinfo":{}}`), wantState: oddState},
		{name: "display ignored", change: set("display", "popup"), wantState: oddState},
		{name: "unknown display ignored", change: set("display", "hologram"), wantState: oddState},
		{name: "ui_locales ignored", change: set("ui_locales", "fr-CA fr en"), wantState: oddState},
		{name: "claims_locales ignored", change: set("claims_locales", "de"), wantState: oddState},
		{name: "acr_values ignored", change: set("acr_values", "urn:mace:incommon:iap:silver"), wantState: oddState},
		{name: "login_hint ignored", change: set("login_hint", "someone@example.com"), wantState: oddState},
		{name: "id_token_hint ignored", change: set("id_token_hint", "not.a.jwt"), wantState: oddState},
		{name: "all hints together", change: set("display", "page", "ui_locales", "en", "claims_locales", "en", "acr_values", "1", "login_hint", "x", "id_token_hint", "y"), wantState: oddState},
		{name: "scope order reversed", change: set("scope", "email profile openid"), wantState: oddState},
		{name: "scope with unknown value", change: set("scope", "openid read:things"), wantState: oddState},
		{name: "response_mode query", change: set("response_mode", "query"), wantState: oddState},
		{name: "PKCE S256", change: set("code_challenge", strings.Repeat("a", 43), "code_challenge_method", "S256"), wantState: oddState},
		{name: "prompt none with session", change: set("prompt", "none"), wantState: oddState},
		{name: "prompt select_account", change: set("prompt", "select_account"), wantState: oddState},
		{name: "max_age large", change: set("max_age", "3600"), wantState: oddState},
		{name: "default connection", change: set("connection", "Username-Password-Authentication"), wantState: oddState},
		{name: "POST form", post: true, wantState: oddState},
		{name: "POST form with fragment", post: true, change: set("redirect_uri", loopbackCB+"#x"), wantState: oddState},
		{name: "callback with query", client: &withQuery, wantState: oddState},
		{name: "callback with query, no state", client: &withQuery, change: del("state")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := app
			if tt.client != nil {
				c = *tt.client
			}
			q := authQuery(c)
			q.Set("state", oddState)
			if tt.change != nil {
				tt.change(q)
			}
			var r response
			wantStatus := http.StatusFound
			if tt.post {
				r = e.postForm(t, "/authorize", q, cookie)
				wantStatus = http.StatusSeeOther
			} else {
				r = e.get(t, "/authorize", q, cookie)
			}
			if r.status != wantStatus {
				t.Fatalf("status %d, want %d (Location %q, body %.300s)", r.status, wantStatus, r.header.Get("Location"), r.body)
			}
			checkNoCORS(t, r.header)
			raw := r.header.Get("Location")
			if strings.Contains(raw, "#") {
				t.Errorf("Location %q has a fragment", raw)
			}
			loc := location(t, r)
			registered, _ := url.Parse(c.Callbacks[0])
			wantBase := withoutQuery(registered)
			if tt.wantBase != "" {
				wantBase = tt.wantBase
			}
			if got := withoutQuery(loc); got != wantBase {
				t.Errorf("redirected to %s, want %s", got, wantBase)
			}
			if tt.wantBase == "" && registered.RawQuery != "" && !strings.HasPrefix(raw, c.Callbacks[0]+"&") {
				t.Errorf("Location %q does not keep the registered query of %q", raw, c.Callbacks[0])
			}
			got := loc.Query()
			for k, v := range registered.Query() {
				if got.Get(k) != v[0] {
					t.Errorf("registered query %s=%s lost: %s", k, v[0], loc)
				}
			}
			if got.Get("code") == "" {
				t.Errorf("no code in %s", loc)
			}
			if _, ok := got["error"]; ok {
				t.Errorf("error %q in %s", got.Get("error"), loc)
			}
			if got.Get("iss") != e.issuer {
				t.Errorf("iss = %q, want %q", got.Get("iss"), e.issuer)
			}
			if st, ok := got["state"]; tt.wantState == "" && ok {
				t.Errorf("state %q present, want none", st)
			} else if tt.wantState != "" && got.Get("state") != tt.wantState {
				t.Errorf("state = %q, want %q exactly", got.Get("state"), tt.wantState)
			}
		})
	}
}

// checkNoCORS checks that a response grants no cross-origin access.
func checkNoCORS(t *testing.T, h http.Header) {
	t.Helper()
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("CORS header %s: %q on /authorize", k, h.Get(k))
		}
	}
}

// TestAuthorizeNoCORS sends cross-origin requests, including a preflight,
// to /authorize: it is a browser navigation endpoint, never an XHR one.
func TestAuthorizeNoCORS(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)
	tests := []struct {
		name   string
		method string
		query  url.Values
	}{
		{name: "GET success", method: http.MethodGet, query: authQuery(app)},
		{name: "GET redirect error", method: http.MethodGet, query: func() url.Values { q := authQuery(app); q.Del("response_type"); return q }()},
		{name: "GET error page", method: http.MethodGet, query: url.Values{"client_id": {"nope"}}},
		{name: "OPTIONS preflight", method: http.MethodOptions, query: authQuery(app)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := e.newRequest(t, tt.method, "/authorize?"+tt.query.Encode(), nil)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Access-Control-Request-Method", "GET")
			req.AddCookie(cookie)
			r := e.do(t, req)
			checkNoCORS(t, r.header)
		})
	}
}

// TestAuthorizeScopeOrder checks that the order of scope values changes
// nothing in what is granted.
func TestAuthorizeScopeOrder(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)
	var scopes []string
	for _, s := range []string{"openid profile email", "email openid profile", "profile email openid", "  openid   email profile "} {
		code := e.code(t, app, cookie, url.Values{"scope": {s}})
		tr := e.exchange(t, app, code, nil)
		if tr.IDToken == "" {
			t.Errorf("scope %q: no id_token", s)
		}
		scopes = append(scopes, strings.Join(strings.Fields(tr.Scope), " "))
	}
	for i := 1; i < len(scopes); i++ {
		if !sameSet(scopes[0], scopes[i]) {
			t.Errorf("granted scope %q differs from %q", scopes[i], scopes[0])
		}
	}
}

// sameSet compares two space-separated sets.
func sameSet(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	if len(x) != len(y) {
		return false
	}
	m := map[string]bool{}
	for _, s := range x {
		m[s] = true
	}
	for _, s := range y {
		if !m[s] {
			return false
		}
	}
	return true
}

// TestAuthorizeHandOff covers requests that need a hosted page: they go to
// the login or consent page, or fail with prompt=none.
func TestAuthorizeHandOff(t *testing.T) {
	e := newEnv(t)
	firstParty := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	thirdParty := e.newClient(t, oauth.NewClientParams{})
	_, _, cookie := e.login(t)
	tests := []struct {
		name      string
		client    client
		loggedIn  bool
		prompt    string
		maxAge    string
		wantPath  string // a hosted page
		wantError string // or an error at the callback
	}{
		{name: "not logged in", client: firstParty, wantPath: authflow.LoginPath},
		{name: "prompt login", client: firstParty, loggedIn: true, prompt: "login", wantPath: authflow.LoginPath},
		{name: "max_age shorter than the session", client: firstParty, loggedIn: true, maxAge: "30", wantPath: authflow.LoginPath},
		{name: "max_age zero", client: firstParty, loggedIn: true, maxAge: "0", wantPath: authflow.LoginPath},
		{name: "max_age shorter, prompt none", client: firstParty, loggedIn: true, maxAge: "30", prompt: "none", wantError: "login_required"},
		{name: "prompt none, not logged in", client: firstParty, prompt: "none", wantError: "login_required"},
		{name: "third party needs consent", client: thirdParty, loggedIn: true, wantPath: authflow.ConsentPath},
		{name: "third party, prompt none", client: thirdParty, loggedIn: true, prompt: "none", wantError: "consent_required"},
		{name: "third party, prompt none, not logged in", client: thirdParty, prompt: "none", wantError: "login_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authQuery(tt.client)
			q.Set("state", oddState)
			if tt.prompt != "" {
				q.Set("prompt", tt.prompt)
			}
			if tt.maxAge != "" {
				q.Set("max_age", tt.maxAge)
			}
			var ck *http.Cookie
			if tt.loggedIn {
				ck = cookie
			}
			r := e.get(t, "/authorize", q, ck)
			if r.status != http.StatusFound {
				t.Fatalf("status %d, want 302; body %.300s", r.status, r.body)
			}
			loc := location(t, r)
			got := loc.Query()
			if tt.wantPath != "" {
				if loc.Host != "" && loc.Host != strings.TrimPrefix(e.issuer, "http://") || loc.Path != tt.wantPath {
					t.Errorf("redirected to %s, want the hosted page %s", loc, tt.wantPath)
				}
				if got.Get("req") == "" {
					t.Errorf("no req in %s", loc)
				}
				if _, ok := got["code"]; ok {
					t.Errorf("code handed out before the hosted page: %s", loc)
				}
				return
			}
			if withoutQuery(loc) != loopbackCB {
				t.Errorf("redirected to %s, want %s", loc, loopbackCB)
			}
			if got.Get("error") != tt.wantError || got.Get("state") != oddState || got.Get("iss") != e.issuer {
				t.Errorf("error %q state %q iss %q, want %q %q %q", got.Get("error"), got.Get("state"), got.Get("iss"), tt.wantError, oddState, e.issuer)
			}
			checkDescription(t, got.Get("error_description"))
			if _, ok := got["code"]; ok {
				t.Errorf("an error response carries a code: %s", loc)
			}
		})
	}
}
