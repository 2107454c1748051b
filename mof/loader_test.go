package mof

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIncludeConfined: #pragma include reaches only files under the
// directory of the file compiled and the -I directories, symbolic links
// resolved, unless AllowOutsideIncludes is set; a refused include is not
// read, so nothing of it shows in the messages.
func TestIncludeConfined(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "SECRET_TOKEN_xyz: not MOF at all\n"
	write("secret.mof", secret)
	write("schema/qualifiers.mof", "Qualifier Key : boolean = false, Scope(property), Flavor(DisableOverride);\n")
	write("schema/sub/a.mof", "#pragma include (\"../qualifiers.mof\")\nclass T_A { [Key] string K; };\n")
	write("incdir/extra.mof", "class T_Extra { };\n")
	if err := os.Symlink(filepath.Join(tmp, "secret.mof"), filepath.Join(tmp, "schema", "link.mof")); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(filepath.Join(tmp, "secret.mof"))
	if err != nil {
		t.Fatal(err)
	}
	top := write("schema/top.mof", `#pragma include ("sub/a.mof")
#pragma include ("extra.mof")
#pragma include ("../secret.mof")
#pragma include ("sub/../../secret.mof")
#pragma include ("`+strings.ReplaceAll(abs, `\`, `\\`)+`")
#pragma include ("link.mof")
#pragma include ("/etc/shadow")
`)
	compile := func(allow bool) (*Result, ErrorList) {
		c := &Compiler{Target: NewMemTarget(nil), Loader: Loader{
			IncludeDirs:          []string{filepath.Join(tmp, "incdir")},
			AllowOutsideIncludes: allow,
		}}
		res, err := c.CompileFiles(top)
		var list ErrorList
		if err != nil && !errors.As(err, &list) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		return res, list
	}

	_, list := compile(false)
	if len(list) != 5 {
		t.Fatalf("%d errors, want 5 (one per include outside):\n%v", len(list), list)
	}
	for i, e := range list {
		if e.Pos.File != top || e.Pos.Line != i+3 || !strings.Contains(e.Msg, "is outside the directories included files may come from") ||
			!strings.Contains(e.Msg, "--allow-outside-includes") {
			t.Errorf("error %d: %v", i, e)
		}
		if strings.Contains(e.Error(), "SECRET_TOKEN") {
			t.Errorf("a refused include was read: %v", e)
		}
	}

	// Allowed, the outside files are read (and, not being MOF, fail).
	_, list = compile(true)
	if !strings.Contains(list.Error(), "SECRET_TOKEN") {
		t.Errorf("AllowOutsideIncludes did not follow the includes:\n%v", list)
	}

	// Without the refused lines the tree compiles: sub/a.mof reaches the
	// qualifiers one directory up, extra.mof comes from the -I directory.
	write("schema/top.mof", "#pragma include (\"sub/a.mof\")\n#pragma include (\"extra.mof\")\n")
	res, list := compile(false)
	if len(list) != 0 || res.Classes != 2 {
		t.Errorf("%d classes, errors: %v", res.Classes, list)
	}
}

// TestIncludeConfinedFS: with a ReadFile of its own (an fs.FS, as the
// embedded schemas use) names are compared as written.
func TestIncludeConfinedFS(t *testing.T) {
	files := map[string]string{
		"virt.mof":     "#pragma include (\"cim/core.mof\")\n#pragma include (\"../up.mof\")\n",
		"cim/core.mof": "class T_Core { };\n",
		"../up.mof":    "class T_Up { };\n",
	}
	l := Loader{ReadFile: func(name string) ([]byte, error) {
		if text, ok := files[filepath.ToSlash(name)]; ok {
			return []byte(text), nil
		}
		return nil, os.ErrNotExist
	}}
	_, errs := l.Load("virt.mof")
	if len(errs) != 1 || errs[0].Pos.Line != 2 || !strings.Contains(errs[0].Msg, "outside") {
		t.Errorf("errors: %v", errs)
	}
}
