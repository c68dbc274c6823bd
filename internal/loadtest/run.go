package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// mintBatch is how many codes the exchange scenario mints, over all
// workers, before each timed phase of redemptions. Minting even this many
// takes seconds, well within the one-minute lifetime codes commonly have.
const mintBatch = 4096

// errorPause is how long a worker waits after a failed flow.
const errorPause = 20 * time.Millisecond

// Run drives the provider as cfg says and reports what it measured. It
// returns an error only when the run cannot start (a bad configuration, no
// discovery document, an unreadable server pid); failed flows are counted
// in the report. Cancelling ctx ends the run early, with the report so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	r := &runner{cfg: cfg, openid: slices.Contains(cfg.Scopes, "openid")}
	if cfg.Scenario == UserInfo && !r.openid {
		return nil, errors.New("loadtest: the userinfo scenario needs the openid scope")
	}
	r.api = &http.Client{
		Transport:     cfg.Transport,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if err := r.discover(ctx); err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	if cfg.ServerPID > 0 {
		if _, err := readProc(strconv.Itoa(cfg.ServerPID)); err != nil {
			return nil, fmt.Errorf("loadtest: server pid %d: %w", cfg.ServerPID, err)
		}
	}
	if cfg.Count > 0 {
		r.tickets.Store(int64(cfg.Count))
	}
	ws := make([]*worker, cfg.Concurrency)
	for i := range ws {
		ws[i] = &worker{r: r, n: i + 1, user: cfg.user(i + 1)}
	}
	if cfg.Scenario == Exchange {
		r.runExchange(ctx, ws)
	} else {
		r.runFlows(ctx, ws)
	}
	return r.report(ws), nil
}

// runner is the state a run's workers share.
type runner struct {
	cfg    Config
	openid bool         // the ID token is required in code exchanges
	api    *http.Client // token and UserInfo requests: no cookies, no redirects

	issuer      string
	authURL     *url.URL
	tokenURL    string
	userinfoURL string
	apiBase     string // the management API: ISSUER/api/v2
	keySet      *oidc.RemoteKeySet
	basicAuth   bool // client_secret_basic, else client_secret_post
	verifier    *oidc.IDTokenVerifier
	redirect    *url.URL
	providerAt  []string // origins whose redirects a browser follows

	tickets atomic.Int64 // flows left when cfg.Count > 0
	// deadline ends the current measured phase; set before the workers of
	// the phase start and read-only while they run.
	deadline time.Time

	// The meter, used by the coordinating goroutine only.
	measured   time.Duration
	serverCPU  time.Duration
	clientCPU  time.Duration
	machineCPU time.Duration
	lastServer procSample
	phaseStart time.Time
	server0    procSample
	client0    procSample
	machine0   time.Duration

	errOnce  sync.Once
	firstErr string
}

