package libvirt_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/libvirt"
	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
	"github.com/hypercim/hypercim/hypervisor/linuxguest"
	"github.com/hypercim/hypercim/vmdk"
)

// env is what the live tests share: a libvirtd, an engine on it, and the
// stock Debian kernel with hypercim's initramfs in a directory QEMU (which
// libvirt runs as an unprivileged user) can read.
type env struct {
	t      *testing.T
	socket string // libvirtd's
	proxy  *proxy // the engine's way to libvirtd, which the test can cut
	// instance isolates the test's machines from those of concurrent tests
	// and runs sharing the libvirtd.
	instance string
	eng      *libvirt.Engine
	dir      string
	kernel   string
	initrd   string
}

func setup(t *testing.T) *env {
	begin := time.Now()
	socket := libvirtdtest.Start(t)
	t.Logf("libvirtd ready after %v", time.Since(begin).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g := libvirtdtest.NewGuest(t)
	e := &env{t: t, socket: socket, dir: g.Dir, kernel: g.Kernel, initrd: g.Initrd, instance: "test-" + uuid()[:8]}
	e.proxy = newProxy(t, socket)
	var err error
	e.eng, err = libvirt.Open(ctx, libvirt.Options{Socket: e.proxy.path, Instance: e.instance})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.eng.Close() })
	if got := e.eng.DomainType(); got != "qemu" && !(got == "kvm" && hypervisor.HardwareKVM()) {
		t.Errorf("domain type %s on a host where hardware KVM is %v", got, hypervisor.HardwareKVM())
	}
	return e
}

// image writes a raw disk of size bytes whose first MiB is random, converts
// it with qemu-img to format (with -o options), and returns the image path
// and the MD5 the guest reports for it.
func (e *env) image(name string, size int, format string, options ...string) (string, string) {
	t := e.t
	data := make([]byte, size)
	rand.Read(data[:1<<20])
	raw := filepath.Join(e.dir, name+".raw")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	path := raw
	if format != "raw" {
		path = filepath.Join(e.dir, name+"."+format)
		args := append([]string{"convert", "-q", "-f", "raw", "-O", format}, options...)
		if out, err := exec.Command("qemu-img", append(args, raw, path)...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img convert: %v\n%s", err, out)
		}
	}
	sum := md5.Sum(data[:linuxguest.DefaultSumSectors*512])
	return path, hex.EncodeToString(sum[:])
}

// lockedBuffer is a Config.Console sink the test reads while it is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// define defines a one-vCPU guest serving commands on its console, and
// removes it when the test ends.
func (e *env) define(ctx context.Context, disks []hypervisor.DiskConfig, nics []hypervisor.NICConfig, sink io.Writer) hypervisor.Machine {
	t := e.t
	cfg := hypervisor.Config{
		Name: "hctest-" + uuid()[:8], UUID: uuid(), VCPUs: 1, MemoryBytes: 128 << 20,
		Boot:  hypervisor.BootSource{Kernel: e.kernel, Initrd: e.initrd, Cmdline: linuxguest.Cmdline(linuxguest.Boot{Mode: linuxguest.ModeServe})},
		Disks: disks, NICs: nics, Console: sink,
	}
	return defineForTest(ctx, t, e.eng, cfg)
}

// defineForTest defines cfg on eng and stops and removes the machine when
// the test ends.
func defineForTest(ctx context.Context, t *testing.T, eng hypervisor.Engine, cfg hypervisor.Config) hypervisor.Machine {
	m, err := eng.Define(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if m.State() != hypervisor.StateStopped && m.State() != hypervisor.StateCrashed {
			m.Stop(ctx)
		}
		if err := m.Undefine(ctx); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return m
}

// waitTimeout bounds each wait for the guest or for an event: generous,
// because CI machines are shared and the guest runs under emulation.
const waitTimeout = 2 * time.Minute

// nextEvent reads the next event.
func nextEvent(t *testing.T, events <-chan hypervisor.Event) hypervisor.Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatalf("no event within %v", waitTimeout)
	}
	return hypervisor.Event{}
}

// expectEvent reads the next event and checks its kind and state.
func expectEvent(t *testing.T, events <-chan hypervisor.Event, kind hypervisor.EventKind, st hypervisor.State) hypervisor.Event {
	t.Helper()
	ev := nextEvent(t, events)
	if ev.Kind != kind || ev.State != st {
		t.Fatalf("event %v %v (%q), want %v %v", ev.Kind, ev.State, ev.Reason, kind, st)
	}
	return ev
}

