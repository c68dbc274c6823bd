package login

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"gatehouse/internal/authflow"
	"gatehouse/internal/email"
)

// The fuzz targets below send arbitrary input to the hosted pages' real
// handlers over a real SQLite store, called directly so that a panic
// reaches the fuzzer, and check what every answer to bad input must be:
// no panic, no 5xx (the store is up), and the endpoint's shape (an HTML
// page or a redirect for the forms; the hosted service's JSON error for
// /dbconnections). Under plain go test the seeds run as ordinary tests;
// .ci/fuzz runs each target with -fuzz for a short time.

// formPaths are the hosted forms a browser posts, each behind the CSRF
// check that the fuzzer gets past with a genuine token.
var formPaths = []string{
	loginPath, signupPath, consentPath, organizationPath,
	authflow.EmailVerificationPath, authflow.VerifyEmailPath,
	authflow.ForgotPasswordPath, authflow.ResetPasswordPath,
	authflow.MFAPath, authflow.MFAEnrollPath, authflow.PasskeyPath,
	accountPath, accountVerifyPath, accountEnrollPath,
}

// fuzzPages is the pages with mail (printed nowhere), a logged-in browser
// and a pending request of it.
func fuzzPages(f testing.TB) (*env, *browser, string) {
	f.Helper()
	e := newEnv(f, func(c *Config) {
		c.Mail = email.NewPrinter(io.Discard)
		// The fuzzer is one address: without a high limit almost every
		// input would meet a 429 after the first hundred.
		c.Throttle = Throttle{PerAccount: 1 << 20, PerIP: 1 << 20, Window: c.Throttle.Window}
	})
	e.dbUser(f, mfaEmail, mfaPassword)
	b := e.browser(f)
	e.loggedIn(f, b)
	req := b.pendingRequest(nil)
	return e, b, req.ID
}

// serve runs req through the pages' handlers in this goroutine, with b's
// cookies.
func (b *browser) serve(req *http.Request) *httptest.ResponseRecorder {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.e.srv.Config.Handler.ServeHTTP(w, req)
	return w
}

// FuzzHostedForms posts arbitrary forms, with a genuine CSRF token, to
// every hosted form.
func FuzzHostedForms(f *testing.F) {
	_, b, reqID := fuzzPages(f)
	csrf := form(f, b.get(loginPath+"?req="+url.QueryEscape(reqID))).Get("csrf")
	r := url.QueryEscape(reqID)
	for i := range formPaths {
		for _, s := range []string{
			"req=" + r + "&email=" + url.QueryEscape(mfaEmail) + "&password=" + url.QueryEscape(mfaPassword),
			"req=" + r + "&email=new%40example.com&password=another+long+password&name=N&given_name=G",
			"req=" + r + "&answer=allow&scope=openid",
			"req=" + r + "&answer=deny",
			"req=" + r + "&organization=org_x",
			"req=" + r + "&email=ada%40example.com",
			"ticket=abc&password=a+long+new+password&confirm=a+long+new+password",
			"req=" + r + "&code=123456&factor=otp",
			"req=" + r + "&factor=recovery&code=ABCD-EFGH",
			"req=" + r + "&factor=totp&secret=JBSWY3DPEHPK3PXP&code=000000",
			"req=" + r + "&credential=%7B%22id%22%3A%22x%22%7D",
			"action=remove&id=f1",
			"req=%zz&email=%",
			"req=" + r + "&email=%FA%FB&password=%FF",
			"req=&req=" + r,
			"",
		} {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, page uint8, body string) {
		path := formPaths[int(page)%len(formPaths)]
		// The genuine token comes first: ParseForm keeps the first value.
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("csrf="+url.QueryEscape(csrf)+"&"+body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := b.serve(req)
		checkPage(t, w)
	})
}

// FuzzHostedPages sends arbitrary query strings to every hosted page's
// GET.
func FuzzHostedPages(f *testing.F) {
	_, b, reqID := fuzzPages(f)
	r := url.QueryEscape(reqID)
	paths := append([]string{CallbackPath, resumePath}, formPaths...)
	for i := range paths {
		for _, s := range []string{"req=" + r, "req=" + r + "&screen_hint=signup&login_hint=a%40b", "ticket=x", "state=x&code=y", "error=access_denied&state=x", "req=%zz", ""} {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, page uint8, query string) {
		path := paths[int(page)%len(paths)]
		if path == resumePath || path == accountVerifyPath {
			return // not a GET page here
		}
		if strings.ContainsAny(query, " \r\n\x00#") {
			t.Skip("not a request line")
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawQuery, req.RequestURI = path, query, path+"?"+query
		checkPage(t, b.serve(req))
	})
}

// checkPage checks a hosted page's answer: never a 5xx; a redirect to a
// parseable URL, or an HTML page in UTF-8.
func checkPage(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("status %d for bad input; body %.500s", w.Code, w.Body)
	}
	if w.Code >= 300 && w.Code < 400 {
		if _, err := url.Parse(w.Header().Get("Location")); err != nil || w.Header().Get("Location") == "" {
			t.Fatalf("status %d with Location %q", w.Code, w.Header().Get("Location"))
		}
		return
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") && !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d, Content-Type %q; body %.300s", w.Code, ct, w.Body)
	}
	if !utf8.Valid(w.Body.Bytes()) {
		t.Fatalf("status %d: the page is not UTF-8", w.Code)
	}
}

