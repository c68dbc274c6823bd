package login

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"gatehouse/internal/authflow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

const (
	mfaEmail    = "ada@example.com"
	mfaPassword = "a long enough password"
)

// loggedIn logs b in with the password on a new request of its own, as
// the login page does, and returns the request: the browser then has a
// session with the methods ["pwd"], and the request records ada.
func (e *env) loggedIn(t testing.TB, b *browser) store.AuthRequest {
	t.Helper()
	req := b.pendingRequest(nil)
	vals := form(t, b.get("/u/login?req="+url.QueryEscape(req.ID)))
	vals.Set("email", mfaEmail)
	vals.Set("password", mfaPassword)
	r := b.post("/u/login", vals)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, authflow.ResumePath) {
		t.Fatalf("login: %d %s %.300s", r.status, r.location, r.body)
	}
	return req
}

// code is the authenticator app's code for the secret at the env's clock.
func (e *env) code(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withTOTP gives the user a confirmed authenticator app and returns its
// secret. The clock moves to the next step, so the code that confirmed it
// is not the next one asked for.
func (e *env) withTOTP(t *testing.T, userID string) string {
	t.Helper()
	key, err := e.mfa.EnrollTOTP(t.Context(), userID, mfaEmail)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.mfa.ConfirmTOTP(t.Context(), userID, e.code(t, key.Secret)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	return key.Secret
}

// sessionOf returns the browser's SSO session.
func (e *env) sessionOf(t *testing.T, b *browser) store.Session {
	t.Helper()
	u, _ := url.Parse(e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == session.CookieName {
			s, err := e.st.GetSession(context.Background(), token.Hash(c.Value), time.Now())
			if err != nil {
				t.Fatalf("get session: %v", err)
			}
			return s
		}
	}
	t.Fatal("the browser has no session")
	return store.Session{}
}

var manualKey = regexp.MustCompile(`id="manual-key"[^>]*>([A-Z2-7 ]+)</p>`)

// secretOf reads the key to type from an enrollment page.
func secretOf(t *testing.T, r response) string {
	t.Helper()
	m := manualKey.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no manual key on the page (%d):\n%.800s", r.status, r.body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

// wantError checks a page's status, that its alert says want, and, when
// field is set, that the field is the one marked invalid.
func wantError(t *testing.T, what string, r response, status int, want, field string) {
	t.Helper()
	if r.status != status || !strings.Contains(html.UnescapeString(r.body), want) {
		t.Fatalf("%s: %d, want %d with %q:\n%.1500s", what, r.status, status, want, r.body)
	}
	if !strings.Contains(r.body, `role="alert" id="error"`) {
		t.Errorf("%s: the message is not in the page's alert", what)
	}
	if field != "" && !regexp.MustCompile(`id="`+field+`"[^>]*aria-invalid="true"`).MatchString(r.body) {
		t.Errorf("%s: field %s is not marked invalid:\n%.1500s", what, field, r.body)
	}
}

func wantMethods(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: methods %q, want %q", what, got, want)
	}
}

// TestMFAEnrollTOTP: a user without a factor enrolls an authenticator app
// during a login: the page shows a QR code and the key to type, a wrong
// code keeps the same key, the right one turns it on, records the factor
// on the session and the request, and shows ten recovery codes once.
func TestMFAEnrollTOTP(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	b := e.browser(t)
	req := e.loggedIn(t, b)
	path := authflow.For(authflow.MFAEnrollPath, req.ID)

	page := b.get(path)
	if page.status != http.StatusOK {
		t.Fatalf("enrollment page: %d %.500s", page.status, page.body)
	}
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg"`, `<label for="code">`, `id="use-security-key"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("enrollment page lacks %s", want)
		}
	}
	secret := secretOf(t, page)
	if len(secret) != 32 {
		t.Errorf("manual key %q is not 160 bits of base32", secret)
	}
	// The QR code holds the same key as the text.
	if again := secretOf(t, b.get(path)); again != secret {
		t.Errorf("reloading the page changed the pending key: %s, then %s", secret, again)
	}

	vals := form(t, page)
	for _, tc := range []struct {
		name, code string
		status     int
		msg        string
	}{
		{"empty code", "", http.StatusBadRequest, "Enter the 6-digit code"},
		{"wrong code", wrongCode(e.code(t, secret)), http.StatusUnauthorized, "That code did not work"},
		{"letters", "abcdef", http.StatusUnauthorized, "That code did not work"},
	} {
		vals.Set("code", tc.code)
		r := b.post(authflow.MFAEnrollPath, vals)
		wantError(t, tc.name, r, tc.status, tc.msg, "code")
		if got := secretOf(t, r); got != secret {
			t.Errorf("%s: the page shows another key", tc.name)
		}
	}
	if f, err := e.st.GetTOTP(t.Context(), user.ID); err != nil || f.Confirmed {
		t.Fatalf("after wrong codes the app is %+v, %v; want pending", f, err)
	}

	vals.Set("code", e.code(t, secret))
	r := b.post(authflow.MFAEnrollPath, vals)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Save your recovery codes") {
		t.Fatalf("confirm: %d %.800s", r.status, r.body)
	}
	codes := regexp.MustCompile(`<code>([a-z0-9]{5}-[a-z0-9]{5})</code>`).FindAllStringSubmatch(r.body, -1)
	if len(codes) != 10 {
		t.Fatalf("the page shows %d recovery codes, want 10:\n%.1500s", len(codes), r.body)
	}
	if !strings.Contains(r.body, `action="/authorize/resume"`) || !strings.Contains(r.body, `name="req" value="`+req.ID+`"`) {
		t.Errorf("the continue button does not go back to the request:\n%s", r.body)
	}
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd", "otp", "mfa"})
	wantMethods(t, "request", e.request(t, req.ID).AuthMethods, []string{"pwd", "otp", "mfa"})
	factors, err := e.st.ListFactors(t.Context(), user.ID)
	if err != nil || len(factors) != 2 {
		t.Fatalf("factors after enrollment: %+v, %v", factors, err)
	}
	// A recovery code works once.
	if _, err := e.mfa.UseRecoveryCode(t.Context(), user.ID, codes[3][1]); err != nil {
		t.Errorf("a recovery code from the page: %v", err)
	}

	// Done: the pages send the browser back to the flow.
	for _, p := range []string{path, authflow.For(authflow.MFAPath, req.ID)} {
		if r := b.get(p); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, authflow.ResumePath) {
			t.Errorf("GET %s after the second factor: %d %s", p, r.status, r.location)
		}
	}
}

