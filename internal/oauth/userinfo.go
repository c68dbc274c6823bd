package oauth

import (
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// userinfo handles GET and POST /userinfo (OIDC Core §5.3) with the token
// in the Authorization header or, for POST, the form body (RFC 6750 §2).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	bearer, berr := bearerToken(r)
	if berr != nil {
		writeBearerError(w, berr)
		return
	}
	invalid := &Error{Code: ErrInvalidToken, Description: "the access token is invalid, expired or revoked", Status: http.StatusUnauthorized}
	var at store.AccessToken
	var u store.User
	var err error
	if looksLikeJWT(bearer) {
		// A JWT access token for an API whose audience includes /userinfo.
		c, verr := p.verifyAccessJWT(r.Context(), bearer, p.now())
		if verr != nil || !c.HasAudience(p.endpoint("/userinfo")) {
			writeBearerError(w, invalid)
			return
		}
		at = store.AccessToken{UserID: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes()}
		if slices.Contains(at.Scopes, "openid") {
			u, err = p.cfg.Store.GetUser(r.Context(), at.UserID)
		}
	} else {
		// The token and its user in one read; a token whose user is gone
		// is no token.
		at, u, err = p.cfg.Store.GetAccessTokenUser(r.Context(), token.Hash(bearer), p.now())
		if errors.Is(err, store.ErrNotFound) {
			writeBearerError(w, invalid)
			return
		}
	}
	if !slices.Contains(at.Scopes, "openid") {
		writeBearerError(w, &Error{Code: ErrInsufficientScope, Description: "the access token lacks the openid scope", Status: http.StatusForbidden})
		return
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Blocked) {
		writeBearerError(w, &Error{Code: ErrInvalidToken, Description: "the user no longer exists or is blocked", Status: http.StatusUnauthorized})
		return
	}
	if err != nil {
		writeJSONError(w, p.internalError("userinfo", err))
		return
	}
	writeJSON(w, http.StatusOK, userClaims(u, at.Scopes))
}

// bearerToken extracts the token by RFC 6750 §2.1 or §2.2; exactly one
// method may be used (§2).
func bearerToken(r *http.Request) (string, *Error) {
	var fromHeader, fromBody string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
			return "", &Error{Code: ErrInvalidRequest, Description: "the Authorization header must be Bearer <token>", Status: http.StatusBadRequest}
		}
		fromHeader = strings.TrimSpace(value)
	}
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				if formTooLarge(err) {
					return "", errFormTooLarge()
				}
				return "", &Error{Code: ErrInvalidRequest, Description: "the request body could not be parsed", Status: http.StatusBadRequest}
			}
			if v := r.PostForm["access_token"]; len(v) > 1 {
				return "", &Error{Code: ErrInvalidRequest, Description: "access_token was given more than once", Status: http.StatusBadRequest}
			}
			fromBody = r.PostForm.Get("access_token")
		}
	}
	switch {
	case fromHeader != "" && fromBody != "":
		return "", &Error{Code: ErrInvalidRequest, Description: "send the access token in one place only", Status: http.StatusBadRequest}
	case fromHeader != "":
		return fromHeader, nil
	case fromBody != "":
		return fromBody, nil
	}
	// RFC 6750 §3.1: no error code when the request has no authentication.
	return "", &Error{Status: http.StatusUnauthorized}
}

// writeBearerError writes an RFC 6750 §3 error with WWW-Authenticate.
func writeBearerError(w http.ResponseWriter, e *Error) {
	v := `Bearer realm="gatehouse"`
	if e.Code != "" {
		v += `, error="` + e.Code + `"`
		if e.Description != "" {
			v += `, error_description="` + sanitize(e.Description) + `"`
		}
	}
	w.Header().Set("WWW-Authenticate", v)
	if e.Code == "" {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(e.Status)
		return
	}
	writeJSONError(w, &Error{Code: e.Code, Description: e.Description, Status: e.Status})
}
