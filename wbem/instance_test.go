package wbem_test

import (
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	. "github.com/hypercim/hypercim/wbem"
)

func TestEnumerateInstancesMergesStaticAndDynamic(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 3})
	all := collect(t, func(y func(*cim.Instance) error) error {
		return e.srv.EnumerateInstances(e.ctx, testNS, "T_Base", InstanceOptions{DeepInheritance: true}, y)
	})
	want := "T_Dynamic.d1 T_Dynamic.d2 T_Gen.g0000000 T_Gen.g0000001 T_Gen.g0000002 T_Static.s1 T_Static.s2 T_Sub.sub1"
	if got := ids(all); got != want {
		t.Errorf("instances of T_Base:\n got %s\nwant %s", got, want)
	}
	for _, inst := range all {
		if inst.Path == nil || inst.Path.Namespace != testNS || inst.Path.Host != "" {
			t.Errorf("%s: path %v must carry the namespace and no host", inst.ClassName, inst.Path)
		}
	}
	names := collect(t, func(y func(*cim.ObjectPath) error) error {
		return e.srv.EnumerateInstanceNames(e.ctx, testNS, "T_Base", y)
	})
	if got := ids(names); got != want {
		t.Errorf("names of T_Base:\n got %s\nwant %s", got, want)
	}
	statics := collect(t, func(y func(*cim.ObjectPath) error) error {
		return e.srv.EnumerateInstanceNames(e.ctx, testNS, "T_Static", y)
	})
	if got := ids(statics); got != "T_Static.s1 T_Static.s2 T_Sub.sub1" {
		t.Errorf("names of T_Static: %s", got)
	}
	err := e.srv.EnumerateInstances(e.ctx, testNS, "T_Nope", InstanceOptions{}, func(*cim.Instance) error { return nil })
	wantStatus(t, "EnumerateInstances of a missing class", err, cim.ErrInvalidClass)
	if err == nil || !strings.Contains(err.Error(), "CIM_ERR_INVALID_CLASS: Class not found") {
		t.Errorf("description %q: scripts grep for 'Class not found'", err)
	}
	err = e.srv.EnumerateInstanceNames(e.ctx, testNS, "T_Nope", func(*cim.ObjectPath) error { return nil })
	wantStatus(t, "EnumerateInstanceNames of a missing class", err, cim.ErrInvalidClass)
}

// The DSP0200 parameters that shape enumerated instances.
func TestEnumerateInstancesOptions(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	enum := func(class string, o InstanceOptions) map[string]*cim.Instance {
		out := map[string]*cim.Instance{}
		for _, inst := range collect(t, func(y func(*cim.Instance) error) error {
			return e.srv.EnumerateInstances(e.ctx, testNS, class, o, y)
		}) {
			id, _ := inst.Path.Key("Id")
			out[id.Str()] = inst
		}
		return out
	}
	props := func(inst *cim.Instance) string {
		var names []string
		for _, p := range inst.Properties() {
			names = append(names, p.Name)
		}
		return strings.Join(names, ",")
	}
	// DeepInheritance: the subclass's own Level only when deep.
	deep := enum("T_Static", InstanceOptions{DeepInheritance: true})
	if got := props(deep["sub1"]); got != "Id,Name,Count,Extra,Level" {
		t.Errorf("deep: %s", got)
	}
	shallow := enum("T_Static", InstanceOptions{})
	if got := props(shallow["sub1"]); got != "Id,Name,Count,Extra" {
		t.Errorf("not deep: %s", got)
	}
	if shallow["sub1"].ClassName != "T_Sub" || shallow["sub1"].Path.ClassName != "T_Sub" {
		t.Errorf("a shallow enumeration keeps the instance's class: %v", shallow["sub1"].Path)
	}
	// LocalOnly: only what T_Static itself defines, and T_Sub's own with
	// DeepInheritance.
	if got := props(enum("T_Static", InstanceOptions{LocalOnly: true})["s1"]); got != "Extra" {
		t.Errorf("LocalOnly: %s", got)
	}
	if got := props(enum("T_Static", InstanceOptions{LocalOnly: true, DeepInheritance: true})["sub1"]); got != "Extra,Level" {
		t.Errorf("LocalOnly with DeepInheritance: %s", got)
	}
	// PropertyList: case-insensitive, unknown names ignored, empty keeps none.
	if got := props(enum("T_Static", InstanceOptions{DeepInheritance: true, PropertyList: []string{"level", "NAME", "Bogus"}})["sub1"]); got != "Name,Level" {
		t.Errorf("PropertyList: %s", got)
	}
	if got := props(enum("T_Static", InstanceOptions{DeepInheritance: true, PropertyList: []string{}})["s1"]); got != "" {
		t.Errorf("empty PropertyList: %s", got)
	}
	// IncludeClassOrigin and IncludeQualifiers.
	withOrigin := enum("T_Base", InstanceOptions{DeepInheritance: true, IncludeClassOrigin: true})
	for _, id := range []string{"s1", "d1"} {
		if o := withOrigin[id].Property("Id").ClassOrigin; o != "T_Base" {
			t.Errorf("%s: ClassOrigin of Id %q", id, o)
		}
	}
	if o := withOrigin["sub1"].Property("Level").ClassOrigin; o != "T_Sub" {
		t.Errorf("ClassOrigin of Level %q", o)
	}
	if o := enum("T_Base", InstanceOptions{DeepInheritance: true})["s1"].Property("Id").ClassOrigin; o != "" {
		t.Errorf("ClassOrigin without IncludeClassOrigin: %q", o)
	}
	withQuals := enum("T_Base", InstanceOptions{DeepInheritance: true, IncludeQualifiers: true})
	if !withQuals["d1"].Property("Id").IsKey() {
		t.Error("IncludeQualifiers: the Key qualifier is missing on Id")
	}
	if q := enum("T_Base", InstanceOptions{DeepInheritance: true})["d1"].Property("Id").Qualifiers; len(q) != 0 {
		t.Errorf("qualifiers without IncludeQualifiers: %v", q)
	}
}