// wrongCode returns a six-digit code that is not c.
func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// TestMFAEnrollRefusedWithAFactor: a user who has a factor must pass it;
// the enrollment page never adds another on a password alone.
func TestMFAEnrollRefusedWithAFactor(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	secret := e.withTOTP(t, user.ID)
	b := e.browser(t)
	req := e.loggedIn(t, b)
	challenge := authflow.For(authflow.MFAPath, req.ID)
	if r := b.get(authflow.For(authflow.MFAEnrollPath, req.ID)); r.status != http.StatusSeeOther || r.location != challenge {
		t.Errorf("GET enrollment with a factor: %d %s, want a redirect to %s", r.status, r.location, challenge)
	}
	vals := form(t, b.get(challenge))
	vals.Set("action", "totp")
	vals.Set("code", e.code(t, secret))
	if r := b.post(authflow.MFAEnrollPath, vals); r.status != http.StatusSeeOther || r.location != challenge {
		t.Errorf("POST enrollment with a factor: %d %s, want a redirect to %s", r.status, r.location, challenge)
	}
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd"})
	if f, _ := e.st.ListFactors(t.Context(), user.ID); len(f) != 1 {
		t.Errorf("factors: %+v", f)
	}
}

// TestMFAChallengeTOTP: the challenge page takes the app's code, refuses
// a wrong or replayed one, and records the factor.
func TestMFAChallengeTOTP(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	secret := e.withTOTP(t, user.ID)
	if _, err := e.mfa.NewRecoveryCodes(t.Context(), user.ID); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	req := e.loggedIn(t, b)
	page := b.get(authflow.For(authflow.MFAPath, req.ID))
	if page.status != http.StatusOK || !strings.Contains(page.body, `<label for="code">Code from your authenticator app</label>`) {
		t.Fatalf("challenge page: %d %.800s", page.status, page.body)
	}
	if !strings.Contains(page.body, `id="use-recovery"`) || strings.Contains(page.body, `id="use-security-key"`) {
		t.Errorf("the page should offer a recovery code and no security key:\n%s", page.body)
	}
	vals := form(t, page)
	if vals.Get("action") != "totp" {
		t.Fatalf("action %q", vals.Get("action"))
	}
	vals.Set("code", "")
	wantError(t, "empty code", b.post(authflow.MFAPath, vals), http.StatusBadRequest, "Enter the code", "code")
	vals.Set("code", wrongCode(e.code(t, secret)))
	wantError(t, "wrong code", b.post(authflow.MFAPath, vals), http.StatusUnauthorized, "That code did not work", "code")
	wantMethods(t, "session after wrong codes", e.sessionOf(t, b).Methods, []string{"pwd"})

	code := e.code(t, secret)
	vals.Set("code", code[:3]+" "+code[3:]) // as the app shows it
	r := b.post(authflow.MFAPath, vals)
	if r.status != http.StatusSeeOther || r.location != authflow.For(authflow.ResumePath, req.ID) {
		t.Fatalf("right code: %d %s %.500s", r.status, r.location, r.body)
	}
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd", "otp", "mfa"})
	wantMethods(t, "request", e.request(t, req.ID).AuthMethods, []string{"pwd", "otp", "mfa"})

	// The same code, seen over a shoulder and typed in another browser
	// that knows the password, is refused.
	thief := e.browser(t)
	req2 := e.loggedIn(t, thief)
	vals2 := form(t, thief.get(authflow.For(authflow.MFAPath, req2.ID)))
	vals2.Set("code", code)
	wantError(t, "replayed code", thief.post(authflow.MFAPath, vals2), http.StatusUnauthorized, "That code did not work", "code")
	wantMethods(t, "thief's session", e.sessionOf(t, thief).Methods, []string{"pwd"})
	if got := e.request(t, req2.ID).AuthMethods; slices.Contains(got, "mfa") {
		t.Errorf("the replay was recorded on the request: %q", got)
	}
	// The next code works.
	e.clock.Advance(30 * time.Second)
	vals2.Set("code", e.code(t, secret))
	if r := thief.post(authflow.MFAPath, vals2); r.status != http.StatusSeeOther {
		t.Errorf("the next code: %d %.300s", r.status, r.body)
	}
}

