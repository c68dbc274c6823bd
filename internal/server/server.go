package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"gatehouse/internal/authflow"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"gatehouse/internal/audit"
	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/console"
	"gatehouse/internal/email"
	"gatehouse/internal/login"
	"gatehouse/internal/mfa"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/mgmtapi"
	"gatehouse/internal/oauth"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/web"
)

// Server is a configured Gatehouse instance.
type Server struct {
	cfg     config.Config
	store   store.Store
	keys    *token.Keys
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	limits  connLimits
	audit   *audit.Writer // the audit log; Serve closes it
	jobs    *mgmt.Jobs    // import and export jobs; Serve stops them
	// cert, when set, makes Serve speak https with it.
	cert *Certificate
	// logouts sends back-channel logout tokens; Serve runs it.
	logouts *oauth.LogoutSender
	// acme, when set, supplies the certificates instead of cert.
	acme      *autocert.Manager
	acmeHTTP  net.Listener
	metricsLn net.Listener
}

// connLimits bound what one connection may hold of the server, so a slow
// or idle client cannot keep a connection (and its goroutine) forever.
// The README's "Limits" section lists them.
type connLimits struct {
	readHeader time.Duration // the request line and headers
	read       time.Duration // the whole request, body included
	write      time.Duration // from the end of the headers to the end of the response
	idle       time.Duration // a kept-alive connection between requests
	// maxHeaderBytes bounds the request line and headers. Beyond it Go
	// answers 431 in plain text before any handler runs.
	maxHeaderBytes int
}

// defaultConnLimits are generous for any client on a slow network: the
// largest request a protocol endpoint reads is 64 KiB.
var defaultConnLimits = connLimits{
	readHeader:     10 * time.Second,
	read:           30 * time.Second,
	write:          30 * time.Second,
	idle:           120 * time.Second,
	maxHeaderBytes: 64 << 10,
}

// Option adjusts a Server.
type Option func(*options)

type options struct {
	openConnector login.OpenConnector
	mail          email.Sender
	cert          *Certificate
	acme          *autocert.Manager
	acmeHTTP      net.Listener // HTTP-01 challenges, optional
	metricsLn     net.Listener // /metrics apart from the public listener, optional
}

// WithTLS serves https with cert (see LoadCertificate) instead of plain
// http.
func WithTLS(cert *Certificate) Option {
	return func(o *options) { o.cert = cert }
}

// WithMail sends the account emails through m instead of the configured
// SMTP server (the demo's terminal printer).
func WithMail(m email.Sender) Option {
	return func(o *options) { o.mail = m }
}

// WithConnectors enables upstream connections (GitHub, OpenID, OAuth 2.0),
// opened by open.
func WithConnectors(open login.OpenConnector) Option {
	return func(o *options) { o.openConnector = open }
}

// DatabaseConfig is the username/password connection's configuration from
// the server's settings: the id prefix and the password policy.
func DatabaseConfig(cfg config.Config, st store.Store) database.Config {
	p := cfg.Password
	return database.Config{
		Store:     st,
		Provider:  cfg.UserIDProvider,
		Params:    database.Params{MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism},
		MinLength: p.MinLength,
	}
}

