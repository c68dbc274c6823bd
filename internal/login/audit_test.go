package login

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/email/emailtest"
	"gatehouse/internal/store"
)

// auditLog is the audit writer of an env, over its store.
type auditLog struct {
	t *testing.T
	w *audit.Writer
	s store.Store
}

// withAudit records the pages' events with a real writer into their store.
func withAudit(t *testing.T, log **auditLog) func(*Config) {
	return func(c *Config) {
		w, err := audit.NewWriter(audit.WriterConfig{Store: c.Store, Log: c.Log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close(context.Background()) })
		c.Audit = w
		*log = &auditLog{t: t, w: w, s: c.Store}
	}
}

// events flushes the writer and returns every stored event, in commit
// order, and checks that none holds a secret.
func (l *auditLog) events(secrets ...string) []store.LogEvent {
	l.t.Helper()
	if err := l.w.Flush(l.t.Context()); err != nil {
		l.t.Fatal(err)
	}
	events, err := l.s.ReadLogs(l.t.Context(), 0, 1000)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, e := range events {
		b, _ := json.Marshal(audit.FromStore(e))
		for _, s := range secrets {
			if s != "" && strings.Contains(string(b), s) {
				l.t.Errorf("event %s holds a secret %q: %s", e.Type, s, b)
			}
		}
	}
	return events
}