func expectState(t *testing.T, m hypervisor.Machine, st hypervisor.State) {
	t.Helper()
	if got := m.State(); got != st {
		t.Fatalf("state %v, want %v", got, st)
	}
}

func expectDisks(t *testing.T, lines []string, want ...linuxguest.Disk) {
	t.Helper()
	if got := linuxguest.ParseDisks(lines); !slices.Equal(got, want) {
		t.Fatalf("guest disks %+v, want %+v (lines %q)", got, want, lines)
	}
}

func uptime(t *testing.T, ctx context.Context, tr *linuxguest.Transcript, c io.Writer) float64 {
	t.Helper()
	lines, err := tr.Command(ctx, c, linuxguest.CommandUptime)
	if err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(lines[0], linuxguest.Prefix+"uptime "), 64)
	if err != nil {
		t.Fatalf("uptime line %q: %v", lines[0], err)
	}
	return f
}

// TestSparseVMDKGuest boots Debian's kernel from a sparse VMDK machine and
// drives its lifecycle: console, pause/resume, stats, hot-plug, ACPI
// shutdown, reconfigure, hard stop and undefine.
func TestSparseVMDKGuest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	disk0, sum0 := e.image("disk0", 64<<20, "vmdk")
	var sink lockedBuffer
	m := e.define(ctx, []hypervisor.DiskConfig{{ID: "disk0", Path: disk0}}, []hypervisor.NICConfig{{ID: "nic0"}}, &sink)

	cfg := m.Config()
	if cfg.Disks[0].Format != "vmdk" || cfg.Disks[0].Path != disk0 || cfg.NICs[0].MAC == "" {
		t.Errorf("defined config %+v", cfg)
	}
	if _, err := e.eng.Define(ctx, cfg); !errors.Is(err, hypervisor.ErrExists) {
		t.Errorf("defining the same UUID again: %v", err)
	}
	huge := cfg
	huge.Name, huge.UUID, huge.MemoryBytes = cfg.Name+"-huge", uuid(), 4000<<30
	if _, err := e.eng.Define(ctx, huge); !errors.Is(err, hypervisor.ErrInvalidConfig) || !strings.Contains(err.Error(), "Overcommit") {
		t.Errorf("defining a machine with more memory than the host: %v", err)
	}
	if found, err := e.eng.Lookup(ctx, m.UUID()); err != nil || found != m {
		t.Errorf("Lookup = %v, %v", found, err)
	}
	all, err := e.eng.Machines(ctx)
	if err != nil || !slices.Contains(all, m) {
		t.Errorf("Machines = %v, %v", all, err)
	}
	other, err := libvirt.Open(ctx, libvirt.Options{Socket: e.socket, Instance: e.instance + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Lookup(ctx, m.UUID()); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("another instance looked the machine up: %v", err)
	}
	if all, err := other.Machines(ctx); err != nil || slices.ContainsFunc(all, func(x hypervisor.Machine) bool { return x.UUID() == m.UUID() }) {
		t.Errorf("another instance lists %v, %v", all, err)
	}
	other.Close()
	expectState(t, m, hypervisor.StateStopped)
	var se *hypervisor.StateError
	if err := m.Pause(ctx); !errors.As(err, &se) || se.State != hypervisor.StateStopped {
		t.Errorf("pausing a stopped machine: %v", err)
	}

	tr := linuxguest.Follow(ctx, m.Console())
	events := m.Events(ctx)
	start := time.Now()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	lines, err := tr.Wait(ctx, linuxguest.MarkerReady)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted to the initramfs marker in %v", time.Since(start).Round(time.Millisecond))
	expectDisks(t, lines, linuxguest.Disk{Name: "vda", Sectors: 131072, MD5: sum0})
	if !strings.Contains(string(m.Console().History()), "Linux version") {
		t.Error("console history lacks the kernel banner")
	}
	if !strings.Contains(sink.String(), linuxguest.MarkerReady) {
		t.Errorf("Config.Console received %q", sink.String())
	}
	if _, err := tr.Command(ctx, m.Console(), "echo hello from the host"); err != nil {
		t.Fatal(err)
	}

	if err := m.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StatePaused)
	expectState(t, m, hypervisor.StatePaused)
	if err := m.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	expectState(t, m, hypervisor.StateRunning)
	uptime(t, ctx, tr, m.Console())

	st, err := m.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != hypervisor.StateRunning || st.VCPUs != 1 || st.MemoryBytes != 128<<20 || st.VCPUTime <= 0 || st.Uptime <= 0 ||
		len(st.Disks) != 1 || st.Disks[0].ID != "disk0" || st.Disks[0].ReadBytes < 1<<20 || len(st.NICs) != 1 || st.NICs[0].ID != "nic0" {
		t.Errorf("stats %+v", st)
	}

	// QEMU's vmdk driver blocks saving; the refusal says what to do.
	err = m.Snapshot(ctx, filepath.Join(e.dir, "never"), hypervisor.SnapshotOptions{})
	if !errors.Is(err, hypervisor.ErrNotSupported) {
		t.Errorf("snapshot with a sparse VMDK: %v, want ErrNotSupported", err)
	}
	for _, want := range []string{"disk0", "monolithicSparse VMDK", "Shut the machine down", "hypercim vmdk convert --subformat monolithicFlat", "kvm backend"} {
		if err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not mention %q: %v", want, err)
		}
	}
	if _, serr := os.Stat(filepath.Join(e.dir, "never")); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("a refused snapshot left its directory: %v", serr)
	}

	// Hot-plug a raw disk and a NIC, see the disk in the guest, unplug both.
	disk1, sum1 := e.image("disk1", 16<<20, "raw")
	if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: "disk1", Path: disk1}); err != nil {
		t.Fatal(err)
	}
	if got := m.Config().Disks; len(got) != 2 || got[1].ID != "disk1" || got[1].Format != "raw" {
		t.Errorf("config after attach: %+v", got)
	}
	lines, err = tr.Command(ctx, m.Console(), linuxguest.CommandWaitDisk+" vdb")
	if err != nil {
		t.Fatal(err)
	}
	expectDisks(t, lines, linuxguest.Disk{Name: "vdb", Sectors: 32768, MD5: sum1})
	if err := m.AttachNIC(ctx, hypervisor.NICConfig{ID: "nic1", MAC: "52:54:00:aa:bb:cc"}); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Stats(ctx); err != nil || len(st.Disks) != 2 || len(st.NICs) != 2 {
		t.Errorf("stats after hot-plug: %+v, %v", st, err)
	}
	if err := m.DetachDisk(ctx, "disk1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Command(ctx, m.Console(), linuxguest.CommandGoneDisk+" vdb"); err != nil {
		t.Fatal(err)
	}
	if err := m.DetachNIC(ctx, "nic1"); err != nil {
		t.Fatal(err)
	}
	if got := m.Config(); len(got.Disks) != 1 || len(got.NICs) != 1 {
		t.Errorf("config after detach: %+v", got)
	}
	if err := m.DetachDisk(ctx, "nope"); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("detaching an unknown disk: %v", err)
	}

	// A graceful shutdown: ACPI power button, acpid in the guest powers off.
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for ev := nextEvent(t, events); ev.Kind != hypervisor.EventGuestShutdown || ev.State != hypervisor.StateStopped; ev = nextEvent(t, events) {
		if ev.State != hypervisor.StateShuttingDown {
			t.Fatalf("unexpected event while shutting down: %+v", ev)
		}
	}
	if _, err := tr.Wait(ctx, linuxguest.MarkerPowerButton); err != nil {
		t.Error(err)
	}
	expectState(t, m, hypervisor.StateStopped)
	if _, err := m.Console().Write([]byte("echo x\n")); !errors.As(err, &se) {
		t.Errorf("console input to a stopped machine: %v", err)
	}

	// Reconfigure while stopped, then boot again and pull the plug.
	cfg = m.Config()
	cfg.Name += "-renamed"
	cfg.VCPUs = 2
	if err := m.Reconfigure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got := m.Config(); got.Name != cfg.Name || got.VCPUs != 2 || got.NICs[0].MAC != cfg.NICs[0].MAC {
		t.Errorf("config after reconfigure: %+v", got)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	if _, err := tr.Wait(ctx, linuxguest.MarkerReady); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Stats(ctx); err != nil || st.VCPUs != 2 {
		t.Errorf("stats after reconfigure: %+v, %v", st, err)
	}
	if err := m.Reconfigure(ctx, cfg); !errors.As(err, &se) {
		t.Errorf("reconfiguring a running machine: %v", err)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateStopped); ev.Reason != "stopped by request" {
		t.Errorf("stop reason %q", ev.Reason)
	}
	if err := m.Undefine(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Lookup(ctx, m.UUID()); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("Lookup after undefine: %v", err)
	}
	if err := m.Start(ctx); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("starting an undefined machine: %v", err)
	}
}

