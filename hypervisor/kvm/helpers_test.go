package kvm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// guestTimeout bounds every wait on the test guest. On hosts that emulate
// a non-paravirtual guest (PVM) the guest runs about a thousand times
// slower than natively and the two CI cores are shared, so it is generous.
const guestTimeout = 60 * time.Second

// guestDir is where buildGuest puts the test guest; TestMain removes it.
var guestDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "hypercim-testguest-") })

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := guestDir(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// buildGuest builds hypervisor/testguest once per test binary.
var buildGuest = sync.OnceValues(func() (string, error) {
	dir, err := guestDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hypercim-testguest")
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "testguest")
	cmd := exec.Command("make", "-s", "-C", src, "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the test guest: %v\n%s", err, b)
	}
	return out, nil
})

func testGuest(t testing.TB) string {
	t.Helper()
	p, err := buildGuest()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestEngine opens /dev/kvm, skipping where there is none.
func newTestEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if _, err := os.Stat(DefaultDevice); err != nil {
		t.Skipf("no %s on this host", DefaultDevice)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// uuidFor makes a machine UUID from a test-local number.
func uuidFor(n int) string { return fmt.Sprintf("6a7c5e2e-0000-4000-8000-%012x", n) }

// guestConfig is a test-guest machine; cmdline "" runs the default
// report-and-power-off program.
func guestConfig(t testing.TB, n, vcpus int, cmdline string, disks ...string) hypervisor.Config {
	cfg := hypervisor.Config{
		Name: fmt.Sprintf("%s-%d", t.Name(), n), UUID: uuidFor(n), VCPUs: vcpus, MemoryBytes: 64 << 20,
		Boot: hypervisor.BootSource{Kernel: testGuest(t), Cmdline: cmdline},
	}
	for i, d := range disks {
		cfg.Disks = append(cfg.Disks, hypervisor.DiskConfig{ID: fmt.Sprintf("disk%d", i), Path: d})
	}
	return cfg
}

// console collects a machine's serial output and lets a test wait for
// lines and talk to the test guest's command interpreter.
type console struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	pos  int // start of the first line not yet consumed
}

func newConsole() *console {
	c := &console{}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	c.cond.Broadcast()
	c.mu.Unlock()
	return len(p), nil
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}

// nextLine returns the next complete line, waiting until deadline.
func (c *console) nextLine(deadline time.Time) (string, bool) {
	stop := time.AfterFunc(time.Until(deadline), func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if i := bytes.IndexByte(c.buf[c.pos:], '\n'); i >= 0 {
			line := string(c.buf[c.pos : c.pos+i])
			c.pos += i + 1
			return strings.TrimRight(line, "\r"), true
		}
		if time.Now().After(deadline) {
			return "", false
		}
		c.cond.Wait()
	}
}

// waitLine consumes lines until one has prefix and returns it.
func (c *console) waitLine(t testing.TB, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(guestTimeout)
	for {
		line, ok := c.nextLine(deadline)
		if !ok {
			t.Fatalf("no line starting %q within %v; console:\n%s", prefix, guestTimeout, c)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
}

// command sends one command to the interactive test guest and returns its
// output lines; it fails the test unless the guest answers "ok".
func (c *console) command(t testing.TB, m hypervisor.Machine, cmd string) []string {
	t.Helper()
	out, status := c.try(t, m, cmd)
	if status != "ok" {
		t.Fatalf("guest command %q: %s (output %q)", cmd, status, out)
	}
	return out
}

// try sends a command and returns its output and status line.
func (c *console) try(t testing.TB, m hypervisor.Machine, cmd string) ([]string, string) {
	t.Helper()
	if _, err := m.Console().Write([]byte(cmd + "\n")); err != nil {
		t.Fatalf("typing %q: %v", cmd, err)
	}
	deadline := time.Now().Add(guestTimeout)
	var out []string
	for {
		line, ok := c.nextLine(deadline)
		if !ok {
			t.Fatalf("guest did not answer %q within %v; console:\n%s", cmd, guestTimeout, c)
		}
		if line == "ok" || strings.HasPrefix(line, "err") {
			return out, line
		}
		out = append(out, line)
	}
}

// field extracts "name=value" from a line of test guest output.
func field(t testing.TB, line, name string) string {
	t.Helper()
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s= in %q", name, line)
	return ""
}

// events records a machine's events for waiting on them.
type events struct {
	mu   sync.Mutex
	cond *sync.Cond
	list []hypervisor.Event
	pos  int
}

func watch(t testing.TB, m hypervisor.Machine) *events {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ev := &events{}
	ev.cond = sync.NewCond(&ev.mu)
	ch := m.Events(ctx)
	go func() {
		for e := range ch {
			ev.mu.Lock()
			ev.list = append(ev.list, e)
			ev.cond.Broadcast()
			ev.mu.Unlock()
		}
	}()
	return ev
}

// wait consumes events until one of kind arrives and returns it.
func (ev *events) wait(t testing.TB, kind hypervisor.EventKind) hypervisor.Event {
	t.Helper()
	deadline := time.Now().Add(guestTimeout)
	stop := time.AfterFunc(guestTimeout, func() {
		ev.mu.Lock()
		ev.cond.Broadcast()
		ev.mu.Unlock()
	})
	defer stop.Stop()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for {
		for ; ev.pos < len(ev.list); ev.pos++ {
			if e := ev.list[ev.pos]; e.Kind == kind {
				ev.pos++
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event within %v; got %v", kind, guestTimeout, ev.list)
		}
		ev.cond.Wait()
	}
}

// all returns every event so far.
func (ev *events) all() []hypervisor.Event {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]hypervisor.Event(nil), ev.list...)
}

// makeVMDK writes data at the start of a raw disk of sizeMiB and converts
// it with qemu-img into a monolithicSparse VMDK, as a user's image would
// be made.
func makeVMDK(t testing.TB, sizeMiB int, data []byte) string {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed (scripts/install-deps.sh installs qemu-utils)")
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "seed.raw")
	f, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(sizeMiB) << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "disk.vmdk")
	if b, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, b)
	}
	return out
}

// readVMDK returns a VMDK's content as qemu-img sees it.
func readVMDK(t testing.TB, path string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "back.raw")
	if b, err := exec.Command("qemu-img", "convert", "-O", "raw", path, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert -O raw: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startGuest defines and starts an interactive test guest and waits for
// its prompt.
func startGuest(t testing.TB, e *Engine, n, vcpus int, disks ...string) (hypervisor.Machine, *console, *events) {
	t.Helper()
	cfg := guestConfig(t, n, vcpus, "testguest.interactive", disks...)
	con := newConsole()
	cfg.Console = con
	ctx := context.Background()
	m, err := e.Define(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := watch(t, m)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m.State() != hypervisor.StateStopped {
			m.Stop(ctx)
		}
	})
	con.waitLine(t, "testguest: ready")
	return m, con, ev
}
