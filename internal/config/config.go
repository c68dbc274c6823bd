package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"gatehouse/internal/email"
)

// Config is every setting of a Gatehouse server. Precedence, lowest first:
// defaults, the YAML file, GATEHOUSE_* environment variables, command-line flags.
type Config struct {
	// Addr is the listen address.
	Addr string `yaml:"addr"`
	// Issuer is the public URL of the server, exactly as it appears in
	// tokens and discovery. It may end with "/" (as the hosted service's
	// issuers do); endpoints are built with IssuerURL either way.
	Issuer string `yaml:"issuer"`
	// DB selects the store: "sqlite:PATH".
	DB string `yaml:"db"`
	// TrustedProxies are the CIDRs (or addresses) of load balancers whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Postgres tunes the PostgreSQL pool.
	Postgres Postgres `yaml:"postgres"`
	// DataDir holds the default SQLite file and the generated master key.
	DataDir string `yaml:"data_dir"`
	// SecretKeyFile is the file holding the base64 master key that encrypts
	// private signing keys at rest. SecretKey (environment only) wins over it.
	SecretKeyFile string `yaml:"secret_key_file"`
	SecretKey     string `yaml:"-"`
	// TLS, when set, makes the server speak https itself.
	TLS TLS `yaml:"tls"`
	// ACME, when it names domains, makes the server obtain and renew its
	// https certificate itself from an ACME CA (Let's Encrypt by default).
	ACME ACME `yaml:"acme"`
	// MetricsAddr, when set, serves /metrics on a listener of its own
	// instead of the public one, since metrics should not be public.
	MetricsAddr string `yaml:"metrics_addr"`

	Log      Log      `yaml:"log"`
	Tokens   Tokens   `yaml:"tokens"`
	Password Password `yaml:"password"`
	Throttle Throttle `yaml:"throttle"`
	Email    Email    `yaml:"email"`
	MFA      MFA      `yaml:"mfa"`
	Logs     Logs     `yaml:"logs"`
	Logout   Logout   `yaml:"logout"`

	// Claims are custom claims copied from user metadata into tokens.
	Claims []ClaimRule `yaml:"claims"`
	// Connections are upstream connections kept in step with the database
	// at start.
	Connections []ConnectionConfig `yaml:"connections"`

	// SigningAlgorithm is the algorithm of newly generated signing keys.
	SigningAlgorithm string `yaml:"signing_algorithm"`
	// SettingsCacheTTL is how long a server answers application and API
	// lookups from memory; changes made elsewhere (another replica, the
	// command line) take effect within it. Zero turns the cache off.
	SettingsCacheTTL Duration `yaml:"settings_cache_ttl"`
	// UserIDProvider is the provider prefix of database users' ids
	// ("gatehouse" gives "gatehouse|…"; "auth0" keeps imported ids).
	UserIDProvider string `yaml:"user_id_provider"`
}

// Postgres tunes the PostgreSQL store's connection pool.
type Postgres struct {
	MaxConns         int32    `yaml:"max_conns"`         // pool size per replica; default max(4, CPUs)
	MinConns         int32    `yaml:"min_conns"`         // idle connections kept open
	StatementTimeout Duration `yaml:"statement_timeout"` // default 10s
	ConnectTimeout   Duration `yaml:"connect_timeout"`   // default 5s
}

// TLS is the certificate the server presents when it terminates https
// itself. Both files are PEM; the certificate file may hold the chain
// after the leaf. They are re-read when they change, so a renewed pair is
// picked up without a restart.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the server terminates https itself.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// LetsEncryptURL is the default ACME directory: Let's Encrypt production.
const LetsEncryptURL = "https://acme-v02.api.letsencrypt.org/directory"

// ACME obtains the https certificate from an ACME CA. The certificate is
// requested for Domains with the TLS-ALPN-01 challenge on the https
// listener itself and, when HTTPAddr is set, the HTTP-01 challenge there
// (port 80 as the CA sees it). Certificates and the account key are
// cached in the database (sealed with the master key, shared by replicas)
// or, when CacheDir is set, in that directory; they are renewed before
// they expire.
type ACME struct {
	Domains   []string `yaml:"domains"`
	Email     string   `yaml:"email"`     // contact for expiry notices; optional
	Directory string   `yaml:"directory"` // default LetsEncryptURL
	HTTPAddr  string   `yaml:"http_addr"` // listen address for HTTP-01; optional
	CacheDir  string   `yaml:"cache_dir"`
}

