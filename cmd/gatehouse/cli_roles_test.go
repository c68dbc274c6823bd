package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCLIRolesAndRBAC drives apis update --rbac/--permissions-claim/
// --token-dialect and the roles command through the command line, in
// order.
func TestCLIRolesAndRBAC(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	roleID := regexp.MustCompile(`role_id: (rol_[0-9a-f]{16})\n`)
	var role string
	const api = "https://api.example"
	tests := []struct {
		name     string
		stdin    string
		args     func() []string
		wantCode int
		wantOut  string
		wantErr  string
		noOut    string // must not be in stdout
	}{
		{name: "api", args: func() []string {
			return []string{"apis", "create", "--db", db, "--identifier", api, "--name", "API", "--scope", "read:things", "--scope", "write:things"}
		}, wantOut: "created API"},
		{name: "new API: RFC 9068, no RBAC", args: func() []string { return []string{"apis", "list", "--db", db} },
			wantOut: "false  rfc9068_profile"},
		{name: "permissions claim without RBAC", args: func() []string {
			return []string{"apis", "update", api, "--db", db, "--permissions-claim"}
		}, wantCode: 1, wantErr: "needs RBAC"},
		{name: "unknown dialect", args: func() []string {
			return []string{"apis", "update", api, "--db", db, "--token-dialect", "jwt"}
		}, wantCode: 1, wantErr: `token dialect "jwt" is not access_token, access_token_authz, rfc9068_profile, rfc9068_profile_authz`},
		{name: "rbac with the claim", args: func() []string {
			return []string{"apis", "update", api, "--db", db, "--rbac", "--permissions-claim"}
		}, wantOut: "updated API"},
		{name: "show", args: func() []string { return []string{"apis", "show", api, "--db", db} },
			wantOut: `"token_dialect": "rfc9068_profile_authz"`},
		{name: "the hosted service's profile keeps the claim", args: func() []string {
			return []string{"apis", "update", api, "--db", db, "--token-dialect", "access_token", "--permissions-claim"}
		}, wantOut: "updated API"},
		{name: "show access_token_authz", args: func() []string { return []string{"apis", "show", api, "--db", db} },
			wantOut: `"token_dialect": "access_token_authz"`},
		{name: "rbac off drops the claim", args: func() []string {
			return []string{"apis", "update", api, "--db", db, "--rbac=false"}
		}, wantOut: "updated API"},
		{name: "show after rbac off", args: func() []string { return []string{"apis", "show", api, "--db", db} },
			wantOut: `"rbac": false,`, noOut: "_authz"},
		{name: "rbac on again", args: func() []string { return []string{"apis", "update", api, "--db", db, "--rbac"} },
			wantOut: "updated API"},

		{name: "user", stdin: "a-long-password\n", args: func() []string {
			return []string{"users", "create", "--db", db, "--email", "ada@example.com", "--password-stdin"}
		}, wantOut: "user_id: gatehouse|"},
		{name: "org", args: func() []string { return []string{"orgs", "create", "--db", db, "--name", "acme"} }, wantOut: "org_id: org_"},
		{name: "member", args: func() []string {
			return []string{"orgs", "members", "add", "--db", db, "--org", "acme", "--user", "ada@example.com"}
		}, wantOut: "added gatehouse|"},

		{name: "role", args: func() []string {
			return []string{"roles", "create", "--db", db, "--name", "Reader", "--description", "Reads things"}
		}, wantOut: "role_id: rol_"},
		{name: "role without name", args: func() []string { return []string{"roles", "create", "--db", db} },
			wantCode: 2, wantErr: "--name is required"},
		{name: "role twice", args: func() []string { return []string{"roles", "create", "--db", db, "--name", "Reader"} },
			wantCode: 1, wantErr: `a role named "Reader" already exists`},
		{name: "second role", args: func() []string { return []string{"roles", "create", "--db", db, "--name", "Writer"} },
			wantOut: "role_id: rol_"},
		{name: "list", args: func() []string { return []string{"roles", "list", "--db", db} }, wantOut: "Reader  Reads things"},
		{name: "list filtered", args: func() []string { return []string{"roles", "list", "--db", db, "--name-filter", "WRIT"} },
			wantOut: "Writer", noOut: "Reader"},
		{name: "add permissions", args: func() []string {
			return []string{"roles", "add-permissions", "Reader", "--db", db, "--api", api, "--permissions", "read:things write:things"}
		}, wantOut: "updated rol_"},
		{name: "add a permission the API lacks", args: func() []string {
			return []string{"roles", "add-permissions", role, "--db", db, "--api", api, "--permissions", "delete:things"}
		}, wantCode: 1, wantErr: `permission "delete:things" is not a scope of https://api.example`},
		{name: "add a permission of an unknown API", args: func() []string {
			return []string{"roles", "add-permissions", role, "--db", db, "--api", "https://nope.example", "--permissions", "x"}
		}, wantCode: 1, wantErr: `API "https://nope.example" not found`},
		{name: "add permissions without --api", args: func() []string {
			return []string{"roles", "add-permissions", role, "--db", db, "--permissions", "x"}
		}, wantCode: 2, wantErr: "needs --api and --permissions"},
		{name: "add permissions to an unknown role", args: func() []string {
			return []string{"roles", "add-permissions", "Nobody", "--db", db, "--api", api, "--permissions", "read:things"}
		}, wantCode: 1, wantErr: `role "Nobody" not found`},
		{name: "remove a permission", args: func() []string {
			return []string{"roles", "remove-permissions", role, "--db", db, "--api", api, "--permissions", "write:things"}
		}, wantOut: "updated rol_"},
		{name: "assign", args: func() []string {
			return []string{"roles", "assign", "Reader", "--db", db, "--user", "ada@example.com"}
		}, wantOut: "assign Reader: gatehouse|"},
		{name: "assign in an organization", args: func() []string {
			return []string{"roles", "assign", "Writer", "--db", db, "--user", "ada@example.com", "--organization", "acme"}
		}, wantOut: "in organization acme"},
		{name: "assign to an unknown user", args: func() []string {
			return []string{"roles", "assign", "Reader", "--db", db, "--user", "zed@example.com"}
		}, wantCode: 1, wantErr: "not found"},
		{name: "assign in an unknown organization", args: func() []string {
			return []string{"roles", "assign", "Reader", "--db", db, "--user", "ada@example.com", "--organization", "nope"}
		}, wantCode: 1, wantErr: `organization "nope" not found`},
		{name: "assign without --user", args: func() []string { return []string{"roles", "assign", "Reader", "--db", db} },
			wantCode: 2, wantErr: "needs --user"},
		{name: "assign two roles at once", args: func() []string {
			return []string{"roles", "assign", "Reader", "Writer", "--db", db, "--user", "ada@example.com"}
		}, wantCode: 2, wantErr: "takes exactly one ROLE"},
		{name: "show", args: func() []string { return []string{"roles", "show", role, "--db", db} },
			wantOut: `"permission": "read:things"`, noOut: "write:things"},
		{name: "unassign in the organization", args: func() []string {
			return []string{"roles", "unassign", "Writer", "--db", db, "--user", "ada@example.com", "--organization", "acme"}
		}, wantOut: "unassign Writer"},
		{name: "delete", args: func() []string { return []string{"roles", "delete", "Writer", "--db", db} }, wantOut: "deleted Writer"},
		{name: "delete again", args: func() []string { return []string{"roles", "delete", "Writer", "--db", db} },
			wantCode: 1, wantErr: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.stdin, tt.args()...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) || (tt.noOut != "" && strings.Contains(out, tt.noOut)) {
				t.Errorf("stdout %q, stderr %q; want %q in stdout, %q in stderr, no %q", out, errOut, tt.wantOut, tt.wantErr, tt.noOut)
			}
			if m := roleID.FindStringSubmatch(out); m != nil && role == "" {
				role = m[1]
			}
		})
	}

	// The role as shown holds its user.
	out, _, _ := runCLI(t, "", "roles", "show", "Reader", "--db", db)
	var shown struct {
		ID    string   `json:"id"`
		Users []string `json:"users"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.ID != role || len(shown.Users) != 1 || !strings.HasPrefix(shown.Users[0], "gatehouse|") {
		t.Errorf("roles show: %s (%v)", out, err)
	}
}
