package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/testca"
)

// TestServeMetricsAddr runs serve with --metrics-addr's setting: /metrics
// answers on its own listener and 404 on the public one.
func TestServeMetricsAddr(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := free.Addr().String()
	free.Close()
	g := startGatehouse(t, func(c *config.Config) { c.MetricsAddr = metricsAddr })
	c := &http.Client{Timeout: 10 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(g.issuer + "/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	if code, body := get("http://" + metricsAddr + "/metrics"); code != http.StatusOK || !strings.Contains(body, "gatehouse_http_requests_total") {
		t.Errorf("metrics listener: %d %.200s", code, body)
	}
}

// TestServeACMERefusals checks that serve refuses ACME settings that
// cannot work, and side addresses already in use, with one line and
// before it creates the data directory or the database.
func TestServeACMERefusals(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	certFile, keyFile := testca.New(t).IssueFiles(dir, "id.example.com")
	serve := []string{"serve", "--addr", addr, "--issuer", "https://id.example.com", "--db", "sqlite:" + filepath.Join(dataDir, "g.db")}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"acme and certificate files", append(serve, "--acme-domain", "id.example.com", "--tls-cert", certFile, "--tls-key", keyFile), "exclude each other"},
		{"issuer's host not among the domains", append(serve, "--acme-domain", "www.example.com,api.example.com"), `the issuer's host "id.example.com" must be one of the domains`},
		{"http issuer", []string{"serve", "--addr", addr, "--issuer", "http://localhost:8080", "--acme-domain", "localhost"}, "must use https when the server obtains"},
		{"plain http directory", append(serve, "--acme-domain", "id.example.com", "--acme-directory", "http://ca.example.com/dir"), "must be an https URL"},
		{"acme settings without domains", append(serve, "--acme-email", "ops@example.com"), "without acme.domains"},
		{"challenge address in use", append(serve, "--acme-domain", "id.example.com", "--acme-http-addr", taken.Addr().String()), "listen (acme http-01)"},
		{"metrics address in use", append(serve, "--metrics-addr", taken.Addr().String()), "listen (metrics)"},
		{"metrics on the public address", append(serve, "--metrics-addr", addr), "metrics_addr"},
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
