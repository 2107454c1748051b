package virt

import (
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
)

// defineVM defines a system through DefineSystem from the default
// templates: vcpus, mib of memory, a new disk of diskMiB and an adapter.
func (f *fixture) defineVM(name string, vcpus, mib, diskMiB uint64) *cim.ObjectPath {
	f.t.Helper()
	vssd, _ := f.p.newInst(classVSSD).set("ElementName", name).set("KernelPath", f.guest).
		set("KernelCommandLine", "testguest.interactive").set("InstanceID", "ignored").i, error(nil)
	proc := f.template(poolProcessor)
	proc.Set("VirtualQuantity", cim.NewUint64(vcpus))
	mem := f.template(poolMemory)
	mem.Set("VirtualQuantity", cim.NewUint64(mib))
	rs := []*cim.Instance{proc, mem}
	if diskMiB > 0 {
		drive := f.template(poolDiskDrive)
		drive.Set("InstanceID", cim.NewString("my-drive"))
		img := f.template(poolStorage)
		img.Set("VirtualQuantity", cim.NewUint64(diskMiB))
		img.Set("AllocationUnits", cim.NewString("byte*2^20"))
		img.Set("VirtualQuantityUnits", cim.NewString("byte*2^20"))
		img.Set("Parent", cim.NewString(`HC_ResourceAllocationSettingData.InstanceID="my-drive"`))
		rs = append(rs, drive, img, f.template(poolEthernet), f.template(poolConnection))
	}
	rc, out := f.invoke(f.p.vsmsPath(), "DefineSystem", pv("SystemSettings", cim.NewEmbeddedInstance(vssd)), pv("ResourceSettings", emb(rs...)))
	if rc != 0 {
		f.t.Fatalf("DefineSystem returned %d: %s", rc, errorMessage(out))
	}
	v, ok := out.get("ResultingSystem")
	if !ok {
		f.t.Fatal("no ResultingSystem")
	}
	return v.Ref()
}

// TestModelConsistency: every instance of every class can be fetched by
// its path, and every association's references name instances that
// exist and find the association back.
func TestModelConsistency(t *testing.T) {
	f := newFixture(t)
	a := f.defineVM("alpha", 2, 64, 64)
	f.defineVM("beta", 1, 32, 0)
	rc, out := f.invoke(f.p.snapServicePath(), "CreateSnapshot", pv("AffectedSystem", cim.NewReference(a)),
		pv("SnapshotType", cim.NewUint16(3)))
	if rc != 4096 {
		t.Fatalf("CreateSnapshot: %d %s", rc, errorMessage(out))
	}
	jv, _ := out.get("Job")
	f.waitJob(jv.Ref())

	counts := map[string]int{}
	for _, class := range append(InstanceClasses(), AssociationClasses()...) {
		insts := f.all(class)
		counts[class] = len(insts)
		for _, i := range insts {
			got, err := f.p.get(i.Path)
			if err != nil {
				t.Fatalf("Get(%s): %v", i.Path, err)
			}
			if got.Path.Canonical() != i.Path.Canonical() || !got.Equal(i) && class != classJob && class != classPool {
				t.Fatalf("Get(%s) returned another instance:\n%s\nwant\n%s", i.Path, got, i)
			}
			if !i.Path.IsInstancePath() || !cim.EqualNames(i.ClassName, class) {
				t.Fatalf("%s: bad path %s", class, i.Path)
			}
		}
		if !isAssociation(class) {
			continue
		}
		for _, i := range insts {
			for _, prop := range i.Properties() {
				if prop.Value.Type() != cim.TypeReference {
					continue
				}
				end := prop.Value.Ref()
				if _, err := f.p.get(end); err != nil {
					t.Fatalf("%s.%s names %s, which does not exist: %v", class, prop.Name, end, err)
				}
				found := false
				f.p.referencesOf(class, end, prop.Name, func(x *cim.Instance) error {
					found = found || x.Path.Canonical() == i.Path.Canonical()
					return nil
				})
				if !found {
					t.Fatalf("References(%s, %s, %s) misses %s", class, end, prop.Name, i.Path)
				}
			}
		}
	}
	want := map[string]int{
		classHost: 1, classSystem: 2, classVSMS: 1, classSnapService: 1, classPool: 6, classAllocCaps: 6,
		classVSSD: 3, classProcessor: 3, classMemory: 2, classDiskDrive: 1, classLogicalDisk: 1, classEthernetPort: 1,
		// alpha: proc, mem, drive, nic (current and snapshot) + 4 templates each of 4 pools; beta: proc, mem
		classRASD:       8 + 2 + 16,
		classSASD:       2 + 4,
		classEPASD:      2 + 4,
		assocDefineCaps: 24, assocHostedPool: 6, assocHostedService: 2, assocHostedDependency: 2,
		assocSnapshotOf: 1, assocMostCurrentSnapshot: 1, assocLastApplied: 0, assocAffectedJob: 2, assocOwningJob: 1,
		// alpha: 2 cpu + mem + drive + disk + nic; beta: cpu + mem
		assocSystemDevice: 8, assocAllocatedFromPool: 8, assocDefineState: 10,
		// alpha current 6 + snapshot 6, beta 2
		assocVSSDComponent: 14, assocAllocationFromPool: 8,
	}
	for class, n := range want {
		if counts[class] != n {
			t.Errorf("%d instances of %s, want %d", counts[class], class, n)
		}
	}
}

