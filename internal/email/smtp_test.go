package email_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/email"
	"gatehouse/internal/email/emailtest"
)

const (
	from      = "Gatehouse <login@gatehouse.example>"
	recipient = "ada.lovelace@example.com"
	smtpPass  = "s3cret-smtp-pass"
	link      = "https://id.example.com/u/verify?token=Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbg&x=1"
)

// logBuffer is a logger whose output the test can read.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// wantNoSecrets fails if s holds the recipient's address or local part,
// the link's token or the SMTP password.
func wantNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{recipient, "ada.lovelace", "Zm9vYmFyYmF6cXV4", smtpPass} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains %q:\n%s", what, secret, s)
		}
	}
}

func verifyMessage(t *testing.T) email.Message {
	t.Helper()
	m, err := email.VerifyEmail(recipient, email.Branding{AppName: "Example App"}, link, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSend exchanges a real message with an SMTP server in every way
// Gatehouse can reach one, and reads it as a mail program would.
func TestSend(t *testing.T) {
	tests := []struct {
		name     string
		cfg      emailtest.Config
		wantTLS  bool
		wantUser string
	}{
		{name: "plain loopback", cfg: emailtest.Config{TLS: emailtest.NoTLS}},
		{name: "plain loopback with AUTH PLAIN", cfg: emailtest.Config{TLS: emailtest.NoTLS, Username: "gatehouse", Password: smtpPass}, wantUser: "gatehouse"},
		{name: "STARTTLS", cfg: emailtest.Config{TLS: emailtest.StartTLS}, wantTLS: true},
		{name: "STARTTLS with AUTH PLAIN", cfg: emailtest.Config{TLS: emailtest.StartTLS, Username: "gatehouse", Password: smtpPass}, wantTLS: true, wantUser: "gatehouse"},
		{name: "smtps", cfg: emailtest.Config{TLS: emailtest.ImplicitTLS}, wantTLS: true},
		{name: "smtps with AUTH PLAIN", cfg: emailtest.Config{TLS: emailtest.ImplicitTLS, Username: "gate@house", Password: "p@ss:w/rd?"}, wantTLS: true, wantUser: "gate@house"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := emailtest.Start(t, tt.cfg)
			log, logs := newLog()
			s, err := email.Open(srv.URL(), from, log, email.WithRootCAs(srv.RootCAs()), email.WithTimeout(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(t.Context(), verifyMessage(t)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Wait(t, 1, 5*time.Second)[0]
			if got.TLS != tt.wantTLS || got.AuthUser != tt.wantUser {
				t.Errorf("received with TLS %t as %q, want TLS %t as %q", got.TLS, got.AuthUser, tt.wantTLS, tt.wantUser)
			}
			if got.EnvelopeFrom != "login@gatehouse.example" || len(got.EnvelopeTo) != 1 || got.EnvelopeTo[0] != recipient {
				t.Errorf("envelope %q → %q", got.EnvelopeFrom, got.EnvelopeTo)
			}
			if got.Header.Get("From") != `"Gatehouse" <login@gatehouse.example>` || got.Header.Get("To") != "<"+recipient+">" {
				t.Errorf("From %q, To %q", got.Header.Get("From"), got.Header.Get("To"))
			}
			if got.Subject != "Verify your email address for Example App" {
				t.Errorf("subject %q", got.Subject)
			}
			if got.ContentType != "multipart/alternative" || got.Header.Get("Auto-Submitted") != "auto-generated" ||
				got.Header.Get("Date") == "" || got.Header.Get("Message-Id") == "" {
				t.Errorf("headers %v", got.Header)
			}
			if links := got.TextLinks(); len(links) != 1 || links[0] != link {
				t.Errorf("text links %q, want [%q]\n%s", links, link, got.Text)
			}
			if links := got.HTMLLinks(); len(links) != 2 || links[0] != link || links[1] != link {
				t.Errorf("HTML links %q, want the button and the copyable link %q", links, link)
			}
			if !strings.Contains(got.HTML, ">"+strings.ReplaceAll(link, "&", "&amp;")+"</a>") {
				t.Errorf("the HTML part does not show the link as text:\n%s", got.HTML)
			}
			if l := logs.String(); !strings.Contains(l, "email sent") || !strings.Contains(l, "kind=verify_email") || !strings.Contains(l, "to_domain=example.com") {
				t.Errorf("log:\n%s", l)
			}
			wantNoSecrets(t, "the log", logs.String())
		})
	}
}

// TestSendFailures: a server that is down, slow, refusing, or not what the
// URL promises gives an error within the timeout, and neither the error
// nor the log holds a secret.
func TestSendFailures(t *testing.T) {
	const timeout = 400 * time.Millisecond
	tests := []struct {
		name        string
		cfg         emailtest.Config
		behavior    emailtest.Behavior
		url         func(srv *emailtest.Server) string // default srv.URL()
		untrusted   bool                               // do not trust the test certificate
		wantTimeout bool
		want        string // in the error
	}{
		{name: "down", url: func(*emailtest.Server) string { return emailtest.ClosedURL(t) }, want: "connection refused"},
		{name: "slow greeting", behavior: emailtest.Behavior{GreetDelay: 10 * time.Second}, wantTimeout: true},
		{name: "slow TLS handshake", cfg: emailtest.Config{TLS: emailtest.ImplicitTLS}, behavior: emailtest.Behavior{GreetDelay: 10 * time.Second}, wantTimeout: true},
		{name: "slow data", behavior: emailtest.Behavior{DataDelay: 10 * time.Second}, wantTimeout: true},
		// go-mail allows its timeout once for the dial and again for the
		// transfer; the whole send must still end within one timeout.
		{name: "slow greeting and slow data", behavior: emailtest.Behavior{GreetDelay: 250 * time.Millisecond, DataDelay: 250 * time.Millisecond}, wantTimeout: true},
		{name: "RCPT refused", behavior: emailtest.Behavior{RefuseRcpt: true}, want: "550"},
		{name: "DATA refused", behavior: emailtest.Behavior{RefuseData: true}, want: "554"},
		{name: "wrong password", cfg: emailtest.Config{TLS: emailtest.StartTLS, Username: "gatehouse", Password: "another"},
			url: func(srv *emailtest.Server) string { return strings.Replace(srv.URL(), "another", smtpPass, 1) }, want: "535"},
		{name: "no STARTTLS offered", url: func(srv *emailtest.Server) string { return strings.TrimSuffix(srv.URL(), "?tls=none") }, want: "STARTTLS"},
		{name: "untrusted certificate (STARTTLS)", cfg: emailtest.Config{TLS: emailtest.StartTLS}, untrusted: true, want: "certificate"},
		{name: "untrusted certificate (smtps)", cfg: emailtest.Config{TLS: emailtest.ImplicitTLS}, untrusted: true, want: "certificate"},
		{name: "credentials required", cfg: emailtest.Config{TLS: emailtest.StartTLS, Username: "gatehouse", Password: smtpPass},
			url: func(srv *emailtest.Server) string {
				return strings.Replace(srv.URL(), "gatehouse:"+smtpPass+"@", "", 1)
			}, want: "authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := emailtest.Start(t, tt.cfg)
			srv.Set(tt.behavior)
			u := srv.URL()
			if tt.url != nil {
				u = tt.url(srv)
			}
			opts := []email.Option{email.WithTimeout(timeout)}
			if !tt.untrusted {
				opts = append(opts, email.WithRootCAs(srv.RootCAs()))
			}
			log, logs := newLog()
			s, err := email.Open(u, from, log, opts...)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = s.Send(t.Context(), verifyMessage(t))
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			t.Logf("Send = %v (after %v)", err, elapsed.Round(time.Millisecond))
			if elapsed > timeout+300*time.Millisecond {
				t.Errorf("Send took %v with a timeout of %v", elapsed, timeout)
			}
			if tt.wantTimeout != errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Send = %v; timed out: %t, want %t", err, errors.Is(err, context.DeadlineExceeded), tt.wantTimeout)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send = %v, want %q in it", err, tt.want)
			}
			// A server that answers too late may still deliver the message
			// (SMTP cannot take it back); one that refused must not.
			if n := len(srv.Messages()); n != 0 && !tt.wantTimeout {
				t.Errorf("the server kept %d messages", n)
			}
			wantNoSecrets(t, "the error", err.Error())
			if l := logs.String(); !strings.Contains(l, "email not sent") || !strings.Contains(l, "to_domain=example.com") {
				t.Errorf("log:\n%s", l)
			}
			wantNoSecrets(t, "the log", logs.String())
		})
	}
}

// TestConcurrency: at most WithMaxConcurrent connections are open at once;
// the others wait their turn, and a send that waits longer than its
// timeout gives up without connecting.
func TestConcurrency(t *testing.T) {
	t.Run("bounded", func(t *testing.T) {
		srv := emailtest.Start(t, emailtest.Config{})
		srv.Set(emailtest.Behavior{DataDelay: 150 * time.Millisecond})
		s, err := email.Open(srv.URL(), from, nil, email.WithMaxConcurrent(2), email.WithTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Go(func() { errs <- s.Send(t.Context(), verifyMessage(t)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Send: %v", err)
			}
		}
		srv.Wait(t, 6, 5*time.Second)
		if got := srv.MaxConcurrent(); got != 2 {
			t.Errorf("%d messages were sent at once, want 2", got)
		}
	})
	t.Run("waiting counts against the timeout", func(t *testing.T) {
		srv := emailtest.Start(t, emailtest.Config{})
		srv.Set(emailtest.Behavior{DataDelay: 5 * time.Second})
		const timeout = 400 * time.Millisecond
		s, err := email.Open(srv.URL(), from, nil, email.WithMaxConcurrent(1), email.WithTimeout(timeout))
		if err != nil {
			t.Fatal(err)
		}
		first := make(chan error, 1)
		go func() { first <- s.Send(t.Context(), verifyMessage(t)) }()
		time.Sleep(50 * time.Millisecond) // the first send holds the only connection until its timeout
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Send(ctx, verifyMessage(t))
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "free connection") {
			t.Errorf("second Send = %v, want a timeout waiting for a free connection", err)
		}
		if d := time.Since(start); d > 150*time.Millisecond+300*time.Millisecond {
			t.Errorf("second Send took %v", d)
		}
		if err := <-first; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("first Send = %v, want a timeout", err)
		}
		if n := srv.Connections(); n != 1 {
			t.Errorf("the server saw %d connections, want 1", n)
		}
	})
	t.Run("caller's deadline", func(t *testing.T) {
		srv := emailtest.Start(t, emailtest.Config{})
		srv.Set(emailtest.Behavior{GreetDelay: 5 * time.Second})
		s, err := email.Open(srv.URL(), from, nil) // the default 10 s timeout
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := s.Send(ctx, verifyMessage(t)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send = %v, want the caller's deadline", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Send took %v under a 300ms deadline", d)
		}
	})
}

// TestLogMode: "log" writes the whole message to the log, delivers
// nothing, and says it is for development.
func TestLogMode(t *testing.T) {
	log, logs := newLog()
	s, err := email.Open("log", "", log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "only for development") {
		t.Errorf("no warning at start:\n%s", logs.String())
	}
	m := verifyMessage(t)
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"level=INFO", "kind=verify_email", "to=" + recipient, "Verify your email address for Example App", strings.ReplaceAll(link, "&", "&")} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<html") || strings.Contains(out, smtpPass) {
		t.Errorf("log holds more than the message's text:\n%s", out)
	}
	m.To = "not an address"
	if err := s.Send(t.Context(), m); err == nil {
		t.Error("log mode accepted a bad recipient")
	}
}

