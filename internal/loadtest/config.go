package loadtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scenario is what each flow of a run does.
type Scenario string

// The scenarios.
const (
	// Login runs whole flows in a fresh browser each: authorization
	// request, password login, consent when asked, code, token exchange.
	Login Scenario = "login"
	// SSO logs each worker in once, then repeats authorization request →
	// code → token exchange on that session.
	SSO Scenario = "sso"
	// Exchange mints codes on each worker's session first, then times only
	// the token endpoint redeeming them.
	Exchange Scenario = "exchange"
	// Refresh runs refresh-token grants, one rotating chain per worker.
	Refresh Scenario = "refresh"
	// UserInfo calls the UserInfo endpoint with each worker's access token.
	UserInfo Scenario = "userinfo"
	// ClientCredentials gets access tokens for an API with the
	// client_credentials grant of a machine-to-machine application.
	ClientCredentials Scenario = "client_credentials"
	// Mgmt searches a random user by email through the management API
	// (GET /api/v2/users?q=email:"…") and then reads it by its ID (GET
	// /api/v2/users/{id}), with a client_credentials token.
	Mgmt Scenario = "mgmt"
	// MgmtSearch is the search of Mgmt alone.
	MgmtSearch Scenario = "mgmt-search"
)

// Scenarios lists every scenario.
var Scenarios = []Scenario{Login, SSO, Exchange, Refresh, UserInfo, ClientCredentials, Mgmt, MgmtSearch}

// Machine reports whether the scenario is a machine-to-machine one: a
// client_credentials client, no browser, no user logging in.
func (s Scenario) Machine() bool {
	return s == ClientCredentials || s == Mgmt || s == MgmtSearch
}

// ParseScenario returns the scenario named s.
func ParseScenario(s string) (Scenario, error) {
	if slices.Contains(Scenarios, Scenario(s)) {
		return Scenario(s), nil
	}
	names := make([]string, len(Scenarios))
	for i, sc := range Scenarios {
		names[i] = string(sc)
	}
	return "", fmt.Errorf("unknown scenario %q (want %s)", s, strings.Join(names, ", "))
}

// UserPlaceholder in Config.User is replaced by the worker's number, 1 to
// Concurrency, so that each worker can log in as its own user.
const UserPlaceholder = "{n}"

// Config describes a run.
type Config struct {
	// Issuer is the provider's issuer URL; endpoints come from its discovery
	// document.
	Issuer string
	// ClientID and ClientSecret authenticate at the token endpoint.
	ClientID     string
	ClientSecret string
	// RedirectURI is a registered callback of the client. Nothing needs to
	// listen there: the driver stops at the redirect to it.
	RedirectURI string
	// User is the account name the login form gets; UserPlaceholder is
	// replaced by the worker number. The management scenarios search for
	// it by email, with UserPlaceholder replaced by a random number from 1
	// to Users.
	User     string
	Password string
	// Users is how many users the management scenarios pick from;
	// Concurrency when zero.
	Users int
	// Audience is the API whose access tokens the machine-to-machine
	// scenarios get; the issuer's management API (ISSUER/api/v2/) when
	// empty, which the management scenarios need.
	Audience string

	Scenario    Scenario
	Concurrency int
	// Duration and Count bound the measured phase; the first reached ends
	// it. Count is the number of flows over all workers. With neither,
	// Duration is 10s.
	Duration time.Duration
	Count    int
	// PKCE sends an S256 code challenge with every authorization request.
	PKCE bool
	// Scopes requested; "openid profile email" when empty. Refresh adds
	// offline_access.
	Scopes []string
	// ServerPID, when set, is the provider's process on this machine: its
	// CPU time and memory go in the report.
	ServerPID int
	// Timeout bounds each HTTP request; 30s when zero.
	Timeout time.Duration
	// Transport carries every request; NewTransport(Concurrency) when nil.
	Transport http.RoundTripper
}

// NewTransport returns the transport a run shares between its browsers:
// keep-alive connections, enough of them idle per host that no worker
// waits for or re-dials one, and never a proxy.
func NewTransport(concurrency int) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0, // no overall limit
		MaxIdleConnsPerHost:   2*concurrency + 4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.Issuer)
	if c.Issuer == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("issuer %q is not an http(s) URL", c.Issuer)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return c, errors.New("client id and secret are required")
	}
	if _, err := ParseScenario(string(c.Scenario)); err != nil {
		return c, err
	}
	if c.Scenario.Machine() {
		c.PKCE = false // no authorization request
	}
	switch {
	case !c.Scenario.Machine():
		r, err := url.Parse(c.RedirectURI)
		if c.RedirectURI == "" || err != nil || !r.IsAbs() || r.Host == "" {
			return c, fmt.Errorf("redirect URI %q is not an absolute URL", c.RedirectURI)
		}
		if c.User == "" || c.Password == "" {
			return c, errors.New("a user and a password are required")
		}
	case c.Scenario != ClientCredentials && !strings.Contains(c.User, UserPlaceholder):
		return c, fmt.Errorf("user %q: the management scenarios need %s in it, to search users 1 to --users", c.User, UserPlaceholder)
	}
	if c.Users < 0 {
		return c, fmt.Errorf("users %d: must not be negative", c.Users)
	}
	if c.Users == 0 {
		c.Users = c.Concurrency
	}
	if c.Audience == "" {
		c.Audience = strings.TrimSuffix(c.Issuer, "/") + "/api/v2/"
	}
	if c.Concurrency < 1 {
		return c, fmt.Errorf("concurrency %d: must be at least 1", c.Concurrency)
	}
	if c.Count < 0 || c.Duration < 0 {
		return c, errors.New("count and duration must not be negative")
	}
	if c.Count == 0 && c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	switch {
	case len(c.Scopes) > 0:
	case c.Scenario == Mgmt || c.Scenario == MgmtSearch:
		c.Scopes = []string{"read:users"}
	case c.Scenario == ClientCredentials:
		// None asked: the provider grants what the client grant allows.
	default:
		c.Scopes = []string{"openid", "profile", "email"}
	}
	c.Scopes = slices.Clone(c.Scopes)
	if c.Scenario == Refresh && !slices.Contains(c.Scopes, "offline_access") {
		c.Scopes = append(c.Scopes, "offline_access")
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Transport == nil {
		c.Transport = NewTransport(c.Concurrency)
	}
	return c, nil
}

// user returns worker n's account name.
func (c Config) user(n int) string {
	return strings.ReplaceAll(c.User, UserPlaceholder, strconv.Itoa(n))
}
