package virt

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/hypervisor/kvm"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/schemas"
)

const guestTimeout = 60 * time.Second

// schema compiles root/virt once per test binary.
var schema = sync.OnceValues(func() (*mof.MemTarget, error) {
	mt := mof.NewMemTarget(nil)
	c := &mof.Compiler{Target: mt, Namespace: Namespace,
		Loader: mof.Loader{ReadFile: func(n string) ([]byte, error) { return fs.ReadFile(schemas.Files(), n) }}}
	if _, err := c.CompileFiles("virt.mof"); err != nil {
		return nil, err
	}
	return mt, nil
})

var buildGuest = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "virt-testguest-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hypercim-testguest")
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "hypervisor", "testguest")
	if b, err := exec.Command("make", "-s", "-C", src, "OUT="+out).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the test guest: %v\n%s", err, b)
	}
	return out, nil
})

// fixture is a provider over a manager on the real kvm engine.
type fixture struct {
	t     testing.TB
	p     *Provider
	m     *vmm.Manager
	eng   *kvm.Engine
	guest string
}

// waitConsole waits until the system's console history holds n
// occurrences of s (the history spans every run of the machine).
func (f *fixture) waitConsole(uuid, s string, n int) {
	f.t.Helper()
	mach, err := f.eng.Lookup(context.Background(), uuid)
	if err != nil {
		f.t.Fatal(err)
	}
	deadline := time.Now().Add(guestTimeout)
	for strings.Count(string(mach.Console().History()), s) < n {
		if time.Now().After(deadline) {
			f.t.Fatalf("console of %s has fewer than %d %q:\n%s", uuid, n, s, mach.Console().History())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with changed manager options.
func newFixtureWith(t testing.TB, extra func(*vmm.Options)) *fixture {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("no /dev/kvm")
	}
	mt, err := schema()
	if err != nil {
		t.Fatal(err)
	}
	guest, err := buildGuest()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	eng, err := kvm.New(kvm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := vmm.OpenBoltStore(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	opts := vmm.Options{Engine: eng, Store: st, DataDir: filepath.Join(dir, "virt"),
		BootDirs: []string{filepath.Dir(guest)}, Log: log, GuestTimeout: guestTimeout}
	if extra != nil {
		extra(&opts)
	}
	m, err := vmm.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guestTimeout)
		defer cancel()
		m.Close(ctx)
		eng.Close()
		st.Close()
	})
	p, err := NewProvider(Options{Manager: m, Class: func(name string) (*cim.Class, error) { return mt.Class(Namespace, name) },
		HostName: "testhost", Version: "test", DefaultKernel: guest, DefaultCmdline: "testguest.interactive", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, p: p, m: m, eng: eng, guest: guest}
}

func (f *fixture) all(class string) []*cim.Instance {
	f.t.Helper()
	var out []*cim.Instance
	if err := f.p.enumerate(class, func(i *cim.Instance) error { out = append(out, i); return nil }); err != nil {
		f.t.Fatalf("Enumerate(%s): %v", class, err)
	}
	return out
}

func (f *fixture) invoke(path *cim.ObjectPath, method string, in ...cim.ParamValue) (uint32, params) {
	f.t.Helper()
	rv, out, err := f.p.invoke(context.Background(), path, method, in)
	if err != nil {
		f.t.Fatalf("%s: %v", method, err)
	}
	return rv.Uint32(), params(out)
}

// template fetches a pool's default template.
func (f *fixture) template(pool string) *cim.Instance {
	f.t.Helper()
	pd := poolByKey(pool)
	i, err := f.p.templateInstance(pd, "default")
	if err != nil {
		f.t.Fatal(err)
	}
	return i.Clone()
}

func emb(is ...*cim.Instance) cim.Value { return cim.NewEmbeddedInstanceArray(is) }

func pv(name string, v cim.Value) cim.ParamValue { return cim.ParamValue{Name: name, Value: v} }

func errorMessage(out params) string {
	v, ok := out.get("Error")
	if !ok || v.Instance() == nil {
		return "(no CIM_Error)"
	}
	return v.Instance().Get("Message").Str()
}

func interval(d time.Duration) cim.Value {
	v, err := cim.NewIntervalValue(d)
	if err != nil {
		panic(err)
	}
	return v
}