// discover reads the provider's discovery document.
func (r *runner) discover(ctx context.Context) error {
	cctx := oidc.ClientContext(ctx, r.api)
	p, err := oidc.NewProvider(cctx, r.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	var meta struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		JWKSURI     string   `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	ep := p.Endpoint()
	if r.authURL, err = url.Parse(ep.AuthURL); err != nil || !r.authURL.IsAbs() {
		return fmt.Errorf("discovery: authorization endpoint %q is not an absolute URL", ep.AuthURL)
	}
	if ep.TokenURL == "" {
		return errors.New("discovery: no token endpoint")
	}
	r.tokenURL = ep.TokenURL
	r.userinfoURL = p.UserInfoEndpoint()
	if r.cfg.Scenario == UserInfo && r.userinfoURL == "" {
		return errors.New("discovery: no userinfo endpoint")
	}
	// RFC 8414 §2: client_secret_basic is the default when none is listed.
	r.basicAuth = len(meta.AuthMethods) == 0 || slices.Contains(meta.AuthMethods, "client_secret_basic")
	r.issuer = r.cfg.Issuer
	if r.cfg.Scenario.Machine() && meta.JWKSURI == "" {
		return errors.New("discovery: no jwks_uri to check access tokens with")
	}
	r.keySet = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), r.api), meta.JWKSURI)
	r.apiBase = strings.TrimSuffix(r.cfg.Issuer, "/") + "/api/v2"
	r.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), r.api), &oidc.Config{ClientID: r.cfg.ClientID})
	r.redirect, _ = url.Parse(r.cfg.RedirectURI) // checked by withDefaults
	iss, _ := url.Parse(r.cfg.Issuer)
	r.providerAt = []string{origin(iss), origin(r.authURL)}
	return nil
}

// isCallback reports whether u is the client's redirect URI.
func (r *runner) isCallback(u *url.URL) bool {
	return u.Scheme == r.redirect.Scheme && strings.EqualFold(u.Host, r.redirect.Host) && u.Path == r.redirect.Path
}

// onProvider reports whether a browser follows a redirect to u.
func (r *runner) onProvider(u *url.URL) bool {
	return slices.ContainsFunc(r.providerAt, func(o string) bool { return strings.EqualFold(o, origin(u)) })
}

// take reports whether a worker may start another flow, and counts it.
func (r *runner) take(ctx context.Context) bool {
	if ctx.Err() != nil || !r.deadline.IsZero() && !time.Now().Before(r.deadline) {
		return false
	}
	return r.cfg.Count == 0 || r.tickets.Add(-1) >= 0
}

// done reports whether the run has used its count or its time.
func (r *runner) done(ctx context.Context) bool {
	return ctx.Err() != nil ||
		r.cfg.Count > 0 && r.tickets.Load() <= 0 ||
		r.cfg.Duration > 0 && r.measured >= r.cfg.Duration
}

// noteError keeps the text of the first error of the run.
func (r *runner) noteError(err error) {
	r.errOnce.Do(func() { r.firstErr = err.Error() })
}

// startPhase begins a measured phase of at most the time the run has left.
func (r *runner) startPhase() {
	r.client0, _ = readProc("self")
	r.machine0, _ = machineBusy()
	if r.cfg.ServerPID > 0 {
		s, err := readProc(strconv.Itoa(r.cfg.ServerPID))
		if err != nil {
			r.noteError(fmt.Errorf("server pid %d: %w", r.cfg.ServerPID, err))
		}
		r.server0 = s
	}
	r.phaseStart = time.Now()
	r.deadline = time.Time{}
	if r.cfg.Duration > 0 {
		r.deadline = r.phaseStart.Add(r.cfg.Duration - r.measured)
	}
}

// endPhase adds the phase's time and CPU to the totals.
func (r *runner) endPhase() {
	r.measured += time.Since(r.phaseStart)
	if c, err := readProc("self"); err == nil {
		r.clientCPU += c.cpu - r.client0.cpu
	}
	if m, err := machineBusy(); err == nil && r.machine0 > 0 {
		r.machineCPU += m - r.machine0
	}
	if r.cfg.ServerPID > 0 {
		s, err := readProc(strconv.Itoa(r.cfg.ServerPID))
		if err != nil {
			r.noteError(fmt.Errorf("server pid %d: %w", r.cfg.ServerPID, err))
			return
		}
		r.serverCPU += s.cpu - r.server0.cpu
		r.lastServer = s
	}
}

// runFlows runs the scenarios whose flows need no phases: the workers set
// up (but for login), then run flows until the count or time is used.
func (r *runner) runFlows(ctx context.Context, ws []*worker) {
	if r.cfg.Scenario != Login {
		parallel(ws, func(w *worker) {
			if err := w.setup(ctx); err != nil {
				w.setupFailed(ctx, err)
			}
		})
	}
	r.startPhase()
	parallel(ws, func(w *worker) { w.loop(ctx) })
	r.endPhase()
}

// runExchange alternates untimed phases that mint codes on each worker's
// session with timed phases that redeem them.
func (r *runner) runExchange(ctx context.Context, ws []*worker) {
	parallel(ws, func(w *worker) {
		if err := w.setup(ctx); err != nil {
			w.setupFailed(ctx, err)
		}
	})
	for !r.done(ctx) {
		total := mintBatch
		if r.cfg.Count > 0 {
			total = min(total, int(r.tickets.Load()))
		}
		per := (total + len(ws) - 1) / len(ws)
		parallel(ws, func(w *worker) { w.mint(ctx, per) })
		minted := 0
		for _, w := range ws {
			minted += len(w.pending)
		}
		if minted == 0 {
			return // every worker failed to mint: the errors are in the report
		}
		r.startPhase()
		parallel(ws, func(w *worker) { w.redeemPending(ctx) })
		r.endPhase()
	}
}

func parallel(ws []*worker, f func(*worker)) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { f(w) })
	}
	wg.Wait()
}

// report adds up the workers' counts and histograms.
func (r *runner) report(ws []*worker) *Report {
	rep := &Report{
		Scenario:    string(r.cfg.Scenario),
		Issuer:      r.cfg.Issuer,
		ClientID:    r.cfg.ClientID,
		Concurrency: r.cfg.Concurrency,
		PKCE:        r.cfg.PKCE,
		Scopes:      r.cfg.Scopes,
		Seconds:     r.measured.Seconds(),
		FirstError:  r.firstErr,
	}
	var all [numSteps]hist
	for _, w := range ws {
		rep.OK += w.ok
		rep.Errors += w.errs
		rep.SetupErrors += w.setupErrs
		for s := range all {
			all[s].merge(&w.hist[s])
		}
	}
	rep.Flows = rep.OK + rep.Errors
	if rep.Seconds > 0 {
		rep.FlowsPerSecond = float64(rep.OK) / rep.Seconds
	}
	for s := range all {
		if all[s].n > 0 {
			rep.Steps = append(rep.Steps, stepStats(stepNames[s], &all[s]))
		}
	}
	rep.ClientCPUSeconds = r.clientCPU.Seconds()
	rep.MachineCPUSeconds = r.machineCPU.Seconds()
	if r.cfg.ServerPID > 0 {
		rep.Server = &ServerStats{
			PID:              r.cfg.ServerPID,
			CPUSeconds:       r.serverCPU.Seconds(),
			CPUPerFlowMillis: float64(r.serverCPU.Microseconds()) / 1000 / float64(max(rep.Flows, 1)),
			RSSKiB:           r.lastServer.rssKiB,
			PeakRSSKiB:       r.lastServer.hwmKiB,
		}
	}
	return rep
}

// worker is one simulated user. Its fields are its own while it runs; the
// runner reads them after the workers of a phase have returned.
type worker struct {
	r    *runner
	n    int
	user string
	hist [numSteps]hist

	ok, errs, setupErrs int64

	// The session of sso, exchange, refresh and userinfo; b is nil until
	// set up, and again after a failed flow so that the next one starts over.
	b            *browser
	nonce        string
	sub          string
	accessToken  string
	refreshToken string
	tokenExp     time.Time     // of accessToken in the management scenarios
	pending      []pendingCode // minted codes of the exchange scenario
}

type pendingCode struct {
	code string
	req  authRequest
}

// observe records a step that started at t0 and succeeded.
func (w *worker) observe(timed bool, s step, t0 time.Time) {
	if timed {
		w.hist[s].add(time.Since(t0))
	}
}

// setupFailed counts a failure outside the measured flows.
func (w *worker) setupFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // interrupted, not failed
	}
	w.setupErrs++
	w.r.noteError(fmt.Errorf("worker %d setup: %w", w.n, err))
}

// loop runs flows until the run's count or time is used.
func (w *worker) loop(ctx context.Context) {
	for w.r.take(ctx) {
		w.count(ctx, w.flow(ctx))
	}
}

// count records the outcome of one flow.
func (w *worker) count(ctx context.Context, err error) {
	switch {
	case err == nil:
		w.ok++
	case ctx.Err() != nil:
		// Interrupted: neither a success nor a failure of the provider.
	default:
		w.errs++
		w.b = nil
		w.r.noteError(err)
		// A short pause, so that a provider that is down or refusing
		// everything is not hammered by a tight loop of failures.
		select {
		case <-ctx.Done():
		case <-time.After(errorPause):
		}
	}
}

// flow runs one flow of the scenario.
func (w *worker) flow(ctx context.Context) error {
	switch {
	case w.r.cfg.Scenario == Login:
		return w.loginFlow(ctx)
	case w.r.cfg.Scenario.Machine():
		return w.machineFlow(ctx)
	}
	if w.b == nil {
		if err := w.setup(ctx); err != nil {
			return fmt.Errorf("log in again: %w", err)
		}
	}
	switch w.r.cfg.Scenario {
	case SSO:
		return w.ssoFlow(ctx)
	case Refresh:
		return w.refreshFlow(ctx)
	case UserInfo:
		return w.userinfoFlow(ctx)
	}
	return fmt.Errorf("scenario %s has no flows of its own", w.r.cfg.Scenario)
}

// setup logs the worker in and keeps its session and tokens.
func (w *worker) setup(ctx context.Context) error {
	if w.r.cfg.Scenario.Machine() {
		return w.setupMachine(ctx)
	}
	w.b = nil
	b := w.r.newBrowser()
	a := w.r.newAuthRequest()
	code, err := w.authorize(ctx, b, a, true, false)
	if err != nil {
		return err
	}
	t, err := w.r.redeem(ctx, code, a)
	if err != nil {
		return err
	}
	sub, err := w.r.checkTokens(ctx, t, idWant{required: w.r.openid, nonce: a.nonce})
	if err != nil {
		return err
	}
	if w.r.cfg.Scenario == Refresh && t.RefreshToken == "" {
		return errors.New("the token response has no refresh_token: does the client allow offline access?")
	}
	w.b, w.nonce, w.sub, w.accessToken, w.refreshToken = b, a.nonce, sub, t.AccessToken, t.RefreshToken
	return nil
}

// loginFlow is a whole flow in a fresh browser.
func (w *worker) loginFlow(ctx context.Context) error {
	t0 := time.Now()
	b := w.r.newBrowser()
	a := w.r.newAuthRequest()
	code, err := w.authorize(ctx, b, a, true, true)
	if err != nil {
		return err
	}
	if err := w.redeemTimed(ctx, code, a, ""); err != nil {
		return err
	}
	w.observe(true, stepFlow, t0)
	return nil
}

// ssoFlow is authorization request → code → token on the worker's session.
func (w *worker) ssoFlow(ctx context.Context) error {
	t0 := time.Now()
	a := w.r.newAuthRequest()
	code, err := w.authorize(ctx, w.b, a, false, true)
	if err != nil {
		return err
	}
	if err := w.redeemTimed(ctx, code, a, w.sub); err != nil {
		return err
	}
	w.observe(true, stepFlow, t0)
	return nil
}

// redeemTimed redeems a code as a timed step and validates the answer.
func (w *worker) redeemTimed(ctx context.Context, code string, a authRequest, sub string) error {
	t0 := time.Now()
	t, err := w.r.redeem(ctx, code, a)
	if err != nil {
		return err
	}
	w.observe(true, stepToken, t0)
	_, err = w.r.checkTokens(ctx, t, idWant{required: w.r.openid, nonce: a.nonce, sub: sub})
	return err
}

// mint gets up to n codes on the worker's session for the next redemption
// phase. Failures count as setup errors and end the worker's minting.
func (w *worker) mint(ctx context.Context, n int) {
	w.pending = w.pending[:0]
	for range n {
		if ctx.Err() != nil {
			return
		}
		if w.b == nil {
			if err := w.setup(ctx); err != nil {
				w.setupFailed(ctx, err)
				return
			}
		}
		a := w.r.newAuthRequest()
		code, err := w.authorize(ctx, w.b, a, false, false)
		if err != nil {
			w.setupFailed(ctx, fmt.Errorf("mint a code: %w", err))
			w.b = nil
			return
		}
		w.pending = append(w.pending, pendingCode{code: code, req: a})
	}
}

// redeemPending redeems the minted codes: one flow each.
func (w *worker) redeemPending(ctx context.Context) {
	for _, p := range w.pending {
		if !w.r.take(ctx) {
			break
		}
		t0 := time.Now()
		err := w.redeemTimed(ctx, p.code, p.req, w.sub)
		if err == nil {
			w.observe(true, stepFlow, t0)
		}
		b := w.b
		w.count(ctx, err)
		w.b = b // a failed redemption says nothing about the session
	}
	w.pending = w.pending[:0]
}

// refreshFlow is one refresh-token grant on the worker's chain.
func (w *worker) refreshFlow(ctx context.Context) error {
	t0 := time.Now()
	t, err := w.r.refresh(ctx, w.refreshToken)
	if err != nil {
		return err
	}
	w.observe(true, stepRefresh, t0)
	if _, err := w.r.checkTokens(ctx, t, idWant{nonce: w.nonce, refreshed: true, sub: w.sub}); err != nil {
		return err
	}
	if t.RefreshToken != "" { // RFC 6749 §6: rotation is the provider's choice
		w.refreshToken = t.RefreshToken
	}
	w.accessToken = t.AccessToken
	w.observe(true, stepFlow, t0)
	return nil
}

// userinfoFlow is one UserInfo request with the worker's access token.
func (w *worker) userinfoFlow(ctx context.Context) error {
	t0 := time.Now()
	if err := w.r.userinfo(ctx, w.accessToken, w.sub); err != nil {
		return err
	}
	w.observe(true, stepUserInfo, t0)
	w.observe(true, stepFlow, t0)
	return nil
}
