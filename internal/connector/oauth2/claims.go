package oauth2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"

	"gatehouse/internal/connector"
)

// ClaimFields are the Gatehouse profile fields a claim mapping may name, in
// the order error messages list them.
var ClaimFields = []string{"sub", "email", "email_verified", "name", "nickname", "picture", "given_name", "family_name"}

// Mapping says which upstream claim fills each Gatehouse profile field.
// The zero Mapping maps every field to the same-named claim.
type Mapping struct {
	claims map[string]string // field → upstream claim; only the configured ones
}

// NewMapping checks a configured claim mapping (Gatehouse field → upstream
// claim name). Fields it leaves out map to the same-named claim, the
// OpenID Connect standard claims.
func NewMapping(m map[string]string) (Mapping, error) {
	out := Mapping{claims: make(map[string]string, len(m))}
	for field, claim := range m {
		if !slices.Contains(ClaimFields, field) {
			return Mapping{}, fmt.Errorf("claim mapping: unknown field %q (the fields are %s)", field, strings.Join(ClaimFields, ", "))
		}
		if strings.TrimSpace(claim) == "" {
			return Mapping{}, fmt.Errorf("claim mapping: field %q maps to an empty claim name", field)
		}
		out.claims[field] = claim
	}
	return out, nil
}

// Claim is the upstream claim that fills field.
func (m Mapping) Claim(field string) string {
	if c, ok := m.claims[field]; ok {
		return c
	}
	return field
}

// Configured reports whether field was mapped explicitly.
func (m Mapping) Configured(field string) bool {
	_, ok := m.claims[field]
	return ok
}

// withClaim returns a copy of m with field mapped to claim.
func (m Mapping) withClaim(field, claim string) Mapping {
	out := Mapping{claims: make(map[string]string, len(m.claims)+1)}
	for k, v := range m.claims {
		out.claims[k] = v
	}
	out.claims[field] = claim
	return out
}

// Identity maps claims, decoded by DecodeClaims, to an identity. The sub
// claim must be a non-empty string or a number; other fields of the wrong
// type are left empty rather than failing the login, and a picture that is
// not an http(s) URL is dropped (it ends up in an <img> or an ID token).
func (m Mapping) Identity(claims map[string]any) (connector.Identity, error) {
	subClaim := m.Claim("sub")
	sub, ok := idString(claims[subClaim])
	if !ok || sub == "" {
		return connector.Identity{}, fmt.Errorf("claim %q (the user id) is missing or not a string or number", subClaim)
	}
	str := func(field string) string {
		s, _ := claims[m.Claim(field)].(string)
		return s
	}
	id := connector.Identity{
		UserID:     sub,
		Email:      str("email"),
		Name:       str("name"),
		Nickname:   str("nickname"),
		Picture:    str("picture"),
		GivenName:  str("given_name"),
		FamilyName: str("family_name"),
	}
	switch v := claims[m.Claim("email_verified")].(type) {
	case bool:
		id.EmailVerified = v
	case string: // some providers (AWS Cognito) send "true"
		id.EmailVerified = strings.EqualFold(v, "true")
	}
	if id.Email == "" {
		id.EmailVerified = false
	}
	if u, err := url.Parse(id.Picture); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		id.Picture = ""
	}
	return id, nil
}

// idString formats a user id claim: a string as is, a number as a decimal
// string without exponent (so 12345678901234567890 does not become
// 1.2345678901234567e+19).
func idString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		s := v.String()
		if !strings.ContainsAny(s, ".eE") {
			return s, true
		}
		f, ok := new(big.Float).SetPrec(256).SetString(s)
		if !ok {
			return "", false
		}
		if f.IsInt() {
			i, _ := f.Int(nil)
			return i.String(), true
		}
		return f.Text('f', -1), true
	}
	return "", false
}

// DecodeClaims decodes a JSON object, keeping numbers as json.Number so
// large ids survive exactly.
func DecodeClaims(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, errors.New("not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	return claims, nil
}
