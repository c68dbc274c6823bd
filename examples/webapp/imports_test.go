package webapp

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the example a stock relying party: the standard library,
// x/oauth2 and go-oidc only (go-jose in tests, for the fake provider), and
// never gatehouse's internals.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"golang.org/x/oauth2":               true,
		"github.com/coreos/go-oidc/v3/oidc": true,
		"gatehouse/examples/webapp":         true, // cmd/webapp
	}
	allowedInTests := map[string]bool{"github.com/go-jose/go-jose/v4": true}

	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			std := !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && !strings.HasPrefix(p, "gatehouse/")
			if std || allowed[p] || (strings.HasSuffix(path, "_test.go") && allowedInTests[p]) {
				continue
			}
			t.Errorf("%s imports %s; the example may use only the standard library, x/oauth2 and go-oidc", path, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
