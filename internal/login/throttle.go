package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// Throttle sets the limits of the hosted pages' attempts (see Policies).
type Throttle struct {
	// PerAccount is how many attempts one client may make on one account
	// per Window: one IP, or one browser that has logged in to the
	// account before (a known device). Across every client an account
	// allows more, at slower and slower rates.
	PerAccount int
	// PerIP is how many logins one IP may attempt per Window, whatever
	// the account, and how many sign-ups it may make.
	PerIP  int
	Window time.Duration
	// DeviceKey signs the known-device cookies; every replica needs the
	// same key. Empty means a random key per process: device cookies then
	// count only on the process that set them, until it restarts.
	DeviceKey []byte
}

// Action names a throttled action of the hosted pages.
type Action string

// The throttled actions. Each has a Policy.
const (
	ActionLogin              Action = "login"  // a password checked
	ActionSignUp             Action = "signup" // an account created (a password hashed)
	ActionPasswordReset      Action = "reset"  // a password-reset email asked for
	ActionResendVerification Action = "verify" // another verification email asked for
	ActionMFACode            Action = "mfa"    // a second-factor code checked
)

// Rate is Limit attempts per Window, refilled smoothly: one comes back
// every Window/Limit. The zero Rate is no limit.
type Rate struct {
	Limit  int
	Window time.Duration
}

// Policy is the limits of one action. A Reservation takes one attempt from
// each limit that applies, in this order, before the work it guards.
type Policy struct {
	// Client limits attempts on one account from one client: per
	// (account, IP), or per (account, device) from a known device of the
	// account, which so is never held back by other people's failures.
	Client Rate
	// IP limits attempts from one IP across every account.
	IP Rate
	// Account limits attempts on one account from every client but its
	// known devices, whatever their IP. Each rate is meant to be slower
	// than the one before, so that an attack from many addresses meets
	// growing delays instead of locking the account: a refused attempt is
	// told when to come back, and a known device or a password reset gets
	// through at once.
	Account []Rate
}

// Policies returns the limits of every action for t. Logins and
// second-factor codes: PerAccount per Window per client; per account from
// all other clients together 4×PerAccount per Window, then 8×PerAccount
// per 4 Windows, then 16×PerAccount per 96 Windows (with the defaults,
// waits of 45 s, then 90 s, then 18 minutes between guesses); PerIP per
// Window per IP. Sign-ups: PerIP per Window per IP. Reset and
// verification emails: PerAccount per Window per account and per client,
// PerIP per Window per IP.
func Policies(t Throttle) map[Action]Policy {
	a, ip, w := t.PerAccount, t.PerIP, t.Window
	guesses := Policy{
		Client:  Rate{a, w},
		IP:      Rate{ip, w},
		Account: []Rate{{4 * a, w}, {8 * a, 4 * w}, {16 * a, 96 * w}},
	}
	emails := Policy{Client: Rate{a, w}, IP: Rate{ip, w}, Account: []Rate{{a, w}}}
	return map[Action]Policy{
		ActionLogin:              guesses,
		ActionMFACode:            guesses,
		ActionSignUp:             {IP: Rate{ip, w}},
		ActionPasswordReset:      emails,
		ActionResendVerification: emails,
	}
}

// Subject is who attempts an action.
type Subject struct {
	// Account is the account the attempt names: its lower-cased email
	// (accountName), for every action, so that limits and known devices
	// are the account's whichever page counts them. Empty for actions on
	// no account (sign-up).
	Account string
	// IP is the client's address.
	IP string
	// Device is the browser's known-device ID for Account, or empty.
	Device string
}

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	Store    store.Throttler
	Policies map[Action]Policy
	// DeviceKey signs known-device cookies (see Throttle.DeviceKey).
	DeviceKey []byte
	// Secure sets the Secure attribute on device cookies (https issuer).
	Secure bool
	Log    *slog.Logger
	Now    func() time.Time
	// Audit records each lockout once, as limit_wc (an account) or
	// limit_mu (an address); nil records nothing.
	Audit audit.Recorder
}

// Limiter applies each action's Policy through the store, so that its
// limits hold across replicas and under any concurrency. It keeps nothing
// in memory.
type Limiter struct {
	cfg LimiterConfig
}

