package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// backchannelLogoutEvent is the member of a logout token's events claim
// (OpenID Back-Channel Logout 1.0 §2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenType is the typ header of logout tokens (§2.4 recommends
// explicit typing, so one is never taken for an ID token).
const logoutTokenType = "logout+jwt"

// recordSessionClient remembers that the session signed into client, so
// that its logout reaches the client. Only clients with a back-channel
// URI are owed anything, so the others cost no write.
func (p *Provider) recordSessionClient(ctx context.Context, sessionID string, client store.Client, now time.Time) error {
	if sessionID == "" || client.BackchannelLogoutURI == "" {
		return nil
	}
	if err := p.cfg.Store.RecordSessionClient(ctx, sessionID, client.ID, now); err != nil {
		return fmt.Errorf("record session client: %w", err)
	}
	return nil
}

// queueLogouts queues the logout tokens owed for the session that is
// ending and wakes this replica's sender. It runs before the session is
// deleted, which drops the record of its clients.
func (p *Provider) queueLogouts(ctx context.Context, sessionID string) error {
	n, err := p.cfg.Store.QueueSessionLogouts(ctx, sessionID, "", p.now())
	if err != nil {
		return fmt.Errorf("queue back-channel logouts: %w", err)
	}
	if n > 0 {
		p.wakeLogoutSender()
	}
	return nil
}

func (p *Provider) wakeLogoutSender() {
	select {
	case p.logoutWake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// LogoutSenderConfig tunes a LogoutSender; zero values take the defaults.
type LogoutSenderConfig struct {
	// Client posts the logout tokens; by default one with a 10-second
	// timeout that follows no redirect (§2.5 has the RP answer, not
	// redirect).
	Client *http.Client
	// Poll is how often the sender looks for due deliveries when nothing
	// wakes it (deliveries that operators queued, retries, other
	// replicas' queues); default 5 seconds.
	Poll time.Duration
	// RetryBase is the delay before the first retry; it doubles with each
	// failed attempt up to RetryMax. Defaults 10 seconds and 1 hour.
	RetryBase, RetryMax time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is
	// dropped (and logged); default 12, about seven hours of retries.
	MaxAttempts int
	// TokenTTL is the logout token's lifetime; default 2 minutes, as
	// §2.4 recommends.
	TokenTTL time.Duration
	// Parallel bounds the posts in flight; default 4.
	Parallel int
}

// LogoutSender delivers queued logout tokens (OpenID Back-Channel Logout
// 1.0 §2.5) in the background, at least once: a delivery stays in the
// store until the client accepts it or it runs out of attempts, so a
// restart loses none. Several replicas may each run one.
type LogoutSender struct {
	p   *Provider
	cfg LogoutSenderConfig
}

// LogoutSender returns the sender of this provider's logout tokens; Run
// it in the background.
func (p *Provider) LogoutSender(cfg LogoutSenderConfig) *LogoutSender {
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, 5*time.Second)
	def(&cfg.RetryBase, 10*time.Second)
	def(&cfg.RetryMax, time.Hour)
	def(&cfg.TokenTTL, 2*time.Minute)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	return &LogoutSender{p: p, cfg: cfg}
}

// Run sends due deliveries until ctx is done.
func (s *LogoutSender) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.p.cfg.Log.Warn("back-channel logout: claim deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.p.logoutWake:
		case <-t.C:
		}
	}
}

// claimBatch is how many deliveries one claim takes.
const claimBatch = 32

