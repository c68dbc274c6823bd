package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogsValidate(t *testing.T) {
	tests := []struct {
		name string
		logs Logs
		want string // substring of the error; "" for valid
	}{
		{"defaults", defaultLogs(), ""},
		{"webhook over https", Logs{Retention: Duration(time.Hour), WebhookURL: "https://logs.example.com/in", WebhookAuthorization: "Bearer x"}, ""},
		{"webhook on loopback", Logs{Retention: Duration(time.Hour), WebhookURL: "http://127.0.0.1:9000/in"}, ""},
		{"short retention", Logs{Retention: Duration(time.Minute)}, "logs.retention"},
		{"no retention", Logs{}, "logs.retention"},
		{"http webhook", Logs{Retention: Duration(time.Hour), WebhookURL: "http://logs.example.com/in"}, "must use https"},
		{"relative webhook", Logs{Retention: Duration(time.Hour), WebhookURL: "/in"}, "logs.webhook_url"},
		{"ftp webhook", Logs{Retention: Duration(time.Hour), WebhookURL: "ftp://logs.example.com"}, "logs.webhook_url"},
		{"credentials in the url", Logs{Retention: Duration(time.Hour), WebhookURL: "https://u:p@logs.example.com"}, "credentials"},
		{"authorization without url", Logs{Retention: Duration(time.Hour), WebhookAuthorization: "Bearer x"}, "without logs.webhook_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Logs = tt.logs
			err := c.Validate()
			if tt.want == "" && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), ":p@") {
				t.Fatalf("the error repeats the credentials: %v", err)
			}
		})
	}
}

func TestLogsSettings(t *testing.T) {
	if got := Default().Logs.Retention.D(); got != 720*time.Hour {
		t.Fatalf("default retention %v, want 720h", got)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte("logs:\n  retention: 7d\n  webhook_url: https://logs.example.com/in\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if c.Logs.Retention.D() != 7*24*time.Hour || c.Logs.WebhookURL != "https://logs.example.com/in" {
		t.Fatalf("from the file: %+v", c.Logs)
	}
	env := map[string]string{"GATEHOUSE_LOGS_RETENTION": "90d", "GATEHOUSE_LOGS_WEBHOOK_AUTHORIZATION": "Bearer from-env"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Logs.Retention.D() != 90*24*time.Hour || c.Logs.WebhookAuthorization != "Bearer from-env" || c.Logs.WebhookURL == "" {
		t.Fatalf("from the environment: %+v", c.Logs)
	}
	if err := c.ApplyEnv(func(k string) (string, bool) { return "soon", k == "GATEHOUSE_LOGS_RETENTION" }); err == nil ||
		!strings.Contains(err.Error(), "GATEHOUSE_LOGS_RETENTION") {
		t.Fatalf("a bad retention: %v", err)
	}
}
