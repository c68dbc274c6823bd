package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"gatehouse/internal/store"
)

// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1 and OIDC Core §3.1.2.6.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrLoginRequired           = "login_required"
	ErrConsentRequired         = "consent_required"
	ErrInteractionRequired     = "interaction_required"
	ErrInvalidToken            = "invalid_token"
	ErrInsufficientScope       = "insufficient_scope"
)

// Error is a protocol error: written as JSON by the token endpoint, as query
// parameters by the authorization endpoint, as WWW-Authenticate by userinfo.
type Error struct {
	Code        string
	Description string // printable ASCII without '"' or '\' (RFC 6749 §5.2)
	Status      int    // HTTP status for JSON responses; 400 when zero
	// BasicAuth makes a 401 carry WWW-Authenticate: Basic (RFC 6749 §5.2).
	BasicAuth bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: sanitize(fmt.Sprintf(format, args...))}
}

// sanitize keeps a description within RFC 6749's character set
// (%x20-21 / %x23-5B / %x5D-7E).
func sanitize(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\'')
		case c == '\\':
			b = append(b, '/')
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// writeJSONError writes e in RFC 6749 §5.2 shape.
func writeJSONError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	if status == http.StatusUnauthorized && e.BasicAuth {
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
	}
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	writeJSON(w, status, body)
}

// writeJSON writes v with the no-store headers that every token and
// error response carries (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// internalError turns an unexpected error into the protocol error to send:
// 503 temporarily_unavailable when the database is unreachable (the client
// may retry), else 500 server_error. The cause is logged, never sent.
func (p *Provider) internalError(op string, err error) *Error {
	if errors.Is(err, store.ErrUnavailable) {
		p.cfg.Log.Warn(op, "err", err)
		return &Error{Code: ErrTemporarilyUnavailable, Description: "the service is temporarily unavailable; try again shortly", Status: http.StatusServiceUnavailable}
	}
	p.cfg.Log.Error(op, "err", err)
	return &Error{Code: ErrServerError, Description: "the server could not complete the request", Status: http.StatusInternalServerError}
}
