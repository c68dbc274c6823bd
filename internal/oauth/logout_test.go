package oauth_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/oauth"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// Logout URLs of the test application.
const (
	logoutURL      = "https://app.example/logged-out"
	logoutURLQuery = "https://app.example/bye?from=app"
	otherLogoutURL = "https://other.example/logged-out"
)

// logoutPage is what a logout request is expected to show.
type logoutPage int

const (
	redirectPage  logoutPage = iota // a redirect to the wanted URL
	errorPage                       // an error page, no Location
	confirmPage                     // the confirmation form, no Location
	loggedOutPage                   // the "you are logged out" page, no Location
)

// TestLogout covers /v2/logout and RP-initiated logout at /oidc/logout
// (OpenID Connect RP-Initiated Logout 1.0 §2, §3): the redirect goes only
// to a registered logout URL, by exact match; a forged, foreign or
// non-ID-token hint is refused; without a hint the user confirms first;
// after a logout the session is gone.
func TestLogout(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{
		FirstParty: true,
		LogoutURLs: []string{logoutURL, logoutURLQuery, "http://127.0.0.1:5555/logged-out"},
	})
	other := e.newClient(t, oauth.NewClientParams{FirstParty: true, LogoutURLs: []string{otherLogoutURL}})
	registered := []string{logoutURL, logoutURLQuery, "http://127.0.0.1:5555/logged-out", otherLogoutURL}
	api := e.newAPI(t, store.API{Identifier: "https://api.example/v1", Scopes: []store.APIScope{{Name: "read", Description: "Read"}}})

	// A second Gatehouse with its own keys and issuer.
	foreign := newEnv(t)
	foreignApp := foreign.newClient(t, oauth.NewClientParams{ID: app.ID, FirstParty: true, LogoutURLs: []string{logoutURL}})
	_, _, foreignCookie := foreign.login(t)
	foreignHint := foreign.exchange(t, foreignApp, foreign.code(t, foreignApp, foreignCookie, nil), nil).IDToken

	// Hints, made for the user of each case.
	idToken := func(c client) func(*testing.T, store.User, *http.Cookie) string {
		return func(t *testing.T, _ store.User, cookie *http.Cookie) string {
			return e.exchange(t, c, e.code(t, c, cookie, nil), nil).IDToken
		}
	}
	valid := idToken(app)
	signed := func(typ string, edit func(map[string]any)) func(*testing.T, store.User, *http.Cookie) string {
		return func(t *testing.T, u store.User, _ *http.Cookie) string {
			now := e.clock.Now()
			c := map[string]any{
				"iss": e.issuer, "sub": u.ID, "aud": app.ID,
				"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
			}
			if edit != nil {
				edit(c)
			}
			s, err := e.keys.Sign(t.Context(), c, typ)
			if err != nil {
				t.Fatalf("sign hint: %v", err)
			}
			return s
		}
	}
	expired := signed("JWT", func(c map[string]any) {
		now := e.clock.Now()
		c["iat"], c["exp"] = now.Add(-3*time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
	})
	forged := func(t *testing.T, u store.User, cookie *http.Cookie) string {
		raw := valid(t, u, cookie)
		p := strings.Split(raw, ".")
		c := jwtPart(t, raw, 1)
		c["aud"] = other.ID
		return p[0] + "." + encodePart(t, c) + "." + p[2]
	}
	algNone := func(t *testing.T, u store.User, cookie *http.Cookie) string {
		raw := valid(t, u, cookie)
		h := jwtPart(t, raw, 0)
		h["alg"] = "none"
		return encodePart(t, h) + "." + strings.Split(raw, ".")[1] + "."
	}
	accessToken := func(t *testing.T, _ store.User, cookie *http.Cookie) string {
		return e.exchange(t, app, e.code(t, app, cookie, url.Values{"audience": {api.Identifier}, "scope": {"openid read"}}), nil).AccessToken
	}
	// Valid hints that do not belong to the case's session: another
	// user's, and the same user's from another session.
	otherUser := func(t *testing.T, _ store.User, _ *http.Cookie) string {
		_, _, cookie := e.login(t)
		return valid(t, store.User{}, cookie)
	}
	otherSession := func(t *testing.T, u store.User, _ *http.Cookie) string {
		return valid(t, u, e.sessionOf(t, u))
	}
	fixed := func(s string) func(*testing.T, store.User, *http.Cookie) string {
		return func(*testing.T, store.User, *http.Cookie) string { return s }
	}
	// withState is u with the state appended as the server must.
	withState := func(u, state string) string {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		return u + sep + url.Values{"state": {state}}.Encode()
	}

	type testCase struct {
		name   string
		path   string // /oidc/logout when empty
		method string // GET when empty
		// hint makes the id_token_hint for the case's user.
		hint   func(*testing.T, store.User, *http.Cookie) string
		params url.Values
		header map[string]string
		// crossSitePost withholds the SameSite=Lax session cookie from the
		// POST, as a browser does, and follows redirects to the logout
		// endpoint with it.
		crossSitePost bool
		want          logoutPage
		// wantLocation is the exact Location of a redirect.
		wantLocation string
		wantStatus   int
		loggedOut    bool
	}
	tests := []testCase{
		// Valid and invalid hints, GET.
		{name: "valid hint", hint: valid, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}}, want: redirectPage, wantLocation: withState(logoutURL, oddState), wantStatus: 302, loggedOut: true},
		{name: "valid hint, no state", hint: valid, params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: redirectPage, wantLocation: logoutURL, wantStatus: 302, loggedOut: true},
		{name: "valid hint, state with quotes and markup", hint: valid, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {`"><script>x</script>&a=b#c`}}, want: redirectPage, wantLocation: withState(logoutURL, `"><script>x</script>&a=b#c`), wantStatus: 302, loggedOut: true},
		{name: "valid hint, logout URL with a query", hint: valid, params: url.Values{"post_logout_redirect_uri": {logoutURLQuery}, "state": {oddState}}, want: redirectPage, wantLocation: withState(logoutURLQuery, oddState), wantStatus: 302, loggedOut: true},
		{name: "valid hint, loopback logout URL", hint: valid, params: url.Values{"post_logout_redirect_uri": {"http://127.0.0.1:5555/logged-out"}, "state": {"s"}}, want: redirectPage, wantLocation: "http://127.0.0.1:5555/logged-out?state=s", wantStatus: 302, loggedOut: true},
		{name: "valid hint, matching client_id", hint: valid, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}, "state": {oddState}}, want: redirectPage, wantLocation: withState(logoutURL, oddState), wantStatus: 302, loggedOut: true},
		{name: "valid hint, no redirect", hint: valid, want: loggedOutPage, wantStatus: 200, loggedOut: true},
		{name: "valid hint, state without redirect", hint: valid, params: url.Values{"state": {oddState}}, want: loggedOutPage, wantStatus: 200, loggedOut: true},
		{name: "expired hint is still accepted", hint: expired, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}}, want: redirectPage, wantLocation: withState(logoutURL, oddState), wantStatus: 302, loggedOut: true},
		{name: "forged hint", hint: forged, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}}, want: errorPage},
		{name: "forged hint for another client's URL", hint: forged, params: url.Values{"post_logout_redirect_uri": {otherLogoutURL}}, want: errorPage},
		{name: "alg none hint", hint: algNone, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}}, want: errorPage},
		{name: "another issuer's ID token", hint: fixed(foreignHint), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "our key, another issuer", hint: signed("JWT", func(c map[string]any) { c["iss"] = "https://evil.example" }), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "our key, no audience", hint: signed("JWT", func(c map[string]any) { delete(c, "aud") }), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "access token as hint (typ at+jwt)", hint: accessToken, params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "access token claims with typ at+jwt", hint: signed("at+jwt", nil), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "garbage hint", hint: fixed("not-a-jwt"), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "garbage hint without redirect", hint: fixed("a.b.c"), want: errorPage},
		{name: "client_id mismatching the hint", hint: valid, params: url.Values{"post_logout_redirect_uri": {otherLogoutURL}, "client_id": {other.ID}}, want: errorPage},
		{name: "client_id mismatching the hint, own URL", hint: valid, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {other.ID}}, want: errorPage},
		{name: "unknown client_id with a hint", hint: valid, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {"no-such-client"}}, want: errorPage},
		{name: "hint of another client, this client's URL", hint: idToken(other), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "hint of another client, its own URL", hint: idToken(other), params: url.Values{"post_logout_redirect_uri": {otherLogoutURL}, "state": {"s"}}, want: redirectPage, wantLocation: otherLogoutURL + "?state=s", wantStatus: 302, loggedOut: true},

		// A valid hint from another session proves nothing about this
		// browser's: the user confirms first (RP-Initiated Logout §2).
		{name: "hint of another user: confirmation page", hint: otherUser, params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}}, want: confirmPage, wantStatus: 200},
		{name: "hint of another user, no redirect: confirmation page", hint: otherUser, want: confirmPage, wantStatus: 200},
		{name: "hint of another session of the user: confirmation page", hint: otherSession, params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: confirmPage, wantStatus: 200},
		{name: "hint naming another user: confirmation page", hint: signed("JWT", func(c map[string]any) { c["sub"] = "gatehouse|someone-else" }), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: confirmPage, wantStatus: 200},
		{name: "hint naming another session: confirmation page", hint: signed("JWT", func(c map[string]any) { c["sid"] = "another-session" }), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: confirmPage, wantStatus: 200},
		{name: "hint of the user without sid", hint: signed("JWT", nil), params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: redirectPage, wantLocation: logoutURL, wantStatus: 302, loggedOut: true},
		{
			name: "POST with another user's hint from the RP's site: confirmation page", method: "POST", hint: otherUser, crossSitePost: true,
			params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}},
			header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"},
			want:   confirmPage, wantStatus: 200,
		},

		// Without a hint the user confirms first.
		{name: "no hint: confirmation page", params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}, "state": {oddState}}, want: confirmPage, wantStatus: 200},
		{name: "no hint, no parameters: confirmation page", want: confirmPage, wantStatus: 200},
		{name: "no hint, markup in state: confirmation page", params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}, "state": {`"><script>alert(1)</script>`}}, want: confirmPage, wantStatus: 200},
		{name: "no hint, confirm=yes in a GET: confirmation page", params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}, "confirm": {"yes"}}, want: confirmPage, wantStatus: 200},
		{name: "no hint, redirect without client_id", params: url.Values{"post_logout_redirect_uri": {logoutURL}}, want: errorPage},
		{name: "no hint, unknown client_id", params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {"no-such-client"}}, want: errorPage},
		{name: "no hint, another client's URL", params: url.Values{"post_logout_redirect_uri": {otherLogoutURL}, "client_id": {app.ID}}, want: errorPage},
		{
			name: "POST confirm, same origin", method: "POST",
			params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}, "state": {oddState}, "confirm": {"yes"}},
			header: map[string]string{"Sec-Fetch-Site": "same-origin"},
			want:   redirectPage, wantLocation: withState(logoutURL, oddState), wantStatus: 303, loggedOut: true,
		},
		{
			name: "POST confirm without redirect", method: "POST",
			params: url.Values{"confirm": {"yes"}},
			header: map[string]string{"Sec-Fetch-Site": "same-origin"},
			want:   loggedOutPage, wantStatus: 200, loggedOut: true,
		},
		{
			name: "POST confirm, cross-site", method: "POST",
			params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}, "state": {oddState}, "confirm": {"yes"}},
			header: map[string]string{"Sec-Fetch-Site": "cross-site"},
			want:   errorPage, wantStatus: 403,
		},
		{
			name: "POST confirm, foreign Origin", method: "POST",
			params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}, "confirm": {"yes"}},
			header: map[string]string{"Origin": "https://evil.example"},
			want:   errorPage, wantStatus: 403,
		},
		{
			name: "POST without confirm: confirmation page", method: "POST",
			params: url.Values{"post_logout_redirect_uri": {logoutURL}, "client_id": {app.ID}},
			header: map[string]string{"Sec-Fetch-Site": "same-origin"},
			want:   confirmPage, wantStatus: 200,
		},
		{
			name: "POST confirm with an unregistered URL", method: "POST",
			params: url.Values{"post_logout_redirect_uri": {logoutURL + "/"}, "client_id": {app.ID}, "confirm": {"yes"}},
			header: map[string]string{"Sec-Fetch-Site": "same-origin"},
			want:   errorPage,
		},
		{
			name: "POST with a valid hint", method: "POST", hint: valid,
			params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}},
			want:   redirectPage, wantLocation: withState(logoutURL, oddState), wantStatus: 303, loggedOut: true,
		},
		{
			// RP-Initiated Logout §2: the OP MUST support POST, and an RP's
			// POST is a cross-site form post from its own page; the hint,
			// not the origin, proves where it comes from. A browser sends no
			// SameSite=Lax session cookie with it, so the server must get
			// the browser back with a same-site request (a redirect to the
			// GET form, followed here with the cookie) to end the session.
			name: "POST with a valid hint from the RP's site", method: "POST", hint: valid, crossSitePost: true,
			params: url.Values{"post_logout_redirect_uri": {logoutURL}, "state": {oddState}},
			header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"},
			want:   redirectPage, wantLocation: withState(logoutURL, oddState), wantStatus: 303, loggedOut: true,
		},
		{
			name: "POST with a forged hint", method: "POST", hint: forged,
			params: url.Values{"post_logout_redirect_uri": {logoutURL}},
			header: map[string]string{"Sec-Fetch-Site": "same-origin"},
			want:   errorPage,
		},

		// /v2/logout.
		{name: "v2 registered returnTo", path: "/v2/logout", params: url.Values{"client_id": {app.ID}, "returnTo": {logoutURL}}, want: redirectPage, wantLocation: logoutURL, wantStatus: 302, loggedOut: true},
		{name: "v2 registered returnTo with a query", path: "/v2/logout", params: url.Values{"client_id": {app.ID}, "returnTo": {logoutURLQuery}}, want: redirectPage, wantLocation: logoutURLQuery, wantStatus: 302, loggedOut: true},
		{name: "v2 without returnTo", path: "/v2/logout", params: url.Values{"client_id": {app.ID}}, want: loggedOutPage, wantStatus: 200, loggedOut: true},
		{name: "v2 returnTo without client_id", path: "/v2/logout", params: url.Values{"returnTo": {logoutURL}}, want: errorPage},
		{name: "v2 unknown client_id", path: "/v2/logout", params: url.Values{"client_id": {"no-such-client"}, "returnTo": {logoutURL}}, want: errorPage},
		{name: "v2 another client's URL", path: "/v2/logout", params: url.Values{"client_id": {app.ID}, "returnTo": {otherLogoutURL}}, want: errorPage},
		{name: "v2 callback URL is no logout URL", path: "/v2/logout", params: url.Values{"client_id": {app.ID}, "returnTo": {loopbackCB}}, want: errorPage},
	}

	// Look-alikes of registered URLs, at both endpoints.
	lookalikes := []struct{ name, url string }{
		{"trailing slash", logoutURL + "/"},
		{"other case in host", "https://APP.example/logged-out"},
		{"other case in path", "https://app.example/Logged-Out"},
		{"other case in scheme", "HTTPS://app.example/logged-out"},
		{"added query", logoutURL + "?x=1"},
		{"added empty query", logoutURL + "?"},
		{"added fragment", logoutURL + "#x"},
		{"removed query", "https://app.example/bye"},
		{"changed query", "https://app.example/bye?from=evil"},
		{"extended query", logoutURLQuery + "&next=https://evil.example"},
		{"userinfo@host", "https://app.example@evil.example/logged-out"},
		{"userinfo on the right host", "https://evil.example@app.example/logged-out"},
		{"other port", "https://app.example:8443/logged-out"},
		{"explicit default port", "https://app.example:443/logged-out"},
		{"path suffix", logoutURL + "/extra"},
		{"path suffix without slash", logoutURL + "x"},
		{"host suffix", "https://app.example.evil.example/logged-out"},
		{"percent-encoded path", "https://app.example/logged%2Dout"},
		{"dot-dot segment", "https://app.example/x/../logged-out"},
		{"http for https", "http://app.example/logged-out"},
		{"localhost for 127.0.0.1", "http://localhost:5555/logged-out"},
		{"leading space", " " + logoutURL},
		{"protocol-relative", "//evil.example/logged-out"},
		{"relative path", "/logged-out"},
		{"javascript URL", "javascript:alert(1)"},
	}
	for _, l := range lookalikes {
		tests = append(tests,
			testCase{name: "oidc " + l.name, hint: valid, params: url.Values{"post_logout_redirect_uri": {l.url}, "state": {oddState}}, want: errorPage},
			testCase{name: "oidc with client_id, " + l.name, hint: valid, params: url.Values{"post_logout_redirect_uri": {l.url}, "client_id": {app.ID}}, want: errorPage},
			testCase{name: "oidc without hint, " + l.name, params: url.Values{"post_logout_redirect_uri": {l.url}, "client_id": {app.ID}}, want: errorPage},
			testCase{name: "v2 " + l.name, path: "/v2/logout", params: url.Values{"client_id": {app.ID}, "returnTo": {l.url}}, want: errorPage},
		)
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, sess, cookie := e.login(t)
			params := url.Values{}
			for k, v := range tt.params {
				params[k] = v
			}
			if tt.hint != nil {
				params.Set("id_token_hint", tt.hint(t, user, cookie))
			}
			path := tt.path
			if path == "" {
				path = "/oidc/logout"
			}
			var req *http.Request
			if tt.method == http.MethodPost {
				req = e.newRequest(t, http.MethodPost, path, strings.NewReader(params.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req = e.newRequest(t, http.MethodGet, path+"?"+params.Encode(), nil)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if !tt.crossSitePost {
				req.AddCookie(cookie)
			}
			r := e.do(t, req)
			for hops := 0; tt.crossSitePost && hops < 3; hops++ {
				next := r.header.Get("Location")
				if next == "" {
					break
				}
				u, err := req.URL.Parse(next) // resolves a relative Location
				if err != nil || !strings.HasPrefix(u.String(), e.issuer+"/oidc/logout") {
					break
				}
				// A top-level GET navigation carries SameSite=Lax cookies.
				req = e.newRequest(t, http.MethodGet, strings.TrimPrefix(u.String(), e.issuer), nil)
				req.Header.Set("Sec-Fetch-Site", "cross-site")
				req.AddCookie(cookie)
				r = e.do(t, req)
			}

			// Whatever the case: never a redirect to an unregistered URL.
			if loc, ok := r.header["Location"]; ok && !redirectsToRegistered(loc[0], registered) {
				t.Errorf("redirect to %q, which is not a registered logout URL", loc[0])
			}
			switch tt.want {
			case redirectPage:
				if r.status != tt.wantStatus && !(tt.crossSitePost && r.status == http.StatusFound) {
					t.Errorf("status %d, want %d; body %.300s", r.status, tt.wantStatus, r.body)
				}
				if got := r.header.Get("Location"); got != tt.wantLocation {
					t.Errorf("Location %q, want %q", got, tt.wantLocation)
				}
				if st, ok := tt.params["state"]; ok && r.header.Get("Location") != "" {
					if got := location(t, r).Query().Get("state"); got != st[0] {
						t.Errorf("state %q, want %q exactly", got, st[0])
					}
				}
			case errorPage:
				if tt.wantStatus != 0 && r.status != tt.wantStatus {
					t.Errorf("status %d, want %d", r.status, tt.wantStatus)
				}
				checkErrorPage(t, r)
			case confirmPage, loggedOutPage:
				if r.status != tt.wantStatus {
					t.Errorf("status %d, want %d; body %.300s", r.status, tt.wantStatus, r.body)
				}
				if loc, ok := r.header["Location"]; ok {
					t.Errorf("Location %q on a page", loc)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want text/html", ct)
				}
				body := string(r.body)
				if strings.Contains(body, "<script") {
					t.Errorf("page reflects markup unescaped: %s", body)
				}
				if isForm := strings.Contains(body, `name="confirm"`); isForm != (tt.want == confirmPage) {
					t.Errorf("confirmation form shown = %v, want %v: %s", isForm, tt.want == confirmPage, body)
				}
			}
			checkSession(t, e, app, sess, cookie, tt.loggedOut)
			if tt.loggedOut && !clearsSessionCookie(r.header) {
				t.Errorf("Set-Cookie %q does not clear the session cookie", r.header.Values("Set-Cookie"))
			}
		})
	}
}

