package mgmtapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/token"
)

type signingKeyOut struct {
	KID         string         `json:"kid"`
	Alg         string         `json:"alg"`
	Current     bool           `json:"current"`
	Next        bool           `json:"next"`
	Previous    bool           `json:"previous"`
	Revoked     bool           `json:"revoked"`
	RevokedAt   string         `json:"revoked_at"`
	Published   bool           `json:"published"`
	RetireAt    string         `json:"retire_at"`
	Thumbprint  string         `json:"thumbprint"`
	Fingerprint string         `json:"fingerprint"`
	JWK         map[string]any `json:"jwk"`
}

// settled moves the service's clock past the time a next key needs to be
// known to verifiers, so that a rotation is allowed.
func settled(c *mgmt.Config) {
	c.Now = func() time.Time { return time.Now().Add(10*time.Second + token.JWKSMaxAge) }
}

// ringOf keeps the keys of one algorithm.
func ringOf(keys []signingKeyOut, alg string) []signingKeyOut {
	var out []signingKeyOut
	for _, k := range keys {
		if k.Alg == alg {
			out = append(out, k)
		}
	}
	return out
}

func TestSigningKeys(t *testing.T) {
	e := newEnv(t, settled)
	var all4 []signingKeyOut
	e.call(t, "GET", "/api/v2/keys/signing", nil, 200, &all4)
	// The default ring (ES256, which signs the tests' tokens) first; the
	// management API's RS256 ring after it.
	if len(all4) != 4 || all4[0].Alg != "ES256" || all4[2].Alg != "RS256" {
		t.Fatalf("keys %+v", all4)
	}
	keys := ringOf(all4, "ES256")
	if len(keys) != 2 || !keys[0].Current || !keys[1].Next || !keys[0].Published {
		t.Fatalf("keys %+v", keys)
	}
	k := keys[0]
	if k.JWK["kid"] != k.KID || k.JWK["kty"] != "EC" || k.JWK["d"] != nil || len(k.Thumbprint) != 64 ||
		strings.ReplaceAll(k.Fingerprint, ":", "") != k.Thumbprint || k.RetireAt != "" || k.Revoked {
		t.Errorf("key %+v", k)
	}
	var one signingKeyOut
	e.call(t, "GET", "/api/v2/keys/signing/"+k.KID, nil, 200, &one)
	if one.KID != k.KID || !one.Current {
		t.Errorf("get %+v", one)
	}
	oldCurrent, oldNext := keys[0].KID, keys[1].KID
	// A token signed before the rotation.
	before := e.token(t, all...)

	var rotated struct {
		KID string `json:"kid"`
	}
	e.call(t, "POST", "/api/v2/keys/signing/rotate", nil, 201, &rotated)
	e.call(t, "GET", "/api/v2/keys/signing", nil, 200, &all4)
	if len(all4) != 6 {
		t.Fatalf("every ring rotates: %d keys", len(all4))
	}
	keys = ringOf(all4, "ES256")
	if len(keys) != 3 || keys[0].KID != oldNext || !keys[0].Current || keys[1].KID != rotated.KID || !keys[1].Next ||
		keys[2].KID != oldCurrent || !keys[2].Previous || keys[2].RetireAt == "" || !keys[2].Published {
		t.Fatalf("keys after rotation %+v (rotate answered %s)", keys, rotated.KID)
	}
	tok := e.token(t, all...) // signed by the new current key
	tests := []struct {
		name, method, path string
		status             int
		msg                string
	}{
		{"revoke current", "PUT", "/api/v2/keys/signing/" + oldNext + "/revoke", 400, "rotate the keys first"},
		{"revoke next", "PUT", "/api/v2/keys/signing/" + rotated.KID + "/revoke", 400, "is the next signing key"},
		{"revoke unknown", "PUT", "/api/v2/keys/signing/nope/revoke", 404, `signing key "nope" not found`},
		{"get unknown", "GET", "/api/v2/keys/signing/nope", 404, `signing key "nope" not found`},
		{"list with a query", "GET", "/api/v2/keys/signing?page=1", 400, "Query validation error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, nil, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}

	// The old token still works until its key is revoked.
	if status, _ := e.do(t, "GET", "/api/v2/keys/signing", nil, before); status != 200 {
		t.Fatalf("a token of the previous key: %d", status)
	}
	var revoked struct {
		KID string `json:"kid"`
	}
	e.call(t, "PUT", "/api/v2/keys/signing/"+oldCurrent+"/revoke", nil, 200, &revoked)
	if revoked.KID != oldCurrent {
		t.Errorf("revoke answered %+v", revoked)
	}
	e.call(t, "GET", "/api/v2/keys/signing/"+oldCurrent, nil, 200, &one)
	if !one.Revoked || one.RevokedAt == "" || one.Published || !one.Previous {
		t.Errorf("revoked key %+v", one)
	}
	status, body := e.do(t, "GET", "/api/v2/keys/signing", nil, before)
	wantError(t, status, body, 401, "Invalid token")
	status, body = e.do(t, "PUT", "/api/v2/keys/signing/"+oldCurrent+"/revoke", nil, tok)
	wantError(t, status, body, 409, "revoked already")
}

// TestRotateWaitsForTheNextKey: keys just made have a next key that
// verifiers may not know yet; the rotation waits, as the CLI's does.
func TestRotateWaitsForTheNextKey(t *testing.T) {
	e := newEnv(t)
	var before []signingKeyOut
	e.call(t, "GET", "/api/v2/keys/signing", nil, 200, &before)
	status, body := e.do(t, "POST", "/api/v2/keys/signing/rotate", nil, e.token(t, "create:signing_keys"))
	wantError(t, status, body, http.StatusConflict, "rotating before 1m10s have passed could break verifiers")
	var after []signingKeyOut
	e.call(t, "GET", "/api/v2/keys/signing", nil, 200, &after)
	if len(after) != len(before) || after[0].KID != before[0].KID {
		t.Errorf("a refused rotation changed the keys: %+v", after)
	}
}
