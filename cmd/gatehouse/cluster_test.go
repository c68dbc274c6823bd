package main

// The cluster tests run the real gatehouse binary as separate processes on
// one PostgreSQL schema, as an operator would behind a load balancer
// (issue 3): TestClusterReplicas drives flows across three replicas while
// one is killed and restarted and the signing keys rotate, and
// TestClusterReadiness cuts one replica off from PostgreSQL and back.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/internal/store/postgres/pgtest"
)

const (
	// clusterPinHeader names the replica (0, 1, 2) that must serve a
	// request; the load balancer strips it. Without it, round-robin.
	clusterPinHeader = "X-Cluster-Test-Replica"
	// clusterServedHeader is set by the load balancer on every response:
	// the replica it sent the request to.
	clusterServedHeader = "X-Cluster-Test-Served-By"
	// clusterProxyErrHeader marks the load balancer's own 502 when the
	// replica could not be reached or dropped the connection.
	clusterProxyErrHeader = "X-Cluster-Test-Proxy-Error"
	// clusterReplicaDown is in the error of a JWKS fetch pinned to a
	// replica that is down.
	clusterReplicaDown = "cluster test: replica down"

	clusterPassword = "cluster correct horse"

	// clusterConfigYAML is every process's --config: signing keys re-read
	// every second (so a rotation reaches all replicas quickly), a short
	// PostgreSQL connect timeout (so an outage fails fast), and the
	// cheapest argon2id the config allows (so logins do not dominate the
	// load on a small CI machine), no limit on login requests per client
	// address (every flow comes from 127.0.0.1), and rotated refresh
	// tokens strictly single-use, so that the replays and races across
	// replicas test reuse detection (the grace period would hand a replay
	// within 30 s the successor again).
	clusterConfigYAML = `tokens:
  keys_cache_ttl: 1s
  refresh_token_grace_period: 0s
postgres:
  max_conns: 10
  connect_timeout: 2s
password:
  memory_kib: 8192
  iterations: 1
  parallelism: 1
  min_length: 8
throttle:
  pending_requests_per_ip: 0
`
)

// clusterBuild is the gatehouse binary the cluster tests run, built once
// per test process.
var clusterBuild struct {
	once sync.Once
	path string
	err  error
}

// clusterBinary builds this command with the go tool on PATH (go test puts
// GOROOT/bin first). The output directory under the system temp dir is
// named after this package's directory rather than made afresh, so that a
// later run finds the binary up to date (go build then skips the link) and
// runs do not pile binaries up in /tmp.
func clusterBinary(t *testing.T) string {
	t.Helper()
	clusterBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		wd, err := os.Getwd()
		if err != nil {
			clusterBuild.err = err
			return
		}
		sum := sha256.Sum256([]byte(wd))
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("gatehouse-cluster-test-%x", sum[:6]))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			clusterBuild.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		path := filepath.Join(dir, "gatehouse")
		if out, err := exec.CommandContext(ctx, goTool, "build", "-o", path, ".").CombinedOutput(); err != nil {
			clusterBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		clusterBuild.path = path
	})
	if clusterBuild.err != nil {
		t.Fatal(clusterBuild.err)
	}
	return clusterBuild.path
}

// clusterEnv runs the gatehouse binary against one PostgreSQL schema with
// one master key and one config file, as an operator's replicas would.
type clusterEnv struct {
	t       *testing.T
	bin     string
	dsn     string   // the schema's DSN, straight to PostgreSQL
	config  string   // the --config file
	environ []string // every process's environment
}

func newClusterEnv(t *testing.T) *clusterEnv {
	t.Helper()
	pgtest.DSN(t) // skip (or fail under CI=true) before building anything
	bin := clusterBinary(t)
	dsn := pgtest.FreshSchema(t)
	config := filepath.Join(t.TempDir(), "gatehouse.yaml")
	writeFile(t, config, clusterConfigYAML)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") { // the test's own settings are not the servers'
			environ = append(environ, kv)
		}
	}
	environ = append(environ, "GATEHOUSE_SECRET_KEY="+base64.StdEncoding.EncodeToString(key))
	return &clusterEnv{t: t, bin: bin, dsn: dsn, config: config, environ: environ}
}

