package login

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/email"
	"gatehouse/internal/email/emailtest"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// mailTimeout bounds every wait for a message from the pages.
const mailTimeout = 10 * time.Second

// withMail gives the pages a real SMTP sender to smtpURL.
func withMail(t *testing.T, smtpURL string) func(*Config) {
	t.Helper()
	s, err := email.Open(smtpURL, "Gatehouse <no-reply@gatehouse.test>", nil, email.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.Mail = s }
}

// mailEnv is an env whose pages send mail to a test SMTP server.
func mailEnv(t *testing.T) (*env, *emailtest.Server) {
	t.Helper()
	srv := emailtest.Start(t, emailtest.Config{})
	return newEnv(t, withMail(t, srv.URL())), srv
}

// ticketLink returns the path and query of the message's link to path.
func ticketLink(t *testing.T, m *emailtest.Message, path string) string {
	t.Helper()
	for _, l := range m.TextLinks() {
		u, err := url.Parse(l)
		if err == nil && u.Path == path && u.Query().Get("ticket") != "" {
			return u.RequestURI()
		}
	}
	t.Fatalf("no %s link in %q:\n%s", path, m.Subject, m.Text)
	return ""
}

// messageTo returns the one message among msgs sent to addr.
func messageTo(t *testing.T, msgs []*emailtest.Message, addr string) *emailtest.Message {
	t.Helper()
	var found *emailtest.Message
	for _, m := range msgs {
		if len(m.EnvelopeTo) == 1 && m.EnvelopeTo[0] == addr {
			if found != nil {
				t.Fatalf("two messages to %s", addr)
			}
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no message to %s", addr)
	}
	return found
}

// noMoreMail fails if more than n messages arrive within a short while.
func noMoreMail(t *testing.T, srv *emailtest.Server, n int) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if got := srv.Messages(); len(got) != n {
		t.Fatalf("%d messages, want %d", len(got), n)
	}
}

var csrfValue = regexp.MustCompile(`name="csrf" value="[^"]*"`)

// sameAnswer compares two pages apart from their CSRF tokens and the
// addresses they were asked about.
func sameAnswer(t *testing.T, what string, a, b response, addrA, addrB string) {
	t.Helper()
	norm := func(r response, addr string) string {
		return strings.ReplaceAll(csrfValue.ReplaceAllString(r.body, "csrf"), addr, "ADDR")
	}
	if a.status != b.status || norm(a, addrA) != norm(b, addrB) {
		t.Errorf("%s: answers differ: %d vs %d\n%s\n---\n%s", what, a.status, b.status, a.body, b.body)
	}
}

// forgot asks for a reset link for addr on the forgot-password page,
// within the request reqID when it is set.
func (b *browser) forgot(addr, reqID string) response {
	b.t.Helper()
	path := authflow.ForgotPasswordPath
	if reqID != "" {
		path = authflow.For(path, reqID)
	}
	vals := form(b.t, b.get(path))
	vals.Set("email", addr)
	return b.post(authflow.ForgotPasswordPath, vals)
}

// hasSession reports whether the browser holds a live session.
func (e *env) hasSession(t *testing.T, b *browser) (store.Session, bool) {
	t.Helper()
	u, _ := url.Parse(e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == session.CookieName && c.Value != "" {
			s, err := e.st.GetSession(context.Background(), token.Hash(c.Value), time.Now())
			return s, err == nil
		}
	}
	return store.Session{}, false
}

// TestForgotPasswordSameAnswer: an address with an account and one
// without get the same page; only the first gets an email, and its link
// opens the new-password form.
func TestForgotPasswordSameAnswer(t *testing.T) {
	e, srv := mailEnv(t)
	user := e.dbUser(t, "ada@example.com", "a long enough password")
	known := e.browser(t).forgot(user.Email, "")
	unknown := e.browser(t).forgot("nobody@example.com", "")
	if known.status != http.StatusOK || !strings.Contains(known.body, "Check your inbox") {
		t.Fatalf("forgot: %d %.500s", known.status, known.body)
	}
	sameAnswer(t, "forgot password", known, unknown, user.Email, "nobody@example.com")
	msg := srv.Wait(t, 1, mailTimeout)[0]
	if msg.EnvelopeTo[0] != user.Email {
		t.Fatalf("reset email went to %v", msg.EnvelopeTo)
	}
	r := e.browser(t).get(ticketLink(t, msg, authflow.ResetPasswordPath))
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("reset link: %d %.500s", r.status, r.body)
	}
	noMoreMail(t, srv, 1)
}

