package email

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// URL is a parsed email.smtp_url.
type URL struct {
	// Log is the "log" setting: messages go to the server log.
	Log bool
	// Implicit is smtps://: TLS from the first byte (port 465 by default).
	// Otherwise the client requires STARTTLS (port 587 by default) unless
	// NoTLS.
	Implicit bool
	// NoTLS is smtp://…?tls=none, allowed only for a loopback host (a
	// relay on the same machine, a test server): the links in Gatehouse's
	// emails are credentials and must not cross a network in clear.
	NoTLS    bool
	Host     string
	Port     int
	Username string
	Password string
	// Timeout is ?timeout= (e.g. 20s); zero means the default.
	Timeout time.Duration
}

// ParseURL reads an email.smtp_url:
//
//	smtp://[user:pass@]host[:port][?tls=none][&timeout=20s]
//	smtps://[user:pass@]host[:port][?timeout=20s]
//	log
//
// Special characters in the user name or password are percent-encoded
// ("p%40ss" for "p@ss"). Errors never repeat the password.
func ParseURL(s string) (URL, error) {
	if s == "log" {
		return URL{Log: true}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return URL{}, fmt.Errorf("%q is not a URL (smtp://user:pass@host:587, smtps://…, or log)", redact(s))
	}
	shown := u.Redacted()
	var out URL
	switch u.Scheme {
	case "smtp":
		out.Port = 587
	case "smtps":
		out.Implicit, out.Port = true, 465
	default:
		return URL{}, fmt.Errorf("%q: use smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465 (TLS) or log", shown)
	}
	out.Host = u.Hostname()
	if out.Host == "" || u.Opaque != "" {
		return URL{}, fmt.Errorf("%q has no host", shown)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return URL{}, fmt.Errorf("%q: port %q is not between 1 and 65535", shown, p)
		}
		out.Port = n
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return URL{}, fmt.Errorf("%q: an SMTP URL has no path or fragment", shown)
	}
	if u.User != nil {
		out.Username = u.User.Username()
		out.Password, _ = u.User.Password()
		if out.Username == "" || out.Password == "" {
			return URL{}, fmt.Errorf("%q: give both a user name and a password, or neither", shown)
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return URL{}, fmt.Errorf("%q: bad query: %w", shown, err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "tls":
			if v != "none" {
				return URL{}, fmt.Errorf("%q: tls=%q: the only choice is tls=none (smtp:// requires STARTTLS, smtps:// is TLS)", shown, v)
			}
			if out.Implicit {
				return URL{}, fmt.Errorf("%q: smtps:// is always TLS; tls=none needs smtp://", shown)
			}
			if !isLoopback(out.Host) {
				return URL{}, fmt.Errorf("%q: tls=none is allowed only for a loopback host (127.0.0.1, ::1, localhost): emails carry sign-in links", shown)
			}
			out.NoTLS = true
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond || d > 5*time.Minute {
				return URL{}, fmt.Errorf("%q: timeout=%q is not a duration between 100ms and 5m", shown, v)
			}
			out.Timeout = d
		default:
			return URL{}, fmt.Errorf("%q: unknown parameter %q (known: tls=none, timeout)", shown, key)
		}
	}
	return out, nil
}

// String is the URL with the password hidden.
func (u URL) String() string {
	if u.Log {
		return "log"
	}
	r := url.URL{Scheme: "smtp", Host: net.JoinHostPort(u.Host, strconv.Itoa(u.Port))}
	if u.Implicit {
		r.Scheme = "smtps"
	}
	if u.Username != "" {
		r.User = url.UserPassword(u.Username, "xxxxx")
	}
	q := url.Values{}
	if u.NoTLS {
		q.Set("tls", "none")
	}
	if u.Timeout != 0 {
		q.Set("timeout", u.Timeout.String())
	}
	r.RawQuery = q.Encode()
	return r.String()
}

// redact hides what may be a password in a string that did not parse as
// a URL: everything between "://" and the last "@".
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		return scheme + "://xxxxx@" + rest[i+1:]
	}
	return s
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
