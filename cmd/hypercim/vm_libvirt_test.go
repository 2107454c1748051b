package main

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/libvirt"
	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
	"github.com/hypercim/hypercim/hypervisor/linuxguest"
	"github.com/hypercim/hypercim/vmdk"
)

// TestVMRunLibvirt runs Debian's kernel with hypercim's initramfs under
// libvirtd, from a sparse VMDK written by package vmdk: the guest's console
// reaches stdout up to the kernel's last words, the disk reads back as
// written, and the command exits 0 when the guest powers off, leaving no
// domain behind.
func TestVMRunLibvirt(t *testing.T) {
	libvirtdtest.Start(t)
	g := libvirtdtest.NewGuest(t)
	disk := filepath.Join(g.Dir, "disk.vmdk")
	if err := vmdk.Create(disk, vmdk.CreateOptions{Size: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, linuxguest.DefaultSumSectors*512)
	rand.Read(data)
	d, err := vmdk.Open(disk, vmdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	name := "hctest-cli-" + hex.EncodeToString(sum[:4])

	start := time.Now()
	code, out, errs := runVMCLI(t, "", "vm", "run", "--backend", "libvirt", "--name", name, "--memory", "128M",
		"--kernel", g.Kernel, "--initrd", g.Initrd, "--cmdline", linuxguest.Cmdline(linuxguest.Boot{}), "--disk", disk)
	t.Logf("vm run --backend libvirt: exit %d after %v", code, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	want := []linuxguest.Disk{{Name: "vda", Sectors: 16384, MD5: hex.EncodeToString(sum[:])}}
	if got := linuxguest.ParseDisks(strings.Split(out, "\n")); !slices.Equal(got, want) {
		t.Errorf("guest disks %+v, want %+v; stdout:\n%s", got, want, out)
	}
	for _, line := range []string{"Linux version", linuxguest.MarkerReady, "reboot: Power down"} {
		if !strings.Contains(out, line) {
			t.Errorf("stdout lacks %q:\n%s", line, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := libvirt.Open(ctx, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	machines, err := eng.Machines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range machines {
		if m.Config().Name == name {
			t.Errorf("vm run left domain %s (%s) defined", name, m.UUID())
		}
	}
}
