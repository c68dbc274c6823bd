package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/internal/config"
	"gatehouse/internal/testca"
)

// tlsGatehouse is a server that serves https itself with a certificate
// from a test CA.
type tlsGatehouse struct {
	*gatehouse
	ca     *testca.CA
	caFile string // the CA certificate, PEM, for clients that read a file
}

// startGatehouseTLS starts a server on https://127.0.0.1:PORT with a
// certificate for 127.0.0.1 and localhost issued by a fresh test CA.
func startGatehouseTLS(t *testing.T, tweak func(*config.Config)) *tlsGatehouse {
	t.Helper()
	ca := testca.New(t)
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(dir, "127.0.0.1", "localhost")
	g := startGatehouse(t, func(c *config.Config) {
		c.Issuer = "https://" + c.Addr
		c.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
		if tweak != nil {
			tweak(c)
		}
	})
	return &tlsGatehouse{gatehouse: g, ca: ca, caFile: ca.WriteCA(dir)}
}

// client is an HTTP client that trusts only the test CA and offers HTTP/2.
func (g *tlsGatehouse) client() *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: g.ca.Pool()}, ForceAttemptHTTP2: true}
	g.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// cookieRecorder keeps every Set-Cookie header a transport sees,
// redirects included (a cookie jar does not keep the attributes).
type cookieRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex // guards set
	set  []string
}

func (c *cookieRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		c.set = append(c.set, resp.Header.Values("Set-Cookie")...)
		c.mu.Unlock()
	}
	return resp, err
}

// TestEndToEndTLS logs in through the authorization code flow with the
// stock client libraries over https served by Gatehouse itself: HTTP/2,
// the issuer and every endpoint in https, and cookies marked Secure.
func TestEndToEndTLS(t *testing.T) {
	g := startGatehouseTLS(t, nil)
	client := g.client()
	ctx := oidc.ClientContext(t.Context(), client)
	provider, err := oidc.NewProvider(ctx, g.issuer)
	if err != nil {
		t.Fatalf("discovery over https: %v", err)
	}
	var disc struct {
		Token string `json:"token_endpoint"`
		JWKS  string `json:"jwks_uri"`
	}
	if err := provider.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(disc.Token, g.issuer+"/") || !strings.HasPrefix(disc.JWKS, g.issuer+"/") {
		t.Errorf("discovery endpoints %+v are not under %s", disc, g.issuer)
	}
	resp, err := client.Get(g.issuer + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("healthz over %s, TLS %+v", resp.Proto, resp.TLS)
	}

	uid := g.user(userEmail, userPass)
	rec := &cookieRecorder{next: client.Transport}
	if sub := g.login(rec, userEmail, userPass); sub != uid {
		t.Fatalf("signed in as %q, want %q", sub, uid)
	}

	if len(rec.set) == 0 {
		t.Fatal("the login set no cookie")
	}
	for _, c := range rec.set {
		if !strings.Contains(c, "; Secure") {
			t.Errorf("cookie without Secure over https: %s", c)
		}
	}
}

// login signs in through the authorization code flow over https with the
// stock client libraries (a first-party application, so no consent) and
// returns the ID token's subject. rt, when set, carries the browser's
// requests.
func (g *tlsGatehouse) login(rt http.RoundTripper, email, password string) string {
	t := g.t
	t.Helper()
	client := g.client()
	if rt == nil {
		rt = client.Transport
	}
	ctx := oidc.ClientContext(t.Context(), client)
	provider, err := oidc.NewProvider(ctx, g.issuer)
	if err != nil {
		t.Fatalf("discovery over https: %v", err)
	}
	id, secret := g.app(rpCallback, "--first-party")
	conf := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rpCallback,
		Scopes: []string{oidc.ScopeOpenID, "email"}}
	b := newBrowser(t, g.issuer)
	b.c.Transport = rt
	state, nonce, verifier := "state-0123456789", "nonce-0123456789", oauth2.GenerateVerifier()
	p := b.get(conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	p = b.login(p, email, password)
	q := callbackParams(t, p, rpCallback)
	if q.Get("state") != state || q.Get("iss") != g.issuer {
		t.Fatalf("callback %v", q)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange over https: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(ctx, raw)
	if err != nil || idt.Nonce != nonce || idt.Issuer != g.issuer {
		t.Fatalf("id token: %v %+v", err, idt)
	}
	return idt.Subject
}

// TestServeTLSRefusesBadFiles checks that serve refuses a certificate pair
// that does not load, with one line naming the problem, before it creates
// the data directory or the database.
func TestServeTLSRefusesBadFiles(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	ca := testca.New(t)
	certFile, keyFile := ca.IssueFiles(dir, "127.0.0.1")
	_, otherKey := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1")
	otherKeyFile := filepath.Join(dir, "other-key.pem")
	writeFile(t, otherKeyFile, string(otherKey))
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, "not a certificate\n")
	cfgFile := filepath.Join(dir, "tls.yaml")
	writeFile(t, cfgFile, "data_dir: "+dataDir+"\nissuer: https://"+addr+"\ntls:\n  cert_file: "+certFile+"\n")

	serve := []string{"serve", "--addr", addr, "--issuer", "https://" + addr, "--db", "sqlite:" + filepath.Join(dataDir, "g.db")}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing certificate", append(serve, "--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", keyFile),
			"tls: certificate file: stat " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"missing key", append(serve, "--tls-cert", certFile, "--tls-key", filepath.Join(dir, "nope.pem")), "tls: key file: stat"},
		{"not PEM", append(serve, "--tls-cert", garbage, "--tls-key", keyFile), "failed to find any PEM data in certificate input"},
		{"key of another certificate", append(serve, "--tls-cert", certFile, "--tls-key", otherKeyFile), "private key does not match public key"},
		{"certificate without key", append(serve, "--tls-cert", certFile), "tls: cert_file and key_file go together"},
		{"config file certificate without key", []string{"serve", "--addr", addr, "--config", cfgFile}, "tls: cert_file and key_file go together"},
		{"http issuer", []string{"serve", "--addr", addr, "--config", cfgFile, "--issuer", "http://" + addr, "--tls-key", keyFile},
			"must use https when the server serves TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 1 and one line with %q", code, errOut, tt.want)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Fatalf("the data directory was created (%v)", err)
			}
		})
	}
}
