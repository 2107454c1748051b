package conformance

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestVirtBadInput: with wbemcli, every method refuses bad input with its
// DMTF return code and a CIM_Error (output parameter Error) that says
// what is wrong, and the server keeps working.
func TestVirtBadInput(t *testing.T) {
	s := newVirtServer(t)
	host, vsms, snapsvc := s.discoverVSMS()
	_ = host
	guest := filepath.Join(s.bin, "hypercim-testguest")
	vssd := func(name string) param {
		return param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", name),
			pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))}
	}
	rasd := func(class string, ps ...prop) param { return param{"ResourceSettings", embedded(class, ps...)} }
	r := s.call(vsms, "DefineSystem", vssd("victim"))
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	vmVSSD := s.ain(vm, "CIM_SettingsDefineState")[0]
	ghost := strings.Replace(vm, keyOf(vm, "Name"), "00000000-0000-4000-8000-000000000000", 1)

	cases := []struct {
		name, path, method string
		params             []param
		rc                 uint64
		msg                string
	}{
		{"unknown system", vsms, "DestroySystem", []param{s.ref("AffectedSystem", ghost)}, 4, "does not exist"},
		{"unknown snapshot", snapsvc, "ApplySnapshot", []param{s.ref("Snapshot", strings.Replace(vmVSSD, keyOf(vm, "Name"), "00000000-0000-4000-8000-000000000000", 1))}, 4, "does not exist"},
		{"settings that are no snapshot", snapsvc, "DestroySnapshot", []param{s.ref("AffectedSnapshot", vmVSSD)}, 4, "not a snapshot"},
		{"wrong ResourceType", vsms, "DefineSystem", []param{vssd("x1"), rasd("CIM_ResourceAllocationSettingData", pu16("ResourceType", 24))}, 4, "ResourceType 24"},
		{"negative quantity", vsms, "DefineSystem", []param{vssd("x2"), rasd("CIM_ResourceAllocationSettingData", pu16("ResourceType", 4),
			prop{name: "VirtualQuantity", typ: "sint64", values: []string{"-64"}})}, 4, "negative"},
		{"zero processors", vsms, "DefineSystem", []param{vssd("x3"), rasd("CIM_ResourceAllocationSettingData", pu16("ResourceType", 3), pu64("VirtualQuantity", 0))}, 4, "processors"},
		{"disk outside the pool", vsms, "AddResourceSettings", []param{rasd("CIM_StorageAllocationSettingData", pu16("ResourceType", 31), pstrs("HostResource", "/etc/passwd")), s.ref("AffectedConfiguration", vmVSSD)}, 4, "outside the storage pool"},
		{"disk escaping the pool", vsms, "AddResourceSettings", []param{rasd("CIM_StorageAllocationSettingData", pu16("ResourceType", 31), pu64("VirtualQuantity", 1<<20), pstrs("HostResource", "../../escape.vmdk")), s.ref("AffectedConfiguration", vmVSSD)}, 4, "outside the storage pool"},
		{"kernel outside the boot directories", vsms, "DefineSystem", []param{{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", "x4"), pstr("KernelPath", "/etc/shadow"))}}, 4, "outside the boot directories"},
		{"unsupported system type", vsms, "DefineSystem", []param{{"SystemSettings", embedded("CIM_VirtualSystemSettingData", pstr("ElementName", "x5"), pstr("VirtualSystemType", "DMTF:VMware:vmx-07"))}}, 4, "VirtualSystemType"},
		{"same name twice", vsms, "DefineSystem", []param{vssd("victim")}, 4, "exists already"},
		{"pause what is off", vm, "RequestStateChange", []param{{"RequestedState", "9"}}, 4097, "cannot pause"},
		{"reboot what is off", vm, "RequestStateChange", []param{{"RequestedState", "10"}}, 4097, "cannot reboot"},
		{"state that is not one", vm, "RequestStateChange", []param{{"RequestedState", "42"}}, 5, "requested state 42"},
		{"Test state", vm, "RequestStateChange", []param{{"RequestedState", "7"}}, 1, "not supported"},
		{"bad snapshot type", snapsvc, "CreateSnapshot", []param{{"SnapshotType", "7"}, s.ref("AffectedSystem", vm)}, 6, "SnapshotType 7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.call(c.path, c.method, c.params...)
			if r.rc != c.rc || !strings.Contains(r.errMsg, c.msg) {
				t.Fatalf("%s: rc %d, CIM_Error %q; want %d and %q", c.method, r.rc, r.errMsg, c.rc, c.msg)
			}
		})
	}
	if got := s.ein("HC_ComputerSystem"); len(got) != 1 {
		t.Fatalf("systems after the refused calls: %v", got)
	}
	if _, err := s.wbemcli(true, "cm", s.url(ghost), "RequestStateChange.RequestedState=2"); err == nil || !strings.Contains(err.Error(), "CIM_ERR_NOT_FOUND") {
		t.Fatalf("a method on a missing system: %v", err)
	}
}

// TestVirtConflicts: requests that race for one system or one name get
// the DMTF busy codes, not a queue and not a half-done state.
func TestVirtConflicts(t *testing.T) {
	s := newVirtServer(t)
	_, vsms, _ := s.discoverVSMS()
	guest := filepath.Join(s.bin, "hypercim-testguest")
	define := func(name string) methodResult {
		return s.call(vsms, "DefineSystem", param{"SystemSettings", embedded("HC_VirtualSystemSettingData",
			pstr("ElementName", name), pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))})
	}
	// Two clients define a system of the same name at once: one wins.
	var wg sync.WaitGroup
	results := make([]methodResult, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = define("contested")
		}()
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		switch {
		case r.rc == 0:
			won++
		case r.rc != 4 || !strings.Contains(r.errMsg, "exists already"):
			t.Fatalf("losing definition: %d %s", r.rc, r.errMsg)
		}
	}
	if won != 1 || len(s.ein("HC_ComputerSystem")) != 1 {
		t.Fatalf("%d definitions won, %d systems exist", won, len(s.ein("HC_ComputerSystem")))
	}

	// A graceful shutdown the guest ignores holds the system: other
	// requests are refused as busy until the job is terminated.
	vm := s.ein("HC_ComputerSystem")[0]
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000130.000000:000"}); r.rc != 0 {
		t.Fatalf("start: %d %s", r.rc, r.errMsg)
	}
	con := s.console(keyOf(vm, "Name"))
	con.expect("testguest: ready")
	con.cmd("halt", "ok")
	r := s.call(vm, "RequestStateChange", param{"RequestedState", "4"})
	if r.rc != 4096 {
		t.Fatalf("shutdown: %d %s", r.rc, r.errMsg)
	}
	job := r.refs["Job"][0]
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 4099 || !strings.Contains(r.errMsg, "busy") {
		t.Fatalf("turn off during the shutdown: %d %s", r.rc, r.errMsg)
	}
	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", vm)); r.rc != 5 || !strings.Contains(r.errMsg, "busy") {
		t.Fatalf("destroy during the shutdown: %d %s", r.rc, r.errMsg)
	}
	if j := s.gi(job); j.num("JobState") != 4 {
		t.Fatalf("the shutdown job: %v", j)
	}
	if r := s.call(job, "RequestStateChange", param{"RequestedState", "4"}); r.rc != 0 {
		t.Fatalf("terminating the job: %d", r.rc)
	}
	if j := s.gi(job); j.num("JobState") != 8 {
		t.Fatalf("terminated job: %v", j)
	}
	r = s.call(job, "GetError")
	if r.rc != 0 || !strings.Contains(r.errMsg, "terminated") {
		t.Fatalf("GetError of the terminated job: %d %q", r.rc, r.errMsg)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off after the termination: %d %s", r.rc, r.errMsg)
	}
	if got := s.gi(vm).num("EnabledState"); got != 3 {
		t.Fatalf("EnabledState %d", got)
	}
}