// TestMFARecoveryCode: a recovery code passes once; a wrong or spent one
// is refused.
func TestMFARecoveryCode(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	e.withTOTP(t, user.ID)
	codes, err := e.mfa.NewRecoveryCodes(t.Context(), user.ID)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	req := e.loggedIn(t, b)
	page := b.get(authflow.For(authflow.MFAPath, req.ID) + "&method=recovery")
	if page.status != http.StatusOK || !strings.Contains(page.body, `<label for="code">Recovery code</label>`) || !strings.Contains(page.body, `id="use-totp"`) {
		t.Fatalf("recovery page: %d %.800s", page.status, page.body)
	}
	vals := form(t, page)
	if vals.Get("action") != "recovery" {
		t.Fatalf("action %q", vals.Get("action"))
	}
	vals.Set("code", "abcde-fghij")
	wantError(t, "wrong recovery code", b.post(authflow.MFAPath, vals), http.StatusUnauthorized, "That recovery code did not work", "code")
	vals.Set("code", strings.ToUpper(codes[0]))
	if r := b.post(authflow.MFAPath, vals); r.status != http.StatusSeeOther {
		t.Fatalf("recovery code: %d %.500s", r.status, r.body)
	}
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd", "otp", "mfa"})

	other := e.browser(t)
	req2 := e.loggedIn(t, other)
	vals2 := form(t, other.get(authflow.For(authflow.MFAPath, req2.ID)+"&method=recovery"))
	vals2.Set("code", codes[0])
	wantError(t, "spent recovery code", other.post(authflow.MFAPath, vals2), http.StatusUnauthorized, "That recovery code did not work", "code")
	vals2.Set("code", codes[1])
	if r := other.post(authflow.MFAPath, vals2); r.status != http.StatusSeeOther {
		t.Errorf("another recovery code: %d", r.status)
	}
}

