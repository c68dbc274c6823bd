package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// smtpSender delivers through an SMTP server with github.com/wneessen/go-mail,
// one connection per message: Gatehouse sends a few emails a minute, and a
// fresh connection needs no keep-alive or reconnect logic.
type smtpSender struct {
	url     URL
	from    string
	timeout time.Duration
	slots   chan struct{} // one per open connection: bounds the load on the SMTP server and on us
	tls     *tls.Config
	log     *slog.Logger
}

func (s *smtpSender) Send(ctx context.Context, m Message) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := s.send(ctx, m)
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.Canceled): // the caller gave up
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		// Our deadline or go-mail's, which ends at about the same time.
		err = fmt.Errorf("no answer in time: %w (%w)", context.DeadlineExceeded, err)
	}
	attrs := []any{"kind", m.Kind, "to_domain", domainOf(m.To), "duration", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		// An SMTP server's reply may quote the recipient's address:
		// neither the log nor the caller (who may log it too) get it.
		err = &sendError{msg: fmt.Sprintf("send %s email via %s: %s", m.Kind, s.url.Host, redactAddress(err.Error(), m.To)), err: err}
		s.log.WarnContext(ctx, "email not sent", append(attrs, "error", err.Error())...)
		return err
	}
	s.log.InfoContext(ctx, "email sent", attrs...)
	return nil
}

func (s *smtpSender) send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return errors.New("waiting for a free connection")
	}
	deadline, _ := ctx.Deadline()
	left := time.Until(deadline)
	if left <= 0 {
		return errors.New("waiting for a free connection")
	}
	client, err := gomail.NewClient(s.url.Host, s.clientOptions(ctx, left)...)
	if err != nil {
		return fmt.Errorf("configure SMTP client: %w", err)
	}
	return client.DialAndSendWithContext(ctx, msg)
}

// clientOptions configure go-mail for one message. go-mail's own timeout
// applies to the dial and again to the transfer; the dialer below closes
// the connection when ctx ends, so the whole exchange stays within it.
func (s *smtpSender) clientOptions(ctx context.Context, left time.Duration) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.url.Port),
		gomail.WithTimeout(left),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(func(dctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			if s.url.Implicit {
				tc := tls.Client(conn, s.tls)
				if err := tc.HandshakeContext(dctx); err != nil {
					conn.Close()
					return nil, err
				}
				conn = tc // go-mail sees a *tls.Conn and treats the session as encrypted
			}
			context.AfterFunc(ctx, func() { conn.Close() })
			return conn, nil
		}),
	}
	switch {
	case s.url.Implicit:
		opts = append(opts, gomail.WithSSL()) // the dialer did the TLS; go-mail must not try STARTTLS
	case s.url.NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.url.Username != "" {
		// The first of these the server offers. PLAIN and LOGIN refuse to
		// send the password over a connection without TLS to any host but
		// a loopback one.
		opts = append(opts, gomail.WithUsername(s.url.Username), gomail.WithPassword(s.url.Password),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	return opts
}

// build turns m into a go-mail message: multipart/alternative, text first.
func (s *smtpSender) build(m Message) (*gomail.Msg, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, errNoRecipient
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	// RFC 3834: an automatic message, so auto-responders stay quiet.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// sendError is a failed send whose message has the recipient's address
// removed; Unwrap still reaches the cause (context.DeadlineExceeded, …).
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }

// redactAddress removes addr (and its local part) from s.
func redactAddress(s, addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	if addr == "" {
		return s
	}
	s = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(addr)).ReplaceAllString(s, "<recipient>")
	if local, _, ok := strings.Cut(addr, "@"); ok && len(local) >= 3 {
		s = regexp.MustCompile(`(?i)\b`+regexp.QuoteMeta(local)+`\b`).ReplaceAllString(s, "<recipient>")
	}
	return s
}
