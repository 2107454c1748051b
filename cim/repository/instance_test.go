package repository

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

func TestInstances(t *testing.T) {
	r := openSchema(t)
	in := vm("vm1", 8192)
	started := mustDatetime(t, "20240131235959.123456+060")
	in.Set("Started", cim.NewDatetime(started))
	in.Set("Labels", cim.NewStringArray([]string{"a", "b"}))
	in.Set("State", cim.NewUint64(3)) // converted to the declared uint16
	path, err := r.CreateInstance(testNS, in)
	must(t, err)
	if path.String() != `/root/test:T_VM.Name="vm1"` {
		t.Errorf("path %s", path)
	}
	_, err = r.CreateInstance(testNS, vm("VM1", 1)) // keys are case-sensitive strings
	must(t, err)
	_, err = r.CreateInstance(testNS, vm("vm1", 1))
	wantStatus(t, err, cim.ErrAlreadyExists)

	got, err := r.GetInstance(testNS, parsePath(t, `t_vm.name="vm1"`))
	must(t, err)
	if got.ClassName != "T_VM" || got.Path.String() != path.String() || got.Get("Memory").Uint64() != 8192 ||
		got.Get("State").Uint16() != 3 || got.Get("Started").Datetime() != started ||
		!reflect.DeepEqual(got.Get("Labels").StrArray(), []string{"a", "b"}) || !got.Get("Caption").IsNull() {
		t.Errorf("instance read back: %s", got)
	}
	if len(got.Properties()) != 6 {
		t.Errorf("instance has %d properties, want every property of its class", len(got.Properties()))
	}

	// Errors.
	_, err = r.GetInstance(testNS, parsePath(t, `T_VM.Name="nope"`))
	wantStatus(t, err, cim.ErrNotFound)
	_, err = r.GetInstance(testNS, parsePath(t, `T_Nope.Name="vm1"`))
	wantStatus(t, err, cim.ErrInvalidClass)
	_, err = r.GetInstance(testNS, parsePath(t, `T_VM.Other="vm1"`))
	wantStatus(t, err, cim.ErrInvalidParameter)
	_, err = r.CreateInstance(testNS, cim.NewInstance("T_Nope"))
	wantStatus(t, err, cim.ErrInvalidClass)
	_, err = r.CreateInstance(testNS, cim.NewInstance("T_Element"))
	wantStatus(t, err, cim.ErrNotSupported)
	_, err = r.CreateInstance(testNS, cim.NewInstance("T_VM"))
	wantStatus(t, err, cim.ErrInvalidParameter) // no key
	extra := vm("vm2", 1)
	extra.Set("Nope", cim.NewString("x"))
	_, err = r.CreateInstance(testNS, extra)
	wantStatus(t, err, cim.ErrNoSuchProperty)
	mistyped := vm("vm2", 1)
	mistyped.Set("Memory", cim.NewString("lots"))
	_, err = r.CreateInstance(testNS, mistyped)
	wantStatus(t, err, cim.ErrTypeMismatch)

	// Modify: the listed properties only; a listed one the modified
	// instance lacks goes back to its default; keys stay.
	mod := cim.NewInstance("T_VM")
	mod.Path = path
	mod.Set("Memory", cim.NewUint64(1))
	mod.Set("Caption", cim.NewString("hello"))
	must(t, r.ModifyInstance(testNS, mod, []string{"Caption", "State"}))
	got, err = r.GetInstance(testNS, path)
	must(t, err)
	if got.Get("Caption").Str() != "hello" || got.Get("Memory").Uint64() != 8192 || got.Get("State").Uint16() != 2 {
		t.Errorf("after ModifyInstance: %s", got)
	}
	mod = vm("vm1", 42) // no Path: its keys name it; nil list: all it carries
	must(t, r.ModifyInstance(testNS, mod, nil))
	got, _ = r.GetInstance(testNS, path)
	if got.Get("Memory").Uint64() != 42 || got.Get("Caption").Str() != "hello" {
		t.Errorf("after ModifyInstance: %s", got)
	}
	mod = vm("nope", 1)
	wantStatus(t, r.ModifyInstance(testNS, mod, nil), cim.ErrNotFound)
	mod = vm("vm1", 1)
	mod.Set("Nope", cim.NewString(""))
	wantStatus(t, r.ModifyInstance(testNS, mod, nil), cim.ErrNoSuchProperty)
	mod = cim.NewInstance("T_VM")
	mod.Path = path
	wantStatus(t, r.ModifyInstance(testNS, mod, []string{"Nope"}), cim.ErrInvalidParameter)

	// Delete.
	must(t, r.DeleteInstance(testNS, path))
	wantStatus(t, r.DeleteInstance(testNS, path), cim.ErrNotFound)
	_, err = r.GetInstance(testNS, path)
	wantStatus(t, err, cim.ErrNotFound)
}

