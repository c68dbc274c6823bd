package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCLIApplicationTypesAndClientGrants drives apps --type and
// client-grants through the command line, in order.
func TestCLIApplicationTypesAndClientGrants(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	grantID := regexp.MustCompile(`client_grant_id: (cgr_[0-9a-f]{16})\n`)
	var grant string
	tests := []struct {
		name     string
		args     func() []string
		wantCode int
		wantOut  string
		wantErr  string
		noOut    string // must not be in stdout
	}{
		{name: "m2m without callback", args: func() []string {
			return []string{"apps", "create", "--db", db, "--type", "m2m", "--name", "Backend", "--client-id", "backend"}
		}, wantOut: "client_id: backend\nclient_secret: ", wantErr: "shown only this once"},
		{name: "m2m with refresh tokens", args: func() []string {
			return []string{"apps", "create", "--db", db, "--type", "m2m", "--name", "B", "--allow-offline-access"}
		}, wantCode: 1, wantErr: "no refresh tokens"},
		{name: "web app still needs a callback", args: func() []string {
			return []string{"apps", "create", "--db", db, "--name", "Web"}
		}, wantCode: 2, wantErr: "at least one --callback"},
		{name: "spa", args: func() []string {
			return []string{"apps", "create", "--db", db, "--type", "spa", "--name", "SPA", "--callback", "https://spa.example/cb", "--client-id", "spa"}
		}, wantOut: "client_id: spa\n", noOut: "client_secret", wantErr: "public application"},
		{name: "spa with a secret method", args: func() []string {
			return []string{"apps", "create", "--db", db, "--type", "spa", "--name", "S", "--callback", "https://spa.example/cb", "--token-endpoint-auth-method", "client_secret_post"}
		}, wantCode: 1, wantErr: "must be none"},
		{name: "unknown type", args: func() []string {
			return []string{"apps", "create", "--db", db, "--type", "desktop", "--name", "D", "--callback", "https://d.example/cb"}
		}, wantCode: 1, wantErr: "not regular_web, spa, native or m2m"},
		{name: "show spa", args: func() []string { return []string{"apps", "show", "spa", "--db", db} },
			wantOut: `"token_endpoint_auth_method": "none"`},
		{name: "list shows types", args: func() []string { return []string{"apps", "list", "--db", db} }, wantOut: "m2m"},
		{name: "spa becomes a web app with a secret", args: func() []string {
			return []string{"apps", "update", "spa", "--db", db, "--type", "regular_web"}
		}, wantOut: "updated spa\nclient_secret: ", wantErr: "shown only this once"},
		{name: "api", args: func() []string {
			return []string{"apis", "create", "--db", db, "--identifier", "https://api.example", "--name", "API", "--scope", "read:things", "--scope", "write:things"}
		}, wantOut: "created API"},
		{name: "grant", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "backend", "--audience", "https://api.example", "--scope", "read:things write:things"}
		}, wantOut: "client_grant_id: cgr_"},
		{name: "grant twice", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "backend", "--audience", "https://api.example"}
		}, wantCode: 1, wantErr: "already exists"},
		{name: "grant to a web app", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "spa", "--audience", "https://api.example"}
		}, wantCode: 1, wantErr: "only m2m applications"},
		{name: "grant of an unknown API", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "backend", "--audience", "https://nope.example"}
		}, wantCode: 1, wantErr: `API "https://nope.example" not found`},
		{name: "grant of an unknown application", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "nope", "--audience", "https://api.example"}
		}, wantCode: 1, wantErr: `application "nope" not found`},
		{name: "grant of another API's scope", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "backend", "--audience", "https://api.example", "--scope", "delete:things"}
		}, wantCode: 1, wantErr: `scope "delete:things" is not a scope of https://api.example`},
		{name: "grant without audience", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "backend"}
		}, wantCode: 2, wantErr: "needs --client-id and --audience"},
		{name: "list", args: func() []string { return []string{"client-grants", "list", "--db", db} }, wantOut: "read:things write:things"},
		{name: "list by client", args: func() []string { return []string{"client-grants", "list", "--db", db, "--client-id", "spa"} },
			noOut: "backend"},
		{name: "update", args: func() []string {
			return []string{"client-grants", "update", grant, "--db", db, "--scope", "read:things"}
		}, wantOut: "updated cgr_"},
		{name: "update without scope", args: func() []string { return []string{"client-grants", "update", grant, "--db", db} },
			wantCode: 2, wantErr: "needs --scope"},
		{name: "list after update", args: func() []string { return []string{"client-grants", "list", "--db", db, "--client-id", "backend"} },
			wantOut: "read:things\n", noOut: "write:things"},
		{name: "delete", args: func() []string { return []string{"client-grants", "delete", grant, "--db", db} }, wantOut: "deleted cgr_"},
		{name: "delete again", args: func() []string { return []string{"client-grants", "delete", grant, "--db", db} },
			wantCode: 1, wantErr: "not found"},
		{name: "grant again, then delete the API", args: func() []string {
			return []string{"client-grants", "create", "--db", db, "--client-id", "backend", "--audience", "https://api.example"}
		}, wantOut: "client_grant_id: "},
		{name: "delete the API", args: func() []string { return []string{"apis", "delete", "https://api.example", "--db", db} }, wantOut: "deleted"},
		{name: "its grants are gone", args: func() []string { return []string{"client-grants", "list", "--db", db} }, noOut: "backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", tt.args()...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) || (tt.noOut != "" && strings.Contains(out, tt.noOut)) {
				t.Errorf("stdout %q, stderr %q; want %q in stdout, %q in stderr, no %q", out, errOut, tt.wantOut, tt.wantErr, tt.noOut)
			}
			if m := grantID.FindStringSubmatch(out); m != nil && grant == "" {
				grant = m[1]
			}
		})
	}
}
