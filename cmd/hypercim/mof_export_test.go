package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim/repository"
)

// TestMOFExport: compile into a data directory, export, and check that
// the MOF compiles back to the same counts, into the same namespace when
// every namespace is exported.
func TestMOFExport(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	if code, _, errOut := runCLI("mof", "compile", "--quiet", "--data-dir", data, "--namespace", "root/test",
		writeFile(t, tmp, "things.mof", compileTestMOF)); code != 0 {
		t.Fatalf("compile: exit %d: %s", code, errOut)
	}
	out := filepath.Join(tmp, "export.mof")
	code, stdout, errOut := runCLI("mof", "export", "--data-dir", data, "-o", out)
	if code != 0 || errOut != "" || stdout != "2 qualifier types, 2 classes, 3 instances written to "+out+"\n" {
		t.Fatalf("export: exit %d\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(text), `#pragma namespace ("root/test")`) {
		t.Errorf("an export of every namespace does not name them:\n%s", text)
	}
	// Compiled again, the export lands in root/test whatever --namespace
	// says, and changes nothing there.
	data2 := filepath.Join(tmp, "data2")
	code, stdout, errOut = runCLI("mof", "compile", "--data-dir", data2, "--namespace", "root/elsewhere", out)
	if code != 0 || !strings.HasPrefix(stdout, "2 qualifier types, 2 classes, 3 instances compiled into "+data2) ||
		!strings.Contains(stdout, "root/test;") {
		t.Fatalf("recompile: exit %d\nstdout: %s\nstderr: %s", code, stdout, errOut)
	}
	// One namespace to stdout: no pragma, the same text otherwise.
	code, single, errOut := runCLI("mof", "export", "--data-dir", data2, "--namespace", "root/test")
	if code != 0 || errOut != "" || strings.Contains(single, "#pragma") {
		t.Fatalf("export --namespace: exit %d\nstdout: %s\nstderr: %s", code, single, errOut)
	}
	if want := strings.TrimPrefix(string(text), `#pragma namespace ("root/test")`+"\n\n"); single != want {
		t.Errorf("the second export differs from the first:\n%s\n--- then ---\n%s", want, single)
	}

	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--data-dir", data, "--namespace", "root/nope"}, 1, "namespace root/nope: CIM_ERR_INVALID_NAMESPACE"},
		{[]string{"--data-dir", filepath.Join(tmp, "empty")}, 1, "no repository here"},
		{[]string{"--data-dir", data, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--data-dir", data, "-o", filepath.Join(tmp, "no", "dir", "x.mof")}, 1, "no such file or directory"},
	} {
		code, _, errOut := runCLI(append([]string{"mof", "export"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("%v: exit %d, stderr %s", tc.args, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "empty")); err == nil {
		t.Error("export created a data directory")
	}
	if code, out, _ := runCLI("mof", "export", "--help"); code != 0 || !strings.Contains(out, "usage: hypercim mof export") {
		t.Errorf("--help: exit %d: %s", code, out)
	}
}

// TestMOFExportInUse: like compile, export refuses a data directory a
// running hypercimd holds, and says so.
func TestMOFExportInUse(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	repo, err := repository.Open(data, nil) // as a running hypercimd would
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	code, out, errOut := runCLI("mof", "export", "--data-dir", data)
	want := "the data directory " + data + " is in use by another hypercim process (is hypercimd running?)"
	if code != 1 || out != "" || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