// TestPrinter: the demo's sink prints recipient, subject and links.
func TestPrinter(t *testing.T) {
	var out bytes.Buffer
	p := email.NewPrinter(&out)
	m, err := email.AccountExists(recipient, email.Branding{}, "https://id.example.com/u/login", "https://id.example.com/u/forgot")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	want := "\n  Email to " + recipient + ": You already have an account with Gatehouse\n" +
		"    https://id.example.com/u/login\n    https://id.example.com/u/forgot\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name, url, from, want string // want: in the error; "" for success
	}{
		{"smtp", "smtp://u:p@smtp.example.com", from, ""},
		{"log without from", "log", "", ""},
		{"bare from", "smtps://smtp.example.com", "login@example.com", ""},
		{"no from", "smtp://smtp.example.com", "", "email.from: required"},
		{"bad from", "smtp://smtp.example.com", "Gatehouse", "not an email address"},
		{"bad url", "smtp://u:" + smtpPass + "@smtp.example.com:99999", from, "port"},
		{"empty url", "", from, "use smtp://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := email.Open(tt.url, tt.from, nil)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Open = %v, want %q", err, tt.want)
			}
			if err != nil {
				wantNoSecrets(t, "the error", err.Error())
			}
		})
	}
	if _, err := email.Open("log", "", nil, email.WithMaxConcurrent(0)); err == nil {
		t.Error("zero concurrency accepted")
	}
}
