package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/challtestsrv"
	"github.com/letsencrypt/pebble/v2/ca"
	pebbledb "github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"golang.org/x/crypto/acme/autocert"

	"gatehouse/internal/config"
	"gatehouse/internal/token"
)

// pebbleCA is Let's Encrypt's test ACME server, run in the test process,
// with a DNS server of its own that resolves every name to 127.0.0.1.
type pebbleCA struct {
	directory string
	client    *http.Client // trusts the ACME server's own https certificate
	roots     *x509.CertPool
}

// startPebble starts an ACME server whose validation authority checks
// challenges for real: TLS-ALPN-01 by connecting to 127.0.0.1:tlsPort and
// HTTP-01 to 127.0.0.1:httpPort.
func startPebble(t *testing.T, httpPort, tlsPort int) pebbleCA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // no random wait before validating
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no deliberately refused nonces
	t.Setenv("PEBBLE_AUTHZREUSE", "0")      // every order validates afresh
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(t.Output(), "pebble ", 0)
	}
	dnsAddr := freeAddr(t)
	names, err := challtestsrv.New(challtestsrv.Config{DNSAddrs: []string{dnsAddr}, Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	names.SetDefaultDNSIPv4("127.0.0.1")
	names.SetDefaultDNSIPv6("") // the validation authority tries AAAA first
	names.Run()
	t.Cleanup(names.Shutdown)
	waitListening(t, dnsAddr)

	db := pebbledb.NewMemoryStore()
	authority := ca.New(logger, db, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, db)
	front := wfe.New(logger, db, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	for i := range authority.GetNumberOfRootCerts() {
		roots.AddCert(authority.GetRootCert(i).Cert)
	}
	return pebbleCA{directory: srv.URL + wfe.DirectoryPath, client: srv.Client(), roots: roots}
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// serveInBackground runs s.Serve on ln until the test ends.
func serveInBackground(t *testing.T, s *Server, ln net.Listener) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// TestServeACME obtains the https certificate from a real ACME exchange
// with pebble, which validates the challenge by connecting to Gatehouse:
// TLS-ALPN-01 on the https listener itself, or HTTP-01 on the challenge
// listener when TLS-ALPN-01 cannot reach it. The certificate served
// afterwards chains to the CA's root; a handshake for a host not in the
// domains is refused without ordering anything.
func TestServeACME(t *testing.T) {
	const domain = "id.gatehouse.test"
	for _, challenge := range []string{"tls-alpn-01", "http-01"} {
		t.Run(challenge, func(t *testing.T) {
			ln := listenLoopback(t)
			var httpLn net.Listener
			tlsPort := port(ln)
			if challenge == "http-01" {
				httpLn = listenLoopback(t)
				_, p, _ := net.SplitHostPort(freeAddr(t))
				tlsPort, _ = strconv.Atoi(p) // TLS-ALPN-01 fails: connection refused
			}
			httpPort := 0
			if httpLn != nil {
				httpPort = port(httpLn)
			}
			pebble := startPebble(t, httpPort, tlsPort)
			base := "https://" + domain + ":" + strconv.Itoa(port(ln))
			s, _ := newTestServer(t, func(c *config.Config) {
				c.Issuer = base
				c.ACME = config.ACME{Domains: []string{domain}, Directory: pebble.directory, Email: "ops@example.com"}
			})
			sealer := testSealer(t)
			m := NewACME(s.cfg.ACME, s.log)
			m.Cache = NewCertCache(s.store, sealer)
			m.Client.HTTPClient = pebble.client
			s.acme, s.acmeHTTP = m, httpLn
			serveInBackground(t, s, ln)

			dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
			}
			c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: dial,
				TLSClientConfig: &tls.Config{RootCAs: pebble.roots}, ForceAttemptHTTP2: true}}
			resp, err := c.Get(base + "/healthz")
			if err != nil {
				t.Fatalf("https with the ACME certificate: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
				t.Errorf("healthz: %d over %s", resp.StatusCode, resp.Proto)
			}
			leaf := resp.TLS.PeerCertificates[0]
			if err := leaf.VerifyHostname(domain); err != nil {
				t.Errorf("served certificate: %v", err)
			}
			chain := resp.TLS.VerifiedChains[0]
			if root := chain[len(chain)-1]; !strings.HasPrefix(root.Subject.CommonName, "Pebble Root CA") || len(chain) < 3 {
				t.Errorf("served certificate does not chain through pebble's intermediate to its root: %v", chain)
			}
			// Cached: a second connection gets the same certificate.
			c.CloseIdleConnections()
			resp2, err := c.Get(base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.TLS.PeerCertificates[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Error("a second connection got a new certificate")
			}
			// Another replica over the same database serves the same
			// certificate without ordering one: its client cannot reach
			// the CA at all.
			replica := NewACME(s.cfg.ACME, s.log)
			replica.Cache = NewCertCache(s.store, sealer)
			replica.Client.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
				return nil, errors.New("no CA for the replica")
			}}}
			shared, err := replica.GetCertificate(&tls.ClientHelloInfo{ServerName: domain, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
			if err != nil || shared.Leaf == nil || shared.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Errorf("replica: %v, want the certificate from the database", err)
			}
			if httpLn != nil {
				// Plain http outside the challenge path goes to https.
				noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				req, _ := http.NewRequest(http.MethodGet, "http://"+httpLn.Addr().String()+"/authorize?x=1", nil)
				req.Host = domain
				resp, err := noFollow.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://"+domain+"/authorize?x=1" {
					t.Errorf("plain http: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
				}
			}

			// Another name is refused at the handshake.
			conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "other.gatehouse.test", RootCAs: pebble.roots})
			if err == nil {
				conn.Close()
				t.Error("handshake for a host outside the domains succeeded")
			}
			// TLS 1.1 is refused as with certificate files.
			conn, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: domain, RootCAs: pebble.roots, MaxVersion: tls.VersionTLS11})
			if err == nil {
				conn.Close()
				t.Error("a TLS 1.1 handshake succeeded")
			}
		})
	}
}

