package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cmd/internal/vmrun"
	"github.com/hypercim/hypercim/hypervisor/kvm/bios/boottest"
	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
	"github.com/hypercim/hypercim/vmdk"
)

// buildFirmware builds the BIOS and the test boot loader into dir.
func buildFirmware(t *testing.T, dir string) (firmware, loader string) {
	t.Helper()
	fw, loader, err := boottest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fw, loader
}

// TestVMRunFirmware: `vm run --firmware` boots a VMDK's boot sector through
// the BIOS, with the loader's int 10h output on stdout, a key typed from
// stdin, its writes in the VMDK and exit status 0 on its APM power-off; a
// disk without a boot signature exits 3 with the BIOS's reason.
func TestVMRunFirmware(t *testing.T) {
	vmNeedKVM(t)
	dir := t.TempDir()
	fw, loader := buildFirmware(t, dir)
	disk := filepath.Join(dir, "boot.vmdk")
	if err := boottest.MakeDisk(disk, loader, 4<<20); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runVMCLI(t, "\r", "vm", "run", "--firmware", "--disk", disk, "--cpus", "2", "--memory", "32M", "--bios", fw)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, errs, out)
	}
	for _, want := range []string{"hypercim BIOS: booting from hard disk 0x80\r\n", "boottest: hello from the boot sector\r\n",
		fmt.Sprintf("lba-sum=%08x\r\n", boottest.Sum()), "key? 1c0d\r\n", "boottest: powering off\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if err := boottest.VerifyDisk(disk); err != nil {
		t.Error(err)
	}

	blank := filepath.Join(dir, "blank.vmdk")
	if err := vmdk.Create(blank, vmdk.CreateOptions{Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runVMCLI(t, "", "vm", "run", "--firmware", "--disk", blank, "--memory", "16M", "--bios", fw)
	if code != vmrun.ExitGuestCrash || !strings.Contains(errs, "no bootable disk") || !strings.Contains(out, "not bootable") {
		t.Errorf("blank disk: exit %d, stderr %q, stdout %q; want %d and the reason", code, errs, out, vmrun.ExitGuestCrash)
	}
	code, _, errs = runVMCLI(t, "", "vm", "run", "--firmware", "--disk", blank, "--memory", "16M", "--bios", filepath.Join(dir, "none"))
	if code != vmrun.ExitVMMError || !strings.Contains(errs, "make build") {
		t.Errorf("missing BIOS: exit %d, stderr %q", code, errs)
	}
	if code, out, _ := runVMCLI(t, "", "vm", "run", "--help"); code != 0 || !strings.Contains(out, "--firmware") {
		t.Errorf("vm run --help: exit %d, %q", code, out)
	}
}

// TestVMRunFirmwareLibvirt: `vm run --firmware --backend libvirt` boots the
// same loader through SeaBIOS, its console on stdout, and exits 0 when it
// powers off.
func TestVMRunFirmwareLibvirt(t *testing.T) {
	libvirtdtest.Start(t)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil { // QEMU runs as libvirt-qemu
			t.Fatal(err)
		}
	}
	_, loader := buildFirmware(t, dir)
	disk := filepath.Join(dir, "boot.vmdk")
	if err := boottest.MakeDisk(disk, loader, 4<<20); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runVMCLI(t, "", "vm", "run", "--backend", "libvirt", "--firmware", "--disk", disk, "--memory", "32M")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	for _, want := range []string{"SeaBIOS", "boottest: hello from the boot sector", fmt.Sprintf("lba-sum=%08x", boottest.Sum())} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if err := boottest.VerifyDisk(disk); err != nil {
		t.Error(err)
	}
}