// NewLimiter returns a limiter. A rate faster than one attempt per
// millisecond is slowed to that (the store counts milliseconds).
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.Store == nil {
		return nil, errors.New("limiter: no store")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.DeviceKey) == 0 {
		cfg.DeviceKey = make([]byte, 32)
		_, _ = rand.Read(cfg.DeviceKey)
	}
	policies := make(map[Action]Policy, len(cfg.Policies))
	for action, p := range cfg.Policies {
		var err error
		if p.Client, err = p.Client.fit(); err != nil {
			return nil, fmt.Errorf("limiter: %s: %w", action, err)
		}
		if p.IP, err = p.IP.fit(); err != nil {
			return nil, fmt.Errorf("limiter: %s: %w", action, err)
		}
		account := make([]Rate, len(p.Account))
		for i, r := range p.Account {
			if account[i], err = r.fit(); err != nil {
				return nil, fmt.Errorf("limiter: %s: %w", action, err)
			}
		}
		p.Account = account
		policies[action] = p
	}
	cfg.Policies = policies
	return &Limiter{cfg: cfg}, nil
}

// fit checks the rate and slows it to one attempt per millisecond at most.
func (r Rate) fit() (Rate, error) {
	if r == (Rate{}) {
		return r, nil
	}
	if r.Limit < 1 || r.Window < time.Millisecond {
		return r, fmt.Errorf("rate of %d per %v: want a positive limit and window", r.Limit, r.Window)
	}
	r.Limit = int(min(int64(r.Limit), r.Window.Milliseconds()))
	return r, nil
}

// Policy returns the limits of action.
func (l *Limiter) Policy(action Action) (Policy, bool) {
	p, ok := l.cfg.Policies[action]
	return p, ok
}

// bucket is one limit of a reservation: a store key and its rate.
type bucket struct {
	key   string
	rate  Rate
	scope string // names the limit in log events
	event string // the log event of its lockouts
	// client marks the caller's own limit, which a success clears
	// instead of returning one attempt.
	client bool
}

// Log event codes of lockouts, the hosted service's: too many attempts on
// one account (limit_wc) or from one IP (limit_mu).
const (
	eventAccountLimit = audit.TypeBlockedAccount
	eventIPLimit      = audit.TypeBlockedIP
)

// buckets returns the limits of action that apply to s, in order.
func (l *Limiter) buckets(action Action, p Policy, s Subject) []bucket {
	var bs []bucket
	if s.Account != "" && p.Client != (Rate{}) {
		if s.Device != "" {
			bs = append(bs, bucket{key: limitKey(action, "device", s.Account, s.Device), rate: p.Client,
				scope: "account_device", event: eventAccountLimit, client: true})
		} else {
			bs = append(bs, bucket{key: limitKey(action, "client", s.Account, s.IP), rate: p.Client,
				scope: "account_ip", event: eventAccountLimit, client: true})
		}
	}
	if p.IP != (Rate{}) {
		bs = append(bs, bucket{key: limitKey(action, "ip", s.IP), rate: p.IP, scope: "ip", event: eventIPLimit})
	}
	if s.Account != "" && s.Device == "" {
		for i, r := range p.Account {
			bs = append(bs, bucket{key: limitKey(action, "account"+strconv.Itoa(i+1), s.Account), rate: r,
				scope: "account", event: eventAccountLimit})
		}
	}
	return bs
}

// limitKey is the store key of one limit: the action, the kind of limit,
// and a hash of what it counts, so that no email or address is stored in
// it or logged with it, and its length is bounded whatever was typed. The
// hash is not keyed, so that every replica computes the same key.
func limitKey(action Action, kind string, parts ...string) string {
	return string(action) + ":" + kind + ":" + token.Hash(strings.Join(parts, "\x00"))
}

// Reservation is one attempt of an action, taken from each of its limits
// before the work it guards.
type Reservation struct {
	// OK means every limit had an attempt free: go ahead.
	OK bool
	// RetryAfter is, when refused, how long until the limit that refused
	// has an attempt free again.
	RetryAfter time.Duration

	l     *Limiter
	taken []bucket
}

// Reserve takes one attempt of action for s from each limit of the
// action's policy, in order, before the work the limits guard (so that
// concurrent attempts cannot all slip past them). When a limit refuses,
// the attempts taken from the limits before it are given back, so a
// refused attempt costs no other limit anything, and the refusal that
// starts a lockout is logged (once per lockout).
func (l *Limiter) Reserve(ctx context.Context, action Action, s Subject) (*Reservation, error) {
	p, ok := l.cfg.Policies[action]
	if !ok {
		return nil, fmt.Errorf("reserve %s: no policy for the action", action)
	}
	now := l.cfg.Now()
	res := &Reservation{OK: true, l: l}
	for _, b := range l.buckets(action, p, s) {
		a, err := l.cfg.Store.TakeAttempt(ctx, b.key, b.rate.Limit, b.rate.Window, now)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("reserve %s: %w", action, err), res.giveBack(ctx, now))
		}
		if !a.OK {
			if a.Refusals == 1 {
				l.cfg.Log.Warn("too many attempts", "event", b.event, "action", string(action), "limit", b.scope,
					"key", b.key, "ip", s.IP, "retry_after", retrySeconds(a.RetryAfter))
				l.recordLockout(action, b, s, a.RetryAfter)
			}
			if err := res.giveBack(ctx, now); err != nil {
				return nil, fmt.Errorf("reserve %s: %w", action, err)
			}
			return &Reservation{RetryAfter: a.RetryAfter, l: l}, nil
		}
		res.taken = append(res.taken, b)
	}
	return res, nil
}