// TestFlatVMDKSnapshots boots from a flat VMDK, snapshots it with and
// without stopping, restores it, resets it, crashes it, and takes it over
// from a second engine as a restarted hypercim would.
func TestFlatVMDKSnapshots(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	disk0, sum0 := e.image("flat", 32<<20, "vmdk", "-o", "subformat=monolithicFlat")
	m := e.define(ctx, []hypervisor.DiskConfig{{ID: "disk0", Path: disk0}}, nil, nil)
	if got := m.Config().Disks[0]; got.Path != disk0 || got.Format != "vmdk" {
		t.Errorf("flat disk config %+v", got)
	}
	tr := linuxguest.Follow(ctx, m.Console())
	events := m.Events(ctx)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	lines, err := tr.Wait(ctx, linuxguest.MarkerReady)
	if err != nil {
		t.Fatal(err)
	}
	expectDisks(t, lines, linuxguest.Disk{Name: "vda", Sectors: 65536, MD5: sum0})
	before := uptime(t, ctx, tr, m.Console())

	// Snapshot and keep running: the guest continues, no reboot.
	snap1 := filepath.Join(e.dir, "snap1")
	start := time.Now()
	if err := m.Snapshot(ctx, snap1, hypervisor.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot of a running 128 MiB guest in %v", time.Since(start).Round(time.Millisecond))
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StatePaused)
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	expectState(t, m, hypervisor.StateRunning)
	if after := uptime(t, ctx, tr, m.Console()); after < before {
		t.Errorf("guest uptime went from %v to %v across the snapshot", before, after)
	}
	if err := m.Snapshot(ctx, snap1, hypervisor.SnapshotOptions{}); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("snapshot into a used directory: %v", err)
	}

	// Save to disk (stop), then restore.
	snap2 := filepath.Join(e.dir, "snap2")
	if err := m.Snapshot(ctx, snap2, hypervisor.SnapshotOptions{Stop: true}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StatePaused)
	if ev := expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateStopped); !strings.Contains(ev.Reason, "snapshot") {
		t.Errorf("save reason %q", ev.Reason)
	}
	expectState(t, m, hypervisor.StateStopped)
	if err := m.Restore(ctx, filepath.Join(e.dir, "missing"), hypervisor.RestoreOptions{}); !errors.Is(err, hypervisor.ErrSnapshot) {
		t.Errorf("restoring a missing snapshot: %v", err)
	}
	if err := m.Restore(ctx, snap2, hypervisor.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	if after := uptime(t, ctx, tr, m.Console()); after < before {
		t.Errorf("guest uptime went from %v to %v across save and restore", before, after)
	}
	if n := tr.Count(linuxguest.MarkerReady); n != 1 {
		t.Errorf("the guest booted %d times; snapshots must not reboot it", n)
	}
	if st, err := m.Stats(ctx); err != nil || st.Uptime < time.Duration(before*float64(time.Second))-time.Second {
		t.Errorf("stats uptime after restore: %+v, %v (guest said %vs)", st, err, before)
	}
	var se *hypervisor.StateError
	if err := m.Restore(ctx, snap2, hypervisor.RestoreOptions{}); !errors.As(err, &se) {
		t.Errorf("restoring into a running machine: %v", err)
	}

	// A second engine, as after a restart of hypercim, finds the running
	// machine and takes its console over.
	eng2, err := libvirt.Open(ctx, libvirt.Options{Socket: e.socket, Instance: e.instance})
	if err != nil {
		t.Fatal(err)
	}
	defer eng2.Close()
	m2, err := eng2.Lookup(ctx, m.UUID())
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := m.Config(), m2.Config()
	c1.Console, c2.Console = nil, nil
	if fmt.Sprint(c1) != fmt.Sprint(c2) || m2.State() != hypervisor.StateRunning {
		t.Errorf("second engine sees %+v (%v), want %+v", c2, m2.State(), c1)
	}
	tr2 := linuxguest.Follow(ctx, m2.Console())
	if _, err := tr2.Command(ctx, m2.Console(), "echo second engine"); err != nil {
		t.Fatal(err)
	}
	if st, err := m2.Stats(ctx); err != nil || st.Uptime < time.Duration(before*float64(time.Second))-time.Second {
		t.Errorf("second engine stats %+v, %v", st, err)
	}

	// The first engine loses libvirtd for a while, as when libvirtd
	// restarts; the machine is paused meanwhile. Once back, the engine
	// reports the change it missed and takes the console back.
	e.proxy.cut()
	if err := m2.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	e.proxy.heal()
	if ev := expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StatePaused); !strings.Contains(ev.Reason, "reconnecting") {
		t.Errorf("event after reconnecting: %q", ev.Reason)
	}
	if err := m.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	if _, err := tr.Command(ctx, m.Console(), "echo first engine again"); err != nil {
		t.Fatal(err)
	}
	eng2.Close()
	if _, err := tr.Command(ctx, m.Console(), "echo first engine after the second closed"); err != nil {
		t.Fatal(err)
	}

	// Reset reboots the guest.
	if err := m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := expectEvent(t, events, hypervisor.EventGuestReset, hypervisor.StateRunning); ev.Reason != "reset by request" {
		t.Errorf("reset reason %q", ev.Reason)
	}
	if _, err := tr.Wait(ctx, linuxguest.MarkerReady); err != nil {
		t.Fatal(err)
	}

	// A flat VMDK hot-plugged is opened as raw on its extent, yet reported
	// as the VMDK the caller named.
	data, sumData := e.image("data", 8<<20, "vmdk", "-o", "subformat=monolithicFlat")
	if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: "data.1", Path: data}); err != nil {
		t.Fatal(err)
	}
	if got := m.Config().Disks; len(got) != 2 || got[1] != (hypervisor.DiskConfig{ID: "data.1", Path: data, Format: "vmdk"}) {
		t.Errorf("config after attaching a flat VMDK: %+v", got)
	}
	lines, err = tr.Command(ctx, m.Console(), linuxguest.CommandWaitDisk+" vdb")
	if err != nil {
		t.Fatal(err)
	}
	expectDisks(t, lines, linuxguest.Disk{Name: "vdb", Sectors: 16384, MD5: sumData})
	if err := m.DetachDisk(ctx, "data.1"); err != nil {
		t.Fatal(err)
	}
	if got := m.Config().Disks; len(got) != 1 {
		t.Errorf("config after detaching: %+v", got)
	}

	// A kernel panic reaches the host through pvpanic.
	if _, err := tr.Command(ctx, m.Console(), linuxguest.CommandPanic); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventGuestPanic, hypervisor.StateCrashed)
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateCrashed)
	expectState(t, m, hypervisor.StateCrashed)

	// Disks must match the snapshot's: a resized disk is refused.
	cfg := m.Config()
	bigger, _ := e.image("bigger", 48<<20, "raw")
	cfg.Disks[0].Path, cfg.Disks[0].Format = bigger, ""
	if err := m.Reconfigure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, snap1, hypervisor.RestoreOptions{}); !errors.Is(err, hypervisor.ErrSnapshot) || !strings.Contains(err.Error(), "disk0") {
		t.Errorf("restoring onto a resized disk: %v", err)
	}
	// The crashed machine starts again.
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	if _, err := tr.Wait(ctx, linuxguest.MarkerReady); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateStopped)
}