func TestForgotPasswordErrors(t *testing.T) {
	t.Run("invalid email", func(t *testing.T) {
		e, _ := mailEnv(t)
		wantError(t, "invalid email", e.browser(t).forgot("not an address", ""), http.StatusBadRequest, "Enter a valid email address.", "email")
	})
	t.Run("throttled", func(t *testing.T) {
		e, _ := mailEnv(t)
		b := e.browser(t)
		for i := range 5 {
			if r := b.forgot("nobody@example.com", ""); r.status != http.StatusOK {
				t.Fatalf("request %d: %d", i, r.status)
			}
		}
		r := b.forgot("nobody@example.com", "")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("sixth request: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
		if !strings.Contains(r.body, "Too many reset requests.") {
			t.Errorf("sixth request: %.500s", r.body)
		}
	})
	t.Run("mail server failing", func(t *testing.T) {
		e := newEnv(t, withMail(t, emailtest.ClosedURL(t)))
		user := e.dbUser(t, "ada@example.com", "a long enough password")
		if r := e.browser(t).forgot(user.Email, ""); r.status != http.StatusOK {
			t.Fatalf("first request: %d", r.status)
		}
		deadline := time.Now().Add(mailTimeout)
		for e.pages.mail.healthy() {
			if time.Now().After(deadline) {
				t.Fatal("the failed send was not recorded")
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, addr := range []string{user.Email, "nobody@example.com"} {
			wantError(t, addr, e.browser(t).forgot(addr, ""), http.StatusServiceUnavailable, "We cannot send email right now.", "")
		}
		// The failure counts for a while, then sends are tried again.
		e.clock.Advance(mailHealthWindow + time.Second)
		if r := e.browser(t).forgot("nobody@example.com", ""); r.status != http.StatusOK {
			t.Errorf("after the window: %d", r.status)
		}
	})
	t.Run("no mail", func(t *testing.T) {
		e := newEnv(t)
		b := e.browser(t)
		req := b.pendingRequest(nil)
		vals := form(t, b.get(authflow.For(loginPath, req.ID))) // a genuine CSRF token
		vals.Set("email", "a@example.com")
		for _, r := range []response{b.get(authflow.ForgotPasswordPath), b.post(authflow.ForgotPasswordPath, vals)} {
			if r.status != http.StatusNotFound {
				t.Errorf("without mail: %d %.300s", r.status, r.body)
			}
		}
		if r := b.get(authflow.ForgotPasswordPath); !strings.Contains(r.body, "sends no email") {
			t.Errorf("without mail: %.500s", r.body)
		}
	})
}

// resetLink asks for a reset link for addr in b and returns it.
func resetLink(t *testing.T, srv *emailtest.Server, b *browser, addr, reqID string, n int) string {
	t.Helper()
	if r := b.forgot(addr, reqID); r.status != http.StatusOK {
		t.Fatalf("forgot: %d %.300s", r.status, r.body)
	}
	return ticketLink(t, srv.Wait(t, n, mailTimeout)[n-1], authflow.ResetPasswordPath)
}

// reset sets password through the link in b.
func (b *browser) reset(link, password string) response {
	b.t.Helper()
	r := b.get(link)
	if r.status != http.StatusOK {
		return r
	}
	vals := form(b.t, r)
	vals.Set("password", password)
	return b.post(authflow.ResetPasswordPath, vals)
}

func TestResetPasswordLinks(t *testing.T) {
	e, srv := mailEnv(t)
	user := e.dbUser(t, "ada@example.com", "a long enough password")
	b := e.browser(t)
	link := resetLink(t, srv, b, user.Email, "", 1)

	// An expired link, stored as the management API would.
	expired := token.NewOpaque()
	past := time.Now().UTC().Add(-time.Hour)
	if err := e.st.CreateTicket(context.Background(), store.Ticket{ID: token.Hash(expired), Kind: store.TicketPasswordReset,
		UserID: user.ID, Email: user.Email, CreatedAt: past.Add(-time.Hour), ExpiresAt: past}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ticket string
	}{
		{"forged", "forged-ticket"},
		{"empty", ""},
		{"expired", expired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := authflow.ResetPasswordPath + "?ticket=" + url.QueryEscape(tt.ticket)
			wantError(t, "GET", b.get(path), http.StatusNotFound, "This link is invalid or has expired.", "")
			vals := form(t, b.get(link)) // a genuine CSRF token
			vals.Set("ticket", tt.ticket)
			vals.Set("password", "another long password")
			wantError(t, "POST", b.post(authflow.ResetPasswordPath, vals), http.StatusNotFound, "This link is invalid or has expired.", "")
		})
	}

	t.Run("weak password", func(t *testing.T) {
		r := b.reset(link, "short")
		wantError(t, "weak password", r, http.StatusBadRequest, "at least 8", "password")
		if r := b.get(link); r.status != http.StatusOK {
			t.Fatalf("link after a weak password: %d", r.status)
		}
	})
	t.Run("used", func(t *testing.T) {
		if r := b.reset(link, "another long password"); r.status != http.StatusOK {
			t.Fatalf("reset: %d %.300s", r.status, r.body)
		}
		wantError(t, "used link", b.get(link), http.StatusGone, "This link was already used.", "")
	})
}

// TestResetPasswordSuccess: the reset logs the browser in, ends the
// user's other sessions, uses the link, withdraws other reset links and
// tells the user by email.
func TestResetPasswordSuccess(t *testing.T) {
	e, srv := mailEnv(t)
	e.dbUser(t, mfaEmail, mfaPassword)
	elsewhere := e.browser(t)
	e.loggedIn(t, elsewhere)
	old := e.sessionOf(t, elsewhere)

	b := e.browser(t)
	link := resetLink(t, srv, b, mfaEmail, "", 1)
	// A second live link, made as the management API does (without
	// withdrawing the first).
	second := token.NewOpaque()
	now := time.Now().UTC()
	if err := e.st.CreateTicket(context.Background(), store.Ticket{ID: token.Hash(second), Kind: store.TicketPasswordReset,
		UserID: old.UserID, Email: mfaEmail, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	secondLink := authflow.ResetPasswordPath + "?ticket=" + url.QueryEscape(second)
	if r := b.get(secondLink); r.status != http.StatusOK {
		t.Fatalf("second link before: %d", r.status)
	}

	r := b.reset(link, "a brand new password")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Password changed") {
		t.Fatalf("reset: %d %.500s", r.status, r.body)
	}
	s, ok := e.hasSession(t, b)
	if !ok || s.UserID != old.UserID {
		t.Fatalf("reset did not log the browser in: %+v %v", s, ok)
	}
	if _, err := e.st.GetSession(context.Background(), old.ID, time.Now()); err == nil {
		t.Error("the other session survived the reset")
	}
	wantError(t, "used link", b.get(link), http.StatusGone, "already used", "")
	wantError(t, "second link", b.get(secondLink), http.StatusNotFound, "invalid or has expired", "")
	msg := srv.Wait(t, 2, mailTimeout)[1]
	if msg.EnvelopeTo[0] != mfaEmail || !strings.Contains(strings.ToLower(msg.Subject+msg.Text), "password") {
		t.Errorf("password-changed email: %v %q", msg.EnvelopeTo, msg.Subject)
	}
	if u, err := e.st.GetUser(context.Background(), old.UserID); err != nil || !u.EmailVerified {
		t.Errorf("the reset did not verify the address: %v %v", u.EmailVerified, err)
	}
	// The new password logs in.
	other := e.browser(t)
	req := other.pendingRequest(nil)
	vals := form(t, other.get(authflow.For(loginPath, req.ID)))
	vals.Set("email", mfaEmail)
	vals.Set("password", "a brand new password")
	if r := other.post(loginPath, vals); r.status != http.StatusSeeOther {
		t.Errorf("login with the new password: %d", r.status)
	}
}

// TestResetPasswordReturnsToRequest: a link asked for within a login
// resumes it in that browser; another browser gets the message page.
func TestResetPasswordReturnsToRequest(t *testing.T) {
	tests := []struct {
		name        string
		sameBrowser bool
	}{
		{"same browser", true},
		{"another browser", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, srv := mailEnv(t)
			e.dbUser(t, "ada@example.com", "a long enough password")
			b := e.browser(t)
			req := b.pendingRequest(nil)
			link := resetLink(t, srv, b, "ada@example.com", req.ID, 1)
			opener := b
			if !tt.sameBrowser {
				opener = e.browser(t)
			}
			r := opener.reset(link, "a brand new password")
			if tt.sameBrowser {
				if r.status != http.StatusSeeOther || r.location != authflow.For(resumePath, req.ID) {
					t.Fatalf("reset: %d %q", r.status, r.location)
				}
				if got := e.request(t, req.ID); got.AuthUserID == "" {
					t.Error("the request records no login")
				}
				return
			}
			if r.status != http.StatusOK || !strings.Contains(r.body, "Password changed") {
				t.Fatalf("reset: %d %.500s", r.status, r.body)
			}
			if got := e.request(t, req.ID); got.AuthUserID != "" {
				t.Error("another browser's reset recorded a login on the request")
			}
		})
	}
}

// signUp submits the sign-up page of a new request of b.
func (b *browser) signUp(addr, password string) (store.AuthRequest, response) {
	b.t.Helper()
	req := b.pendingRequest(nil)
	vals := form(b.t, b.get(authflow.For(signupPath, req.ID)))
	vals.Set("email", addr)
	vals.Set("password", password)
	return req, b.post(signupPath, vals)
}

// TestSignUpWithMail: a new address and a taken one get the same page;
// the first gets a verification link, the second an "account exists"
// email.
func TestSignUpWithMail(t *testing.T) {
	e, srv := mailEnv(t)
	e.dbUser(t, "taken@example.com", "a long enough password")
	_, fresh := e.browser(t).signUp("new@example.com", "a long enough password")
	_, taken := e.browser(t).signUp("taken@example.com", "a long enough password")
	if fresh.status != http.StatusOK || !strings.Contains(fresh.body, "Check your inbox") {
		t.Fatalf("sign-up: %d %.500s", fresh.status, fresh.body)
	}
	sameAnswer(t, "sign-up", fresh, taken, "new@example.com", "taken@example.com")
	msgs := srv.Wait(t, 2, mailTimeout)
	ticketLink(t, messageTo(t, msgs, "new@example.com"), authflow.VerifyEmailPath)
	exists := messageTo(t, msgs, "taken@example.com")
	if strings.Contains(exists.Text, "ticket=") || !strings.Contains(exists.Text, authflow.ForgotPasswordPath) {
		t.Errorf("account-exists email:\n%s", exists.Text)
	}
	noMoreMail(t, srv, 2)
}

// TestSignUpInvitationWithMail: an invitation's address is known to be
// the invitee's, so the sign-up logs in at once, without an email.
func TestSignUpInvitationWithMail(t *testing.T) {
	e, srv := mailEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	org := store.Organization{ID: "org_1", Name: "acme", CreatedAt: now,
		Connections: []store.OrgConnection{{Name: store.DefaultDatabaseConnection}}}
	if err := e.st.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	inv := store.Invitation{ID: "inv_1", TicketHash: token.Hash("invite"), OrganizationID: org.ID, Email: "invitee@example.com",
		ClientID: e.client.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateInvitation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	req := b.pendingRequest(func(r *store.AuthRequest) { r.Organization, r.InvitationHash = org.ID, inv.TicketHash })
	page := b.get(authflow.For(signupPath, req.ID))
	if page.status != http.StatusOK || !strings.Contains(page.body, "readonly") {
		t.Fatalf("invitation sign-up page: %d %.500s", page.status, page.body)
	}
	vals := form(t, page)
	vals.Set("email", "someone-else@example.com") // ignored: the address is the invitation's
	vals.Set("password", "a long enough password")
	r := b.post(signupPath, vals)
	if r.status != http.StatusSeeOther {
		t.Fatalf("invitation sign-up: %d %.500s", r.status, r.body)
	}
	if _, ok := e.hasSession(t, b); !ok {
		t.Error("invitation sign-up did not log in")
	}
	if _, err := e.st.GetUserByEmail(ctx, store.DefaultDatabaseConnection, "invitee@example.com"); err != nil {
		t.Errorf("invitee's account: %v", err)
	}
	noMoreMail(t, srv, 0)
}

// TestVerifyEmail: the link's page only shows a button; the button
// verifies the address once, and in the browser that signed up resumes
// its login (logging it in); elsewhere it says the address is verified.
func TestVerifyEmail(t *testing.T) {
	tests := []struct {
		name        string
		sameBrowser bool
	}{
		{"same browser", true},
		{"another browser", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, srv := mailEnv(t)
			b := e.browser(t)
			req, r := b.signUp("new@example.com", "a long enough password")
			if r.status != http.StatusOK {
				t.Fatalf("sign-up: %d", r.status)
			}
			if _, ok := e.hasSession(t, b); ok {
				t.Fatal("sign-up with mail logged in before verification")
			}
			link := ticketLink(t, srv.Wait(t, 1, mailTimeout)[0], authflow.VerifyEmailPath)
			user, err := e.st.GetUserByEmail(context.Background(), store.DefaultDatabaseConnection, "new@example.com")
			if err != nil {
				t.Fatal(err)
			}
			opener := b
			if !tt.sameBrowser {
				opener = e.browser(t)
			}
			page := opener.get(link)
			if page.status != http.StatusOK || !strings.Contains(page.body, `id="verify"`) {
				t.Fatalf("verify page: %d %.500s", page.status, page.body)
			}
			if u, _ := e.st.GetUser(context.Background(), user.ID); u.EmailVerified {
				t.Fatal("opening the link verified the address")
			}
			vals := form(t, page)
			r = opener.post(authflow.VerifyEmailPath, vals)
			if u, _ := e.st.GetUser(context.Background(), user.ID); !u.EmailVerified {
				t.Error("the button did not verify the address")
			}
			if tt.sameBrowser {
				if r.status != http.StatusSeeOther || r.location != authflow.For(resumePath, req.ID) {
					t.Fatalf("verify: %d %q %.300s", r.status, r.location, r.body)
				}
				if s, ok := e.hasSession(t, b); !ok || s.UserID != user.ID {
					t.Error("verification did not log the new user in")
				}
				if got := e.request(t, req.ID); got.AuthUserID != user.ID {
					t.Errorf("request records %q", got.AuthUserID)
				}
			} else if r.status != http.StatusOK || !strings.Contains(r.body, "Email verified") {
				t.Fatalf("verify elsewhere: %d %.500s", r.status, r.body)
			}
			wantError(t, "second use", opener.post(authflow.VerifyEmailPath, vals), http.StatusGone, "already used", "")
			wantError(t, "used link", opener.get(link), http.StatusGone, "already used", "")
			vals.Set("ticket", "forged")
			wantError(t, "forged", opener.post(authflow.VerifyEmailPath, vals), http.StatusNotFound, "invalid or has expired", "")
			wantError(t, "forged GET", opener.get(authflow.VerifyEmailPath+"?ticket=forged"), http.StatusNotFound, "invalid or has expired", "")
		})
	}
}

// TestVerifyEmailWithSession: in the browser of the request, a
// session of the same user resumes without a new login.
func TestVerifyEmailWithSession(t *testing.T) {
	e, srv := mailEnv(t)
	e.dbUser(t, mfaEmail, mfaPassword)
	b := e.browser(t)
	req := e.loggedIn(t, b)
	before := e.sessionOf(t, b)
	vals := form(t, b.get(authflow.For(authflow.EmailVerificationPath, req.ID)))
	vals.Set("action", "resend")
	if r := b.post(authflow.EmailVerificationPath, vals); r.status != http.StatusOK {
		t.Fatalf("resend: %d", r.status)
	}
	link := ticketLink(t, srv.Wait(t, 1, mailTimeout)[0], authflow.VerifyEmailPath)
	r := b.post(authflow.VerifyEmailPath, form(t, b.get(link)))
	if r.status != http.StatusSeeOther || r.location != authflow.For(resumePath, req.ID) {
		t.Fatalf("verify: %d %q", r.status, r.location)
	}
	if after := e.sessionOf(t, b); after.ID != before.ID {
		t.Error("verification replaced the session")
	}
}

// TestEmailVerificationNotice: the page that holds a login back until the
// address is verified.
func TestEmailVerificationNotice(t *testing.T) {
	setup := func(t *testing.T) (*env, *emailtest.Server, *browser, store.AuthRequest, url.Values) {
		e, srv := mailEnv(t)
		e.dbUser(t, mfaEmail, mfaPassword)
		b := e.browser(t)
		req := e.loggedIn(t, b)
		page := b.get(authflow.For(authflow.EmailVerificationPath, req.ID))
		if page.status != http.StatusOK || !strings.Contains(page.body, `id="resend"`) {
			t.Fatalf("notice page: %d %.500s", page.status, page.body)
		}
		return e, srv, b, req, form(t, page)
	}
	t.Run("resend", func(t *testing.T) {
		_, srv, b, _, vals := setup(t)
		vals.Set("action", "resend")
		for i := range 5 {
			r := b.post(authflow.EmailVerificationPath, vals)
			if r.status != http.StatusOK || !strings.Contains(r.body, "We sent the email again.") {
				t.Fatalf("resend %d: %d %.500s", i, r.status, r.body)
			}
			msg := srv.Wait(t, i+1, mailTimeout)[i]
			if msg.EnvelopeTo[0] != mfaEmail {
				t.Fatalf("resend went to %v", msg.EnvelopeTo)
			}
			ticketLink(t, msg, authflow.VerifyEmailPath)
		}
		r := b.post(authflow.EmailVerificationPath, vals)
		wantError(t, "sixth resend", r, http.StatusTooManyRequests, "We sent several emails already.", "")
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		noMoreMail(t, srv, 5)
	})
	t.Run("server refuses", func(t *testing.T) {
		_, srv, b, _, vals := setup(t)
		srv.Set(emailtest.Behavior{RefuseRcpt: true})
		vals.Set("action", "resend")
		wantError(t, "refused", b.post(authflow.EmailVerificationPath, vals), http.StatusServiceUnavailable, "We could not send the email.", "")
	})
	t.Run("cancel", func(t *testing.T) {
		e, _, b, req, vals := setup(t)
		vals.Set("action", "cancel")
		r := b.post(authflow.EmailVerificationPath, vals)
		if r.status != http.StatusSeeOther || r.location != authflow.For(resumePath, req.ID) {
			t.Fatalf("cancel: %d %q", r.status, r.location)
		}
		if got := e.request(t, req.ID); got.Error != "access_denied" {
			t.Errorf("request error %q, want access_denied", got.Error)
		}
	})
	t.Run("continue", func(t *testing.T) {
		e, _, b, req, vals := setup(t)
		vals.Set("action", "continue")
		r := b.post(authflow.EmailVerificationPath, vals)
		if r.status != http.StatusSeeOther || r.location != authflow.For(resumePath, req.ID) {
			t.Fatalf("continue: %d %q", r.status, r.location)
		}
		if got := e.request(t, req.ID); got.Error != "" {
			t.Errorf("continue ended the request: %q", got.Error)
		}
	})
	t.Run("unknown action", func(t *testing.T) {
		_, _, b, _, vals := setup(t)
		vals.Set("action", "explode")
		if r := b.post(authflow.EmailVerificationPath, vals); r.status != http.StatusBadRequest {
			t.Errorf("unknown action: %d", r.status)
		}
	})
	t.Run("no mail", func(t *testing.T) {
		e := newEnv(t)
		e.dbUser(t, mfaEmail, mfaPassword)
		b := e.browser(t)
		req := e.loggedIn(t, b)
		page := b.get(authflow.For(authflow.EmailVerificationPath, req.ID))
		if page.status != http.StatusOK || strings.Contains(page.body, `id="resend"`) {
			t.Fatalf("notice page without mail: %d", page.status)
		}
		vals := form(t, page)
		vals.Set("action", "resend")
		if r := b.post(authflow.EmailVerificationPath, vals); r.status != http.StatusBadRequest {
			t.Errorf("resend without mail: %d", r.status)
		}
	})
}

// dbPost sends body to an Authentication API endpoint: JSON when it is a
// map, a form when it is url.Values, and raw otherwise.
func (e *env) dbPost(t *testing.T, path string, body any, contentType string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case map[string]any:
		j, _ := json.Marshal(b)
		rd, contentType = strings.NewReader(string(j)), "application/json"
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd = strings.NewReader(b)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, rd)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(out)
}

// asForm turns a JSON body into the same form.
func asForm(m map[string]any) url.Values {
	v := url.Values{}
	for k, x := range m {
		if s, ok := x.(string); ok {
			v.Set(k, s)
		}
	}
	return v
}

func TestDBConnectionsErrors(t *testing.T) {
	good := func(edit func(map[string]any)) map[string]any {
		m := map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection,
			"email": "new@example.com", "password": "a long enough password"}
		if edit != nil {
			edit(m)
		}
		return m
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"unknown client", good(func(m map[string]any) { m["client_id"] = "nope" }), 400, "invalid_client"},
		{"no client", good(func(m map[string]any) { delete(m, "client_id") }), 400, "invalid_request"},
		{"wrong connection", good(func(m map[string]any) { m["connection"] = "github" }), 400, "invalid_connection"},
		{"no connection", good(func(m map[string]any) { delete(m, "connection") }), 400, "invalid_request"},
		{"invalid email", good(func(m map[string]any) { m["email"] = "not an address" }), 400, ""},
	}
	e, _ := mailEnv(t)
	for _, path := range []string{dbSignupPath, dbChangePasswordPath} {
		for _, tt := range tests {
			for _, enc := range []string{"json", "form"} {
				t.Run(path+"/"+tt.name+"/"+enc, func(t *testing.T) {
					var body any = tt.body
					if enc == "form" {
						body = asForm(tt.body)
					}
					status, h, out := e.dbPost(t, path, body, "")
					var got dbError
					if err := json.Unmarshal([]byte(out), &got); err != nil || status != tt.status || got.StatusCode != status ||
						(tt.code != "" && got.Code != tt.code) || h.Get("Content-Type") != "application/json" {
						t.Errorf("%d %s, want %d %s", status, out, tt.status, tt.code)
					}
				})
			}
		}
		t.Run(path+"/bad JSON", func(t *testing.T) {
			if status, _, out := e.dbPost(t, path, `{"client_id":`, "application/json"); status != 400 || !strings.Contains(out, "invalid_body") {
				t.Errorf("%d %s", status, out)
			}
		})
		t.Run(path+"/wrong content type", func(t *testing.T) {
			if status, _, out := e.dbPost(t, path, `client_id=client-1`, "text/plain"); status != http.StatusUnsupportedMediaType || !strings.Contains(out, "invalid_body") {
				t.Errorf("%d %s", status, out)
			}
		})
	}
	t.Run("weak password", func(t *testing.T) {
		for _, body := range []any{good(func(m map[string]any) { m["password"] = "short" }), asForm(good(func(m map[string]any) { m["password"] = "short" }))} {
			status, _, out := e.dbPost(t, dbSignupPath, body, "")
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil || status != 400 || got["name"] != "PasswordStrengthError" ||
				got["code"] != "invalid_password" || got["statusCode"] != float64(400) || !strings.Contains(got["description"].(string), "8") {
				t.Errorf("weak password: %d %s", status, out)
			}
		}
	})
}

