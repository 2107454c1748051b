package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/libvirt/libvirtdtest"
	"github.com/hypercim/hypercim/hypervisor/linuxguest"
)

// Resource limits end to end: the Weight, Limit and Reservation of the
// processor and memory allocations (docs/virtualization.md, "Resource
// limits"), through wbemcli against bin/hypercimd, checked against what
// the engine does: the kvm VMM's vCPU threads (their nice level, the CPU
// time they get) and libvirtd's scheduler and memory tunables (virsh).

// Template keys of allocTemplates: "ValueRole/ValueRange".
const (
	tplDefault   = "0/0"
	tplMinimum   = "3/1"
	tplMaximum   = "3/2"
	tplIncrement = "3/3"
)

// allocTemplates returns the template allocations of the pool of a
// resource type (pool -> allocation capabilities -> SettingsDefineCapabilities),
// by "ValueRole/ValueRange" of the association.
func (s *virtServer) allocTemplates(host string, rt uint64) map[string]props {
	s.t.Helper()
	for _, pool := range s.ain(host, "CIM_HostedResourcePool") {
		if s.gi(pool).num("ResourceType") != rt {
			continue
		}
		caps := s.ain(pool, "CIM_ElementCapabilities")
		if len(caps) != 1 {
			s.t.Fatalf("pool %s has capabilities %v", pool, caps)
		}
		out, _ := s.wbemcli(false, "ri", "-nl", "-arc", "CIM_SettingsDefineCapabilities", s.url(caps[0]))
		tpls := map[string]props{}
		for _, block := range strings.Split(out, "\n"+s.addr) {
			lp := parseProps(block)
			part := regexp.MustCompile(`-PartComponent=(.*)`).FindStringSubmatch(block)
			if part == nil {
				continue
			}
			tpls[lp["ValueRole"]+"/"+lp["ValueRange"]] = s.gi(fixRef(part[1]))
		}
		if len(tpls) != 4 {
			s.t.Fatalf("pool %s has templates %v", pool, tpls)
		}
		return tpls
	}
	s.t.Fatalf("no pool of resource type %d", rt)
	return nil
}

// allocation finds a system's allocation of a resource type.
func (s *virtServer) allocation(vm string, rt uint64) string {
	s.t.Helper()
	vssds := s.ain(vm, "CIM_SettingsDefineState")
	if len(vssds) != 1 {
		s.t.Fatalf("settings of %s: %v", vm, vssds)
	}
	for _, a := range s.ain(vssds[0], "CIM_VirtualSystemSettingDataComponent") {
		if s.gi(a).num("ResourceType") == rt {
			return a
		}
	}
	s.t.Fatalf("%s has no allocation of resource type %d", vm, rt)
	return ""
}

// wantProps checks properties as wbemcli prints them; "" wants NULL.
func wantProps(t testing.TB, what string, p props, want map[string]string) {
	t.Helper()
	for name, v := range want {
		if got, ok := p[name]; v == "" && ok && got != "" || v != "" && got != v {
			t.Errorf("%s: %s is %q, want %q", what, name, got, v)
		}
	}
}

// enumerated returns the instance with an InstanceID among those of an
// EnumerateInstances, which reads limits back as GetInstance does.
func (s *virtServer) enumerated(class, instanceID string) props {
	s.t.Helper()
	out, _ := s.wbemcli(false, "ei", "-nl", s.url("root/virt:"+class))
	for _, block := range strings.Split(out, "\n"+s.addr) {
		if p := parseProps(block); p.str("InstanceID") == instanceID {
			return p
		}
	}
	s.t.Fatalf("EnumerateInstances of %s has no %s", class, instanceID)
	return nil
}

// modify calls ModifyResourceSettings and returns its result once any job
// it started ended.
func (s *virtServer) modify(vsms string, settings ...string) methodResult {
	s.t.Helper()
	r := s.call(vsms, "ModifyResourceSettings", param{"ResourceSettings", strings.Join(settings, ",")})
	if r.rc == 4096 {
		s.waitJob(r.refs["Job"][0])
		r.rc = 0
	}
	return r
}