// TestMFACodeThrottle: after five wrong codes the user's code entry is
// refused, even the right code, with Retry-After, until an attempt comes
// back (one every 3 minutes with five per 15); confirming an enrollment
// counts too.
func TestMFACodeThrottle(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	secret := e.withTOTP(t, user.ID)
	b := e.browser(t)
	req := e.loggedIn(t, b)
	vals := form(t, b.get(authflow.For(authflow.MFAPath, req.ID)))
	for i := range 5 {
		vals.Set("code", wrongCode(e.code(t, secret)))
		if r := b.post(authflow.MFAPath, vals); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, r.status)
		}
	}
	vals.Set("code", e.code(t, secret))
	r := b.post(authflow.MFAPath, vals)
	wantError(t, "right code after five wrong ones", r, http.StatusTooManyRequests, "Too many wrong codes. Wait 3 minutes and try again.", "")
	if got := r.header.Get("Retry-After"); got != "180" {
		t.Errorf("Retry-After %q, want 180", got)
	}
	// Recovery codes share the limit.
	vals.Set("action", "recovery")
	wantError(t, "recovery code after five wrong ones", b.post(authflow.MFAPath, vals), http.StatusTooManyRequests, "Too many wrong codes", "")
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd"})

	e.clock.Advance(3 * time.Minute)
	vals.Set("action", "totp")
	vals.Set("code", e.code(t, secret))
	if r := b.post(authflow.MFAPath, vals); r.status != http.StatusSeeOther {
		t.Fatalf("right code after the window: %d %.500s", r.status, r.body)
	}

	// Enrollment codes count against the same limit.
	newcomer := e.dbUser(t, "grace@example.com", mfaPassword)
	nb := e.browser(t)
	nreq := nb.pendingRequest(nil)
	lv := form(t, nb.get("/u/login?req="+url.QueryEscape(nreq.ID)))
	lv.Set("email", "grace@example.com")
	lv.Set("password", mfaPassword)
	if r := nb.post("/u/login", lv); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	page := nb.get(authflow.For(authflow.MFAEnrollPath, nreq.ID))
	nsecret := secretOf(t, page)
	ev := form(t, page)
	for range 5 {
		ev.Set("code", wrongCode(e.code(t, nsecret)))
		nb.post(authflow.MFAEnrollPath, ev)
	}
	ev.Set("code", e.code(t, nsecret))
	wantError(t, "enrollment after five wrong codes", nb.post(authflow.MFAEnrollPath, ev), http.StatusTooManyRequests, "Too many wrong codes", "")
	if f, err := e.st.GetTOTP(t.Context(), newcomer.ID); err != nil || f.Confirmed {
		t.Errorf("throttled enrollment confirmed the app: %+v %v", f, err)
	}
}