// TestDBSignup: with mail, a new address and a taken one get the same
// answer, without a user id; without mail the new user's id is answered
// and a taken address is user_exists.
func TestDBSignup(t *testing.T) {
	t.Run("with mail", func(t *testing.T) {
		e, srv := mailEnv(t)
		e.dbUser(t, "taken@example.com", "a long enough password")
		body := func(addr string) map[string]any {
			return map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection, "email": addr, "password": "a long enough password", "given_name": "Ada"}
		}
		s1, _, fresh := e.dbPost(t, dbSignupPath, body("new@example.com"), "")
		s2, _, taken := e.dbPost(t, dbSignupPath, asForm(body("taken@example.com")), "")
		if s1 != 200 || s2 != 200 || strings.ReplaceAll(fresh, "new@", "X@") != strings.ReplaceAll(taken, "taken@", "X@") ||
			strings.Contains(fresh, "_id") || !strings.Contains(fresh, `"given_name":"Ada"`) {
			t.Errorf("answers: %d %s / %d %s", s1, fresh, s2, taken)
		}
		msgs := srv.Wait(t, 2, mailTimeout)
		ticketLink(t, messageTo(t, msgs, "new@example.com"), authflow.VerifyEmailPath)
		if m := messageTo(t, msgs, "taken@example.com"); strings.Contains(m.Text, "ticket=") {
			t.Errorf("account-exists email has a link with a ticket:\n%s", m.Text)
		}
	})
	t.Run("without mail", func(t *testing.T) {
		e := newEnv(t)
		body := map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection,
			"email": "new@example.com", "password": "a long enough password", "given_name": "Ada"}
		status, _, out := e.dbPost(t, dbSignupPath, body, "")
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil || status != 200 || got["_id"] == nil || got["given_name"] != "Ada" || got["email"] != "new@example.com" {
			t.Fatalf("sign-up: %d %s", status, out)
		}
		status, _, out = e.dbPost(t, dbSignupPath, asForm(body), "")
		if status != 400 || !strings.Contains(out, "user_exists") {
			t.Errorf("taken: %d %s", status, out)
		}
		if status, _, out := e.dbPost(t, dbChangePasswordPath, body, ""); status != http.StatusNotImplemented {
			t.Errorf("change_password without mail: %d %s", status, out)
		}
	})
}

