package vmm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm"
	"github.com/hypercim/hypercim/hypervisor/kvm/bios/boottest"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// TestFirmwareBoot: a system with no kernel and a disk boots the disk
// through the BIOS; without a disk, or with a command line but no kernel,
// it is refused.
func TestFirmwareBoot(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("no /dev/kvm on this host")
	}
	fw, loader, err := boottest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := kvm.New(kvm.Options{Firmware: fw})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *vmm.Options) { o.Engine = eng })
	t.Cleanup(func() { eng.Close() })
	ctx := context.Background()

	for name, def := range map[string]vmm.Definition{
		"no kernel, no disk":      {Name: "fw-none", VCPUs: 1, MemoryMiB: 64},
		"command line, no kernel": {Name: "fw-cmdline", VCPUs: 1, MemoryMiB: 64, Cmdline: "quiet", Disks: []vmm.Disk{newDisk(1)}},
	} {
		_, err := e.m.Define(ctx, "", def, sync30)
		wantCode(t, err, vmm.InvalidParameter)
		if err != nil && name == "no kernel, no disk" && !strings.Contains(err.Error(), "BIOS") {
			t.Errorf("%s: %v does not mention booting a disk through the BIOS", name, err)
		}
	}

	if err := boottest.MakeDisk(filepath.Join(e.m.PoolDir(), "boot.vmdk"), loader, 4<<20); err != nil {
		t.Fatal(err)
	}
	id := e.define(vmm.Definition{Name: "fw", VCPUs: 1, MemoryMiB: 64, Disks: []vmm.Disk{{Media: true, Image: "boot.vmdk"}}})
	e.state(id, vmm.TransitionStart)
	mach, err := eng.Lookup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	mach.Console().Write([]byte("\r")) //nolint:errcheck // answers the loader's key prompt
	e.wantState(id, hypervisor.StateStopped)
	out := string(mach.Console().History())
	for _, want := range []string{"hypercim BIOS: booting from hard disk 0x80", fmt.Sprintf("lba-sum=%08x", boottest.Sum()), "boottest: powering off"} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if err := boottest.VerifyDisk(filepath.Join(e.m.PoolDir(), "boot.vmdk")); err != nil {
		t.Error(err)
	}
}
