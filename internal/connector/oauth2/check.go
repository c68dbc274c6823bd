package oauth2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/connector"
)

// HTTPClient returns a copy of c (a new client when c is nil) with
// DefaultTimeout when it has none, and at most DefaultMaxPending calls
// pending: a provider that never answers, or answers slowly, must not
// hold a login (and a server goroutine) forever, nor let them pile up.
func HTTPClient(c *http.Client) *http.Client {
	return LimitClient(c, DefaultMaxPending)
}

// IsTimeout reports whether err is a timeout or a deadline.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// CheckName checks a connection name, which becomes part of user ids
// ("oidc-NAME|sub"): not empty, no '|' and no control characters.
func CheckName(name string) error {
	if name == "" {
		return errors.New("name is missing")
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r == '|' || r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("name %q must not contain '|' or control characters", name)
	}
	return nil
}

// CheckURL checks a provider endpoint: an absolute https URL (http only
// on a loopback host, for tests and local providers), without credentials
// or fragment.
func CheckURL(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("%s is missing", field)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%s: %q is not an absolute http(s) URL", field, raw)
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%s: %q must have no user info or fragment", field, raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%s: %q must use https (http is allowed only on a loopback host)", field, raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckScopes checks each scope is a scope-token (RFC 6749 §3.3).
func CheckScopes(scopes []string) error {
	for _, s := range scopes {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= 0x20 || r == '"' || r == '\\' || r >= 0x7f }) {
			return fmt.Errorf("scope %q is not a valid scope (no spaces, quotes or backslashes)", s)
		}
	}
	return nil
}

// CheckFlow checks the values the caller generated for one login: a
// missing one is a bug in the caller, not an upstream failure.
func CheckFlow(f connector.Flow) error {
	switch {
	case f.State == "":
		return errors.New("login flow: state is missing")
	case f.CallbackURL == "":
		return errors.New("login flow: callback URL is missing")
	case !validVerifier(f.CodeVerifier):
		return errors.New("login flow: the PKCE code verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)")
	}
	return nil
}

func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}