// TestDSP1043Templates: the four templates of each pool carry the values
// their SettingsDefineCapabilities roles promise.
func TestDSP1043Templates(t *testing.T) {
	f := newFixture(t)
	for _, l := range f.all(assocDefineCaps) {
		tpl, err := f.p.get(l.Get("PartComponent").Ref())
		if err != nil {
			t.Fatal(err)
		}
		role, rng := l.Get("ValueRole").Uint16(), l.Get("ValueRange").Uint16()
		id := tpl.Get("InstanceID").Str()
		switch {
		case strings.HasSuffix(id, "/default") && (role != 0 || rng != 0),
			strings.HasSuffix(id, "/minimum") && (role != 3 || rng != 1),
			strings.HasSuffix(id, "/maximum") && (role != 3 || rng != 2),
			strings.HasSuffix(id, "/increment") && (role != 3 || rng != 3):
			t.Errorf("%s has ValueRole %d ValueRange %d", id, role, rng)
		}
		if tpl.Get("VirtualQuantity").IsNull() {
			t.Errorf("%s has no VirtualQuantity", id)
		}
	}
	lo, _ := f.p.get(idPath(classRASD, templateID(poolMemory, "minimum")))
	hi, _ := f.p.get(idPath(classRASD, templateID(poolMemory, "maximum")))
	if lo.Get("VirtualQuantity").Uint64() >= hi.Get("VirtualQuantity").Uint64() {
		t.Fatal("memory minimum is not below the maximum")
	}
}