// ofType returns the events of the type.
func ofType(events []store.LogEvent, typ string) []store.LogEvent {
	var out []store.LogEvent
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func types(events []store.LogEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

// one returns the only event of the type.
func one(t *testing.T, events []store.LogEvent, typ string) store.LogEvent {
	t.Helper()
	got := ofType(events, typ)
	if len(got) != 1 {
		t.Fatalf("%d events of type %s, want 1; all: %v", len(got), typ, types(events))
	}
	return got[0]
}

// TestAuditPasswordLogin: a wrong password (fp) and an unknown email (fu)
// get the same page and are told apart in the audit log only; a success
// is s, a blocked user f.
func TestAuditPasswordLogin(t *testing.T) {
	var log *auditLog
	e := newEnv(t, withAudit(t, &log))
	user := e.dbUser(t, mfaEmail, mfaPassword)
	b := e.browser(t)
	req := b.pendingRequest(nil)
	attempt := func(email, password string) response {
		vals := form(t, b.get(authflow.For(loginPath, req.ID)))
		vals.Set("email", email)
		vals.Set("password", password)
		return b.post(loginPath, vals)
	}
	wrong := attempt(mfaEmail, "not the password")
	unknown := attempt("nobody@example.com", "not the password")
	sameAnswer(t, "wrong password and unknown email", wrong, unknown, mfaEmail, "nobody@example.com")
	if r := attempt(mfaEmail, mfaPassword); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}

	events := log.events(mfaPassword, "not the password")
	if got, want := types(events), []string{"fp", "fu", "s"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	fp, fu, s := events[0], events[1], events[2]
	if fp.UserID != user.ID || fp.UserName != mfaEmail || fp.ClientID != e.client.ID || fp.ClientName != e.client.Name ||
		fp.Connection != store.DefaultDatabaseConnection || fp.Strategy != store.StrategyDatabase {
		t.Errorf("fp: %+v", fp)
	}
	if fu.UserID != "" || fu.UserName != "nobody@example.com" || fu.ClientID != e.client.ID {
		t.Errorf("fu: %+v", fu)
	}
	if s.UserID != user.ID || s.UserName != mfaEmail || s.ClientID != e.client.ID || s.ClientName != e.client.Name ||
		s.Connection != store.DefaultDatabaseConnection {
		t.Errorf("s: %+v", s)
	}
	for _, ev := range events {
		if ev.IP != "127.0.0.1" || !strings.HasPrefix(ev.UserAgent, "Go-http-client") || ev.Date.IsZero() || !audit.ValidID(ev.ID) {
			t.Errorf("%s: ip %q, user agent %q, date %v, id %q", ev.Type, ev.IP, ev.UserAgent, ev.Date, ev.ID)
		}
	}

	user.Blocked = true
	if err := e.st.UpdateUser(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	req = b.pendingRequest(nil)
	if r := attempt(mfaEmail, mfaPassword); r.status != http.StatusForbidden {
		t.Fatalf("blocked: %d", r.status)
	}
	f := one(t, log.events(mfaPassword), audit.TypeFailedLogin)
	if f.Description != "user is blocked" || f.UserName != mfaEmail {
		t.Errorf("f: %+v", f)
	}
}

// TestAuditLockout: a lockout is recorded once, as limit_wc, however long
// it is hammered.
func TestAuditLockout(t *testing.T) {
	var log *auditLog
	e := newEnv(t, withAudit(t, &log))
	e.dbUser(t, mfaEmail, mfaPassword)
	b := e.browser(t)
	req := b.pendingRequest(nil)
	vals := form(t, b.get(authflow.For(loginPath, req.ID)))
	vals.Set("email", mfaEmail)
	vals.Set("password", "wrong password")
	for range 8 {
		b.post(loginPath, vals)
	}
	events := log.events("wrong password")
	if n := len(ofType(events, audit.TypeFailedLoginPassword)); n != 5 {
		t.Errorf("%d fp events, want 5 (the attempts let through)", n)
	}
	l := one(t, events, audit.TypeBlockedAccount)
	if l.UserName != mfaEmail || l.IP != "127.0.0.1" || l.Details["action"] != "login" {
		t.Errorf("limit_wc: %+v", l)
	}
}

// TestAuditSignUp: a sign-up is ss, a refused one fs.
func TestAuditSignUp(t *testing.T) {
	var log *auditLog
	e := newEnv(t, withAudit(t, &log))
	e.dbUser(t, "taken@example.com", mfaPassword)
	if _, r := e.browser(t).signUp("new@example.com", "a long enough password"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-up: %d %.300s", r.status, r.body)
	}
	e.browser(t).signUp("taken@example.com", "a long enough password")
	e.browser(t).signUp("weak@example.com", "Kx7q")
	events := log.events("a long enough password", "Kx7q")
	ss := one(t, events, audit.TypeSuccessSignup)
	if ss.UserName != "new@example.com" || !strings.HasPrefix(ss.UserID, "gatehouse|") || ss.ClientID != e.client.ID {
		t.Errorf("ss: %+v", ss)
	}
	fs := ofType(events, audit.TypeFailedSignup)
	if len(fs) != 2 || fs[0].UserName != "taken@example.com" || fs[0].Description != "the user already exists" ||
		fs[1].UserName != "weak@example.com" || fs[1].Description != "password refused by the policy: too_short" {
		t.Errorf("fs: %+v", fs)
	}
	if n := len(ofType(events, audit.TypeSuccessLogin)); n != 1 {
		t.Errorf("%d s events: the new user is logged in once", n)
	}
}

// TestAuditReset: asking for a link is scpr for any address, a forged
// or used link fcp, a reset scp; no link reaches the log.
func TestAuditReset(t *testing.T) {
	var log *auditLog
	srv := emailtest.Start(t, emailtest.Config{})
	e := newEnv(t, withMail(t, srv.URL()), withAudit(t, &log))
	user := e.dbUser(t, mfaEmail, mfaPassword)
	b := e.browser(t)
	link := resetLink(t, srv, b, mfaEmail, "", 1)
	b.forgot("nobody@example.com", "")
	if r := b.reset(link, "Kx7q"); r.status != http.StatusBadRequest {
		t.Fatalf("weak: %d", r.status)
	}
	if r := b.reset(link, "a brand new password"); r.status != http.StatusOK {
		t.Fatalf("reset: %d %.300s", r.status, r.body)
	}
	vals := form(t, b.get(authflow.ForgotPasswordPath))
	vals.Set("ticket", ticketOf(t, link))
	vals.Set("password", "another new password")
	b.post(authflow.ResetPasswordPath, vals)

	events := log.events(ticketOf(t, link), "a brand new password", "another new password", "Kx7q")
	scpr := ofType(events, audit.TypeSuccessPasswordRequest)
	if len(scpr) != 2 || scpr[0].UserName != mfaEmail || scpr[1].UserName != "nobody@example.com" || scpr[1].UserID != "" {
		t.Errorf("scpr: %+v", scpr)
	}
	fcp := ofType(events, audit.TypeFailedChangePassword)
	if len(fcp) != 2 || fcp[0].UserID != user.ID || fcp[0].Description != "password refused by the policy: too_short" ||
		fcp[1].UserID != "" || fcp[1].Description != "the link was already used" {
		t.Errorf("fcp: %+v", fcp)
	}
	if scp := one(t, events, audit.TypeSuccessChangePassword); scp.UserID != user.ID {
		t.Errorf("scp: %+v", scp)
	}
}

// TestAuditVerification: a used verification link is sv, a forged one fv.
func TestAuditVerification(t *testing.T) {
	var log *auditLog
	srv := emailtest.Start(t, emailtest.Config{})
	e := newEnv(t, withMail(t, srv.URL()), withAudit(t, &log))
	b := e.browser(t)
	b.signUp("new@example.com", "a long enough password")
	link := ticketLink(t, srv.Wait(t, 1, mailTimeout)[0], authflow.VerifyEmailPath)
	vals := form(t, b.get(link))
	b.post(authflow.VerifyEmailPath, vals)
	vals.Set("ticket", "forged")
	b.post(authflow.VerifyEmailPath, vals)
	events := log.events(ticketOf(t, link))
	sv := one(t, events, audit.TypeSuccessVerification)
	if sv.UserName != "new@example.com" || sv.ClientID != e.client.ID || sv.ClientName != e.client.Name {
		t.Errorf("sv: %+v", sv)
	}
	if fv := one(t, events, audit.TypeFailedVerification); fv.UserID != "" || fv.Description != "the link is invalid or has expired" {
		t.Errorf("fv: %+v", fv)
	}
}

// TestAuditSecondFactor: wrong and right codes are gd_auth_failed and
// gd_auth_succeed, recovery codes gd_recovery_*.
func TestAuditSecondFactor(t *testing.T) {
	var log *auditLog
	e := newEnv(t, withAudit(t, &log))
	user := e.dbUser(t, mfaEmail, mfaPassword)
	secret := e.withTOTP(t, user.ID)
	codes, err := e.mfa.NewRecoveryCodes(t.Context(), user.ID)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	req := e.loggedIn(t, b)
	vals := form(t, b.get(authflow.For(authflow.MFAPath, req.ID)))
	wrong := wrongCode(e.code(t, secret))
	vals.Set("code", wrong)
	b.post(authflow.MFAPath, vals)
	right := e.code(t, secret)
	vals.Set("code", right)
	if r := b.post(authflow.MFAPath, vals); r.status != http.StatusSeeOther {
		t.Fatalf("code: %d", r.status)
	}
	other := e.browser(t)
	req2 := e.loggedIn(t, other)
	vals2 := form(t, other.get(authflow.For(authflow.MFAPath, req2.ID)+"&method=recovery"))
	vals2.Set("code", "abcde-fghij")
	other.post(authflow.MFAPath, vals2)
	vals2.Set("code", codes[0])
	other.post(authflow.MFAPath, vals2)

	events := log.events(wrong, right, codes[0], "abcde-fghij")
	want := []string{"s", "gd_auth_failed", "gd_auth_succeed", "s", "gd_recovery_failed", "gd_recovery_succeed"}
	if got := types(events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for _, ev := range events[1:3] {
		if ev.UserID != user.ID || ev.Details["method"] != "totp" {
			t.Errorf("%s: %+v", ev.Type, ev)
		}
	}
}

// ticketOf is the ticket of a link's query.
func ticketOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("ticket") == "" {
		t.Fatalf("no ticket in %q", link)
	}
	return u.Query().Get("ticket")
}

// TestAuditDBConnections: the Authentication API's sign-up and change
// password record as the pages do.
func TestAuditDBConnections(t *testing.T) {
	var log *auditLog
	e := newEnv(t, withAudit(t, &log))
	e.dbUser(t, "taken@example.com", mfaPassword)
	body := func(addr, password string) map[string]any {
		return map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection, "email": addr, "password": password}
	}
	e.dbPost(t, dbSignupPath, body("new@example.com", "a long enough password"), "")
	e.dbPost(t, dbSignupPath, body("taken@example.com", "a long enough password"), "")
	e.dbPost(t, dbSignupPath, body("weak@example.com", "Kx7q"), "")
	events := log.events("a long enough password", "Kx7q")
	if got, want := types(events), []string{"ss", "fs", "fs"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if ev := events[0]; ev.UserName != "new@example.com" || ev.ClientID != "client-1" || ev.ClientName != e.client.Name || ev.UserID == "" {
		t.Errorf("ss: %+v", ev)
	}
	if events[1].Description != "the user already exists" || events[2].Description != "password refused by the policy: too_short" {
		t.Errorf("fs: %q, %q", events[1].Description, events[2].Description)
	}

	srv := emailtest.Start(t, emailtest.Config{})
	e2 := newEnv(t, withMail(t, srv.URL()), withAudit(t, &log))
	e2.dbPost(t, dbChangePasswordPath, map[string]any{"client_id": "client-1", "connection": store.DefaultDatabaseConnection, "email": "nobody@example.com"}, "")
	if ev := one(t, log.events(), audit.TypeSuccessPasswordRequest); ev.UserName != "nobody@example.com" || ev.ClientID != "client-1" {
		t.Errorf("scpr: %+v", ev)
	}
}