// TestMFAPagesRefuseOtherBrowsers: the second-factor pages of a request
// answer 403 in a browser that did not start it, even one with a session
// of the same user, and record nothing.
func TestMFAPagesRefuseOtherBrowsers(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	secret := e.withTOTP(t, user.ID)
	owner, other := e.browser(t), e.browser(t)
	req := e.loggedIn(t, owner)
	e.loggedIn(t, other)
	for _, path := range []string{authflow.MFAPath, authflow.MFAEnrollPath, authflow.PasskeyPath} {
		r := other.get(authflow.For(path, req.ID))
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "another browser") {
			t.Errorf("GET %s in another browser: %d %.200s", path, r.status, r.body)
		}
	}
	// The other browser's genuine CSRF token does not make it usable.
	own := e.loggedIn(t, other)
	vals := form(t, other.get(authflow.For(authflow.MFAPath, own.ID)))
	vals.Set("req", req.ID)
	vals.Set("code", e.code(t, secret))
	for _, path := range []string{authflow.MFAPath, authflow.MFAEnrollPath, authflow.PasskeyPath} {
		if r := other.post(path, vals); r.status != http.StatusForbidden {
			t.Errorf("POST %s on another browser's request: %d", path, r.status)
		}
	}
	wantMethods(t, "owner's request", e.request(t, req.ID).AuthMethods, []string{"pwd"})
}

// TestMFACSRF: every second-factor form refuses a post without this
// browser's CSRF token, or from another site.
func TestMFACSRF(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	secret := e.withTOTP(t, user.ID)
	b := e.browser(t)
	req := e.loggedIn(t, b)
	good := form(t, b.get(authflow.For(authflow.MFAPath, req.ID)))
	good.Set("code", e.code(t, secret))
	paths := []string{authflow.MFAPath, authflow.MFAEnrollPath, authflow.PasskeyPath,
		authflow.AccountSecurityPath, authflow.AccountSecurityPath + "/verify", authflow.AccountSecurityPath + "/enroll"}
	for _, path := range paths {
		for _, csrf := range []string{"", "forged-" + good.Get("csrf")} {
			vals := url.Values{}
			for k, v := range good {
				vals[k] = v
			}
			vals.Set("csrf", csrf)
			if r := b.post(path, vals); r.status != http.StatusForbidden {
				t.Errorf("POST %s with CSRF token %q: %d", path, csrf, r.status)
			}
		}
		hreq, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(good.Encode()))
		hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		hreq.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := b.c.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d", path, resp.StatusCode)
		}
	}
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd"})
}

// TestMFAPagesWithoutTheirUser: without a session, or with the session of
// someone other than who authenticated on the request, the pages hand the
// browser back to the flow, which asks for a login.
func TestMFAPagesWithoutTheirUser(t *testing.T) {
	e := newEnv(t)
	e.dbUser(t, mfaEmail, mfaPassword)
	grace := e.dbUser(t, "grace@example.com", mfaPassword)
	b := e.browser(t)
	fresh := b.pendingRequest(nil)
	resume := authflow.For(authflow.ResumePath, fresh.ID)
	for _, path := range []string{authflow.MFAPath, authflow.MFAEnrollPath} {
		if r := b.get(authflow.For(path, fresh.ID)); r.status != http.StatusSeeOther || r.location != resume {
			t.Errorf("GET %s without a session: %d %s", path, r.status, r.location)
		}
	}
	e.loggedIn(t, b) // ada's session
	someoneElse := b.pendingRequest(func(r *store.AuthRequest) { r.AuthUserID, r.AuthMethods = grace.ID, []string{"pwd"} })
	if r := b.get(authflow.For(authflow.MFAEnrollPath, someoneElse.ID)); r.status != http.StatusSeeOther ||
		r.location != authflow.For(authflow.ResumePath, someoneElse.ID) {
		t.Errorf("GET enrollment on grace's request with ada's session: %d %s", r.status, r.location)
	}
}