// TestDBChangePassword: the same text for every address; a reset email
// only to an existing account.
func TestDBChangePassword(t *testing.T) {
	e, srv := mailEnv(t)
	e.dbUser(t, "ada@example.com", "a long enough password")
	body := func(addr string) map[string]any {
		return map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection, "email": addr}
	}
	for _, b := range []any{body("ada@example.com"), asForm(body("nobody@example.com"))} {
		status, _, out := e.dbPost(t, dbChangePasswordPath, b, "")
		if status != 200 || out != changePasswordAnswer {
			t.Errorf("change_password: %d %q", status, out)
		}
	}
	msg := srv.Wait(t, 1, mailTimeout)[0]
	if msg.EnvelopeTo[0] != "ada@example.com" {
		t.Fatalf("reset email to %v", msg.EnvelopeTo)
	}
	if r := e.browser(t).get(ticketLink(t, msg, authflow.ResetPasswordPath)); r.status != http.StatusOK {
		t.Errorf("reset link: %d", r.status)
	}
	noMoreMail(t, srv, 1)
}

// TestMailDownRefusesAlike: once a background send has failed, every page
// that needs one says email cannot be sent, whatever the address.
func TestMailDownRefusesAlike(t *testing.T) {
	e := newEnv(t, withMail(t, emailtest.ClosedURL(t)))
	e.dbUser(t, "taken@example.com", "a long enough password")
	if status, _, _ := e.dbPost(t, dbChangePasswordPath, map[string]any{"client_id": "client-1",
		"connection": store.DefaultDatabaseConnection, "email": "taken@example.com"}, ""); status != http.StatusOK {
		t.Fatalf("first change_password: %d", status)
	}
	deadline := time.Now().Add(mailTimeout)
	for e.pages.mail.healthy() {
		if time.Now().After(deadline) {
			t.Fatal("the failed send was not recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, addr := range []string{"taken@example.com", "new@example.com"} {
		t.Run(addr, func(t *testing.T) {
			_, r := e.browser(t).signUp(addr, "a long enough password")
			wantError(t, "sign-up page", r, http.StatusServiceUnavailable, "We cannot send email right now", "")
			body := map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection, "email": addr, "password": "a long enough password"}
			for _, path := range []string{dbSignupPath, dbChangePasswordPath} {
				if status, _, out := e.dbPost(t, path, body, ""); status != http.StatusServiceUnavailable || !strings.Contains(out, "email_unavailable") {
					t.Errorf("%s: %d %s", path, status, out)
				}
			}
		})
	}
	if _, err := e.st.GetUserByEmail(context.Background(), store.DefaultDatabaseConnection, "new@example.com"); err == nil {
		t.Error("a sign-up was stored while email is down")
	}
}

// TestDBChangePasswordThrottled: the endpoint counts against the same
// limit as the forgot-password page.
func TestDBChangePasswordThrottled(t *testing.T) {
	e, _ := mailEnv(t)
	body := map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection, "email": "nobody@example.com"}
	for i := range 5 {
		if status, _, _ := e.dbPost(t, dbChangePasswordPath, body, ""); status != http.StatusOK {
			t.Fatalf("request %d: %d", i, status)
		}
	}
	status, h, out := e.dbPost(t, dbChangePasswordPath, body, "")
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(out, "too_many_attempts") {
		t.Errorf("sixth request: %d %q %s", status, h.Get("Retry-After"), out)
	}
	wantError(t, "forgot page after", e.browser(t).forgot("nobody@example.com", ""), http.StatusTooManyRequests, "Too many reset requests.", "")
}

