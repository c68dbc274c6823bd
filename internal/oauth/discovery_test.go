package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// getDoc fetches a JSON document.
func getDoc(t *testing.T, e *env, path string) (map[string]any, response) {
	t.Helper()
	r := e.get(t, path, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", path, r.status, r.body)
	}
	return decodeJSON(t, r), r
}

// strings of a JSON array member.
func stringList(t *testing.T, doc map[string]any, name string) []string {
	t.Helper()
	raw, ok := doc[name].([]any)
	if !ok {
		t.Errorf("%s is %T (%v), want an array", name, doc[name], doc[name])
		return nil
	}
	var out []string
	for _, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s holds %T %v, want strings", name, v, v)
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestDiscovery checks OIDC Discovery §3 and RFC 8414 metadata.
func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			doc, _ := getDoc(t, e, path)
			// OIDC Discovery §4.3: byte for byte the URL the document is
			// served under, minus the well-known suffix.
			if doc["issuer"] != e.issuer {
				t.Errorf("issuer = %v, want %s", doc["issuer"], e.issuer)
			}
			for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"} {
				s, _ := doc[k].(string)
				if !strings.HasPrefix(s, e.issuer+"/") {
					t.Errorf("%s = %q, want a URL under the issuer", k, s)
				}
			}
			tests := []struct {
				name    string
				member  string
				want    []string // values that must be listed
				notWant []string // values that must not be listed
			}{
				{name: "response types", member: "response_types_supported", want: []string{"code", "id_token", "code id_token"}, notWant: []string{"token", "code token", "id_token token", "code id_token token"}},
				{name: "response modes", member: "response_modes_supported", want: []string{"query", "fragment", "form_post", "web_message"}},
				{name: "subject types", member: "subject_types_supported", want: []string{"public"}},
				{name: "signing algorithms", member: "id_token_signing_alg_values_supported", want: []string{"RS256"}, notWant: []string{"none", "HS256"}},
				{name: "PKCE methods", member: "code_challenge_methods_supported", want: []string{"S256"}, notWant: []string{"plain"}},
				{name: "scopes", member: "scopes_supported", want: []string{"openid"}},
				{name: "grant types", member: "grant_types_supported", want: []string{"authorization_code", "refresh_token", "client_credentials", "implicit"}, notWant: []string{"password"}},
				{name: "client authentication", member: "token_endpoint_auth_methods_supported", want: []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}, notWant: []string{"client_secret_jwt"}},
				{name: "claims", member: "claims_supported", want: []string{"sub", "iss", "aud", "exp", "iat", "c_hash"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got := stringList(t, doc, tt.member)
					for _, w := range tt.want {
						if !slices.Contains(got, w) {
							t.Errorf("%s = %q lacks %q", tt.member, got, w)
						}
					}
					for _, w := range tt.notWant {
						if slices.Contains(got, w) {
							t.Errorf("%s = %q lists %q", tt.member, got, w)
						}
					}
				})
			}
			if doc["authorization_response_iss_parameter_supported"] != true {
				t.Errorf("authorization_response_iss_parameter_supported = %v, want true", doc["authorization_response_iss_parameter_supported"])
			}
		})
	}

	t.Run("same issuer in both documents", func(t *testing.T) {
		oidc, _ := getDoc(t, e, "/.well-known/openid-configuration")
		oauth, _ := getDoc(t, e, "/.well-known/oauth-authorization-server")
		if oidc["issuer"] != oauth["issuer"] {
			t.Errorf("issuers differ: %v and %v", oidc["issuer"], oauth["issuer"])
		}
	})

	t.Run("algorithms match the JWKS", func(t *testing.T) {
		doc, _ := getDoc(t, e, "/.well-known/openid-configuration")
		algs := stringList(t, doc, "id_token_signing_alg_values_supported")
		set, _ := getDoc(t, e, "/.well-known/jwks.json")
		for _, k := range set["keys"].([]any) {
			alg, _ := k.(map[string]any)["alg"].(string)
			if !slices.Contains(algs, alg) {
				t.Errorf("JWKS key alg %q not in id_token_signing_alg_values_supported %q", alg, algs)
			}
		}
	})
}

// TestJWKS checks the published keys (RFC 7517, OIDC Core §10.1).
func TestJWKS(t *testing.T) {
	e := newEnv(t)
	doc, _ := getDoc(t, e, "/.well-known/openid-configuration")
	jwksURI, _ := doc["jwks_uri"].(string)
	u, err := url.Parse(jwksURI)
	if err != nil {
		t.Fatalf("jwks_uri %q: %v", jwksURI, err)
	}
	set, r := getDoc(t, e, u.Path)
	keys, ok := set["keys"].([]any)
	if !ok || len(keys) == 0 {
		t.Fatalf("keys = %v, want a non-empty array", set["keys"])
	}
	private := []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
	kids := map[string]bool{}
	for i, k := range keys {
		m := k.(map[string]any)
		kid, _ := m["kid"].(string)
		if kid == "" {
			t.Errorf("key %d has no kid", i)
		}
		if kids[kid] {
			t.Errorf("kid %q published twice", kid)
		}
		kids[kid] = true
		if m["use"] != "sig" {
			t.Errorf("key %q: use = %v, want sig", kid, m["use"])
		}
		if alg, _ := m["alg"].(string); alg == "" || alg == "none" {
			t.Errorf("key %q: alg = %v", kid, m["alg"])
		}
		for _, p := range private {
			if _, ok := m[p]; ok {
				t.Errorf("key %q publishes the private member %q", kid, p)
			}
		}
	}
	var parsed jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &parsed); err != nil {
		t.Fatalf("parse JWKS: %v", err)
	}
	for _, k := range parsed.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %q: public %v, valid %v", k.KeyID, k.IsPublic(), k.Valid())
		}
	}
}

// TestDiscoveryGolden compares the discovery document with
// testdata/discovery.golden; run with -update to rewrite it.
func TestDiscoveryGolden(t *testing.T) {
	e := newEnv(t)
	_, r := getDoc(t, e, "/.well-known/openid-configuration")
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.issuer)
	got := strings.ReplaceAll(string(b), e.issuer, u.Scheme+"://"+u.Hostname()+":PORT") + "\n"

	golden := filepath.Join("testdata", "discovery.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDiscoveryGolden -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("discovery document differs from %s (-want +got):\n%s", golden, diff)
	}
}
