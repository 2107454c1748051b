package conformance

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
	"github.com/hypercim/hypercim/hypervisor/linuxguest"
)

// TestVirtLibvirt is issue 7's scenario on the libvirt engine, in software
// emulation: wbemcli defines a system from the default templates (2 vCPUs,
// 128 MiB, a new 64 MiB VMDK, an Ethernet adapter) that boots Debian's
// stock kernel with hypercim's busybox initramfs (package linuxguest),
// driven through hypercimd's console socket. It starts, pauses and
// resumes; takes a full snapshot while it runs (the new disk is a flat
// VMDK, which QEMU can save), after which its disk is a sparse delta and
// the capabilities say snapshots and saving are no longer possible while
// it runs, and the methods refuse them; writes from the guest; applies the
// snapshot (the guest resumes where it was and the write is gone); has a
// disk hot-plugged; reboots (the guest answers the ACPI power button and
// boots again); refuses a memory change while it runs; shuts down by ACPI;
// gets more memory while off; and is destroyed. libvirt's view of the
// domain agrees at each step.
func TestVirtLibvirt(t *testing.T) {
	libvirtdtest.Start(t)
	guest := libvirtdtest.NewGuest(t)
	name := libvirtDomainName(t, "hcv")
	virsh := func(args ...string) string {
		out, _ := runVirsh(args...)
		return strings.TrimSpace(string(out))
	}
	s := newVirtServer(t, "--hypervisor", "libvirt", "--libvirt-domain-type", "qemu", "--virt-boot-dir", guest.Dir)
	begin := time.Now()
	host, vsms, snapsvc := s.discoverVSMS()
	if got := s.gi(vsms).str("Backend"); got != "libvirt" {
		t.Fatalf("Backend %q", got)
	}
	proc := s.defaultTemplate(host, 3)
	mem := s.defaultTemplate(host, 4)
	disk := s.defaultTemplate(host, 31)
	nic := s.defaultTemplate(host, 10)
	r := s.call(vsms, "DefineSystem",
		param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", name), pstr("VirtualSystemType", "DMTF:KVM"),
			pstr("KernelPath", guest.Kernel), pstr("InitrdPath", guest.Initrd),
			pstr("KernelCommandLine", linuxguest.Cmdline(linuxguest.Boot{Mode: linuxguest.ModeServe})))},
		param{"ResourceSettings", strings.Join([]string{
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(proc, pu64("VirtualQuantity", 2))...),
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(mem, pu64("VirtualQuantity", 128))...),
			embedded("CIM_StorageAllocationSettingData", fromTemplate(disk, pu64("VirtualQuantity", 64<<20),
				pstr("ImageSubformat", "monolithicFlat"))...),
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(nic)...),
		}, ",")})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	uuid := keyOf(vm, "Name")
	if got := virsh("domuuid", name); got != uuid {
		t.Fatalf("libvirt does not know the system: %s", got)
	}
	devices, _, vssd := s.checkSystem(vm, 3)
	if devices["HC_Processor"] != 2 || devices["HC_LogicalDisk"] != 1 || devices["HC_EthernetPort"] != 1 {
		t.Fatalf("devices after DefineSystem: %v", devices)
	}
	domstate := func(want string) {
		t.Helper()
		if got := virsh("domstate", name); got != want {
			t.Fatalf("libvirt says %q, want %q", got, want)
		}
	}

	// Start: the kernel boots and the guest reports its new, empty disk.
	s.finish("start", s.call(vm, "RequestStateChange", param{"RequestedState", "2"}))
	s.checkSystem(vm, 2)
	domstate("running")
	con := s.console(uuid)
	empty := guestDisk("vda", 64<<20, nil)
	if line := con.expect(linuxguest.Prefix + "disk vda "); line != empty {
		t.Fatalf("the guest reports %q, want %q", line, empty)
	}
	con.expect(linuxguest.MarkerReady)
	t.Logf("booted to the guest's marker %v after discovery began", time.Since(begin).Round(time.Millisecond))
	s.checkCaps(vm, []uint16{2, 3}, true)

	for _, step := range []struct {
		to, want uint64
		libvirt  string
	}{{9, 9, "paused"}, {2, 2, "running"}} {
		if r := s.call(vm, "RequestStateChange", param{"RequestedState", fmt.Sprint(step.to)}); r.rc != 0 {
			t.Fatalf("RequestStateChange(%d): %d %s", step.to, r.rc, r.errMsg)
		}
		s.checkSystem(vm, step.want)
		domstate(step.libvirt)
	}
	if line := con.cmd("echo alive", linuxguest.Prefix+"echo"); line != linuxguest.Prefix+"echo alive" {
		t.Fatalf("after resume the guest says %q", line)
	}
	before := map[int]string{1: "before-snapshot"}
	con.write("vda", 1, before[1], guestDisk("vda", 64<<20, before))

	// A full snapshot of the running system: libvirt saves and restores
	// it; it goes on, on a VMDK delta of its now read-only image.
	r = s.call(snapsvc, "CreateSnapshot", s.ref("AffectedSystem", vm), param{"SnapshotType", "2"},
		param{"SnapshotSettings", embedded("CIM_SettingData", pstr("ElementName", "before the write"))})
	s.finish("CreateSnapshot", r)
	snaps := s.ain(vm, "CIM_SnapshotOfVirtualSystem")
	if len(snaps) != 1 {
		t.Fatalf("snapshots: %v", snaps)
	}
	snap := snaps[0]
	s.checkSystem(vm, 2)
	domstate("running")
	if line := con.cmd("echo still here", linuxguest.Prefix+"echo"); line != linuxguest.Prefix+"echo still here" {
		t.Fatalf("after the snapshot the guest says %q", line)
	}
	// QEMU opens the delta and its flat parent with the vmdk driver.
	if out := virsh("dumpxml", name); strings.Count(out, "<format type='vmdk'/>") != 1 || !strings.Contains(out, "<driver name='qemu' type='vmdk'") {
		t.Fatalf("libvirt's disk after the snapshot:\n%s", out)
	}

	// The disk is a sparse delta now, which QEMU cannot save while the
	// system runs: the capabilities say so, and the methods refuse.
	s.checkCaps(vm, []uint16{}, false)
	for _, c := range []struct {
		path, method string
		ps           []param
	}{
		{snapsvc, "CreateSnapshot", []param{s.ref("AffectedSystem", vm), {"SnapshotType", "3"}}},
		{vm, "RequestStateChange", []param{{"RequestedState", "6"}}},
	} {
		if r := s.call(c.path, c.method, c.ps...); r.rc != 1 || !strings.Contains(r.errMsg, "vmdk driver") || !strings.Contains(r.errMsg, "Shut the machine down") {
			t.Fatalf("%s while the disk is a sparse delta: %d %q, want 1 (Not Supported) saying why", c.method, r.rc, r.errMsg)
		}
	}
	s.checkSystem(vm, 2)

	// A write the snapshot does not have, then apply: the guest resumes
	// where the snapshot was taken, and reads its disk without the write.
	after := map[int]string{1: "after-snapshot"}
	con.write("vda", 1, after[1], guestDisk("vda", 64<<20, after))
	con.read("vda", 1, after[1])
	s.finish("ApplySnapshot", s.call(snapsvc, "ApplySnapshot", s.ref("Snapshot", snap)))
	s.checkSystem(vm, 2)
	domstate("running")
	con.read("vda", 1, before[1])
	if got := s.ain(vm, "CIM_LastAppliedSnapshot"); len(got) != 1 || got[0] != snap {
		t.Fatalf("last applied snapshot: %v", got)
	}

	// A second disk, hot-plugged into the running guest.
	r = s.call(vsms, "AddResourceSettings", s.ref("AffectedConfiguration", vssd),
		param{"ResourceSettings", embedded("HC_StorageAllocationSettingData", fromTemplate(disk, pu64("VirtualQuantity", 32<<20))...)})
	if r.rc != 0 {
		t.Fatalf("AddResourceSettings: %d %s", r.rc, r.errMsg)
	}
	if devices, _, _ := s.checkSystem(vm, 2); devices["HC_LogicalDisk"] != 2 {
		t.Fatalf("devices after the hot-plug: %v", devices)
	}
	if line := con.cmd(linuxguest.CommandWaitDisk+" vdb", linuxguest.Prefix+"disk vdb "); line != guestDisk("vdb", 32<<20, nil) {
		t.Fatalf("the guest sees the new disk as %q", line)
	}
	if out := virsh("domblklist", name); strings.Count(out, "/virt/images/") != 2 {
		t.Fatalf("libvirt's disks after the hot-plug:\n%s", out)
	}

	// Reboot: the guest powers off at the ACPI power button and boots
	// again, with both disks.
	s.finish("reboot", s.call(vm, "RequestStateChange", param{"RequestedState", "10"}))
	con.expect(linuxguest.MarkerPowerButton)
	s.checkSystem(vm, 2)
	domstate("running")
	con = s.console(uuid)
	con.retry(linuxguest.CommandEcho+" rebooted", linuxguest.Prefix+"echo rebooted")
	if line := con.cmd(linuxguest.CommandWaitDisk+" vdb", linuxguest.Prefix+"disk vdb "); line != guestDisk("vdb", 32<<20, nil) {
		t.Fatalf("after the reboot the guest sees the second disk as %q", line)
	}
	t.Logf("rebooted %v after discovery began", time.Since(begin).Round(time.Millisecond))

	// Memory changes while the system is off, not while it runs.
	memRASD := s.allocation(vm, 4)
	bigger := embedded("HC_ResourceAllocationSettingData", pstr("InstanceID", keyOf(memRASD, "InstanceID")),
		pu16("ResourceType", 4), pu64("VirtualQuantity", 160), pstr("AllocationUnits", "byte*2^20"))
	if r := s.call(vsms, "ModifyResourceSettings", param{"ResourceSettings", bigger}); r.rc != 5 || !strings.Contains(r.errMsg, "stopped") {
		t.Fatalf("memory change of a running system: %d %s", r.rc, r.errMsg)
	}

	// Graceful shutdown: the ACPI power button, which the guest answers.
	s.finish("shutdown", s.call(vm, "RequestStateChange", param{"RequestedState", "4"}))
	con.expect(linuxguest.MarkerPowerButton)
	s.checkSystem(vm, 3)
	domstate("shut off")
	s.checkCaps(vm, []uint16{2, 3}, false)

	if r := s.call(vsms, "ModifyResourceSettings", param{"ResourceSettings", bigger}); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings of a stopped system: %d %s", r.rc, r.errMsg)
	}
	if p := s.gi(memRASD); p.num("VirtualQuantity") != 160 {
		t.Fatalf("memory allocation after the change: %v", p)
	}
	if out := virsh("dominfo", name); !regexp.MustCompile(`Max memory:\s+163840 KiB`).MatchString(out) {
		t.Fatalf("libvirt's domain after the memory change:\n%s", out)
	}
	s.checkSystem(vm, 3)

	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", vm)); r.rc != 0 {
		t.Fatalf("DestroySystem: %d %s", r.rc, r.errMsg)
	}
	if out, err := runVirsh("domuuid", name); err == nil {
		t.Fatalf("libvirt still has the domain: %s", out)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "virt", "images")); len(entries) != 0 {
		t.Fatalf("images left in the pool: %d", len(entries))
	}
	t.Logf("scenario done in %v", time.Since(begin).Round(time.Millisecond))
}

