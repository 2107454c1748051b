package mof

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to the parser: it must never panic, never
// hang, and every error it reports must point inside the source.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`class A : B { [Key] string K; uint8 A[] = {1, 0x2, 11b, 017}; };`))
	f.Add([]byte(`instance of A as $a { K = "x\x41\n" "y"; R = $b; C = '\''; };`))
	f.Add([]byte(`Qualifier Q : real64[3] = {1.5, -.5e3, NULL}, Scope(any), Flavor(Restricted);`))
	f.Add([]byte("#pragma include (\"a.mof\")\n/* unterminated"))
	f.Add([]byte(`[Association] class A { R REF X; uint32 M([In] string S, R REF T[]); };`))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("f.mof", src)
		if file == nil {
			t.Fatal("nil file")
		}
		if err == nil {
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %v", err)
		}
		lines := 1
		for _, c := range src {
			if c == '\n' {
				lines++
			}
		}
		for _, e := range list {
			if e.Pos.File != "f.mof" || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 || e.Pos.Col > utf8.RuneCount(src)+1 {
				t.Fatalf("error outside the source: %v", e)
			}
		}
	})
}

// FuzzCompile compiles arbitrary MOF after the test qualifier declarations:
// the compiler must never panic, whatever the declarations say, and every
// error it reports must carry a position.
func FuzzCompile(f *testing.F) {
	quals, err := os.ReadFile("testdata/qualifiers.mof")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`class A { [Key] string K; }; class B : A { [Override("K")] string K = "x"; };`,
		`[Association] class R { [Key] A REF L; [Key] A REF M; }; instance of R { L = $a; M = "A.K=\"1\""; };`,
		`class A { [Key] string K; [EmbeddedInstance("A")] string E; }; instance of A as $a { K = "1"; E = "instance of A { K = \"2\"; };"; };`,
		`#pragma namespace ("root/x") class A { uint8 X[] = {1, 2, NULL}; [ValueMap{"1..3", ".."}] uint16 V = 2; };`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		loader := Loader{ReadFile: func(name string) ([]byte, error) {
			switch name {
			case "q.mof":
				return quals, nil
			case "f.mof":
				return append([]byte("#pragma include (\"q.mof\")\n"), src...), nil
			}
			return nil, fs.ErrNotExist
		}}
		res, err := (&Compiler{Target: NewMemTarget(nil), Loader: loader}).CompileFiles("f.mof")
		if res == nil {
			t.Fatal("nil result")
		}
		var list ErrorList
		if err != nil && !errors.As(err, &list) {
			t.Fatalf("error is not an ErrorList: %v", err)
		}
		for _, e := range list {
			if !e.Pos.IsValid() && e.Pos.File == "" {
				t.Fatalf("error without a position: %v", e)
			}
		}
	})
}
