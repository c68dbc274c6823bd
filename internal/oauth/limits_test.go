package oauth_test

import (
	"context"
	"gatehouse/internal/authflow"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/oauth"
)

// TestAuthorizeParameterLimits sends each /authorize parameter one byte
// over its limit, and at its limit. Over it, the request is refused and
// nothing is stored: with an error page while the client and redirect URI
// are not verified (RFC 6749 §4.1.2.1), else with invalid_request at the
// callback, without echoing the oversized value.
func TestAuthorizeParameterLimits(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	longID := e.newClient(t, oauth.NewClientParams{ID: strings.Repeat("c", 128), FirstParty: true})
	_, _, cookie := e.login(t)

	over := func(name string, n int) func(url.Values) {
		return set(name, strings.Repeat("x", n+1))
	}
	scopeValues := func(n int) string { return strings.TrimSpace(strings.Repeat("openid ", n)) }
	tests := []struct {
		name      string
		client    *client
		change    func(url.Values)
		post      bool
		anonymous bool // no session: a request that needs the login page
		// want is "page" (an error page), "redirect" (invalid_request at
		// the callback, description naming the limit) or "ok" (a code, or
		// the login page when not logged in).
		want string
	}{
		{name: "client_id over 128", change: over("client_id", 128), want: "page"},
		{name: "client_id over 128, POST", change: over("client_id", 128), post: true, want: "page"},
		{name: "redirect_uri over 2048", change: set("redirect_uri", loopbackCB+"?"+strings.Repeat("x", 2049-len(loopbackCB))), want: "page"},
		{name: "state over 2048", change: over("state", 2048), want: "redirect"},
		{name: "state over 2048, not logged in", change: over("state", 2048), anonymous: true, want: "redirect"},
		// The anonymous request with a 60,000-character state that the
		// server once stored for 30 minutes.
		{name: "state of 60000, not logged in", change: set("state", strings.Repeat("s", 60000)), anonymous: true, want: "redirect"},
		{name: "state 9 MiB, POST", change: set("state", strings.Repeat("x", 9<<20)), post: true, want: "too large"},
		{name: "nonce over 2048", change: over("nonce", 2048), want: "redirect"},
		{name: "nonce over 2048, POST", change: over("nonce", 2048), post: true, want: "redirect"},
		{name: "scope over 4096 bytes", change: set("scope", "openid"+strings.Repeat(" ", 4091)), want: "redirect"},
		{name: "scope over 200 values", change: set("scope", scopeValues(201)), want: "redirect"},
		{name: "login_hint over 512", change: over("login_hint", 512), want: "redirect"},
		{name: "login_hint over 512, not logged in", change: over("login_hint", 512), anonymous: true, want: "redirect"},
		{name: "connection over 128", change: over("connection", 128), want: "redirect"},
		{name: "organization over 128", change: over("organization", 128), want: "redirect"},
		{name: "invitation over 128", change: over("invitation", 128), want: "redirect"},
		{name: "audience over 2048", change: over("audience", 2048), want: "redirect"},
		{name: "code_challenge over 128", change: set("code_challenge", strings.Repeat("a", 129), "code_challenge_method", "S256"), want: "redirect"},
		{name: "code_challenge_method over 16", change: set("code_challenge", strings.Repeat("a", 43), "code_challenge_method", strings.Repeat("S", 17)), want: "redirect"},
		{name: "response_type over 64", change: over("response_type", 64), want: "redirect"},
		{name: "response_mode over 64", change: over("response_mode", 64), want: "redirect"},
		{name: "prompt over 128", change: over("prompt", 128), want: "redirect"},
		{name: "max_age over 20", change: set("max_age", strings.Repeat("1", 21)), want: "redirect"},

		// At the limits: accepted.
		{name: "client_id of 128", client: &longID, want: "ok"},
		{name: "state of 2048", change: set("state", strings.Repeat("s", 2048)), want: "ok"},
		{name: "state of 2048, not logged in", change: set("state", strings.Repeat("s", 2048)), anonymous: true, want: "ok"},
		{name: "nonce of 2048", change: set("nonce", strings.Repeat("n", 2048)), want: "ok"},
		{name: "scope of 4096 bytes", change: set("scope", "openid"+strings.Repeat(" ", 4090)), want: "ok"},
		{name: "scope of 200 values", change: set("scope", scopeValues(200)), want: "ok"},
		{name: "login_hint of 512", change: set("login_hint", strings.Repeat("h", 512)), want: "ok"},
		{name: "code_challenge of 128", change: set("code_challenge", strings.Repeat("a", 128), "code_challenge_method", "S256"), want: "ok"},
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
			ck := cookie
			if tt.anonymous {
				ck = nil
			}
			e.writes.take()
			var r response
			wantStatus := http.StatusFound
			if tt.post {
				r = e.postForm(t, "/authorize", q, ck)
				wantStatus = http.StatusSeeOther
			} else {
				r = e.get(t, "/authorize", q, ck)
			}
			writes := e.writes.take()
			switch tt.want {
			case "page":
				if r.status != http.StatusBadRequest {
					t.Errorf("status %d, want 400", r.status)
				}
				checkErrorPage(t, r)
				if !strings.Contains(string(r.body), "too long") {
					t.Errorf("page does not say what is too long: %.500s", r.body)
				}
			case "too large":
				if r.status != http.StatusRequestEntityTooLarge {
					t.Errorf("status %d, want 413", r.status)
				}
				checkErrorPage(t, r)
			case "redirect":
				if r.status != wantStatus {
					t.Fatalf("status %d, want %d (Location %q, body %.300s)", r.status, wantStatus, r.header.Get("Location"), r.body)
				}
				loc := location(t, r)
				if withoutQuery(loc) != loopbackCB {
					t.Errorf("redirected to %s, want %s", withoutQuery(loc), loopbackCB)
				}
				got := loc.Query()
				desc := got.Get("error_description")
				if got.Get("error") != "invalid_request" || !strings.Contains(desc, "longer than") && !strings.Contains(desc, "more than") {
					t.Errorf("error %q (%q), want invalid_request about the limit", got.Get("error"), desc)
				}
				checkDescription(t, desc)
				if _, ok := got["code"]; ok {
					t.Errorf("code issued: %s", loc)
				}
				// The oversized state is not echoed; any other state is.
				wantState := oddState
				if strings.HasPrefix(tt.name, "state") {
					wantState = ""
				}
				if got.Get("state") != wantState {
					t.Errorf("state %.40q, want %q", got.Get("state"), wantState)
				}
				if len(r.header.Get("Location")) > 8<<10 {
					t.Errorf("Location is %d bytes long", len(r.header.Get("Location")))
				}
			case "ok":
				if r.status != wantStatus {
					t.Fatalf("status %d, want %d (Location %q, body %.300s)", r.status, wantStatus, r.header.Get("Location"), r.body)
				}
				got := location(t, r).Query()
				if !tt.anonymous && got.Get("code") == "" || tt.anonymous && got.Get("req") == "" {
					t.Errorf("Location %.300s, want a code or the login page", r.header.Get("Location"))
				}
			}
			if tt.want != "ok" && writes["CreateAuthRequest"]+writes["CreateCode"] > 0 {
				t.Errorf("refused request stored: %v", writes)
			}
		})
	}
}