// SendDue makes one attempt at every delivery due now and returns how
// many the clients accepted.
func (s *LogoutSender) SendDue(ctx context.Context) (int, error) {
	// The lease outlasts an attempt, so no other sender takes a delivery
	// while this one is posting it.
	lease := 2*s.cfg.Client.Timeout + time.Minute
	var (
		mu   sync.Mutex // guards sent
		sent int
	)
	for ctx.Err() == nil {
		ds, err := s.p.cfg.Store.ClaimLogoutDeliveries(ctx, s.p.now(), lease, claimBatch)
		if err != nil {
			return sent, err
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, s.cfg.Parallel)
		for _, d := range ds {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if s.deliver(ctx, d) {
					mu.Lock()
					sent++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(ds) < claimBatch {
			break
		}
	}
	return sent, ctx.Err()
}

// deliver makes one attempt at d and records its outcome; it reports
// whether the client accepted the token.
func (s *LogoutSender) deliver(ctx context.Context, d store.LogoutDelivery) bool {
	log := s.p.cfg.Log.With("client_id", d.ClientID, "attempt", d.Attempts+1)
	st := s.p.cfg.Store
	client, err := st.GetClient(ctx, d.ClientID)
	if errors.Is(err, store.ErrNotFound) || err == nil && client.BackchannelLogoutURI == "" {
		// The application is gone or wants no logout tokens any more.
		s.forget(ctx, d, log)
		return false
	}
	if err == nil {
		err = s.post(ctx, client, d)
	}
	if err == nil {
		s.forget(ctx, d, log)
		return true
	}
	if ctx.Err() != nil {
		// Stopped (shutdown) in the middle: not the application's failure.
		// The next sender to run, here or in another replica, starts with it.
		if rerr := st.RetryLogoutDelivery(context.WithoutCancel(ctx), d.SessionID, d.ClientID, d.Attempts, s.p.now()); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
			log.Warn("back-channel logout: record interrupted attempt", "err", rerr)
		}
		return false
	}
	attempts := d.Attempts + 1
	if attempts >= s.cfg.MaxAttempts {
		log.Error("back-channel logout: giving up", "err", err)
		s.forget(ctx, d, log)
		return false
	}
	delay := s.cfg.RetryBase << min(attempts-1, 30)
	if delay <= 0 || delay > s.cfg.RetryMax {
		delay = s.cfg.RetryMax
	}
	log.Warn("back-channel logout: will retry", "err", err, "in", delay)
	if rerr := st.RetryLogoutDelivery(ctx, d.SessionID, d.ClientID, attempts, s.p.now().Add(delay)); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
		// The lease runs out and the delivery is tried again then.
		log.Warn("back-channel logout: record retry", "err", rerr)
	}
	return false
}

func (s *LogoutSender) forget(ctx context.Context, d store.LogoutDelivery, log interface{ Warn(string, ...any) }) {
	// Recorded even when the sender is stopping: the application has it.
	if err := s.p.cfg.Store.DeleteLogoutDelivery(context.WithoutCancel(ctx), d.SessionID, d.ClientID); err != nil {
		// It is sent again once its lease ends: at least once.
		log.Warn("back-channel logout: delete delivery", "err", err)
	}
}

// post sends one logout token to the client's back-channel URI (§2.5) and
// returns an error unless the client answered 2xx.
func (s *LogoutSender) post(ctx context.Context, client store.Client, d store.LogoutDelivery) error {
	raw, err := s.p.logoutToken(ctx, client, d, s.cfg.TokenTTL)
	if err != nil {
		return err
	}
	body := url.Values{"logout_token": {raw}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, client.BackchannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		// The URL error names the URI, never the token (it is in the body).
		return fmt.Errorf("post logout token: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post logout token: the application answered %d", resp.StatusCode)
	}
	return nil
}

// logoutToken signs the logout token of d (§2.4): no nonce, an events
// claim, and the sid of the session's ID tokens, signed with the
// algorithm of the client's ID tokens, which it verifies them with. Its
// jti is the same at every attempt, so an application can tell a retry
// from a new logout.
func (p *Provider) logoutToken(ctx context.Context, c store.Client, d store.LogoutDelivery, ttl time.Duration) (string, error) {
	now := p.now()
	sessionSID := sid(d.SessionID)
	claims := map[string]any{
		"iss":    p.cfg.Issuer,
		"sub":    d.UserID,
		"aud":    d.ClientID,
		"iat":    now.Unix(),
		"exp":    now.Add(ttl).Unix(),
		"jti":    token.Hash("logout:" + sessionSID + ":" + d.ClientID),
		"sid":    sessionSID,
		"events": map[string]any{backchannelLogoutEvent: map[string]any{}},
	}
	sign := func() (string, error) { return p.cfg.Keys.Sign(ctx, claims, logoutTokenType) }
	if alg := c.IDTokenSigningAlg; alg != "" {
		sign = func() (string, error) { return p.cfg.Keys.SignWith(ctx, alg, claims, logoutTokenType) }
	}
	raw, err := sign()
	if errors.Is(err, store.ErrNotFound) && c.IDTokenSigningAlg != "" {
		// The ring is made with the application; this covers one deleted since.
		if err = p.cfg.Keys.EnsureAlgorithm(ctx, c.IDTokenSigningAlg); err == nil {
			raw, err = sign()
		}
	}
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return raw, nil
}
