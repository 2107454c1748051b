package libvirtdtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/internal/linuxguest"
)

// Guest is a stock Linux guest ready to boot on libvirtd: Debian's cloud
// kernel and hypercim's busybox initramfs (hypervisor/internal/linuxguest),
// in a directory that QEMU, which libvirt runs as an unprivileged user,
// can traverse and read. Tests outside hypervisor/ use it through this
// package, since they cannot import the internal one.
type Guest struct {
	// Dir holds the kernel and initramfs; tests put their disk images
	// here too. It is removed when the test ends.
	Dir    string
	Kernel string
	Initrd string
}

// Disk is one disk as the guest reports it on its console: the device
// name, the size in sectors and the MD5 of its first SumBytes.
type Disk = linuxguest.Disk

// SumBytes is how much of each disk the guest hashes.
const SumBytes = linuxguest.DefaultSumSectors * 512

// ReadyMarker is the line the guest prints once it has reported its disks.
const ReadyMarker = linuxguest.MarkerReady

// NewGuest fetches the kernel (once per clone, see
// scripts/guest-kernel.sh) and writes the initramfs into a new directory.
func NewGuest(t testing.TB) *Guest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k, err := linuxguest.FetchKernel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g := &Guest{Dir: dir, Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initramfs.cpio")}
	image, err := os.ReadFile(k.Image)
	if err == nil {
		err = os.WriteFile(g.Kernel, image, 0o644)
	}
	if err == nil {
		err = k.WriteInitramfsFile(g.Initrd, linuxguest.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// PowerOffCmdline is the kernel command line of a guest that reports its
// disks and the ready marker on ttyS0, then powers off.
func PowerOffCmdline() string {
	return linuxguest.Cmdline(linuxguest.Boot{Mode: linuxguest.ModePowerOff})
}

// ParseDisks returns the disks reported in console output.
func ParseDisks(output string) []Disk {
	return linuxguest.ParseDisks(strings.Split(strings.ReplaceAll(output, "\r\n", "\n"), "\n"))
}
