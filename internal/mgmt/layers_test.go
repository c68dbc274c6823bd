package mgmt_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestImportDirection enforces the direction of imports: cmd → server →
// oauth/login/mgmt → token/connector → store. The three domains of the
// server never import one another, so that a rule cannot live in two of
// them; nothing below them imports them or the server. Test imports count
// too: a test that needs another domain's rules is in the wrong package.
func TestImportDirection(t *testing.T) {
	const (
		oauth  = "gatehouse/internal/oauth"
		login  = "gatehouse/internal/login"
		mgmt   = "gatehouse/internal/mgmt"
		api    = "gatehouse/internal/mgmtapi"
		server = "gatehouse/internal/server"
		cmd    = "gatehouse/cmd/"
	)
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{oauth, []string{login, mgmt, api, server, cmd}},
		{login, []string{oauth, mgmt, api, server, cmd}},
		{mgmt, []string{oauth, login, api, server, cmd}},
		// The HTTP layer of the management API holds no rule: it calls mgmt.
		{api, []string{oauth, login, server, cmd}},
		{"gatehouse/internal/token", []string{oauth, login, mgmt, api, server, cmd}},
		{"gatehouse/internal/connector/...", []string{oauth, login, mgmt, api, server, cmd}},
		{"gatehouse/internal/store", []string{"gatehouse/internal/token", "gatehouse/internal/connector", oauth, login, mgmt, api, server, cmd}},
	}
	goTool := goCommand(t)
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-test", "-f", "{{.ImportPath}}", tt.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list %s: %v\n%s", tt.pkg, err, out)
			}
			self := strings.TrimSuffix(tt.pkg, "/...")
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				// Test variants read "pkg [pkg.test]"; the package is the first word.
				dep := strings.TrimSuffix(strings.TrimSuffix(strings.Fields(line)[0], ".test"), "_test")
				if dep == self || strings.HasPrefix(dep, self+"/") {
					continue
				}
				for _, f := range tt.forbidden {
					if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
						t.Errorf("%s depends on %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}

// goCommand finds the go command that runs the tests.
func goCommand(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("no go command in PATH or %s", p)
	}
	return p
}
