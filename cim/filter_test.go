package cim

import (
	"errors"
	"strings"
	"testing"
)

// hierarchy: T_Element (Caption) <- T_Device (DeviceID key, overrides
// Caption) <- T_Disk (Size).
func filterWorld(t *testing.T) (*world, *Class, *Class, *Class) {
	w := newWorld(t)
	el := w.mustResolve(class("T_Element", "", Qualifiers{qDesc("element")},
		prop("Caption", TypeString, qDesc("caption")), prop("Status", TypeString)))
	el.AddMethod(Method{Name: "Reset", ReturnType: TypeUint32, ClassOrigin: "T_Element"})
	dev := w.mustResolve(class("T_Device", "T_Element", nil,
		prop("DeviceID", TypeString, qKey), prop("Caption", TypeString, qOverride("Caption"))))
	disk := w.mustResolve(class("T_Disk", "T_Device", nil, prop("Size", TypeUint64)))
	return w, el, dev, disk
}

func names(props []Property) string {
	var s []string
	for _, p := range props {
		s = append(s, p.Name)
	}
	return strings.Join(s, ",")
}

func TestFilterClass(t *testing.T) {
	_, _, dev, _ := filterWorld(t)
	full := FilterClass(dev, ClassFilter{IncludeQualifiers: true, IncludeClassOrigin: true})
	if !full.Equal(dev) || full.Property("DeviceID").ClassOrigin != "T_Device" || len(full.Methods()) != 1 {
		t.Errorf("unfiltered copy differs:\n%s", full)
	}
	local := FilterClass(dev, ClassFilter{LocalOnly: true, IncludeQualifiers: true})
	if names(local.Properties()) != "Caption,DeviceID" || len(local.Methods()) != 0 {
		t.Errorf("LocalOnly kept %s and %d methods", names(local.Properties()), len(local.Methods()))
	}
	if local.Qualifiers.Has("Description") {
		t.Error("LocalOnly must drop propagated class qualifiers")
	}
	if local.Property("Caption").ClassOrigin != "" {
		t.Error("ClassOrigin must be dropped without IncludeClassOrigin")
	}
	bare := FilterClass(dev, ClassFilter{})
	if len(bare.Qualifiers) != 0 || len(bare.Property("DeviceID").Qualifiers) != 0 {
		t.Error("qualifiers must be dropped without IncludeQualifiers")
	}
	listed := FilterClass(dev, ClassFilter{PropertyList: []string{"deviceid", "nope"}})
	if names(listed.Properties()) != "DeviceID" || len(listed.Methods()) != 1 {
		t.Errorf("PropertyList kept %s", names(listed.Properties()))
	}
	if none := FilterClass(dev, ClassFilter{PropertyList: []string{}}); len(none.Properties()) != 0 {
		t.Error("empty PropertyList keeps no properties")
	}
	// The result never shares qualifier storage with the class.
	full.Property("Caption").Qualifiers[0].Value = NewString("changed")
	if dev.Property("Caption").Qualifiers[0].Value.Str() == "changed" {
		t.Error("FilterClass shares qualifiers with the class")
	}
}

