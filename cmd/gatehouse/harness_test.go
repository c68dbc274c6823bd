package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/store/postgres/pgtest"
)

// gatehouse is a real server started in-process for a test.
type gatehouse struct {
	t      *testing.T
	issuer string
	db     string // the --db value
	cfg    config.Config
}

// startGatehouse runs "serve" on a free loopback port with a fresh SQLite
// database, and stops it when the test ends.
func startGatehouse(t *testing.T, tweak func(*config.Config)) *gatehouse {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Addr = addr
	cfg.Issuer = "http://" + addr
	cfg.DB = testDB(t, dir)
	if !strings.HasPrefix(cfg.DB, "sqlite:") {
		cfg.SecretKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	}
	cfg.Log.Level = "warn"
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- serve(ctx, cfg, log, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	})
	return &gatehouse{t: t, issuer: cfg.Issuer, db: cfg.DB, cfg: cfg}
}

// testDB is the --db of a test's server: a SQLite file in dir, or, with
// GATEHOUSE_TEST_STORE=postgres, a fresh schema of the test PostgreSQL.
func testDB(t *testing.T, dir string) string {
	if os.Getenv("GATEHOUSE_TEST_STORE") == "postgres" {
		return pgtest.FreshSchema(t)
	}
	return "sqlite:" + filepath.Join(dir, "gatehouse.db")
}

// testWriter sends server logs to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// cli runs a gatehouse command line against the server's database.
func (g *gatehouse) cli(stdin string, args ...string) (stdout, stderr string, code int) {
	g.t.Helper()
	var out, errb bytes.Buffer
	e := env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, lookupEnv: func(k string) (string, bool) {
		if k == "GATEHOUSE_SECRET_KEY" && g.cfg.SecretKey != "" {
			return g.cfg.SecretKey, true
		}
		return "", false
	}}
	code = run(g.t.Context(), e, append(args, "--db", g.db))
	return out.String(), errb.String(), code
}

func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		lookupEnv: func(string) (string, bool) { return "", false }}
	code := run(t.Context(), e, args)
	return out.String(), errb.String(), code
}

// app registers an application through the CLI and returns its id and secret.
func (g *gatehouse) app(callback string, extra ...string) (id, secret string) {
	g.t.Helper()
	out, errOut, code := g.cli("", append([]string{"apps", "create", "--name", "Test App", "--callback", callback}, extra...)...)
	if code != 0 {
		g.t.Fatalf("apps create: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`client_id: (\S+)\nclient_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		g.t.Fatalf("apps create printed %q", out)
	}
	return m[1], m[2]
}

// user creates a database user through the CLI and returns its id.
func (g *gatehouse) user(email, password string) string {
	g.t.Helper()
	out, errOut, code := g.cli(password+"\n", "users", "create", "--email", email, "--name", "Test User", "--password-stdin")
	if code != 0 {
		g.t.Fatalf("users create: exit %d: %s", code, errOut)
	}
	return strings.TrimSpace(strings.TrimPrefix(out, "user_id: "))
}

// browser is a cookie-keeping HTTP client that follows redirects on the
// provider and stops at the first redirect to the relying party.
type browser struct {
	t      *testing.T
	c      *http.Client
	issuer string
	// follow are the origins whose redirects the browser follows: the
	// provider's, and upstream providers'. A redirect anywhere else (the
	// relying party) stops it.
	follow []string
	// stopAt, when set, stops the browser at redirects to URLs with this prefix.
	stopAt string
}

func newBrowser(t *testing.T, issuer string, upstreams ...string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, issuer: issuer, follow: append([]string{issuer}, upstreams...)}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			u := req.URL.String()
			if b.stopAt != "" && strings.HasPrefix(u, b.stopAt) {
				return http.ErrUseLastResponse
			}
			for _, o := range b.follow {
				if strings.HasPrefix(u, o+"/") {
					return nil
				}
			}
			return http.ErrUseLastResponse
		}}
	return b
}

// page is a fetched response with its body.
type page struct {
	status   int
	url      *url.URL // the final URL on the provider
	location string   // a redirect away from the provider, if any
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, url: resp.Request.URL, body: string(body), header: resp.Header}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		p.location = resp.Header.Get("Location")
		if loc, err := resp.Request.URL.Parse(p.location); err == nil {
			p.location = loc.String() // relative redirects made absolute
		}
	}
	return p
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// formValues returns the hidden inputs of a page.
func formValues(t *testing.T, p page) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" || v.Get("req") == "" {
		t.Fatalf("page %s (status %d) has no form:\n%s", p.url, p.status, p.body)
	}
	return v
}

// login fills the login page p.
func (b *browser) login(p page, email, password string) page {
	b.t.Helper()
	if !strings.HasPrefix(p.url.Path, "/u/login") {
		b.t.Fatalf("expected the login page, got %s (%d): %s", p.url, p.status, p.body)
	}
	v := formValues(b.t, p)
	v.Set("email", email)
	v.Set("password", password)
	return b.post(origin(p.url)+"/u/login", v)
}

// consent answers the consent page p with "accept" or "deny".
func (b *browser) consent(p page, action string) page {
	b.t.Helper()
	if !strings.HasPrefix(p.url.Path, "/u/consent") {
		b.t.Fatalf("expected the consent page, got %s (%d): %s", p.url, p.status, p.body)
	}
	v := formValues(b.t, p)
	v.Set("action", action)
	return b.post(origin(p.url)+"/u/consent", v)
}

// origin is the scheme and host of u: the provider that served a page.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

func mustCompile(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }

// callback parses the redirect to the relying party.
func callbackParams(t *testing.T, p page, callback string) url.Values {
	t.Helper()
	if p.location == "" || !strings.HasPrefix(p.location, callback) {
		t.Fatalf("expected a redirect to %s, got status %d at %s location %q:\n%s", callback, p.status, p.url, p.location, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