// TestVMDKDeltaChain boots Debian's kernel on a split (twoGbMaxExtentSparse)
// VMDK whose files only root may read, writes to it, then runs the machine
// on deltas made by package vmdk while it is stopped, two levels deep, the
// top one split as well: the guest reads its parents' data through each
// delta and writes into it, and qemu-img finds every write in the image it
// belongs to. Parents keep their owner and mode (QEMU reads them through
// an ACL entry), and a delta hot-plugged into the running guest works too.
func TestVMDKDeltaChain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	data := make([]byte, 16<<20)
	rand.Read(data[:1<<20])
	raw := filepath.Join(e.dir, "base.raw")
	if err := os.WriteFile(raw, data, 0o600); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(e.dir, "base.vmdk")
	qemuImg(t, "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", raw, base)
	private := func(paths ...string) {
		t.Helper()
		for _, p := range paths {
			if err := os.Chmod(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	baseExtent := filepath.Join(e.dir, "base-s001.vmdk")
	private(base, baseExtent)

	// The guest hashes the first MiB; its writes go to sectors 1 to 3.
	sum := func(writes map[int]string) linuxguest.Disk {
		b := slices.Clone(data[:linuxguest.DefaultSumSectors*512])
		for sector, text := range writes {
			copy(b[sector*512:(sector+1)*512], make([]byte, 512))
			copy(b[sector*512:], text)
		}
		h := md5.Sum(b)
		return linuxguest.Disk{Name: "vda", Sectors: 32768, MD5: hex.EncodeToString(h[:])}
	}
	m := e.define(ctx, []hypervisor.DiskConfig{{ID: "disk0", Path: base}}, nil, nil)
	tr := linuxguest.Follow(ctx, m.Console())
	events := m.Events(ctx)
	// boot starts the machine on top, checks what the guest reads, makes
	// one write, checks the guest reads it back, runs then (if any) and
	// powers the guest off.
	boot := func(top string, want map[int]string, sector int, text string, then func()) {
		t.Helper()
		cfg := m.Config()
		cfg.Disks[0].Path = top
		if err := m.Reconfigure(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
		lines, err := tr.Wait(ctx, linuxguest.MarkerReady)
		if err != nil {
			t.Fatal(err)
		}
		expectDisks(t, lines, sum(want))
		want[sector] = text
		lines, err = tr.Command(ctx, m.Console(), fmt.Sprintf("%s vda %d %s", linuxguest.CommandWrite, sector, text))
		if err != nil {
			t.Fatal(err)
		}
		expectDisks(t, lines, sum(want))
		for s, text := range want {
			lines, err := tr.Command(ctx, m.Console(), fmt.Sprintf("%s vda %d", linuxguest.CommandRead, s))
			if err != nil {
				t.Fatal(err)
			}
			if got := lines[0]; !strings.HasPrefix(got, fmt.Sprintf("%sread vda %d %x", linuxguest.Prefix, s, text)) {
				t.Errorf("sector %d reads %q, want %q", s, got, text)
			}
		}
		if then != nil {
			then()
		}
		if _, err := tr.Command(ctx, m.Console(), linuxguest.CommandPowerOff); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, events, hypervisor.EventGuestShutdown, hypervisor.StateStopped)
	}
	want := map[int]string{}
	boot(base, want, 1, "written-into-the-base", nil)

	delta1 := filepath.Join(e.dir, "delta1.vmdk")
	if err := vmdk.Snapshot(base, delta1, vmdk.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	private(delta1)
	boot(delta1, want, 2, "written-into-delta1", nil)

	delta2 := filepath.Join(e.dir, "delta2.vmdk")
	if err := vmdk.Snapshot(delta1, delta2, vmdk.CreateOptions{Subformat: vmdk.TwoGbMaxExtentSparse}); err != nil {
		t.Fatal(err)
	}
	delta2Extent := filepath.Join(e.dir, "delta2-s001.vmdk")
	private(delta2, delta2Extent)
	// A delta hot-plugged into the running guest reads through too.
	plugged := filepath.Join(e.dir, "plugged.vmdk")
	hotPlug := func() {
		if err := vmdk.Snapshot(delta1, plugged, vmdk.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: "plugged", Path: plugged, ReadOnly: true}); err != nil {
			t.Fatal(err)
		}
		lines, err := tr.Command(ctx, m.Console(), linuxguest.CommandWaitDisk+" vdb")
		if err != nil {
			t.Fatal(err)
		}
		vdb := sum(map[int]string{1: want[1], 2: want[2]})
		vdb.Name = "vdb"
		expectDisks(t, lines, vdb)
	}
	boot(delta2, want, 3, "written-into-delta2", hotPlug)

	// Each image holds its own write and reads its parents' through.
	for _, c := range []struct {
		image  string
		writes []int
	}{{base, []int{1}}, {delta1, []int{1, 2}}, {delta2, []int{1, 2, 3}}} {
		out := filepath.Join(t.TempDir(), "out.raw")
		qemuImg(t, "convert", "-q", "-f", "vmdk", "-O", "raw", c.image, out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		w := map[int]string{}
		for _, s := range c.writes {
			w[s] = want[s]
		}
		if h := md5.Sum(got[:linuxguest.DefaultSumSectors*512]); hex.EncodeToString(h[:]) != sum(w).MD5 || !bytes.Equal(got[1<<20:], data[1<<20:]) {
			t.Errorf("qemu-img reads %s with writes other than those to sectors %v", filepath.Base(c.image), c.writes)
		}
		qemuImg(t, "check", "-q", "-f", "vmdk", c.image)
	}
	// libvirt relabelled only the top image, and gave it back; the other
	// files kept their owner and mode.
	for _, f := range []string{base, baseExtent, delta1, delta2, delta2Extent} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != uint32(os.Geteuid()) || st.Mode().Perm()&^0o070 != 0o600 {
			t.Errorf("%s: owner %d mode %v after the machine stopped", filepath.Base(f), uid, st.Mode())
		}
	}
}

// TestTestGuestUnderTCG boots hypercim's test guest (hypervisor/testguest)
// as libvirt runs QEMU, in software emulation, with two vCPUs, a disk and a
// NIC whose tap the host sends frames into as soon as it is up: it used to
// hang after its banner there (it unmasked the NIC's level-triggered line
// before it could acknowledge it). Each boot must reach its prompt and
// count both vCPUs; then a disk hot-plugged by QEMU is found by "rescan"
// and written, the ACPI power button shuts the guest down, and the default
// program powers off through ACPI.
func TestTestGuestUnderTCG(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	guest := filepath.Join(e.dir, "hypercim-testguest")
	_, file, _, _ := runtime.Caller(0)
	if out, err := exec.Command("make", "-s", "-C", filepath.Join(filepath.Dir(file), "..", "testguest"), "OUT="+guest).CombinedOutput(); err != nil {
		t.Fatalf("building the test guest: %v\n%s", err, out)
	}
	disk0, _ := e.image("tg0", 8<<20, "vmdk")
	cfg := hypervisor.Config{
		Name: "hctest-tg-" + uuid()[:8], UUID: uuid(), VCPUs: 2, MemoryBytes: 64 << 20,
		Boot:  hypervisor.BootSource{Kernel: guest, Cmdline: "testguest.interactive"},
		Disks: []hypervisor.DiskConfig{{ID: "disk0", Path: disk0}}, NICs: []hypervisor.NICConfig{{ID: "nic0"}},
	}
	m := defineForTest(ctx, t, e.eng, cfg)
	events := m.Events(ctx)
	tr := linuxguest.Follow(ctx, m.Console())
	// Each wait is bounded tightly: the guest is ready within a second
	// even under emulation, and a hang must fail rather than wait.
	wait := func(prefix string) string {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		lines, err := tr.Wait(short, prefix)
		if err != nil {
			t.Fatal(err)
		}
		return lines[len(lines)-1]
	}
	command := func(cmd, prefix string) string {
		t.Helper()
		if _, err := m.Console().Write([]byte(cmd + "\n")); err != nil {
			t.Fatal(err)
		}
		line := wait(prefix)
		if prefix != "ok" {
			wait("ok")
		}
		return line
	}
	for boot := 0; boot < 4; boot++ {
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
		if line := wait("testguest: cpus="); line != "testguest: cpus=2 disks=1" {
			t.Fatalf("boot %d: %q", boot, line)
		}
		wait("testguest: ready")
		if boot < 3 {
			if err := m.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateStopped)
		}
	}

	disk1, _ := e.image("tg1", 4<<20, "vmdk")
	if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: "disk1", Path: disk1}); err != nil {
		t.Fatal(err)
	}
	if line := command("rescan", "disks="); !strings.HasPrefix(line, "disks=2 ") {
		t.Fatalf("rescan after the hot-plug: %q", line)
	}
	if line := command("disks", "disk1 "); line != "disk1 sectors=8192 transport=pci" {
		t.Fatalf("the hot-plugged disk: %q", line)
	}
	command("write 1 5 hot-plugged", "ok")
	if line := command("read 1 5", "crc="); !strings.Contains(line, "data="+hex.EncodeToString([]byte("hot-plugged"))) {
		t.Fatalf("reading the hot-plugged disk back: %q", line)
	}
	if line := command("irqs", "irq0="); !strings.HasSuffix(line, "stuck=0000") {
		t.Errorf("interrupt lines masked for want of a handler: %q", line)
	}
	checkLimits(t, e, m, command)
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wait("testguest: powering off")
	for ev := nextEvent(t, events); ev.Kind != hypervisor.EventGuestShutdown; ev = nextEvent(t, events) {
		if ev.State != hypervisor.StateShuttingDown {
			t.Fatalf("unexpected event while shutting down: %+v", ev)
		}
	}
	out := filepath.Join(t.TempDir(), "disk1.raw")
	qemuImg(t, "convert", "-q", "-f", "vmdk", "-O", "raw", disk1, out)
	if data, err := os.ReadFile(out); err != nil || !bytes.HasPrefix(data[5*512:], []byte("hot-plugged\x00")) {
		t.Errorf("qemu-img does not find the guest's write in the hot-plugged disk (%v)", err)
	}

	// The default program marks the disks and powers off by itself.
	cfg = m.Config()
	cfg.Boot.Cmdline = ""
	if err := m.Reconfigure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, hypervisor.EventStateChanged, hypervisor.StateRunning)
	wait("testguest: done")
	expectEvent(t, events, hypervisor.EventGuestShutdown, hypervisor.StateStopped)
}

