package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often, at most, a handshake looks at the
// certificate files' modification times. A renewal (certbot, a Kubernetes
// secret, an operator's copy) is picked up within it, at the cost of two
// stat calls every few seconds under load, never one per handshake.
const certCheckInterval = 5 * time.Second

// Certificate is a TLS certificate pair read from two PEM files and read
// again when either file changes, so a renewed certificate is served
// without a restart. A new pair that does not load (half-written, key and
// certificate that do not match) is refused with a warning and the pair
// already loaded stays in service: a bad renewal never takes https down.
type Certificate struct {
	certFile, keyFile string
	log               *slog.Logger
	every             time.Duration
	now               func() time.Time

	mu sync.Mutex // guards the fields below
	// cert is the pair in service.
	cert *tls.Certificate
	// loaded is the files' stamp when cert was read; failed is the stamp
	// of the last pair that did not load, so it is reported once, not at
	// every check.
	loaded, failed fileStamp
	// unreadable is set while the files cannot be read, for the same reason.
	unreadable bool
	checked    time.Time // the last look at the files
}

// fileStamp identifies a version of the two files.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// LoadCertificate reads the certificate pair for serving https. Every
// problem is reported here, at start, naming the file: a missing or
// unreadable file, no PEM data, a key that does not match the certificate.
// A certificate that has expired, is not yet valid or does not name the
// issuer's host only logs a warning, since an operator may be starting the
// server to fix exactly that.
func LoadCertificate(certFile, keyFile, issuerHost string, log *slog.Logger) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile, log: log, every: certCheckInterval, now: time.Now}
	st, err := c.stamp()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.loaded, c.checked = cert, st, c.now()
	c.warnValidity(cert.Leaf, issuerHost)
	return c, nil
}

// stamp reads the files' modification times and sizes. os.Stat follows
// symbolic links, so a Kubernetes-style swap of a "..data" link counts as
// a change.
func (c *Certificate) stamp() (fileStamp, error) {
	ci, err := os.Stat(c.certFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("tls: certificate file: %w", err)
	}
	ki, err := os.Stat(c.keyFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("tls: key file: %w", err)
	}
	return fileStamp{certMod: ci.ModTime(), keyMod: ki.ModTime(), certSize: ci.Size(), keySize: ki.Size()}, nil
}

// load reads and checks the pair.
func (c *Certificate) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	if cert.Leaf == nil { // LoadX509KeyPair fills it since Go 1.23; kept for clarity
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: parse certificate %s: %w", c.certFile, err)
		}
	}
	return &cert, nil
}

// warnValidity logs what would make clients refuse the certificate.
func (c *Certificate) warnValidity(leaf *x509.Certificate, host string) {
	now := c.now()
	switch {
	case now.After(leaf.NotAfter):
		c.log.Warn("tls certificate has expired", "file", c.certFile, "not_after", leaf.NotAfter)
	case now.Before(leaf.NotBefore):
		c.log.Warn("tls certificate is not valid yet", "file", c.certFile, "not_before", leaf.NotBefore)
	}
	if host != "" {
		if err := leaf.VerifyHostname(host); err != nil {
			c.log.Warn("tls certificate does not name the issuer's host", "file", c.certFile, "host", host)
		}
	}
}

// GetCertificate is the tls.Config hook: it serves the current pair,
// reloading it first when the files changed since the last look.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= c.every {
		c.checked = now
		c.reloadLocked()
	}
	return c.cert, nil
}

// reloadLocked reads the files again if they changed. c.mu is held.
func (c *Certificate) reloadLocked() {
	st, err := c.stamp()
	if err != nil {
		if !c.unreadable {
			c.log.Warn("tls certificate files unreadable; serving the certificate already loaded", "err", err)
		}
		c.unreadable = true
		return
	}
	c.unreadable = false
	if st == c.loaded || st == c.failed {
		return
	}
	cert, err := c.load()
	if err != nil {
		c.failed = st
		c.log.Warn("new tls certificate refused; serving the certificate already loaded", "err", err)
		return
	}
	c.cert, c.loaded, c.failed = cert, st, fileStamp{}
	c.log.Info("tls certificate reloaded", "file", c.certFile, "not_after", cert.Leaf.NotAfter)
	c.warnValidity(cert.Leaf, "")
}

// tlsConfig is the server side of https: TLS 1.2 and later (RFC 9325
// §3.1.1: TLS 1.0 and 1.1 must not be used) with Go's default cipher
// suites, which offer only forward-secret key exchange for TLS 1.2.
// HTTP/2 is offered by http.Server.ServeTLS.
func (c *Certificate) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}
