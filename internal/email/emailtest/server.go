package emailtest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode is how the server offers TLS.
type TLSMode int

const (
	// NoTLS is plain SMTP (clients reach it with smtp://…?tls=none).
	NoTLS TLSMode = iota
	// StartTLS offers STARTTLS (smtp://).
	StartTLS
	// ImplicitTLS speaks TLS from the first byte (smtps://).
	ImplicitTLS
)

// Config is how a server is started.
type Config struct {
	TLS TLSMode
	// Username and Password, when set, must be given with AUTH PLAIN
	// before a message is accepted.
	Username, Password string
}

// Behavior is how the server treats clients now; Set changes it.
type Behavior struct {
	// GreetDelay holds the server's first bytes (greeting or TLS
	// handshake): a server that accepts connections but is slow.
	GreetDelay time.Duration
	// DataDelay holds the answer to the message's data.
	DataDelay time.Duration
	// RefuseRcpt answers every RCPT TO with 550.
	RefuseRcpt bool
	// RefuseData answers the message's data with 554.
	RefuseData bool
}

// Server is an SMTP server on 127.0.0.1 that keeps every message.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string

	cfg   Config
	srv   *smtp.Server
	pool  *x509.CertPool
	done  chan struct{} // closed by Close: ends delays
	stop  sync.Once
	serve chan struct{} // closed when Serve returns

	mu          sync.Mutex // guards the fields below
	behavior    Behavior
	messages    []*Message
	arrived     chan struct{} // closed and replaced on each message
	inFlight    int           // transactions (MAIL FROM to the end of DATA) under way
	maxInFlight int           // most transactions under way at once
	connCount   int           // connections accepted
}

// Start runs a server until the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := &Server{cfg: cfg, done: make(chan struct{}), serve: make(chan struct{}), arrived: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("emailtest: listen: %v", err)
	}
	s.Addr = l.Addr().String()
	var ln net.Listener = &listener{Listener: l, s: s}

	s.srv = smtp.NewServer(&backend{s: s})
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // clients that time out on purpose are not news
	if cfg.TLS != NoTLS {
		cert, pool, err := newCertificate()
		if err != nil {
			t.Fatalf("emailtest: %v", err)
		}
		s.pool = pool
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if cfg.TLS == StartTLS {
			s.srv.TLSConfig = tc
		} else {
			ln = tls.NewListener(ln, tc)
		}
	} else {
		s.srv.AllowInsecureAuth = true // loopback only: lets tests check AUTH without TLS
	}
	go func() {
		defer close(s.serve)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and drops its connections; it is safe to call
// more than once (Start also calls it when the test ends).
func (s *Server) Close() {
	s.stop.Do(func() {
		close(s.done)
		_ = s.srv.Close()
		<-s.serve
	})
}

// RootCAs trusts the server's certificate (nil without TLS).
func (s *Server) RootCAs() *x509.CertPool { return s.pool }

// URL is the email.smtp_url that reaches this server, with its credentials.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr}
	switch s.cfg.TLS {
	case NoTLS:
		u.RawQuery = "tls=none"
	case ImplicitTLS:
		u.Scheme = "smtps"
	}
	if s.cfg.Username != "" {
		u.User = url.UserPassword(s.cfg.Username, s.cfg.Password)
	}
	return u.String()
}

// Set changes how the server treats new commands.
func (s *Server) Set(b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behavior = b
}

func (s *Server) current() Behavior {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.behavior
}

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.messages...)
}

// Wait returns the first n messages, failing the test if they do not all
// arrive within timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []*Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		msgs, arrived := append([]*Message(nil), s.messages...), s.arrived
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs[:n]
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("emailtest: %d of %d messages arrived within %v", len(msgs), n, timeout)
		}
	}
}

// MaxConcurrent is the most messages that were being transferred at once
// (from MAIL FROM to the answer to DATA). Connections are not counted: a
// client may open its next one before the server has seen the last one
// close.
func (s *Server) MaxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Connections is how many connections the server accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connCount
}

// ClosedURL is an email.smtp_url on a loopback port nothing listens on: an
// SMTP server that is down.
func ClosedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("emailtest: listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return "smtp://" + addr + "?tls=none"
}

// sleep waits d, or less if the server closes.
func (s *Server) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
	}
}

// listener counts connections and applies GreetDelay.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := l.s
	s.mu.Lock()
	s.connCount++
	s.mu.Unlock()
	return &conn{Conn: c, s: s}, nil
}

type conn struct {
	net.Conn
	s         *Server
	greetOnce sync.Once
}

func (c *conn) Write(b []byte) (int, error) {
	c.greetOnce.Do(func() { c.s.sleep(c.s.current().GreetDelay) })
	return c.Conn.Write(b)
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

// session is one client's exchange.
type session struct {
	s    *Server
	conn *smtp.Conn
	user string // authenticated user name
	from string
	to   []string
	inTx bool // counted in Server.inFlight
}

// begin and end count a transaction in Server.inFlight.
func (ss *session) begin() {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if !ss.inTx {
		ss.inTx = true
		ss.s.inFlight++
		ss.s.maxInFlight = max(ss.s.maxInFlight, ss.s.inFlight)
	}
}

func (ss *session) end() {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.inTx {
		ss.inTx = false
		ss.s.inFlight--
	}
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.cfg.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.s.cfg.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username || username != ss.s.cfg.Username || password != ss.s.cfg.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.cfg.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.begin()
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.current().RefuseRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable: " + to}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	defer ss.end()
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b := ss.s.current()
	ss.s.sleep(b.DataDelay)
	if b.RefuseData {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused"}
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: fmt.Sprintf("Unreadable message: %v", err)}
	}
	m.EnvelopeFrom, m.EnvelopeTo, m.AuthUser = ss.from, append([]string(nil), ss.to...), ss.user
	_, m.TLS = ss.conn.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, m)
	close(ss.s.arrived)
	ss.s.arrived = make(chan struct{})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() {
	ss.end()
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error {
	ss.end()
	return nil
}
