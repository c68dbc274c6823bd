package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// verbsPattern finds the verbs in a usage line such as
// "Usage: gatehouse orgs members <add|remove|list> --org ORG".
var verbsPattern = regexp.MustCompile(`^Usage: gatehouse ([a-z -]+?) ?<([a-z|-]+)>`)

// leafCommands walks the command tree from the top-level usage through each
// command's --help, and returns every command line that takes flags (such
// as "apps create" or "orgs members add"). Walking the printed usage rather
// than a list kept in the test means a new command is covered as soon as
// it is listed.
func leafCommands(t *testing.T) [][]string {
	t.Helper()
	out, _, code := runCLI(t, "", "--help")
	if code != 0 {
		t.Fatalf("gatehouse --help: exit %d", code)
	}
	var top []string
	inCommands := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Commands:"):
			inCommands = true
		case inCommands && strings.HasPrefix(line, "  "):
			top = append(top, strings.Fields(line)[0])
		case inCommands && strings.TrimSpace(line) == "":
			inCommands = false
		}
	}
	if len(top) < 10 {
		t.Fatalf("found only %d commands in the usage: %q", len(top), top)
	}
	var leaves [][]string
	var walk func(path []string)
	walk = func(path []string) {
		out, errOut, code := runCLI(t, "", append(path, "--help")...)
		if code != 0 || errOut != "" {
			t.Errorf("gatehouse %s --help: exit %d, stderr %q", strings.Join(path, " "), code, errOut)
			return
		}
		m := verbsPattern.FindStringSubmatch(out)
		if m == nil || m[1] != strings.Join(path, " ") {
			leaves = append(leaves, path)
			return
		}
		for _, v := range strings.Split(m[2], "|") {
			walk(append(append([]string(nil), path...), v))
		}
	}
	for _, name := range top {
		walk([]string{name})
	}
	return leaves
}

// TestCLIHelpOnce checks that every command's --help prints its usage
// exactly once, on standard output, and exits 0.
func TestCLIHelpOnce(t *testing.T) {
	leaves := leafCommands(t)
	if len(leaves) < 40 {
		t.Fatalf("walked only %d commands: %q", len(leaves), leaves)
	}
	for _, path := range leaves {
		for _, help := range []string{"--help", "-h"} {
			args := append(append([]string(nil), path...), help)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, errOut, code := runCLI(t, "", args...)
				if code != 0 {
					t.Errorf("exit %d, want 0; stderr %q", code, errOut)
				}
				if n := strings.Count(out, "Usage:"); n != 1 {
					t.Errorf("usage printed %d times:\n%s", n, out)
				}
				if errOut != "" {
					t.Errorf("stderr %q, want nothing", errOut)
				}
			})
		}
	}
}

// TestCLIUnknownFlag checks that an unknown flag is one clear line on
// standard error, with no usage page, and exit status 2.
func TestCLIUnknownFlag(t *testing.T) {
	for _, path := range leafCommands(t) {
		args := append(append([]string(nil), path...), "--no-such-flag")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, "", args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "flag provided but not defined: -no-such-flag") ||
				!strings.Contains(errOut, strings.Join(path, " ")) {
				t.Errorf("stderr %q, want one line naming the command and the flag", errOut)
			}
		})
	}
}

// TestCLIExtraArguments checks that positional arguments a command does not
// take are refused before the database is opened.
func TestCLIExtraArguments(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	db := "sqlite:" + filepath.Join(dataDir, "g.db")
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"serve", []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "extra"}, `takes no arguments, got "extra"`},
		{"migrate", []string{"migrate", "--db", db, "extra"}, `takes no arguments, got "extra"`},
		{"demo", []string{"demo", "extra"}, `takes no arguments, got "extra"`},
		{"loadtest", []string{"loadtest", "extra"}, `takes no arguments, got "extra"`},
		{"apps list", []string{"apps", "list", "--db", db, "extra"}, `takes no arguments, got "extra"`},
		{"apps create", []string{"apps", "create", "--db", db, "--name", "A", "--callback", "https://a.example/cb", "extra"}, `takes no arguments`},
		{"apps show two ids", []string{"apps", "show", "a", "b", "--db", db}, "exactly one CLIENT_ID"},
		{"apps delete two ids", []string{"apps", "delete", "a", "b", "--db", db}, "exactly one CLIENT_ID"},
		{"users link three ids", []string{"users", "link", "a|1", "a|2", "a|3", "--db", db}, "PRIMARY_USER_ID and SECONDARY_USER_ID"},
		{"keys list", []string{"keys", "list", "--db", db, "extra"}, `takes no arguments`},
		{"orgs members list", []string{"orgs", "members", "list", "--org", "acme", "--db", db, "extra"}, `takes no arguments`},
		{"orgs connections two names", []string{"orgs", "connections", "enable", "--org", "acme", "a", "b", "--db", db}, "one connection NAME"},
		{"connections enable two names", []string{"connections", "enable", "--app", "x", "a", "b", "--db", db}, "one connection NAME"},
		{"orgs invitations list", []string{"orgs", "invitations", "list", "--org", "acme", "--db", db, "extra"}, "orgs invitations list --org ORG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, errOut, tt.want)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Fatalf("the data directory was created (%v)", err)
			}
		})
	}
}

// TestServeChecksFirst checks that serve refuses a taken port, a broken
// config connection and a missing master key before it creates the data
// directory, the database or a master key.
func TestServeChecksFirst(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	badConn := filepath.Join(dir, "bad-connection.yaml")
	writeFile(t, badConn, "data_dir: "+dataDir+"\nconnections:\n  - name: corp\n    strategy: oidc\n    client_id: a\n    client_secret: b\n")
	missingEnv := filepath.Join(dir, "missing-env.yaml")
	writeFile(t, missingEnv, "data_dir: "+dataDir+"\nconnections:\n  - name: gh\n    strategy: github\n    client_id: a\n    client_secret_env: GATEHOUSE_TEST_NO_SUCH_VARIABLE\n")
	dataDirOnly := filepath.Join(dir, "data-dir.yaml")
	writeFile(t, dataDirOnly, "data_dir: "+dataDir+"\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port taken, --db", []string{"serve", "--addr", busy.Addr().String(), "--db", "sqlite:" + filepath.Join(dataDir, "g.db")}, "listen"},
		{"port taken, data_dir", []string{"serve", "--addr", busy.Addr().String(), "--config", dataDirOnly}, "listen"},
		{"bad address", []string{"serve", "--addr", "127.0.0.1:http-alt-nope", "--config", dataDirOnly}, "listen"},
		{"connection without issuer", []string{"serve", "--addr", freeAddr, "--config", badConn}, "issuer"},
		{"connection secret variable unset", []string{"serve", "--addr", freeAddr, "--config", missingEnv}, "GATEHOUSE_TEST_NO_SUCH_VARIABLE is not set"},
		{"postgres without a master key", []string{"serve", "--addr", freeAddr, "--db", "postgres://127.0.0.1:1/none", "--config", dataDirOnly}, "master key"},
		{"unreadable key file", []string{"serve", "--addr", freeAddr, "--config", dataDirOnly, "--secret-key-file", filepath.Join(dir, "no-such.key")}, "secret key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, tt.want)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Fatalf("the data directory was created (%v)", err)
			}
		})
	}
}
