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
// codes as on the kvm engine, and libvirt's view of the domain agreeing
// at each step. The guest is hypercim's test guest, which QEMU boots like
// a kernel; its disk is a flat VMDK (QEMU's vmdk driver cannot save a
// running machine with sparse ones).
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
	if out, err := exec.Command("virsh", "-c", "qemu:///system", "domuuid", name).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != keyOf(vm, "Name") {
		t.Fatalf("libvirt does not know the system: %s %v", out, err)
	}
	s.checkSystem(vm, 3)

	virsh := func(args ...string) string {
		out, _ := exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	// libvirt's view agrees with the CIM state after each change. (The
	// test guest's own output is not checked here: under QEMU's software
	// emulation it boots too unevenly for a reliable test; the kvm tests
	// check the guest.)
	s.finish("start", s.call(vm, "RequestStateChange", param{"RequestedState", "2"}))
	s.checkSystem(vm, 2)
	if got := virsh("domstate", name); got != "running" {
		t.Fatalf("libvirt says %q after start", got)
	}
	for _, step := range []struct {
		to, want uint64
		libvirt  string
	}{{9, 9, "paused"}, {2, 2, "running"}, {11, 2, "running"}} {
		if r := s.call(vm, "RequestStateChange", param{"RequestedState", fmt.Sprint(step.to)}); r.rc != 0 {
			t.Fatalf("RequestStateChange(%d): %d %s", step.to, r.rc, r.errMsg)
		}
		s.checkSystem(vm, step.want)
		if got := virsh("domstate", name); got != step.libvirt {
			t.Fatalf("libvirt says %q after RequestStateChange(%d)", got, step.to)
		}
	}

	// A full snapshot of the running system: it pauses, its state goes to
	// disk, it continues on a VMDK delta.
	r = s.call(snapsvc, "CreateSnapshot", param{"SnapshotType", "2"}, s.ref("AffectedSystem", vm))
	s.finish("CreateSnapshot", r)
	s.checkSystem(vm, 2)
	if got := s.ain(vm, "CIM_SnapshotOfVirtualSystem"); len(got) != 1 {
		t.Fatalf("snapshots: %v", got)
	}
	if got := virsh("domstate", name); got != "running" {
		t.Fatalf("libvirt says %q after the snapshot", got)
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
	if out := virsh("domblklist", name); strings.Count(out, "/virt/images/") != 2 {
		t.Fatalf("libvirt's disks after the hot-plug:\n%s", out)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off: %d %s", r.rc, r.errMsg)
	}
	s.checkSystem(vm, 3)
	if got := virsh("domstate", name); got != "shut off" {
		t.Fatalf("libvirt says %q after turning off", got)
	}
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
	if got := virsh("dominfo", name); !strings.Contains(got, "98304 KiB") {
		t.Fatalf("libvirt's memory after the change:\n%s", got)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000200.000000:000"}); r.rc != 0 {
		t.Fatalf("start: %d %s", r.rc, r.errMsg)
	}
	s.checkSystem(vm, 2)
	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", vm)); r.rc != 0 {
		t.Fatalf("DestroySystem: %d %s", r.rc, r.errMsg)
	}
	if out, err := exec.Command("virsh", "-c", "qemu:///system", "domuuid", name).CombinedOutput(); err == nil {
		t.Fatalf("libvirt still has the domain: %s", out)
	}
}