func TestFilterInstance(t *testing.T) {
	_, el, dev, disk := filterWorld(t)
	inst := disk.NewInstance()
	inst.Set("DeviceID", NewString("d0"))
	inst.Set("Size", NewUint64(1<<30))

	// Defaults: nothing to change, the same instance comes back.
	if got := FilterInstance(inst, disk, InstanceFilter{DeepInheritance: true, RequestedClass: el}); got != inst {
		t.Error("default filter must return the instance itself")
	}
	if got := FilterInstance(inst, disk, InstanceFilter{}); got != inst {
		t.Error("GetInstance defaults must return the instance itself")
	}
	cases := []struct {
		name string
		f    InstanceFilter
		want string
	}{
		{"PropertyList", InstanceFilter{PropertyList: []string{"SIZE", "caption", "bogus"}}, "Caption,Size"},
		{"empty PropertyList", InstanceFilter{PropertyList: []string{}}, ""},
		{"shallow enumeration of T_Device", InstanceFilter{RequestedClass: dev}, "Caption,Status,DeviceID"},
		{"deep enumeration of T_Device", InstanceFilter{RequestedClass: dev, DeepInheritance: true}, "Caption,Status,DeviceID,Size"},
		{"shallow enumeration of T_Element", InstanceFilter{RequestedClass: el}, "Caption,Status"},
		{"LocalOnly GetInstance", InstanceFilter{LocalOnly: true}, "Size"},
		{"LocalOnly deep enumeration of T_Device", InstanceFilter{RequestedClass: dev, DeepInheritance: true, LocalOnly: true}, "Caption,DeviceID,Size"},
		{"LocalOnly shallow enumeration of T_Device", InstanceFilter{RequestedClass: dev, LocalOnly: true}, "Caption,DeviceID"},
		{"LocalOnly and PropertyList", InstanceFilter{RequestedClass: dev, LocalOnly: true, PropertyList: []string{"DeviceID", "Status"}}, "DeviceID"},
	}
	for _, c := range cases {
		got := FilterInstance(inst, disk, c.f)
		if names(got.Properties()) != c.want {
			t.Errorf("%s: kept %q, want %q", c.name, names(got.Properties()), c.want)
		}
		if len(inst.Properties()) != 4 {
			t.Fatalf("%s modified the input", c.name)
		}
	}
	// IncludeClassOrigin and IncludeQualifiers fill in from the class.
	got := FilterInstance(inst, disk, InstanceFilter{IncludeClassOrigin: true, IncludeQualifiers: true})
	if got.Property("DeviceID").ClassOrigin != "T_Device" || got.Property("Size").ClassOrigin != "T_Disk" {
		t.Error("ClassOrigin not filled in")
	}
	if !got.Property("DeviceID").IsKey() || got.Property("Caption").Qualifiers.Str("Description") != "caption" {
		t.Error("qualifiers not filled in")
	}
	if inst.Property("DeviceID").ClassOrigin != "" || inst.Property("DeviceID").Qualifiers != nil {
		t.Error("input modified")
	}
	// Either one alone, in an enumeration too.
	enum := InstanceFilter{DeepInheritance: true, RequestedClass: el}
	quals, origins := enum, enum
	quals.IncludeQualifiers, origins.IncludeClassOrigin = true, true
	if !FilterInstance(inst, disk, quals).Property("DeviceID").IsKey() || FilterInstance(inst, disk, origins).Property("Size").ClassOrigin != "T_Disk" {
		t.Error("IncludeQualifiers or IncludeClassOrigin alone not honoured")
	}
	// And are stripped when not asked for, by GetInstance's defaults and
	// an enumeration's, also from an instance that carries them itself.
	for _, f := range []InstanceFilter{{}, {DeepInheritance: true, RequestedClass: el}} {
		back := FilterInstance(got, disk, f)
		if back.Property("DeviceID").ClassOrigin != "" || back.Property("DeviceID").Qualifiers != nil {
			t.Errorf("%+v: ClassOrigin/qualifiers not stripped", f)
		}
		withOrigin := inst.Clone()
		withOrigin.Property("Size").ClassOrigin = "T_Disk"
		withQualifiers := inst.Clone()
		withQualifiers.Qualifiers = Qualifiers{{Name: "Description", Value: NewString("d")}}
		withPropertyQualifiers := inst.Clone()
		withPropertyQualifiers.Property("Size").Qualifiers = Qualifiers{{Name: "Description", Value: NewString("s")}}
		if FilterInstance(withOrigin, disk, f).Property("Size").ClassOrigin != "" || FilterInstance(withQualifiers, disk, f).Qualifiers != nil ||
			FilterInstance(withPropertyQualifiers, disk, f).Property("Size").Qualifiers != nil {
			t.Errorf("%+v: ClassOrigin/qualifiers carried by the instance not stripped", f)
		}
	}
	// Without a class only class-free filtering applies.
	if got := FilterInstance(inst, nil, InstanceFilter{PropertyList: []string{"Size"}, LocalOnly: true}); names(got.Properties()) != "Size" {
		t.Error("class-free filtering")
	}
}

func TestFilterInstanceDefaultsAllocateNothing(t *testing.T) {
	_, el, _, disk := filterWorld(t)
	inst := disk.NewInstance()
	inst.Set("DeviceID", NewString("d0"))
	f := InstanceFilter{DeepInheritance: true, RequestedClass: el}
	if n := testing.AllocsPerRun(100, func() { FilterInstance(inst, disk, f) }); n != 0 {
		t.Errorf("default filtering allocates %v times per instance", n)
	}
}