func testSealer(t *testing.T) *token.Sealer {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s, err := token.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCertCache checks the database cache autocert uses: a miss is
// autocert.ErrCacheMiss, values are sealed at rest and bound to their
// key, and a value sealed with another master key is a miss, so a new
// certificate is ordered instead of the server failing.
func TestCertCache(t *testing.T) {
	s, _ := newTestServer(t, nil)
	ctx := t.Context()
	sealer := testSealer(t)
	c := NewCertCache(s.store, sealer)
	if _, err := c.Get(ctx, "id.example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("get of an absent key: %v", err)
	}
	secret := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret\n")
	if err := c.Put(ctx, "id.example.com", secret); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "id.example.com"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("get: %q %v", got, err)
	}
	raw, err := s.store.GetCertCacheEntry(ctx, "id.example.com")
	if err != nil || bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Errorf("stored in clear (%v)", err)
	}
	// Moved to another key, the value does not open.
	if err := s.store.PutCertCacheEntry(ctx, "www.example.com", raw, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "www.example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Errorf("value under another key: %v", err)
	}
	if _, err := NewCertCache(s.store, testSealer(t)).Get(ctx, "id.example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Errorf("another master key: %v", err)
	}
	if err := c.Delete(ctx, "id.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "id.example.com"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Errorf("after delete: %v", err)
	}
	if err := c.Delete(ctx, "id.example.com"); err != nil {
		t.Errorf("delete of an absent key: %v", err)
	}
}

// TestServeMetricsApart serves /metrics on its own listener: the public
// listener answers 404 there.
func TestServeMetricsApart(t *testing.T) {
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer(t, nil, WithMetricsListener(mln))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveInBackground(t, s, ln)
	c := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("http://" + ln.Addr().String() + "/healthz"); code != http.StatusOK {
		t.Errorf("public healthz: %d", code)
	}
	if code, _ := get("http://" + ln.Addr().String() + "/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	code, body := get("http://" + mln.Addr().String() + "/metrics")
	if code != http.StatusOK || !strings.Contains(body, `gatehouse_http_requests_total{code="200",method="GET",route="GET /healthz"}`) {
		t.Errorf("metrics listener: %d %.300s", code, body)
	}
}