// cli runs one administration command of the binary on the schema.
func (e *clusterEnv) cli(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, append(slices.Clone(args), "--db", e.dsn, "--config", e.config)...)
	cmd.Env = e.environ
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("gatehouse %s: %v: %s", strings.Join(args[:min(2, len(args))], " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// app registers a third-party application (so that consent is asked)
// allowed to use refresh tokens.
func (e *clusterEnv) app() (id, secret string) {
	e.t.Helper()
	out, err := e.cli("", "apps", "create", "--name", "Cluster App", "--callback", rpCallback, "--allow-offline-access")
	if err != nil {
		e.t.Fatal(err)
	}
	m := regexp.MustCompile(`client_id: (\S+)\nclient_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		e.t.Fatalf("apps create printed %q", out)
	}
	return m[1], m[2]
}

// clusterUser is a database user of the test.
type clusterUser struct{ id, email string }

// users creates database users with the binary, a few at a time.
func (e *clusterEnv) users(emails ...string) []clusterUser {
	e.t.Helper()
	users := make([]clusterUser, len(emails))
	errs := make([]error, len(emails))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, email := range emails {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := e.cli(clusterPassword+"\n", "users", "create", "--email", email, "--name", "Cluster User", "--password-stdin")
			users[i] = clusterUser{id: strings.TrimSpace(strings.TrimPrefix(out, "user_id: ")), email: email}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatal(err)
	}
	return users
}

// replica prepares "gatehouse serve" on addr; the test's cleanup kills it.
func (e *clusterEnv) replica(name, addr, issuer, dsn string) *clusterProc {
	p := &clusterProc{name: name, addr: addr, bin: e.bin, environ: e.environ,
		args: []string{"serve", "--addr", addr, "--issuer", issuer, "--db", dsn, "--config", e.config, "--log-level", "warn"}}
	e.t.Cleanup(func() {
		p.kill()
		if e.t.Failed() {
			e.t.Logf("replica %s log:\n%s", p.name, clusterTail(p.logText(), 4000))
		}
	})
	return p
}

// clusterProc is one replica process, which may be killed and started again.
type clusterProc struct {
	name, addr, bin string
	args, environ   []string

	mu     sync.Mutex // guards cmd, exited and logs
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	logs   []*clusterLog // one per start
}

func (p *clusterProc) start() error {
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.environ
	lg := &clusterLog{}
	cmd.Stdout, cmd.Stderr = lg, lg
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start replica %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited, p.logs = cmd, exited, append(p.logs, lg)
	p.mu.Unlock()
	return nil
}

// kill sends SIGKILL: no graceful shutdown, connections simply drop.
func (p *clusterProc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// running reports whether the last start has not exited.
func (p *clusterProc) running() bool {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// waitReady polls /readyz until it answers 200.
func (p *clusterProc) waitReady(within time.Duration) error {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		select {
		case <-exited:
			return fmt.Errorf("replica %s exited:\n%s", p.name, clusterTail(p.logText(), 2000))
		default:
		}
		if resp, err := c.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s not ready after %v:\n%s", p.name, within, clusterTail(p.logText(), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *clusterProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for i, lg := range p.logs {
		fmt.Fprintf(&b, "--- start %d ---\n%s", i+1, lg.String())
	}
	return b.String()
}

// clusterLog collects a process's output.
type clusterLog struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (l *clusterLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *clusterLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func clusterTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// clusterCheckLogs fails the test on a panic or an ERROR line in any
// replica's log: the server logs unexpected (500) errors at that level.
// With unavailableOK, ERROR lines about the database being unavailable
// are only reported: the outage test causes them on purpose, and the
// answers themselves are checked.
func clusterCheckLogs(t *testing.T, unavailableOK bool, procs ...*clusterProc) {
	t.Helper()
	for _, p := range procs {
		var bad, tolerated []string
		for line := range strings.Lines(p.logText()) {
			line = strings.TrimSpace(line)
			switch {
			case strings.Contains(line, "panic") || strings.Contains(line, "goroutine "):
				bad = append(bad, line)
			case strings.Contains(line, "level=ERROR"):
				if unavailableOK && strings.Contains(line, "database unavailable") {
					tolerated = append(tolerated, line)
				} else {
					bad = append(bad, line)
				}
			}
		}
		if len(bad) > 0 {
			t.Errorf("replica %s logged %d panic/ERROR lines, e.g.:\n%s", p.name, len(bad), strings.Join(bad[:min(5, len(bad))], "\n"))
		}
		if len(tolerated) > 0 {
			t.Logf("replica %s logged %d ERROR lines for the outage (WARN elsewhere), e.g.:\n%s", p.name, len(tolerated), strings.Join(tolerated[:min(3, len(tolerated))], "\n"))
		}
	}
}

func clusterFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// clusterLB is the load balancer in front of the replicas: round-robin
// per request, or the replica a request names in clusterPinHeader. Like a
// balancer without health checks it keeps sending a dead replica its
// share; the client then gets a 502 marked with clusterProxyErrHeader.
// It keeps the Host header, so every replica sees the one issuer.
type clusterLB struct {
	url         string
	proxies     []*httputil.ReverseProxy
	next        atomic.Uint64
	down        []atomic.Bool  // replicas the test has killed and not yet seen ready again
	answered    []atomic.Int64 // responses each replica gave
	proxyErrors atomic.Int64   // requests no replica answered

	mu           sync.Mutex // guards serverErrors
	serverErrors []string   // 5xx responses from a replica
}

func newClusterLB(t *testing.T, ln net.Listener, backends []string) *clusterLB {
	lb := &clusterLB{url: "http://" + ln.Addr().String(),
		down: make([]atomic.Bool, len(backends)), answered: make([]atomic.Int64, len(backends))}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 20 * time.Second,
	}
	for i, addr := range backends {
		target := &url.URL{Scheme: "http", Host: addr}
		lb.proxies = append(lb.proxies, &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Host = pr.In.Host
				pr.SetXForwarded()
			},
			Transport: tr,
			ModifyResponse: func(resp *http.Response) error {
				lb.answered[i].Add(1)
				if resp.StatusCode >= 500 {
					lb.mu.Lock()
					lb.serverErrors = append(lb.serverErrors, fmt.Sprintf("replica %d: %s %s: %s", i, resp.Request.Method, resp.Request.URL.Path, resp.Status))
					lb.mu.Unlock()
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				lb.proxyErrors.Add(1)
				w.Header().Set(clusterProxyErrHeader, "1")
				http.Error(w, fmt.Sprintf("cluster load balancer: replica %d: %v", i, err), http.StatusBadGateway)
			},
			ErrorLog: log.New(io.Discard, "", 0),
		})
	}
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return lb
}

func (lb *clusterLB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := -1
	if v := r.Header.Get(clusterPinHeader); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			i = n
		}
		r.Header.Del(clusterPinHeader)
	}
	if i < 0 || i >= len(lb.proxies) {
		i = int((lb.next.Add(1) - 1) % uint64(len(lb.proxies)))
	}
	w.Header().Set(clusterServedHeader, strconv.Itoa(i))
	lb.proxies[i].ServeHTTP(w, r)
}

// other returns a replica that is neither avoid nor down, if there is one.
func (lb *clusterLB) other(avoid int) int {
	n := len(lb.proxies)
	for k := 1; k < n; k++ {
		if i := (avoid + k + n) % n; !lb.down[i].Load() {
			return i
		}
	}
	return (avoid + 1 + n) % n
}

// clusterHop is one request a client sent through the load balancer.
type clusterHop struct {
	method, path string
	replica      int // -1 when unknown
	status       int
	connErr      bool // the replica could not be reached or dropped the connection
}

// clusterTransport records which replica served each request of one
// client and, when pin is set (≥ 0), sends every request to that replica.
type clusterTransport struct {
	base http.RoundTripper
	pin  atomic.Int32

	mu   sync.Mutex // guards hops
	hops []clusterHop
}

func newClusterTransport(base http.RoundTripper) *clusterTransport {
	tr := &clusterTransport{base: base}
	tr.pin.Store(-1)
	return tr
}

func (c *clusterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if p := c.pin.Load(); p >= 0 && req.Header.Get(clusterPinHeader) == "" {
		req = req.Clone(req.Context())
		req.Header.Set(clusterPinHeader, strconv.Itoa(int(p)))
	}
	resp, err := c.base.RoundTrip(req)
	h := clusterHop{method: req.Method, path: req.URL.Path, replica: -1}
	if err != nil {
		// The balancer aborts a response whose replica died in the middle;
		// a timeout, though, is a hang, not a kill.
		var ne net.Error
		h.connErr = !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, context.DeadlineExceeded)
	} else {
		h.status = resp.StatusCode
		if v, err := strconv.Atoi(resp.Header.Get(clusterServedHeader)); err == nil {
			h.replica = v
		}
		h.connErr = resp.Header.Get(clusterProxyErrHeader) != ""
	}
	c.mu.Lock()
	c.hops = append(c.hops, h)
	c.mu.Unlock()
	return resp, err
}

func (c *clusterTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.hops)
}

// since returns the hops from the n-th on.
func (c *clusterTransport) since(n int) []clusterHop {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.hops[min(n, len(c.hops)):])
}

// connErrors counts requests that met a dead replica.
func (c *clusterTransport) connErrors() int {
	n := 0
	for _, h := range c.since(0) {
		if h.connErr {
			n++
		}
	}
	return n
}

// clusterRetryTransport retries a GET the load balancer could not deliver
// (a relying party would simply fetch its JWKS again), then reports the
// replica down as an error. pin ≥ 0 sends every request to that replica.
type clusterRetryTransport struct {
	base    http.RoundTripper
	pin     int
	retries *atomic.Int64
}

func (c clusterRetryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if c.pin >= 0 {
			r.Header.Set(clusterPinHeader, strconv.Itoa(c.pin))
		}
		resp, err := c.base.RoundTrip(r)
		if err != nil || resp.Header.Get(clusterProxyErrHeader) == "" {
			return resp, err
		}
		resp.Body.Close()
		if attempt == 3 || req.Method != http.MethodGet {
			return nil, errors.New(clusterReplicaDown)
		}
		c.retries.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterBrowser is one user agent: a cookie jar, and a client that
// follows redirects within the provider by itself so that each request of
// a redirect chain goes through the balancer and clusterTransport.
type clusterBrowser struct {
	c      *http.Client
	tr     *clusterTransport
	issuer string
}

func newClusterBrowser(base http.RoundTripper, issuer string) *clusterBrowser {
	jar, _ := cookiejar.New(nil)
	tr := newClusterTransport(base)
	return &clusterBrowser{tr: tr, issuer: issuer, c: &http.Client{Jar: jar, Transport: tr, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// clusterPage is where a browser request ended.
type clusterPage struct {
	status   int
	url      *url.URL // the last URL fetched on the provider
	location string   // a redirect away from the provider (the relying party)
	body     string
}

func (b *clusterBrowser) fetch(ctx context.Context, method, u string, form url.Values) (clusterPage, error) {
	for range 10 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return clusterPage{}, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := b.c.Do(req)
		if err != nil {
			return clusterPage{}, err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return clusterPage{}, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
		}
		p := clusterPage{status: resp.StatusCode, url: req.URL, body: string(data)}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return p, nil
		}
		loc, err := resp.Location()
		if err != nil {
			return p, fmt.Errorf("%s %s: redirect without location: %w", method, req.URL.Path, err)
		}
		if !strings.HasPrefix(loc.String(), b.issuer+"/") {
			p.location = loc.String()
			return p, nil
		}
		method, u, form = http.MethodGet, loc.String(), nil
	}
	return clusterPage{}, errors.New("more than 10 redirects")
}

// clusterHidden returns a page's hidden form inputs.
func clusterHidden(p clusterPage) (url.Values, error) {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" || v.Get("req") == "" {
		return nil, fmt.Errorf("page %s (status %d) has no form: %.300s", p.url, p.status, p.body)
	}
	return v, nil
}

// clusterRP is the relying party: x/oauth2 for the protocol, go-oidc for
// discovery, ID token verification and userinfo, all through the balancer.
type clusterRP struct {
	issuer   string
	provider *oidc.Provider
	conf     oauth2.Config
	// verifier fetches the JWKS through the balancer, again whenever it
	// meets a kid it has not seen.
	verifier *oidc.IDTokenVerifier
	// replicaVerifiers do the same against one replica's JWKS each.
	replicaVerifiers []*oidc.IDTokenVerifier
	jwksRetries      atomic.Int64
}

func newClusterRP(t *testing.T, base http.RoundTripper, issuer, clientID, secret string, replicas int) *clusterRP {
	t.Helper()
	r := &clusterRP{issuer: issuer}
	client := &http.Client{Timeout: 10 * time.Second, Transport: clusterRetryTransport{base: base, pin: -1, retries: &r.jwksRetries}}
	provider, err := oidc.NewProvider(oidc.ClientContext(context.Background(), client), issuer)
	if err != nil {
		t.Fatalf("discovery through the balancer: %v", err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	endpoint := provider.Endpoint()
	// One style, so that x/oauth2 never retries a refused code or refresh
	// token in another style (its auto-detection would).
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	r.provider = provider
	r.conf = oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: endpoint, RedirectURL: rpCallback,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
	r.verifier = provider.Verifier(&oidc.Config{ClientID: clientID})
	for i := range replicas {
		pinned := &http.Client{Timeout: 10 * time.Second, Transport: clusterRetryTransport{base: base, pin: i, retries: &r.jwksRetries}}
		keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), pinned), meta.JWKS)
		r.replicaVerifiers = append(r.replicaVerifiers, oidc.NewVerifier(issuer, keys, &oidc.Config{ClientID: clientID}))
	}
	return r
}

// clusterWrong marks a wrong answer, as opposed to a failed request: it
// fails the test whether or not the flow met a dead replica.
type clusterWrong struct{ error }

func clusterWrongf(format string, args ...any) error {
	return clusterWrong{fmt.Errorf(format, args...)}
}

// clusterStats are the load's numbers.
type clusterStats struct {
	attempted, succeeded, killed, failed, wrong atomic.Int64

	idTokens, verifyFailures, replicaMisses, replicaSkipped atomic.Int64

	// Sequential replays of a used code or rotated refresh token, and
	// their answers.
	replays, replaysRefused, replaysSkipped atomic.Int64
	// Requests of the races, and their answers.
	raceRequests, raceWins, raceRefused, raceSkipped atomic.Int64
	codeRaces, codeRacesOneWinner, codeRacesNoWinner atomic.Int64
	refreshRaces, refreshRacesOneWinner              atomic.Int64
	refreshRacesNoWinner                             atomic.Int64

	mu          sync.Mutex     // guards the maps and samples
	codeWins    map[string]int // code → successful redemptions
	refreshWins map[string]int // refresh token → successful redemptions
	kids        map[string]int // kid → ID tokens signed with it
	samples     []string       // the first failures, for the log
}

func (s *clusterStats) issued(m map[string]int, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := m[v]; !ok {
		m[v] = 0
	}
}

// redeemed counts a successful redemption and reports whether it was the first.
func (s *clusterStats) redeemed(m map[string]int, v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m[v]++
	return m[v] == 1
}

func (s *clusterStats) sample(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) < 12 {
		s.samples = append(s.samples, fmt.Sprintf(format, args...))
	}
}

// maxWins returns how many values m holds and the most successful
// redemptions of any one.
func (s *clusterStats) maxWins(m map[string]int) (n, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range m {
		most = max(most, c)
	}
	return len(m), most
}

// clusterRun is a relying party and its users driving the cluster.
type clusterRun struct {
	issuer string
	lb     *clusterLB // nil without a balancer
	base   http.RoundTripper
	rp     *clusterRP
	stats  *clusterStats
}

func newClusterStats() *clusterStats {
	return &clusterStats{codeWins: map[string]int{}, refreshWins: map[string]int{}, kids: map[string]int{}}
}

// clusterAuthz is one authorization request's secrets.
type clusterAuthz struct{ state, nonce, verifier string }

// authorize runs /authorize → login page → login POST → consent (when
// asked) up to the redirect to the relying party, and returns the code.
// step, when set, is called before each step's first request.
func (c *clusterRun) authorize(ctx context.Context, b *clusterBrowser, u clusterUser, step func(string)) (code string, a clusterAuthz, consent bool, err error) {
	if step == nil {
		step = func(string) {}
	}
	a = clusterAuthz{state: oauth2.GenerateVerifier()[:22], nonce: oauth2.GenerateVerifier()[:22], verifier: oauth2.GenerateVerifier()}
	authURL := c.rp.conf.AuthCodeURL(a.state, oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier))
	step("authorize")
	p, err := b.fetch(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return "", a, false, fmt.Errorf("authorize: %w", err)
	}
	if p.status != http.StatusOK || p.url.Path != "/u/login" {
		return "", a, false, fmt.Errorf("authorize: expected the login page, got %d at %s: %.300s", p.status, p.url, p.body)
	}
	form, err := clusterHidden(p)
	if err != nil {
		return "", a, false, err
	}
	form.Set("email", u.email)
	form.Set("password", clusterPassword)
	step("login")
	if p, err = b.fetch(ctx, http.MethodPost, c.issuer+"/u/login", form); err != nil {
		return "", a, false, fmt.Errorf("login: %w", err)
	}
	if p.location == "" && p.url.Path == "/u/consent" {
		consent = true
		if form, err = clusterHidden(p); err != nil {
			return "", a, true, err
		}
		form.Set("action", "accept")
		step("consent")
		if p, err = b.fetch(ctx, http.MethodPost, c.issuer+"/u/consent", form); err != nil {
			return "", a, true, fmt.Errorf("consent: %w", err)
		}
	}
	if !strings.HasPrefix(p.location, rpCallback+"?") {
		return "", a, consent, fmt.Errorf("login: expected a redirect to the app, got %d at %s: %.300s", p.status, p.url, p.body)
	}
	cb, err := url.Parse(p.location)
	if err != nil {
		return "", a, consent, clusterWrongf("callback %q: %v", p.location, err)
	}
	q := cb.Query()
	if q.Get("error") != "" {
		return "", a, consent, fmt.Errorf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state || q.Get("iss") != c.issuer || q.Get("code") == "" {
		return "", a, consent, clusterWrongf("callback state %q iss %q code %q; want state %q iss %q", q.Get("state"), q.Get("iss"), q.Get("code"), a.state, c.issuer)
	}
	c.stats.issued(c.stats.codeWins, q.Get("code"))
	return q.Get("code"), a, consent, nil
}

// verify checks an ID token through the balancer's JWKS and against each
// replica's own JWKS, and its nonce (when given) and subject.
func (c *clusterRun) verify(ctx context.Context, raw, nonce string, u clusterUser) (*oidc.IDToken, error) {
	c.stats.idTokens.Add(1)
	if raw == "" {
		return nil, clusterWrongf("no id_token in the token response")
	}
	idt, err := c.rp.verifier.Verify(ctx, raw)
	if err != nil {
		c.stats.verifyFailures.Add(1)
		return nil, clusterWrongf("verify ID token (kid %s) with the JWKS through the balancer: %v", clusterKid(raw), err)
	}
	c.stats.mu.Lock()
	c.stats.kids[clusterKid(raw)]++
	c.stats.mu.Unlock()
	for i, v := range c.rp.replicaVerifiers {
		if _, err := v.Verify(ctx, raw); err != nil {
			if strings.Contains(err.Error(), clusterReplicaDown) {
				c.stats.replicaSkipped.Add(1)
				continue
			}
			c.stats.replicaMisses.Add(1)
			return nil, clusterWrongf("verify ID token (kid %s) with replica %d's JWKS: %v", clusterKid(raw), i, err)
		}
	}
	if nonce != "" && idt.Nonce != nonce {
		return nil, clusterWrongf("ID token nonce %q, want %q", idt.Nonce, nonce)
	}
	if idt.Subject != u.id {
		return nil, clusterWrongf("ID token sub %q, want %q", idt.Subject, u.id)
	}
	return idt, nil
}

// clusterKid is the kid in a JWT's header.
func clusterKid(raw string) string {
	head, _, _ := strings.Cut(raw, ".")
	data, err := base64URLDecode(head)
	if err != nil {
		return "?"
	}
	var h struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(data, &h)
	return h.Kid
}

// exchange redeems a code with x/oauth2 and checks the tokens.
func (c *clusterRun) exchange(ctx context.Context, b *clusterBrowser, u clusterUser, code string, a clusterAuthz) (*oauth2.Token, int, error) {
	n := b.tr.count()
	tok, err := c.rp.conf.Exchange(oidc.ClientContext(ctx, b.c), code, oauth2.VerifierOption(a.verifier))
	replica := -1
	if hops := b.tr.since(n); len(hops) > 0 {
		replica = hops[0].replica
	}
	if err != nil {
		return nil, replica, fmt.Errorf("exchange: %w", err)
	}
	if !c.stats.redeemed(c.stats.codeWins, code) {
		return nil, replica, clusterWrongf("code redeemed a second time")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := c.verify(ctx, raw, a.nonce, u)
	if err != nil {
		return nil, replica, err
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return nil, replica, clusterWrongf("at_hash: %v", err)
	}
	if tok.RefreshToken == "" {
		return nil, replica, clusterWrongf("no refresh token despite offline_access")
	}
	c.stats.issued(c.stats.refreshWins, tok.RefreshToken)
	return tok, replica, nil
}

// refresh uses tok's refresh token through x/oauth2's token source.
func (c *clusterRun) refresh(ctx context.Context, b *clusterBrowser, u clusterUser, tok *oauth2.Token) (*oauth2.Token, int, error) {
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	n := b.tr.count()
	next, err := c.rp.conf.TokenSource(oidc.ClientContext(ctx, b.c), &old).Token()
	replica := -1
	if hops := b.tr.since(n); len(hops) > 0 {
		replica = hops[0].replica
	}
	if err != nil {
		return nil, replica, fmt.Errorf("refresh: %w", err)
	}
	if !c.stats.redeemed(c.stats.refreshWins, tok.RefreshToken) {
		return nil, replica, clusterWrongf("refresh token redeemed a second time")
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		return nil, replica, clusterWrongf("refresh did not rotate the tokens")
	}
	c.stats.issued(c.stats.refreshWins, next.RefreshToken)
	raw, _ := next.Extra("id_token").(string)
	if _, err := c.verify(ctx, raw, "", u); err != nil {
		return nil, replica, err
	}
	return next, replica, nil
}

// userinfo checks the access token at /userinfo with go-oidc.
func (c *clusterRun) userinfo(ctx context.Context, b *clusterBrowser, u clusterUser, tok *oauth2.Token) error {
	info, err := c.rp.provider.UserInfo(oidc.ClientContext(ctx, b.c), oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if info.Subject != u.id || info.Email != u.email {
		return clusterWrongf("userinfo sub %q email %q, want %q %q", info.Subject, info.Email, u.id, u.email)
	}
	return nil
}

// clusterTokenReply is one raw token endpoint response.
type clusterTokenReply struct {
	status  int
	errCode string
	body    map[string]any
	connErr bool // the balancer could not reach the replica
	err     error
}

// postToken sends a token request to one replica, authenticating the
// client with HTTP Basic (RFC 6749 §2.3.1).
func (c *clusterRun) postToken(ctx context.Context, rt http.RoundTripper, replica int, form url.Values) clusterTokenReply {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return clusterTokenReply{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(clusterPinHeader, strconv.Itoa(replica))
	req.SetBasicAuth(url.QueryEscape(c.rp.conf.ClientID), url.QueryEscape(c.rp.conf.ClientSecret))
	resp, err := (&http.Client{Transport: rt, Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return clusterTokenReply{err: err, connErr: true}
	}
	defer resp.Body.Close()
	r := clusterTokenReply{status: resp.StatusCode, connErr: resp.Header.Get(clusterProxyErrHeader) != ""}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r.body)
	r.errCode, _ = r.body["error"].(string)
	return r
}

// replay redeems a used code or a rotated refresh token again on another
// replica than the one that took it: the answer must be invalid_grant.
func (c *clusterRun) replay(ctx context.Context, b *clusterBrowser, what string, m map[string]int, value string, avoid int, form url.Values) error {
	c.stats.replays.Add(1)
	target := c.lb.other(avoid)
	r := c.postToken(ctx, b.tr, target, form)
	switch {
	case r.connErr:
		c.stats.replaysSkipped.Add(1)
		return nil
	case r.status == http.StatusOK:
		c.stats.redeemed(m, value)
		return clusterWrongf("replayed %s accepted by replica %d", what, target)
	case r.status == http.StatusBadRequest && r.errCode == "invalid_grant":
		c.stats.replaysRefused.Add(1)
		return nil
	}
	return clusterWrongf("replayed %s on replica %d: %d %v %v", what, target, r.status, r.body, r.err)
}

// race sends one token request to every replica at once and counts the
// successes: at most one may succeed, the others must say invalid_grant.
func (c *clusterRun) race(ctx context.Context, b *clusterBrowser, what string, m map[string]int, value string, form url.Values) (winner map[string]any, connErrs int, err error) {
	replies := make([]clusterTokenReply, len(c.lb.proxies))
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() { replies[i] = c.postToken(ctx, b.tr, i, form) })
	}
	wg.Wait()
	wins := 0
	for i, r := range replies {
		switch {
		case r.connErr:
			connErrs++
		case r.status == http.StatusOK:
			wins++
			winner = r.body
			c.stats.redeemed(m, value)
		case r.status == http.StatusBadRequest && r.errCode == "invalid_grant":
			c.stats.raceRefused.Add(1)
		default:
			return nil, connErrs, clusterWrongf("racing %s: replica %d answered %d %v %v", what, i, r.status, r.body, r.err)
		}
	}
	c.stats.raceRequests.Add(int64(len(replies)))
	c.stats.raceWins.Add(int64(wins))
	c.stats.raceSkipped.Add(int64(connErrs))
	if wins > 1 {
		return nil, connErrs, clusterWrongf("racing %s: %d replicas accepted it", what, wins)
	}
	return winner, connErrs, nil
}

// loadFlow is one flow of the load: login → code → token → refresh →
// userinfo, with a probe that depends on i: every fourth flow replays its
// code and old refresh token on other replicas, every fourth races its
// code on all replicas instead of the plain exchange (and stops there, the
// losers having revoked the grant), every fourth races its last refresh
// token on all replicas.
func (c *clusterRun) loadFlow(ctx context.Context, i int, u clusterUser) (*clusterBrowser, error) {
	b := newClusterBrowser(c.base, c.issuer)
	code, a, _, err := c.authorize(ctx, b, u, nil)
	if err != nil {
		return b, err
	}
	codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "code_verifier": {a.verifier}}
	if i%4 == 2 {
		c.stats.codeRaces.Add(1)
		winner, connErrs, err := c.race(ctx, b, "a code", c.stats.codeWins, code, codeForm)
		switch {
		case err != nil:
			return b, err
		case winner == nil && connErrs == 0:
			// The store settles a code by one row lock: someone must win.
			c.stats.codeRacesNoWinner.Add(1)
			return b, errors.New("racing a code: no replica accepted it")
		case winner == nil:
			c.stats.codeRacesNoWinner.Add(1)
			return b, errors.New("racing a code: no winner among the replicas reached")
		}
		c.stats.codeRacesOneWinner.Add(1)
		if rt, _ := winner["refresh_token"].(string); rt != "" {
			c.stats.issued(c.stats.refreshWins, rt)
		}
		raw, _ := winner["id_token"].(string)
		_, err = c.verify(ctx, raw, a.nonce, u)
		return b, err
	}
	tok, codeReplica, err := c.exchange(ctx, b, u, code, a)
	if err != nil {
		return b, err
	}
	tok2, refreshReplica, err := c.refresh(ctx, b, u, tok)
	if err != nil {
		return b, err
	}
	if err := c.userinfo(ctx, b, u, tok2); err != nil {
		return b, err
	}
	switch i % 4 {
	case 1:
		if err := c.replay(ctx, b, "code", c.stats.codeWins, code, codeReplica, codeForm); err != nil {
			return b, err
		}
		old := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		if err := c.replay(ctx, b, "rotated refresh token", c.stats.refreshWins, tok.RefreshToken, refreshReplica, old); err != nil {
			return b, err
		}
		// Replaying a rotated token revokes its family (and the code's
		// replay its grant), on every replica.
		latest := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2.RefreshToken}}
		if err := c.replay(ctx, b, "refresh token of a revoked family", c.stats.refreshWins, tok2.RefreshToken, refreshReplica, latest); err != nil {
			return b, err
		}
	case 3:
		c.stats.refreshRaces.Add(1)
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2.RefreshToken}}
		winner, connErrs, err := c.race(ctx, b, "a refresh token", c.stats.refreshWins, tok2.RefreshToken, form)
		if err != nil {
			return b, err
		}
		if winner == nil {
			// A loser's replay may revoke the family before the winner
			// answers, and then the winner refuses too: safe, and counted.
			if connErrs == 0 {
				c.stats.refreshRacesNoWinner.Add(1)
			}
			return b, nil
		}
		c.stats.refreshRacesOneWinner.Add(1)
		if rt, _ := winner["refresh_token"].(string); rt != "" {
			c.stats.issued(c.stats.refreshWins, rt)
		}
		raw, _ := winner["id_token"].(string)
		if _, err := c.verify(ctx, raw, "", u); err != nil {
			return b, err
		}
	}
	return b, nil
}

// TestClusterReplicas runs three gatehouse serve processes on one
// PostgreSQL schema behind a balancer in the test: one flow that changes
// replica at every step, then a load of concurrent flows while a replica
// is killed and restarted and the signing keys are rotated twice.
func TestClusterReplicas(t *testing.T) {
	e := newClusterEnv(t)
	lbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + lbLn.Addr().String()
	names := []string{"A", "B", "C"}
	addrs := make([]string, len(names))
	for i := range addrs {
		addrs[i] = clusterFreeAddr(t)
	}
	lb := newClusterLB(t, lbLn, addrs)
	procs := make([]*clusterProc, len(names))
	for i, name := range names {
		procs[i] = e.replica(name, addrs[i], issuer, e.dsn)
	}
	// Started together on an empty schema: the migrations' lock must
	// let exactly one of them migrate.
	startedAt := time.Now()
	for _, p := range procs {
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.waitReady(30 * time.Second) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 replicas ready %v after starting together on an empty schema", time.Since(startedAt).Round(time.Millisecond))

	clientID, secret := e.app()
	const workers = 8
	emails := []string{"hop@cluster.test"}
	for w := range workers {
		emails = append(emails, fmt.Sprintf("worker%d@cluster.test", w))
	}
	users := e.users(emails...)
	base := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(base.CloseIdleConnections)
	rp := newClusterRP(t, base, issuer, clientID, secret, len(procs))
	c := &clusterRun{issuer: issuer, lb: lb, base: base, rp: rp, stats: newClusterStats()}

	t.Run("hops", func(t *testing.T) { clusterHopFlow(t, c, users[0]) })
	t.Run("load", func(t *testing.T) { clusterLoad(t, e, c, procs, users[1:]) })
	clusterCheckLogs(t, false, procs...)
}

// clusterHopFlow: authorize on A, login form on B, consent on C, token on
// A, refresh on B, userinfo on C; then the code and the first refresh
// token replayed on the replicas that did not take them.
func clusterHopFlow(t *testing.T, c *clusterRun, u clusterUser) {
	ctx := t.Context()
	b := newClusterBrowser(c.base, c.issuer)
	type mark struct {
		step    string
		replica int32
		from    int
	}
	var marks []mark
	plan := map[string]int32{"authorize": 0, "login": 1, "consent": 2, "token": 0, "refresh": 1, "userinfo": 2}
	step := func(name string) {
		b.tr.pin.Store(plan[name])
		marks = append(marks, mark{name, plan[name], b.tr.count()})
	}
	code, a, consent, err := c.authorize(ctx, b, u, step)
	if err != nil {
		t.Fatal(err)
	}
	if !consent {
		t.Fatal("the consent page was not shown: the hop over C did not happen")
	}
	step("token")
	tok, _, err := c.exchange(ctx, b, u, code, a)
	if err != nil {
		t.Fatal(err)
	}
	step("refresh")
	tok2, _, err := c.refresh(ctx, b, u, tok)
	if err != nil {
		t.Fatal(err)
	}
	step("userinfo")
	if err := c.userinfo(ctx, b, u, tok2); err != nil {
		t.Fatal(err)
	}
	b.tr.pin.Store(-1)

	var trail []string
	for k, m := range marks {
		end := b.tr.count()
		if k+1 < len(marks) {
			end = marks[k+1].from
		}
		hops := b.tr.since(m.from)[:end-m.from]
		if len(hops) == 0 {
			t.Errorf("step %s sent no request", m.step)
		}
		for _, h := range hops {
			trail = append(trail, fmt.Sprintf("%s %s %s→%d", string(rune('A'+h.replica)), h.method, h.path, h.status))
			if h.replica != int(m.replica) || h.connErr {
				t.Errorf("step %s: %s %s went to replica %d (connection error %t), want %d", m.step, h.method, h.path, h.replica, h.connErr, m.replica)
			}
		}
	}
	t.Logf("hops: %s", strings.Join(trail, ", "))

	// The code went to A and the first refresh token to B: the others refuse them.
	codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "code_verifier": {a.verifier}}
	for _, replica := range []int{1, 2} {
		if r := c.postToken(ctx, c.base, replica, codeForm); r.status != http.StatusBadRequest || r.errCode != "invalid_grant" {
			t.Errorf("code replayed on %c: %d %v %v", 'A'+replica, r.status, r.body, r.err)
		}
	}
	rtForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	for _, replica := range []int{2, 0} {
		if r := c.postToken(ctx, c.base, replica, rtForm); r.status != http.StatusBadRequest || r.errCode != "invalid_grant" {
			t.Errorf("rotated refresh token replayed on %c: %d %v %v", 'A'+replica, r.status, r.body, r.err)
		}
	}
}

// clusterLoad runs concurrent flows round-robin over the replicas while
// replica B is killed and restarted and the keys are rotated twice.
func clusterLoad(t *testing.T, e *clusterEnv, c *clusterRun, procs []*clusterProc, users []clusterUser) {
	const (
		loadFor    = 12 * time.Second
		maxFlows   = 3000
		victim     = 1 // B
		rotate1At  = 2 * time.Second
		killAt     = 3500 * time.Millisecond
		downFor    = time.Second
		rotate2At  = 7 * time.Second
		drainBound = 30 * time.Second
	)
	s := c.stats
	ctx, cancel := context.WithTimeout(t.Context(), loadFor+drainBound)
	defer cancel()
	start := time.Now()
	deadline := start.Add(loadFor)
	at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
	since := func() string { return time.Since(start).Round(10 * time.Millisecond).String() }

	var (
		// Written by the chaos goroutine only, read once chaosDone is closed.
		events               []string
		answeredAfterRestart int64
		downFrom, readyAt    time.Duration
		chaosDone            = make(chan struct{})
		chaosErrs            []error
		rotate               = func(n int) {
			out, err := e.cli("", "keys", "rotate", "--force")
			if err != nil {
				chaosErrs = append(chaosErrs, err)
				return
			}
			events = append(events, fmt.Sprintf("keys rotate #%d by the binary at %s (%d keys listed)", n, since(), strings.Count(out, "\n")-1))
		}
	)
	go func() {
		defer close(chaosDone)
		at(rotate1At)
		rotate(1)
		at(killAt)
		c.lb.down[victim].Store(true)
		downFrom = time.Since(start)
		procs[victim].kill()
		events = append(events, fmt.Sprintf("replica B killed (SIGKILL) at %s", since()))
		at(killAt + downFor)
		if err := procs[victim].start(); err != nil {
			chaosErrs = append(chaosErrs, err)
			return
		}
		events = append(events, fmt.Sprintf("replica B restarted at %s", since()))
		if err := procs[victim].waitReady(20 * time.Second); err != nil {
			chaosErrs = append(chaosErrs, err)
			return
		}
		readyAt = time.Since(start)
		answeredAfterRestart = c.lb.answered[victim].Load()
		c.lb.down[victim].Store(false)
		events = append(events, fmt.Sprintf("replica B ready again at %s", since()))
		at(rotate2At)
		rotate(2)
	}()

	// Each flow's span and outcome, to check afterwards that every flow
	// clear of replica B's downtime succeeded.
	type span struct {
		from, to time.Duration
		ok       bool
		err      error
	}
	var spansMu sync.Mutex // guards spans
	var spans []span
	var next atomic.Int64
	var wg sync.WaitGroup
	for w, u := range users {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= maxFlows {
					return
				}
				s.attempted.Add(1)
				from := time.Since(start)
				b, err := c.loadFlow(ctx, i, u)
				spansMu.Lock()
				spans = append(spans, span{from, time.Since(start), err == nil, err})
				spansMu.Unlock()
				var wrong clusterWrong
				switch {
				case err == nil:
					s.succeeded.Add(1)
				case errors.As(err, &wrong):
					s.wrong.Add(1)
					s.sample("flow %d (worker %d): WRONG ANSWER: %v", i, w, err)
				case b.tr.connErrors() > 0:
					s.killed.Add(1)
				default:
					s.failed.Add(1)
					s.sample("flow %d (worker %d) failed without meeting a dead replica: %v; hops %v", i, w, err, b.tr.since(0))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	<-chaosDone
	for _, err := range chaosErrs {
		t.Error(err)
	}

	var clear, clearOK int
	for _, sp := range spans {
		if sp.to < downFrom || (readyAt > 0 && sp.from > readyAt) {
			clear++
			if sp.ok {
				clearOK++
			} else {
				t.Errorf("a flow from %v to %v, clear of replica B's downtime, failed: %v", sp.from, sp.to, sp.err)
			}
		}
	}

	// A last flow once everything is settled, on each replica's turn.
	for k := range len(procs) {
		b := newClusterBrowser(c.base, c.issuer)
		b.tr.pin.Store(int32(k))
		code, a, _, err := c.authorize(t.Context(), b, users[0], nil)
		if err == nil {
			_, _, err = c.exchange(t.Context(), b, users[0], code, a)
		}
		if err != nil {
			t.Errorf("flow on replica %c after the load: %v", 'A'+k, err)
		}
	}

	codes, codeMax := s.maxWins(s.codeWins)
	rts, rtMax := s.maxWins(s.refreshWins)
	s.mu.Lock()
	kids := len(s.kids)
	kidCounts := fmt.Sprint(slices.Sorted(func(yield func(int) bool) {
		for _, n := range s.kids {
			if !yield(n) {
				return
			}
		}
	}))
	samples := slices.Clone(s.samples)
	s.mu.Unlock()
	c.lb.mu.Lock()
	serverErrors := slices.Clone(c.lb.serverErrors)
	c.lb.mu.Unlock()

	for _, ev := range events {
		t.Log(ev)
	}
	t.Logf("load: %d workers for %v (bound %v), %d flows attempted: %d succeeded, %d failed by the kill (met replica B while down), %d failed otherwise, %d wrong answers; %.1f flows/s",
		len(users), elapsed.Round(time.Millisecond), loadFor, s.attempted.Load(), s.succeeded.Load(), s.killed.Load(), s.failed.Load(), s.wrong.Load(),
		float64(s.attempted.Load())/elapsed.Seconds())
	t.Logf("flows clear of replica B's downtime (ended before the kill or began once it was ready): %d, of which %d succeeded", clear, clearOK)
	t.Logf("replica B down from %v, ready again at %v; it answered %d requests after the restart; balancer: %d requests found no replica, answered per replica %d/%d/%d",
		downFrom.Round(time.Millisecond), readyAt.Round(time.Millisecond), c.lb.answered[victim].Load()-answeredAfterRestart,
		c.lb.proxyErrors.Load(), c.lb.answered[0].Load(), c.lb.answered[1].Load(), c.lb.answered[2].Load())
	t.Logf("codes: %d issued, most successful redemptions of one: %d; refresh tokens: %d issued, most successful redemptions of one: %d",
		codes, codeMax, rts, rtMax)
	t.Logf("duplicates refused: %d; sequential replays on another replica %d (invalid_grant %d, replica unreachable %d); races on all replicas at once: %d requests (won %d, invalid_grant %d, unreachable %d): code races %d (one winner %d, none %d), refresh-token races %d (one winner %d, none %d)",
		s.replaysRefused.Load()+s.raceRefused.Load(), s.replays.Load(), s.replaysRefused.Load(), s.replaysSkipped.Load(),
		s.raceRequests.Load(), s.raceWins.Load(), s.raceRefused.Load(), s.raceSkipped.Load(),
		s.codeRaces.Load(), s.codeRacesOneWinner.Load(), s.codeRacesNoWinner.Load(),
		s.refreshRaces.Load(), s.refreshRacesOneWinner.Load(), s.refreshRacesNoWinner.Load())
	t.Logf("ID tokens: %d verified; %d verification failures through the balancer's JWKS; %d failures and %d skips (replica down) against single replicas' JWKS; %d JWKS fetches retried; %d kids seen, tokens per kid %s",
		s.idTokens.Load(), s.verifyFailures.Load(), s.replicaMisses.Load(), s.replicaSkipped.Load(), c.rp.jwksRetries.Load(), kids, kidCounts)
	for _, m := range samples {
		t.Log(m)
	}

	if s.wrong.Load() > 0 || s.failed.Load() > 0 {
		t.Errorf("%d wrong answers and %d failures of flows that did not meet the dead replica (samples above)", s.wrong.Load(), s.failed.Load())
	}
	if codeMax > 1 || rtMax > 1 {
		t.Errorf("a code (%d) or refresh token (%d) was redeemed more than once", codeMax, rtMax)
	}
	if s.verifyFailures.Load() > 0 || s.replicaMisses.Load() > 0 {
		t.Errorf("%d ID tokens failed verification through the balancer, %d against a replica's JWKS", s.verifyFailures.Load(), s.replicaMisses.Load())
	}
	if len(serverErrors) > 0 {
		t.Errorf("replicas answered %d requests with 5xx, e.g. %v", len(serverErrors), serverErrors[:min(5, len(serverErrors))])
	}
	if s.succeeded.Load() < int64(4*len(users)) {
		t.Errorf("only %d flows succeeded: too little load to mean anything", s.succeeded.Load())
	}
	if readyAt > 0 && c.lb.answered[victim].Load() == answeredAfterRestart {
		t.Error("replica B served nothing after its restart")
	}
	if kids < 3 {
		t.Errorf("ID tokens were signed with %d keys; two rotations during the load should give 3", kids)
	}
	if s.replaysRefused.Load() == 0 || s.raceRefused.Load() == 0 {
		t.Error("no duplicate was refused: the replay probes did not run")
	}
}

// clusterTCPProxy forwards a loopback port to PostgreSQL and can be cut
// and restored: cut closes the listener and every forwarded connection,
// so the replica's pool meets dropped connections, then refused ones.
type clusterTCPProxy struct {
	addr, target string

	mu    sync.Mutex // guards ln and conns
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func (p *clusterTCPProxy) open() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("proxy to PostgreSQL: %w", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(conn)
		}
	}()
	return nil
}

func (p *clusterTCPProxy) forward(conn net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		conn.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		conn.Close()
		up.Close()
		return
	}
	p.conns[conn], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
	<-done
	conn.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, conn)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *clusterTCPProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for conn := range p.conns {
		conn.Close()
		delete(p.conns, conn)
	}
}

// clusterPollStatus polls u until it answers want, for at most within.
func clusterPollStatus(u string, want int, within time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	start := time.Now()
	last := "no answer"
	for time.Since(start) < within {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return time.Since(start), nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), fmt.Errorf("%s did not answer %d within %v (last: %s)", u, want, within, last)
}

// clusterStackTrace finds what a stack trace or Go error leaks into a body.
var clusterStackTrace = regexp.MustCompile(`goroutine \d+|panic:|\.go:\d+|runtime/|pgconn|pgx|dial tcp|connection refused`)

// TestClusterReadiness cuts one replica off from PostgreSQL (a TCP proxy
// in the test, the database itself stays up) and back: /readyz follows,
// and requests during the outage get a quick, clean 503.
func TestClusterReadiness(t *testing.T) {
	e := newClusterEnv(t)
	pg, err := url.Parse(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &clusterTCPProxy{addr: clusterFreeAddr(t), target: pg.Host, conns: map[net.Conn]struct{}{}}
	if err := proxy.open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.cut)
	proxied := *pg
	proxied.Host = proxy.addr

	clientID, secret := e.app()
	u := e.users("ready@cluster.test")[0]
	addr := clusterFreeAddr(t)
	issuer := "http://" + addr
	p := e.replica("R", addr, issuer, proxied.String())
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	if err := p.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	base := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(base.CloseIdleConnections)
	c := &clusterRun{issuer: issuer, base: base, rp: newClusterRP(t, base, issuer, clientID, secret, 0), stats: newClusterStats()}
	ctx := t.Context()

	// Before the outage: tokens to use during it, and a login page left open.
	b := newClusterBrowser(base, issuer)
	code, a, _, err := c.authorize(ctx, b, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := c.exchange(ctx, b, u, code, a)
	if err != nil {
		t.Fatal(err)
	}
	pending := newClusterBrowser(base, issuer)
	authURL := c.rp.conf.AuthCodeURL("pending-state", oidc.Nonce("pending-nonce"), oauth2.S256ChallengeOption(a.verifier))
	loginPage, err := pending.fetch(ctx, http.MethodGet, authURL, nil)
	if err != nil || loginPage.url.Path != "/u/login" {
		t.Fatalf("login page before the outage: %v %d %s", err, loginPage.status, loginPage.url)
	}

	proxy.cut()
	cutAt := time.Now()
	toUnready, err := clusterPollStatus(issuer+"/readyz", http.StatusServiceUnavailable, 10*time.Second)
	if err != nil {
		t.Fatalf("readiness during the outage: %v", err)
	}
	t.Logf("PostgreSQL cut off: /readyz answered 503 after %v", toUnready.Round(time.Millisecond))

	plain := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	type probe struct {
		name string
		req  func() (*http.Request, error)
		must bool // asserted 503; the others are reported and must only avoid 500 and leaks
	}
	probes := []probe{
		{"token (refresh_token grant)", func() (*http.Request, error) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			r, err := http.NewRequest(http.MethodPost, issuer+"/oauth/token", strings.NewReader(form.Encode()))
			if err == nil {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
			}
			return r, err
		}, true},
		{"token (authorization_code grant)", func() (*http.Request, error) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {"never-issued-code"}, "redirect_uri": {rpCallback}, "code_verifier": {a.verifier}}
			r, err := http.NewRequest(http.MethodPost, issuer+"/oauth/token", strings.NewReader(form.Encode()))
			if err == nil {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
			}
			return r, err
		}, true},
		{"/authorize", func() (*http.Request, error) { return http.NewRequest(http.MethodGet, authURL, nil) }, true},
		{"/userinfo", func() (*http.Request, error) {
			r, err := http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
			if err == nil {
				r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			}
			return r, err
		}, false},
		{"login page", func() (*http.Request, error) { return http.NewRequest(http.MethodGet, loginPage.url.String(), nil) }, false},
		{"discovery", func() (*http.Request, error) {
			return http.NewRequest(http.MethodGet, issuer+"/.well-known/openid-configuration", nil)
		}, false},
		{"JWKS", func() (*http.Request, error) {
			return http.NewRequest(http.MethodGet, issuer+"/.well-known/jwks.json", nil)
		}, false},
	}
	for _, pr := range probes {
		req, err := pr.req()
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		resp, err := plain.Do(req)
		took := time.Since(began)
		if err != nil {
			t.Errorf("%s during the outage: no answer after %v: %v", pr.name, took.Round(time.Millisecond), err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		t.Logf("outage: %s → %s in %v, %s, Retry-After %q: %.160s", pr.name, resp.Status, took.Round(time.Millisecond),
			resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), strings.Join(strings.Fields(clusterTextOf(body)), " "))
		if took > 5*time.Second {
			t.Errorf("%s during the outage took %v", pr.name, took)
		}
		if m := clusterStackTrace.Find(body); m != nil && resp.StatusCode >= 400 {
			t.Errorf("%s during the outage leaks %q: %.500s", pr.name, m, body)
		}
		switch {
		case pr.must && resp.StatusCode != http.StatusServiceUnavailable:
			t.Errorf("%s during the outage: %s, want 503 Service Unavailable", pr.name, resp.Status)
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable:
			t.Errorf("%s during the outage: %s, want 503 when the database is needed", pr.name, resp.Status)
		}
	}
	// A longer outage: the replica stays up and unready, with no restart.
	time.Sleep(time.Until(cutAt.Add(3 * time.Second)))
	if _, err := clusterPollStatus(issuer+"/readyz", http.StatusServiceUnavailable, time.Second); err != nil {
		t.Errorf("readiness 3s into the outage: %v", err)
	}
	// By now the signing keys' cache (1s) has expired.
	if resp, err := plain.Get(issuer + "/.well-known/jwks.json"); err != nil {
		t.Errorf("JWKS 3s into the outage: %v", err)
	} else {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		t.Logf("outage: JWKS 3s in, its cache expired → %s: %.120s", resp.Status, body)
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("JWKS 3s into the outage: %s, want 200 from a cache or 503", resp.Status)
		} else if m := clusterStackTrace.Find(body); m != nil && resp.StatusCode >= 400 {
			t.Errorf("JWKS 3s into the outage leaks %q: %.500s", m, body)
		}
	}
	if !p.running() {
		t.Fatal("the replica exited during the outage")
	}

	reopenAt := time.Now()
	if err := proxy.open(); err != nil {
		t.Fatal(err)
	}
	toReady, err := clusterPollStatus(issuer+"/readyz", http.StatusOK, 20*time.Second)
	if err != nil {
		t.Fatalf("readiness after the outage: %v", err)
	}
	t.Logf("PostgreSQL back after %v down: /readyz answered 200 after %v", reopenAt.Sub(cutAt).Round(time.Millisecond), toReady.Round(time.Millisecond))

	// Nothing was lost: the refresh token refused during the outage still
	// works, the login page left open can still be used, and a new flow runs.
	if _, _, err := c.refresh(ctx, b, u, tok); err != nil {
		t.Errorf("refresh token after the outage: %v", err)
	}
	form, err := clusterHidden(loginPage)
	if err != nil {
		t.Fatal(err)
	}
	form.Set("email", u.email)
	form.Set("password", clusterPassword)
	if after, err := pending.fetch(ctx, http.MethodPost, issuer+"/u/login", form); err != nil || !strings.HasPrefix(after.location, rpCallback+"?") {
		t.Errorf("login page opened before the outage, sent after it: %v %d %s %.300s", err, after.status, after.location, after.body)
	}
	b2 := newClusterBrowser(base, issuer)
	if code, a, _, err := c.authorize(ctx, b2, u, nil); err != nil {
		t.Errorf("flow after the outage: %v", err)
	} else if _, _, err := c.exchange(ctx, b2, u, code, a); err != nil {
		t.Errorf("flow after the outage: %v", err)
	}
	clusterCheckLogs(t, true, p)
}

var clusterTags = regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`)

// clusterTextOf strips tags from an HTML body for the log.
func clusterTextOf(body []byte) string { return clusterTags.ReplaceAllString(string(body), " ") }
