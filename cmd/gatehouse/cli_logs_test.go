package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/audit"
)

// TestCLIAuditLog: every command that changes something is recorded (sapi,
// or fapi when it fails) with client cli, read-only commands are not, no
// password reaches the log, and logs list filters and prints it.
func TestCLIAuditLog(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		noOut    string
		wantErr  string
	}{
		{name: "create an app", args: []string{"apps", "create", "--db", db, "--name", "Web", "--client-id", "web", "--callback", "https://w.example/cb"}},
		{name: "list apps (read-only)", args: []string{"apps", "list", "--db", db}},
		{name: "create a user", stdin: "correct horse battery staple\n",
			args: []string{"users", "create", "--db", db, "--email", "ada@example.com", "--password-stdin"}},
		{name: "delete an unknown app", args: []string{"apps", "delete", "nope", "--db", db}, wantCode: 1},
		{name: "delete the app", args: []string{"apps", "delete", "web", "--db", db}},
		{name: "list", args: []string{"logs", "list", "--db", db},
			wantOut: "sapi     Success API Operation: gatehouse apps delete  client=cli (gatehouse command line)"},
		{name: "list by type", args: []string{"logs", "list", "--db", db, "--type", "fapi"},
			wantOut: "fapi     Failed API Operation: gatehouse apps delete", noOut: "sapi"},
		{name: "list by types", args: []string{"logs", "list", "--db", db, "--type", "fapi,sapi", "-n", "1"},
			wantOut: "gatehouse apps delete  client=cli", noOut: "apps create"},
		{name: "list by client", args: []string{"logs", "list", "--db", db, "--client", "someone-else"}, noOut: "sapi"},
		{name: "list by user", args: []string{"logs", "list", "--db", db, "--user", "gatehouse|nobody"}, noOut: "sapi"},
		{name: "list as json", args: []string{"logs", "list", "--db", db, "--json"}, wantOut: `"client_id":"cli"`, noOut: "correct horse"},
		{name: "list takes no arguments", args: []string{"logs", "list", "extra", "--db", db}, wantCode: 2, wantErr: "takes no arguments"},
		{name: "negative n", args: []string{"logs", "list", "--db", db, "-n", "-1"}, wantCode: 2, wantErr: "-n must not be negative"},
		{name: "unknown subcommand", args: []string{"logs", "stream", "--db", db}, wantCode: 2, wantErr: `unknown command "logs stream"`},
		{name: "tail with a bad interval", args: []string{"logs", "tail", "--db", db, "--interval", "0s"}, wantCode: 2, wantErr: "--interval must be positive"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, s.stdin, s.args...)
			if code != s.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, s.wantCode, errOut)
			}
			if !strings.Contains(out, s.wantOut) || (s.noOut != "" && strings.Contains(out, s.noOut)) || !strings.Contains(errOut, s.wantErr) {
				t.Fatalf("stdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}

	out, _, _ := runCLI(t, "", "logs", "list", "--db", db, "--json", "-n", "0")
	var got []audit.Event
	for line := range strings.Lines(out) {
		var ev audit.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, ev)
	}
	var summary []string
	for _, ev := range got {
		summary = append(summary, ev.Type+" "+ev.Description)
	}
	want := []string{"sapi gatehouse apps delete", "fapi gatehouse apps delete", "sapi gatehouse users create", "sapi gatehouse apps create"}
	if strings.Join(summary, "; ") != strings.Join(want, "; ") {
		t.Fatalf("events, newest first:\n%s\nwant:\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	if args, _ := got[0].Details["args"].([]any); len(args) != 1 || args[0] != "web" || got[0].ClientID != CLIClientID {
		t.Errorf("apps delete: %+v", got[0])
	}
	if got[1].Details["error"] == nil {
		t.Errorf("fapi without the error: %+v", got[1])
	}
}

// syncBuffer is a bytes.Buffer for a command running in a goroutine.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCLILogsTail prints the last events, then each new one as another
// command stores it, filtered, until interrupted.
func TestCLILogsTail(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	for _, name := range []string{"One", "Two", "Three"} {
		if _, errOut, code := runCLI(t, "", "apps", "create", "--db", db, "--name", name, "--callback", "https://a.example/cb"); code != 0 {
			t.Fatal(errOut)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncBuffer
	e := env{stdout: &out, stderr: &errb, lookupEnv: func(string) (string, bool) { return "", false }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, e, []string{"logs", "tail", "--db", db, "-n", "2", "--type", "sapi", "--interval", "20ms"})
	}()

	waitFor := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.String() != "" && len(lines) >= n {
				return lines
			}
			if time.Now().After(deadline) {
				t.Fatalf("tail printed %q, want %d lines; stderr %s", out.String(), n, errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	lines := waitFor(2)
	if len(lines) != 2 || !strings.Contains(lines[0], "gatehouse apps create") || !strings.Contains(lines[1], "gatehouse apps create") {
		t.Fatalf("first lines %q", lines)
	}
	// A failed command (fapi) is filtered out; the next change is printed.
	runCLI(t, "", "apps", "delete", "nope", "--db", db)
	if _, errOut, code := runCLI(t, "", "apps", "create", "--db", db, "--name", "Four", "--callback", "https://a.example/cb"); code != 0 {
		t.Fatal(errOut)
	}
	lines = waitFor(3)
	time.Sleep(100 * time.Millisecond) // nothing more comes
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "sapi") || strings.Contains(out.String(), "fapi") {
		t.Fatalf("tail printed:\n%s", out.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("tail exit %d: %s", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail did not stop when interrupted")
	}
}