// recordLockout writes the audit event of a lockout that starts: the
// account's (its email as the user name) or the address's.
func (l *Limiter) recordLockout(action Action, b bucket, s Subject, retry time.Duration) {
	if l.cfg.Audit == nil {
		return
	}
	e := audit.Event{Type: b.event, IP: s.IP, Description: "too many attempts: " + string(action),
		Details: map[string]any{"action": string(action), "limit": b.scope, "retry_after": retrySeconds(retry)}}
	if b.event == eventAccountLimit {
		e.UserName = s.Account
	}
	l.cfg.Audit.Record(e)
}

// giveBack returns every attempt the reservation took.
func (r *Reservation) giveBack(ctx context.Context, now time.Time) error {
	var errs []error
	for _, b := range r.taken {
		errs = append(errs, r.l.cfg.Store.ReturnAttempt(ctx, b.key, b.rate.Limit, b.rate.Window, now))
	}
	r.taken = nil
	return errors.Join(errs...)
}

// Succeeded records that the attempt proved the subject right (the
// password or the code was correct), so that it counts against nobody:
// the subject's own limit per account is cleared, and the attempt is given
// back to the shared limits (per IP, per account). Do not call it for
// actions whose attempts count whatever their outcome (sign-ups, emails).
func (r *Reservation) Succeeded(ctx context.Context) error {
	if r == nil || !r.OK {
		return nil
	}
	now := r.l.cfg.Now()
	var errs []error
	for _, b := range r.taken {
		if b.client {
			errs = append(errs, r.l.cfg.Store.ClearAttempts(ctx, b.key))
		} else {
			errs = append(errs, r.l.cfg.Store.ReturnAttempt(ctx, b.key, b.rate.Limit, b.rate.Window, now))
		}
	}
	r.taken = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("give back attempt: %w", err)
	}
	return nil
}

// Refusal is the sentence a page shows for a refused reservation: what
// happened, then how long to wait.
func (r *Reservation) Refusal(what string) string {
	return fmt.Sprintf("%s Wait %s and try again.", what, waitText(r.RetryAfter))
}

