package mgmtapi

import (
	"encoding/json"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// clientTypeJSON are the application fields of single-page, native and
// private_key_jwt applications: web_origins and allowed_origins as the
// hosted service names them; require_pkce and jwks (an inline JWK Set,
// as in OpenID Connect Dynamic Client Registration) are Gatehouse's own.
type clientTypeJSON struct {
	WebOrigins     *[]string        `json:"web_origins,omitempty"`
	AllowedOrigins *[]string        `json:"allowed_origins,omitempty"`
	RequirePKCE    *bool            `json:"require_pkce,omitempty"`
	JWKS           *json.RawMessage `json:"jwks,omitempty"`
}

func toClientTypeJSON(c store.Client) clientTypeJSON {
	out := clientTypeJSON{WebOrigins: ptr(nonNil(c.WebOrigins)), AllowedOrigins: ptr(nonNil(c.AllowedOrigins)),
		// A public client must always use PKCE, whatever the flag says.
		RequirePKCE: ptr(c.RequirePKCE || c.Public())}
	if c.JWKS != "" {
		out.JWKS = ptr(json.RawMessage(c.JWKS))
	}
	return out
}

// settings copies the fields that are set into s; mgmt checks them.
func (in clientTypeJSON) settings(s *mgmt.ClientSettings) {
	s.WebOrigins = in.WebOrigins
	s.AllowedOrigins = in.AllowedOrigins
	s.RequirePKCE = in.RequirePKCE
	if in.JWKS != nil {
		v := string(*in.JWKS)
		if v == "null" {
			v = ""
		}
		s.JWKS = &v
	}
}
