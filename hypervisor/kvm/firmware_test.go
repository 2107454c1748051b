package kvm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/bios/boottest"
	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
	"github.com/hypercim/hypercim/vmdk"
)

// buildFirmware builds the BIOS and the test boot loader once per test
// binary.
var buildFirmware = sync.OnceValues(func() ([2]string, error) {
	dir, err := guestDir()
	if err != nil {
		return [2]string{}, err
	}
	fw, loader, err := boottest.Build(dir)
	return [2]string{fw, loader}, err
})

func firmwareFiles(t testing.TB) (firmware, loader string) {
	t.Helper()
	p, err := buildFirmware()
	if err != nil {
		t.Fatal(err)
	}
	return p[0], p[1]
}

// firmwareMachine defines a firmware-booted machine on disk.
func firmwareMachine(t *testing.T, e *Engine, n int, disk string) (hypervisor.Machine, *console, *events) {
	t.Helper()
	con := newConsole()
	cfg := hypervisor.Config{
		Name: fmt.Sprintf("%s-%d", t.Name(), n), UUID: uuidFor(n), VCPUs: 1, MemoryBytes: 32 << 20,
		Boot:    hypervisor.BootSource{Firmware: true},
		Disks:   []hypervisor.DiskConfig{{ID: "disk0", Path: disk}},
		Console: con,
	}
	ctx := context.Background()
	m, err := e.Define(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := watch(t, m)
	t.Cleanup(func() {
		if m.State() != hypervisor.StateStopped {
			m.Stop(ctx)
		}
	})
	return m, con, ev
}

// TestFirmwareBootsVMDK boots the test loader from a VMDK disk through the
// BIOS and checks every service it exercises: console output, LBA and CHS
// reads, both writes (read back with package vmdk and with qemu-img),
// the memory map, the timer, the keyboard, refused bad requests and the
// APM power-off.
func TestFirmwareBootsVMDK(t *testing.T) {
	fw, loader := firmwareFiles(t)
	e := newTestEngine(t, Options{Firmware: fw})
	disk := filepath.Join(t.TempDir(), "boot.vmdk")
	const size = 8 << 20
	if err := boottest.MakeDisk(disk, loader, size); err != nil {
		t.Fatal(err)
	}
	m, con, ev := firmwareMachine(t, e, 1, disk)
	start := time.Now()
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	con.waitLine(t, "hypercim BIOS: booting from hard disk 0x80")
	t.Logf("start to the BIOS banner: %v", time.Since(start))
	con.waitLine(t, "boottest: hello from the boot sector")
	con.waitLine(t, "boottest: stage 2 loaded")
	if l := con.waitLine(t, "edd:"); l != "edd: ah=21 bx=aa55 cx=0001" {
		t.Errorf("int 13h AH=41h: %q", l)
	}
	geo := con.waitLine(t, "geometry:")
	if geo != "geometry: heads=0010 spt=003f drives=01" {
		t.Errorf("int 13h AH=08h: %q", geo)
	}
	if l, want := con.waitLine(t, "params:"), fmt.Sprintf("params: sectors=%08x", size/512); l != want {
		t.Errorf("int 13h AH=48h: %q, want %q", l, want)
	}
	sum := fmt.Sprintf("%08x", boottest.Sum())
	if l := con.waitLine(t, "lba-sum="); l != "lba-sum="+sum {
		t.Errorf("LBA read: %q, want sum %s", l, sum)
	}
	if l := con.waitLine(t, "chs-sum="); l != "chs-sum="+sum {
		t.Errorf("CHS read: %q, want sum %s", l, sum)
	}
	if l := con.waitLine(t, "write:"); l != "write: ext=00 chs=00" {
		t.Errorf("writes: %q", l)
	}
	for _, bad := range []string{"beyond-end:", "bad-buffer:", "rom-buffer:"} {
		if l := con.waitLine(t, bad); l != bad+" cf=1 ah=01" {
			t.Errorf("refused request: %q, want CF=1 AH=01", l)
		}
	}
	var entries int
	var ramKiB uint64
	for _, r := range boot.MemoryMap(32 << 20) {
		entries++
		if r.Type == boot.E820RAM {
			ramKiB += r.Size >> 10
		}
	}
	if l, want := con.waitLine(t, "e820:"), fmt.Sprintf("e820: entries=%04x ram-kib=%08x", entries, ramKiB); l != want {
		t.Errorf("E820: %q, want %q", l, want)
	}
	if l, want := con.waitLine(t, "memory:"), fmt.Sprintf("memory: int12=027f int15-88=%04x e801=%04x bx=%04x a20=01", 31<<10, 15<<10, (32-16)<<4); l != want {
		t.Errorf("memory sizes: %q, want %q", l, want)
	}
	con.waitLine(t, "timer: ticking")
	deadline := time.Now().Add(guestTimeout)
	for !strings.Contains(con.String(), "key? ") {
		if time.Now().After(deadline) {
			t.Fatalf("no key prompt; console:\n%s", con)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := m.Console().Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if l := con.waitLine(t, "key? "); l != "key? 1c0d" {
		t.Errorf("int 16h: %q, want Enter (1c0d)", l)
	}
	con.waitLine(t, "boottest: powering off")
	off := ev.wait(t, hypervisor.EventGuestShutdown)
	if !strings.Contains(off.Reason, "APM") {
		t.Errorf("power-off reason %q does not name APM", off.Reason)
	}
	var refused []string
	for _, x := range ev.all() {
		if x.Kind == hypervisor.EventDeviceError {
			refused = append(refused, x.Reason)
		}
	}
	if len(refused) != 3 || !strings.Contains(refused[0], "beyond the end") || !strings.Contains(refused[1], "not RAM") ||
		!strings.Contains(refused[2], "overlaps the BIOS") {
		t.Errorf("device-error events for the bad requests: %q", refused)
	}
	viaVMDK, err := boottest.ReadWrites(disk)
	if err != nil {
		t.Fatal(err)
	}
	if err := boottest.CheckWrites(viaVMDK); err != nil {
		t.Errorf("read back with package vmdk: %v", err)
	}
	if err := boottest.CheckWrites(readVMDK(t, disk)); err != nil {
		t.Errorf("read back with qemu-img: %v", err)
	}
}

// TestFirmwareNoBootableDisk: a first disk without the 55AAh signature
// ends the run with a clear message on the console and a crash event that
// says why, and the machine can be started again.
func TestFirmwareNoBootableDisk(t *testing.T) {
	fw, _ := firmwareFiles(t)
	e := newTestEngine(t, Options{Firmware: fw})
	disk := filepath.Join(t.TempDir(), "blank.vmdk")
	if err := vmdk.Create(disk, vmdk.CreateOptions{Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	m, con, ev := firmwareMachine(t, e, 2, disk)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	crash := ev.wait(t, hypervisor.EventGuestPanic)
	if !strings.Contains(crash.Reason, "no bootable disk") || !strings.Contains(crash.Reason, "0x55AA") {
		t.Errorf("crash reason %q", crash.Reason)
	}
	if !strings.Contains(con.String(), "hard disk 0x80 is not bootable") {
		t.Errorf("console does not explain the failure:\n%s", con)
	}
	if s := m.State(); s != hypervisor.StateCrashed {
		t.Errorf("state %v, want crashed", s)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("starting again: %v", err)
	}
	ev.wait(t, hypervisor.EventGuestPanic)
}

// TestFirmwareConfig: firmware boot is refused without a disk, with a
// kernel, or when the BIOS image is missing or not one.
func TestFirmwareConfig(t *testing.T) {
	fw, loader := firmwareFiles(t)
	ctx := context.Background()
	base := hypervisor.Config{Name: "fw", UUID: uuidFor(3), VCPUs: 1, MemoryBytes: 16 << 20,
		Boot: hypervisor.BootSource{Firmware: true}, Disks: []hypervisor.DiskConfig{{ID: "disk0", Path: loader}}}
	e := newTestEngine(t, Options{Firmware: fw})
	noDisk := base.Clone()
	noDisk.Disks = nil
	if _, err := e.Define(ctx, noDisk); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("no disk: %v", err)
	}
	kernel := base.Clone()
	kernel.Boot.Kernel = testGuest(t)
	if _, err := e.Define(ctx, kernel); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("firmware and a kernel: %v", err)
	}
	missing := newTestEngine(t, Options{Firmware: filepath.Join(t.TempDir(), "none")})
	if _, err := missing.Define(ctx, base); !errors.Is(err, hypervisor.ErrUnavailable) || !strings.Contains(err.Error(), "make build") {
		t.Errorf("missing BIOS image: %v", err)
	}
	notBIOS := newTestEngine(t, Options{Firmware: loader})
	if _, err := notBIOS.Define(ctx, base); !errors.Is(err, hypervisor.ErrUnavailable) || !strings.Contains(err.Error(), "not a hypercim BIOS image") {
		t.Errorf("a file that is no BIOS image: %v", err)
	}
}

// TestFirmwareRawDiskTwoVCPUs boots the loader from a raw image on a
// two-vCPU machine (the second vCPU waits for INIT/SIPI, as on a PC) with
// a second disk (drive 81h) and resets it: the BIOS runs again and boots
// again.
func TestFirmwareRawDiskTwoVCPUs(t *testing.T) {
	fw, loader := firmwareFiles(t)
	e := newTestEngine(t, Options{Firmware: fw})
	code, err := os.ReadFile(loader)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 1<<20)
	copy(img, code)
	copy(img[boottest.DataLBA*boottest.SectorSize:], boottest.Data())
	disk := filepath.Join(t.TempDir(), "boot.raw")
	if err := os.WriteFile(disk, img, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data.vmdk")
	if err := vmdk.Create(data, vmdk.CreateOptions{Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	con := newConsole()
	cfg := hypervisor.Config{Name: "fw2", UUID: uuidFor(4), VCPUs: 2, MemoryBytes: 16 << 20,
		Boot:    hypervisor.BootSource{Firmware: true},
		Disks:   []hypervisor.DiskConfig{{ID: "disk0", Path: disk, Format: "raw"}, {ID: "data", Path: data, ReadOnly: true}},
		Console: con}
	ctx := context.Background()
	m, err := e.Define(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := watch(t, m)
	t.Cleanup(func() { m.Stop(ctx) })
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	con.waitLine(t, "timer: ticking")
	if err := m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	// The reset may cut the "key? " prompt short, so the BIOS banner can
	// share its line; the loader's greeting starts a line of its own.
	con.waitLine(t, "boottest: hello from the boot sector")
	if l := con.waitLine(t, "geometry:"); !strings.HasSuffix(l, "drives=02") {
		t.Errorf("int 13h AH=08h with two disks: %q", l)
	}
	if l := con.waitLine(t, "lba-sum="); l != fmt.Sprintf("lba-sum=%08x", boottest.Sum()) {
		t.Errorf("after reset: %q", l)
	}
	// No key this time: the loader gives up waiting and powers off.
	con.waitLine(t, "boottest: powering off")
	ev.wait(t, hypervisor.EventGuestShutdown)
	got, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if err := boottest.CheckWrites(got); err != nil {
		t.Error(err)
	}
}

// BenchmarkFirmwareBoot measures a firmware machine from Start to the
// BIOS's first serial byte and to the test loader's APM power-off (its
// run includes two timer ticks, about 110 ms, that it waits for).
func BenchmarkFirmwareBoot(b *testing.B) {
	fw, loader := firmwareFiles(b)
	e := newTestEngine(b, Options{Firmware: fw})
	disk := filepath.Join(b.TempDir(), "boot.vmdk")
	if err := boottest.MakeDisk(disk, loader, 4<<20); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var first, off []time.Duration
	for i := 0; i < b.N; i++ {
		sink := &firstByte{ch: make(chan struct{})}
		m, err := e.Define(ctx, hypervisor.Config{Name: fmt.Sprintf("bench-%d", i), UUID: uuidFor(1000 + i), VCPUs: 1,
			MemoryBytes: 16 << 20, Boot: hypervisor.BootSource{Firmware: true},
			Disks: []hypervisor.DiskConfig{{ID: "disk0", Path: disk}}, Console: sink})
		if err != nil {
			b.Fatal(err)
		}
		ev := watch(b, m)
		start := time.Now()
		if err := m.Start(ctx); err != nil {
			b.Fatal(err)
		}
		m.Console().Write([]byte("\r")) //nolint:errcheck // answers the loader's key prompt
		<-sink.ch
		first = append(first, time.Since(start))
		ev.wait(b, hypervisor.EventGuestShutdown)
		off = append(off, time.Since(start))
		m.Undefine(ctx) //nolint:errcheck
	}
	b.ReportMetric(float64(percentile(first, 0.5).Microseconds())/1000, "first-byte-p50-ms")
	b.ReportMetric(float64(percentile(off, 0.5).Microseconds())/1000, "poweroff-p50-ms")
	b.ReportMetric(0, "ns/op")
}

// TestFirmwareSnapshotRestore: a firmware machine snapshotted while its
// boot loader waits for a key continues after Restore: the BIOS (in guest
// memory) and its gate serve it, the key typed then reaches it and it
// powers off.
func TestFirmwareSnapshotRestore(t *testing.T) {
	fw, loader := firmwareFiles(t)
	e := newTestEngine(t, Options{Firmware: fw})
	disk := filepath.Join(t.TempDir(), "boot.vmdk")
	if err := boottest.MakeDisk(disk, loader, 4<<20); err != nil {
		t.Fatal(err)
	}
	m, con, ev := firmwareMachine(t, e, 5, disk)
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	con.waitLine(t, "timer: ticking")
	dir := filepath.Join(t.TempDir(), "snap")
	if err := m.Snapshot(ctx, dir, hypervisor.SnapshotOptions{Stop: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, dir, hypervisor.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Console().Write([]byte("\r")); err != nil {
		t.Fatal(err)
	}
	if l := con.waitLine(t, "key? "); l != "key? 1c0d" {
		t.Errorf("after restore: %q, want Enter (1c0d)", l)
	}
	off := ev.wait(t, hypervisor.EventGuestShutdown)
	if !strings.Contains(off.Reason, "APM") {
		t.Errorf("power-off reason %q", off.Reason)
	}
}
