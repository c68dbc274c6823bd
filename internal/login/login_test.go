package login

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/store"
)

func (e *env) request(t testing.TB, id string) store.AuthRequest {
	t.Helper()
	r, err := e.st.GetAuthRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("get request: %v", err)
	}
	return r
}

func (e *env) dbUser(t testing.TB, email, password string) store.User {
	t.Helper()
	db := e.database(t)
	u, err := db.SignUp(context.Background(), email, password, "Test User")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPagesRefuseOtherBrowsers: every page of a request answers 403 in a
// browser that did not start it, and records nothing on it.
func TestPagesRefuseOtherBrowsers(t *testing.T) {
	e := newEnv(t)
	owner, other := e.browser(t), e.browser(t)
	req := owner.pendingRequest(nil)
	for _, path := range []string{"/u/login", "/u/signup", "/u/consent", "/u/organization", "/u/login/github"} {
		r := other.get(path + "?req=" + url.QueryEscape(req.ID))
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "another browser") {
			t.Errorf("GET %s in another browser: %d %.200s", path, r.status, r.body)
		}
	}
	// The other browser's genuine CSRF token (from a request of its own)
	// does not make the owner's request usable.
	own := other.pendingRequest(nil)
	vals := form(t, other.get("/u/login?req="+url.QueryEscape(own.ID)))
	vals.Set("req", req.ID)
	vals.Set("email", "someone@example.com")
	vals.Set("password", "a long password")
	if r := other.post("/u/login", vals); r.status != http.StatusForbidden {
		t.Errorf("POST /u/login on another browser's request: %d", r.status)
	}
	vals.Set("action", "accept")
	if r := other.post("/u/consent", vals); r.status != http.StatusForbidden {
		t.Errorf("POST /u/consent on another browser's request: %d", r.status)
	}
	if got := e.request(t, req.ID); got.AuthUserID != "" || got.ConsentUserID != "" || got.Error != "" {
		t.Errorf("request changed by another browser: %+v", got)
	}
	// The owner still can.
	if r := owner.get("/u/login?req=" + url.QueryEscape(req.ID)); r.status != http.StatusOK {
		t.Errorf("owner's login page: %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	req := b.pendingRequest(nil)
	vals := form(t, b.get("/u/login?req="+url.QueryEscape(req.ID)))
	vals.Set("email", "nobody@example.com")
	vals.Set("password", "a long password")
	tests := []struct {
		name string
		csrf string
	}{
		{"missing", ""},
		{"forged", strings.Repeat("A", 43)},
		{"another browser's", form(t, func() response {
			o := e.browser(t)
			return o.get("/u/login?req=" + url.QueryEscape(o.pendingRequest(nil).ID))
		}()).Get("csrf")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{}
			for k := range vals {
				v.Set(k, vals.Get(k))
			}
			v.Set("csrf", tt.csrf)
			if r := b.post("/u/login", v); r.status != http.StatusForbidden || !strings.Contains(r.body, "form expired") {
				t.Errorf("status %d, want 403: %.200s", r.status, r.body)
			}
		})
	}
	// A cross-site post is refused before the token is even read.
	req2, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/u/login", strings.NewReader(vals.Encode()))
	req2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req2.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.c.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", resp.StatusCode)
	}
	// The genuine token passes the check (and the wrong password is then
	// reported as such).
	if r := b.post("/u/login", vals); r.status != http.StatusUnauthorized {
		t.Errorf("genuine token: %d %.200s", r.status, r.body)
	}
}

// TestLoginRecordsAuthentication: a successful login records who logged in
// on the request and how, starts a session and hands back to resume.
func TestLoginRecordsAuthentication(t *testing.T) {
	e := newEnv(t)
	u := e.dbUser(t, "ada@example.com", "a long password")
	b := e.browser(t)
	req := b.pendingRequest(nil)
	vals := form(t, b.get("/u/login?req="+url.QueryEscape(req.ID)))
	vals.Set("email", "Ada@Example.com")
	vals.Set("password", "a long password")
	r := b.post("/u/login", vals)
	if r.status != http.StatusSeeOther || r.location != "/authorize/resume?req="+url.QueryEscape(req.ID) {
		t.Fatalf("login: %d %q %.200s", r.status, r.location, r.body)
	}
	got := e.request(t, req.ID)
	if got.AuthUserID != u.ID || !slices.Equal(got.AuthMethods, []string{"pwd"}) {
		t.Errorf("recorded authentication %q %q, want %q [pwd]", got.AuthUserID, got.AuthMethods, u.ID)
	}
}