// ClearAccount lets s through every limit of s.Account at once: it clears,
// for every action, the limits across the account and s's own limits on
// it (at its IP and on its device). Other clients' limits on the account
// stay, so a throttled attacker stays throttled, and so do the limits per
// IP. Call it when the user has proved control of the account's email
// address, e.g. by opening a password-reset link; never on a mere request
// for such a link.
func (l *Limiter) ClearAccount(ctx context.Context, s Subject) error {
	if s.Account == "" {
		return errors.New("clear account limits: no account")
	}
	var errs []error
	for action, p := range l.cfg.Policies {
		var keys []string
		if p.Client != (Rate{}) {
			keys = append(keys, limitKey(action, "client", s.Account, s.IP))
			if s.Device != "" {
				keys = append(keys, limitKey(action, "device", s.Account, s.Device))
			}
		}
		for i := range p.Account {
			keys = append(keys, limitKey(action, "account"+strconv.Itoa(i+1), s.Account))
		}
		for _, k := range keys {
			errs = append(errs, l.cfg.Store.ClearAttempts(ctx, k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clear account limits: %w", err)
	}
	return nil
}

// Known devices.
//
// A browser that logged in to an account gets a cookie that names a random
// device ID and is signed with the device key for that account. Its
// attempts on that account then count against the device alone, so
// failures from elsewhere (an attack on the account) never hold it back.
// A forged, expired or other account's cookie is no device: the attempt
// counts as any stranger's.

// deviceTTL is how long a device stays known after its last login.
const deviceTTL = 180 * 24 * time.Hour

// deviceCookiePrefix starts the name of each account's device cookie; the
// rest is derived from the account, so one browser may be a known device
// of several accounts.
const deviceCookiePrefix = "gatehouse_device_"

func (l *Limiter) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, l.cfg.DeviceKey)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// deviceCookie is the name of account's device cookie; it does not reveal
// the account.
func (l *Limiter) deviceCookie(account string) string {
	return deviceCookiePrefix + base64.RawURLEncoding.EncodeToString(l.mac("device-cookie", account)[:12])
}

// Device returns the known-device ID that r's cookie proves for account,
// or "" when it has none that is valid.
func (l *Limiter) Device(r *http.Request, account string) string {
	if account == "" {
		return ""
	}
	c, err := r.Cookie(l.deviceCookie(account))
	if err != nil {
		return ""
	}
	id, rest, ok1 := strings.Cut(c.Value, ".")
	exp, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || id == "" {
		return ""
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || l.cfg.Now().Unix() >= expires {
		return ""
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, l.mac("device", account, id, exp)) {
		return ""
	}
	return id
}

// RememberDevice makes the browser a known device of account for
// deviceTTL, with a new device ID.
func (l *Limiter) RememberDevice(w http.ResponseWriter, account string) {
	if account == "" {
		return
	}
	id := token.NewOpaque()[:22] // 132 bits
	expires := l.cfg.Now().Add(deviceTTL)
	exp := strconv.FormatInt(expires.Unix(), 10)
	sig := base64.RawURLEncoding.EncodeToString(l.mac("device", account, id, exp))
	http.SetCookie(w, &http.Cookie{
		Name:     l.deviceCookie(account),
		Value:    id + "." + exp + "." + sig,
		Path:     "/u/",
		Expires:  expires,
		HttpOnly: true,
		Secure:   l.cfg.Secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// The hosted pages' side.

// newPagesLimiter returns the hosted pages' limiter for cfg.
func newPagesLimiter(cfg Config) (*Limiter, error) {
	return NewLimiter(LimiterConfig{
		Store:     cfg.Store,
		Policies:  Policies(cfg.Throttle),
		DeviceKey: cfg.Throttle.DeviceKey,
		Secure:    cfg.Secure,
		Log:       cfg.Log,
		Now:       cfg.Now,
		Audit:     cfg.Audit,
	})
}

// accountName is the account a typed email names: the same for any case
// and surrounding spaces, as the database connection compares emails.
func accountName(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// subject is the browser of r attempting an action on account.
func (p *Pages) subject(r *http.Request, account string) Subject {
	return Subject{Account: account, IP: clientIP(r), Device: p.limits.Device(r, account)}
}

// reserve takes one attempt of action on account (empty for none) for the
// browser of r. When the attempt is refused it has set Retry-After: the
// caller shows its page with res.Refusal and status 429.
func (p *Pages) reserve(w http.ResponseWriter, r *http.Request, action Action, account string) (*Reservation, error) {
	res, err := p.limits.Reserve(r.Context(), action, p.subject(r, account))
	if err != nil {
		return nil, err
	}
	if !res.OK {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(res.RetryAfter)))
	}
	return res, nil
}

// passed records that the browser of r proved itself for account with the
// reserved attempt: the attempt is given back, and the browser becomes a
// known device of account.
func (p *Pages) passed(w http.ResponseWriter, r *http.Request, res *Reservation, account string) {
	if err := res.Succeeded(r.Context()); err != nil {
		p.cfg.Log.Warn("give back attempt", "err", err)
	}
	p.limits.RememberDevice(w, account)
}

// ClearThrottle lets the browser of r through every limit of the account
// of email at once, and makes it a known device of that account. The
// password-reset flow calls it once the user has opened a valid reset link
// (they have proved control of the email); nothing else should. Attempts
// of other browsers and addresses on the account stay counted.
func (p *Pages) ClearThrottle(w http.ResponseWriter, r *http.Request, email string) error {
	account := accountName(email)
	if err := p.limits.ClearAccount(r.Context(), p.subject(r, account)); err != nil {
		return err
	}
	p.limits.RememberDevice(w, account)
	return nil
}

// retrySeconds is a wait as Retry-After seconds, rounded up (RFC 9110
// §10.2.3 allows whole seconds only) and at least 1.
func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// waitText says how long a wait is, rounded up to the unit it is given in.
func waitText(d time.Duration) string {
	s := retrySeconds(d)
	plural := func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	switch {
	case s < 60:
		return plural(s, "a second", "seconds")
	case s < 3600:
		return plural((s+59)/60, "a minute", "minutes")
	default:
		return plural((s+3599)/3600, "an hour", "hours")
	}
}
