package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"gatehouse/internal/oauth"
)

var (
	scriptRE      = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	jsonBlockRE   = regexp.MustCompile(`(?s)<script type="application/json" id="authorization-response">(.*?)</script>`)
	hiddenInputRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	formRE        = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
)

// cspDirectives splits a Content-Security-Policy into its directives.
func cspDirectives(t *testing.T, h http.Header) map[string]string {
	t.Helper()
	csp := h.Values("Content-Security-Policy")
	if len(csp) != 1 {
		t.Fatalf("Content-Security-Policy %q, want exactly one", csp)
	}
	out := map[string]string{}
	for d := range strings.SplitSeq(csp[0], ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		out[name] = value
	}
	return out
}

// inlineScriptHash is the CSP hash source of the page's one inline script,
// computed here from the page itself.
func inlineScriptHash(t *testing.T, body string) string {
	t.Helper()
	m := scriptRE.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("page has %d inline scripts, want 1:\n%s", len(m), body)
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// answer reads the parameters of an authorization response in mode, and
// checks how the mode carries them: where they go, the page's CSP, and
// that nothing of it may be cached.
func answer(t *testing.T, r response, mode, callback string) url.Values {
	t.Helper()
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	switch mode {
	case "query", "fragment":
		if r.status != http.StatusFound {
			t.Fatalf("status %d, want 302 (body %.300s)", r.status, r.body)
		}
		loc := location(t, r)
		if withoutQuery(loc) != callback {
			t.Fatalf("redirected to %s, want %s", withoutQuery(loc), callback)
		}
		if mode == "query" {
			if loc.RawFragment != "" || loc.Fragment != "" {
				t.Errorf("query response with a fragment: %s", loc)
			}
			return loc.Query()
		}
		if loc.RawQuery != "" {
			t.Errorf("fragment response with a query: %s", loc)
		}
		q, err := url.ParseQuery(loc.EscapedFragment())
		if err != nil {
			t.Fatalf("fragment of %s: %v", loc, err)
		}
		return q
	case "form_post":
		body := string(r.body)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, Content-Type %q, want a 200 HTML page", r.status, r.header.Get("Content-Type"))
		}
		m := formRE.FindStringSubmatch(body)
		if m == nil || html.UnescapeString(m[1]) != callback {
			t.Fatalf("form action %q, want %s:\n%s", m, callback, body)
		}
		csp := cspDirectives(t, r.header)
		if csp["form-action"] != callback {
			t.Errorf("CSP form-action %q, want exactly %s", csp["form-action"], callback)
		}
		if got := inlineScriptHash(t, body); csp["script-src"] != got {
			t.Errorf("CSP script-src %q, want only the page's script %s", csp["script-src"], got)
		}
		if csp["frame-ancestors"] != "'none'" || csp["default-src"] != "'none'" {
			t.Errorf("CSP %v: want default-src and frame-ancestors 'none'", csp)
		}
		if !strings.Contains(body, "<noscript>") || !strings.Contains(body, `<button type="submit">`) {
			t.Errorf("form_post page has no button for browsers without JavaScript:\n%s", body)
		}
		q := url.Values{}
		for _, in := range hiddenInputRE.FindAllStringSubmatch(body, -1) {
			q.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		return q
	case "web_message":
		body := string(r.body)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, Content-Type %q, want a 200 HTML page", r.status, r.header.Get("Content-Type"))
		}
		origin := strings.TrimSuffix(callback, "/cb")
		csp := cspDirectives(t, r.header)
		if csp["frame-ancestors"] != origin {
			t.Errorf("CSP frame-ancestors %q, want only the app's origin %s", csp["frame-ancestors"], origin)
		}
		if got := inlineScriptHash(t, body); csp["script-src"] != got {
			t.Errorf("CSP script-src %q, want only the page's script %s", csp["script-src"], got)
		}
		if r.header.Get("X-Frame-Options") != "" {
			t.Errorf("X-Frame-Options %q on a page the app frames", r.header.Get("X-Frame-Options"))
		}
		script := scriptRE.FindStringSubmatch(body)[1]
		if !strings.Contains(script, `type: "authorization_response"`) || !strings.Contains(script, "postMessage(") {
			t.Errorf("script does not post an authorization_response:\n%s", script)
		}
		m := jsonBlockRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no response data in the page:\n%s", body)
		}
		var data struct {
			Origin   string            `json:"origin"`
			Response map[string]string `json:"response"`
		}
		if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
			t.Fatalf("response data %q: %v", m[1], err)
		}
		if data.Origin != origin {
			t.Errorf("postMessage target origin %q, want %s", data.Origin, origin)
		}
		q := url.Values{}
		for k, v := range data.Response {
			q.Set(k, v)
		}
		return q
	}
	t.Fatalf("unknown mode %q", mode)
	return nil
}