// change is an allocation edit: its InstanceID and ResourceType, and
// the properties given.
func change(alloc string, rt uint64, ps ...prop) string {
	return embedded("HC_ResourceAllocationSettingData",
		append([]prop{pstr("InstanceID", keyOf(alloc, "InstanceID")), pu16("ResourceType", rt)}, ps...)...)
}

func pu32(name string, v uint64) prop {
	return prop{name: name, typ: "uint32", values: []string{fmt.Sprint(v)}}
}

// TestVirtLimitsKVM: on the kvm engine the templates offer a processor
// Weight (1-10000, 100) and Limit (1-100 percent, 100) and no memory
// limits; a system defined with a Weight and a Limit reports them, and
// its vCPU thread in hypercimd runs at the nice level of the weight; the
// Limit and Weight change live through ModifyResourceSettings and the
// running guest's busy vCPU gets no more than the new cap of a host CPU;
// memory limits and a processor Reservation, which this engine cannot
// enforce, fail with 1 (Not Supported) and a CIM_Error naming the
// property, leaving everything as it was, also for the valid part of the
// same request; out of range values fail with 4 (Invalid Parameter).
func TestVirtLimitsKVM(t *testing.T) {
	s := newVirtServer(t)
	host, vsms, _ := s.discoverVSMS()

	ptpl := s.allocTemplates(host, 3)
	for key, want := range map[string]map[string]string{
		tplDefault: {"Weight": "100", "Limit": "100", "Reservation": "0", "AllocationUnits": `"percent"`, "VirtualQuantityUnits": `"count"`},
		tplMinimum: {"Weight": "1", "Limit": "1"}, tplMaximum: {"Weight": "10000", "Limit": "100"},
		tplIncrement: {"Weight": "1", "Limit": "1"},
	} {
		wantProps(t, "processor template "+key, ptpl[key], want)
	}
	for key, tpl := range s.allocTemplates(host, 4) {
		wantProps(t, "memory template "+key, tpl, map[string]string{"Limit": "", "Reservation": "", "Weight": ""})
	}

	r := s.call(vsms, "DefineSystem",
		param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", "limits"),
			pstr("KernelPath", filepath.Join(s.bin, "hypercim-testguest")), pstr("KernelCommandLine", "testguest.interactive"))},
		param{"ResourceSettings", strings.Join([]string{
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(ptpl[tplDefault], pu64("VirtualQuantity", 1),
				pu32("Weight", 200), pu64("Limit", 50))...),
			embedded("CIM_ResourceAllocationSettingData", pu16("ResourceType", 4), pu64("VirtualQuantity", 32)),
		}, ",")})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	proc, mem := s.allocation(vm, 3), s.allocation(vm, 4)
	wantProps(t, "processor allocation as defined", s.gi(proc),
		map[string]string{"Weight": "200", "Limit": "50", "Reservation": "0", "AllocationUnits": `"percent"`})

	s.finish("start", s.call(vm, "RequestStateChange", param{"RequestedState", "2"}))
	con := s.console(keyOf(vm, "Name"))
	con.expect("testguest: ready")
	// hypercimd runs the vCPU on a thread of its own, at the nice level
	// standing for weight 200 (-3): the only one at that level.
	vcpu := niceThreads(t, s.d.Pid(), -3)
	if len(vcpu) != 1 {
		t.Fatalf("threads of hypercimd at nice -3 (weight 200): %v", vcpu)
	}

	// A 25% cap, live: NULL Weight leaves the weight as it is.
	if r := s.modify(vsms, change(proc, 3, pu64("Limit", 25))); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings Limit 25: %d %s", r.rc, r.errMsg)
	}
	want := map[string]string{"Weight": "200", "Limit": "25", "Reservation": "0", "VirtualQuantity": "1"}
	wantProps(t, "processor allocation (GetInstance)", s.gi(proc), want)
	wantProps(t, "processor allocation (EnumerateInstances)", s.enumerated("HC_ResourceAllocationSettingData", keyOf(proc, "InstanceID")), want)
	share := vcpuShare(t, con, s.d.Pid(), vcpu[0], 60000)
	t.Logf("capped at 25%%, the guest's busy vCPU used %.0f%% of a host CPU", share*100)
	// Uncapped it is close to 100%; the cap holds to 25% plus the latency
	// of the kick that ends a vCPU's run when its quota is spent.
	if share > 0.35 || share < 0.03 {
		t.Errorf("capped at 25%%, the vCPU used %.0f%% of a host CPU", share*100)
	}

	if r := s.modify(vsms, change(proc, 3, pu32("Weight", 400))); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings Weight 400: %d %s", r.rc, r.errMsg)
	}
	if n := threadNice(t, s.d.Pid(), vcpu[0]); n != -6 {
		t.Errorf("after Weight 400 the vCPU thread runs at nice %d, want -6", n)
	}
	want["Weight"] = "400"
	wantProps(t, "processor allocation after Weight 400", s.gi(proc), want)

	// What the engine cannot enforce, or what is out of range, fails and
	// changes nothing, also the valid part of the same request.
	for _, c := range []struct {
		settings []string
		rc       uint64
		names    string
	}{
		{[]string{change(mem, 4, pu64("Limit", 256), pstr("AllocationUnits", "byte*2^20"))}, 1, "Limit"},
		{[]string{change(mem, 4, pu64("Reservation", 16))}, 1, "Reservation"},
		{[]string{change(proc, 3, pu64("Limit", 30)), change(mem, 4, pu64("Limit", 256))}, 1, "Limit"},
		{[]string{change(proc, 3, pu64("Reservation", 10))}, 1, "Reservation"},
		{[]string{change(mem, 4, pu32("Weight", 5))}, 1, "Weight"},
		{[]string{change(proc, 3, pu32("Weight", 10001))}, 4, "Weight"},
		{[]string{change(proc, 3, pu64("Limit", 101))}, 4, "Limit"},
	} {
		r := s.modify(vsms, c.settings...)
		if r.rc != c.rc || !strings.Contains(r.errMsg, c.names) {
			t.Errorf("ModifyResourceSettings %s: %d %q, want %d naming %s", c.settings, r.rc, r.errMsg, c.rc, c.names)
		}
	}
	wantProps(t, "processor allocation after the refusals", s.gi(proc), want)
	wantProps(t, "memory allocation after the refusals", s.gi(mem), map[string]string{"VirtualQuantity": "32", "Limit": "", "Reservation": ""})
	if n := threadNice(t, s.d.Pid(), vcpu[0]); n != -6 {
		t.Errorf("after the refusals the vCPU thread runs at nice %d, want -6", n)
	}

	// Off, the cap is removed (Limit 0, shown as 100) for the next start.
	s.finish("turn off", s.call(vm, "RequestStateChange", param{"RequestedState", "3"}))
	if r := s.modify(vsms, change(proc, 3, pu64("Limit", 0))); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings Limit 0: %d %s", r.rc, r.errMsg)
	}
	want["Limit"] = "100"
	wantProps(t, "processor allocation uncapped", s.gi(proc), want)
}