// virsh runs virsh on the test's libvirtd and returns its output.
func virsh(t *testing.T, e *env, args ...string) string {
	t.Helper()
	out, err := exec.Command("virsh", append([]string{"-c", "qemu:///system?socket=" + e.socket}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// virshFields parses "name : value" lines of virsh schedinfo and memtune.
func virshFields(out string) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			f[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return f
}

// checkLimits sets CPU and memory limits on the running test guest, reads
// them back through the engine and with virsh (live and persistent), has
// the guest spin under the CPU cap, and clears them.
func checkLimits(t *testing.T, e *env, m hypervisor.Machine, command func(cmd, prefix string) string) {
	t.Helper()
	ctx := context.Background()
	lim := m.(hypervisor.ResourceLimiter)
	want := hypervisor.Limits{CPUWeight: 300, CPUCapPercent: 30, MemoryHardLimit: 1 << 30, MemorySoftLimit: 768 << 20}
	if err := lim.SetLimits(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := lim.Limits(ctx); err != nil || got != want {
		t.Errorf("limits read back %+v, %v; want %+v", got, err, want)
	}
	if got := m.Config().Limits; got != want {
		t.Errorf("the definition has limits %+v, want %+v", got, want)
	}
	shares := "3072" // cgroup v1: 1024 for the default weight 100
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		shares = "300"
	}
	for _, scope := range []string{"--live", "--config"} {
		sched := virshFields(virsh(t, e, "schedinfo", m.UUID(), scope))
		if sched["cpu_shares"] != shares || sched["vcpu_period"] != "100000" || sched["vcpu_quota"] != "30000" {
			t.Errorf("virsh schedinfo %s: %v", scope, sched)
		}
		mem := virshFields(virsh(t, e, "memtune", m.UUID(), scope))
		if mem["hard_limit"] != "1048576" || mem["soft_limit"] != "786432" {
			t.Errorf("virsh memtune %s: %v", scope, mem)
		}
	}
	// TCG runs the spin loop at some hundred million iterations a second:
	// this one takes about half a second of CPU, and under the 30% cap the
	// spinning vCPU (the other one idles) gets no more than its share.
	before, _ := m.Stats(ctx)
	t0 := time.Now()
	command("spin 150000000", "spin=")
	wall := time.Since(t0)
	after, _ := m.Stats(ctx)
	share := float64(after.VCPUTime-before.VCPUTime) / float64(wall)
	t.Logf("spin 150000000 capped at 30%%: %v, %.0f%% of a host CPU", wall, share*100)
	if share > 0.40 {
		t.Errorf("the guest's vCPUs used %.0f%% of a host CPU under a 30%% cap", share*100)
	}
	if err := lim.SetLimits(ctx, hypervisor.Limits{}); err != nil {
		t.Fatal(err)
	}
	sched := virshFields(virsh(t, e, "schedinfo", m.UUID(), "--live"))
	mem := virshFields(virsh(t, e, "memtune", m.UUID(), "--config"))
	if sched["vcpu_quota"] != "-1" && sched["vcpu_quota"] != "17592186044415" || mem["hard_limit"] != "unlimited" {
		t.Errorf("limits cleared: schedinfo %v, memtune %v", sched, mem)
	}
	if got, err := lim.Limits(ctx); err != nil || !got.IsZero() {
		t.Errorf("cleared limits read back %+v, %v", got, err)
	}
	if err := lim.SetLimits(ctx, hypervisor.Limits{CPUCapPercent: 120}); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("a 120%% cap: %v", err)
	}
}

func qemuImg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestOpenWithoutLibvirtd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := libvirt.Open(ctx, libvirt.Options{Socket: filepath.Join(t.TempDir(), "no-such-socket")})
	if !errors.Is(err, hypervisor.ErrUnavailable) || !strings.Contains(err.Error(), "libvirtd -d") {
		t.Errorf("Open without libvirtd: %v", err)
	}
}
