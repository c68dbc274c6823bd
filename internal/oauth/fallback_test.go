package oauth_test

import (
	"strings"
	"testing"
)

// TestFallbackShapes sends wrong methods and unknown paths to the protocol
// endpoints: each answers in the endpoint's shape, a 405 with Allow.
func TestFallbackShapes(t *testing.T) {
	e := newEnv(t)
	for _, tt := range fallbackCases {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			checkFallback(t, e.do(t, e.newRequest(t, tt.method, tt.path, nil)), tt)
		})
	}
}

// fallbackCase is a request nothing serves, and the answer's shape.
type fallbackCase struct {
	method, path string
	status       int
	shape        string // "json", "bearer" or "page"
	allow        string // the Allow header of a 405
}

var fallbackCases = []fallbackCase{
	{"GET", "/oauth/", 404, "json", ""},
	{"GET", "/oauth/unknown", 404, "json", ""},
	{"POST", "/oauth/token/extra", 404, "json", ""},
	{"POST", "/oauth/authorize", 404, "json", ""},
	{"GET", "/oauth/token", 405, "json", "POST"},
	{"OPTIONS", "/oauth/token", 405, "json", "POST"},
	{"PUT", "/oauth/revoke", 405, "json", "POST"},
	{"GET", "/oauth/introspect", 405, "json", "POST"},
	{"PUT", "/userinfo", 405, "bearer", "GET, HEAD, POST"},
	{"DELETE", "/userinfo", 405, "bearer", "GET, HEAD, POST"},
	{"POST", "/.well-known/openid-configuration", 405, "json", "GET, HEAD"},
	{"PUT", "/.well-known/oauth-authorization-server", 405, "json", "GET, HEAD"},
	{"POST", "/.well-known/jwks.json", 405, "json", "GET, HEAD"},
	{"GET", "/.well-known/unknown", 404, "json", ""},
	{"PUT", "/authorize", 405, "page", "GET, HEAD, POST"},
	{"DELETE", "/authorize", 405, "page", "GET, HEAD, POST"},
	{"POST", "/authorize/resume", 405, "page", "GET, HEAD"},
	{"GET", "/authorize/unknown", 404, "page", ""},
	{"PUT", "/oidc/logout", 405, "page", "GET, HEAD, POST"},
	{"POST", "/v2/logout", 405, "page", "GET, HEAD"},
}

func checkFallback(t *testing.T, r response, tt fallbackCase) {
	t.Helper()
	switch tt.shape {
	case "json":
		checkError(t, r, tt.status, "invalid_request")
	case "bearer":
		checkError(t, r, tt.status, "invalid_request")
		if wa := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_request"`) {
			t.Errorf("WWW-Authenticate %q, want Bearer error=\"invalid_request\"", wa)
		}
	case "page":
		if r.status != tt.status {
			t.Errorf("status %d, want %d", r.status, tt.status)
		}
		checkErrorPage(t, r)
	}
	if got := r.header.Get("Allow"); got != tt.allow {
		t.Errorf("Allow %q, want %q", got, tt.allow)
	}
}
