package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signatureAlgorithms are the algorithms Gatehouse signs access tokens
// with. Parsing allows only these, which is what refuses "none" and HS256
// (RFC 9068 §4, RFC 8725 §3.1): an HMAC "signature" keyed with our public
// key would otherwise verify.
var signatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// leeway absorbs clock skew between the issuer and us in exp, nbf and iat.
const leeway = 30 * time.Second

// accessToken is what the API learns from a valid access token.
type accessToken struct {
	Subject  string
	ClientID string
	Scopes   []string
}

// bearerToken returns the access token from the Authorization header
// (RFC 6750 §2.1). Tokens in the query or a form body are ignored: they end
// up in logs and browser history (RFC 6750 §5.3, RFC 9700 §4.3.2).
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", &bearerError{Status: http.StatusUnauthorized, Description: "an access token is required"}
	}
	if len(values) > 1 {
		return "", invalidRequest("send one Authorization header")
	}
	scheme, tok, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		// Credentials of another scheme are no credentials here: answer as
		// if none were sent, with the challenge saying which scheme to use.
		return "", &bearerError{Status: http.StatusUnauthorized, Description: "an access token is required, with the Bearer scheme"}
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", invalidRequest("the Authorization header must be Bearer followed by one token")
	}
	return tok, nil
}

// verify checks raw as an RFC 9068 access token for this API (RFC 9068 §4)
// and returns what it says. Token problems are *bearerError values with
// invalid_token.
func (a *API) verify(ctx context.Context, raw string) (*accessToken, error) {
	tok, err := jwt.ParseSigned(raw, signatureAlgorithms)
	if err != nil {
		return nil, invalidToken("the token is not a JWT signed with RS256, ES256 or EdDSA")
	}
	hdr := tok.Headers[0] // a compact JWS has exactly one
	// RFC 9068 §4: the typ header tells access tokens from ID tokens and
	// other JWTs signed with the same keys.
	typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, invalidToken("the token is not an access token (typ must be at+jwt)")
	}
	if hdr.KeyID == "" {
		return nil, invalidToken("the token does not say which key signed it (no kid)")
	}
	key, err := a.keys.key(ctx, hdr.KeyID)
	if errors.Is(err, errUnknownKey) {
		return nil, invalidToken("the token was signed with an unknown key")
	}
	if err != nil {
		return nil, err
	}
	if !keyFits(key, hdr.Algorithm) {
		return nil, invalidToken("the token's alg does not match its key")
	}
	var payload json.RawMessage
	if err := tok.Claims(key.Key, &payload); err != nil {
		return nil, invalidToken("the token's signature is invalid")
	}

	var std jwt.Claims
	var extra struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	}
	if json.Unmarshal(payload, &std) != nil || json.Unmarshal(payload, &extra) != nil {
		return nil, invalidToken("the token's claims are malformed")
	}
	err = std.ValidateWithLeeway(jwt.Expected{
		Issuer:      a.issuer,
		AnyAudience: jwt.Audience{a.audience},
		Time:        a.now(),
	}, leeway)
	switch {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, invalidToken("the token was not issued by " + a.issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, invalidToken("the token is not meant for " + a.audience)
	case errors.Is(err, jwt.ErrExpired):
		return nil, invalidToken("the token has expired")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, invalidToken("the token is not valid yet")
	case err != nil:
		return nil, invalidToken("the token's claims are invalid")
	}
	// RFC 9068 §2.2: these claims are required. go-jose checks exp and iat
	// only when present.
	switch {
	case std.Expiry == nil:
		return nil, invalidToken("the token has no exp claim")
	case std.IssuedAt == nil:
		return nil, invalidToken("the token has no iat claim")
	case std.Subject == "":
		return nil, invalidToken("the token has no sub claim")
	case extra.ClientID == "":
		return nil, invalidToken("the token has no client_id claim")
	case std.ID == "":
		return nil, invalidToken("the token has no jti claim")
	}
	return &accessToken{Subject: std.Subject, ClientID: extra.ClientID, Scopes: strings.Fields(extra.Scope)}, nil
}

// bearerError is an error response of the Bearer scheme (RFC 6750 §3): a
// WWW-Authenticate challenge and the same fields as a JSON body.
type bearerError struct {
	Status int
	// Code is invalid_request, invalid_token or insufficient_scope; empty
	// when the request carried no token (RFC 6750 §3.1).
	Code        string
	Description string
	Scope       string // the scope that is needed, with insufficient_scope
}

func invalidToken(description string) *bearerError {
	return &bearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: description}
}

func invalidRequest(description string) *bearerError {
	return &bearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: description}
}

func (e *bearerError) Error() string {
	if e.Code == "" {
		return e.Description
	}
	return e.Code + ": " + e.Description
}

// write sends the error. Without a code, the challenge carries only the
// realm: RFC 6750 §3.1 says a request with no token gets no error code.
func (e *bearerError) write(w http.ResponseWriter) {
	challenge := `Bearer realm="api"`
	body := errorBody{Description: e.Description}
	if e.Code != "" {
		challenge += `, error="` + e.Code + `", error_description="` + quotable(e.Description) + `"`
		body.Code = e.Code
		if e.Scope != "" {
			challenge += `, scope="` + quotable(e.Scope) + `"`
			body.Scope = e.Scope
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeJSON(w, e.Status, body)
}

// quotable drops the characters RFC 6750 §3 does not allow in
// error_description and scope values, so a value from configuration cannot
// break the header.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