// Enabled reports whether certificates come from ACME.
func (a ACME) Enabled() bool { return len(a.Domains) > 0 }

// Log configures structured logging.
type Log struct {
	Format string `yaml:"format"` // text or json
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// Tokens sets lifetimes.
type Tokens struct {
	Code         Duration `yaml:"code_ttl"`          // authorization code, at most 10 minutes
	IDToken      Duration `yaml:"id_token_ttl"`      // ID token
	AccessToken  Duration `yaml:"access_token_ttl"`  // opaque access token
	RefreshToken Duration `yaml:"refresh_token_ttl"` // idle lifetime of a refresh token, renewed on rotation
	// RefreshAbsolute caps a refresh-token family's life from its first token.
	RefreshAbsolute Duration `yaml:"refresh_token_absolute_ttl"`
	Session         Duration `yaml:"session_ttl"`      // SSO session
	AuthRequest     Duration `yaml:"auth_request_ttl"` // time to finish the login page
	// KeysCacheTTL bounds how long a process signs and publishes from its
	// cached signing keys before re-reading them from the database.
	KeysCacheTTL Duration `yaml:"keys_cache_ttl"`
	// RefreshGrace is how long after a rotation the previous refresh token
	// returns the same successor again (a retry of a lost response); 0
	// makes rotated tokens strictly single-use.
	RefreshGrace Duration `yaml:"refresh_token_grace_period"`
}

// Password sets the argon2id parameters for new password hashes.
type Password struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
	MinLength   int    `yaml:"min_length"`
	// ResetKeepsSessions keeps a user's other sessions and refresh tokens
	// after a password reset; by default a reset ends them.
	ResetKeepsSessions bool `yaml:"reset_keeps_sessions"`
}

// Email is how Gatehouse sends email (address verification, password
// reset). An empty SMTPURL sends none.
type Email struct {
	// SMTPURL is smtp://user:pass@host:587 (STARTTLS required),
	// smtps://user:pass@host:465 (TLS), smtp://127.0.0.1:25?tls=none (a
	// loopback relay), or "log" (development only: messages, links
	// included, go to the server log). See email.ParseURL.
	SMTPURL string `yaml:"smtp_url"`
	// From is the sender, "Example <login@example.com>"; optional with "log".
	From string `yaml:"from"`
}

// Throttle limits failed logins (and sign-ups per IP), refilled smoothly
// over Window; internal/login's Policies says how.
type Throttle struct {
	PerAccount int      `yaml:"per_account"`
	PerIP      int      `yaml:"per_ip"`
	Window     Duration `yaml:"window"`
	// PendingRequestsPerIP is how many authorization requests that need
	// the login page (each stored until it expires) one client address,
	// or IPv6 /64, may start per minute; 0 turns the limit off.
	PendingRequestsPerIP int `yaml:"pending_requests_per_ip"`
}

// MFA sets the server's second-factor policy; an application may override
// it with its own.
type MFA struct {
	// Policy is "never" (no second factor unless an application or an
	// acr_values asks for one), "optional" (users may enroll, and those
	// who did are always asked) or "always" (every login needs one).
	Policy string `yaml:"policy"`
}

// MFA policies.
const (
	MFANever    = "never"
	MFAOptional = "optional"
	MFAAlways   = "always"
)

// Duration is a time.Duration written as "90s", "15m", "10h" or "7d".
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration accepts time.ParseDuration's syntax plus a whole number of days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return v, nil
}

