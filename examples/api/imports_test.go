package api

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the example a stock resource server: the standard
// library and go-jose only, and never gatehouse's internals.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/go-jose/go-jose/v4":     true,
		"github.com/go-jose/go-jose/v4/jwt": true,
		"gatehouse/examples/api":            true, // cmd/api
	}
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
			if std || allowed[p] {
				continue
			}
			t.Errorf("%s imports %s; the example may use only the standard library and go-jose", path, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