// TestMFASecurityKeyCeremony: the security-key method needs the ceremony
// this browser began, once; anything else is refused without a 500.
func TestMFASecurityKeyCeremony(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	if err := e.st.AddWebAuthnCredential(t.Context(), store.WebAuthnCredential{ID: "wa_1", UserID: user.ID,
		Type: store.FactorWebAuthnRoaming, Name: "Blue key", CredentialID: []byte("credential-1"), PublicKey: []byte("pk"),
		CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	req := e.loggedIn(t, b)
	page := b.get(authflow.For(authflow.MFAPath, req.ID))
	if page.status != http.StatusOK || !strings.Contains(page.body, `data-webauthn="get"`) ||
		!strings.Contains(page.body, `<script src="/u/static/webauthn.js" defer></script>`) {
		t.Fatalf("a user with only a key should get the key page: %d %.1000s", page.status, page.body)
	}
	// The options name the user's credential and carry a challenge.
	opts := html.UnescapeString(regexp.MustCompile(`data-options="([^"]*)"`).FindStringSubmatch(page.body)[1])
	if !strings.Contains(opts, `"challenge":"`) || !strings.Contains(opts, `"allowCredentials":[{"type":"public-key","id":"Y3JlZGVudGlhbC0x"`) {
		t.Errorf("options: %s", opts)
	}
	vals := form(t, page)
	vals.Set("response", `{"id":"Y3JlZGVudGlhbC0x","rawId":"Y3JlZGVudGlhbC0x","type":"public-key","response":{}}`)
	wantError(t, "a bad assertion", b.post(authflow.MFAPath, vals), http.StatusUnauthorized, "Your security key was not accepted", "")
	// The refusal began a new ceremony; a post without the cookie (another
	// browser's, or after it expired) answers none.
	other := e.browser(t)
	u, _ := url.Parse(e.srv.URL)
	other.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
	for _, c := range other.c.Jar.Cookies(u) {
		if c.Name == ceremonyCookie {
			other.c.Jar.SetCookies(u, []*http.Cookie{{Name: ceremonyCookie, Value: "", MaxAge: -1, Path: "/"}})
		}
	}
	wantError(t, "no ceremony", other.post(authflow.MFAPath, vals), http.StatusBadRequest, "The security key check expired", "")
	// The ceremony is spent by the refused post and the cookie is cleared:
	// replaying the cookie finds nothing.
	ck := ceremonyValue(t, b)
	b.post(authflow.MFAPath, vals) // spends it
	replay := e.browser(t)
	replay.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: ceremonyCookie, Value: ck, Path: "/"}})
	wantError(t, "a spent ceremony", replay.post(authflow.MFAPath, vals), http.StatusBadRequest, "The security key check expired", "")
	// A ceremony begun for another page (a passkey login) does not answer
	// a second-factor check, and is spent by trying.
	b.get(authflow.For(authflow.PasskeyPath, req.ID))
	passkeyCeremony := ceremonyValue(t, b)
	wantError(t, "a passkey login's ceremony", b.post(authflow.MFAPath, vals), http.StatusBadRequest, "The security key check expired", "")
	if _, err := e.st.TakeCeremony(t.Context(), token.Hash(passkeyCeremony), e.clock.Now()); err == nil {
		t.Error("a ceremony refused for its purpose was left in the store")
	}
	// An expired one too.
	req = e.loggedIn(t, b)
	page = b.get(authflow.For(authflow.MFAPath, req.ID))
	e.clock.Advance(ceremonyTTL)
	vals = form(t, page)
	vals.Set("response", `{}`)
	wantError(t, "an expired ceremony", b.post(authflow.MFAPath, vals), http.StatusBadRequest, "The security key check expired", "")
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd"})
}

// ceremonyValue returns the browser's ceremony cookie.
func ceremonyValue(t *testing.T, b *browser) string {
	t.Helper()
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == ceremonyCookie {
			return c.Value
		}
	}
	t.Fatal("no ceremony cookie")
	return ""
}