// cHash is OIDC Core §3.3.2.11's c_hash for an RS256 token, computed
// here rather than by the code under test.
func cHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

func TestResponseModesAndTypes(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true, Implicit: true})
	codeOnly := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	user, _, cookie := e.login(t)
	provider, err := oidc.NewProvider(t.Context(), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: app.ID})

	for _, mode := range []string{"", "query", "fragment", "form_post", "web_message"} {
		for _, typ := range []string{"code", "id_token", "code id_token", "id_token code"} {
			t.Run(mode+"/"+typ, func(t *testing.T) {
				q := authQuery(app)
				q.Set("response_type", typ)
				q.Set("nonce", "n-"+typ)
				if mode != "" {
					q.Set("response_mode", mode)
				}
				r := e.get(t, "/authorize", q, cookie)
				want := mode
				if mode == "" {
					want = "fragment"
					if typ == "code" {
						want = "query"
					}
				}
				if mode == "query" && typ != "code" {
					// An ID token never travels in a query.
					got := answer(t, r, "fragment", app.Callbacks[0])
					if got.Get("error") != "invalid_request" || got.Has("id_token") || got.Has("code") {
						t.Errorf("query for %s: %v, want invalid_request", typ, got)
					}
					return
				}
				got := answer(t, r, want, app.Callbacks[0])
				if got.Get("error") != "" {
					t.Fatalf("error %s: %s", got.Get("error"), got.Get("error_description"))
				}
				if got.Get("state") != q.Get("state") || got.Get("iss") != e.issuer {
					t.Errorf("state %q iss %q, want %q %q", got.Get("state"), got.Get("iss"), q.Get("state"), e.issuer)
				}
				if got.Has("access_token") || got.Has("token_type") {
					t.Errorf("an access token in the front channel: %v", got)
				}
				code := got.Get("code")
				if (code != "") != strings.Contains(typ, "code") {
					t.Errorf("code %q for response_type %s", code, typ)
				}
				raw := got.Get("id_token")
				if (raw != "") != strings.Contains(typ, "id_token") {
					t.Fatalf("id_token %q for response_type %s", raw, typ)
				}
				if raw != "" {
					idt, err := verifier.Verify(t.Context(), raw)
					if err != nil {
						t.Fatalf("verify id token: %v", err)
					}
					var c struct {
						Nonce  string `json:"nonce"`
						CHash  string `json:"c_hash"`
						AtHash string `json:"at_hash"`
						Email  string `json:"email"`
						Sid    string `json:"sid"`
					}
					if err := idt.Claims(&c); err != nil {
						t.Fatal(err)
					}
					if idt.Subject != user.ID || c.Nonce != "n-"+typ || c.Email != user.Email || c.Sid == "" {
						t.Errorf("id token sub %q claims %+v", idt.Subject, c)
					}
					if c.AtHash != "" {
						t.Errorf("at_hash %q without an access token", c.AtHash)
					}
					if want := ""; code != "" {
						want = cHash(code)
						if c.CHash != want {
							t.Errorf("c_hash %q, want %q", c.CHash, want)
						}
					} else if c.CHash != want {
						t.Errorf("c_hash %q without a code", c.CHash)
					}
				}
				if code != "" {
					tr := e.exchange(t, app, code, nil)
					idt, err := verifier.Verify(t.Context(), tr.IDToken)
					if err != nil || idt.Subject != user.ID || idt.Nonce != "n-"+typ {
						t.Errorf("token endpoint id token: %v %+v", err, idt)
					}
				}
			})
		}
	}

	// Errors go back in the requested mode, or the type's default.
	errTests := []struct {
		name  string
		c     client
		set   url.Values
		noSes bool
		mode  string
		want  string
	}{
		{name: "prompt=none without session, form_post", c: app, set: url.Values{"prompt": {"none"}, "response_mode": {"form_post"}}, noSes: true, mode: "form_post", want: "login_required"},
		{name: "prompt=none without session, web_message", c: app, set: url.Values{"prompt": {"none"}, "response_mode": {"web_message"}}, noSes: true, mode: "web_message", want: "login_required"},
		{name: "prompt=none without session, fragment", c: app, set: url.Values{"prompt": {"none"}, "response_mode": {"fragment"}}, noSes: true, mode: "fragment", want: "login_required"},
		{name: "prompt=none without session, id_token", c: app, set: url.Values{"prompt": {"none"}, "response_type": {"id_token"}, "nonce": {"n"}}, noSes: true, mode: "fragment", want: "login_required"},
		{name: "id_token without nonce", c: app, set: url.Values{"response_type": {"id_token"}}, mode: "fragment", want: "invalid_request"},
		{name: "code id_token without nonce, form_post", c: app, set: url.Values{"response_type": {"code id_token"}, "response_mode": {"form_post"}}, mode: "form_post", want: "invalid_request"},
		{name: "id_token without openid", c: app, set: url.Values{"response_type": {"id_token"}, "nonce": {"n"}, "scope": {"email"}}, mode: "fragment", want: "invalid_request"},
		{name: "id_token without the implicit grant, form_post", c: codeOnly, set: url.Values{"response_type": {"id_token"}, "nonce": {"n"}, "response_mode": {"form_post"}}, mode: "form_post", want: "unauthorized_client"},
		{name: "code id_token without the implicit grant, web_message", c: codeOnly, set: url.Values{"response_type": {"code id_token"}, "nonce": {"n"}, "response_mode": {"web_message"}}, mode: "web_message", want: "unauthorized_client"},
		{name: "token, form_post", c: app, set: url.Values{"response_type": {"token"}, "response_mode": {"form_post"}}, mode: "form_post", want: "unsupported_response_type"},
		{name: "token, web_message", c: app, set: url.Values{"response_type": {"token"}, "response_mode": {"web_message"}}, mode: "web_message", want: "unsupported_response_type"},
		{name: "id_token token", c: app, set: url.Values{"response_type": {"id_token token"}, "nonce": {"n"}}, mode: "fragment", want: "unsupported_response_type"},
		{name: "unknown mode", c: app, set: url.Values{"response_mode": {"jwt"}}, mode: "query", want: "invalid_request"},
		{name: "bad prompt, web_message", c: app, set: url.Values{"prompt": {"bogus"}, "response_mode": {"web_message"}}, mode: "web_message", want: "invalid_request"},
		{name: "bad max_age, form_post", c: app, set: url.Values{"max_age": {"x"}, "response_mode": {"form_post"}}, mode: "form_post", want: "invalid_request"},
	}
	for _, tt := range errTests {
		t.Run("error/"+tt.name, func(t *testing.T) {
			q := authQuery(tt.c)
			for k, v := range tt.set {
				q[k] = v
			}
			ck := cookie
			if tt.noSes {
				ck = nil
			}
			got := answer(t, e.get(t, "/authorize", q, ck), tt.mode, tt.c.Callbacks[0])
			if got.Get("error") != tt.want {
				t.Errorf("error %q (%s), want %q", got.Get("error"), got.Get("error_description"), tt.want)
			}
			checkDescription(t, got.Get("error_description"))
			if got.Get("state") != q.Get("state") || got.Get("iss") != e.issuer {
				t.Errorf("state %q iss %q", got.Get("state"), got.Get("iss"))
			}
			if got.Has("code") || got.Has("id_token") {
				t.Errorf("an error with a code or token: %v", got)
			}
		})
	}
}