// FuzzDBConnections posts arbitrary bodies to /dbconnections/signup and
// /dbconnections/change_password, as JSON, as a form or as anything else.
func FuzzDBConnections(f *testing.F) {
	e, b, _ := fuzzPages(f)
	cid := e.client.ID
	for _, s := range []struct {
		signup   bool
		ct, body string
	}{
		{true, "application/json", `{"client_id":"` + cid + `","connection":"Username-Password-Authentication","email":"x@example.com","password":"a long password","user_metadata":{"plan":"pro"}}`},
		{true, "application/json", `{"client_id":"` + cid + `","connection":"Username-Password-Authentication","email":"x@example.com","password":"short"}`},
		{true, "application/json", `{"client_id":"` + cid + `","connection":"nope","email":"x@example.com","password":"a long password"}`},
		{true, "application/json", `{"client_id":1,"user_metadata":[1,2]}`},
		{true, "application/json; charset=utf-8", `{"client_id":"` + cid + `","connection":"Username-Password-Authentication","email":"a@b","password":"a long password","given_name":"\u0000"}`},
		{true, "application/x-www-form-urlencoded", "client_id=" + cid + "&connection=Username-Password-Authentication&email=y%40example.com&password=a+long+password"},
		{false, "application/json", `{"client_id":"` + cid + `","connection":"Username-Password-Authentication","email":"` + mfaEmail + `"}`},
		{false, "application/x-www-form-urlencoded", "client_id=" + cid + "&connection=Username-Password-Authentication&email=nobody%40example.com"},
		{false, "application/json", `{"email":`},
		{false, "text/plain", "hello"},
		{true, "", ""},
	} {
		f.Add(s.signup, s.ct, s.body)
	}
	f.Fuzz(func(t *testing.T, signup bool, contentType, body string) {
		if strings.ContainsAny(contentType, "\r\n\x00") {
			t.Skip("not a header value")
		}
		path := dbChangePasswordPath
		if signup {
			path = dbSignupPath
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := b.serve(req)
		if w.Code == http.StatusServiceUnavailable && strings.Contains(w.Body.String(), `"email_unavailable"`) {
			// The fuzzer, with the throttle lifted, outruns the background
			// sends: the backlog is full (TestMailBacklog), which is load,
			// not bad input.
			return
		}
		if w.Code >= 500 {
			t.Fatalf("status %d for bad input; body %.500s", w.Code, w.Body)
		}
		if !signup && w.Code == http.StatusOK {
			// The hosted service's answer: plain text, whoever asked.
			if w.Body.String() != changePasswordAnswer {
				t.Fatalf("change_password 200 with %.300s", w.Body)
			}
			return
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("status %d, Content-Type %q, want JSON; body %.300s", w.Code, ct, w.Body)
		}
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("status %d: body %.300s is not a JSON object: %v", w.Code, w.Body, err)
		}
		if w.Code >= 400 {
			if c, _ := got["code"].(string); c == "" {
				t.Fatalf("status %d: error %.300s has no code", w.Code, w.Body)
			}
		}
	})
}