// TestPasskeyLoginPage: the login page offers a passkey; the passkey page
// asks the browser for a discoverable credential and refuses a bad answer
// or a post without its ceremony.
func TestPasskeyLoginPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	req := b.pendingRequest(nil)
	login := b.get("/u/login?req=" + url.QueryEscape(req.ID))
	if !strings.Contains(login.body, `id="passkey" href="/u/passkey?req=`+url.QueryEscape(req.ID)+`"`) {
		t.Fatalf("the login page offers no passkey:\n%s", login.body)
	}
	if strings.Contains(login.body, "<script") {
		t.Error("the login page has a script; only the passkey page needs one")
	}
	page := b.get(authflow.For(authflow.PasskeyPath, req.ID))
	if page.status != http.StatusOK || !strings.Contains(page.body, `data-webauthn="get"`) {
		t.Fatalf("passkey page: %d %.800s", page.status, page.body)
	}
	opts := html.UnescapeString(regexp.MustCompile(`data-options="([^"]*)"`).FindStringSubmatch(page.body)[1])
	if strings.Contains(opts, "allowCredentials") || !strings.Contains(opts, `"userVerification":"required"`) {
		t.Errorf("a passkey login names no credential and requires user verification: %s", opts)
	}
	vals := form(t, page)
	for _, resp := range []string{"", "not json", `{"id":"x","type":"public-key","response":{}}`} {
		vals.Set("response", resp)
		wantError(t, "bad answer "+resp, b.post(authflow.PasskeyPath, vals), http.StatusUnauthorized, "That passkey was not accepted", "")
	}
	if got := e.request(t, req.ID); got.AuthUserID != "" {
		t.Errorf("a refused passkey recorded %q on the request", got.AuthUserID)
	}
	// Without the ceremony cookie.
	plain := e.browser(t)
	u, _ := url.Parse(e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name != ceremonyCookie {
			plain.c.Jar.SetCookies(u, []*http.Cookie{c})
		}
	}
	wantError(t, "no ceremony", plain.post(authflow.PasskeyPath, vals), http.StatusBadRequest, "expired", "")
	// Where passwords are not offered, neither are passkeys.
	forced := b.pendingRequest(func(r *store.AuthRequest) { r.Connection = "github" })
	if r := b.get(authflow.For(authflow.PasskeyPath, forced.ID)); r.status != http.StatusBadRequest {
		t.Errorf("passkey page with connection=github: %d", r.status)
	}
}

