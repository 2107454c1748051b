package conformance

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// keyOf returns a key of a path as wbemcli prints it.
func keyOf(path, key string) string {
	m := regexp.MustCompile(`[.,]` + key + `="([^"]*)"`).FindStringSubmatch(path)
	if m == nil {
		return ""
	}
	return m[1]
}

// classOf returns the class of a path as wbemcli prints it.
func classOf(path string) string {
	if _, rest, ok := strings.Cut(path, "/"); ok { // host:port/ns:Class.keys
		path = rest
	}
	_, rest, _ := strings.Cut(path, ":")
	class, _, _ := strings.Cut(rest, ".")
	return class
}

// fixRef repairs a reference as wbemcli prints it in property values,
// "host:port/root/virtHC_Class.keys", into a path it reads back.
func fixRef(p string) string {
	return regexp.MustCompile(`^([^/]*/[\w/]+?)((?:HC|CIM)_\w+\.)`).ReplaceAllString(strings.TrimSpace(p), "$1:$2")
}

// byClass counts paths per class.
func byClass(paths []string) map[string]int {
	n := map[string]int{}
	for _, p := range paths {
		n[classOf(p)]++
	}
	return n
}

// discoverVSMS walks from the interop namespace to the virtual system
// management service as a DMTF client does: the registered System
// Virtualization profile, its central instance (the host system), and the
// service the host hosts.
func (s *virtServer) discoverVSMS() (host, vsms, snapsvc string) {
	s.t.Helper()
	var sv string
	for _, p := range s.paths("ein", s.url("root/interop:CIM_RegisteredProfile")) {
		if props := s.gi(p); props.str("RegisteredName") == "System Virtualization" {
			if props.num("RegisteredOrganization") != 2 || props.str("RegisteredVersion") != "1.0.0" {
				s.t.Fatalf("System Virtualization registered as %v", props)
			}
			sv = p
		}
	}
	if sv == "" {
		s.t.Fatal("no System Virtualization profile in root/interop")
	}
	refs := byClass(s.ain(sv, "CIM_ReferencedProfile"))
	if refs["HC_RegisteredProfile"] < 5 {
		s.t.Fatalf("System Virtualization references %v", refs)
	}
	central := s.ain(sv, "CIM_ElementConformsToProfile")
	if len(central) != 1 || classOf(central[0]) != "HC_HostSystem" {
		s.t.Fatalf("central instances of System Virtualization: %v", central)
	}
	host = central[0]
	for _, svc := range s.ain(host, "CIM_HostedService") {
		switch classOf(svc) {
		case "HC_VirtualSystemManagementService":
			vsms = svc
		case "HC_VirtualSystemSnapshotService":
			snapsvc = svc
		}
	}
	if vsms == "" || snapsvc == "" {
		s.t.Fatalf("host %s hosts no management or snapshot service", host)
	}
	return host, vsms, snapsvc
}

// defaultTemplate finds the default template of the pool of a resource
// type: the one whose SettingsDefineCapabilities has ValueRole 0
// (Default) and ValueRange 0 (Point).
func (s *virtServer) defaultTemplate(host string, rt uint64) props {
	s.t.Helper()
	return s.allocTemplates(host, rt)[tplDefault]
}