// TestStateChangesThroughMethods drives a system through
// RequestStateChange and checks EnabledState, the capabilities of each
// state and the DMTF return codes of refused transitions.
func TestStateChangesThroughMethods(t *testing.T) {
	f := newFixture(t)
	vm := f.defineVM("gamma", 1, 32, 8)
	state := func() uint16 {
		i, err := f.p.get(vm)
		if err != nil {
			t.Fatal(err)
		}
		return i.Get("EnabledState").Uint16()
	}
	rsc := func(to uint16, wait time.Duration) (uint32, params) {
		in := []cim.ParamValue{pv("RequestedState", cim.NewUint16(to))}
		if wait > 0 {
			in = append(in, pv("TimeoutPeriod", interval(wait)))
		}
		return f.invoke(vm, "RequestStateChange", in...)
	}
	if s := state(); s != 3 {
		t.Fatalf("defined system has EnabledState %d", s)
	}
	if rc, out := rsc(9, 0); rc != 4097 || !strings.Contains(errorMessage(out), "cannot pause") {
		t.Fatalf("pausing a stopped system: %d %s", rc, errorMessage(out))
	}
	if rc, _ := rsc(7, 0); rc != 1 {
		t.Fatalf("RequestedState 7: %d, want 1", rc)
	}
	if rc, _ := rsc(42, 0); rc != 5 {
		t.Fatalf("RequestedState 42: %d, want 5", rc)
	}
	// Asynchronous start: 4096 and a job that completes.
	rc, out := rsc(2, 0)
	if rc != 4096 {
		t.Fatalf("start: %d %s", rc, errorMessage(out))
	}
	jv, _ := out.get("Job")
	f.waitJob(jv.Ref())
	if s := state(); s != 2 {
		t.Fatalf("EnabledState %d after start", s)
	}
	caps, _ := f.p.get(idPath(classStateCaps, stateCapsID(vm.Keys[1].Value.Str())))
	if got := caps.Get("RequestedStatesSupported").Uint16Array(); len(got) != 6 {
		t.Fatalf("RequestedStatesSupported of a running system: %v", got)
	}
	uuid := vm.Keys[1].Value.Str()
	f.waitConsole(uuid, "testguest: ready", 1)
	for _, step := range []struct {
		to, state uint16
		boots     int // the guest has booted this often once the step is done
	}{{9, 9, 1}, {2, 2, 1}, {11, 2, 2}, {6, 6, 2}, {2, 2, 2}, {4, 3, 2}} {
		if rc, out := rsc(step.to, guestTimeout); rc != 0 {
			t.Fatalf("RequestStateChange(%d): %d %s", step.to, rc, errorMessage(out))
		}
		if s := state(); s != step.state {
			t.Fatalf("after RequestStateChange(%d) EnabledState %d, want %d", step.to, s, step.state)
		}
		// A guest answers a shutdown request once it has booted.
		f.waitConsole(uuid, "testguest: ready", step.boots)
	}
}

