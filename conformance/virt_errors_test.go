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
	uuid := keyOf(vm, "Name")
	allocation := func(id string) param {
		return refArray("ResourceSettings", `root/virt:HC_ResourceAllocationSettingData.InstanceID="`+id+`"`)
	}
	settings := func(ps ...prop) param {
		return param{"SystemSettings", embedded("CIM_VirtualSystemSettingData", ps...)}
	}
	ownID := pstr("InstanceID", keyOf(vmVSSD, "InstanceID"))
	procTemplate := s.defaultTemplate(host, 3).str("InstanceID")

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
		{"settings of no system", vsms, "ModifySystemSettings", []param{settings(pstr("InstanceID", "HC:00000000-0000-4000-8000-000000000000"), pstr("ElementName", "x6"))}, 4, "does not exist"},
		{"settings without InstanceID", vsms, "ModifySystemSettings", []param{settings(pstr("ElementName", "x7"))}, 4, "no InstanceID"},
		{"startup action that is not one", vsms, "ModifySystemSettings", []param{settings(ownID, pu16("AutomaticStartupAction", 9))}, 4, "AutomaticStartupAction 9"},
		{"identifier changed", vsms, "ModifySystemSettings", []param{settings(ownID, pstr("VirtualSystemIdentifier", "00000000-0000-4000-8000-000000000000"))}, 4, "cannot change"},
		{"no settings", vsms, "ModifySystemSettings", nil, 4, "SystemSettings"},
		{"remove from no system", vsms, "RemoveResourceSettings", []param{allocation("HC:00000000-0000-4000-8000-000000000000/disk0")}, 4, "belongs to no virtual system"},
		{"remove a device the system lacks", vsms, "RemoveResourceSettings", []param{allocation("HC:" + uuid + "/disk7")}, 4, "does not exist"},
		{"remove the processors", vsms, "RemoveResourceSettings", []param{allocation("HC:" + uuid + "/proc")}, 4, "cannot be removed"},
		{"remove the memory", vsms, "RemoveResourceSettings", []param{allocation("HC:" + uuid + "/mem")}, 4, "cannot be removed"},
		{"remove a template", vsms, "RemoveResourceSettings", []param{allocation(procTemplate)}, 4, "is a template"},
		{"remove a system", vsms, "RemoveResourceSettings", []param{refArray("ResourceSettings", vm)}, 4, "not a CIM_ResourceAllocationSettingData"},
		{"remove nothing", vsms, "RemoveResourceSettings", nil, 4, "ResourceSettings"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.call(c.path, c.method, c.params...)
			if r.rc != c.rc || !strings.Contains(r.errMsg, c.msg) || !s.isA(r.errClass, "CIM_Error") {
				t.Fatalf("%s: rc %d, %s %q; want %d and a CIM_Error saying %q", c.method, r.rc, r.errClass, r.errMsg, c.rc, c.msg)
			}
		})
	}
	// An embedded instance of the wrong class is refused before the
	// method runs, by the parameter's EmbeddedInstance qualifier.
	wrongClass := methodArg("ModifySystemSettings", []param{{"SystemSettings", embedded("CIM_ResourceAllocationSettingData", ownID, pu16("ResourceType", 4))}})
	if out, _ := s.wbemcli(false, "cmx", s.url(vsms), wrongClass); !strings.Contains(out, `<ERROR CODE="4"`) || !strings.Contains(out, "not a CIM_VirtualSystemSettingData") {
		t.Fatalf("ModifySystemSettings with a CIM_ResourceAllocationSettingData: %s", out)
	}
	if got := s.ein("HC_ComputerSystem"); len(got) != 1 {
		t.Fatalf("systems after the refused calls: %v", got)
	}
	if p := s.gi(vm); p.str("ElementName") != "victim" {
		t.Fatalf("the system after the refused calls: %v", p)
	}
	if got := byClass(s.ain(vmVSSD, "CIM_VirtualSystemSettingDataComponent")); got["HC_ResourceAllocationSettingData"] != 2 {
		t.Fatalf("allocations after the refused calls: %v", got)
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
			pstr("ElementName", name), pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))},
			param{"ResourceSettings", embedded("CIM_ResourceAllocationSettingData", pu16("ResourceType", 10))})
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
	vssd := s.ain(vm, "CIM_SettingsDefineState")[0]
	rename := param{"SystemSettings", embedded("CIM_VirtualSystemSettingData", pstr("InstanceID", keyOf(vssd, "InstanceID")), pstr("ElementName", "renamed"))}
	if r := s.call(vsms, "ModifySystemSettings", rename); r.rc != 5 || !strings.Contains(r.errMsg, "busy") {
		t.Fatalf("rename during the shutdown: %d %s", r.rc, r.errMsg)
	}
	if n := byClass(s.ain(vm, "CIM_SystemDevice"))["HC_EthernetPort"]; n != 1 {
		t.Fatalf("%d Ethernet ports", n)
	}
	adapter := refArray("ResourceSettings", `root/virt:HC_ResourceAllocationSettingData.InstanceID="HC:`+keyOf(vm, "Name")+`/nic0"`)
	if r := s.call(vsms, "RemoveResourceSettings", adapter); r.rc != 5 || !strings.Contains(r.errMsg, "busy") {
		t.Fatalf("removal during the shutdown: %d %s", r.rc, r.errMsg)
	}
	if j := s.gi(job); j.num("JobState") != 4 {
		t.Fatalf("the shutdown job: %v", j)
	}
	// Once the request has reached the guest (the job starts it on its own
	// goroutine), the system is Shutting Down.
	if p := s.waitState(vm, 4); p.num("RequestedState") != 4 || p.num("TransitioningToState") != 4 {
		t.Fatalf("during the shutdown job: %v", p)
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
	// Nobody waits for the ignored shutdown any more: the system is
	// Enabled again, not Shutting Down; the shutdown stays the last
	// request, and no transition is in progress.
	if p := s.waitState(vm, 2); p.num("RequestedState") != 4 || p.num("TransitioningToState") != 12 {
		t.Fatalf("after the terminated shutdown: %v", p)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off after the termination: %d %s", r.rc, r.errMsg)
	}
	if p := s.gi(vm); p.num("EnabledState") != 3 || p.num("RequestedState") != 3 || p.str("ElementName") != "contested" {
		t.Fatalf("after the conflicts: %v", p)
	}
	// Once free, the system takes the change.
	if r := s.call(vsms, "ModifySystemSettings", rename); r.rc != 0 || s.gi(vm).str("ElementName") != "renamed" {
		t.Fatalf("rename after the shutdown: %d %s", r.rc, r.errMsg)
	}
	if r := s.call(vsms, "RemoveResourceSettings", adapter); r.rc != 0 || byClass(s.ain(vm, "CIM_SystemDevice"))["HC_EthernetPort"] != 0 {
		t.Fatalf("adapter removal after the shutdown: %d %s", r.rc, r.errMsg)
	}
}