// threadStat returns the fields of /proc/<pid>/task/<tid>/stat after the
// command name: field 3 of proc(5) is [0].
func threadStat(t testing.TB, pid, tid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
}

// threadNice is a thread's nice level (field 19 of proc(5)).
func threadNice(t testing.TB, pid, tid int) int {
	t.Helper()
	n, err := strconv.Atoi(threadStat(t, pid, tid)[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// niceThreads lists the threads of a process at a nice level, but KVM's
// workers of a VM (kvm-nx-lpage-recovery starts from a vCPU thread and
// inherits its nice level).
func niceThreads(t testing.TB, pid, nice int) []int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", pid, tid))
		if !strings.HasPrefix(string(comm), "kvm-") && threadNice(t, pid, tid) == nice {
			tids = append(tids, tid)
		}
	}
	return tids
}

// threadCPU is a thread's CPU time so far (schedstat, nanoseconds).
func threadCPU(t testing.TB, pid, tid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/schedstat", pid, tid))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(ns)
}

// vcpuShare has the test guest spin n rounds and returns the share of a
// host CPU the vCPU thread used meanwhile.
func vcpuShare(t testing.TB, con *console, pid, tid int, n int) float64 {
	t.Helper()
	cpu0, t0 := threadCPU(t, pid, tid), time.Now()
	con.cmd(fmt.Sprintf("spin %d", n), "spin=")
	wall, cpu := time.Since(t0), threadCPU(t, pid, tid)-cpu0
	return float64(cpu) / float64(wall)
}

// TestVirtLimitsLibvirt: on the libvirt engine (a real libvirtd, QEMU in
// software emulation) the templates offer all four limits; a system
// defined with a processor Weight and Limit gets them as libvirt's
// cpu_shares and vcpu_quota; while it runs, ModifyResourceSettings sets a
// new weight and cap and memory hard and soft limits, which virsh
// schedinfo and memtune report for the live domain and its definition
// alike, and so does the allocation read back; a change made behind
// hypercim's back with virsh shows in the allocation (read from libvirt,
// not remembered); a memory Limit below the guest RAM fails with 4
// (Invalid Parameter).
func TestVirtLimitsLibvirt(t *testing.T) {
	libvirtdtest.Start(t)
	guest := libvirtdtest.NewGuest(t)
	name := libvirtDomainName(t, "hcl")
	virsh := func(args ...string) string {
		t.Helper()
		out, err := runVirsh(args...)
		if err != nil {
			t.Errorf("virsh %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	s := newVirtServer(t, "--hypervisor", "libvirt", "--libvirt-domain-type", "qemu", "--virt-boot-dir", guest.Dir)
	host, vsms, _ := s.discoverVSMS()

	ptpl, mtpl := s.allocTemplates(host, 3), s.allocTemplates(host, 4)
	wantProps(t, "processor default template", ptpl[tplDefault], map[string]string{"Weight": "100", "Limit": "100"})
	wantProps(t, "memory default template", mtpl[tplDefault], map[string]string{"Limit": "", "Reservation": ""})
	for _, key := range []string{tplMinimum, tplMaximum, tplIncrement} {
		if mtpl[key]["Limit"] == "" || mtpl[key]["Reservation"] == "" {
			t.Errorf("memory template %s offers no Limit or Reservation: %v", key, mtpl[key])
		}
	}

	r := s.call(vsms, "DefineSystem",
		param{"SystemSettings", embedded("HC_VirtualSystemSettingData", pstr("ElementName", name),
			pstr("KernelPath", guest.Kernel), pstr("InitrdPath", guest.Initrd),
			pstr("KernelCommandLine", linuxguest.Cmdline(linuxguest.Boot{Mode: linuxguest.ModeServe})))},
		param{"ResourceSettings", strings.Join([]string{
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(ptpl[tplDefault], pu64("VirtualQuantity", 1),
				pu32("Weight", 300), pu64("Limit", 50))...),
			embedded("CIM_ResourceAllocationSettingData", fromTemplate(mtpl[tplDefault], pu64("VirtualQuantity", 128))...),
		}, ",")})
	if r.rc != 0 {
		t.Fatalf("DefineSystem: %d %s", r.rc, r.errMsg)
	}
	vm := r.refs["ResultingSystem"][0]
	proc, mem := s.allocation(vm, 3), s.allocation(vm, 4)
	shares := func(weight uint64) string { // cgroup v1 cpu.shares, or v2 cpu.weight
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			return fmt.Sprint(weight)
		}
		return fmt.Sprint(weight * 1024 / 100)
	}
	wantTunables(t, "the definition", virsh("schedinfo", "--config", name), map[string]string{"cpu_shares": shares(300), "vcpu_quota": "50000"})

	s.finish("start", s.call(vm, "RequestStateChange", param{"RequestedState", "2"}))
	wantTunables(t, "the running domain", virsh("schedinfo", "--live", name), map[string]string{"cpu_shares": shares(300), "vcpu_quota": "50000"})

	// Live: a new weight and cap, memory hard limit 1 GiB and soft 512 MiB.
	if r := s.modify(vsms, change(proc, 3, pu32("Weight", 50), pu64("Limit", 25)),
		change(mem, 4, pstr("AllocationUnits", "byte*2^20"), pu64("Limit", 1024), pu64("Reservation", 512))); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings: %d %s", r.rc, r.errMsg)
	}
	for _, impact := range []string{"--live", "--config"} {
		wantTunables(t, "schedinfo "+impact, virsh("schedinfo", impact, name), map[string]string{"cpu_shares": shares(50), "vcpu_period": "100000", "vcpu_quota": "25000"})
		wantTunables(t, "memtune "+impact, virsh("memtune", impact, name), map[string]string{"hard_limit": "1048576", "soft_limit": "524288"})
	}
	wantProps(t, "processor allocation", s.gi(proc), map[string]string{"Weight": "50", "Limit": "25", "Reservation": "0"})
	wantProps(t, "memory allocation", s.gi(mem), map[string]string{"VirtualQuantity": "128", "Limit": "1024", "Reservation": "512", "AllocationUnits": `"byte*2^20"`})
	wantProps(t, "memory allocation (EnumerateInstances)", s.enumerated("HC_ResourceAllocationSettingData", keyOf(mem, "InstanceID")),
		map[string]string{"Limit": "1024", "Reservation": "512"})

	// The allocation reports what libvirt enforces, not what hypercim set.
	virsh("schedinfo", "--live", name, "cpu_shares="+shares(200), "vcpu_quota=75000")
	virsh("memtune", "--live", name, "--soft-limit", "256M")
	wantProps(t, "processor allocation after virsh", s.gi(proc), map[string]string{"Weight": "200", "Limit": "75"})
	wantProps(t, "memory allocation after virsh", s.gi(mem), map[string]string{"Limit": "1024", "Reservation": "256"})

	if r := s.modify(vsms, change(mem, 4, pu64("Limit", 64))); r.rc != 4 || !strings.Contains(r.errMsg, "Limit") {
		t.Errorf("memory Limit below the guest RAM: %d %q", r.rc, r.errMsg)
	}
	// Limits removed: libvirt's defaults again.
	if r := s.modify(vsms, change(proc, 3, pu32("Weight", 100), pu64("Limit", 100)), change(mem, 4, pu64("Limit", 0), pu64("Reservation", 0))); r.rc != 0 {
		t.Fatalf("ModifyResourceSettings (no limits): %d %s", r.rc, r.errMsg)
	}
	wantTunables(t, "schedinfo without limits", virsh("schedinfo", "--live", name), map[string]string{"cpu_shares": shares(100)})
	wantTunables(t, "memtune without limits", virsh("memtune", "--live", name), map[string]string{"hard_limit": "unlimited", "soft_limit": "unlimited"})
	wantProps(t, "processor allocation without limits", s.gi(proc), map[string]string{"Weight": "100", "Limit": "100"})
	wantProps(t, "memory allocation without limits", s.gi(mem), map[string]string{"Limit": "", "Reservation": ""})

	s.finish("turn off", s.call(vm, "RequestStateChange", param{"RequestedState", "3"}))
	if r := s.call(vsms, "DestroySystem", s.ref("AffectedSystem", vm)); r.rc != 0 {
		t.Fatalf("DestroySystem: %d %s", r.rc, r.errMsg)
	}
}

// wantTunables checks "name : value" lines of virsh schedinfo or memtune.
func wantTunables(t testing.TB, what, out string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			got[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s is %q, want %q (virsh says:\n%s)", what, k, got[k], v, out)
		}
	}
}