// TestMethodErrors: refused calls return the DMTF code of the method and a
// CIM_Error naming the problem.
func TestMethodErrors(t *testing.T) {
	f := newFixture(t)
	vm := f.defineVM("delta", 1, 32, 8)
	vsms, snaps := f.p.vsmsPath(), f.p.snapServicePath()
	ghost := systemPath("00000000-0000-4000-8000-000000000000")
	bad := func(rs ...*cim.Instance) cim.ParamValue { return pv("ResourceSettings", emb(rs...)) }
	withType := func(pool string, rt uint16) *cim.Instance {
		i := f.template(pool)
		i.Set("ResourceType", cim.NewUint16(rt))
		return i
	}
	negative := f.template(poolMemory)
	negative.Set("VirtualQuantity", cim.NewSint64(-64))
	outside := f.template(poolStorage)
	outside.Set("HostResource", cim.NewStringArray([]string{"/etc/passwd"}))
	uuid := vm.Keys[1].Value.Str()
	vssd := idPath(classVSSD, vssdID(uuid))
	f.defineVM("epsilon", 1, 32, 0)
	settings := func(id, name string) cim.ParamValue {
		return pv("SystemSettings", cim.NewEmbeddedInstance(f.p.newInst("CIM_VirtualSystemSettingData").set("InstanceID", id).set("ElementName", name).i))
	}
	removal := func(paths ...*cim.ObjectPath) cim.ParamValue {
		return pv("ResourceSettings", cim.NewReferenceArray(paths))
	}
	cases := []struct {
		name   string
		path   *cim.ObjectPath
		method string
		in     []cim.ParamValue
		rc     uint32
		msg    string
	}{
		{"unknown system", vsms, "DestroySystem", []cim.ParamValue{pv("AffectedSystem", cim.NewReference(ghost))}, 4, "does not exist"},
		{"wrong ResourceType", vsms, "DefineSystem", []cim.ParamValue{bad(withType(poolProcessor, 24))}, 4, "ResourceType 24"},
		{"negative quantity", vsms, "DefineSystem", []cim.ParamValue{bad(negative)}, 4, "negative"},
		{"path outside the pool", vsms, "AddResourceSettings", []cim.ParamValue{pv("AffectedConfiguration", cim.NewReference(vssd)), bad(outside)}, 4, "outside the storage pool"},
		{"second processor", vsms, "AddResourceSettings", []cim.ParamValue{pv("AffectedConfiguration", cim.NewReference(vssd)), bad(f.template(poolProcessor))}, 4, "one processor (3) allocation"},
		{"template modified", vsms, "ModifyResourceSettings", []cim.ParamValue{bad(f.template(poolMemory))}, 4, "is a template"},
		{"bad snapshot type", snaps, "CreateSnapshot", []cim.ParamValue{pv("AffectedSystem", cim.NewReference(vm)), pv("SnapshotType", cim.NewUint16(9))}, 6, "SnapshotType 9"},
		{"apply a system's settings", snaps, "ApplySnapshot", []cim.ParamValue{pv("Snapshot", cim.NewReference(vssd))}, 4, "not a snapshot"},
		{"rename onto another system's name", vsms, "ModifySystemSettings", []cim.ParamValue{settings(vssdID(uuid), "Epsilon")}, 4, "exists already"},
		{"settings of a snapshot-less ghost", vsms, "ModifySystemSettings", []cim.ParamValue{settings(vssdID("00000000-0000-4000-8000-000000000000"), "x")}, 4, "does not exist"},
		{"remove the memory", vsms, "RemoveResourceSettings", []cim.ParamValue{removal(rasdPath(uuid, "mem", ""))}, 4, "cannot be removed"},
		{"remove the processors with a drive", vsms, "RemoveResourceSettings", []cim.ParamValue{removal(rasdPath(uuid, "disk0", ""), rasdPath(uuid, "proc", ""))}, 4, "cannot be removed"},
		{"remove a system", vsms, "RemoveResourceSettings", []cim.ParamValue{removal(vm)}, 4, "not a CIM_ResourceAllocationSettingData"},
		{"remove an image twice", vsms, "RemoveResourceSettings", []cim.ParamValue{removal(rasdPath(uuid, "disk0", partImage), rasdPath(uuid, "disk0", partImage))}, 4, "holds no image"},
		{"timestamp timeout", vm, "RequestStateChange", []cim.ParamValue{pv("RequestedState", cim.NewUint16(2)), pv("TimeoutPeriod", cim.NewString("20260101000000.000000+000"))}, 5, "timestamp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, out := f.invoke(c.path, c.method, c.in...)
			if rc != c.rc || !strings.Contains(errorMessage(out), c.msg) {
				t.Fatalf("%s: rc %d (%s), want %d and %q", c.method, rc, errorMessage(out), c.rc, c.msg)
			}
			e, _ := out.get("Error")
			ce := e.Instance()
			if ce.ClassName != "CIM_Error" || ce.Get("OwningEntity").Str() != "HC" || ce.Get("ProbableCause").IsNull() || ce.Get("ErrorSource").IsNull() {
				t.Fatalf("CIM_Error incomplete: %s", ce)
			}
		})
	}
	// The refused removals changed nothing: the drive and its image are
	// still there.
	if v, err := f.m.System(uuid); err != nil || len(v.Def.Disks) != 1 || v.Def.Disks[0].Image == "" || v.Def.Name != "delta" {
		t.Fatalf("after the refused calls: %+v %v", v.Def, err)
	}
	if _, _, err := f.p.invoke(t.Context(), ghost, "RequestStateChange", []cim.ParamValue{pv("RequestedState", cim.NewUint16(2))}); cim.StatusOf(err) != cim.ErrNotFound {
		t.Fatalf("method on a missing system: %v", err)
	}
}

// waitJob polls a job until it completes.
func (f *fixture) waitJob(job *cim.ObjectPath) *cim.Instance {
	f.t.Helper()
	deadline := time.Now().Add(guestTimeout)
	for {
		j, err := f.p.get(job)
		if err != nil {
			f.t.Fatal(err)
		}
		if st := j.Get("JobState").Uint16(); st == 7 {
			return j
		} else if st == 10 || time.Now().After(deadline) {
			f.t.Fatalf("job: %s", j)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
