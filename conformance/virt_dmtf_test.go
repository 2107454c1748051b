package conformance

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestVirtPureDMTF: a client that knows only the DMTF classes defines a
// system from a CIM_VirtualSystemSettingData and CIM_ResourceAllocationSettingData
// instances (no HC_ class, no hypercim property); the server's
// --virt-default-kernel boots it.
func TestVirtPureDMTF(t *testing.T) {
	bin, err := virtBinaries()
	if err != nil {
		t.Fatal(err)
	}
	guest := filepath.Join(bin, "hypercim-testguest")
	s := newVirtServer(t, "--virt-default-kernel", guest, "--virt-default-cmdline", "testguest.interactive")
	_, vsms, _ := s.discoverVSMS()
	rasd := func(ps ...prop) string { return embedded("CIM_ResourceAllocationSettingData", ps...) }
	r := s.call(vsms, "DefineSystem",
		param{"SystemSettings", embedded("CIM_VirtualSystemSettingData", pstr("ElementName", "dmtf-only"), pstr("VirtualSystemType", "DMTF:KVM"))},
		param{"ResourceSettings", strings.Join([]string{
			rasd(pu16("ResourceType", 3), pu64("VirtualQuantity", 2)),
			rasd(pu16("ResourceType", 4), pu64("VirtualQuantity", 32), pstr("AllocationUnits", "byte*2^20")),
			rasd(pu16("ResourceType", 17), pstr("InstanceID", "drive")),
			rasd(pu16("ResourceType", 31), pu64("VirtualQuantity", 8), pstr("AllocationUnits", "byte*2^20"),
				pstr("Parent", `root/virt:CIM_ResourceAllocationSettingData.InstanceID="drive"`)),
			rasd(pu16("ResourceType", 10)),
		}, ",")})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	devices, rasds, vssd := s.checkSystem(vm, 3)
	if devices["HC_Processor"] != 2 || devices["HC_Memory"] != 1 || devices["HC_LogicalDisk"] != 1 || devices["HC_EthernetPort"] != 1 {
		t.Fatalf("devices: %v", devices)
	}
	if rasds["HC_ResourceAllocationSettingData"] != 4 || rasds["HC_StorageAllocationSettingData"] != 1 {
		t.Fatalf("allocations: %v", rasds)
	}
	if p := s.gi(vssd); p.str("ElementName") != "dmtf-only" || p.str("KernelPath") != guest || p.str("VirtualSystemType") != "DMTF:KVM" {
		t.Fatalf("settings: %v", p)
	}

	// Started through RequestStateChange alone, it boots the default kernel.
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000130.000000:000"}); r.rc != 0 {
		t.Fatalf("start: %d %s", r.rc, r.errMsg)
	}
	s.checkSystem(vm, 2)
	con := s.console(keyOf(vm, "Name"))
	if line := con.expect("testguest: cpus="); line != "testguest: cpus=2 disks=1" {
		t.Fatalf("the guest reports %q", line)
	}
	con.expect("testguest: ready")
	if line := con.cmd("disks", "disk0 sectors="); !strings.HasPrefix(line, "disk0 sectors=16384 ") {
		t.Fatalf("the guest's disk: %q", line)
	}
	if line := con.cmd("mem", "ram="); ramMiB(line) < 28 || ramMiB(line) > 32 {
		t.Fatalf("the guest's memory: %q", line)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off: %d %s", r.rc, r.errMsg)
	}
	s.checkSystem(vm, 3)
}