// systemView checks a virtual system's state and returns its devices
// and allocations by class.
func (s *virtServer) checkSystem(vm string, state uint64) (devices, rasds map[string]int, vssd string) {
	s.t.Helper()
	if got := s.gi(vm).num("EnabledState"); got != state {
		s.t.Fatalf("EnabledState %d, want %d", got, state)
	}
	devs := s.ain(vm, "CIM_SystemDevice")
	devices = byClass(devs)
	vssds := s.ain(vm, "CIM_SettingsDefineState")
	if len(vssds) != 1 || classOf(vssds[0]) != "HC_VirtualSystemSettingData" {
		s.t.Fatalf("current settings of %s: %v", vm, vssds)
	}
	vssd = vssds[0]
	if es := s.ain(vm, "CIM_ElementSettingData"); len(es) != 1 || es[0] != vssd {
		s.t.Fatalf("ElementSettingData of %s: %v", vm, es)
	}
	rasds = byClass(s.ain(vssd, "CIM_VirtualSystemSettingDataComponent"))
	// Every device is described by an allocation drawn from a pool.
	for _, d := range devs {
		if alloc := s.ain(d, "CIM_SettingsDefineState"); len(alloc) != 1 {
			s.t.Fatalf("device %s has allocations %v", d, alloc)
		}
		if pool := s.ain(d, "CIM_ElementAllocatedFromPool"); len(pool) != 1 {
			s.t.Fatalf("device %s comes from pools %v", d, pool)
		}
	}
	if hosts := s.ain(vm, "CIM_HostedDependency"); len(hosts) != 1 || classOf(hosts[0]) != "HC_HostSystem" {
		s.t.Fatalf("%s is hosted by %v", vm, hosts)
	}
	return devices, rasds, vssd
}

