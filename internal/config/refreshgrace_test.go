package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRefreshGracePeriod covers tokens.refresh_token_grace_period: its
// default, the file and the environment, and its bounds.
func TestRefreshGracePeriod(t *testing.T) {
	if d := Default().Tokens.RefreshGrace.D(); d != 30*time.Second {
		t.Errorf("default grace period %v, want 30s", d)
	}
	tests := []struct {
		name string
		yaml string // file content; empty for none
		env  string // GATEHOUSE_REFRESH_TOKEN_GRACE_PERIOD; empty for unset
		want time.Duration
		err  string // Validate's error, or ApplyEnv's / LoadFile's
	}{
		{name: "default", want: 30 * time.Second},
		{name: "file", yaml: "tokens:\n  refresh_token_grace_period: 10s\n", want: 10 * time.Second},
		{name: "file zero is strict single use", yaml: "tokens:\n  refresh_token_grace_period: 0s\n", want: 0},
		{name: "env over file", yaml: "tokens:\n  refresh_token_grace_period: 10s\n", env: "45s", want: 45 * time.Second},
		{name: "env zero", env: "0", want: 0},
		{name: "env at the bound", env: "5m", want: 5 * time.Minute},
		{name: "env too long", env: "6m", err: "refresh_token_grace_period"},
		{name: "env negative", env: "-1s", err: "refresh_token_grace_period"},
		{name: "env not a duration", env: "soon", err: "GATEHOUSE_REFRESH_TOKEN_GRACE_PERIOD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := func() error {
				if tt.yaml != "" {
					path := filepath.Join(t.TempDir(), "gatehouse.yaml")
					if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
						t.Fatal(err)
					}
					if err := c.LoadFile(path); err != nil {
						return err
					}
				}
				err := c.ApplyEnv(func(k string) (string, bool) {
					return tt.env, tt.env != "" && k == "GATEHOUSE_REFRESH_TOKEN_GRACE_PERIOD"
				})
				if err != nil {
					return err
				}
				return c.Validate()
			}()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Tokens.RefreshGrace.D(); got != tt.want {
				t.Errorf("grace period %v, want %v", got, tt.want)
			}
		})
	}
}