// Default returns the built-in settings.
func Default() Config {
	return Config{
		Addr:    "127.0.0.1:8080",
		Issuer:  "http://localhost:8080",
		DataDir: "gatehouse-data",
		Log:     Log{Format: "text", Level: "info"},
		Tokens: Tokens{
			Code:            Duration(60 * time.Second),
			IDToken:         Duration(time.Hour),
			AccessToken:     Duration(time.Hour),
			RefreshToken:    Duration(30 * 24 * time.Hour),
			RefreshAbsolute: Duration(365 * 24 * time.Hour),
			RefreshGrace:    Duration(30 * time.Second),
			Session:         Duration(7 * 24 * time.Hour),
			AuthRequest:     Duration(30 * time.Minute),
			KeysCacheTTL:    Duration(10 * time.Second),
		},
		// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
		Password:         Password{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, MinLength: 8},
		Throttle:         Throttle{PerAccount: 5, PerIP: 100, Window: Duration(15 * time.Minute), PendingRequestsPerIP: 60},
		SigningAlgorithm: "RS256",
		SettingsCacheTTL: Duration(2 * time.Second),
		UserIDProvider:   "gatehouse",
		MFA:              MFA{Policy: MFANever},
		Logs:             defaultLogs(),
	}
}

// LoadFile merges a YAML file over c. Unknown keys are an error, so a typo
// never silently falls back to a default.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	return nil
}

// ApplyEnv merges GATEHOUSE_* variables over c, using lookup (os.LookupEnv
// in production).
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	str := map[string]*string{
		"GATEHOUSE_ADDR":              &c.Addr,
		"GATEHOUSE_ISSUER":            &c.Issuer,
		"GATEHOUSE_DB":                &c.DB,
		"GATEHOUSE_DATA_DIR":          &c.DataDir,
		"GATEHOUSE_SECRET_KEY_FILE":   &c.SecretKeyFile,
		"GATEHOUSE_SECRET_KEY":        &c.SecretKey,
		"GATEHOUSE_LOG_FORMAT":        &c.Log.Format,
		"GATEHOUSE_LOG_LEVEL":         &c.Log.Level,
		"GATEHOUSE_SIGNING_ALGORITHM": &c.SigningAlgorithm,
		"GATEHOUSE_USER_ID_PROVIDER":  &c.UserIDProvider,
		"GATEHOUSE_SMTP_URL":          &c.Email.SMTPURL,
		"GATEHOUSE_EMAIL_FROM":        &c.Email.From,
		"GATEHOUSE_MFA_POLICY":        &c.MFA.Policy,
		"GATEHOUSE_TLS_CERT_FILE":     &c.TLS.CertFile,
		"GATEHOUSE_TLS_KEY_FILE":      &c.TLS.KeyFile,
		"GATEHOUSE_ACME_EMAIL":        &c.ACME.Email,
		"GATEHOUSE_ACME_DIRECTORY":    &c.ACME.Directory,
		"GATEHOUSE_ACME_HTTP_ADDR":    &c.ACME.HTTPAddr,
		"GATEHOUSE_ACME_CACHE_DIR":    &c.ACME.CacheDir,
		"GATEHOUSE_METRICS_ADDR":      &c.MetricsAddr,
	}
	if v, ok := lookup("GATEHOUSE_ACME_DOMAINS"); ok {
		c.ACME.Domains = SplitList(v)
	}
	if v, ok := lookup("GATEHOUSE_TRUSTED_PROXIES"); ok {
		c.TrustedProxies = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
	}
	if v, ok := lookup("GATEHOUSE_PENDING_REQUESTS_PER_IP"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("GATEHOUSE_PENDING_REQUESTS_PER_IP: %q is not a whole number", v)
		}
		c.Throttle.PendingRequestsPerIP = n
	}
	for name, p := range str {
		if v, ok := lookup(name); ok {
			*p = v
		}
	}
	c.Logout.applyEnv(lookup)
	if err := c.Logs.applyEnv(lookup); err != nil {
		return err
	}
	durs := map[string]*Duration{
		"GATEHOUSE_CODE_TTL":                   &c.Tokens.Code,
		"GATEHOUSE_ID_TOKEN_TTL":               &c.Tokens.IDToken,
		"GATEHOUSE_ACCESS_TOKEN_TTL":           &c.Tokens.AccessToken,
		"GATEHOUSE_REFRESH_TOKEN_TTL":          &c.Tokens.RefreshToken,
		"GATEHOUSE_REFRESH_TOKEN_ABSOLUTE_TTL": &c.Tokens.RefreshAbsolute,
		"GATEHOUSE_REFRESH_TOKEN_GRACE_PERIOD": &c.Tokens.RefreshGrace,
		"GATEHOUSE_SESSION_TTL":                &c.Tokens.Session,
		"GATEHOUSE_SETTINGS_CACHE_TTL":         &c.SettingsCacheTTL,
	}
	for name, p := range durs {
		if v, ok := lookup(name); ok {
			d, err := ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			*p = Duration(d)
		}
	}
	return nil
}