func TestGetInstance(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 5})
	s1, err := e.srv.GetInstance(e.ctx, testNS, path("T_Static", "s1"), InstanceOptions{})
	if err != nil || s1.Get("Extra").Str() != "x" || s1.Get("Count").Uint32() != 7 || s1.Path.Namespace != testNS {
		t.Fatalf("static: %v %v", s1, err)
	}
	d1, err := e.srv.GetInstance(e.ctx, testNS, path("T_Dynamic", "d1"), InstanceOptions{PropertyList: []string{"Size"}, IncludeClassOrigin: true})
	if err != nil || len(d1.Properties()) != 1 || d1.Get("Size").Uint32() != 10 || d1.Property("Size").ClassOrigin != "T_Dynamic" {
		t.Fatalf("dynamic: %#v %v", d1, err)
	}
	g, err := e.srv.GetInstance(e.ctx, testNS, path("T_Gen", "g0000003"), InstanceOptions{})
	if err != nil || g.Get("Count").Uint32() != 3 {
		t.Fatalf("generated: %v %v", g, err)
	}
	// Untyped keys (a WBEM URI, wbemcli) are typed by the class.
	p, _ := cim.ParseObjectPath(`T_Sub.Id="sub1"`)
	if sub, err := e.srv.GetInstance(e.ctx, testNS, p, InstanceOptions{LocalOnly: true}); err != nil || sub.Get("Level").Uint16() != 3 || sub.Has("Id") {
		t.Errorf("LocalOnly GetInstance: %v %v", sub, err)
	}
	for _, c := range []struct {
		what   string
		name   *cim.ObjectPath
		status cim.Status
	}{
		{"missing static", path("T_Static", "nope"), cim.ErrNotFound},
		{"missing dynamic", path("T_Dynamic", "nope"), cim.ErrNotFound},
		{"missing class", path("T_Nope", "x"), cim.ErrInvalidClass},
		{"wrong key", cim.NewInstancePath("", "T_Static", cim.KeyBinding{Name: "Name", Value: cim.NewString("x")}), cim.ErrInvalidParameter},
		{"class path", cim.NewClassPath("", "T_Static"), cim.ErrInvalidParameter},
		{"nil path", nil, cim.ErrInvalidParameter},
	} {
		_, err := e.srv.GetInstance(e.ctx, testNS, c.name, InstanceOptions{})
		wantStatus(t, c.what, err, c.status)
	}
}

