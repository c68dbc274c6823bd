package config

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestLogoutAllowedURLs(t *testing.T) {
	tests := []struct {
		name string
		urls []string
		want string // substring of the error; "" for valid
	}{
		{"none", nil, ""},
		{"https", []string{"https://app.example/bye", "https://other.example/"}, ""},
		{"http loopback", []string{"http://127.0.0.1:3000/bye", "http://localhost/bye"}, ""},
		{"http", []string{"http://app.example/bye"}, "must use https"},
		{"relative", []string{"/bye"}, "not an absolute URL"},
		{"fragment", []string{"https://app.example/bye#x"}, "no fragment"},
		{"user info", []string{"https://u:p@app.example/bye"}, "user info"},
		{"custom scheme", []string{"myapp://bye"}, "must use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Logout.AllowedURLs = tt.urls
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "logout.allowed_urls") {
				t.Fatalf("Validate: %v, want an error about logout.allowed_urls with %q", err, tt.want)
			}
		})
	}
}

func TestLogoutAllowedURLsSources(t *testing.T) {
	var c Config
	if err := yaml.Unmarshal([]byte("logout:\n  allowed_urls: [\"https://a.example/\", \"https://b.example/\"]\n"), &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Logout.AllowedURLs, []string{"https://a.example/", "https://b.example/"}) {
		t.Fatalf("from YAML: %v", c.Logout.AllowedURLs)
	}
	env := map[string]string{"GATEHOUSE_LOGOUT_ALLOWED_URLS": "https://c.example/, https://d.example/x"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Logout.AllowedURLs, []string{"https://c.example/", "https://d.example/x"}) {
		t.Fatalf("from the environment: %v", c.Logout.AllowedURLs)
	}
}