// A POST /authorize answered with form_post is a page, not a 303.
func TestResponseModeFormPostAfterPost(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)
	q := authQuery(app)
	q.Set("response_mode", "form_post")
	got := answer(t, e.postForm(t, "/authorize", q, cookie), "form_post", app.Callbacks[0])
	if got.Get("code") == "" {
		t.Fatalf("no code: %v", got)
	}
	e.exchange(t, app, got.Get("code"), nil)
}

// Values that HTML or JavaScript would take as markup stay data.
func TestResponseModePagesEscapeState(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	_, _, cookie := e.login(t)
	state := `"><script>alert(1)</script></script><!--'&`
	for _, mode := range []string{"form_post", "web_message"} {
		t.Run(mode, func(t *testing.T) {
			q := authQuery(app)
			q.Set("response_mode", mode)
			q.Set("state", state)
			r := e.get(t, "/authorize", q, cookie)
			if strings.Contains(string(r.body), "<script>alert(1)") {
				t.Errorf("state is markup in the page:\n%s", r.body)
			}
			if got := answer(t, r, mode, app.Callbacks[0]); got.Get("state") != state {
				t.Errorf("state %q, want %q", got.Get("state"), state)
			}
		})
	}
}

// web_message answers only an application's own web origin: a
// redirect_uri elsewhere is not registered (an error page), and one that
// is no web origin cannot receive a message.
func TestResponseModeWebMessageOrigin(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true, Callbacks: []string{"https://spa.example/cb", "https://spa.example/other"}})
	_, _, cookie := e.login(t)
	q := authQuery(app)
	q.Set("response_mode", "web_message")
	got := answer(t, e.get(t, "/authorize", q, cookie), "web_message", "https://spa.example/cb")
	if got.Get("code") == "" {
		t.Fatalf("no code: %v", got)
	}
	q.Set("redirect_uri", "https://evil.example/cb")
	r := e.get(t, "/authorize", q, cookie)
	if r.status != http.StatusBadRequest || strings.Contains(string(r.body), "postMessage") {
		t.Errorf("unregistered origin: status %d\n%s", r.status, r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); strings.Contains(csp, "frame-ancestors https://") {
		t.Errorf("error page may be framed: %q", csp)
	}
}

