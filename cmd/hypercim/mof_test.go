package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// runCLI runs hypercim in-process and returns its exit status and output.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(&cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// dmtfSchema returns the path of a DMTF schema in ../shared/schemas beside
// the repository (where CI puts it).
func dmtfSchema(t *testing.T, version string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "schemas", "dmtf-cim-"+version, "cim_schema_"+version+".0.mof")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("DMTF schema %s not found beside the repository: %v", version, err)
	}
	return p
}

var countsLine = regexp.MustCompile(`^(\d+) qualifier types, (\d+) classes, (\d+) instances \(namespace root/cimv2; [0-9.]+ s\)\n$`)

func TestMOFCheckSchemas(t *testing.T) {
	for _, tc := range []struct {
		version    string
		minClasses int
	}{{"2.41", 1400}, {"2.49", 1600}} {
		code, out, errOut := runCLI("mof", "check", dmtfSchema(t, tc.version))
		if code != 0 || errOut != "" {
			t.Fatalf("schema %s: exit %d, stderr:\n%s", tc.version, code, errOut)
		}
		m := countsLine.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("schema %s: unexpected output %q", tc.version, out)
		}
		if n, _ := strconv.Atoi(m[2]); n < tc.minClasses {
			t.Errorf("schema %s: %d classes, want at least %d", tc.version, n, tc.minClasses)
		}
		if n, _ := strconv.Atoi(m[1]); n < 60 {
			t.Errorf("schema %s: %d qualifier types", tc.version, n)
		}
	}
}

// TestMOFCheckErrors runs the deliberate-mistakes file of package mof: one
// file:line:col line per marked error on stderr, nothing on stdout, exit 1.
func TestMOFCheckErrors(t *testing.T) {
	const file = "../../mof/testdata/errors.mof"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var wantLines []int
	marker := regexp.MustCompile(`// error \d+: `)
	for i, line := range strings.Split(string(src), "\n") {
		if marker.MatchString(line) {
			wantLines = append(wantLines, i+1)
		}
	}
	code, out, errOut := runCLI("mof", "check", file)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if len(lines) != len(wantLines) {
		t.Fatalf("%d error lines, want %d:\n%s", len(lines), len(wantLines), errOut)
	}
	pos := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:(\d+):\d+: \S`)
	for i, l := range lines {
		m := pos.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a file:line:col message: %q", l)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n != wantLines[i] {
			t.Errorf("error %d on line %d, want line %d: %s", i, n, wantLines[i], l)
		}
	}
}

// TestMOFCheckWrite checks --write: the MOF written back from a check
// checks again with the same counts.
func TestMOFCheckWrite(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mof")
	os.WriteFile(src, []byte(`
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
Qualifier Association : boolean = false, Scope(association), Flavor(DisableOverride, ToSubclass);
class HC_A { [Key] string Id; };
[Association] class HC_L { [Key] HC_A REF X; [Key] HC_A REF Y; };
instance of HC_A as $a { Id = "a"; };
instance of HC_A as $b { Id = "b"; };
instance of HC_L { X = $a; Y = $b; };
`), 0o644)
	written := filepath.Join(dir, "out.mof")
	code, out1, errOut := runCLI("mof", "check", "--write", written, src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, out2, errOut := runCLI("mof", "check", written)
	if code != 0 {
		t.Fatalf("written MOF: exit %d: %s", code, errOut)
	}
	counts := func(s string) string { return s[:strings.Index(s, "(")] }
	if counts(out1) != "2 qualifier types, 2 classes, 3 instances " || counts(out1) != counts(out2) {
		t.Errorf("counts %q then %q", out1, out2)
	}
	code, out3, _ := runCLI("mof", "check", "--write", "-", src)
	if code != 0 || !strings.Contains(out3, `instance of HC_L {`) || strings.Contains(out3, "qualifier types,") {
		t.Errorf("--write -: exit %d:\n%s", code, out3)
	}
}

func TestMOFUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"mof"}, 2, "", "usage: hypercim mof <subcommand>"},
		{[]string{"mof", "--help"}, 0, "compile  compile MOF files into the repository", ""},
		{[]string{"mof", "check", "--help"}, 0, "usage: hypercim mof check", ""},
		{[]string{"mof", "compile", "-h"}, 0, "-data-dir DIR", ""},
		{[]string{"mof", "check"}, 2, "", "hypercim mof check: no MOF file given"},
		{[]string{"mof", "check", "--bogus", "x.mof"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"mof", "frob"}, 2, "", `unknown subcommand "frob"`},
		{[]string{"mof", "check", "no/such/file.mof"}, 1, "", "no/such/file.mof: cannot read no/such/file.mof: no such file"},
		{[]string{"mof", "compile", "--data-dir", "/dev/null/data", "x.mof"}, 1, "", "hypercim mof compile: /dev/null/data: creating the data directory: mkdir /dev/null: not a directory"},
	}
	for _, tc := range tests {
		code, out, errOut := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", tc.args, code, out, errOut)
		}
	}
}

// TestMOFCheckBadInput: a binary file gives one line; a text file full of
// mistakes gives the first --max-errors lines and a count of the rest; an
// include outside the compiled tree is refused unread.
func TestMOFCheckBadInput(t *testing.T) {
	tmp := t.TempDir()
	garbage := make([]byte, 20<<10)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i/3) // deterministic, not text
	}
	bin := filepath.Join(tmp, "random.mof")
	os.WriteFile(bin, garbage, 0o644)
	code, out, errOut := runCLI("mof", "check", bin)
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, bin+":1:1: not a MOF text file") {
		t.Errorf("binary file: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	many := writeFile(t, tmp, "many.mof", strings.Repeat("class ;\n", 50))
	code, _, errOut = runCLI("mof", "check", many)
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if code != 1 || len(lines) != 21 || lines[20] != "... 30 more errors (--max-errors 0 prints them all)" {
		t.Errorf("50 errors: exit %d, %d lines:\n%s", code, len(lines), errOut)
	}
	if _, _, errOut = runCLI("mof", "check", "--max-errors", "0", many); strings.Count(errOut, "\n") != 50 {
		t.Errorf("--max-errors 0: %d lines", strings.Count(errOut, "\n"))
	}

	outside := writeFile(t, tmp, "outside.mof", "PRIVATE_WORD\n")
	os.Mkdir(filepath.Join(tmp, "tree"), 0o755)
	inc := writeFile(t, tmp, "tree/inc.mof", "#pragma include (\"../outside.mof\")\n#pragma include (\""+outside+"\")\n")
	code, _, errOut = runCLI("mof", "check", inc)
	if code != 1 || strings.Count(errOut, "is outside the directories included files may come from") != 2 ||
		strings.Contains(errOut, "PRIVATE_WORD") {
		t.Errorf("includes outside: exit %d:\n%s", code, errOut)
	}
	code, _, errOut = runCLI("mof", "check", "--allow-outside-includes", inc)
	if code != 1 || !strings.Contains(errOut, "outside.mof:1:1:") {
		t.Errorf("--allow-outside-includes: exit %d:\n%s", code, errOut)
	}
}
