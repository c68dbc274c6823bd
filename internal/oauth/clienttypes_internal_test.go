package oauth

import (
	"slices"
	"testing"

	"gatehouse/internal/store"
)

// TestWebOriginsRegistered checks that an application's Allowed Web
// Origins receive web_message responses besides its callbacks' origins.
func TestWebOriginsRegistered(t *testing.T) {
	c := store.Client{Callbacks: []string{"https://spa.example/cb"},
		WebOrigins: []string{"https://spa.example", "https://app.example", "http://localhost:3000"}}
	want := []string{"https://spa.example", "https://app.example", "http://localhost:3000"}
	if got := webOrigins(c); !slices.Equal(got, want) {
		t.Errorf("webOrigins = %q, want %q", got, want)
	}
}

func TestLoopbackMatch(t *testing.T) {
	tests := []struct {
		registered, requested string
		want                  bool
	}{
		{"http://127.0.0.1/cb", "http://127.0.0.1:49152/cb", true},
		{"http://[::1]/cb", "http://[::1]:8080/cb", true},
		{"http://127.0.0.1/cb?x=1", "http://127.0.0.1:8080/cb?x=1", true},
		{"http://127.0.0.1:5000/cb", "http://127.0.0.1:8080/cb", false}, // a port registered is matched exactly
		{"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb/", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb?x=1", false},
		{"http://127.0.0.1/cb", "http://[::1]:8080/cb", false},
		{"http://localhost/cb", "http://localhost:8080/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.2:8080/cb", false},
		{"http://127.0.0.1/cb", "https://127.0.0.1:8080/cb", false},
		{"http://127.0.0.1/cb", "http://u@127.0.0.1:8080/cb", false},
		{"http://127.0.0.1/cb", "http://127.0.0.1.evil.example:8080/cb", false},
	}
	for _, tt := range tests {
		if got := loopbackMatch(tt.requested)(tt.registered); got != tt.want {
			t.Errorf("loopbackMatch(%q)(%q) = %v, want %v", tt.requested, tt.registered, got, tt.want)
		}
	}
}
