package repository

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/mof"
)

// The crash tests run a child process (this test binary, re-executed) that
// writes to a repository, kill it with SIGKILL at a random moment, and
// check what the parent then finds: a repository that opens, passes
// Check, and holds every write the child had seen acknowledged.

const crashEnv = "HYPERCIM_REPOSITORY_CRASH_CHILD"

// TestCrashChild is the child's side; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(crashEnv)
	if mode == "" {
		t.Skip("the child process of the crash tests")
	}
	dir := os.Getenv(crashEnv + "_DIR")
	r, err := Open(dir, &Options{LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	switch mode {
	case "instances":
		// Create instances one transaction each, acknowledging each on
		// stdout once Update has returned, until killed.
		round := os.Getenv(crashEnv + "_ROUND")
		for i := 0; ; i++ {
			name := fmt.Sprintf("%s-%d", round, i)
			if _, err := r.CreateInstance(testNS, vm(name, uint64(i))); err != nil {
				fmt.Println("error:", err)
				os.Exit(2)
			}
			if i%5 == 0 {
				// Modifications and deletions are acknowledged writes too.
				if err := r.ModifyInstance(testNS, vm(name, uint64(i)+1), nil); err != nil {
					fmt.Println("error:", err)
					os.Exit(2)
				}
			}
			fmt.Println("ack", name)
		}
	case "compile":
		// Compile the DMTF schema, committing every 25 writes.
		w := r.NewBulkWriter()
		w.MaxOps = 25
		c := &mof.Compiler{Target: w, Namespace: "root/cimv2", Progress: func(phase string, done, total int) {
			if phase == "write" {
				fmt.Println("write", done, total)
			}
		}}
		if _, err := c.CompileFiles(dmtfSchemaPath(t)); err != nil {
			fmt.Println("compile:", err)
			os.Exit(2)
		}
		if err := w.Commit(); err != nil {
			fmt.Println("commit:", err)
			os.Exit(2)
		}
		fmt.Println("done")
	}
	r.Close()
	os.Exit(0)
}

// startChild starts the child in the given mode on dir, its stdout piped.
func startChild(t *testing.T, mode, dir string, extraEnv ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+mode, crashEnv+"_DIR="+dir)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	return cmd, bufio.NewScanner(out)
}

// kill sends SIGKILL and reaps the child.
func kill(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// TestCrashAcknowledgedWrites kills a writing child several times at
// random points; every acknowledged write must be there each time.
func TestCrashAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir, nil)
	must(t, err)
	compileInto(t, r, testNS, testSchema)
	must(t, r.Close())
	var acked []string
	for round := 0; round < 4; round++ {
		cmd, out := startChild(t, "instances", dir, fmt.Sprintf("%s_ROUND=r%d", crashEnv, round))
		deadline := time.Now().Add(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		lines := make(chan string)
		go func() {
			for out.Scan() {
				lines <- out.Text()
			}
			close(lines)
		}()
		n := 0
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: the child exited", round)
				}
				name, ok := strings.CutPrefix(line, "ack ")
				if !ok {
					t.Fatalf("round %d: child says %q", round, line)
				}
				acked = append(acked, name)
				n++
				if n >= 5 && time.Now().After(deadline) {
					break read
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: no progress from the child", round)
			}
		}
		kill(cmd)
		for range lines {
			// Drain what the child wrote before dying: those writes were
			// acknowledged too.
		}
		r, err := Open(dir, nil)
		must(t, err)
		if err := r.Check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, name := range acked {
			if _, err := r.GetInstance(testNS, cim.NewInstancePath("", "T_VM", cim.KeyBinding{Name: "Name", Value: cim.NewString(name)})); err != nil {
				t.Fatalf("round %d: acknowledged instance %s: %v", round, name, err)
			}
		}
		must(t, r.Close())
		t.Logf("round %d: killed after %d acknowledged writes (%d in all)", round, n, len(acked))
	}
}

func dmtfSchemaPath(t testing.TB) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "schemas", "dmtf-cim-2.49", "cim_schema_2.49.0.mof")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("DMTF schema 2.49 not found beside the repository: %v", err)
	}
	return p
}

// TestCrashCompile kills a child compiling the DMTF schema (committing
// every 25 writes) at random points, checks the repository after each
// kill, then lets a compile finish and compares every class with what the
// compiler resolves in memory.
func TestCrashCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the DMTF schema several times")
	}
	dir := t.TempDir()
	for round := 0; round < 4; round++ {
		// Kill the child once it has replayed a random share of the
		// schema into the repository.
		cmd, out := startChild(t, "compile", dir)
		share := 0.1 + 0.8*rand.Float64()
		for out.Scan() {
			var done, total int
			if _, err := fmt.Sscanf(out.Text(), "write %d %d", &done, &total); err == nil && float64(done) >= share*float64(total) {
				break
			}
		}
		kill(cmd)
		for out.Scan() {
		}
		r, err := Open(dir, nil)
		must(t, err)
		if err := r.Check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		n := 0
		if r.NamespaceExists("root/cimv2") {
			must(t, r.EnumerateClassNames("root/cimv2", "", true, func(string) error { n++; return nil }))
		}
		t.Logf("round %d: killed after %.0f%% of the writes, %d classes committed", round, 100*share, n)
		must(t, r.Close())
	}
	cmd, out := startChild(t, "compile", dir)
	var last string
	for out.Scan() {
		last = out.Text()
	}
	if err := cmd.Wait(); err != nil || last != "done" {
		t.Fatalf("the final compile: %v, %q", err, last)
	}
	r, err := Open(dir, nil)
	must(t, err)
	defer r.Close()
	must(t, r.Check())
	mem := mof.NewMemTarget(nil)
	if _, err := (&mof.Compiler{Target: mem, Namespace: "root/cimv2"}).CompileFiles(dmtfSchemaPath(t)); err != nil {
		t.Fatal(err)
	}
	compareWithMemTarget(t, r, "root/cimv2", mem)
}

// compareWithMemTarget checks that ns holds exactly the classes and
// qualifier declarations of mem, identical in every detail.
func compareWithMemTarget(t *testing.T, r *Repository, ns string, mem *mof.MemTarget) {
	t.Helper()
	want := mem.Classes(ns)
	got := 0
	must(t, r.EnumerateClasses(ns, "", true, func(c *cim.Class) error {
		got++
		m, _ := mem.Class(ns, c.Name)
		if m == nil {
			return fmt.Errorf("class %s is not in the schema", c.Name)
		}
		if !bytes.Equal(encodeClass(c), encodeClass(m)) {
			return fmt.Errorf("class %s differs:\n%s\n--- compiled in memory ---\n%s", c.Name, c, m)
		}
		return nil
	}))
	if got != len(want) {
		t.Errorf("%d classes, the schema has %d", got, len(want))
	}
	quals := mem.QualifierTypes(ns)
	nq := 0
	must(t, r.EnumerateQualifiers(ns, func(qt *cim.QualifierType) error {
		nq++
		m, _ := mem.QualifierType(ns, qt.Name)
		if m == nil || !m.Equal(qt) || m.Flavor != qt.Flavor {
			return fmt.Errorf("qualifier %s: %v, compiled in memory %v", qt.Name, qt, m)
		}
		return nil
	}))
	if nq != len(quals) {
		t.Errorf("%d qualifier declarations, the schema has %d", nq, len(quals))
	}
}
