package vmm_test

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

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// guestTimeout bounds every wait on the test guest (slow on PVM hosts).
const guestTimeout = 60 * time.Second

// buildGuest builds hypervisor/testguest once per test binary, into a
// directory the managers accept as a boot directory.
var buildGuest = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "vmm-testguest-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hypercim-testguest")
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "hypervisor", "testguest")
	if b, err := exec.Command("make", "-s", "-C", src, "OUT="+out).CombinedOutput(); err != nil {
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

// env is a manager on the real kvm engine with a bbolt store, in a
// temporary data directory that survives reopening.
type env struct {
	t     testing.TB
	dir   string
	eng   *kvm.Engine
	db    *vmm.BoltStore
	m     *vmm.Manager
	extra func(*vmm.Options)
}

func newEnv(t testing.TB, extra func(*vmm.Options)) *env {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("no /dev/kvm on this host")
	}
	e := &env{t: t, dir: t.TempDir(), extra: extra}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	eng, err := kvm.New(kvm.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := vmm.OpenBoltStore(filepath.Join(e.dir, "store.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	if testing.Verbose() {
		log.SetLevel(logrus.DebugLevel)
	}
	opts := vmm.Options{Engine: eng, Store: db, DataDir: filepath.Join(e.dir, "virt"),
		BootDirs: []string{filepath.Dir(testGuest(e.t))}, Log: log, GuestTimeout: guestTimeout}
	if e.extra != nil {
		e.extra(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guestTimeout)
	defer cancel()
	m, err := vmm.Open(ctx, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.eng, e.db, e.m = eng, db, m
}

func (e *env) close() {
	if e.m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), guestTimeout)
	defer cancel()
	e.m.Close(ctx)
	e.eng.Close()
	e.db.Close()
	e.m = nil
}

// reopen closes and opens everything again, as a server restart does.
func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

// interactive is a definition booting the test guest in command mode.
func (e *env) interactive(name string, vcpus int, disks ...vmm.Disk) vmm.Definition {
	return vmm.Definition{Name: name, VCPUs: vcpus, MemoryMiB: 64, Kernel: testGuest(e.t),
		Cmdline: "testguest.interactive", Disks: disks}
}

func newDisk(mib int64) vmm.Disk { return vmm.Disk{Media: true, SizeBytes: mib << 20} }

var sync30 = vmm.CallOptions{Wait: guestTimeout}

func (e *env) define(def vmm.Definition) string {
	e.t.Helper()
	out, err := e.m.Define(context.Background(), "", def, sync30)
	if err != nil {
		e.t.Fatalf("Define: %v", err)
	}
	return out.System
}

func (e *env) state(uuid string, t vmm.Transition) {
	e.t.Helper()
	if _, err := e.m.RequestState(context.Background(), uuid, t, sync30); err != nil {
		e.t.Fatalf("RequestState(%s): %v", t, err)
	}
}

func (e *env) wantState(uuid string, want hypervisor.State) {
	e.t.Helper()
	deadline := time.Now().Add(guestTimeout)
	for {
		v, err := e.m.System(uuid)
		if err != nil {
			e.t.Fatal(err)
		}
		if v.State == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("system %s is %s, want %s", uuid, v.State, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// guest talks to the test guest's command interpreter over the console.
type guest struct {
	t    testing.TB
	con  hypervisor.Console
	mu   sync.Mutex
	buf  []byte
	wake chan struct{}
	stop context.CancelFunc
}

func (e *env) guest(uuid string) *guest {
	e.t.Helper()
	mach, err := e.eng.Lookup(context.Background(), uuid)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &guest{t: e.t, con: mach.Console(), wake: make(chan struct{}, 1), stop: cancel}
	ch := g.con.Subscribe(ctx)
	g.buf = g.con.History()
	go func() {
		for b := range ch {
			g.mu.Lock()
			g.buf = append(g.buf, b...)
			g.mu.Unlock()
			select {
			case g.wake <- struct{}{}:
			default:
			}
		}
	}()
	e.t.Cleanup(cancel)
	return g
}

// reset forgets the output so far, before an action whose output the
// test waits for.
func (g *guest) reset() {
	g.mu.Lock()
	g.buf = nil
	g.mu.Unlock()
}

// waitFor waits for a line containing s, consuming output up to it.
func (g *guest) waitFor(s string) string {
	g.t.Helper()
	deadline := time.After(guestTimeout)
	for {
		g.mu.Lock()
		if i := bytes.Index(g.buf, []byte(s)); i >= 0 {
			end := i + bytes.IndexByte(g.buf[i:], '\n')
			if end >= i {
				start := bytes.LastIndexByte(g.buf[:i], '\n') + 1
				line := string(g.buf[start:end])
				g.buf = g.buf[end+1:]
				g.mu.Unlock()
				return strings.TrimRight(line, "\r")
			}
		}
		out := string(g.buf)
		g.mu.Unlock()
		select {
		case <-g.wake:
		case <-deadline:
			g.t.Fatalf("no %q from the guest; got:\n%s", s, out)
		}
	}
}

// cmd sends a command and returns the line starting with prefix in its
// answer (the guest ends every answer with "ok" or "err ...").
func (g *guest) cmd(command, prefix string) string {
	g.t.Helper()
	g.mu.Lock()
	g.buf = nil
	g.mu.Unlock()
	if _, err := g.con.Write([]byte(command + "\n")); err != nil {
		g.t.Fatalf("typing %q: %v", command, err)
	}
	if prefix == "" {
		return g.waitFor("ok")
	}
	return g.waitFor(prefix)
}
