package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
)

const compileTestMOF = `
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride);
Qualifier Association : boolean = false, Scope(association), Flavor(DisableOverride);
class T_Thing { [Key] string Id; uint32 Size = 1; };
[Association] class T_Link { [Key] T_Thing REF A; [Key] T_Thing REF B; };
instance of T_Thing as $a { Id = "a"; };
instance of T_Thing as $b { Id = "b"; Size = 2; };
instance of T_Link { A = $a; B = $b; };
`

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// openChecked opens the repository of dir and checks it.
func openChecked(t *testing.T, dir string) *repository.Repository {
	t.Helper()
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	if err := repo.Check(); err != nil {
		t.Fatal(err)
	}
	return repo
}

var compiledLine = regexp.MustCompile(`^2 qualifier types, 2 classes, 3 instances compiled into (.+) \(namespace root/test; [0-9.]+ s\)\n$`)

func TestMOFCompile(t *testing.T) {
	tmp := t.TempDir()
	file := writeFile(t, tmp, "things.mof", compileTestMOF)
	data := filepath.Join(tmp, "data")
	for run := 0; run < 2; run++ { // the second run is a no-op
		code, out, errOut := runCLI("mof", "compile", "--data-dir", data, "--namespace", "root/test", file)
		if code != 0 || errOut != "" || !compiledLine.MatchString(out) {
			t.Fatalf("run %d: exit %d\nstdout: %s\nstderr: %s", run, code, out, errOut)
		}
	}
	code, out, errOut := runCLI("mof", "compile", "--check", "--data-dir", data, "--namespace", "root/test", file)
	if code != 0 || errOut != "" || !strings.HasSuffix(out, "repository check: no problem found in "+data+"\n") {
		t.Fatalf("--check: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	repo := openChecked(t, data)
	inst, err := repo.GetInstance("root/test", cim.NewInstancePath("", "T_Thing", cim.KeyBinding{Name: "Id", Value: cim.NewString("b")}))
	if err != nil || inst.Get("Size").Uint32() != 2 {
		t.Fatalf("instance b: %v %v", inst, err)
	}
	n := 0
	repo.Associators("root/test", inst.Path, repository.AssociatorFilter{}, func(*cim.ObjectPath, *cim.Instance) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d associators of b", n)
	}
	repo.Close()

	// A change the repository refuses (a key removed from a class with
	// instances) fails clearly and writes nothing.
	changed := strings.Replace(compileTestMOF, "uint32 Size = 1;", "uint32 Size = 1; string Color;", 1)
	changed = strings.Replace(changed, "[Key] string Id;", "string Id; [Key] string Other;", 1)
	code, _, errOut = runCLI("mof", "compile", "--data-dir", data, "--namespace", "root/test", writeFile(t, tmp, "changed.mof", changed))
	if code != 1 || !strings.Contains(errOut, "changed.mof:") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	repo = openChecked(t, data)
	c, err := repo.GetClass("root/test", "T_Thing")
	if err != nil || c.Property("Color") != nil {
		t.Errorf("a refused compile left changes: %v", c)
	}
}

func TestMOFCompileInUse(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	repo, err := repository.Open(data, nil) // as a running hypercimd would
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	start := time.Now()
	code, out, errOut := runCLI("mof", "compile", "--data-dir", data, writeFile(t, tmp, "x.mof", compileTestMOF))
	want := "the data directory " + data + " is in use by another hypercim process (is hypercimd running?)"
	if code != 1 || out != "" || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

// The kill test runs the CLI as a real child process: this test binary,
// re-executed, running hypercim's main with the arguments after "--".
const cliChildEnv = "HYPERCIM_CLI_CHILD"

func TestCLIChild(t *testing.T) {
	if os.Getenv(cliChildEnv) == "" {
		t.Skip("the child process of TestMOFCompileKilled")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(&cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, args))
}

func cliCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestCLIChild$", "-test.count=1", "--"}, args...)...)
	cmd.Env = append(os.Environ(), cliChildEnv+"=1")
	return cmd
}

// TestMOFCompileKilled: `hypercim mof compile` of the DMTF schema, killed
// with SIGKILL at random points several times and then rerun, succeeds and
// leaves a repository that passes Check and holds the whole schema.
func TestMOFCompileKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the DMTF schema several times")
	}
	schema := dmtfSchema(t, "2.49")
	// Time one whole run, to kill the others at random points of theirs.
	start := time.Now()
	if out, err := cliCommand("mof", "compile", "--quiet", "--data-dir", filepath.Join(t.TempDir(), "timing"), schema).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	whole := time.Since(start)
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"mof", "compile", "--data-dir", data, "--namespace", "root/cimv2", schema}
	for round := 0; round < 5; round++ {
		cmd := cliCommand(args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration((0.1 + 0.85*rand.Float64()) * float64(whole)))
		cmd.Process.Signal(syscall.SIGKILL)
		state, _ := cmd.Process.Wait()
		repo := openChecked(t, data)
		n := 0
		if repo.NamespaceExists("root/cimv2") {
			repo.EnumerateClassNames("root/cimv2", "", true, func(string) error { n++; return nil })
		}
		repo.Close()
		t.Logf("round %d: %v, %d classes in the repository", round, state, n)
	}
	cmd := cliCommand(args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for s := bufio.NewScanner(stdout); s.Scan(); {
		lines = append(lines, s.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the final compile: %v\n%s\n%s", err, strings.Join(lines, "\n"), stderr.String())
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "70 qualifier types, 1631 classes, 0 instances compiled into") {
		t.Errorf("output: %q", lines)
	}
	repo := openChecked(t, data)
	n := 0
	if err := repo.EnumerateClassNames("root/cimv2", "", true, func(string) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1631 {
		t.Errorf("%d classes, want 1631", n)
	}
	c, err := repo.GetClass("root/cimv2", "CIM_ComputerSystem")
	if err != nil || c.Property("Name") == nil {
		t.Fatal(fmt.Sprint(c, err))
	}
}
