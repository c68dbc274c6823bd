package token

import (
	"errors"
	"maps"
	"testing"
	"time"
)

// TestVerifyAccessProfiles checks that both access-token profiles verify,
// and that a JWT of typ JWT that is no access token (an ID token) does not.
func TestVerifyAccessProfiles(t *testing.T) {
	const issuer = "https://id.example.com"
	clk := newClock()
	k := newTestKeys(t, &memStore{}, testSealer(t), RS256, clk)
	exp := clk.Now().Add(time.Hour).Unix()
	rfc9068 := map[string]any{"iss": issuer, "sub": "gatehouse|ada", "aud": "https://api.example", "client_id": "app",
		"iat": clk.Now().Unix(), "exp": exp, "jti": "j1", "scope": "read"}
	auth0 := map[string]any{"iss": issuer, "sub": "gatehouse|ada", "aud": []string{"https://api.example", issuer + "/userinfo"}, "azp": "app",
		"iat": clk.Now().Unix(), "exp": exp, "scope": "read", "permissions": []string{"read", "write"}}
	idToken := map[string]any{"iss": issuer, "sub": "gatehouse|ada", "aud": "app", "iat": clk.Now().Unix(), "exp": exp,
		"at_hash": "abc", "nonce": "n"}
	with := func(m map[string]any, kv ...any) map[string]any {
		m = maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name   string
		typ    string
		claims map[string]any
		ok     bool
	}{
		{"RFC 9068", "at+jwt", rfc9068, true},
		{"RFC 9068, media type", "application/at+jwt", rfc9068, true},
		{"access_token profile", "JWT", auth0, true},
		{"access_token profile, empty scope", "JWT", with(auth0, "scope", ""), true},
		{"ID token", "JWT", idToken, false},
		{"ID token with azp and scope", "JWT", with(idToken, "azp", "app", "scope", "openid"), false},
		{"typ JWT without azp", "JWT", with(auth0, "azp", nil), false},
		{"typ JWT without scope", "JWT", with(auth0, "scope", nil), false},
		{"typ JWT with client_id", "JWT", with(auth0, "client_id", "app"), false},
		{"typ JWT with a nonce", "JWT", with(auth0, "nonce", "n"), false},
		{"typ JWT with at_hash", "JWT", with(auth0, "at_hash", "x"), false},
		{"lower-case jwt", "jwt", auth0, false},
		{"logout token", "logout+jwt", auth0, false},
		{"another issuer", "JWT", with(auth0, "iss", "https://evil.example"), false},
		{"expired", "JWT", with(auth0, "exp", clk.Now().Unix()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := k.SignWith(t.Context(), RS256, tt.claims, tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			c, err := k.VerifyAccess(t.Context(), raw, issuer, clk.Now())
			if !tt.ok {
				if !errors.Is(err, ErrInvalidToken) {
					t.Errorf("error %v, want ErrInvalidToken", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.ClientID != "app" || c.Subject != "gatehouse|ada" || !c.HasAudience("https://api.example") {
				t.Errorf("claims %+v", c)
			}
		})
	}
}
