package oauth

import (
	"slices"
	"testing"

	"gatehouse/internal/store"
)

func TestParseResponseType(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"code", "code", true},
		{"id_token", "id_token", true},
		{"code id_token", "code id_token", true},
		{"id_token  code", "code id_token", true},
		{"token", "", false},
		{"code token", "", false},
		{"code id_token token", "", false},
		{"code code", "", false},
		{"none", "", false},
		{"CODE", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got, ok := parseResponseType(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseResponseType(%q) = %q, %t; want %q, %t", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestResolveMode(t *testing.T) {
	tests := []struct {
		requested, typ, want string
		ok                   bool
	}{
		{"", "code", "query", true},
		{"", "id_token", "fragment", true},
		{"", "code id_token", "fragment", true},
		{"query", "code", "query", true},
		{"query", "id_token", "fragment", false},
		{"query", "code id_token", "fragment", false},
		{"fragment", "code", "fragment", true},
		{"form_post", "id_token", "form_post", true},
		{"web_message", "code", "web_message", true},
		{"jwt", "code", "query", false},
		{"FORM_POST", "code", "query", false},
	}
	for _, tt := range tests {
		if got, ok := resolveMode(tt.requested, tt.typ); got != tt.want || ok != tt.ok {
			t.Errorf("resolveMode(%q, %q) = %q, %t; want %q, %t", tt.requested, tt.typ, got, ok, tt.want, tt.ok)
		}
	}
}

// Requests stored before response types existed decode as code in query.
func TestEncodeResponse(t *testing.T) {
	tests := []struct{ stored, mode, typ string }{
		{"", "query", "code"},
		{"query", "query", "code"},
		{encodeResponse("form_post", "code"), "form_post", "code"},
		{encodeResponse("form_post", "id_token"), "form_post", "id_token"},
		{encodeResponse("fragment", "code id_token"), "fragment", "code id_token"},
	}
	for _, tt := range tests {
		if mode, typ := decodeResponse(tt.stored); mode != tt.mode || typ != tt.typ {
			t.Errorf("decodeResponse(%q) = %q, %q; want %q, %q", tt.stored, mode, typ, tt.mode, tt.typ)
		}
	}
}

func TestCSPSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://app.example/callback", "https://app.example/callback"},
		{"https://app.example/cb?tenant=1", "https://app.example/cb"},
		{"https://App.Example:8443/a;b,c", "https://app.example:8443/a%3Bb%2Cc"},
		{"https://app.example", "https://app.example/"},
		{"http://127.0.0.1:5555/cb", "http://127.0.0.1:5555/cb"},
		{"com.example.app:/cb", "'none'"},
		{"not a url", "'none'"},
	}
	for _, tt := range tests {
		if got := cspSource(tt.in); got != tt.want {
			t.Errorf("cspSource(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWebOrigins(t *testing.T) {
	c := store.Client{Callbacks: []string{"https://spa.example/cb", "https://spa.example/other", "http://localhost:3000/",
		"com.example.app:/cb", "myapp://callback"}}
	want := []string{"https://spa.example", "http://localhost:3000"}
	if got := webOrigins(c); !slices.Equal(got, want) {
		t.Errorf("webOrigins = %q, want %q", got, want)
	}
}