func TestInstancePathAndNormalizePath(t *testing.T) {
	c := vmClass(t)
	inst := c.NewInstance()
	inst.Set("CreationClassName", NewString("HC_VM"))
	if _, err := c.InstancePath("root/virt", inst); !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), "key property Name") {
		t.Errorf("missing key: %v", err)
	}
	inst.Set("Name", NewString("vm1"))
	p, err := c.InstancePath("root/virt", inst)
	if err != nil || p.String() != `/root/virt:HC_VM.CreationClassName="HC_VM",Name="vm1"` {
		t.Fatalf("InstancePath = %v, %v", p, err)
	}

	parsed, _ := ParseObjectPath(`root/virt:hc_vm.NAME="vm1",creationclassname="HC_VM"`)
	n, err := c.NormalizePath(parsed)
	if err != nil || !n.Equal(p) || n.Keys[0].Name != "CreationClassName" || n.ClassName != "hc_vm" {
		t.Errorf("NormalizePath = %v, %v", n, err)
	}
	for _, bad := range []string{
		`HC_VM.Name="vm1"`,
		`HC_VM.Name="vm1",CreationClassName="HC_VM",EnabledState=2`,
		`HC_VM.Name="vm1",CreationClassName="HC_VM",Bogus=2`,
		`HC_VM.Name=5,CreationClassName=TRUE`,
	} {
		bp, err := ParseObjectPath(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.NormalizePath(bp); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("NormalizePath(%s) = %v", bad, err)
		}
	}
	// Typed keys: an untyped integer becomes the declared width, a quoted
	// string the declared datetime or reference.
	w := newWorld(t)
	k := w.mustResolve(class("T_K", "", Qualifiers{qAssoc},
		prop("Id", TypeUint16, qKey), prop("When", TypeDatetime, qKey),
		Property{Name: "Ref", Type: TypeReference, ReferenceClass: "T_K", Qualifiers: Qualifiers{qKey}},
		prop("Label", TypeString, qKey), prop("C", TypeChar16, qKey)))
	kp, _ := ParseObjectPath(`T_K.Id=0x10,When="20240101000000.000000+000",Ref="T_K.Id=1",Label="T_K.Id=2",C='x'`)
	nk, err := k.NormalizePath(kp)
	if err != nil {
		t.Fatal(err)
	}
	types := []Type{}
	for _, kb := range nk.Keys {
		types = append(types, kb.Value.Type())
	}
	if fmtTypes(types) != "uint16 datetime reference string char16" {
		t.Errorf("normalized key types: %s", fmtTypes(types))
	}
	if v, _ := nk.Key("Label"); v.Str() != "T_K.Id=2" {
		t.Errorf("a string key that looks like a path keeps its text: %q", v.Str())
	}
	if bad, _ := ParseObjectPath(`T_K.Id=70000,When="x",Ref="T_K.Id=1",Label="a",C='x'`); true {
		if _, err := k.NormalizePath(bad); err == nil {
			t.Error("out-of-range key accepted")
		}
	}
	// A keyless class takes the singleton path.
	single := w.mustResolve(class("T_Single", "", nil, prop("X", TypeString)))
	sp, err := single.NormalizePath(&ObjectPath{ClassName: "T_Single", Keys: []KeyBinding{}})
	if err != nil || sp.String() != "T_Single=@" {
		t.Errorf("singleton: %v %v", sp, err)
	}
}

func fmtTypes(ts []Type) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.String())
	}
	return strings.Join(s, " ")
}