// TestVirtAcceptance is issue 7's end-to-end scenario, with wbemcli
// against bin/hypercimd on the kvm engine: discovery through the interop
// namespace, DefineSystem from edited default templates (2 vCPUs, 64 MiB,
// a new 64 MiB VMDK disk, an Ethernet adapter), start (the test guest
// boots and reads its disk), pause, resume, snapshot, a write from the
// guest, apply (the write is gone), a disk and an Ethernet adapter
// hot-plugged (the guest finds both), the disk unplugged again (its owned
// image is deleted), a new name through ModifySystemSettings, memory
// changed while off, reboot, graceful shutdown, destroy; EnabledState,
// associations and allocations are checked after each step.
func TestVirtAcceptance(t *testing.T) {
	s := newVirtServer(t)
	host, vsms, snapsvc := s.discoverVSMS()

	proc := s.defaultTemplate(host, 3)
	mem := s.defaultTemplate(host, 4)
	drive := s.defaultTemplate(host, 17)
	disk := s.defaultTemplate(host, 31)
	nic := s.defaultTemplate(host, 10)
	conn := s.defaultTemplate(host, 33)
	if disk.str("ImageFormat") != "vmdk" || mem.str("AllocationUnits") != "byte*2^20" {
		t.Fatalf("templates: disk %v memory %v", disk, mem)
	}

	// Define.
	guest := filepath.Join(s.bin, "hypercim-testguest")
	r := s.call(vsms, "DefineSystem",
		param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", "acceptance"),
			pstr("VirtualSystemType", "DMTF:KVM"), pstr("KernelPath", guest), pstr("KernelCommandLine", "testguest.interactive"))},
		param{"ResourceSettings", strings.Join([]string{
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(proc, pu64("VirtualQuantity", 2))...),
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(mem, pu64("VirtualQuantity", 64))...),
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(drive, pstr("InstanceID", "new-drive"))...),
			embedded("CIM_StorageAllocationSettingData", fromTemplate(disk, pu64("VirtualQuantity", 64),
				pstr("AllocationUnits", "byte*2^20"), pstr("VirtualQuantityUnits", "byte*2^20"),
				pstr("Parent", `root/virt:CIM_ResourceAllocationSettingData.InstanceID="new-drive"`))...),
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(nic)...),
			embedded("CIM_EthernetPortAllocationSettingData", fromTemplate(conn)...),
		}, ",")})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	uuid := keyOf(vm, "Name")
	devices, rasds, vssd := s.checkSystem(vm, 3)
	if devices["HC_Processor"] != 2 || devices["HC_Memory"] != 1 || devices["HC_LogicalDisk"] != 1 || devices["HC_EthernetPort"] != 1 {
		t.Fatalf("devices after DefineSystem: %v", devices)
	}
	if rasds["HC_ResourceAllocationSettingData"] != 4 || rasds["HC_StorageAllocationSettingData"] != 1 || rasds["HC_EthernetPortAllocationSettingData"] != 1 {
		t.Fatalf("allocations after DefineSystem: %v", rasds)
	}
	var image string
	for _, a := range s.ain(vssd, "CIM_VirtualSystemSettingDataComponent") {
		p := s.gi(a)
		switch p.num("ResourceType") {
		case 3:
			if p.num("VirtualQuantity") != 2 {
				t.Fatalf("processors: %v", p)
			}
		case 4:
			if p.num("VirtualQuantity") != 64 {
				t.Fatalf("memory: %v", p)
			}
		case 31:
			image = p.str("HostResource")
			if p.num("VirtualQuantity") != 64<<20 || p.str("ImageOwned") != "TRUE" || !strings.HasPrefix(image, filepath.Join(s.dir, "virt", "images")) {
				t.Fatalf("logical disk: %v", p)
			}
			if pools := s.ain(a, "CIM_ResourceAllocationFromPool"); len(pools) != 1 || s.gi(pools[0]).str("PoolID") != "storage" {
				t.Fatalf("logical disk allocated from %v", pools)
			}
		}
	}
	if _, err := os.Stat(image); err != nil {
		t.Fatalf("the new image: %v", err)
	}
	// The DMTF classes enumerate hypercim's: the host and the system.
	if got := byClass(s.paths("ein", s.url("root/virt:CIM_ComputerSystem"))); got["HC_HostSystem"] != 1 || got["HC_ComputerSystem"] != 1 {
		t.Fatalf("CIM_ComputerSystem instances: %v", got)
	}
	if got := byClass(s.paths("ein", s.url("root/virt:CIM_ResourceAllocationSettingData"))); got["HC_StorageAllocationSettingData"] < 1 || got["HC_EthernetPortAllocationSettingData"] < 1 {
		t.Fatalf("CIM_ResourceAllocationSettingData instances: %v", got)
	}
	if svc := s.ain(vm, "CIM_ServiceAffectsElement"); len(svc) != 2 {
		t.Fatalf("services affecting the system: %v", svc)
	}

	// Start: the guest boots with 2 vCPUs and reads its disk.
	r = s.call(vm, "RequestStateChange", param{"RequestedState", "2"})
	if r.rc != 4096 {
		t.Fatalf("start: %d %s", r.rc, r.errMsg)
	}
	job := r.refs["Job"][0]
	s.waitJob(job)
	if owner := s.ain(job, "CIM_OwningJobElement"); len(owner) != 1 || classOf(owner[0]) != "HC_VirtualSystemManagementService" {
		t.Fatalf("job owned by %v", owner)
	}
	if affected := s.ain(job, "CIM_AffectedJobElement"); len(affected) != 1 || keyOf(affected[0], "Name") != uuid {
		t.Fatalf("job affects %v", affected)
	}
	s.checkSystem(vm, 2)
	con := s.console(uuid)
	if line := con.expect("testguest: cpus="); line != "testguest: cpus=2 disks=1" {
		t.Fatalf("guest reports %q", line)
	}
	con.expect("testguest: ready")
	if line := con.cmd("disks", "disk0 sectors="); !strings.HasPrefix(line, "disk0 sectors=131072") {
		t.Fatalf("guest disk: %q", line)
	}
	if line := con.cmd("crc 0 0 64", "crc="); line != "crc=011ffca6" { // CRC-32 of 32 KiB of zeros: a new, empty image
		t.Fatalf("guest reads its new disk as %q", line)
	}
	con.cmd("write 0 1 before-snapshot", "")

	// Pause and resume.
	for _, step := range []struct{ to, want uint64 }{{9, 9}, {2, 2}} {
		if r := s.call(vm, "RequestStateChange", param{"RequestedState", strconv.FormatUint(step.to, 10)}); r.rc != 0 {
			t.Fatalf("RequestStateChange(%d): %d %s", step.to, r.rc, r.errMsg)
		}
		s.checkSystem(vm, step.want)
	}
	if line := con.cmd("echo alive", "alive"); line != "alive" {
		t.Fatalf("after resume the guest says %q", line)
	}

	// Snapshot (full), then a write the snapshot does not have.
	r = s.call(snapsvc, "CreateSnapshot", s.ref("AffectedSystem", vm), param{"SnapshotType", "2"},
		param{"SnapshotSettings", embedded("CIM_SettingData", pstr("ElementName", "before the write"))})
	if r.rc != 4096 {
		t.Fatalf("CreateSnapshot: %d %s", r.rc, r.errMsg)
	}
	s.waitJob(r.refs["Job"][0])
	var snap string
	for _, a := range s.ain(r.refs["Job"][0], "CIM_AffectedJobElement") {
		if classOf(a) == "HC_VirtualSystemSettingData" {
			snap = a
		}
	}
	if snap == "" || s.gi(snap).str("ElementName") != "before the write" {
		t.Fatalf("no snapshot found through the job (%s)", snap)
	}
	if got := s.ain(vm, "CIM_SnapshotOfVirtualSystem"); len(got) != 1 || got[0] != snap {
		t.Fatalf("snapshots of the system: %v", got)
	}
	if got := s.ain(vm, "CIM_MostCurrentSnapshotInBranch"); len(got) != 1 || got[0] != snap {
		t.Fatalf("most current snapshot: %v", got)
	}
	if got := byClass(s.ain(snap, "CIM_VirtualSystemSettingDataComponent")); got["HC_StorageAllocationSettingData"] != 1 {
		t.Fatalf("snapshot allocations: %v", got)
	}
	s.checkSystem(vm, 2)
	con.cmd("write 0 1 after-snapshot", "")
	if line := con.cmd("read 0 1", "crc="); !strings.Contains(line, hexOf("after-snapshot")) {
		t.Fatalf("the guest's write did not land: %q", line)
	}

	// Apply: the write is gone, the guest runs on from the snapshot.
	r = s.call(snapsvc, "ApplySnapshot", s.ref("Snapshot", snap))
	s.finish("ApplySnapshot", r)
	s.checkSystem(vm, 2)
	if line := con.cmd("read 0 1", "crc="); !strings.Contains(line, hexOf("before-snapshot")) {
		t.Fatalf("after ApplySnapshot the guest reads %q, want the data from before the snapshot", line)
	}
	if got := s.ain(vm, "CIM_LastAppliedSnapshot"); len(got) != 1 || got[0] != snap {
		t.Fatalf("last applied snapshot: %v", got)
	}

	// A second disk, hot-plugged.
	r = s.call(vsms, "AddResourceSettings", s.ref("AffectedConfiguration", vssd),
		param{"ResourceSettings", strings.Join([]string{
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(drive)...),
			embedded("CIM_StorageAllocationSettingData", fromTemplate(disk, pu64("VirtualQuantity", 32<<20))...),
		}, ",")})
	if r.rc != 0 || len(r.refs["ResultingResourceSettings"]) != 2 {
		t.Fatalf("AddResourceSettings: %d %s %v", r.rc, r.errMsg, r.refs)
	}
	devices, _, _ = s.checkSystem(vm, 2)
	if devices["HC_LogicalDisk"] != 2 {
		t.Fatalf("devices after the hot-plug: %v", devices)
	}
	line := con.cmd("rescan", "disks=")
	if !strings.HasPrefix(line, "disks=2") {
		t.Fatalf("the guest sees %q after the hot-plug", line)
	}
	guestDevices := guestDeviceCount(t, line)
	disk2 := r.refs["ResultingResourceSettings"]
	image2 := s.gi(disk2[1]).str("HostResource")
	if _, err := os.Stat(image2); err != nil {
		t.Fatalf("the hot-plugged disk's image: %v", err)
	}

	// An Ethernet adapter and its connection, hot-plugged.
	r = s.call(vsms, "AddResourceSettings", s.ref("AffectedConfiguration", vssd),
		param{"ResourceSettings", strings.Join([]string{
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(nic, pstr("InstanceID", "new-nic"))...),
			embedded("CIM_EthernetPortAllocationSettingData", fromTemplate(conn,
				pstr("Parent", `root/virt:CIM_ResourceAllocationSettingData.InstanceID="new-nic"`))...),
		}, ",")})
	if r.rc != 0 || len(r.refs["ResultingResourceSettings"]) != 2 {
		t.Fatalf("AddResourceSettings of an adapter: %d %s %v", r.rc, r.errMsg, r.refs)
	}
	nic2 := r.refs["ResultingResourceSettings"]
	if got := []string{classOf(nic2[0]), classOf(nic2[1])}; got[0] != "HC_ResourceAllocationSettingData" || got[1] != "HC_EthernetPortAllocationSettingData" {
		t.Fatalf("the adapter's allocations: %v", nic2)
	}
	if p := s.gi(nic2[1]); p.num("ResourceType") != 33 || !strings.Contains(p["Parent"], keyOf(nic2[0], "InstanceID")) {
		t.Fatalf("the new connection: %v", p)
	}
	devices, rasds, _ = s.checkSystem(vm, 2)
	if devices["HC_EthernetPort"] != 2 || devices["HC_LogicalDisk"] != 2 || devices["HC_Processor"] != 2 || devices["HC_Memory"] != 1 {
		t.Fatalf("devices after the adapter hot-plug: %v", devices)
	}
	// processors, memory, two drives, two adapters; two images; two connections
	if rasds["HC_ResourceAllocationSettingData"] != 6 || rasds["HC_StorageAllocationSettingData"] != 2 || rasds["HC_EthernetPortAllocationSettingData"] != 2 {
		t.Fatalf("allocations after the hot-plugs: %v", rasds)
	}
	if line := con.cmd("rescan", "disks="); guestDeviceCount(t, line) != guestDevices+1 {
		t.Fatalf("after the adapter hot-plug the guest sees %q, had %d devices", line, guestDevices)
	}
	if line := con.cmd("net mac", "mac="); !strings.HasPrefix(line, "mac=") {
		t.Fatalf("the guest's adapter: %q", line)
	}

	// The second disk, unplugged: its drive and image allocations and its
	// device are gone, and so is the image hypercim created for it (no
	// snapshot needs it: it was added after the snapshot).
	if r := s.call(vsms, "RemoveResourceSettings", refArray("ResourceSettings", disk2[0])); r.rc != 0 {
		t.Fatalf("RemoveResourceSettings: %d %s", r.rc, r.errMsg)
	}
	devices, rasds, _ = s.checkSystem(vm, 2)
	if devices["HC_LogicalDisk"] != 1 || devices["HC_EthernetPort"] != 2 {
		t.Fatalf("devices after the unplug: %v", devices)
	}
	if rasds["HC_ResourceAllocationSettingData"] != 5 || rasds["HC_StorageAllocationSettingData"] != 1 || rasds["HC_EthernetPortAllocationSettingData"] != 2 {
		t.Fatalf("allocations after the unplug: %v", rasds)
	}
	for _, a := range disk2 {
		if _, err := s.wbemcli(true, "gi", s.url(a)); err == nil || !strings.Contains(err.Error(), "CIM_ERR_NOT_FOUND") {
			t.Fatalf("the removed allocation %s answers GetInstance: %v", a, err)
		}
	}
	if _, err := os.Stat(image2); !os.IsNotExist(err) {
		t.Fatalf("the unplugged disk's owned image is still in the pool: %v", err)
	}
	if line := con.cmd("rescan", "disks="); !strings.HasPrefix(line, "disks=1 ") || guestDeviceCount(t, line) != guestDevices {
		t.Fatalf("after the unplug the guest sees %q", line)
	}
	if line := con.cmd("crc 0 0 1", "crc="); !strings.HasPrefix(line, "crc=") {
		t.Fatalf("the remaining disk after the unplug: %q", line)
	}

	// A new name through ModifySystemSettings, from a plain DMTF
	// CIM_VirtualSystemSettingData, while the system runs.
	r = s.call(vsms, "ModifySystemSettings", param{"SystemSettings", embedded("CIM_VirtualSystemSettingData",
		pstr("InstanceID", keyOf(vssd, "InstanceID")), pstr("ElementName", "acceptance-renamed"))})
	if r.rc != 0 {
		t.Fatalf("ModifySystemSettings: %d %s", r.rc, r.errMsg)
	}
	if got := s.gi(vssd).str("ElementName"); got != "acceptance-renamed" {
		t.Fatalf("VSSD ElementName %q after ModifySystemSettings", got)
	}
	if p := s.gi(vm); p.str("ElementName") != "acceptance-renamed" || p.num("EnabledState") != 2 {
		t.Fatalf("system after ModifySystemSettings: %v", p)
	}
	if p := s.gi(vssd); p.str("KernelPath") != guest || p.str("KernelCommandLine") != "testguest.interactive" {
		t.Fatalf("ModifySystemSettings changed what it was not given: %v", p)
	}

	// Memory changes while the system is off; refused while it runs.
	memRASD := s.allocation(vm, 4)
	bigger := embedded("HC_ResourceAllocationSettingData", pstr("InstanceID", keyOf(memRASD, "InstanceID")),
		pu16("ResourceType", 4), pu64("VirtualQuantity", 96), pstr("AllocationUnits", "byte*2^20"))
	if r := s.call(vsms, "ModifyResourceSettings", param{"ResourceSettings", bigger}); r.rc != 5 || !strings.Contains(r.errMsg, "stopped") {
		t.Fatalf("memory change of a running system: %d %s", r.rc, r.errMsg)
	}
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "3"}); r.rc != 0 {
		t.Fatalf("turn off: %d %s", r.rc, r.errMsg)
	}
	s.checkSystem(vm, 3)
	if r := s.call(vsms, "ModifyResourceSettings", param{"ResourceSettings", bigger}); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings: %d %s", r.rc, r.errMsg)
	}
	if p := s.gi(memRASD); p.num("VirtualQuantity") != 96 {
		t.Fatalf("memory allocation after the change: %v", p)
	}
	if got := s.gi(vm).num("EnabledState"); got != 3 {
		t.Fatalf("EnabledState %d", got)
	}
	// Synchronous start: TimeoutPeriod asks the call to wait.
	if r := s.call(vm, "RequestStateChange", param{"RequestedState", "2"}, param{"TimeoutPeriod", "00000000000130.000000:000"}); r.rc != 0 {
		t.Fatalf("synchronous start: %d %s", r.rc, r.errMsg)
	}
	s.checkSystem(vm, 2)
	con.expect("testguest: ready")
	if line := con.cmd("mem", "ram="); ramMiB(line) < 90 || ramMiB(line) > 96 {
		t.Fatalf("guest memory %q, want 96 MiB", line)
	}

	// Reboot through the guest.
	r = s.call(vm, "RequestStateChange", param{"RequestedState", "10"})
	s.finish("reboot", r)
	con.expect("testguest: powering off")
	con.expect("testguest: ready")
	s.checkSystem(vm, 2)

	// Graceful shutdown.
	r = s.call(vm, "RequestStateChange", param{"RequestedState", "4"})
	s.finish("shutdown", r)
	s.checkSystem(vm, 3)

	// Destroy: the system, its snapshot and its images are gone.
	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", vm)); r.rc != 0 {
		t.Fatalf("DestroySystem: %d %s", r.rc, r.errMsg)
	}
	if _, err := s.wbemcli(true, "gi", s.url(vm)); err == nil || !strings.Contains(err.Error(), "CIM_ERR_NOT_FOUND") {
		t.Fatalf("the destroyed system answers GetInstance: %v", err)
	}
	if got := s.ein("HC_ComputerSystem"); len(got) != 0 {
		t.Fatalf("systems left: %v", got)
	}
	if got := s.ein("HC_VirtualSystemSettingData"); len(got) != 0 {
		t.Fatalf("settings left: %v", got)
	}
	entries, _ := os.ReadDir(filepath.Join(s.dir, "virt", "images"))
	if len(entries) != 0 {
		t.Fatalf("images left in the pool: %d", len(entries))
	}
}

// guestDeviceCount reads "devices=N" from the test guest's answer to
// rescan.
func guestDeviceCount(t *testing.T, line string) int {
	t.Helper()
	m := regexp.MustCompile(`devices=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no device count in %q", line)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func ramMiB(line string) int {
	m := regexp.MustCompile(`ram=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n >> 20
}
