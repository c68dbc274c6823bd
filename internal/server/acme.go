package server

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"gatehouse/internal/config"
)

// NewACME is the certificate manager for the ACME settings: certificates
// for a.Domains only (a handshake naming another host is refused before
// any request to the CA, so nobody can make the server order certificates
// for names of their choosing), from a.Directory or Let's Encrypt, with the
// account key and certificates cached on disk in a.CacheDir or
// dataDir/acme.
//
// The cache directory belongs to one machine: replicas behind a load
// balancer each order their own certificate unless the directory is
// shared, which the CA's rate limits punish (see README).
func NewACME(a config.ACME, dataDir string, log *slog.Logger) *autocert.Manager {
	dir := a.Directory
	if dir == "" {
		dir = config.LetsEncryptURL
	}
	cache := a.CacheDir
	if cache == "" {
		cache = filepath.Join(dataDir, "acme")
	}
	log.Info("tls certificates from acme", "directory", dir, "domains", a.Domains, "cache", cache)
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(a.Domains...),
		Cache:      autocert.DirCache(cache),
		Email:      a.Email,
		Client:     &acme.Client{DirectoryURL: dir},
	}
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