func TestCheckAndNormalizeInstance(t *testing.T) {
	c := vmClass(t)
	good := NewInstance("hc_vm")
	good.Set("CreationClassName", NewString("HC_VM"))
	good.Set("Name", NewString("vm1"))
	good.Set("EnabledState", NewUint16(2))
	good.Set("Tags", Value{})
	if err := c.CheckInstance(good); err != nil {
		t.Fatalf("CheckInstance: %v", err)
	}
	cases := []struct {
		mutate func(*Instance)
		code   Status
		want   string
	}{
		{func(i *Instance) { i.ClassName = "HC_Other" }, ErrInvalidClass, "checked against class HC_VM"},
		{func(i *Instance) { i.Set("Bogus", NewString("x")) }, ErrNoSuchProperty, "class HC_VM has no property Bogus"},
		{func(i *Instance) { i.Set("EnabledState", NewUint32(2)) }, ErrTypeMismatch, "HC_VM.EnabledState is uint16, but a uint32 value was given"},
		{func(i *Instance) { i.Set("Tags", NewString("x")) }, ErrTypeMismatch, "is string[], but a string value was given"},
		{func(i *Instance) { i.Set("Name", Null(TypeString)) }, ErrInvalidParameter, "key property Name of class HC_VM has no value"},
		{func(i *Instance) { i.RemoveProperty("CreationClassName") }, ErrInvalidParameter, "key property CreationClassName"},
	}
	abstract := c.Clone()
	abstract.Qualifiers.Set(qAbstract)
	if err := abstract.CheckInstance(good); !errors.Is(err, ErrInvalidClass) || !strings.Contains(err.Error(), "abstract") {
		t.Errorf("instance of an abstract class: %v", err)
	}
	if _, err := abstract.NormalizeInstance(good); !errors.Is(err, ErrInvalidClass) {
		t.Errorf("creating an instance of an abstract class: %v", err)
	}
	for _, tc := range cases {
		inst := good.Clone()
		tc.mutate(inst)
		err := c.CheckInstance(inst)
		if StatusOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckInstance = %v, want %v containing %q", err, tc.code, tc.want)
		}
	}

	// NormalizeInstance converts what converts and completes the instance.
	loose := NewInstance("HC_VM")
	loose.Set("name", NewString("vm1"))
	loose.Set("CreationClassName", NewString("HC_VM"))
	loose.Set("EnabledState", NewSint64(3))
	loose.Set("Started", NewString("20240101000000.000000+000"))
	n, err := c.NormalizeInstance(loose)
	if err != nil {
		t.Fatal(err)
	}
	if names(n.Properties()) != "CreationClassName,Name,EnabledState,Tags,Started,Config" {
		t.Errorf("order: %s", names(n.Properties()))
	}
	if v := n.Get("EnabledState"); v.Type() != TypeUint16 || v.Uint16() != 3 || n.Get("Started").Type() != TypeDatetime {
		t.Error("values not converted")
	}
	if err := c.CheckInstance(n); err != nil {
		t.Errorf("normalized instance fails CheckInstance: %v", err)
	}
	loose.Set("EnabledState", NewSint64(-1))
	if _, err := c.NormalizeInstance(loose); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("unconvertible value: %v", err)
	}
	loose.Set("EnabledState", NewUint16(1))
	loose.Set("Nope", NewUint16(1))
	if _, err := c.NormalizeInstance(loose); !errors.Is(err, ErrNoSuchProperty) {
		t.Errorf("unknown property: %v", err)
	}
}

func TestModifyInstance(t *testing.T) {
	c := vmClass(t)
	cur := c.NewInstance()
	cur.Set("CreationClassName", NewString("HC_VM"))
	cur.Set("Name", NewString("vm1"))
	cur.Set("EnabledState", NewUint16(2))
	cur.Set("Tags", NewStringArray([]string{"a"}))

	mod := NewInstance("HC_VM")
	mod.Set("Name", NewString("vm1")) // unchanged key: fine
	mod.Set("Tags", NewStringArray([]string{"b", "c"}))
	mod.Set("EnabledState", NewSint64(3))

	all, err := c.ModifyInstance(cur, mod, nil)
	if err != nil {
		t.Fatal(err)
	}
	if all.Get("EnabledState").Uint16() != 3 || all.Get("Tags").Len() != 2 || cur.Get("EnabledState").Uint16() != 2 {
		t.Errorf("nil PropertyList: %s", all)
	}
	// Only listed properties change; a listed property missing from the
	// modified instance goes back to the class default.
	some, err := c.ModifyInstance(cur, mod, []string{"tags", "EnabledState", "Started"})
	if err != nil {
		t.Fatal(err)
	}
	if some.Get("EnabledState").Uint16() != 3 || some.Get("Tags").StrArray()[1] != "c" || !some.Get("Started").IsNull() {
		t.Errorf("listed: %s", some)
	}
	reset, _ := c.ModifyInstance(cur, NewInstance("HC_VM"), []string{"EnabledState"})
	if reset.Get("EnabledState").Uint16() != 5 {
		t.Errorf("reset to default: %v", reset.Get("EnabledState"))
	}
	untouched, _ := c.ModifyInstance(cur, mod, []string{})
	if !untouched.Equal(cur) {
		t.Error("empty PropertyList changes nothing")
	}
	errs := []struct {
		mod  func(*Instance)
		list []string
		code Status
	}{
		{func(i *Instance) { i.Set("Name", NewString("vm2")) }, nil, ErrInvalidParameter},
		{func(i *Instance) { i.Set("Bogus", NewUint8(1)) }, nil, ErrNoSuchProperty},
		{func(i *Instance) {}, []string{"Bogus"}, ErrInvalidParameter},
		{func(i *Instance) { i.Set("EnabledState", NewString("x")) }, nil, ErrTypeMismatch},
		{func(i *Instance) { i.ClassName = "HC_Other" }, nil, ErrInvalidClass},
	}
	for _, e := range errs {
		m := mod.Clone()
		e.mod(m)
		if _, err := c.ModifyInstance(cur, m, e.list); StatusOf(err) != e.code {
			t.Errorf("ModifyInstance error %v, want %v", err, e.code)
		}
	}
}