// redirectsToRegistered reports whether loc is one of the registered URLs,
// optionally with a state parameter appended.
func redirectsToRegistered(loc string, registered []string) bool {
	for _, u := range registered {
		rest, ok := strings.CutPrefix(loc, u)
		if !ok {
			continue
		}
		if rest == "" {
			return true
		}
		if (strings.HasPrefix(rest, "?state=") || strings.HasPrefix(rest, "&state=")) && !strings.ContainsAny(rest[1:], "&#/") {
			return true
		}
	}
	return false
}

// checkSession checks that the case's session is gone (and prompt=none
// then needs a login) or still there.
func checkSession(t *testing.T, e *env, app client, sess store.Session, cookie *http.Cookie, wantGone bool) {
	t.Helper()
	_, err := e.st.GetSession(t.Context(), sess.ID, e.clock.Now())
	switch {
	case wantGone && !errors.Is(err, store.ErrNotFound):
		t.Errorf("session still stored after the logout (err %v)", err)
	case !wantGone && err != nil:
		t.Errorf("session gone (err %v), but the logout must not have happened", err)
	}
	q := authQuery(app)
	q.Set("prompt", "none")
	r := e.get(t, "/authorize", q, cookie)
	got := location(t, r).Query()
	if wantGone && got.Get("error") != "login_required" {
		t.Errorf("prompt=none after the logout: %s, want error=login_required", r.header.Get("Location"))
	}
	if !wantGone && got.Get("code") == "" {
		t.Errorf("prompt=none without a logout: %s, want a code", r.header.Get("Location"))
	}
}

