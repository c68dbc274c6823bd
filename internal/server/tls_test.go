package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/testca"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLoadCertificateRefuses checks that every broken pair is refused at
// start with a message naming what is wrong.
func TestLoadCertificateRefuses(t *testing.T) {
	ca := testca.New(t)
	dir := t.TempDir()
	certPEM, keyPEM := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	_, otherKey := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		writeTestFile(t, p, b)
		return p
	}
	cert, key := file("cert.pem", certPEM), file("key.pem", keyPEM)
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", filepath.Join(dir, "nope.pem"), key, "tls: certificate file: stat " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"missing key", cert, filepath.Join(dir, "nokey.pem"), "tls: key file: stat " + filepath.Join(dir, "nokey.pem") + ": no such file"},
		{"certificate is not PEM", file("garbage.pem", []byte("hello")), key, "failed to find any PEM data in certificate input"},
		{"key is not PEM", cert, file("garbage-key.pem", []byte("hello")), "failed to find any PEM data in key input"},
		{"key of another certificate", cert, file("other-key.pem", otherKey), "private key does not match public key"},
		{"files swapped", key, cert, "tls: load certificate"},
		{"directory", dir, key, "tls: load certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadCertificate(tt.cert, tt.key, "127.0.0.1", slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadCertificate = %v, %v; want an error with %q", c, err, tt.want)
			}
		})
	}
}

// TestLoadCertificateWarns checks the warnings for a pair that loads but
// that clients would refuse.
func TestLoadCertificateWarns(t *testing.T) {
	ca := testca.New(t)
	dir := t.TempDir()
	certPEM, keyPEM := ca.Issue(time.Now().Add(-time.Minute), "id.example.com")
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestFile(t, cert, certPEM)
	writeTestFile(t, key, keyPEM)
	var logs syncBuffer
	if _, err := LoadCertificate(cert, key, "login.example.org", slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tls certificate has expired", "does not name the issuer's host"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// TestCertificateReload replaces the files under a loaded Certificate:
// nothing changes before the check interval, a good new pair is served
// after it, a broken one is refused with one warning and the old pair
// stays, and a repaired one is taken.
func TestCertificateReload(t *testing.T) {
	ca := testca.New(t)
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(dir, "127.0.0.1")
	var logs syncBuffer
	c, err := LoadCertificate(certFile, keyFile, "127.0.0.1", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c.now = func() time.Time { return now }
	serial := func() string {
		t.Helper()
		got, err := c.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return got.Leaf.SerialNumber.String()
	}
	// replace writes a new pair; the modification time is moved on so
	// the change shows on file systems with coarse timestamps.
	step := 0
	replace := func(certPEM, keyPEM []byte) {
		t.Helper()
		step++
		writeTestFile(t, certFile, certPEM)
		writeTestFile(t, keyFile, keyPEM)
		mod := time.Now().Add(time.Duration(step) * time.Second)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, mod, mod); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := serial()

	c2, k2 := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	replace(c2, k2)
	if got := serial(); got != first {
		t.Fatalf("reloaded before the check interval: %s", got)
	}
	now = now.Add(certCheckInterval)
	second := serial()
	if second == first {
		t.Fatal("the new pair was not loaded after the check interval")
	}
	if !strings.Contains(logs.String(), "tls certificate reloaded") {
		t.Errorf("no reload logged:\n%s", logs.String())
	}

	_, otherKey := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	c3, _ := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	replace(c3, otherKey) // a certificate with the wrong key
	for range 3 {
		now = now.Add(certCheckInterval)
		if got := serial(); got != second {
			t.Fatalf("a broken pair replaced the good one: %s", got)
		}
	}
	if n := strings.Count(logs.String(), "new tls certificate refused"); n != 1 {
		t.Errorf("broken pair reported %d times, want once:\n%s", n, logs.String())
	}

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	now = now.Add(certCheckInterval)
	if got := serial(); got != second {
		t.Fatalf("a missing key replaced the good pair: %s", got)
	}
	if !strings.Contains(logs.String(), "tls certificate files unreadable") {
		t.Errorf("missing key not reported:\n%s", logs.String())
	}

	c4, k4 := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	replace(c4, k4)
	now = now.Add(certCheckInterval)
	if got := serial(); got == second {
		t.Fatal("the repaired pair was not loaded")
	}
}

// TestServeTLS serves the whole handler over https: HTTP/2 for a client
// that offers it, HTTP/1.1 for one that does not, TLS 1.1 refused, and a
// certificate replaced on disk served to the next connection.
func TestServeTLS(t *testing.T) {
	s, _ := newTestServer(t, nil)
	ca := testca.New(t)
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(dir, "127.0.0.1")
	cert, err := LoadCertificate(certFile, keyFile, "127.0.0.1", s.log)
	if err != nil {
		t.Fatal(err)
	}
	cert.every = 0 // look at the files on every handshake
	s.cert = cert
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "https://" + ln.Addr().String()

	get := func(tr *http.Transport) (*http.Response, *x509.Certificate) {
		t.Helper()
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		defer tr.CloseIdleConnections()
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, resp.TLS.PeerCertificates[0]
	}
	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	resp, leaf := get(h2)
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("HTTP/2 client: %d over %s", resp.StatusCode, resp.Proto)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("security headers missing over https")
	}
	h1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}}}
	if resp, _ := get(h1); resp.ProtoMajor != 1 {
		t.Errorf("HTTP/1.1 client answered over %s", resp.Proto)
	}

	old := &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", ln.Addr().String(), old); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}

	c2, k2 := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	writeTestFile(t, certFile, c2)
	writeTestFile(t, keyFile, k2)
	mod := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	_, leaf2 := get(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true})
	if leaf2.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("the replaced certificate was not served to a new connection")
	}

	// A plain-http request to the https port gets Go's 400, not a hang.
	resp, err = http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain http to the https port: %d", resp.StatusCode)
	}
}