// DBPath resolves the database setting: an explicit "sqlite:PATH", or the
// default file under DataDir.
func (c *Config) DBPath() (driver, dsn string, err error) {
	db := c.DB
	if db == "" {
		return "sqlite", filepath.Join(c.DataDir, "gatehouse.db"), nil
	}
	if p, ok := strings.CutPrefix(db, "sqlite:"); ok {
		if p == "" {
			return "", "", errors.New("db: sqlite: needs a file path, e.g. sqlite:./gatehouse-data/gatehouse.db")
		}
		return "sqlite", p, nil
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return "postgres", db, nil
	}
	return "", "", fmt.Errorf("db: unknown database %q; use sqlite:PATH or postgres://…", redactDSN(db))
}

// redactDSN hides a password in a database URL for error messages.
func redactDSN(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}

// IssuerURL joins an issuer and an endpoint path ("/authorize") with
// exactly one slash between them, so that an issuer that ends with "/"
// (https://id.example.com/, as the hosted service writes its own) serves
// the same endpoints as one that does not.
func IssuerURL(issuer, path string) string {
	return strings.TrimSuffix(issuer, "/") + path
}

// Validate checks every setting and reports the first problem.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return errors.New("addr: must not be empty")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("issuer: %q is not an absolute http(s) URL", c.Issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer: %q must have no query, fragment or user info", c.Issuer)
	}
	if strings.HasSuffix(strings.TrimSuffix(c.Issuer, "/"), "/") {
		return fmt.Errorf("issuer: %q must end with at most one slash", c.Issuer)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("issuer: %q must use https (http is allowed only on localhost)", c.Issuer)
	}
	if c.TLS.Enabled() {
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			return errors.New("tls: cert_file and key_file go together; set both or neither")
		}
		// The issuer is what browsers and tokens see: a server speaking
		// https must not announce itself as http.
		if u.Scheme != "https" {
			return fmt.Errorf("issuer: %q must use https when the server serves TLS", c.Issuer)
		}
	}
	if err := c.validateACME(u); err != nil {
		return err
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr {
		return fmt.Errorf("metrics_addr: %q is the public address; give metrics a listener of their own", c.MetricsAddr)
	}
	if _, _, err := c.DBPath(); err != nil {
		return err
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q is not text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	t := c.Tokens
	if t.Code.D() <= 0 || t.Code.D() > 10*time.Minute {
		return errors.New("tokens.code_ttl: must be between 1s and 10m")
	}
	for name, d := range map[string]Duration{"id_token_ttl": t.IDToken, "access_token_ttl": t.AccessToken,
		"refresh_token_ttl": t.RefreshToken, "refresh_token_absolute_ttl": t.RefreshAbsolute, "session_ttl": t.Session, "auth_request_ttl": t.AuthRequest} {
		if d.D() < time.Second {
			return fmt.Errorf("tokens.%s: must be at least 1s", name)
		}
	}
	if t.RefreshGrace.D() < 0 || t.RefreshGrace.D() > 5*time.Minute {
		return errors.New("tokens.refresh_token_grace_period: must be between 0 (strict single use) and 5m")
	}
	if t.KeysCacheTTL.D() <= 0 || t.KeysCacheTTL.D() > 5*time.Minute {
		return errors.New("tokens.keys_cache_ttl: must be between 1ms and 5m")
	}
	if c.SettingsCacheTTL.D() < 0 || c.SettingsCacheTTL.D() > time.Minute {
		return errors.New("settings_cache_ttl: must be between 0 (off) and 1m")
	}
	p := c.Password
	if p.MemoryKiB < 8*1024 || p.Iterations < 1 || p.Parallelism < 1 {
		return errors.New("password: argon2id needs memory_kib >= 8192, iterations >= 1, parallelism >= 1")
	}
	if p.MinLength < 8 || p.MinLength > 64 { // NIST SP 800-63B §3.1.1.2: at least 8, and 64 characters always allowed
		return errors.New("password.min_length: must be between 8 and 64")
	}
	if c.Throttle.PerAccount < 1 || c.Throttle.PerIP < 1 || c.Throttle.Window.D() < time.Second {
		return errors.New("throttle: per_account and per_ip must be positive and window at least 1s")
	}
	if c.Throttle.PendingRequestsPerIP < 0 {
		return errors.New("throttle.pending_requests_per_ip: must be 0 (no limit) or positive")
	}
	switch c.SigningAlgorithm {
	case "RS256", "ES256", "EdDSA":
	default:
		return fmt.Errorf("signing_algorithm: %q is not RS256, ES256 or EdDSA", c.SigningAlgorithm)
	}
	if _, err := ParseCIDRs(c.TrustedProxies); err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	for i, r := range c.Claims {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("claims[%d]: %w", i, err)
		}
	}
	if c.UserIDProvider == "" || strings.Contains(c.UserIDProvider, "|") {
		return errors.New("user_id_provider: must be non-empty and contain no '|'")
	}
	if c.Email.SMTPURL != "" {
		if _, err := email.ParseURL(c.Email.SMTPURL); err != nil {
			return fmt.Errorf("email.smtp_url: %w", err)
		}
		if c.Email.SMTPURL != "log" || c.Email.From != "" {
			if _, err := email.ParseFrom(c.Email.From); err != nil {
				return err
			}
		}
	}
	switch c.MFA.Policy {
	case MFANever, MFAOptional, MFAAlways:
	default:
		return fmt.Errorf("mfa.policy: %q is not never, optional or always", c.MFA.Policy)
	}
	if err := c.Logout.validate(); err != nil {
		return err
	}
	if err := c.Logs.validate(); err != nil {
		return err
	}
	return nil
}