func TestCreateModifyDelete(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 2})
	// Static: the repository stores it, normalized (defaults filled in).
	s3 := cim.NewInstance("T_Static")
	s3.Set("Id", cim.NewString("s3"))
	s3.Set("Count", cim.NewSint64(9)) // converted to the declared uint32
	p, err := e.srv.CreateInstance(e.ctx, testNS, s3)
	if err != nil || p.Namespace != testNS || p.ClassName != "T_Static" {
		t.Fatalf("CreateInstance: %v %v", p, err)
	}
	got, _ := e.srv.GetInstance(e.ctx, testNS, p, InstanceOptions{})
	if got.Get("Count").Type() != cim.TypeUint32 || got.Get("Count").Uint32() != 9 {
		t.Errorf("stored Count %#v", got.Get("Count"))
	}
	_, err = e.srv.CreateInstance(e.ctx, testNS, s3)
	wantStatus(t, "duplicate static instance", err, cim.ErrAlreadyExists)
	bad := cim.NewInstance("T_Static")
	bad.Set("Id", cim.NewString("s4"))
	bad.Set("Color", cim.NewString("red"))
	_, err = e.srv.CreateInstance(e.ctx, testNS, bad)
	wantStatus(t, "unknown property", err, cim.ErrNoSuchProperty)
	nokey := cim.NewInstance("T_Static")
	_, err = e.srv.CreateInstance(e.ctx, testNS, nokey)
	wantStatus(t, "missing key", err, cim.ErrInvalidParameter)
	_, err = e.srv.CreateInstance(e.ctx, testNS, cim.NewInstance("T_Nope"))
	wantStatus(t, "missing class", err, cim.ErrInvalidClass)
	_, err = e.srv.CreateInstance(e.ctx, testNS, nil)
	wantStatus(t, "nil instance", err, cim.ErrInvalidParameter)

	// Dynamic: the provider stores it, validated first.
	d3 := cim.NewInstance("T_Dynamic")
	d3.Set("Id", cim.NewString("d3"))
	d3.Set("Size", cim.NewString("42")) // converted
	if _, err := e.srv.CreateInstance(e.ctx, testNS, d3); err != nil {
		t.Fatal(err)
	}
	got, _ = e.srv.GetInstance(e.ctx, testNS, path("T_Dynamic", "d3"), InstanceOptions{})
	if got.Get("Size").Uint32() != 42 || got.Get("Count").Uint32() != 7 {
		t.Errorf("dynamic instance %v", got)
	}
	_, err = e.srv.CreateInstance(e.ctx, testNS, d3)
	wantStatus(t, "duplicate dynamic instance", err, cim.ErrAlreadyExists)
	wrongType := cim.NewInstance("T_Dynamic")
	wrongType.Set("Id", cim.NewString("d4"))
	wrongType.Set("Flag", cim.NewString("maybe"))
	_, err = e.srv.CreateInstance(e.ctx, testNS, wrongType)
	wantStatus(t, "value of the wrong type", err, cim.ErrTypeMismatch)
	gen := cim.NewInstance("T_Gen")
	gen.Set("Id", cim.NewString("g9"))
	_, err = e.srv.CreateInstance(e.ctx, testNS, gen)
	wantStatus(t, "class whose provider does not create", err, cim.ErrNotSupported)

	// ModifyInstance, all properties and with a PropertyList.
	mod := cim.NewInstance("T_Dynamic")
	mod.Path = path("T_Dynamic", "d3")
	mod.Set("Name", cim.NewString("renamed"))
	mod.Set("Size", cim.NewUint32(1))
	if err := e.srv.ModifyInstance(e.ctx, testNS, mod, false, []string{"Name"}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.srv.GetInstance(e.ctx, testNS, mod.Path, InstanceOptions{})
	if got.Get("Name").Str() != "renamed" || got.Get("Size").Uint32() != 42 {
		t.Errorf("after a PropertyList modification: %v", got)
	}
	if err := e.srv.ModifyInstance(e.ctx, testNS, mod, false, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = e.srv.GetInstance(e.ctx, testNS, mod.Path, InstanceOptions{})
	if got.Get("Size").Uint32() != 1 {
		t.Errorf("after a full modification: %v", got)
	}
	// A listed property the instance lacks is reset to its default.
	if err := e.srv.ModifyInstance(e.ctx, testNS, mod, false, []string{"Count"}); err != nil {
		t.Fatal(err)
	}
	rekey := cim.NewInstance("T_Dynamic")
	rekey.Path = path("T_Dynamic", "d3")
	rekey.Set("Id", cim.NewString("other"))
	wantStatus(t, "changing a key", e.srv.ModifyInstance(e.ctx, testNS, rekey, false, nil), cim.ErrInvalidParameter)
	wantStatus(t, "PropertyList naming an unknown property", e.srv.ModifyInstance(e.ctx, testNS, mod, false, []string{"Nope"}), cim.ErrInvalidParameter)
	ghost := cim.NewInstance("T_Dynamic")
	ghost.Path = path("T_Dynamic", "ghost")
	wantStatus(t, "modifying a missing instance", e.srv.ModifyInstance(e.ctx, testNS, ghost, false, nil), cim.ErrNotFound)
	smod := cim.NewInstance("T_Static")
	smod.Path = path("T_Static", "s3")
	smod.Set("Extra", cim.NewString("changed"))
	if err := e.srv.ModifyInstance(e.ctx, testNS, smod, false, []string{"extra"}); err != nil {
		t.Fatal(err)
	}
	genMod := cim.NewInstance("T_Gen")
	genMod.Path = path("T_Gen", "g0000001")
	wantStatus(t, "class whose provider does not modify", e.srv.ModifyInstance(e.ctx, testNS, genMod, false, nil), cim.ErrNotSupported)

	// GetProperty and SetProperty.
	v, err := e.srv.GetProperty(e.ctx, testNS, path("T_Static", "s3"), "EXTRA")
	if err != nil || v.Str() != "changed" {
		t.Errorf("GetProperty: %v %v", v, err)
	}
	v, err = e.srv.GetProperty(e.ctx, testNS, path("T_Dynamic", "d3"), "Born")
	if err != nil || !v.IsNull() || v.Type() != cim.TypeDatetime {
		t.Errorf("GetProperty of a NULL datetime: %#v %v", v, err)
	}
	_, err = e.srv.GetProperty(e.ctx, testNS, path("T_Static", "s3"), "Nope")
	wantStatus(t, "GetProperty of an unknown property", err, cim.ErrNoSuchProperty)
	if err := e.srv.SetProperty(e.ctx, testNS, path("T_Dynamic", "d3"), "size", cim.NewString("77")); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.srv.GetProperty(e.ctx, testNS, path("T_Dynamic", "d3"), "Size"); v.Uint32() != 77 {
		t.Errorf("after SetProperty: %v", v)
	}
	if err := e.srv.SetProperty(e.ctx, testNS, path("T_Static", "s3"), "Extra", cim.Value{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.srv.GetProperty(e.ctx, testNS, path("T_Static", "s3"), "Extra"); !v.IsNull() {
		t.Errorf("SetProperty to NULL: %v", v)
	}
	wantStatus(t, "SetProperty of a key", e.srv.SetProperty(e.ctx, testNS, path("T_Static", "s3"), "Id", cim.NewString("x")), cim.ErrInvalidParameter)
	wantStatus(t, "SetProperty of an unknown property", e.srv.SetProperty(e.ctx, testNS, path("T_Static", "s3"), "Nope", cim.NewString("x")), cim.ErrNoSuchProperty)
	wantStatus(t, "SetProperty with a bad value", e.srv.SetProperty(e.ctx, testNS, path("T_Static", "s3"), "Count", cim.NewString("many")), cim.ErrTypeMismatch)

	// DeleteInstance.
	if err := e.srv.DeleteInstance(e.ctx, testNS, path("T_Dynamic", "d3")); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deleting twice", e.srv.DeleteInstance(e.ctx, testNS, path("T_Dynamic", "d3")), cim.ErrNotFound)
	if err := e.srv.DeleteInstance(e.ctx, testNS, path("T_Static", "s3")); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deleting a missing static instance", e.srv.DeleteInstance(e.ctx, testNS, path("T_Static", "s3")), cim.ErrNotFound)
	wantStatus(t, "class whose provider does not delete", e.srv.DeleteInstance(e.ctx, testNS, path("T_Gen", "g0000001")), cim.ErrNotSupported)
	wantStatus(t, "deleting with a class path", e.srv.DeleteInstance(e.ctx, testNS, cim.NewClassPath("", "T_Static")), cim.ErrInvalidParameter)
}
