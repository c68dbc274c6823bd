package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIAdmins drives "admins add|list|remove" in order: full and
// read-only admins, a change of access, and the errors.
func TestCLIAdmins(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
		noOut    string
	}{
		{name: "user", stdin: "a-long-password\n", args: []string{"users", "create", "--db", db, "--email", "ada@example.com", "--password-stdin"},
			wantOut: "user_id: gatehouse|"},
		{name: "second user", stdin: "a-long-password\n", args: []string{"users", "create", "--db", db, "--email", "bob@example.com", "--password-stdin"},
			wantOut: "user_id: gatehouse|"},
		{name: "none yet", args: []string{"admins", "list", "--db", db}, wantOut: "USER_ID", noOut: "ada@"},
		{name: "add", args: []string{"admins", "add", "ada@example.com", "--db", db}, wantOut: "is now an admin (gatehouse:admin)\nconsole: http"},
		{name: "add read-only", args: []string{"admins", "add", "bob@example.com", "--read-only", "--db", db},
			wantOut: "(gatehouse:admin-readonly)"},
		{name: "list", args: []string{"admins", "list", "--db", db}, wantOut: "ada@example.com  full"},
		{name: "list read-only", args: []string{"admins", "list", "--db", db}, wantOut: "bob@example.com  read-only"},
		{name: "read-only to full", args: []string{"admins", "add", "bob@example.com", "--db", db}, wantOut: "(gatehouse:admin)"},
		{name: "list after the change", args: []string{"admins", "list", "--db", db}, wantOut: "bob@example.com  full", noOut: "read-only"},
		{name: "remove", args: []string{"admins", "remove", "ada@example.com", "--db", db}, wantOut: "is no longer an admin"},
		{name: "list after removal", args: []string{"admins", "list", "--db", db}, wantOut: "bob@", noOut: "ada@"},
		{name: "remove again", args: []string{"admins", "remove", "ada@example.com", "--db", db}, wantCode: 1, wantErr: "ada@example.com is not an admin"},
		{name: "unknown user", args: []string{"admins", "add", "zed@example.com", "--db", db}, wantCode: 1, wantErr: "not found"},
		{name: "no email", args: []string{"admins", "add", "--db", db}, wantCode: 2, wantErr: "takes exactly one EMAIL"},
		{name: "unknown verb", args: []string{"admins", "promote", "--db", db}, wantCode: 2, wantErr: `unknown command "admins promote"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) || (tt.noOut != "" && strings.Contains(out, tt.noOut)) {
				t.Errorf("stdout %q, stderr %q; want %q in stdout, %q in stderr, no %q", out, errOut, tt.wantOut, tt.wantErr, tt.noOut)
			}
		})
	}
}