// TestAccountSecurity: a logged-in user sets up an authenticator app on
// the account page, gets recovery codes, must pass the app in a new
// session before removing it, and removing it takes the recovery codes.
func TestAccountSecurity(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)

	anon := e.browser(t)
	if r := anon.get(authflow.AccountSecurityPath); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "not logged in") {
		t.Errorf("account page without a session: %d %.200s", r.status, r.body)
	}

	b := e.browser(t)
	e.loggedIn(t, b)
	page := b.get(authflow.AccountSecurityPath)
	for _, want := range []string{`id="add-totp"`, `id="add-key"`, `id="add-passkey"`, mfaEmail} {
		if !strings.Contains(page.body, want) {
			t.Errorf("account page lacks %s:\n%.1500s", want, page.body)
		}
	}
	enroll := b.get(authflow.AccountSecurityPath + "/enroll?method=totp")
	secret := secretOf(t, enroll)
	vals := form(t, enroll)
	vals.Set("code", wrongCode(e.code(t, secret)))
	wantError(t, "wrong code", b.post(authflow.AccountSecurityPath+"/enroll", vals), http.StatusUnauthorized, "That code did not work", "code")
	vals.Set("code", e.code(t, secret))
	r := b.post(authflow.AccountSecurityPath+"/enroll", vals)
	if r.status != http.StatusOK || strings.Count(r.body, "<code>") != 10 || !strings.Contains(r.body, `action="/u/account/security"`) {
		t.Fatalf("confirm on the account page: %d %.1000s", r.status, r.body)
	}
	page = b.get(authflow.AccountSecurityPath)
	if !strings.Contains(page.body, `id="totp-list"`) || !strings.Contains(page.body, "10 of 10 codes left") {
		t.Errorf("account page after setting up the app:\n%s", page.body)
	}

	// A new session (the password alone) must pass the app first.
	e.clock.Advance(30 * time.Second)
	other := e.browser(t)
	e.loggedIn(t, other)
	page = other.get(authflow.AccountSecurityPath)
	if !strings.Contains(page.body, "Verify it") || strings.Contains(page.body, `id="totp-list"`) {
		t.Fatalf("the account page shows factors to a session without the second factor:\n%s", page.body)
	}
	factors, _ := e.st.ListFactors(t.Context(), user.ID)
	var totpID string
	for _, f := range factors {
		if f.Type == store.FactorTOTP {
			totpID = f.ID
		}
	}
	step := form(t, page)
	remove := url.Values{"csrf": {step.Get("csrf")}, "action": {"remove"}, "factor": {totpID}}
	if r := other.post(authflow.AccountSecurityPath, remove); r.status != http.StatusSeeOther || r.location != authflow.AccountSecurityPath {
		t.Errorf("remove without the second factor: %d %s", r.status, r.location)
	}
	if r := other.get(authflow.AccountSecurityPath + "/enroll?method=key"); r.status != http.StatusSeeOther {
		t.Errorf("add a key without the second factor: %d", r.status)
	}
	if f, _ := e.st.ListFactors(t.Context(), user.ID); len(f) != 2 {
		t.Fatalf("factors changed without the second factor: %+v", f)
	}
	step.Set("code", wrongCode(e.code(t, secret)))
	wantError(t, "wrong code on the account page", other.post(authflow.AccountSecurityPath+"/verify", step), http.StatusUnauthorized, "That code did not work", "code")
	step.Set("code", e.code(t, secret))
	if r := other.post(authflow.AccountSecurityPath+"/verify", step); r.status != http.StatusSeeOther {
		t.Fatalf("verify on the account page: %d %.300s", r.status, r.body)
	}
	wantMethods(t, "session after verifying", e.sessionOf(t, other).Methods, []string{"pwd", "otp", "mfa"})
	if r := other.post(authflow.AccountSecurityPath, remove); r.status != http.StatusSeeOther || r.location != authflow.AccountSecurityPath+"?done=removed" {
		t.Fatalf("remove: %d %s %.300s", r.status, r.location, r.body)
	}
	if f, _ := e.st.ListFactors(t.Context(), user.ID); len(f) != 0 {
		t.Errorf("after removing the only factor: %+v; want the recovery codes gone too", f)
	}
	if r := other.get(authflow.AccountSecurityPath + "?done=removed"); !strings.Contains(r.body, `role="status" id="notice">Removed.`) {
		t.Errorf("no notice after removing:\n%s", r.body)
	}
	// Removing again, or someone else's factor, changes nothing.
	if r := other.post(authflow.AccountSecurityPath, remove); r.status != http.StatusBadRequest {
		t.Errorf("remove twice: %d", r.status)
	}
}

// TestMFAUnknownActions: a form posted with an action the page does not
// offer is a 400 page (or, on the account's enrollment, a redirect to the
// account page), never a 500, and changes nothing.
func TestMFAUnknownActions(t *testing.T) {
	e := newEnv(t)
	user := e.dbUser(t, mfaEmail, mfaPassword)
	b := e.browser(t)
	req := e.loggedIn(t, b)
	enroll := form(t, b.get(authflow.For(authflow.MFAEnrollPath, req.ID)))
	for _, tc := range []struct {
		path   string
		status int
	}{
		{authflow.MFAEnrollPath, http.StatusBadRequest},
		{authflow.AccountSecurityPath, http.StatusBadRequest},
		{authflow.AccountSecurityPath + "/enroll", http.StatusSeeOther},
	} {
		vals := url.Values{"csrf": {enroll.Get("csrf")}, "req": {req.ID}, "action": {"bogus"}, "code": {"123456"}}
		if r := b.post(tc.path, vals); r.status != tc.status {
			t.Errorf("POST %s with action=bogus: %d, want %d", tc.path, r.status, tc.status)
		}
	}
	secret := e.withTOTP(t, user.ID)
	vals := form(t, b.get(authflow.For(authflow.MFAPath, req.ID)))
	vals.Set("action", "bogus")
	vals.Set("code", e.code(t, secret))
	wantError(t, "POST /u/mfa with action=bogus", b.post(authflow.MFAPath, vals), http.StatusBadRequest, "Choose a way to verify", "")
	wantMethods(t, "session", e.sessionOf(t, b).Methods, []string{"pwd"})
}
