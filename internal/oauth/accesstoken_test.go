package oauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// jwtAlgorithms are the algorithms a relying party accepts from Gatehouse.
var jwtAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// verifyJWT checks raw against the published JWKS as a resource server
// would with go-jose: one signature, a kid naming exactly one published
// key whose alg is the header's, a valid signature. It returns the
// protected header and the claims.
func verifyJWT(t *testing.T, set jose.JSONWebKeySet, raw string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, jwtAlgorithms)
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	if len(jws.Signatures) != 1 {
		t.Fatalf("%d signatures, want 1", len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	if h.KeyID == "" {
		t.Fatalf("no kid in the header")
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q matches %d JWKS keys, want 1", h.KeyID, len(keys))
	}
	if keys[0].Algorithm != h.Algorithm {
		t.Errorf("header alg %q, but the JWK of kid %q is %q", h.Algorithm, h.KeyID, keys[0].Algorithm)
	}
	if !keys[0].IsPublic() {
		t.Errorf("JWK %q has private members", h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("signature does not verify against the JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return h, c
}

// audiences reads an aud claim, a string or an array of strings.
func audiences(t *testing.T, v any) []string {
	t.Helper()
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, s := range a {
			str, ok := s.(string)
			if !ok {
				t.Errorf("aud member %v (%T) is not a string", s, s)
			}
			out = append(out, str)
		}
		return out
	}
	t.Errorf("aud = %v (%T), want a string or an array", v, v)
	return nil
}

// jwtPart decodes one base64url part of a compact JWS into a map.
func jwtPart(t *testing.T, raw string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWS", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("decode part %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("part %d: %v", i, err)
	}
	return m
}

// encodePart is the base64url of v's JSON.
func encodePart(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signForeign signs claims with a key Gatehouse never published, under
// the given kid and typ.
func signForeign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("encode claims: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return s
}

// TestAccessTokenJWT checks RFC 9068 access tokens for registered APIs:
// header, claims, lifetime and signature per the API's algorithm.
func TestAccessTokenJWT(t *testing.T) {
	e := newEnv(t)
	scopes := []store.APIScope{{Name: "read:messages", Description: "Read"}, {Name: "write:messages", Description: "Write"}}
	rs := e.newAPI(t, store.API{Identifier: "https://rs.example/api", Scopes: scopes, SigningAlgorithm: "RS256", TokenLifetime: 15 * time.Minute})
	es := e.newAPI(t, store.API{Identifier: "https://es.example/api", Scopes: scopes, SigningAlgorithm: "ES256"})
	ed := e.newAPI(t, store.API{Identifier: "urn:example:ed-api", Scopes: scopes, SigningAlgorithm: "EdDSA", TokenLifetime: 2 * time.Hour})
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	shortTTL := e.newClientWith(t, oauth.NewClientParams{FirstParty: true}, func(c *store.Client) { c.AccessTokenTTL = 10 * time.Minute })
	user, _, cookie := e.login(t)
	userinfoURL := e.issuer + "/userinfo"

	tests := []struct {
		name      string
		client    client
		api       store.API
		scope     string
		wantScope []string
		wantAlg   string
		wantAud   []string
		wantTTL   time.Duration
	}{
		{
			name: "RS256 with openid", client: app, api: rs,
			scope:     "openid profile read:messages",
			wantScope: []string{"openid", "profile", "read:messages"}, wantAlg: "RS256",
			wantAud: []string{rs.Identifier, userinfoURL}, wantTTL: 15 * time.Minute,
		},
		{
			name: "RS256 without openid", client: app, api: rs,
			scope:     "read:messages write:messages",
			wantScope: []string{"read:messages", "write:messages"}, wantAlg: "RS256",
			wantAud: []string{rs.Identifier}, wantTTL: 15 * time.Minute,
		},
		{
			name: "unknown scopes dropped", client: app, api: rs,
			scope:     "openid delete:everything read:messages admin email https://other.example/api:read",
			wantScope: []string{"email", "openid", "read:messages"}, wantAlg: "RS256",
			wantAud: []string{rs.Identifier, userinfoURL}, wantTTL: 15 * time.Minute,
		},
		{
			name: "API scope only, server default lifetime", client: app, api: es,
			scope:     "write:messages",
			wantScope: []string{"write:messages"}, wantAlg: "ES256",
			wantAud: []string{es.Identifier}, wantTTL: time.Hour,
		},
		{
			name: "ES256 with the server default lifetime", client: app, api: es,
			scope:     "openid write:messages",
			wantScope: []string{"openid", "write:messages"}, wantAlg: "ES256",
			wantAud: []string{es.Identifier, userinfoURL}, wantTTL: time.Hour,
		},
		{
			name: "ES256 with the client's lifetime", client: shortTTL, api: es,
			scope:     "read:messages",
			wantScope: []string{"read:messages"}, wantAlg: "ES256",
			wantAud: []string{es.Identifier}, wantTTL: 10 * time.Minute,
		},
		{
			name: "EdDSA, API lifetime over the client's", client: shortTTL, api: ed,
			scope:     "openid read:messages",
			wantScope: []string{"openid", "read:messages"}, wantAlg: "EdDSA",
			wantAud: []string{ed.Identifier, userinfoURL}, wantTTL: 2 * time.Hour,
		},
		{
			name: "EdDSA without openid", client: app, api: ed,
			scope:     "write:messages profile",
			wantScope: []string{"profile", "write:messages"}, wantAlg: "EdDSA",
			wantAud: []string{ed.Identifier}, wantTTL: 2 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := e.code(t, tt.client, cookie, url.Values{"audience": {tt.api.Identifier}, "scope": {tt.scope}})
			tr := e.exchange(t, tt.client, code, nil)
			// The API's key ring may have been created by this exchange.
			h, c := verifyJWT(t, e.jwks(t), tr.AccessToken)

			if h.Algorithm != tt.wantAlg {
				t.Errorf("alg = %q, want %q", h.Algorithm, tt.wantAlg)
			}
			if typ, _ := h.ExtraHeaders["typ"].(string); typ != "at+jwt" {
				t.Errorf("typ = %q, want at+jwt (RFC 9068 §2.1)", typ)
			}
			if c["iss"] != e.issuer {
				t.Errorf("iss = %v, want %s", c["iss"], e.issuer)
			}
			if c["sub"] != user.ID {
				t.Errorf("sub = %v, want %s", c["sub"], user.ID)
			}
			if aud := audiences(t, c["aud"]); !slices.Equal(aud, tt.wantAud) {
				t.Errorf("aud = %q, want %q", aud, tt.wantAud)
			}
			if c["client_id"] != tt.client.ID {
				t.Errorf("client_id = %v, want %s", c["client_id"], tt.client.ID)
			}
			if got, _ := c["scope"].(string); !sameSet(got, strings.Join(tt.wantScope, " ")) {
				t.Errorf("scope claim = %q, want %q", got, tt.wantScope)
			}
			if !sameSet(tr.Scope, strings.Join(tt.wantScope, " ")) {
				t.Errorf("token response scope = %q, want %q", tr.Scope, tt.wantScope)
			}
			if jti, _ := c["jti"].(string); len(jti) < 16 {
				t.Errorf("jti = %v, want a random identifier", c["jti"])
			}
			iat := numericDate(t, c, "iat")
			exp := numericDate(t, c, "exp")
			now := e.clock.Now()
			if iat.After(now.Add(time.Second)) || iat.Before(now.Add(-time.Minute)) {
				t.Errorf("iat %v is not now (%v)", iat, now)
			}
			if got := exp.Sub(iat); got != tt.wantTTL {
				t.Errorf("exp - iat = %v, want %v", got, tt.wantTTL)
			}
			if got := time.Duration(tr.ExpiresIn) * time.Second; got != tt.wantTTL {
				t.Errorf("expires_in = %v, want %v", got, tt.wantTTL)
			}
			if tr.TokenType != "Bearer" {
				t.Errorf("token_type = %q, want Bearer", tr.TokenType)
			}
		})
	}

	t.Run("jti unique", func(t *testing.T) {
		set := map[string]bool{}
		for range 2 {
			tr := e.exchange(t, app, e.code(t, app, cookie, url.Values{"audience": {rs.Identifier}, "scope": {"read:messages"}}), nil)
			c := jwtPart(t, tr.AccessToken, 1)
			jti, _ := c["jti"].(string)
			if set[jti] {
				t.Errorf("jti %q issued twice", jti)
			}
			set[jti] = true
		}
	})
}

// TestUserinfoAccessTokenJWT covers /userinfo with RFC 9068 access tokens:
// accepted only when /userinfo is an audience, and refused (401
// invalid_token) when expired, of another type, or not signed by Gatehouse.
func TestUserinfoAccessTokenJWT(t *testing.T) {
	e := newEnv(t)
	api := e.newAPI(t, store.API{
		Identifier: "https://api.example/v1", SigningAlgorithm: "RS256", TokenLifetime: 15 * time.Minute,
		Scopes: []store.APIScope{{Name: "read", Description: "Read"}},
	})
	ecAPI := e.newAPI(t, store.API{Identifier: "https://ec.example/v1", SigningAlgorithm: "ES256", Scopes: []store.APIScope{{Name: "read", Description: "Read"}}})
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	user, _, cookie := e.login(t)
	get := func(scope, audience string) tokenResult {
		return e.exchange(t, app, e.code(t, app, cookie, url.Values{"audience": {audience}, "scope": {scope}}), nil)
	}
	withOpenID := get("openid profile email read", api.Identifier)
	ecWithOpenID := get("openid email read", ecAPI.Identifier)
	withoutOpenID := get("read", api.Identifier)
	claims := jwtPart(t, withOpenID.AccessToken, 1)
	header := jwtPart(t, withOpenID.AccessToken, 0)
	kid, _ := header["kid"].(string)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// resigned signs claims (edited by edit) with Gatehouse's own default key.
	resigned := func(typ string, edit func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		if edit != nil {
			edit(c)
		}
		s, err := e.keys.Sign(t.Context(), c, typ)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		return s
	}
	payload := strings.Split(withOpenID.AccessToken, ".")[1]

	tests := []struct {
		name string
		tok  string
		// advance moves the clock first, and back after the case.
		advance    time.Duration
		wantStatus int
	}{
		{name: "aud includes userinfo", tok: withOpenID.AccessToken, wantStatus: http.StatusOK},
		{name: "ES256 token, aud includes userinfo", tok: ecWithOpenID.AccessToken, wantStatus: http.StatusOK},
		{name: "aud without userinfo (no openid)", tok: withoutOpenID.AccessToken, wantStatus: http.StatusUnauthorized},
		{name: "expired", tok: withOpenID.AccessToken, advance: 16 * time.Minute, wantStatus: http.StatusUnauthorized},
		{name: "expired ES256", tok: ecWithOpenID.AccessToken, advance: time.Hour + time.Minute, wantStatus: http.StatusUnauthorized},
		{name: "ID token (typ JWT)", tok: withOpenID.IDToken, wantStatus: http.StatusUnauthorized},
		{name: "access token claims with typ JWT", tok: resigned("JWT", nil), wantStatus: http.StatusUnauthorized},
		{name: "access token claims without typ", tok: resigned("", nil), wantStatus: http.StatusUnauthorized},
		{name: "our key, another issuer", tok: resigned("at+jwt", func(c map[string]any) { c["iss"] = "https://evil.example" }), wantStatus: http.StatusUnauthorized},
		{name: "our key, no sub", tok: resigned("at+jwt", func(c map[string]any) { delete(c, "sub") }), wantStatus: http.StatusUnauthorized},
		{name: "our key, no exp", tok: resigned("at+jwt", func(c map[string]any) { delete(c, "exp") }), wantStatus: http.StatusUnauthorized},
		{name: "our key, at+jwt, untouched claims", tok: resigned("at+jwt", nil), wantStatus: http.StatusOK},
		{name: "foreign RSA key with our kid", tok: signForeign(t, rsaKey, jose.RS256, kid, "at+jwt", claims), wantStatus: http.StatusUnauthorized},
		{name: "foreign RSA key with unknown kid", tok: signForeign(t, rsaKey, jose.RS256, "foreign-kid", "at+jwt", claims), wantStatus: http.StatusUnauthorized},
		{name: "foreign EC key with our kid", tok: signForeign(t, ecKey, jose.ES256, kid, "at+jwt", claims), wantStatus: http.StatusUnauthorized},
		{name: "alg none", tok: encodePart(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + payload + ".", wantStatus: http.StatusUnauthorized},
		{name: "alg none without kid", tok: encodePart(t, map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + payload + ".", wantStatus: http.StatusUnauthorized},
		{name: "HS256 with the public key", tok: encodePart(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}) + "." + payload + "." + strings.Split(withOpenID.AccessToken, ".")[2], wantStatus: http.StatusUnauthorized},
		{name: "payload swapped", tok: func() string {
			p := strings.Split(withOpenID.AccessToken, ".")
			c := jwtPart(t, withOpenID.AccessToken, 1)
			c["sub"] = "gatehouse|someone-else"
			return p[0] + "." + encodePart(t, c) + "." + p[2]
		}(), wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.advance != 0 {
				e.clock.Advance(tt.advance)
				t.Cleanup(func() { e.clock.Advance(-tt.advance) })
			}
			r := userinfoGET(t, e, tt.tok)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; WWW-Authenticate %q, body %s", r.status, tt.wantStatus, r.header.Get("WWW-Authenticate"), r.body)
			}
			if tt.wantStatus == http.StatusOK {
				if c := decodeJSON(t, r); c["sub"] != user.ID {
					t.Errorf("sub = %v, want %s", c["sub"], user.ID)
				}
				return
			}
			if wa := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") || !strings.Contains(wa, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q, want Bearer error=\"invalid_token\"", wa)
			}
			checkError(t, r, http.StatusUnauthorized, "invalid_token")
		})
	}
}