// checkCaps checks a system's HC_VirtualSystemSnapshotCapabilities
// (SnapshotTypesEnabled) and whether its AvailableRequestedStates and
// HC_EnabledLogicalElementCapabilities offer 6 (save).
func (s *virtServer) checkCaps(vm string, snapshotTypes []uint16, canSave bool) {
	s.t.Helper()
	var snapCaps, stateCaps string
	for _, c := range s.ain(vm, "CIM_ElementCapabilities") {
		switch classOf(c) {
		case "HC_VirtualSystemSnapshotCapabilities":
			snapCaps = c
		case "HC_EnabledLogicalElementCapabilities":
			stateCaps = c
		}
	}
	if snapCaps == "" || stateCaps == "" {
		s.t.Fatalf("capabilities of %s: snapshot %q, state %q", vm, snapCaps, stateCaps)
	}
	array := func(p props, name string) []uint16 {
		s.t.Helper()
		v, ok := p[name]
		if !ok {
			s.t.Fatalf("no %s in %v", name, p)
		}
		return uint16s(v)
	}
	if got := array(s.gi(snapCaps), "SnapshotTypesEnabled"); !slices.Equal(got, snapshotTypes) {
		s.t.Fatalf("SnapshotTypesEnabled %v, want %v", got, snapshotTypes)
	}
	for _, got := range [][]uint16{array(s.gi(vm), "AvailableRequestedStates"), array(s.gi(stateCaps), "RequestedStatesSupported")} {
		if len(got) == 0 || slices.Contains(got, 6) != canSave {
			s.t.Fatalf("requested states %v: offering 6 (save) should be %v", got, canSave)
		}
	}
}

