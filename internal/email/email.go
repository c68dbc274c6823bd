package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
)

// Message is one email to one recipient, with a plain-text and an HTML
// body (sent as multipart/alternative). The builders (VerifyEmail,
// ResetPassword, …) make them.
type Message struct {
	To      string // the recipient's address
	Subject string
	Text    string // text/plain body
	HTML    string // text/html body; may be empty
	// Kind names the message in logs ("verify_email"); it is never secret.
	Kind string
}

// Sender delivers messages. Send returns once the SMTP server accepted the
// message, or with an error (within the configured timeout).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Defaults for Open.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxConcurrent = 4
)

// Option adjusts a sender made by Open.
type Option func(*options)

type options struct {
	timeout       time.Duration
	maxConcurrent int
	rootCAs       *x509.CertPool
}

// WithTimeout bounds each Send (waiting for a connection slot, dialing,
// TLS, authentication and the transfer together). It overrides the URL's
// ?timeout=.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMaxConcurrent bounds how many connections to the SMTP server are
// open at once; further sends wait (within their timeout).
func WithMaxConcurrent(n int) Option { return func(o *options) { o.maxConcurrent = n } }

// WithRootCAs sets the certificate authorities trusted for the SMTP
// server's certificate instead of the system's (tests use a generated one).
func WithRootCAs(pool *x509.CertPool) Option { return func(o *options) { o.rootCAs = pool } }

// Open returns the sender for an email.smtp_url (see ParseURL) and an
// email.from address ("Name <addr@example.com>" or a bare address; it may
// be empty for "log"). log receives one line per message; nil discards.
func Open(smtpURL, from string, log *slog.Logger, opts ...Option) (Sender, error) {
	u, err := ParseURL(smtpURL)
	if err != nil {
		return nil, fmt.Errorf("email.smtp_url: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := options{timeout: u.Timeout, maxConcurrent: DefaultMaxConcurrent}
	if o.timeout == 0 {
		o.timeout = DefaultTimeout
	}
	for _, f := range opts {
		f(&o)
	}
	if o.timeout <= 0 || o.maxConcurrent < 1 {
		return nil, errors.New("email: timeout and concurrency must be positive")
	}
	if u.Log {
		if from == "" {
			from = "Gatehouse <gatehouse@localhost>"
		}
		if _, err := ParseFrom(from); err != nil {
			return nil, err
		}
		log.Warn("email.smtp_url is log: emails are written to this log, links included, and not delivered; use it only for development")
		return &logSender{from: from, log: log}, nil
	}
	addr, err := ParseFrom(from)
	if err != nil {
		return nil, err
	}
	return &smtpSender{
		url:     u,
		from:    addr.String(),
		timeout: o.timeout,
		slots:   make(chan struct{}, o.maxConcurrent),
		tls:     &tls.Config{ServerName: u.Host, MinVersion: tls.VersionTLS12, RootCAs: o.rootCAs},
		log:     log,
	}, nil
}

// ParseFrom checks an email.from setting: one address, with or without a
// display name.
func ParseFrom(from string) (*mail.Address, error) {
	if strings.TrimSpace(from) == "" {
		return nil, errors.New("email.from: required, e.g. \"Example <login@example.com>\"")
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("email.from: %q is not an email address", from)
	}
	return a, nil
}

// logSender writes messages to the log instead of delivering them.
type logSender struct {
	from string
	log  *slog.Logger
}

func (s *logSender) Send(ctx context.Context, m Message) error {
	if _, err := mail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("send %s email: %w", m.Kind, errNoRecipient)
	}
	// The whole message is the point of this mode, links included; Open
	// warned that it is for development.
	s.log.InfoContext(ctx, "email (log mode, not delivered)", "kind", m.Kind, "from", s.from, "to", m.To,
		"subject", m.Subject, "text", m.Text)
	return nil
}

var errNoRecipient = errors.New("recipient is not an email address")

// domainOf is the part of an address that may be logged.
func domainOf(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return "invalid"
}
