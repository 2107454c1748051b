package conformance

import (
	"crypto/rand"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
)

// TestVirtLibvirt runs the CIM scenario on the libvirt engine (QEMU in
// software emulation here): the same classes, methods, states and return
// codes as on the kvm engine. The guest is hypercim's test guest, which
// QEMU boots like a kernel; its disk is a flat VMDK (QEMU's vmdk driver
// cannot save a running machine with sparse ones), and it has one vCPU:
// the test guest's application processors do not always come up under
// QEMU's software emulation.
func TestVirtLibvirt(t *testing.T) {
	libvirtdtest.Start(t)
	var tag [4]byte
	rand.Read(tag[:])
	name := fmt.Sprintf("hcv-%x", tag)
	t.Cleanup(func() { // a failed run must not leave its domain behind
		exec.Command("virsh", "-c", "qemu:///system", "destroy", name).Run()
		exec.Command("virsh", "-c", "qemu:///system", "undefine", name).Run()
	})
	s := newVirtServer(t, "--hypervisor", "libvirt", "--libvirt-domain-type", "qemu")
	host, vsms, snapsvc := s.discoverVSMS()
	if got := s.gi(vsms).str("Backend"); got != "libvirt" {
		t.Fatalf("Backend %q", got)
	}
	disk := s.defaultTemplate(host, 31)
	guest := filepath.Join(s.bin, "hypercim-testguest")
	r := s.call(vsms, "DefineSystem",
		param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", name),
			pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))},
		param{"ResourceSettings", strings.Join([]string{
			embedded("CIM_ResourceAllocationSettingData", pu16("ResourceType", 4), pu64("VirtualQuantity", 64)),
			embedded("HC_StorageAllocationSettingData", fromTemplate(disk, pu64("VirtualQuantity", 64<<20),
				pstr("ImageSubformat", "monolithicFlat"))...),
			embedded("CIM_ResourceAllocationSettingData", pu16("ResourceType", 10)),
		}, ",")})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	uuid := keyOf(vm, "Name")
	if out, err := exec.Command("virsh", "-c", "qemu:///system", "domuuid", name).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != uuid {
		t.Fatalf("libvirt does not know the system: %s %v", out, err)
	}
	s.checkSystem(vm, 3)

	s.finish("start", s.call(vm, "RequestStateChange", param{"RequestedState", "2"}))
	s.checkSystem(vm, 2)
	con := s.console(uuid)
	if line := con.expect("testguest: cpus="); line != "testguest: cpus=1 disks=1" {
		t.Fatalf("guest: %q", line)
	}
	con.expect("testguest: ready")
	if line := con.cmd("crc 0 0 64", "crc="); line != "crc=011ffca6" {
		t.Fatalf("guest reads its new disk as %q", line)
	}
	con.cmd("write 0 1 on-libvirt", "")
	if line := con.cmd("read 0 1", "crc="); !strings.Contains(line, hexOf("on-libvirt")) {
		t.Fatalf("guest write: %q", line)
	}
	for _, step := range []struct{ to, want uint64 }{{9, 9}, {2, 2}, {11, 2}} {
		if r := s.call(vm, "RequestStateChange", param{"RequestedState", fmt.Sprint(step.to)}); r.rc != 0 {
			t.Fatalf("RequestStateChange(%d): %d %s", step.to, r.rc, r.errMsg)
		}
		s.checkSystem(vm, step.want)
	}
	con.expect("testguest: ready") // the reset booted it again

	// A full snapshot of the running system: it pauses, its state goes to
	// disk, it continues on a VMDK delta.
	r = s.call(snapsvc, "CreateSnapshot", param{"SnapshotType", "2"}, s.ref("AffectedSystem", vm))
	s.finish("CreateSnapshot", r)
	s.checkSystem(vm, 2)
	if got := s.ain(vm, "CIM_SnapshotOfVirtualSystem"); len(got) != 1 {
		t.Fatalf("snapshots: %v", got)
	}
	if line := con.cmd("echo after-snapshot", "after-snapshot"); line != "after-snapshot" {
		t.Fatalf("guest after the snapshot: %q", line)
	}

	// Hot-plug a disk, memory while off, destroy.
	vssd := s.ain(vm, "CIM_SettingsDefineState")[0]
	r = s.call(vsms, "AddResourceSettings", param{"ResourceSettings",
		embedded("HC_StorageAllocationSettingData", fromTemplate(disk, pu64("VirtualQuantity", 32<<20), pstr("ImageSubformat", "monolithicFlat"))...)},
		s.ref("AffectedConfiguration", vssd))
	if r.rc != 0 {
		t.Fatalf("AddResourceSettings: %d %s", r.rc, r.errMsg)
	}
	if devices, _, _ := s.checkSystem(vm, 2); devices["HC_LogicalDisk"] != 2 {
		t.Fatalf("devices after the hot-plug: %v", devices)
	}
	// The test guest does not assign PCI resources to a device QEMU
	// hot-plugs, so libvirt's view of the domain is what is checked.
	if out, _ := exec.Command("virsh", "-c", "qemu:///system", "domblklist", name).CombinedOutput(); strings.Count(string(out), "/virt/images/") != 2 {
		t.Fatalf("libvirt's disks after the hot-plug:\n%s", out)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off: %d %s", r.rc, r.errMsg)
	}
	s.checkSystem(vm, 3)
	var mem string
	for _, a := range s.ain(vssd, "CIM_VirtualSystemSettingDataComponent") {
		if s.gi(a).num("ResourceType") == 4 {
			mem = a
		}
	}
	if r := s.call(vsms, "ModifyResourceSettings", param{"ResourceSettings", embedded("HC_ResourceAllocationSettingData",
		pstr("InstanceID", keyOf(mem, "InstanceID")), pu64("VirtualQuantity", 96))}); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings: %d %s", r.rc, r.errMsg)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000200.000000:000"}); r.rc != 0 {
		t.Fatalf("start: %d %s", r.rc, r.errMsg)
	}
	con.expect("testguest: ready")
	if line := con.cmd("mem", "ram="); ramMiB(line) < 90 || ramMiB(line) > 96 {
		t.Fatalf("guest memory %q", line)
	}
	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", vm)); r.rc != 0 {
		t.Fatalf("DestroySystem: %d %s", r.rc, r.errMsg)
	}
	if out, err := exec.Command("virsh", "-c", "qemu:///system", "domuuid", name).CombinedOutput(); err == nil {
		t.Fatalf("libvirt still has the domain: %s", out)
	}
}
