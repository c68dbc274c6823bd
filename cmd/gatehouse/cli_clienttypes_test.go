package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestCLIClientTypes(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "g.db")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	writeJWKS := func(name string, key any) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pubFile, privFile := writeJWKS("pub.json", pub), writeJWKS("priv.json", priv)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"spa", []string{"apps", "create", "--db", db, "--name", "SPA", "--type", "spa", "--client-id", "spa",
			"--callback", "https://spa.example/cb", "--web-origin", "https://spa.example", "--allowed-origin", "https://spa.example/"}, 0, "client_id: spa", "public application"},
		{"spa shown", []string{"apps", "show", "spa", "--db", db}, 0, `"allowed_origins": [
    "https://spa.example"
  ]`, ""},
		{"bad origin", []string{"apps", "update", "spa", "--db", db, "--allowed-origin", "https://spa.example/path"}, 1, "", "must not have a path"},
		{"native", []string{"apps", "create", "--db", db, "--name", "Native", "--type", "native", "--client-id", "native",
			"--callback", "http://127.0.0.1/cb", "--callback", "com.example.app:/callback"}, 0, "client_id: native", ""},
		{"private_key_jwt", []string{"apps", "create", "--db", db, "--name", "Web", "--client-id", "pkj",
			"--callback", "https://web.example/cb", "--token-endpoint-auth-method", "private_key_jwt", "--jwks", pubFile, "--id-token-alg", "EdDSA"}, 0, "client_id: pkj", ""},
		{"private_key_jwt shown", []string{"apps", "show", "pkj", "--db", db}, 0, `"id_token_alg": "EdDSA"`, ""},
		{"private key refused", []string{"apps", "update", "pkj", "--db", db, "--jwks", privFile}, 1, "", "private key"},
		{"missing jwks file", []string{"apps", "update", "pkj", "--db", db, "--jwks", filepath.Join(dir, "nope.json")}, 2, "", "nope.json"},
		{"pkce off", []string{"apps", "update", "pkj", "--db", db, "--require-pkce=false"}, 0, "updated pkj", ""},
		{"pkce shown off", []string{"apps", "show", "pkj", "--db", db}, 0, `"require_pkce": false`, ""},
		{"bad id token alg", []string{"apps", "update", "pkj", "--db", db, "--id-token-alg", "HS256"}, 1, "", "not RS256, ES256 or EdDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErr)
			}
		})
	}
}
