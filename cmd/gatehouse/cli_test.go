package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "g.db")
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{name: "no command", args: nil, wantCode: 2, wantErr: "no command given"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantErr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"--help"}, wantCode: 0, wantOut: "apps create"},
		{name: "serve help", args: []string{"serve", "--help"}, wantCode: 0, wantOut: "-issuer"},
		{name: "apps create help", args: []string{"apps", "create", "--help"}, wantCode: 0, wantOut: "-allow-offline-access"},
		{name: "users create help", args: []string{"users", "create", "--help"}, wantCode: 0, wantOut: "-password-stdin"},
		{name: "apps without subcommand", args: []string{"apps"}, wantCode: 2, wantErr: "needs a subcommand"},
		{name: "unknown flag", args: []string{"apps", "list", "--db", db, "--bogus"}, wantCode: 2, wantErr: "flag provided but not defined: -bogus"},
		{name: "apps create ok", args: []string{"apps", "create", "--db", db, "--name", "Web", "--callback", "https://app.example/cb", "--client-id", "web1"},
			wantCode: 0, wantOut: "client_id: web1\nclient_secret: "},
		{name: "duplicate client id", args: []string{"apps", "create", "--db", db, "--name", "Web", "--callback", "https://app.example/cb", "--client-id", "web1"},
			wantCode: 1, wantErr: `client id "web1" already exists`},
		{name: "malformed callback", args: []string{"apps", "create", "--db", db, "--name", "W", "--callback", "not a url"}, wantCode: 1, wantErr: "not an absolute URL"},
		{name: "http callback off loopback", args: []string{"apps", "create", "--db", db, "--name", "W", "--callback", "http://app.example/cb"}, wantCode: 1, wantErr: "use https"},
		{name: "callback with fragment", args: []string{"apps", "create", "--db", db, "--name", "W", "--callback", "https://app.example/cb#x"}, wantCode: 1, wantErr: "fragment"},
		{name: "short client secret", args: []string{"apps", "create", "--db", db, "--name", "W", "--callback", "https://a.example/cb", "--client-secret", "short"}, wantCode: 1, wantErr: "too short"},
		{name: "missing name", args: []string{"apps", "create", "--db", db, "--callback", "https://a.example/cb"}, wantCode: 2, wantErr: "--name is required"},
		{name: "apps list", args: []string{"apps", "list", "--db", db}, wantCode: 0, wantOut: "web1"},
		{name: "users create", stdin: "a-long-password\n", args: []string{"users", "create", "--db", db, "--email", "Bob@Example.com", "--password-stdin"}, wantCode: 0, wantOut: "user_id: gatehouse|"},
		{name: "duplicate user", stdin: "a-long-password\n", args: []string{"users", "create", "--db", db, "--email", "bob@example.com", "--password-stdin"}, wantCode: 1, wantErr: "already exists"},
		{name: "weak password", stdin: "short\n", args: []string{"users", "create", "--db", db, "--email", "c@example.com", "--password-stdin"}, wantCode: 1, wantErr: "password is too short"},
		{name: "bad email", stdin: "a-long-password\n", args: []string{"users", "create", "--db", db, "--email", "nope", "--password-stdin"}, wantCode: 1, wantErr: "not a valid email"},
		{name: "empty stdin", stdin: "", args: []string{"users", "create", "--db", db, "--email", "d@example.com", "--password-stdin"}, wantCode: 1, wantErr: "no password"},
		{name: "password not from stdin", args: []string{"users", "create", "--db", db, "--email", "d@example.com"}, wantCode: 2, wantErr: "--password-stdin is required"},
		{name: "users list", args: []string{"users", "list", "--db", db}, wantCode: 0, wantOut: "bob@example.com"},
		{name: "delete unknown app", args: []string{"apps", "delete", "nope", "--db", db}, wantCode: 1, wantErr: `"nope" not found`},
		{name: "delete app", args: []string{"apps", "delete", "web1", "--db", db}, wantCode: 0, wantOut: "deleted web1"},
		{name: "delete without id", args: []string{"apps", "delete", "--db", db}, wantCode: 2, wantErr: "exactly one CLIENT_ID"},
		{name: "unreachable database", args: []string{"apps", "list", "--db", "sqlite:/proc/no/such/dir/g.db"}, wantCode: 1, wantErr: "open database"},
		{name: "unknown database scheme", args: []string{"apps", "list", "--db", "mysql://x"}, wantCode: 1, wantErr: "unknown database"},
		{name: "keys list", args: []string{"keys", "list", "--db", db}, wantCode: 0, wantOut: "KID"},
		{name: "keys rotate too soon", args: []string{"keys", "rotate", "--db", db}, wantCode: 1, wantErr: "use --force"},
		{name: "keys rotate forced", args: []string{"keys", "rotate", "--db", db, "--force"}, wantCode: 0, wantOut: "current"},
		{name: "migrate", args: []string{"migrate", "--db", db}, wantCode: 0, wantOut: "up to date"},
		{name: "apis create", args: []string{"apis", "create", "--db", db, "--identifier", "https://api.example.com", "--name", "API", "--scope", "read:things:Read things", "--token-lifetime", "10m"},
			wantCode: 0, wantOut: "created API https://api.example.com"},
		{name: "apis create duplicate", args: []string{"apis", "create", "--db", db, "--identifier", "https://api.example.com", "--name", "API"}, wantCode: 1, wantErr: "already exists"},
		{name: "apis create relative identifier", args: []string{"apis", "create", "--db", db, "--identifier", "api", "--name", "API"}, wantCode: 1, wantErr: "absolute URI"},
		{name: "apis create bad alg", args: []string{"apis", "create", "--db", db, "--identifier", "https://b.example", "--name", "B", "--signing-alg", "HS256"}, wantCode: 1, wantErr: "not RS256"},
		{name: "apis create oidc scope", args: []string{"apis", "create", "--db", db, "--identifier", "https://c.example", "--name", "C", "--scope", "openid"}, wantCode: 1, wantErr: "OpenID Connect scope"},
		{name: "apis create bad lifetime", args: []string{"apis", "create", "--db", db, "--identifier", "https://d.example", "--name", "D", "--token-lifetime", "soon"}, wantCode: 2, wantErr: "invalid duration"},
		{name: "apis create missing name", args: []string{"apis", "create", "--db", db, "--identifier", "https://e.example"}, wantCode: 2, wantErr: "--name are required"},
		{name: "apis list", args: []string{"apis", "list", "--db", db}, wantCode: 0, wantOut: "read:things"},
		{name: "apis update", args: []string{"apis", "update", "https://api.example.com", "--db", db, "--allow-offline-access", "--signing-alg", "EdDSA"}, wantCode: 0, wantOut: "updated API"},
		{name: "apis show", args: []string{"apis", "show", "https://api.example.com", "--db", db}, wantCode: 0, wantOut: `"signing_alg": "EdDSA"`},
		{name: "apis show unknown", args: []string{"apis", "show", "https://nope.example", "--db", db}, wantCode: 1, wantErr: "not found"},
		{name: "apis delete", args: []string{"apis", "delete", "https://api.example.com", "--db", db}, wantCode: 0, wantOut: "deleted"},
		{name: "apps create with policy", args: []string{"apps", "create", "--db", db, "--name", "P", "--callback", "https://p.example/cb", "--client-id", "pol", "--refresh-overlap", "10s", "--access-token-ttl", "5m"},
			wantCode: 0, wantOut: "client_id: pol"},
		{name: "apps update", args: []string{"apps", "update", "pol", "--db", db, "--allow-offline-access", "--no-refresh-rotation"}, wantCode: 0, wantOut: "updated pol"},
		{name: "apps show", args: []string{"apps", "show", "pol", "--db", db}, wantCode: 0, wantOut: `"rotation": false`},
		{name: "apps update bad overlap", args: []string{"apps", "update", "pol", "--db", db, "--refresh-overlap", "1h"}, wantCode: 1, wantErr: "overlap"},
		{name: "apps update bad callback", args: []string{"apps", "update", "pol", "--db", db, "--callback", "http://evil.example/cb"}, wantCode: 1, wantErr: "use https"},
		{name: "apps update unknown", args: []string{"apps", "update", "nope", "--db", db, "--name", "x"}, wantCode: 1, wantErr: "not found"},
		{name: "users update bad json", args: []string{"users", "update", "gatehouse|nope", "--db", db, "--app-metadata", "{"}, wantCode: 1, wantErr: "not found"},
		{name: "connections create github", args: []string{"connections", "create", "--db", db, "--name", "github", "--strategy", "github", "--client-id", "gh", "--client-secret", "s3cret-upstream", "--enable-for", "pol"},
			wantCode: 0, wantOut: "/login/callback"},
		{name: "connections duplicate", args: []string{"connections", "create", "--db", db, "--name", "github", "--strategy", "github", "--client-id", "gh", "--client-secret", "x"}, wantCode: 1, wantErr: "already exists"},
		{name: "connections bad strategy", args: []string{"connections", "create", "--db", db, "--name", "x", "--strategy", "saml", "--client-id", "a", "--client-secret", "b"}, wantCode: 1, wantErr: "not github, oidc or oauth2"},
		{name: "connections oidc without issuer", args: []string{"connections", "create", "--db", db, "--name", "corp", "--strategy", "oidc", "--client-id", "a", "--client-secret", "b"}, wantCode: 1, wantErr: "--issuer is required"},
		{name: "connections oauth2 http url", args: []string{"connections", "create", "--db", db, "--name", "o2", "--strategy", "oauth2", "--client-id", "a", "--client-secret", "b",
			"--authorize-url", "http://idp.example/auth", "--token-url", "https://idp.example/token", "--userinfo-url", "https://idp.example/me"}, wantCode: 1, wantErr: "must be an https URL"},
		{name: "connections missing secret", args: []string{"connections", "create", "--db", db, "--name", "gh2", "--strategy", "github", "--client-id", "a"}, wantCode: 1, wantErr: "--client-secret is required"},
		{name: "connections bad name", args: []string{"connections", "create", "--db", db, "--name", "Bad Name", "--strategy", "github", "--client-id", "a", "--client-secret", "b"}, wantCode: 1, wantErr: "connection name"},
		{name: "connections bad claim", args: []string{"connections", "create", "--db", db, "--name", "corp", "--strategy", "oidc", "--issuer", "https://idp.example", "--client-id", "a", "--client-secret", "b", "--claim", "password=x"}, wantCode: 1, wantErr: "FIELD=CLAIM"},
		{name: "connections enable for unknown app", args: []string{"connections", "create", "--db", db, "--name", "gh3", "--strategy", "github", "--client-id", "a", "--client-secret", "b", "--enable-for", "nope"}, wantCode: 1, wantErr: `application "nope" not found`},
		{name: "connections list", args: []string{"connections", "list", "--db", db}, wantCode: 0, wantOut: "Username-Password-Authentication"},
		{name: "connections show hides the secret", args: []string{"connections", "show", "github", "--db", db}, wantCode: 0, wantOut: `"client_secret_set": true`},
		{name: "connections disable", args: []string{"connections", "disable", "--app", "pol", "github", "--db", db}, wantCode: 0, wantOut: "disabled connection github for pol"},
		{name: "connections enable unknown connection", args: []string{"connections", "enable", "--app", "pol", "gitlab", "--db", db}, wantCode: 1, wantErr: `connection "gitlab" not found`},
		{name: "connections enable without app", args: []string{"connections", "enable", "github", "--db", db}, wantCode: 2, wantErr: "needs --app"},
		{name: "connections update", args: []string{"connections", "update", "github", "--db", db, "--scopes", "read:user"}, wantCode: 0, wantOut: "updated connection github"},
		{name: "connections update strategy", args: []string{"connections", "update", "github", "--db", db, "--strategy", "oidc"}, wantCode: 1, wantErr: "cannot change"},
		{name: "connections delete builtin", args: []string{"connections", "delete", "Username-Password-Authentication", "--db", db}, wantCode: 1, wantErr: "cannot be deleted"},
		{name: "connections delete", args: []string{"connections", "delete", "github", "--db", db}, wantCode: 0, wantOut: "deleted github"},
		{name: "users show unknown", args: []string{"users", "show", "gatehouse|nope", "--db", db}, wantCode: 1, wantErr: "not found"},
		{name: "orgs create", args: []string{"orgs", "create", "--db", db, "--name", "acme", "--display-name", "Acme", "--color", "#112233"}, wantCode: 0, wantOut: "org_id: org_"},
		{name: "orgs create duplicate", args: []string{"orgs", "create", "--db", db, "--name", "acme"}, wantCode: 1, wantErr: "already exists"},
		{name: "orgs create bad name", args: []string{"orgs", "create", "--db", db, "--name", "Acme Corp"}, wantCode: 1, wantErr: "organization name"},
		{name: "orgs create bad color", args: []string{"orgs", "create", "--db", db, "--name", "beta", "--color", "red"}, wantCode: 1, wantErr: "#RRGGBB"},
		{name: "orgs create http logo", args: []string{"orgs", "create", "--db", db, "--name", "beta", "--logo-url", "http://x.example/l.png"}, wantCode: 1, wantErr: "https"},
		{name: "orgs update", args: []string{"orgs", "update", "acme", "--db", db, "--display-name", "Acme Corp"}, wantCode: 0, wantOut: "updated org_"},
		{name: "orgs show", args: []string{"orgs", "show", "acme", "--db", db}, wantCode: 0, wantOut: `"display_name": "Acme Corp"`},
		{name: "orgs show unknown", args: []string{"orgs", "show", "nope", "--db", db}, wantCode: 1, wantErr: `organization "nope" not found`},
		{name: "orgs members add", args: []string{"orgs", "members", "add", "--db", db, "--org", "acme", "--user", "bob@example.com"}, wantCode: 0, wantOut: "added gatehouse|"},
		{name: "orgs members add unknown user", args: []string{"orgs", "members", "add", "--db", db, "--org", "acme", "--user", "zed@example.com"}, wantCode: 1, wantErr: "not found"},
		{name: "orgs members list", args: []string{"orgs", "members", "list", "--db", db, "--org", "acme"}, wantCode: 0, wantOut: "gatehouse|"},
		{name: "orgs members bad verb", args: []string{"orgs", "members", "frob"}, wantCode: 2, wantErr: "add, remove or list"},
		{name: "orgs connections enable", args: []string{"orgs", "connections", "enable", "--db", db, "--org", "acme", "Username-Password-Authentication"}, wantCode: 0, wantOut: "enabled connection"},
		{name: "orgs connections unknown", args: []string{"orgs", "connections", "enable", "--db", db, "--org", "acme", "gitlab"}, wantCode: 1, wantErr: "not found"},
		{name: "orgs invite without login route", args: []string{"orgs", "invite", "--db", db, "--org", "acme", "--email", "c@example.com", "--app", "pol"}, wantCode: 1, wantErr: "--initiate-login-uri"},
		{name: "apps update org settings", args: []string{"apps", "update", "pol", "--db", db, "--organization-usage", "allow", "--initiate-login-uri", "https://p.example/login"}, wantCode: 0, wantOut: "updated pol"},
		{name: "apps update bad org usage", args: []string{"apps", "update", "pol", "--db", db, "--organization-usage", "sometimes"}, wantCode: 1, wantErr: "not deny, allow or require"},
		{name: "orgs invite", args: []string{"orgs", "invite", "--db", db, "--org", "acme", "--email", "C@Example.com", "--app", "pol", "--ttl", "2d"}, wantCode: 0, wantOut: "url: https://p.example/login?invitation="},
		{name: "orgs invite bad ttl", args: []string{"orgs", "invite", "--db", db, "--org", "acme", "--email", "c@example.com", "--app", "pol", "--ttl", "90d"}, wantCode: 1, wantErr: "--ttl"},
		{name: "orgs invitations list", args: []string{"orgs", "invitations", "list", "--db", db, "--org", "acme"}, wantCode: 0, wantOut: "c@example.com"},
		{name: "orgs invitations revoke unknown", args: []string{"orgs", "invitations", "revoke", "inv_nope", "--db", db}, wantCode: 1, wantErr: "not found"},
		{name: "orgs delete", args: []string{"orgs", "delete", "acme", "--db", db}, wantCode: 0, wantOut: "deleted acme"},
		{name: "serve bad issuer", args: []string{"serve", "--db", db, "--issuer", "ftp://x"}, wantCode: 1, wantErr: "issuer"},
		{name: "serve http issuer off loopback", args: []string{"serve", "--db", db, "--issuer", "http://id.example.com"}, wantCode: 1, wantErr: "must use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErr)
			}
			if tt.wantCode != 0 && strings.Count(strings.TrimSpace(lastLine(errOut)), "\n") != 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestCLIEnvironment checks GATEHOUSE_* overrides and the config file.
func TestCLIEnvironment(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "env.db")
	cfgFile := filepath.Join(dir, "gatehouse.yaml")
	writeFile(t, cfgFile, "db: "+db+"\n")
	out, errOut, code := runCLI(t, "", "apps", "list", "--config", cfgFile)
	if code != 0 || !strings.Contains(out, "CLIENT_ID") {
		t.Fatalf("config file: exit %d %s", code, errOut)
	}
	writeFile(t, cfgFile, "db: "+db+"\nbogus_key: 1\n")
	if _, errOut, code := runCLI(t, "", "apps", "list", "--config", cfgFile); code == 0 || !strings.Contains(errOut, "bogus_key") {
		t.Fatalf("unknown config key accepted: %d %s", code, errOut)
	}
}
