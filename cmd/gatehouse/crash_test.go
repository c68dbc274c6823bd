package main

// TestCrashSafetySQLite kills the real gatehouse binary with SIGKILL while
// clients exchange codes and rotate refresh tokens on a SQLite file, starts
// it again on the same file, and then checks the file: it opens cleanly,
// nothing is half-written, and every client that retried after a kill ends
// with exactly one working refresh token per family (thanks to the
// rotation grace period).

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"gatehouse/internal/token"
)

const (
	// crashConfigYAML is the server's --config: the cheapest argon2id the
	// config allows (logins are not what is tested) and no limit on
	// pending requests per client address (every client is 127.0.0.1).
	crashConfigYAML = `password:
  memory_kib: 8192
  iterations: 1
  parallelism: 1
  min_length: 8
throttle:
  pending_requests_per_ip: 0
`
	crashPassword = "crash correct horse"
	// crashWorkers is how many clients drive the server at once.
	crashWorkers = 4
	// crashKills is how many times the server is killed.
	crashKills = 5
	// crashRotations is how many times each family is refreshed before
	// the client starts another from a new code.
	crashRotations = 5
)

func TestCrashSafetySQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server several times")
	}
	bin := clusterBinary(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "gatehouse.db")
	dsn := "sqlite:" + dbPath
	config := filepath.Join(dir, "gatehouse.yaml")
	writeFile(t, config, crashConfigYAML)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") { // the test's own settings are not the server's
			environ = append(environ, kv)
		}
	}
	environ = append(environ, "GATEHOUSE_SECRET_KEY="+base64.StdEncoding.EncodeToString(key))
	cli := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append(args, "--db", dsn, "--config", config)...)
		cmd.Env = environ
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("gatehouse %s: %v: %s", strings.Join(args[:2], " "), err, stderr.String())
		}
		return stdout.String()
	}
	out := cli("", "apps", "create", "--name", "Crash App", "--callback", rpCallback, "--allow-offline-access", "--first-party")
	m := regexp.MustCompile(`client_id: (\S+)\nclient_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("apps create printed %q", out)
	}
	clientID, secret := m[1], m[2]

	addr := clusterFreeAddr(t)
	issuer := "http://" + addr
	proc := &clusterProc{name: "sqlite", addr: addr, bin: bin, environ: environ,
		args: []string{"serve", "--addr", addr, "--issuer", issuer, "--db", dsn, "--config", config, "--log-level", "warn"}}
	t.Cleanup(func() {
		proc.kill()
		if t.Failed() {
			t.Logf("server log:\n%s", clusterTail(proc.logText(), 6000))
		}
	})
	if err := proc.start(); err != nil {
		t.Fatal(err)
	}
	if err := proc.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	stats := &crashStats{}
	clients := make([]*crashClient, crashWorkers)
	for i := range clients {
		email := fmt.Sprintf("crash%d@example.com", i)
		cli(crashPassword+"\n", "users", "create", "--email", email, "--name", "Crash User", "--password-stdin")
		clients[i] = newCrashClient(issuer, clientID, secret, email, stats)
		if err := clients[i].login(t.Context()); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}

	// The clients run until the last kill is behind them; the killer
	// kills at random moments and starts the server again at once.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c.run(t.Context(), stop) })
	}
	var killErr error
	for range crashKills {
		time.Sleep(time.Duration(1000+mrand.IntN(1500)) * time.Millisecond)
		proc.kill()
		stats.kills.Add(1)
		if err := proc.start(); err != nil {
			killErr = err
			break
		}
		if err := proc.waitReady(30 * time.Second); err != nil {
			killErr = err
			break
		}
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	// A last kill with nothing in flight: the file is checked as a
	// crash leaves it, not after a clean shutdown.
	proc.kill()
	if killErr != nil {
		t.Fatal(killErr)
	}
	for i, c := range clients {
		if c.err != nil {
			t.Errorf("client %d: %v", i, c.err)
		}
	}
	t.Logf("%d kills; %d code exchanges (%d retried after a kill, %d of them found the code spent: the response was lost, the family revoked); %d rotations (%d retried after a kill)",
		stats.kills.Load(), stats.exchanges.Load(), stats.exchangeRetries.Load(), stats.lostExchanges.Load(),
		stats.rotations.Load(), stats.rotationRetries.Load())
	if stats.rotations.Load() == 0 || stats.exchanges.Load() == 0 {
		t.Fatalf("no traffic reached the server")
	}
	if t.Failed() {
		return
	}

	var held []string // every refresh token a client holds: one per family it got
	for _, c := range clients {
		for _, f := range c.families {
			held = append(held, f.refresh)
		}
	}
	var retries []crashRetry
	for _, c := range clients {
		retries = append(retries, c.retriedRotations...)
	}
	crashCheckFile(t, dbPath, held, retries)

	// Started once more on the file, the server takes every token the
	// clients hold.
	if err := proc.start(); err != nil {
		t.Fatal(err)
	}
	if err := proc.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		for j, f := range c.families {
			if _, status, err := c.refreshOnce(t.Context(), f.refresh); err != nil || status != http.StatusOK {
				t.Errorf("client %d, family %d: refresh after the last restart: status %d, %v", i, j, status, err)
			}
		}
	}
}

// crashCheckFile opens the database file the way a crash left it and
// checks it: integrity, one live token per family a client holds and none
// in any other, every spent token with its successor, every spent code with
// its tokens.
func crashCheckFile(t *testing.T, path string, held []string, retries []crashRetry) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	var integrity string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity check: %q, %v", integrity, err)
	}

	live := map[string][]string{} // family → its live (unused, unrevoked) tokens
	rows, err := db.QueryContext(ctx, `SELECT family_id, id FROM refresh_tokens WHERE used_at IS NULL AND revoked = 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var family, id string
		if err := rows.Scan(&family, &id); err != nil {
			t.Fatal(err)
		}
		live[family] = append(live[family], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	holders := map[string]bool{}
	for _, rt := range held {
		id := token.Hash(rt)
		var family string
		if err := db.QueryRowContext(ctx, `SELECT family_id FROM refresh_tokens WHERE id = ?`, id).Scan(&family); err != nil {
			t.Errorf("a refresh token a client holds is not stored: %v", err)
			continue
		}
		holders[family] = true
		if ids := live[family]; len(ids) != 1 || ids[0] != id {
			t.Errorf("family %s: %d live tokens (the client's among them: %v), want exactly the client's", family, len(ids), len(ids) > 0 && ids[0] == id)
		}
	}
	for family, ids := range live {
		if !holders[family] {
			t.Errorf("family %s: %d live tokens that no client holds", family, len(ids))
		}
	}

	graced := 0
	for _, r := range retries {
		var created int64
		if err := db.QueryRowContext(ctx, `SELECT created_at FROM refresh_tokens WHERE id = ?`, token.Hash(r.refresh)).Scan(&created); err != nil {
			t.Errorf("a refresh token got by a retry is not stored: %v", err)
			continue
		}
		if created < r.last.UnixMilli() {
			graced++
		}
	}
	t.Logf("%d of %d retried rotations got the successor an unanswered attempt had stored (the grace period); the rest rotated afresh", graced, len(retries))

	for _, c := range []struct{ what, q string }{
		{"spent refresh tokens without their successor", `SELECT COUNT(*) FROM refresh_tokens r WHERE r.used_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM refresh_tokens s WHERE s.id = r.successor_id AND s.family_id = r.family_id)`},
		{"spent refresh tokens still keeping a sealed value", `SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL AND sealed_value IS NOT NULL`},
		{"successors not newer than their predecessor", `SELECT COUNT(*) FROM refresh_tokens r JOIN refresh_tokens s ON s.id = r.successor_id
			WHERE s.created_at < r.created_at`},
		{"spent codes without the refresh token they issued", `SELECT COUNT(*) FROM auth_codes c WHERE c.used = 1
			AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = c.grant_id)`},
	} {
		var n int
		if err := db.QueryRowContext(ctx, c.q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
}

// crashStats counts what the clients did, over all of them.
type crashStats struct {
	kills, exchanges, exchangeRetries, lostExchanges, rotations, rotationRetries atomic.Int64
}

// crashClient is one relying party with one user's browser: it logs in
// once, then gets codes silently through the session, exchanges them and
// rotates each family's refresh token a few times.
type crashClient struct {
	c                      *http.Client
	issuer, id, secret     string
	email                  string
	stats                  *crashStats
	families               []*crashFamily // what the client holds, one per family
	err                    error          // why run stopped early
	retriedRotations       []crashRetry   // the rotations that needed a retry
	verifier, state, nonce string         // of the authorization request in flight
	lastAttempt            time.Time      // when until sent its last attempt
}

// crashFamily is the refresh token the client holds for one family.
type crashFamily struct{ refresh string }

// crashRetry is a rotation that succeeded only on a later attempt: the
// token it got, and when the attempt that got it started. A token created
// before that attempt was stored by an earlier one, whose response the
// kill lost: the grace period returned it again.
type crashRetry struct {
	refresh string
	last    time.Time
}

func newCrashClient(issuer, id, secret, email string, stats *crashStats) *crashClient {
	jar, _ := cookiejar.New(nil)
	return &crashClient{issuer: issuer, id: id, secret: secret, email: email, stats: stats,
		c: &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// authorizeURL starts a new authorization request.
func (c *crashClient) authorizeURL() string {
	c.verifier, c.state, c.nonce = oauth2.GenerateVerifier(), oauth2.GenerateVerifier()[:22], oauth2.GenerateVerifier()[:22]
	return c.issuer + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {rpCallback},
		"scope": {"openid offline_access"}, "state": {c.state}, "nonce": {c.nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(c.verifier)}, "code_challenge_method": {"S256"},
	}.Encode()
}

// follow fetches u and follows redirects on the provider; it returns the
// redirect to the relying party, or the last page.
func (c *crashClient) follow(ctx context.Context, method, u string, form url.Values) (loc string, status int, body string, err error) {
	for range 10 {
		var rd io.Reader
		if form != nil {
			rd = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return "", 0, "", err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.c.Do(req)
		if err != nil {
			return "", 0, "", err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return "", 0, "", err
		}
		l := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || l == "" {
			return "", resp.StatusCode, string(data), nil
		}
		next, err := req.URL.Parse(l)
		if err != nil {
			return "", 0, "", err
		}
		if !strings.HasPrefix(next.String(), c.issuer+"/") {
			return next.String(), resp.StatusCode, "", nil
		}
		method, u, form = http.MethodGet, next.String(), nil
	}
	return "", 0, "", errors.New("more than 10 redirects")
}

// login signs the user in on the hosted login page; the session cookie
// then gets codes without a page.
func (c *crashClient) login(ctx context.Context) error {
	_, status, body, err := c.follow(ctx, http.MethodGet, c.authorizeURL(), nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("authorize: status %d, %v", status, err)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	form.Set("email", c.email)
	form.Set("password", crashPassword)
	loc, status, body, err := c.follow(ctx, http.MethodPost, c.issuer+"/u/login", form)
	if err != nil || !strings.HasPrefix(loc, rpCallback+"?") {
		return fmt.Errorf("login: status %d, %v: %.300s", status, err, body)
	}
	return nil
}

// code gets a code through the session, trying again until the server
// answers (it may be down between a kill and its restart).
func (c *crashClient) code(ctx context.Context) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		loc, status, body, err := c.follow(ctx, http.MethodGet, c.authorizeURL(), nil)
		if err == nil && loc != "" {
			cb, err := url.Parse(loc)
			if err != nil || cb.Query().Get("code") == "" || cb.Query().Get("state") != c.state {
				return "", fmt.Errorf("authorize: callback %q", loc)
			}
			return cb.Query().Get("code"), nil
		}
		if err == nil && status < 500 {
			return "", fmt.Errorf("authorize: status %d without a redirect: %.300s", status, body)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("authorize: server unreachable for 30s: status %d, %v", status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashTokens is a token endpoint success response.
type crashTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// post sends one token request: the tokens, the status, or an error when
// no answer came (a connection the kill dropped, the server down).
func (c *crashClient) post(ctx context.Context, form url.Values) (crashTokens, int, error) {
	form.Set("client_id", c.id)
	form.Set("client_secret", c.secret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return crashTokens{}, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.c.Do(req)
	if err != nil {
		return crashTokens{}, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return crashTokens{}, 0, err
	}
	var tr crashTokens
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &tr); err != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
			return tr, resp.StatusCode, fmt.Errorf("token response %.300s: %v", data, err)
		}
	}
	return tr, resp.StatusCode, nil
}

// until sends form until the server answers with something other than a
// 5xx, for at most 30 seconds; retried reports whether an attempt went
// unanswered first.
func (c *crashClient) until(ctx context.Context, form url.Values) (tr crashTokens, status int, retried bool, err error) {
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; ; attempt++ {
		c.lastAttempt = time.Now()
		tr, status, err = c.post(ctx, form)
		if err == nil && status < 500 {
			return tr, status, attempt > 0, nil
		}
		if time.Now().After(deadline) {
			return tr, status, attempt > 0, fmt.Errorf("server unanswered for 30s: status %d, %v", status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// refreshOnce sends one refresh request.
func (c *crashClient) refreshOnce(ctx context.Context, rt string) (crashTokens, int, error) {
	return c.post(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// run exchanges codes and rotates refresh tokens until stop is closed. A
// request the kill left unanswered is sent again as it was, as a client
// library would on a network error: a code's second redemption may find
// it spent (the response was lost; the family is revoked and the client
// starts over), but a refresh token's retry must always succeed.
func (c *crashClient) run(ctx context.Context, stop <-chan struct{}) {
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for !stopped() {
		code, err := c.code(ctx)
		if err != nil {
			c.err = err
			return
		}
		tr, status, retried, err := c.until(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {c.verifier}})
		if retried {
			c.stats.exchangeRetries.Add(1)
		}
		switch {
		case err != nil:
			c.err = fmt.Errorf("exchange: %w", err)
			return
		case status == http.StatusBadRequest && retried:
			c.stats.lostExchanges.Add(1)
			continue
		case status != http.StatusOK:
			c.err = fmt.Errorf("exchange: status %d", status)
			return
		}
		c.stats.exchanges.Add(1)
		f := &crashFamily{refresh: tr.RefreshToken}
		c.families = append(c.families, f)
		for range crashRotations {
			if stopped() {
				return
			}
			tr, status, retried, err := c.until(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {f.refresh}})
			if retried {
				c.stats.rotationRetries.Add(1)
				c.retriedRotations = append(c.retriedRotations, crashRetry{refresh: tr.RefreshToken, last: c.lastAttempt})
			}
			if err != nil || status != http.StatusOK {
				c.err = fmt.Errorf("refresh (retried after a kill: %v): status %d, %v", retried, status, err)
				return
			}
			c.stats.rotations.Add(1)
			f.refresh = tr.RefreshToken
		}
	}
}
