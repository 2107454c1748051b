package kvm

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
	"github.com/hypercim/hypercim/hypervisor/linuxguest"
)

// linuxCmdline is what a stock kernel needs on this VMM: no ACPI (the MP
// table describes CPUs and interrupt routing), PCI through conf1, reboot
// through the i8042, and a legacy-only i8042 without AUX port.
func linuxCmdline(mode linuxguest.Mode) string {
	return linuxguest.Cmdline(linuxguest.Boot{Mode: mode, Extra: []string{
		"acpi=off", "pci=conf1", "reboot=k", "panic=-1", "i8042.noaux", "i8042.nomux", "i8042.dumbkbd",
	}})
}

// TestDebianKernelBoot boots Debian's cloud kernel with a busybox
// initramfs that loads the virtio modules and reports the VMDK disk. Only
// hardware KVM runs a stock kernel: on KVM-PVM (this project's CI) it does
// not get through early boot, so the test skips there.
func TestDebianKernelBoot(t *testing.T) {
	if !hypervisor.HardwareKVM() {
		t.Skip("needs hardware KVM (the kvm_intel or kvm_amd module): a stock Linux kernel does not boot on this host's /dev/kvm (KVM-PVM)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k, err := linuxguest.FetchKernel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio")
	if err := k.WriteInitramfsFile(initrd, linuxguest.Options{}); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("stock linux reads this vmdk "), 40000) // > 1 MiB summed
	disk := makeVMDK(t, 16, content)
	sum := md5.Sum(content[:linuxguest.DefaultSumSectors*512])
	e := newTestEngine(t, Options{})
	cfg := hypervisor.Config{
		Name: "debian", UUID: uuidFor(4000), VCPUs: 2, MemoryBytes: 512 << 20,
		Boot:  hypervisor.BootSource{Kernel: k.Image, Initrd: initrd, Cmdline: linuxCmdline(linuxguest.ModeServe)},
		Disks: []hypervisor.DiskConfig{{ID: "disk0", Path: disk}},
	}
	m, err := e.Define(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := linuxguest.Follow(ctx, m.Console())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	lines, err := tr.Wait(ctx, linuxguest.MarkerReady)
	if err != nil {
		t.Fatal(err)
	}
	disks := linuxguest.ParseDisks(lines)
	if len(disks) != 1 || disks[0].Sectors != 16<<20/512 || disks[0].MD5 != fmt.Sprintf("%x", sum) {
		t.Errorf("guest saw disks %+v, want one of %d sectors with md5 %x", disks, 16<<20/512, sum)
	}
}

// TestDebianKernelLayout loads the real Debian bzImage and initramfs into
// guest memory and checks what the kernel will find: its header copied
// into the zero page, the loader fields, the initrd inside the kernel's
// limits and the command line. It runs everywhere the kernel package can
// be fetched.
func TestDebianKernelLayout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k, err := linuxguest.FetchKernel(ctx)
	if err != nil {
		t.Skipf("Debian's kernel package is not available: %v", err)
	}
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio")
	if err := k.WriteInitramfsFile(initrd, linuxguest.Options{}); err != nil {
		t.Fatal(err)
	}
	kf, err := os.Open(k.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	kst, _ := kf.Stat()
	img, err := boot.Probe(kf, kst.Size())
	if err != nil || img.Kind != boot.KindBzImage {
		t.Fatalf("Probe(%s): %v", k.Image, err)
	}
	rf, _ := os.Open(initrd)
	defer rf.Close()
	rst, _ := rf.Stat()
	ram := make([]byte, 512<<20)
	mem, _ := guestmem.New(guestmem.Region{Data: ram})
	cmdline := linuxCmdline(linuxguest.ModePowerOff)
	st, err := boot.Load(mem, img, boot.Params{Cmdline: cmdline, Initrd: rf, InitrdSize: rst.Size(), VCPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	zp := ram[boot.ZeroPageAddr : boot.ZeroPageAddr+4096]
	head := make([]byte, 0x270)
	kf.ReadAt(head, 0)
	if !bytes.Equal(zp[0x1f1:0x210], head[0x1f1:0x210]) || le.Uint16(zp[0x206:]) < 0x020f {
		t.Error("setup header not copied into the zero page")
	}
	if zp[0x210] != 0xff || zp[0x211]&1 == 0 {
		t.Errorf("type_of_loader %#x loadflags %#x", zp[0x210], zp[0x211])
	}
	rdAddr, rdSize := uint64(le.Uint32(zp[0x218:])), uint64(le.Uint32(zp[0x21c:]))
	if rdSize != uint64(rst.Size()) || rdAddr < st.KernelEnd || rdAddr+rdSize-1 > uint64(le.Uint32(zp[0x22c:])) {
		t.Errorf("initrd %#x+%#x: kernel ends %#x, initrd_addr_max %#x", rdAddr, rdSize, st.KernelEnd, le.Uint32(zp[0x22c:]))
	}
	initSize := uint64(le.Uint32(zp[0x260:]))
	if st.KernelEnd-st.KernelStart < initSize || st.RIP != st.KernelStart+0x200 {
		t.Errorf("kernel %#x-%#x, init_size %#x, entry %#x", st.KernelStart, st.KernelEnd, initSize, st.RIP)
	}
	cl := ram[boot.CmdlineAddr : boot.CmdlineAddr+uint64(len(cmdline))+1]
	if string(cl) != cmdline+"\x00" || le.Uint32(zp[0x228:]) != boot.CmdlineAddr {
		t.Errorf("command line %q", cl)
	}
	if zp[0x1e8] == 0 {
		t.Error("no E820 map")
	}
}