// TestResetKeepsSessions: with password.reset_keeps_sessions the user's
// other sessions survive a reset, but other reset links are withdrawn.
func TestResetKeepsSessions(t *testing.T) {
	srv := emailtest.Start(t, emailtest.Config{})
	e := newEnv(t, withMail(t, srv.URL()), func(c *Config) { c.ResetKeepsSessions = true })
	e.dbUser(t, mfaEmail, mfaPassword)
	elsewhere := e.browser(t)
	e.loggedIn(t, elsewhere)
	old := e.sessionOf(t, elsewhere)
	b := e.browser(t)
	link := resetLink(t, srv, b, mfaEmail, "", 1)
	second := token.NewOpaque()
	now := time.Now().UTC()
	if err := e.st.CreateTicket(context.Background(), store.Ticket{ID: token.Hash(second), Kind: store.TicketPasswordReset,
		UserID: old.UserID, Email: mfaEmail, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if r := b.reset(link, "a brand new password"); r.status != http.StatusOK {
		t.Fatalf("reset: %d", r.status)
	}
	if _, err := e.st.GetSession(context.Background(), old.ID, time.Now()); err != nil {
		t.Errorf("the other session ended: %v", err)
	}
	wantError(t, "second link", b.get(authflow.ResetPasswordPath+"?ticket="+url.QueryEscape(second)), http.StatusNotFound, "invalid or has expired", "")
}
