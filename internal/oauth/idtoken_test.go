package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/oauth"
	"gatehouse/internal/session"
)

// TestIDToken checks the ID token of a code exchange (OIDC Core §2,
// §3.1.3.6, §3.1.3.7) against the published JWKS.
func TestIDToken(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	user, sess, cookie := e.login(t)
	jwksResp := e.get(t, "/.well-known/jwks.json", nil, nil)
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(jwksResp.body, &jwks); err != nil {
		t.Fatalf("parse JWKS: %v", err)
	}

	tests := []struct {
		name      string
		authExtra url.Values
		wantNonce string
	}{
		{name: "with nonce", authExtra: url.Values{"nonce": {"n-0S6_WzA2Mj"}}, wantNonce: "n-0S6_WzA2Mj"},
		{name: "nonce with odd characters", authExtra: url.Values{"nonce": {`a b"c\dé`}}, wantNonce: `a b"c\dé`},
		{name: "without nonce"},
		{name: "with max_age", authExtra: url.Values{"max_age": {"3600"}}},
		{name: "openid only", authExtra: url.Values{"scope": {"openid"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			tr := e.exchange(t, app, e.code(t, app, cookie, tt.authExtra), nil)
			if tr.IDToken == "" {
				t.Fatalf("no id_token")
			}
			jws, err := jose.ParseSigned(tr.IDToken, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
			if err != nil {
				t.Fatalf("parse ID token: %v", err)
			}
			if len(jws.Signatures) != 1 {
				t.Fatalf("%d signatures, want 1", len(jws.Signatures))
			}
			h := jws.Signatures[0].Protected
			if h.Algorithm != string(jose.RS256) {
				t.Errorf("alg = %q, want RS256", h.Algorithm)
			}
			if h.KeyID == "" {
				t.Fatalf("no kid in the header")
			}
			keys := jwks.Key(h.KeyID)
			if len(keys) != 1 {
				t.Fatalf("kid %q matches %d JWKS keys, want 1", h.KeyID, len(keys))
			}
			payload, err := jws.Verify(keys[0])
			if err != nil {
				t.Fatalf("signature does not verify against the JWKS: %v", err)
			}
			var c map[string]any
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatalf("claims: %v", err)
			}

			if c["iss"] != e.issuer {
				t.Errorf("iss = %v, want %s", c["iss"], e.issuer)
			}
			if c["sub"] != user.ID {
				t.Errorf("sub = %v, want %s", c["sub"], user.ID)
			}
			switch aud := c["aud"].(type) {
			case string:
				if aud != app.ID {
					t.Errorf("aud = %q, want %s", aud, app.ID)
				}
			case []any:
				found := false
				for _, a := range aud {
					found = found || a == app.ID
				}
				if !found {
					t.Errorf("aud = %v lacks %s", aud, app.ID)
				}
				if len(aud) > 1 && c["azp"] != app.ID {
					t.Errorf("azp = %v with several audiences, want %s", c["azp"], app.ID)
				}
			default:
				t.Errorf("aud = %v (%T)", c["aud"], c["aud"])
			}
			now := time.Now()
			exp := numericDate(t, c, "exp")
			iat := numericDate(t, c, "iat")
			if !exp.After(now) {
				t.Errorf("exp %v is not in the future", exp)
			}
			if iat.After(now.Add(time.Second)) {
				t.Errorf("iat %v is in the future (now %v)", iat, now)
			}
			if iat.Before(before.Truncate(time.Second)) {
				t.Errorf("iat %v is before the request (%v)", iat, before)
			}
			if !exp.After(iat) {
				t.Errorf("exp %v not after iat %v", exp, iat)
			}
			if at := numericDate(t, c, "auth_time"); !at.Equal(sess.AuthTime) {
				t.Errorf("auth_time = %v, want the session's %v", at, sess.AuthTime)
			}
			if tt.wantNonce != "" && c["nonce"] != tt.wantNonce {
				t.Errorf("nonce = %v, want %q", c["nonce"], tt.wantNonce)
			}
			if _, ok := c["nonce"]; tt.wantNonce == "" && ok {
				t.Errorf("nonce %v present, but none was sent", c["nonce"])
			}
			// OIDC Core §3.1.3.6: the left half of SHA-256 of the ASCII
			// access token, base64url without padding.
			sum := sha256.Sum256([]byte(tr.AccessToken))
			if want := base64.RawURLEncoding.EncodeToString(sum[:16]); c["at_hash"] != want {
				t.Errorf("at_hash = %v, want %s", c["at_hash"], want)
			}
			// The session logged in with a password (RFC 8176 "pwd"), and
			// with no second factor the token claims no acr.
			if amr, _ := c["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
				t.Errorf("amr = %v, want [pwd]", c["amr"])
			}
			if _, ok := c["acr"]; ok {
				t.Errorf("acr = %v without a second factor", c["acr"])
			}
			if want := session.PublicID(sess); c["sid"] != want {
				t.Errorf("sid = %v, want %s", c["sid"], want)
			}
			if c["sid"] == sess.ID {
				t.Errorf("sid is the stored session id")
			}
		})
	}
}

// numericDate reads a NumericDate claim.
func numericDate(t *testing.T, c map[string]any, name string) time.Time {
	t.Helper()
	v, ok := c[name].(float64)
	if !ok {
		t.Errorf("%s = %v (%T), want a number", name, c[name], c[name])
		return time.Time{}
	}
	return time.Unix(int64(v), 0)
}
