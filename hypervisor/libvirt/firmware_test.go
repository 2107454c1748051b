package libvirt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/bios/boottest"
	"github.com/hypercim/hypercim/hypervisor/libvirt"
	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
)

// TestFirmwareBootsVMDK boots the test loader the kvm backend's firmware
// tests boot, from a VMDK, through SeaBIOS under libvirtd: its int 10h
// output on the serial console, both reads, both writes in the VMDK and
// the APM power-off as a guest shutdown.
//
// It runs alone, not in parallel with the Linux guests: under TCG on two
// shared cores their QEMUs would slow each other down to their timeouts.
func TestFirmwareBootsVMDK(t *testing.T) {
	socket := libvirtdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil { // QEMU runs as libvirt-qemu
			t.Fatal(err)
		}
	}
	_, loader, err := boottest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "boot.vmdk")
	if err := boottest.MakeDisk(disk, loader, 8<<20); err != nil {
		t.Fatal(err)
	}
	eng, err := libvirt.Open(ctx, libvirt.Options{Socket: socket, Instance: "test-" + uuid()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() }) // after the machine's cleanup below
	console := &lockedBuffer{}
	cfg := hypervisor.Config{
		Name: "hctest-fw-" + uuid()[:8], UUID: uuid(), VCPUs: 1, MemoryBytes: 64 << 20,
		Boot:    hypervisor.BootSource{Firmware: true},
		Disks:   []hypervisor.DiskConfig{{ID: "disk0", Path: disk}},
		Console: console,
	}
	m := defineForTest(ctx, t, eng, cfg)
	events := m.Events(ctx)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(waitTimeout)
	for done := false; !done; {
		select {
		case ev := <-events:
			switch ev.Kind {
			case hypervisor.EventGuestShutdown:
				done = true
			case hypervisor.EventGuestPanic:
				t.Fatalf("guest crashed: %s; console:\n%s", ev.Reason, console)
			}
		case <-timeout:
			t.Fatalf("the guest did not power off within %v; console:\n%s", waitTimeout, console)
		}
	}
	out := console.String()
	sum := fmt.Sprintf("%08x", boottest.Sum())
	// SeaBIOS's serial console does not send int 10h AH=13h strings
	// ("stage 2 loaded"); the loader skips the checks of hypercim's
	// buffer validation there.
	for _, want := range []string{"boottest: hello from the boot sector\r\n", "beyond-end: cf=1 ah=01\r\n",
		"lba-sum=" + sum + "\r\n", "chs-sum=" + sum + "\r\n", "write: ext=00 chs=00\r\n",
		fmt.Sprintf("params: sectors=%08x\r\n", 8<<20/512), "timer: ticking\r\n",
		"boottest: powering"} { // QEMU may power off before the UART sent the rest
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if err := boottest.VerifyDisk(disk); err != nil {
		t.Error(err)
	}
}
