package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"https issuer", func(c *Config) { c.Issuer = "https://id.example.com" }, ""},
		{"relative issuer", func(c *Config) { c.Issuer = "id.example.com" }, "issuer"},
		{"http issuer off loopback", func(c *Config) { c.Issuer = "http://id.example.com" }, "must use https"},
		{"issuer with trailing slash", func(c *Config) { c.Issuer = "https://id.example.com/" }, ""},
		{"issuer path with trailing slash", func(c *Config) { c.Issuer = "https://id.example.com/tenant/" }, ""},
		{"issuer with two trailing slashes", func(c *Config) { c.Issuer = "https://id.example.com//" }, "at most one slash"},
		{"issuer with user info", func(c *Config) { c.Issuer = "https://me@id.example.com" }, "user info"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://id.example.com?x=1" }, "no query"},
		{"empty addr", func(c *Config) { c.Addr = "" }, "addr"},
		{"code ttl too long", func(c *Config) { c.Tokens.Code = Duration(11 * time.Minute) }, "code_ttl"},
		{"tiny session", func(c *Config) { c.Tokens.Session = Duration(time.Millisecond) }, "session_ttl"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"weak argon2", func(c *Config) { c.Password.MemoryKiB = 1024 }, "argon2id"},
		{"short min password", func(c *Config) { c.Password.MinLength = 4 }, "min_length"},
		{"long min password", func(c *Config) { c.Password.MinLength = 65 }, "min_length"},
		{"throttle", func(c *Config) { c.Throttle.PerIP = 0 }, "throttle"},
		{"pending requests limit off", func(c *Config) { c.Throttle.PendingRequestsPerIP = 0 }, ""},
		{"pending requests limit negative", func(c *Config) { c.Throttle.PendingRequestsPerIP = -1 }, "pending_requests_per_ip"},
		{"signing alg", func(c *Config) { c.SigningAlgorithm = "HS256" }, "signing_algorithm"},
		{"user id provider", func(c *Config) { c.UserIDProvider = "a|b" }, "user_id_provider"},
		{"tls", func(c *Config) {
			c.Issuer, c.TLS = "https://id.example.com", TLS{CertFile: "cert.pem", KeyFile: "key.pem"}
		}, ""},
		{"tls without key", func(c *Config) { c.Issuer, c.TLS.CertFile = "https://id.example.com", "cert.pem" }, "tls: cert_file and key_file"},
		{"tls without certificate", func(c *Config) { c.Issuer, c.TLS.KeyFile = "https://id.example.com", "key.pem" }, "tls: cert_file and key_file"},
		{"tls with http issuer", func(c *Config) {
			c.Issuer, c.TLS = "http://localhost:8443", TLS{CertFile: "cert.pem", KeyFile: "key.pem"}
		}, "must use https when the server serves TLS"},
		{"acme", func(c *Config) {
			c.Issuer, c.ACME = "https://id.example.com/", ACME{Domains: []string{"www.example.com", "ID.example.com"}, Email: "ops@example.com", HTTPAddr: ":80"}
		}, ""},
		{"acme with tls files", func(c *Config) {
			c.Issuer, c.TLS, c.ACME.Domains = "https://id.example.com", TLS{CertFile: "cert.pem", KeyFile: "key.pem"}, []string{"id.example.com"}
		}, "exclude each other"},
		{"acme with http issuer", func(c *Config) { c.Issuer, c.ACME.Domains = "http://localhost:8080", []string{"localhost"} }, "must use https when the server obtains"},
		{"acme without the issuer's host", func(c *Config) { c.Issuer, c.ACME.Domains = "https://id.example.com", []string{"www.example.com"} }, "must be one of the domains"},
		{"acme wildcard", func(c *Config) {
			c.Issuer, c.ACME.Domains = "https://id.example.com", []string{"id.example.com", "*.example.com"}
		}, "not a host name"},
		{"acme address", func(c *Config) {
			c.Issuer, c.ACME.Domains = "https://id.example.com", []string{"id.example.com", "192.0.2.1"}
		}, "not a host name"},
		{"acme http directory", func(c *Config) {
			c.Issuer, c.ACME = "https://id.example.com", ACME{Domains: []string{"id.example.com"}, Directory: "http://ca.example.com/dir"}
		}, "must be an https URL"},
		{"acme challenge on the public address", func(c *Config) {
			c.Issuer, c.ACME = "https://id.example.com", ACME{Domains: []string{"id.example.com"}, HTTPAddr: c.Addr}
		}, "already used"},
		{"acme settings without domains", func(c *Config) { c.ACME.Email = "ops@example.com" }, "without acme.domains"},
		{"metrics on their own address", func(c *Config) { c.MetricsAddr = "127.0.0.1:9090" }, ""},
		{"metrics on the public address", func(c *Config) { c.MetricsAddr = c.Addr }, "metrics_addr"},
		{"mfa always", func(c *Config) { c.MFA.Policy = MFAAlways }, ""},
		{"mfa policy", func(c *Config) { c.MFA.Policy = "sometimes" }, "mfa.policy"},
		{"mfa policy empty", func(c *Config) { c.MFA.Policy = "" }, "mfa.policy"},
		{"unknown db", func(c *Config) { c.DB = "mysql://x" }, "unknown database"},
		{"postgres db", func(c *Config) { c.DB = "postgres://u:p@localhost/db" }, ""},
		{"trusted proxies", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1"} }, ""},
		{"bad trusted proxy", func(c *Config) { c.TrustedProxies = []string{"ten.0.0.0/8"} }, "trusted_proxies"},
		{"claim not namespaced", func(c *Config) { c.Claims = []ClaimRule{{Claim: "roles", From: "app_metadata.roles"}} }, "namespaced"},
		{"reserved claim", func(c *Config) { c.Claims = []ClaimRule{{Claim: "aud", From: "app_metadata.x"}} }, "reserved"},
		{"claim source", func(c *Config) { c.Claims = []ClaimRule{{Claim: "https://e.example/x", From: "email"}} }, "app_metadata.FIELD"},
		{"settings cache off", func(c *Config) { c.SettingsCacheTTL = 0 }, ""},
		{"settings cache negative", func(c *Config) { c.SettingsCacheTTL = Duration(-time.Second) }, "settings_cache_ttl"},
		{"settings cache too long", func(c *Config) { c.SettingsCacheTTL = Duration(2 * time.Minute) }, "settings_cache_ttl"},
		{"email over STARTTLS", func(c *Config) {
			c.Email = Email{SMTPURL: "smtp://user:pass@smtp.example.com:587", From: "Example <login@example.com>"}
		}, ""},
		{"email to the log", func(c *Config) { c.Email.SMTPURL = "log" }, ""},
		{"email without a sender", func(c *Config) { c.Email.SMTPURL = "smtps://smtp.example.com" }, "email.from: required"},
		{"email with a bad sender", func(c *Config) { c.Email = Email{SMTPURL: "log", From: "Example"} }, "email.from"},
		{"email bad scheme", func(c *Config) { c.Email = Email{SMTPURL: "http://smtp.example.com", From: "a@example.com"} }, "email.smtp_url"},
		{"email plain off loopback", func(c *Config) {
			c.Email = Email{SMTPURL: "smtp://smtp.example.com?tls=none", From: "a@example.com"}
		}, "loopback"},
		{"claim token kind", func(c *Config) {
			c.Claims = []ClaimRule{{Claim: "https://e.example/x", From: "app_metadata.x", Tokens: []string{"refresh_token"}}}
		}, "tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"GATEHOUSE_ADDR": "0.0.0.0:9000", "GATEHOUSE_ISSUER": "https://id.example.com", "GATEHOUSE_CODE_TTL": "2m",
		"GATEHOUSE_REFRESH_TOKEN_TTL": "7d", "GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
		"GATEHOUSE_SETTINGS_CACHE_TTL": "0", "GATEHOUSE_SMTP_URL": "smtps://smtp.example.com", "GATEHOUSE_EMAIL_FROM": "a@example.com", "GATEHOUSE_PENDING_REQUESTS_PER_IP": "0", "GATEHOUSE_MFA_POLICY": "optional",
		"GATEHOUSE_TLS_CERT_FILE": "/etc/gatehouse/cert.pem", "GATEHOUSE_TLS_KEY_FILE": "/etc/gatehouse/key.pem",
		"GATEHOUSE_ACME_DOMAINS": "id.example.com, www.example.com", "GATEHOUSE_ACME_EMAIL": "ops@example.com",
		"GATEHOUSE_ACME_DIRECTORY": "https://ca.example.com/dir", "GATEHOUSE_ACME_HTTP_ADDR": ":80",
		"GATEHOUSE_ACME_CACHE_DIR": "/var/cache/gatehouse", "GATEHOUSE_METRICS_ADDR": "127.0.0.1:9090",
	}
	c := Default()
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:9000" || c.Issuer != "https://id.example.com" || c.Tokens.Code.D() != 2*time.Minute ||
		c.Tokens.RefreshToken.D() != 7*24*time.Hour || len(c.TrustedProxies) != 2 || c.SettingsCacheTTL != 0 ||
		c.Email != (Email{SMTPURL: "smtps://smtp.example.com", From: "a@example.com"}) ||
		c.Throttle.PendingRequestsPerIP != 0 || c.MFA.Policy != MFAOptional ||
		c.TLS != (TLS{CertFile: "/etc/gatehouse/cert.pem", KeyFile: "/etc/gatehouse/key.pem"}) {
		t.Errorf("config after env: %+v", c)
	}
	if strings.Join(c.ACME.Domains, "|") != "id.example.com|www.example.com" || c.ACME.Email != "ops@example.com" ||
		c.ACME.Directory != "https://ca.example.com/dir" || c.ACME.HTTPAddr != ":80" || c.ACME.CacheDir != "/var/cache/gatehouse" ||
		c.MetricsAddr != "127.0.0.1:9090" {
		t.Errorf("acme and metrics after env: %+v %q", c.ACME, c.MetricsAddr)
	}
	bad := Default()
	err := bad.ApplyEnv(func(k string) (string, bool) { return "soon", k == "GATEHOUSE_SESSION_TTL" })
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SESSION_TTL") {
		t.Errorf("bad duration: %v", err)
	}
	bad = Default()
	err = bad.ApplyEnv(func(k string) (string, bool) { return "lots", k == "GATEHOUSE_PENDING_REQUESTS_PER_IP" })
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_PENDING_REQUESTS_PER_IP") {
		t.Errorf("bad number: %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := Default()
	if err := c.LoadFile(write("ok.yaml", "issuer: https://id.example.com\ntokens:\n  id_token_ttl: 30m\nmfa:\n  policy: always\ntls:\n  cert_file: c.pem\n  key_file: k.pem\n")); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://id.example.com" || c.Tokens.IDToken.D() != 30*time.Minute || c.Tokens.AccessToken.D() != time.Hour || c.MFA.Policy != MFAAlways ||
		c.TLS != (TLS{CertFile: "c.pem", KeyFile: "k.pem"}) {
		t.Errorf("loaded %+v", c)
	}
	a := Default()
	if err := a.LoadFile(write("acme.yaml", "issuer: https://id.example.com\nmetrics_addr: 127.0.0.1:9090\nacme:\n  domains: [id.example.com, www.example.com]\n  email: ops@example.com\n  directory: https://ca.example.com/dir\n  http_addr: \":80\"\n  cache_dir: /var/cache/gatehouse\n")); err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.ACME.Domains, "|") != "id.example.com|www.example.com" || a.ACME.Email != "ops@example.com" ||
		a.ACME.Directory != "https://ca.example.com/dir" || a.ACME.HTTPAddr != ":80" || a.ACME.CacheDir != "/var/cache/gatehouse" ||
		a.MetricsAddr != "127.0.0.1:9090" {
		t.Errorf("loaded acme %+v, metrics %q", a.ACME, a.MetricsAddr)
	}
	if err := a.Validate(); err != nil {
		t.Errorf("acme file: %v", err)
	}
	if err := c.LoadFile(write("empty.yaml", "")); err != nil {
		t.Errorf("empty file: %v", err)
	}
	for name, body := range map[string]string{"unknown.yaml": "isuer: x\n", "badduration.yaml": "tokens:\n  code_ttl: forever\n"} {
		if err := c.LoadFile(write(name, body)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := c.LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestDBPathAndRedaction(t *testing.T) {
	c := Default()
	if d, p, err := c.DBPath(); err != nil || d != "sqlite" || p != filepath.Join("gatehouse-data", "gatehouse.db") {
		t.Errorf("default = %q %q %v", d, p, err)
	}
	c.DB = "sqlite:"
	if _, _, err := c.DBPath(); err == nil {
		t.Error("sqlite: without a path accepted")
	}
	c.Email = Email{SMTPURL: "smtp://admin:hunter2@smtp.example.com:99999", From: "a@example.com"}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v leaks the SMTP password or is missing", err)
	}
	c.DB = "mongodb://admin:hunter2@db.example/x"
	_, _, err := c.DBPath()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v leaks the password or is missing", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "7d": 7 * 24 * time.Hour, " 1h ": time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1w", "abc"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func TestIssuerURL(t *testing.T) {
	tests := []struct{ issuer, path, want string }{
		{"https://id.example.com", "/authorize", "https://id.example.com/authorize"},
		{"https://id.example.com/", "/authorize", "https://id.example.com/authorize"},
		{"https://id.example.com/", "/.well-known/openid-configuration", "https://id.example.com/.well-known/openid-configuration"},
		{"https://id.example.com/tenant/", "/oauth/token", "https://id.example.com/tenant/oauth/token"},
		{"http://localhost:8080", "/userinfo", "http://localhost:8080/userinfo"},
	}
	for _, tt := range tests {
		if got := IssuerURL(tt.issuer, tt.path); got != tt.want {
			t.Errorf("IssuerURL(%q, %q) = %q, want %q", tt.issuer, tt.path, got, tt.want)
		}
	}
}
