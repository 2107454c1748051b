package wsman

import (
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The adapter holds no CIM semantics (docs/core.md, the architecture
// note): of hypercim's packages it uses only the data model, the core, its
// authentication and the XML reader, escaping and parallel batch encoding
// both adapters share. Query parsing,
// class hierarchies and instance filtering are the core's, so that both
// protocols behave alike.
func TestAdapterImportsOnlyTheCore(t *testing.T) {
	const module = "github.com/hypercim/hypercim/"
	allowed := map[string]bool{
		module + "cim":                    true,
		module + "wbem":                   true,
		module + "wbem/auth":              true,
		module + "wbem/internal/batchenc": true,
		module + "wbem/internal/xmlesc":   true,
		module + "wbem/internal/xmlscan":  true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, name, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module) && !allowed[p] {
				t.Errorf("%s imports %s: what it needs from there belongs in the core (package wbem)", name, p)
			}
		}
	}
}