// uint16s parses an array property as wbemcli prints it: "2,3", or empty.
func uint16s(v string) []uint16 {
	out := []uint16{}
	for _, f := range strings.Split(strings.Trim(v, `"`), ",") {
		var n uint16
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// guestDisk is the line the Linux guest prints for a disk of size bytes
// that reads as zeros but for the texts written at the given sectors.
func guestDisk(name string, size int, writes map[int]string) string {
	b := make([]byte, linuxguest.DefaultSumSectors*512)
	for sector, text := range writes {
		copy(b[sector*512:], text)
	}
	sum := md5.Sum(b)
	return fmt.Sprintf("%sdisk %s sectors=%d md5=%s", linuxguest.Prefix, name, size/512, hex.EncodeToString(sum[:]))
}

// write has the Linux guest write text at a sector of a disk and checks
// the disk line it reports afterwards.
func (c *console) write(disk string, sector int, text, want string) {
	c.t.Helper()
	if line := c.cmd(fmt.Sprintf("%s %s %d %s", linuxguest.CommandWrite, disk, sector, text), linuxguest.Prefix+"disk "+disk); line != want {
		c.t.Fatalf("after writing %q the guest reports %q, want %q", text, line, want)
	}
	c.expect(linuxguest.Prefix + "ok write")
}

// read has the Linux guest read a sector from the device and checks it
// starts with text.
func (c *console) read(disk string, sector int, text string) {
	c.t.Helper()
	prefix := fmt.Sprintf("%sread %s %d ", linuxguest.Prefix, disk, sector)
	if line := c.cmd(fmt.Sprintf("%s %s %d", linuxguest.CommandRead, disk, sector), prefix); !strings.HasPrefix(line, prefix+hexOf(text)) {
		c.t.Fatalf("the guest reads %q, want %q", line, text)
	}
	c.expect(linuxguest.Prefix + "ok read")
}

// libvirtDomainName returns a new domain name starting with prefix, and
// destroys and undefines that domain when the test ends, so that a failed
// run leaves nothing behind in the system libvirtd.
func libvirtDomainName(t testing.TB, prefix string) string {
	var tag [4]byte
	rand.Read(tag[:])
	name := fmt.Sprintf("%s-%x", prefix, tag)
	t.Cleanup(func() {
		runVirsh("destroy", name)
		runVirsh("undefine", name)
	})
	return name
}

// runVirsh runs virsh on the system libvirtd.
func runVirsh(args ...string) ([]byte, error) {
	return exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).CombinedOutput()
}