// clearsSessionCookie reports whether h expires the session cookie.
func clearsSessionCookie(h http.Header) bool {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == session.CookieName && c.Value == "" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// sessionOf starts another session of u and returns its cookie.
func (e *env) sessionOf(t *testing.T, u store.User) *http.Cookie {
	t.Helper()
	now := e.clock.Now().UTC()
	value := token.NewOpaque()
	s := store.Session{
		ID:        token.Hash(value),
		UserID:    u.ID,
		AuthTime:  now.Add(-time.Minute).Truncate(time.Second),
		Methods:   []string{"pwd"},
		CreatedAt: now.Add(-time.Minute),
		ExpiresAt: now.Add(time.Hour),
	}
	if err := e.st.CreateSession(t.Context(), s); err != nil {
		t.Fatalf("create session: %v", err)
	}
	return &http.Cookie{Name: session.CookieName, Value: value}
}

// TestLogoutHintOfAnotherSession follows a logout whose id_token_hint is
// another user's to its end: the confirmation page keeps the application
// the hint names, and confirming logs out and redirects there. Without any
// session a valid hint logs out (nothing) without asking.
func TestLogoutHintOfAnotherSession(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true, LogoutURLs: []string{logoutURL}})
	_, mallorySession, mallory := e.login(t)
	hint := e.exchange(t, app, e.code(t, app, mallory, nil), nil).IDToken
	_, victimSession, victim := e.login(t)

	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutURL}, "state": {"s1"}}
	r := e.get(t, "/oidc/logout", q, victim)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `name="confirm"`) {
		t.Fatalf("status %d, want the confirmation page: %.500s", r.status, r.body)
	}
	for _, want := range []string{`name="client_id" value="` + app.ID + `"`, `name="post_logout_redirect_uri" value="` + logoutURL + `"`, `name="state" value="s1"`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("confirmation form lacks %s: %s", want, r.body)
		}
	}
	checkSession(t, e, app, victimSession, victim, false)

	// The user confirms with the form's fields.
	form := url.Values{"confirm": {"yes"}, "client_id": {app.ID}, "post_logout_redirect_uri": {logoutURL}, "state": {"s1"}}
	req := e.newRequest(t, http.MethodPost, "/oidc/logout", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(victim)
	r = e.do(t, req)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != logoutURL+"?state=s1" {
		t.Errorf("confirmed: status %d, Location %q; want 303 to %s?state=s1", r.status, r.header.Get("Location"), logoutURL)
	}
	checkSession(t, e, app, victimSession, victim, true)
	checkSession(t, e, app, mallorySession, mallory, false)

	// No session: nothing to protect, nothing to ask.
	r = e.get(t, "/oidc/logout", q, nil)
	if r.status != http.StatusFound || r.header.Get("Location") != logoutURL+"?state=s1" {
		t.Errorf("without a session: status %d, Location %q; want 302 to %s?state=s1", r.status, r.header.Get("Location"), logoutURL)
	}
}
