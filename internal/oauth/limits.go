package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"gatehouse/web"
)

// maxFormBytes bounds every form body the protocol endpoints read: POST
// /authorize, /oauth/token, /oauth/revoke, /oauth/introspect, POST
// /userinfo and POST /oidc/logout. The largest legitimate one, an
// /authorize POST with every parameter at its limit, is under 16 KiB.
const maxFormBytes = 64 << 10

// authorizeLimits bound each /authorize parameter, in bytes. An anonymous
// request that needs the login page is stored for the auth request TTL, so
// these limits (with maxScopeValues) bound what one stored request costs.
// Each is far above what a client sends: client ids are at most 128
// characters (clientIDPattern), connection and organization names at most
// 64, invitation tickets 43, code challenges 128 (RFC 7636 §4.2).
// request, request_uri and registration are refused whatever their size and
// never echoed, so they have no limit of their own beyond maxFormBytes and
// the header limit.
var authorizeLimits = []struct {
	name string
	max  int
}{
	{"client_id", 128},
	{"redirect_uri", 2048},
	{"response_type", 64},
	{"response_mode", 64},
	{"scope", 4096},
	{"state", 2048},
	{"nonce", 2048},
	{"prompt", 128},
	{"max_age", 20},
	{"login_hint", 512},
	{"code_challenge", 128},
	{"code_challenge_method", 16},
	{"connection", 128},
	{"organization", 128},
	{"invitation", 128},
	{"audience", 2048},
	{"acr_values", 1024},
}

// maxScopeValues bounds the number of space-separated values in scope.
const maxScopeValues = 200

// defaultPendingRequestsPerIP is how many authorization requests that need
// a hosted page one client network may start per minute when Config leaves
// it zero.
const defaultPendingRequestsPerIP = 60

// pendingRequestWindow is the window PendingRequestsPerIP counts in.
const pendingRequestWindow = time.Minute

// allowPendingRequest counts one stored authorization request against the
// client's network and reports whether it is within the limit; when it is
// not, retryAfter says when the window ends. Every anonymous GET /authorize
// that needs the login page stores a row for the auth request TTL: without
// this limit one client could fill the database.
func (p *Provider) allowPendingRequest(ctx context.Context, r *http.Request) (ok bool, retryAfter time.Duration, err error) {
	limit := p.cfg.PendingRequestsPerIP
	if limit < 0 {
		return true, 0, nil
	}
	now := p.now()
	n, err := p.cfg.Store.AddFailure(ctx, "authreq:ip:"+clientNetwork(r), pendingRequestWindow, now)
	if err != nil {
		return false, 0, fmt.Errorf("count pending requests: %w", err)
	}
	if n <= limit {
		return true, 0, nil
	}
	// The store counts in fixed windows aligned on the Unix epoch: this
	// one ends at the next whole minute.
	retryAfter = pendingRequestWindow - time.Duration(now.UnixNano()%int64(pendingRequestWindow))
	return false, retryAfter, nil
}

// pendingRequestRefused answers an /authorize request that
// allowPendingRequest refused: 429 with Retry-After, as an error page (the
// browser is a person's), or the page for a store error.
func (p *Provider) pendingRequestRefused(w http.ResponseWriter, retryAfter time.Duration, err error) {
	if err != nil {
		p.internalErrorPage(w, "authorize: limit pending requests", err)
		return
	}
	secs := int((retryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
	p.cfg.Pages.Error(w, http.StatusTooManyRequests, web.ErrorPage{
		Page: web.Page{Error: "Too many login requests came from your network. Wait a minute and try again."},
		Code: ErrTemporarilyUnavailable,
	})
}

// clientNetwork is the client's address as the limits count it. RemoteAddr
// is already the client's own address when trusted proxies forward the
// request (the server's realClient middleware puts it there). An IPv6
// client counts by its /64: one subscriber usually holds a whole /64, and
// counting single addresses would let it start 2^64 times as many requests.
func clientNetwork(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if pfx, err := a.Prefix(64); err == nil {
			return pfx.String()
		}
	}
	return a.String()
}

// formTooLarge reports whether err came from a body over maxFormBytes.
func formTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// errFormTooLarge is the RFC 6749 §5.2 answer to a body over maxFormBytes.
func errFormTooLarge() *Error {
	return &Error{
		Code:        ErrInvalidRequest,
		Description: fmt.Sprintf("the request body is larger than %d KiB", maxFormBytes>>10),
		Status:      http.StatusRequestEntityTooLarge,
	}
}