// New wires every domain onto one handler. The store and keys are owned by
// the caller; keys must have been initialised.
func New(cfg config.Config, st store.Store, keys *token.Keys, log *slog.Logger, opts ...Option) (*Server, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	pages, err := web.NewRenderer(log)
	if err != nil {
		return nil, err
	}
	st = store.NewCache(st, cfg.SettingsCacheTTL.D())
	// Cookies are Secure whenever browsers reach the server over https:
	// an https issuer (TLS here or at a load balancer) or TLS served here.
	secure := strings.HasPrefix(cfg.Issuer, "https://") || o.cert != nil
	sessions := &session.Manager{Store: st, TTL: cfg.Tokens.Session.D(), Secure: secure, Now: time.Now}
	db, err := database.Open(DatabaseConfig(cfg, st))
	if err != nil {
		return nil, err
	}
	mail := o.mail
	if mail == nil && cfg.Email.SMTPURL != "" {
		if mail, err = email.Open(cfg.Email.SMTPURL, cfg.Email.From, log); err != nil {
			return nil, err
		}
	}
	binder, err := authflow.NewBinder(secure, keys.DeriveKey("csrf"))
	if err != nil {
		return nil, err
	}
	// TOTP secrets are sealed with a key of their own, derived from the
	// master key as the CSRF key is.
	mfaSealer, err := token.NewSealer(keys.DeriveKey("mfa secrets"))
	if err != nil {
		return nil, err
	}
	factors, err := mfa.New(mfa.Config{Issuer: cfg.Issuer, Store: st, Sealer: mfaSealer})
	if err != nil {
		return nil, err
	}
	auditLog, err := audit.NewWriter(audit.WriterConfig{Store: st, Log: log})
	if err != nil {
		return nil, err
	}
	provider, err := oauth.New(oauth.Config{
		Issuer:             cfg.Issuer,
		Store:              st,
		Keys:               keys,
		Sessions:           sessions,
		Pages:              pages,
		Log:                log,
		Binder:             binder,
		CodeTTL:            cfg.Tokens.Code.D(),
		IDTokenTTL:         cfg.Tokens.IDToken.D(),
		AccessTokenTTL:     cfg.Tokens.AccessToken.D(),
		RefreshTokenTTL:    cfg.Tokens.RefreshToken.D(),
		AuthRequestTTL:     cfg.Tokens.AuthRequest.D(),
		RefreshAbsoluteTTL: cfg.Tokens.RefreshAbsolute.D(),
		Claims:             cfg.Claims,

		PendingRequestsPerIP: pendingRequestsPerIP(cfg.Throttle),
		MFAPolicy:            cfg.MFA.Policy,
		Audit:                auditLog,
		LogoutURLs:           cfg.Logout.AllowedURLs,
		OpenConnector:        o.openConnector,
	})
	if err != nil {
		return nil, err
	}
	hosted, err := login.New(login.Config{
		Issuer:        cfg.Issuer,
		OpenConnector: o.openConnector,
		Store:         st,
		Sessions:      sessions,
		Pages:         pages,
		Database:      db,
		Log:           log,
		Binder:        binder,
		Throttle: login.Throttle{PerAccount: cfg.Throttle.PerAccount, PerIP: cfg.Throttle.PerIP, Window: cfg.Throttle.Window.D(),
			// Replicas share the master key, so a device one of them
			// remembered is known to all.
			DeviceKey: keys.DeriveKey("device cookie")},
		MinPasswordLength:  cfg.Password.MinLength,
		ResetKeepsSessions: cfg.Password.ResetKeepsSessions,
		Secure:             secure,
		MFA:                factors,
		MFAPolicy:          cfg.MFA.Policy,
		Mail:               mail,
		Audit:              auditLog,
	})
	if err != nil {
		return nil, err
	}

	svc, err := mgmt.New(mgmt.Config{Store: st, Sealer: keys.Sealer(), Keys: keys, Issuer: cfg.Issuer, Passwords: db,
		Signing: keys, Tokens: cfg.Tokens})
	if err != nil {
		return nil, err
	}
	// The management API's record (its scopes, for client grants) exists
	// before the first request; replicas starting together agree.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.EnsureManagementAPI(ctx); err != nil {
		return nil, err
	}
	if err := svc.EnsureConsole(ctx); err != nil {
		return nil, err
	}
	// Bulk user imports and exports run in the background; jobs a stopped
	// server left behind are failed now, so nobody waits for them.
	jobs, err := mgmt.NewJobs(mgmt.JobsConfig{Store: st, Provider: cfg.UserIDProvider,
		LinkKey: keys.DeriveKey("export links"), Log: log})
	if err != nil {
		return nil, err
	}
	if _, err := jobs.Recover(ctx); err != nil {
		return nil, err
	}
	api, err := mgmtapi.New(mgmtapi.Config{Service: svc, Tokens: keys, Issuer: cfg.Issuer, Log: log, Audit: auditLog, Jobs: jobs})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	provider.Mount(mux)
	hosted.Mount(mux)
	api.Mount(mux)
	// The admin console calls the token endpoint and the API on mux itself.
	admin, err := console.New(console.Config{Issuer: cfg.Issuer, Service: svc, Keys: keys, Binder: binder, Secure: secure, Handler: mux, Log: log})
	if err != nil {
		return nil, err
	}
	admin.Mount(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	met := newMetrics()
	if o.metricsLn == nil {
		mux.Handle("GET /metrics", met.handler())
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := st.Ping(ctx); err != nil {
			log.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Gatehouse OpenID Provider\nDiscovery: %s\n", config.IssuerURL(cfg.Issuer, "/.well-known/openid-configuration"))
	})

	trusted, err := config.ParseCIDRs(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: st, keys: keys, log: log, metrics: met, limits: defaultConnLimits, audit: auditLog, jobs: jobs, cert: o.cert,
		logouts: provider.LogoutSender(oauth.LogoutSenderConfig{}),
		acme:    o.acme, acmeHTTP: o.acmeHTTP, metricsLn: o.metricsLn}
	s.handler = s.recoverer(realClient(trusted, s.logRequests(securityHeaders(mux))))
	return s, nil
}

