package repository

import (
	"reflect"
	"sort"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// assocFixture: systems s1 and s2 (a T_VM), disks d1 and d2, and the
// associations s1-d1 (T_HasDisk), s1-s2 and s2-d2 (T_Contains), plus one
// to a provider's object (x, never stored) and one to another
// namespace.
func assocFixture(t *testing.T) (r *Repository, s1, s2, d1, d2 *cim.ObjectPath) {
	r = openSchema(t)
	create := func(inst *cim.Instance) *cim.ObjectPath {
		t.Helper()
		p, err := r.CreateInstance(testNS, inst)
		must(t, err)
		return p
	}
	s1 = create(system("s1"))
	s2 = create(vm("s2", 1))
	d1 = create(disk("d", 1))
	d2 = create(disk("d", 2))
	create(assoc("T_HasDisk", s1, d1))
	create(assoc("T_Contains", s1, s2))
	create(assoc("T_Contains", s2, d2))
	create(assoc("T_Contains", s2, parsePath(t, `T_System.Name="x"`)))
	create(assoc("T_Contains", s2, parsePath(t, `/root/other:T_Thing.Id=1`)))
	return r, s1, s2, d1, d2
}

func references(t *testing.T, r *Repository, obj *cim.ObjectPath, f ReferenceFilter) []string {
	t.Helper()
	var out []string
	must(t, r.ReferenceNames(testNS, obj, f, func(p *cim.ObjectPath) error {
		out = append(out, p.ModelPath())
		return nil
	}))
	sort.Strings(out)
	return out
}

func associators(t *testing.T, r *Repository, obj *cim.ObjectPath, f AssociatorFilter) (paths []string, stored int) {
	t.Helper()
	must(t, r.Associators(testNS, obj, f, func(p *cim.ObjectPath, inst *cim.Instance) error {
		paths = append(paths, p.String())
		if inst != nil {
			if !inst.Path.Equal(p) {
				t.Errorf("instance %s returned for %s", inst.Path, p)
			}
			stored++
		}
		return nil
	}))
	sort.Strings(paths)
	return paths, stored
}

func TestReferences(t *testing.T) {
	r, s1, s2, d1, _ := assocFixture(t)
	hasD1 := `T_HasDisk.Parent="/root/test:T_System.Name=\"s1\"",Child="/root/test:T_Disk.Id=\"d\",Unit=1"`
	got := references(t, r, s1, ReferenceFilter{})
	if len(got) != 2 {
		t.Fatalf("references of s1: %v", got)
	}
	if got := references(t, r, s1, ReferenceFilter{ResultClass: "T_HasDisk"}); len(got) != 1 || got[0] != hasD1 {
		t.Errorf("T_HasDisk references of s1: %v", got)
	}
	if got := references(t, r, s1, ReferenceFilter{Role: "Child"}); len(got) != 0 {
		t.Errorf("s1 as Child: %v", got)
	}
	if got := references(t, r, s2, ReferenceFilter{Role: "child"}); len(got) != 1 {
		t.Errorf("s2 as Child: %v", got)
	}
	if got := references(t, r, s2, ReferenceFilter{Role: "Parent", ResultClass: "T_Contains"}); len(got) != 3 {
		t.Errorf("s2 as Parent: %v", got)
	}
	// The object may be given in any form of its path.
	if got := references(t, r, parsePath(t, `/root/TEST:t_disk.unit="1",id="d"`), ReferenceFilter{}); len(got) != 1 {
		t.Errorf("references of d1 by another path form: %v", got)
	}
	// A provider's object, never stored, has its static associations.
	if got := references(t, r, parsePath(t, `T_System.Name="x"`), ReferenceFilter{}); len(got) != 1 {
		t.Errorf("references of x: %v", got)
	}
	if got := references(t, r, parsePath(t, `/root/other:T_Thing.Id=1`), ReferenceFilter{}); len(got) != 1 {
		t.Errorf("references of an object in another namespace: %v", got)
	}
	if got := references(t, r, parsePath(t, `/root/elsewhere:T_Thing.Id=1`), ReferenceFilter{}); len(got) != 0 {
		t.Errorf("references of an unrelated object: %v", got)
	}
	var insts []*cim.Instance
	must(t, r.References(testNS, d1, ReferenceFilter{}, func(i *cim.Instance) error { insts = append(insts, i); return nil }))
	if len(insts) != 1 || insts[0].ClassName != "T_HasDisk" || !insts[0].Get("Parent").Ref().Equal(s1) {
		t.Errorf("References of d1: %v", insts)
	}
	wantStatus(t, r.References(testNS, cim.NewClassPath("", "T_System"), ReferenceFilter{}, nil), cim.ErrInvalidParameter)
}

func TestAssociators(t *testing.T) {
	r, s1, s2, d1, d2 := assocFixture(t)
	paths, stored := associators(t, r, s1, AssociatorFilter{})
	if want := []string{d1.String(), s2.String()}; !reflect.DeepEqual(paths, want) || stored != 2 {
		t.Errorf("associators of s1: %v (%d stored), want %v", paths, stored, want)
	}
	paths, stored = associators(t, r, s2, AssociatorFilter{})
	if len(paths) != 4 || stored != 2 {
		t.Errorf("associators of s2: %v (%d stored)", paths, stored)
	}
	for _, tc := range []struct {
		f    AssociatorFilter
		want []string
	}{
		{AssociatorFilter{AssocClass: "T_HasDisk"}, []string{d1.String()}},
		{AssociatorFilter{ResultClass: "T_Disk"}, []string{d1.String()}},
		{AssociatorFilter{ResultClass: "T_Element"}, []string{d1.String(), s2.String()}},
		{AssociatorFilter{ResultClass: "T_VM"}, []string{s2.String()}},
		{AssociatorFilter{Role: "Parent", ResultRole: "Child"}, []string{d1.String(), s2.String()}},
		{AssociatorFilter{Role: "Child"}, nil},
		{AssociatorFilter{ResultRole: "Parent"}, nil},
	} {
		if got, _ := associators(t, r, s1, tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("associators of s1 %+v: %v, want %v", tc.f, got, tc.want)
		}
	}
	var names []string
	must(t, r.AssociatorNames(testNS, d2, AssociatorFilter{}, func(p *cim.ObjectPath) error { names = append(names, p.String()); return nil }))
	if !reflect.DeepEqual(names, []string{s2.String()}) {
		t.Errorf("AssociatorNames of d2: %v", names)
	}

	// The index follows changes: modify a reference, delete an association.
	mod := assoc("T_Contains", s1, s2)
	mod.Set("Child", cim.NewReference(d2))
	// Child is a key: the association must be replaced, not modified.
	wantStatus(t, r.ModifyInstance(testNS, mod, nil), cim.ErrNotFound)
	assocPath := parsePath(t, `T_Contains.Parent="T_System.Name=\"s1\"",Child="T_VM.Name=\"s2\""`)
	must(t, r.DeleteInstance(testNS, assocPath))
	if got, _ := associators(t, r, s1, AssociatorFilter{}); !reflect.DeepEqual(got, []string{d1.String()}) {
		t.Errorf("after deleting s1-s2: %v", got)
	}
	// Deleting an associated object leaves the association (DSP0200):
	// the other end is then reported without an instance.
	must(t, r.DeleteInstance(testNS, d1))
	if got, stored := associators(t, r, s1, AssociatorFilter{}); len(got) != 1 || stored != 0 {
		t.Errorf("after deleting d1: %v (%d stored)", got, stored)
	}
}

// TestReferenceChecks: a reference into the namespace must name an
// existing class that fits the reference's declared class.
func TestReferenceChecks(t *testing.T) {
	r := openSchema(t)
	s1, _ := r.CreateInstance(testNS, system("s1"))
	_, err := r.CreateInstance(testNS, assoc("T_HasDisk", s1, s1))
	wantStatus(t, err, cim.ErrInvalidParameter) // Child must be a T_Disk
	_, err = r.CreateInstance(testNS, assoc("T_Contains", s1, parsePath(t, `T_Nope.Id=1`)))
	wantStatus(t, err, cim.ErrInvalidParameter)
	_, err = r.CreateInstance(testNS, assoc("T_Contains", s1, parsePath(t, `T_Disk.Id="x"`)))
	wantStatus(t, err, cim.ErrInvalidParameter) // lacks key Unit
	// Untyped keys are typed as the referenced class declares them.
	p, err := r.CreateInstance(testNS, assoc("T_Contains", s1, parsePath(t, `T_Disk.Id="x",Unit="7"`)))
	must(t, err)
	inst, _ := r.GetInstance(testNS, p)
	if v, _ := inst.Get("Child").Ref().Key("Unit"); v.Type() != cim.TypeUint32 {
		t.Errorf("reference key typed %v", v.Type())
	}
}

func TestClassAssociations(t *testing.T) {
	r := openSchema(t)
	names := func(run func(fn func(*cim.Class) error) error) []string {
		var out []string
		must(t, run(func(c *cim.Class) error { out = append(out, c.Name); return nil }))
		sort.Strings(out)
		return out
	}
	refs := func(class string, f ReferenceFilter) []string {
		return names(func(fn func(*cim.Class) error) error { return r.ReferenceClasses(testNS, class, f, fn) })
	}
	assocs := func(class string, f AssociatorFilter) []string {
		return names(func(fn func(*cim.Class) error) error { return r.AssociatorClasses(testNS, class, f, fn) })
	}
	if got := refs("T_VM", ReferenceFilter{}); !reflect.DeepEqual(got, []string{"T_Contains", "T_HasDisk"}) {
		t.Errorf("ReferenceClasses of T_VM: %v", got)
	}
	if got := refs("T_Disk", ReferenceFilter{Role: "Child", ResultClass: "T_HasDisk"}); !reflect.DeepEqual(got, []string{"T_HasDisk"}) {
		t.Errorf("ReferenceClasses of T_Disk: %v", got)
	}
	if got := refs("T_Disk", ReferenceFilter{Role: "Parent"}); len(got) != 0 {
		t.Errorf("T_Disk as Parent: %v", got)
	}
	if got := assocs("T_System", AssociatorFilter{}); !reflect.DeepEqual(got, []string{"T_Disk", "T_Element", "T_System"}) {
		t.Errorf("AssociatorClasses of T_System: %v", got)
	}
	if got := assocs("T_System", AssociatorFilter{AssocClass: "T_HasDisk", ResultRole: "Child"}); !reflect.DeepEqual(got, []string{"T_Disk"}) {
		t.Errorf("AssociatorClasses of T_System via T_HasDisk: %v", got)
	}
	if got := assocs("T_Disk", AssociatorFilter{ResultClass: "T_System"}); !reflect.DeepEqual(got, []string{"T_System"}) {
		t.Errorf("AssociatorClasses of T_Disk: %v", got)
	}
	wantStatus(t, r.ReferenceClasses(testNS, "T_Nope", ReferenceFilter{}, nil), cim.ErrInvalidParameter)
}
