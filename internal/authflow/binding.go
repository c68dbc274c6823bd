package authflow

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// browserCookie holds a random value that names the browser to the hosted
// pages. A pending authorization request stores the value's hash, and every
// step of the request compares it, so a request (and whatever was decided
// on it) cannot be continued from another browser: a link to someone
// else's /authorize/resume or /u/login?req=… shows an error page instead
// of issuing a code.
const browserCookie = "gatehouse_browser"

// Binder sets and checks the browser-binding cookie and the CSRF tokens
// derived from it.
type Binder struct {
	// Secure marks the cookie Secure and gives it the __Host- prefix
	// (the issuer is https).
	Secure bool
	// CSRFKey is the server key CSRF tokens are an HMAC with; replicas
	// share it (it is derived from the master key).
	CSRFKey []byte
}

// NewBinder validates the key and returns a Binder.
func NewBinder(secure bool, csrfKey []byte) (Binder, error) {
	if len(csrfKey) < 32 {
		return Binder{}, errors.New("authflow: the CSRF key must be at least 32 bytes")
	}
	return Binder{Secure: secure, CSRFKey: csrfKey}, nil
}

func (b Binder) cookieName() string {
	if b.Secure {
		// __Host-: sent only over https, only set by this host for path /.
		return "__Host-" + browserCookie
	}
	return browserCookie
}

// value returns the browser's binding value, or "" when it has none.
func (b Binder) value(r *http.Request) string {
	c, err := r.Cookie(b.cookieName())
	if err != nil || len(c.Value) < 32 {
		return ""
	}
	return c.Value
}

// Bind returns the hash to store with a new pending request, giving the
// browser a binding cookie first when it has none. The cookie is shared by
// every request of the browser, so several tabs can log in at once.
func (b Binder) Bind(w http.ResponseWriter, r *http.Request) string {
	v := b.value(r)
	if v == "" {
		v = token.NewOpaque()
		// Lax: the cookie must come along on the top-level navigations
		// back from the application and from upstream providers.
		http.SetCookie(w, &http.Cookie{Name: b.cookieName(), Value: v, Path: "/",
			HttpOnly: true, Secure: b.Secure, SameSite: http.SameSiteLaxMode})
		// A later handler in the same response (the CSRF token of a page
		// rendered at once) must see the new value.
		r.AddCookie(&http.Cookie{Name: b.cookieName(), Value: v})
	}
	return token.Hash(v)
}

// Owns reports, in constant time, whether the request was started by this
// browser. A request stored without a binding (by an older version) is
// owned by no browser.
func (b Binder) Owns(r *http.Request, req store.AuthRequest) bool {
	v := b.value(r)
	if v == "" || req.BrowserHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token.Hash(v)), []byte(req.BrowserHash)) == 1
}

// CSRFToken returns the token a hosted form carries: an HMAC of the
// browser's binding value under the server key, so an attacker can neither
// forge one nor plant a matching cookie-and-field pair. It gives the
// browser a binding cookie when it has none.
func (b Binder) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	v := b.value(r)
	if v == "" {
		b.Bind(w, r)
		v = b.value(r)
	}
	return b.csrf(v)
}

func (b Binder) csrf(v string) string {
	m := hmac.New(sha256.New, b.CSRFKey)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether sent is this browser's CSRF token.
func (b Binder) CheckCSRF(r *http.Request, sent string) bool {
	v := b.value(r)
	if v == "" || sent == "" {
		return false
	}
	return hmac.Equal([]byte(b.csrf(v)), []byte(sent))
}
