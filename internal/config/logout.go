package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Logout configures the logout endpoints.
type Logout struct {
	// AllowedURLs are the server's own allowed logout URLs: where
	// /v2/logout may return to (returnTo) when the request names no
	// application, as the hosted service's tenant-level list. Exact match.
	AllowedURLs []string `yaml:"allowed_urls"`
}

// applyEnv reads GATEHOUSE_LOGOUT_ALLOWED_URLS, a comma- or
// space-separated list.
func (l *Logout) applyEnv(lookup func(string) (string, bool)) {
	if v, ok := lookup("GATEHOUSE_LOGOUT_ALLOWED_URLS"); ok {
		l.AllowedURLs = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
	}
}

// validate checks each URL as an application's logout URL is checked:
// absolute, https (http only on loopback hosts), no fragment or user info.
func (l Logout) validate() error {
	for _, s := range l.AllowedURLs {
		u, err := url.Parse(s)
		switch {
		case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
			return fmt.Errorf("logout.allowed_urls: %q is not an absolute URL", s)
		case strings.Contains(s, "#") || u.User != nil:
			return fmt.Errorf("logout.allowed_urls: %q must have no fragment or user info", s)
		case u.Scheme == "https":
		case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
		default:
			return fmt.Errorf("logout.allowed_urls: %q must use https (http is allowed only for localhost, 127.0.0.1 and [::1])", s)
		}
	}
	return nil
}