// TestFormBodyLimits posts a body one byte over 64 KiB to every endpoint
// that reads a form: each answers 413 in its own shape, and a body at the
// limit is read.
func TestFormBodyLimits(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)
	const limit = 64 << 10

	// body pads form with a parameter to exactly n bytes.
	body := func(form url.Values, n int) string {
		s := form.Encode() + "&pad="
		return s + strings.Repeat("p", n-len(s))
	}
	tokenForm := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {loopbackCB}, "client_id": {app.ID}, "client_secret": {app.Secret}}
	revokeForm := url.Values{"token": {"nope"}, "client_id": {app.ID}, "client_secret": {app.Secret}}
	tests := []struct {
		path string
		form url.Values
		// shape: "json" (RFC 6749 §5.2), "bearer" (RFC 6750 §3) or "page".
		shape string
		// atLimit is the status of a body of exactly 64 KiB.
		atLimit int
	}{
		{path: "/authorize", form: authQuery(app), shape: "page", atLimit: http.StatusSeeOther},
		{path: "/oauth/token", form: tokenForm, shape: "json", atLimit: http.StatusBadRequest},
		{path: "/oauth/revoke", form: revokeForm, shape: "json", atLimit: http.StatusOK},
		{path: "/oauth/introspect", form: revokeForm, shape: "json", atLimit: http.StatusOK},
		{path: "/userinfo", form: url.Values{"access_token": {"nope"}}, shape: "bearer", atLimit: http.StatusUnauthorized},
		{path: "/oidc/logout", form: url.Values{"client_id": {app.ID}}, shape: "page", atLimit: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			send := func(n int) response {
				req := e.newRequest(t, http.MethodPost, tt.path, strings.NewReader(body(tt.form, n)))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				req.AddCookie(cookie)
				return e.do(t, req)
			}
			if r := send(limit); r.status != tt.atLimit {
				t.Errorf("body of 64 KiB: status %d, want %d; body %.300s", r.status, tt.atLimit, r.body)
			}
			r := send(limit + 1)
			switch tt.shape {
			case "json":
				checkError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
			case "bearer":
				checkError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
				if wa := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_request"`) {
					t.Errorf("WWW-Authenticate %q, want Bearer error=\"invalid_request\"", wa)
				}
			case "page":
				if r.status != http.StatusRequestEntityTooLarge {
					t.Errorf("status %d, want 413", r.status)
				}
				checkErrorPage(t, r)
			}
		})
	}
}

