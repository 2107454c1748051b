package libvirtdtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/linuxguest"
)

// Guest is a stock Linux guest ready to boot on libvirtd: Debian's cloud
// kernel and hypercim's busybox initramfs (package linuxguest, whose
// Transcript, Cmdline and ParseDisks drive it), in a directory that QEMU,
// which libvirt runs as an unprivileged user, can traverse and read.
type Guest struct {
	// Dir holds the kernel and initramfs; tests put their disk images
	// here too. It is removed when the test ends.
	Dir    string
	Kernel string
	Initrd string
}

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