func TestConsentRecordsAnswer(t *testing.T) {
	e := newEnv(t)
	e.dbUser(t, "ada@example.com", "a long password")
	for _, tt := range []struct {
		action    string
		consents  bool
		wantError string
	}{
		{action: "accept", consents: true},
		{action: "deny", wantError: "access_denied"},
	} {
		t.Run(tt.action, func(t *testing.T) {
			email := tt.action + "@example.com"
			u := e.dbUser(t, email, "a long password")
			b := e.browser(t)
			req := b.pendingRequest(nil)
			lv := form(t, b.get("/u/login?req="+url.QueryEscape(req.ID)))
			lv.Set("email", email)
			lv.Set("password", "a long password")
			if r := b.post("/u/login", lv); r.status != http.StatusSeeOther {
				t.Fatalf("login: %d", r.status)
			}
			page := b.get("/u/consent?req=" + url.QueryEscape(req.ID))
			if page.status != http.StatusOK || !strings.Contains(page.body, email) {
				t.Fatalf("consent page: %d %.300s", page.status, page.body)
			}
			v := form(t, page)
			v.Set("action", tt.action)
			r := b.post("/u/consent", v)
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/authorize/resume?") {
				t.Fatalf("consent %s: %d %q", tt.action, r.status, r.location)
			}
			got := e.request(t, req.ID)
			wantConsent := ""
			if tt.consents {
				wantConsent = u.ID
			}
			if got.ConsentUserID != wantConsent || got.Error != tt.wantError {
				t.Errorf("after %s: consent by %q error %q; want %q %q", tt.action, got.ConsentUserID, got.Error, wantConsent, tt.wantError)
			}
			_, err := e.st.GetGrant(context.Background(), u.ID, e.client.ID, "")
			if (err == nil) != tt.consents {
				t.Errorf("after %s: remembered grant err=%v", tt.action, err)
			}
		})
	}
	t.Run("neither", func(t *testing.T) {
		b := e.browser(t)
		req := b.pendingRequest(nil)
		lv := form(t, b.get("/u/login?req="+url.QueryEscape(req.ID)))
		lv.Set("email", "ada@example.com")
		lv.Set("password", "a long password")
		b.post("/u/login", lv)
		v := form(t, b.get("/u/consent?req="+url.QueryEscape(req.ID)))
		v.Set("action", "maybe")
		if r := b.post("/u/consent", v); r.status != http.StatusBadRequest {
			t.Errorf("action maybe: %d", r.status)
		}
	})
	t.Run("no session goes to login", func(t *testing.T) {
		b := e.browser(t)
		req := b.pendingRequest(nil)
		if r := b.get("/u/consent?req=" + url.QueryEscape(req.ID)); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/u/login?") {
			t.Errorf("consent without a session: %d %q", r.status, r.location)
		}
	})
}

func TestExpiredOrUnknownRequest(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for _, path := range []string{"/u/login?req=nope", "/u/login", "/u/consent?req=nope", "/u/signup?req="} {
		if r := b.get(path); r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired") {
			t.Errorf("GET %s: %d %.200s", path, r.status, r.body)
		}
	}
}

// TestErrorsMarkTheField: an error about one field marks that field for
// assistive technology and moves the focus there; the password is never
// sent back.
func TestErrorsMarkTheField(t *testing.T) {
	e := newEnv(t)
	e.dbUser(t, "ada@example.com", "a long password")
	b := e.browser(t)
	req := b.pendingRequest(nil)
	tests := []struct {
		name, path, email, password string
		status                      int
		field                       string
	}{
		{"empty email", "/u/login", "", "x", http.StatusBadRequest, "email"},
		{"wrong password", "/u/login", "ada@example.com", "wrong password", http.StatusUnauthorized, "password"},
		{"invalid email at sign-up", "/u/signup", "not-an-email", "a long password", http.StatusBadRequest, "email"},
		{"short password at sign-up", "/u/signup", "new@example.com", "short", http.StatusBadRequest, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := form(t, b.get(tt.path+"?req="+url.QueryEscape(req.ID)))
			v.Set("email", tt.email)
			v.Set("password", tt.password)
			r := b.post(tt.path, v)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tt.status, r.body)
			}
			input := regexpFind(t, `<input id="`+tt.field+`"[^>]*>`, r.body)
			if !strings.Contains(input, `aria-invalid="true"`) || !strings.Contains(input, "error") || !strings.Contains(input, "autofocus") {
				t.Errorf("field %s is not marked: %s", tt.field, input)
			}
			if strings.Count(r.body, "autofocus") != 1 {
				t.Errorf("%d fields ask for the focus", strings.Count(r.body, "autofocus"))
			}
			if !strings.Contains(r.body, `role="alert" id="error"`) {
				t.Error("no alert with id error")
			}
			if tt.password != "" && strings.Contains(r.body, `value="`+tt.password+`"`) {
				t.Error("the password was sent back")
			}
		})
	}
}

func regexpFind(t *testing.T, pattern, s string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindString(s)
	if m == "" {
		t.Fatalf("no match for %s in:\n%.600s", pattern, s)
	}
	return m
}