// TestPendingRequestLimit starts more authorization requests that need the
// login page than one address may per minute: the one over the limit gets
// 429 with Retry-After and is not stored, requests that store nothing (a
// logged-in browser's) and other addresses are unaffected, and the next
// minute starts afresh.
func TestPendingRequestLimit(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)
	// Start just after a minute begins, so the run fits in one window.
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now))

	const limit = 60 // oauth.Config's default
	e.writes.take()
	for i := range limit {
		r := e.get(t, "/authorize", authQuery(app), nil)
		if r.status != http.StatusFound || location(t, r).Path != authflow.LoginPath {
			t.Fatalf("request %d: status %d, Location %q; want the login page", i+1, r.status, r.header.Get("Location"))
		}
	}
	if n := e.writes.take()["CreateAuthRequest"]; n != limit {
		t.Fatalf("%d requests stored, want %d", n, limit)
	}

	refused := func(t *testing.T, r response) {
		t.Helper()
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429; Location %q", r.status, r.header.Get("Location"))
		}
		if _, ok := r.header["Location"]; ok {
			t.Errorf("a refused request redirects")
		}
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 60 {
			t.Errorf("Retry-After %q, want 1 to 60 seconds", r.header.Get("Retry-After"))
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want the error page", ct)
		}
	}
	refused(t, e.get(t, "/authorize", authQuery(app), nil))
	refused(t, e.postForm(t, "/authorize", authQuery(app), nil))
	if n := e.writes.take()["CreateAuthRequest"]; n != 0 {
		t.Errorf("%d refused requests stored", n)
	}

	// A logged-in browser gets its code without a stored request.
	if code := e.code(t, app, cookie, nil); code == "" {
		t.Error("no code for a logged-in browser")
	}

	// Another address of the machine (Linux routes all of 127/8 to
	// loopback) has its own count.
	other := &http.Client{
		CheckRedirect: e.http.CheckRedirect,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			return d.DialContext(ctx, network, addr)
		}},
	}
	req := e.newRequest(t, http.MethodGet, "/authorize?"+authQuery(app).Encode(), nil)
	if resp, err := other.Do(req); err != nil {
		t.Logf("cannot connect from 127.0.0.2 (%v): other addresses are covered by the server package", err)
	} else {
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Errorf("from 127.0.0.2: status %d, want 302 to the login page", resp.StatusCode)
		}
	}

	e.clock.Advance(time.Minute)
	if r := e.get(t, "/authorize", authQuery(app), nil); r.status != http.StatusFound {
		t.Errorf("next minute: status %d, want 302", r.status)
	}
}