// pendingRequestsPerIP is the configured limit as oauth.Config takes it:
// there 0 means the default and a negative value none.
func pendingRequestsPerIP(t config.Throttle) int {
	if t.PendingRequestsPerIP == 0 {
		return -1
	}
	return t.PendingRequestsPerIP
}

// Handler returns the whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on ln until ctx is cancelled, then shuts down gracefully,
// letting requests in flight finish for up to 10 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer()
	cleanerDone := make(chan struct{})
	cctx, stopCleaner := context.WithCancel(ctx)
	go func() {
		defer close(cleanerDone)
		s.clean(cctx)
	}()
	streamDone := s.streamLogs(cctx)
	logoutsDone := make(chan struct{})
	go func() {
		defer close(logoutsDone)
		if s.logouts != nil {
			s.logouts.Run(cctx)
		}
	}()
	errc := make(chan error, 3)
	var aux []*http.Server
	if s.metricsLn != nil {
		m := s.auxServer(s.metrics.handler())
		aux = append(aux, m)
		go func() { errc <- m.Serve(s.metricsLn) }()
	}
	if s.acmeHTTP != nil {
		// HTTPHandler answers the CA's /.well-known/acme-challenge/
		// requests and redirects everything else to https.
		h := s.auxServer(acmeHTTPHandler(s.acme))
		aux = append(aux, h)
		go func() { errc <- h.Serve(s.acmeHTTP) }()
	}
	go func() {
		if s.cert != nil || s.acme != nil {
			// ServeTLS adds "h2" to the offered protocols: HTTP/2 for
			// clients that negotiate it, HTTP/1.1 for the others.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	var err error
	select {
	case err = <-errc:
		// One listener failed (a side one too): stop serving on all.
		_ = srv.Close()
	case <-ctx.Done():
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	for _, a := range aux {
		// Nothing long-running is served there: close at once.
		_ = a.Close()
	}
	if s.jobs != nil {
		// Jobs still running are marked failed: an import is rerun with
		// upsert, an export asked for again.
		jctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if jerr := s.jobs.Close(jctx); jerr != nil {
			s.log.Warn("stopping import and export jobs", "err", jerr)
		}
		cancel()
	}
	s.closeAudit()
	stopCleaner()
	<-cleanerDone
	<-streamDone
	<-logoutsDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// httpServer is the http.Server Serve runs, with the connection limits.
func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.limits.readHeader,
		ReadTimeout:       s.limits.read,
		WriteTimeout:      s.limits.write,
		IdleTimeout:       s.limits.idle,
		MaxHeaderBytes:    s.limits.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         s.tlsConfig(),
	}
}

// auxServer is an http.Server for a side listener (metrics, ACME HTTP-01)
// with the public listener's connection limits.
func (s *Server) auxServer(h http.Handler) *http.Server {
	srv := s.httpServer()
	srv.Handler, srv.TLSConfig = h, nil
	return srv
}

// tlsConfig is the https configuration, or nil for plain http.
func (s *Server) tlsConfig() *tls.Config {
	switch {
	case s.acme != nil:
		return acmeTLSConfig(s.acme)
	case s.cert != nil:
		return s.cert.tlsConfig()
	}
	return nil
}

// clean deletes expired rows every minute.
func (s *Server) clean(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.store.DeleteExpired(ctx, time.Now().UTC())
			if err != nil && ctx.Err() == nil {
				s.log.Warn("delete expired rows", "err", err)
			} else if n > 0 {
				s.log.Debug("deleted expired rows", "rows", n)
			}
			s.deleteOldLogs(ctx)
		}
	}
}

// securityHeaders sets the headers every response carries: no framing,
// no referrer (URLs hold codes and request ids), no sniffing, and a CSP
// that allows only Gatehouse's own resources: its stylesheet and its one
// script, which runs the WebAuthn ceremonies (no inline script).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// realClient replaces the peer address with the client's, as reported in
// X-Forwarded-For by trusted proxies: the rightmost address that is not a
// trusted proxy. Headers from other peers are ignored (anyone can send them),
// so throttling by IP cannot be dodged by forging the header.
func realClient(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		client := peer.Addr()
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			client = a
			if !isTrusted(a) {
				break
			}
		}
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = netip.AddrPortFrom(client.Unmap(), 0).String()
		if proto := r.Header.Get("X-Forwarded-Proto"); proto == "https" || proto == "http" {
			r2.URL.Scheme = proto
		}
		next.ServeHTTP(w, r2)
	})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one line per request with a request id. It logs the
// path only: query strings carry codes, states and request ids.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.metrics.observe(r, sw.status, time.Since(start))
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("client", r.RemoteAddr),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

// recoverer turns a panic into a 500 and a log line, never a dropped connection.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
