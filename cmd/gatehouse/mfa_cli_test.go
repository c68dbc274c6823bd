package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIAppsMFA: --mfa sets an application's second-factor policy on
// create and update; inherit goes back to the server's.
func TestCLIAppsMFA(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	steps := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"create with always", []string{"apps", "create", "--db", db, "--name", "M", "--callback", "https://m.example/cb", "--client-id", "m", "--mfa", "always"}, 0, "client_id: m", ""},
		{"show always", []string{"apps", "show", "m", "--db", db}, 0, `"mfa": "always"`, ""},
		{"update optional", []string{"apps", "update", "m", "--db", db, "--mfa", "optional"}, 0, "updated m", ""},
		{"show optional", []string{"apps", "show", "m", "--db", db}, 0, `"mfa": "optional"`, ""},
		{"update inherit", []string{"apps", "update", "m", "--db", db, "--mfa", "inherit"}, 0, "updated m", ""},
		{"show inherit", []string{"apps", "show", "m", "--db", db}, 0, `"mfa": "inherit"`, ""},
		{"update bad policy", []string{"apps", "update", "m", "--db", db, "--mfa", "sometimes"}, 1, "", `MFA policy "sometimes"`},
		{"create bad policy", []string{"apps", "create", "--db", db, "--name", "N", "--callback", "https://n.example/cb", "--mfa", "Always"}, 1, "", `MFA policy "Always"`},
		{"still inherit", []string{"apps", "show", "m", "--db", db}, 0, `"mfa": "inherit"`, ""},
		{"help lists the flag", []string{"apps", "update", "--help"}, 0, "", "-mfa"},
	}
	for _, s := range steps {
		out, errOut, code := runCLI(t, "", s.args...)
		if s.name == "help lists the flag" {
			if !strings.Contains(out+errOut, "-mfa") {
				t.Errorf("%s: %q %q", s.name, out, errOut)
			}
			continue
		}
		if code != s.wantCode || !strings.Contains(out, s.wantOut) || !strings.Contains(errOut, s.wantErr) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s", s.name, code, s.wantCode, out, errOut)
		}
	}
}