// TestInstanceKeys: paths match whatever form the keys come in (an
// untyped WBEM URI, other integer widths), and every key type works.
func TestInstanceKeys(t *testing.T) {
	r := openSchema(t)
	_, err := r.CreateInstance(testNS, disk("sda", 3))
	must(t, err)
	for _, s := range []string{
		`T_Disk.Id="sda",Unit=3`,
		`/root/test:t_disk.unit=3,id="sda"`,
		`//somehost/root/test:T_Disk.Unit="3",Id="sda"`,
	} {
		if _, err := r.GetInstance(testNS, parsePath(t, s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	p := cim.NewInstancePath("", "T_Disk", cim.KeyBinding{Name: "Id", Value: cim.NewString("sda")}, cim.KeyBinding{Name: "Unit", Value: cim.NewUint8(3)})
	if _, err := r.GetInstance(testNS, p); err != nil {
		t.Errorf("%s: %v", p, err)
	}
	_, err = r.GetInstance(testNS, parsePath(t, `T_Disk.Id="sda",Unit=300000000000`))
	wantStatus(t, err, cim.ErrInvalidParameter)
	_, err = r.GetInstance(testNS, parsePath(t, `T_Disk.Id="sda"`))
	wantStatus(t, err, cim.ErrInvalidParameter)

	// Embedded instances are stored and come back.
	d := disk("sdb", 0)
	backing := disk("inner", 1)
	backing.Set("Caption", cim.NewString("embedded"))
	d.Set("Backing", cim.NewEmbeddedInstance(backing))
	bp, err := r.CreateInstance(testNS, d)
	must(t, err)
	got, err := r.GetInstance(testNS, bp)
	must(t, err)
	if e := got.Get("Backing").Instance(); e == nil || e.Get("Caption").Str() != "embedded" {
		t.Errorf("embedded instance: %s", got)
	}
}

func TestEnumerateInstances(t *testing.T) {
	r := openSchema(t)
	for _, inst := range []*cim.Instance{system("b"), system("a"), vm("v2", 1), vm("v1", 1), disk("d", 0)} {
		_, err := r.CreateInstance(testNS, inst)
		must(t, err)
	}
	want := []string{`T_System.Name="a"`, `T_System.Name="b"`, `T_VM.Name="v1"`, `T_VM.Name="v2"`}
	if got := instancePaths(t, r, "T_System", true); !reflect.DeepEqual(got, want) {
		t.Errorf("deep: %v", got)
	}
	if got := instancePaths(t, r, "t_system", false); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("shallow: %v", got)
	}
	if got := instancePaths(t, r, "T_Element", true); len(got) != 5 {
		t.Errorf("T_Element deep: %v", got)
	}
	if got := instancePaths(t, r, "T_Element", false); len(got) != 0 {
		t.Errorf("T_Element shallow: %v", got)
	}
	wantStatus(t, r.EnumerateInstances(testNS, "T_Nope", true, nil), cim.ErrInvalidClass)
	var names []string
	must(t, r.EnumerateInstanceNames(testNS, "T_VM", true, func(p *cim.ObjectPath) error {
		names = append(names, p.String())
		return nil
	}))
	if !reflect.DeepEqual(names, []string{`/root/test:T_VM.Name="v1"`, `/root/test:T_VM.Name="v2"`}) {
		t.Errorf("names: %v", names)
	}
	// The same through a transaction.
	n := 0
	must(t, r.View(func(tx *Tx) error {
		return tx.EnumerateInstances(testNS, "T_Element", true, func(*cim.Instance) error { n++; return nil })
	}))
	if n != 5 {
		t.Errorf("Tx.EnumerateInstances: %d", n)
	}
}

// TestEnumerateChunks: enumerations longer than a chunk resume correctly,
// across classes, and an error from the callback stops them.
func TestEnumerateChunks(t *testing.T) {
	r := openSchema(t)
	const n = 3*chunkSize + 7
	must(t, r.Update(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			inst := system(fmt.Sprintf("s%05d", i))
			if i%3 == 0 {
				inst = vm(fmt.Sprintf("v%05d", i), uint64(i))
			}
			if _, err := tx.CreateInstance(testNS, inst); err != nil {
				return err
			}
		}
		return nil
	}))
	seen := map[string]bool{}
	must(t, r.EnumerateInstances(testNS, "T_System", true, func(inst *cim.Instance) error {
		if seen[inst.Path.String()] {
			t.Fatalf("%s twice", inst.Path)
		}
		seen[inst.Path.String()] = true
		return nil
	}))
	if len(seen) != n {
		t.Errorf("%d instances, want %d", len(seen), n)
	}
	stop := errors.New("stop")
	count := 0
	err := r.EnumerateInstances(testNS, "T_System", true, func(*cim.Instance) error {
		count++
		if count == chunkSize+1 {
			return stop
		}
		return nil
	})
	if err != stop || count != chunkSize+1 {
		t.Errorf("stopping: %v after %d", err, count)
	}
}