// screen_hint=signup opens the sign-up page where login would be shown.
func TestScreenHintSignup(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	tests := []struct {
		name string
		set  url.Values
		want string
	}{
		{"no hint", nil, "/u/login"},
		{"signup", url.Values{"screen_hint": {"signup"}}, "/u/signup"},
		{"login", url.Values{"screen_hint": {"login"}}, "/u/login"},
		{"unknown hint", url.Values{"screen_hint": {"register"}}, "/u/login"},
		{"signup with the database connection", url.Values{"screen_hint": {"signup"}, "connection": {"Username-Password-Authentication"}}, "/u/signup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authQuery(app)
			for k, v := range tt.set {
				q[k] = v
			}
			r := e.get(t, "/authorize", q, nil)
			loc := location(t, r)
			if loc.Path != tt.want || loc.Query().Get("req") == "" {
				t.Errorf("sent to %s, want %s?req=…", loc, tt.want)
			}
		})
	}
	t.Run("prompt=none", func(t *testing.T) {
		q := authQuery(app)
		q.Set("screen_hint", "signup")
		q.Set("prompt", "none")
		if got := answer(t, e.get(t, "/authorize", q, nil), "query", app.Callbacks[0]); got.Get("error") != "login_required" {
			t.Errorf("error %q, want login_required", got.Get("error"))
		}
	})
}
