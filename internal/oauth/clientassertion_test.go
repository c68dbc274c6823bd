package oauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// assertion signs a client assertion for clientID with key (kid may be
// empty); edit changes the claims first.
func assertion(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	ec, ed := newKeys(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, _ := newKeys(t)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &ec.PublicKey, KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
		{Key: ed.Public(), KeyID: "ed1"},
		{Key: &rsaKey.PublicKey, KeyID: "rsa1"},
	}})
	pkj := e.newClientWith(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true}, func(c *store.Client) {
		c.TokenEndpointAuthMethod, c.SecretHash, c.JWKS = store.AuthMethodPrivateKeyJWT, "", string(set)
	})
	web := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	tokenURL := e.issuer + "/oauth/token"

	claims := func(edit ...func(map[string]any)) map[string]any {
		now := e.clock.Now()
		c := map[string]any{"iss": pkj.ID, "sub": pkj.ID, "aud": tokenURL, "exp": now.Add(time.Minute).Unix(),
			"iat": now.Unix(), "jti": token.NewOpaque()[:20]}
		for _, f := range edit {
			f(c)
		}
		return c
	}
	set1 := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	form := func(a string, kv ...string) url.Values {
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-token"},
			"client_assertion_type": {oauth.ClientAssertionType}, "client_assertion": {a}}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	valid := assertion(t, jose.ES256, ec, "ec1", claims())
	replayed := assertion(t, jose.EdDSA, ed, "", claims())
	if r := e.tokenReq(t, form(replayed), nil); r.status != http.StatusBadRequest {
		t.Fatalf("first use: status %d: %s", r.status, r.body)
	}

	// An authenticated client gets as far as the grant, whose bogus refresh
	// token is refused with 400; a refused assertion is 401 invalid_client.
	tests := []struct {
		name       string
		form       url.Values
		setup      func(*http.Request)
		wantStatus int
		wantError  string
	}{
		{"ES256 with kid", form(valid), nil, 400, "invalid_grant"},
		{"EdDSA without kid", form(assertion(t, jose.EdDSA, ed, "", claims())), nil, 400, "invalid_grant"},
		{"RS256", form(assertion(t, jose.RS256, rsaKey, "rsa1", claims())), nil, 400, "invalid_grant"},
		{"aud the issuer", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("aud", e.issuer)))), nil, 400, "invalid_grant"},
		{"aud a list", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("aud", []string{"https://other.example", tokenURL})))), nil, 400, "invalid_grant"},
		{"matching client_id", form(assertion(t, jose.ES256, ec, "ec1", claims()), "client_id", pkj.ID), nil, 400, "invalid_grant"},
		{"replayed", form(replayed), nil, 401, "invalid_client"},
		{"expired", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("exp", e.clock.Now().Add(-time.Minute).Unix())))), nil, 401, "invalid_client"},
		{"exp too far ahead", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("exp", e.clock.Now().Add(10*time.Minute).Unix())))), nil, 401, "invalid_client"},
		{"no exp", form(assertion(t, jose.ES256, ec, "ec1", claims(func(c map[string]any) { delete(c, "exp") }))), nil, 401, "invalid_client"},
		{"no jti", form(assertion(t, jose.ES256, ec, "ec1", claims(func(c map[string]any) { delete(c, "jti") }))), nil, 401, "invalid_client"},
		{"not yet valid", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("nbf", e.clock.Now().Add(2*time.Minute).Unix())))), nil, 401, "invalid_client"},
		{"wrong aud", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("aud", "https://other.example/oauth/token")))), nil, 401, "invalid_client"},
		{"sub another client", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("sub", web.ID)))), nil, 401, "invalid_client"},
		{"unknown key", form(assertion(t, jose.ES256, otherEC, "ec1", claims())), nil, 401, "invalid_client"},
		{"unknown kid", form(assertion(t, jose.ES256, ec, "nope", claims())), nil, 401, "invalid_client"},
		{"alg other than the key's", form(assertion(t, jose.EdDSA, ed, "ec1", claims())), nil, 401, "invalid_client"},
		{"HS256", form(assertion(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "", claims())), nil, 401, "invalid_client"},
		{"not a JWT", form("garbage"), nil, 401, "invalid_client"},
		{"unknown client", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("iss", "nope"), set1("sub", "nope")))), nil, 401, "invalid_client"},
		{"other client_id", form(valid, "client_id", web.ID), nil, 401, "invalid_client"},
		{"wrong assertion type", form(valid, "client_assertion_type", "urn:nope"), nil, 400, "invalid_request"},
		{"assertion and secret", form(valid, "client_secret", web.Secret), nil, 400, "invalid_request"},
		{"assertion and Basic", form(valid), basicAuth(web.ID, web.Secret), 400, "invalid_request"},
		{"secret client with an assertion", form(assertion(t, jose.ES256, ec, "ec1", claims(set1("iss", web.ID), set1("sub", web.ID)))), nil, 401, "invalid_client"},
		{"private_key_jwt client with a secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {pkj.ID}, "client_secret": {web.Secret}}, nil, 401, "invalid_client"},
		{"private_key_jwt client with client_id alone", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {pkj.ID}}, nil, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, e.tokenReq(t, tt.form, tt.setup), tt.wantStatus, tt.wantError)
		})
	}

	t.Run("code flow", func(t *testing.T) {
		_, _, cookie := e.login(t)
		verifier := oauth2.GenerateVerifier()
		code := e.code(t, pkj, cookie, url.Values{"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
		r := e.tokenReq(t, form(assertion(t, jose.ES256, ec, "ec1", claims()), "grant_type", "authorization_code", "code", code,
			"redirect_uri", loopbackCB, "code_verifier", verifier, "refresh_token", ""), nil)
		if r.status != http.StatusOK {
			t.Fatalf("token: status %d: %s", r.status, r.body)
		}
		var tok oauth2.Token
		var body map[string]any
		if err := json.Unmarshal(r.body, &tok); err != nil || json.Unmarshal(r.body, &body) != nil {
			t.Fatal(err)
		}
		e.verifyIDToken(t, tok.WithExtra(body), pkj.ID, "RS256")
	})

	t.Run("revocation", func(t *testing.T) {
		r := e.clientPost(t, "/oauth/revoke", url.Values{"token": {"x"}, "client_assertion_type": {oauth.ClientAssertionType},
			"client_assertion": {assertion(t, jose.ES256, ec, "ec1", claims())}}, nil)
		if r.status != http.StatusOK {
			t.Errorf("revoke with an assertion: status %d: %s", r.status, r.body)
		}
	})
}