// ParseCIDRs reads CIDRs; a bare address counts as a single-host prefix.
func ParseCIDRs(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// IsLoopback reports whether host is localhost or a loopback IP literal.
func IsLoopback(host string) bool {
	switch host {
	case "localhost", "127.0.0.1", "::1", "[::1]":
		return true
	}
	return false
}

// SplitList splits a comma- or space-separated list, dropping empty items.
func SplitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

// validateACME checks the ACME settings against the issuer u.
func (c *Config) validateACME(u *url.URL) error {
	a := c.ACME
	if !a.Enabled() {
		if a.Email != "" || a.Directory != "" || a.HTTPAddr != "" || a.CacheDir != "" {
			return errors.New("acme: settings given without acme.domains")
		}
		return nil
	}
	// Two sources of certificates would leave it unclear which is served.
	if c.TLS.Enabled() {
		return errors.New("acme: domains and tls cert_file/key_file exclude each other; pick one")
	}
	if u.Scheme != "https" {
		return fmt.Errorf("issuer: %q must use https when the server obtains certificates with ACME", c.Issuer)
	}
	host := strings.ToLower(u.Hostname())
	found := false
	for _, d := range a.Domains {
		if d == "" || strings.ContainsAny(d, "*/:") || net.ParseIP(d) != nil {
			return fmt.Errorf("acme: domain %q is not a host name (no wildcards, ports or addresses)", d)
		}
		if strings.EqualFold(d, host) {
			found = true
		}
	}
	// A certificate that does not name the issuer's host is useless: every
	// client would refuse it.
	if !found {
		return fmt.Errorf("acme: the issuer's host %q must be one of the domains %q", host, a.Domains)
	}
	if a.Directory != "" {
		d, err := url.Parse(a.Directory)
		if err != nil || d.Scheme != "https" || d.Host == "" {
			return fmt.Errorf("acme: directory %q must be an https URL", a.Directory)
		}
	}
	if a.HTTPAddr != "" && (a.HTTPAddr == c.Addr || a.HTTPAddr == c.MetricsAddr) {
		return fmt.Errorf("acme: http_addr %q is already used by another listener", a.HTTPAddr)
	}
	return nil
}
