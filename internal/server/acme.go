package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"gatehouse/internal/config"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// NewACME is the certificate manager for the ACME settings: certificates
// for a.Domains only (a handshake naming another host is refused before
// any request to the CA, so nobody can make the server order certificates
// for names of their choosing), from a.Directory or Let's Encrypt.
//
// The account key and certificates are cached in a.CacheDir when it is
// set. Otherwise the Cache is left nil for the caller to set to
// NewCertCache over the database once it is open: replicas then share one
// account and one certificate instead of each ordering their own.
func NewACME(a config.ACME, log *slog.Logger) *autocert.Manager {
	dir := a.Directory
	if dir == "" {
		dir = config.LetsEncryptURL
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(a.Domains...),
		Email:      a.Email,
		Client:     &acme.Client{DirectoryURL: dir},
	}
	cache := "database"
	if a.CacheDir != "" {
		m.Cache, cache = autocert.DirCache(a.CacheDir), a.CacheDir
	}
	log.Info("tls certificates from acme", "directory", dir, "domains", a.Domains, "cache", cache)
	return m
}

// certCache is autocert.Cache over the database. Every value is sealed
// with the master key, since the account key and the certificates'
// private keys are among them; the entry's key is the additional data, so
// a value copied under another key does not open.
type certCache struct {
	st     store.CertCache
	sealer *token.Sealer
	now    func() time.Time
}

// NewCertCache is the ACME cache kept in st, sealed by sealer.
func NewCertCache(st store.CertCache, sealer *token.Sealer) autocert.Cache {
	return certCache{st: st, sealer: sealer, now: time.Now}
}

func (c certCache) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := c.st.GetCertCacheEntry(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, autocert.ErrCacheMiss
	}
	if err != nil {
		return nil, fmt.Errorf("acme cache: %w", err)
	}
	plain, err := c.sealer.Open(v, []byte("acme:"+key))
	if err != nil {
		// Another master key sealed it (or it was altered): order anew
		// rather than stop serving.
		return nil, autocert.ErrCacheMiss
	}
	return plain, nil
}

func (c certCache) Put(ctx context.Context, key string, data []byte) error {
	if err := c.st.PutCertCacheEntry(ctx, key, c.sealer.Seal(data, []byte("acme:"+key)), c.now().UTC()); err != nil {
		return fmt.Errorf("acme cache: %w", err)
	}
	return nil
}

func (c certCache) Delete(ctx context.Context, key string) error {
	if err := c.st.DeleteCertCacheEntry(ctx, key); err != nil {
		return fmt.Errorf("acme cache: %w", err)
	}
	return nil
}

// WithACME serves https with certificates obtained and renewed by m (see
// NewACME). The TLS-ALPN-01 challenge is answered on the https listener
// itself; when httpLn is not nil, the HTTP-01 challenge is answered there
// and every other plain-http request is redirected to https.
func WithACME(m *autocert.Manager, httpLn net.Listener) Option {
	return func(o *options) { o.acme, o.acmeHTTP = m, httpLn }
}

// WithMetricsListener serves /metrics on ln instead of the public
// listener, where /metrics then answers 404: metrics describe traffic and
// errors and should be reachable only from the monitoring network.
func WithMetricsListener(ln net.Listener) Option {
	return func(o *options) { o.metricsLn = ln }
}

// acmeTLSConfig is the https configuration with ACME certificates: TLS 1.2
// and later as with a certificate from files, plus the "acme-tls/1"
// protocol the TLS-ALPN-01 challenge connects with.
func acmeTLSConfig(m *autocert.Manager) *tls.Config {
	c := m.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	return c
}

// acmeHTTPHandler answers HTTP-01 challenges and redirects every other
// request to https. The host policy sees the host without a port: a CA
// validates on port 80 and sends none, but one told to use another port
// (a test CA, a port mapping) sends it, and the domain is the same.
func acmeHTTPHandler(m *autocert.Manager) http.Handler {
	h := m.HTTPHandler(nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, err := net.SplitHostPort(r.Host); err == nil {
			r.Host = host
		}
		h.ServeHTTP(w, r)
	})
}
