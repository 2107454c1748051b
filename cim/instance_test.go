package cim

import (
	"errors"
	"strings"
	"testing"
)

func vmClass(t *testing.T) *Class {
	w := newWorld(t)
	c := class("HC_VM", "", nil,
		prop("CreationClassName", TypeString, qKey),
		prop("Name", TypeString, qKey),
		Property{Name: "EnabledState", Type: TypeUint16, Value: NewUint16(5),
			Qualifiers: Qualifiers{q("ValueMap", NewStringArray([]string{"2", "3", "5", ".."})),
				q("Values", NewStringArray([]string{"Enabled", "Disabled", "Not Applicable", "Other"}))}},
		Property{Name: "Tags", Type: TypeString, IsArray: true},
		prop("Started", TypeDatetime),
		prop("Config", TypeString, q("EmbeddedInstance", NewString("HC_Config"))))
	return w.mustResolve(c)
}

func TestInstanceFromClass(t *testing.T) {
	c := vmClass(t)
	inst := c.NewInstance()
	if inst.ClassName != "HC_VM" || len(inst.Properties()) != 6 || inst.idx != c.index() {
		t.Fatalf("NewInstance: %#v", inst)
	}
	if v := inst.Get("enabledstate"); v.Uint16() != 5 || v.Type() != TypeUint16 {
		t.Errorf("class default not copied: %#v", v)
	}
	if v := inst.Get("Tags"); !v.IsNull() || !v.IsArray() || v.Type() != TypeString {
		t.Errorf("NULL must be typed as declared: %#v", v)
	}
	if inst.Property("Config").Embedded != EmbeddedInstance {
		t.Error("embedded kind must be copied so encoders know it even for NULL")
	}
	inst.Set("NAME", NewString("vm1"))
	if inst.Get("Name").Str() != "vm1" || inst.Property("name").Name != "Name" {
		t.Error("Set must keep the declared spelling")
	}
	if err := inst.Assign("Started", "20240101000000.000000+000"); err != nil || inst.Get("Started").Type() != TypeDatetime {
		t.Errorf("Assign string to datetime: %v", err)
	}
	if err := inst.Assign("Tags", []string{"a", "b"}); err != nil || inst.Get("Tags").Len() != 2 {
		t.Errorf("Assign array: %v", err)
	}
	if err := inst.Assign("EnabledState", "x"); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("Assign bad value: %v", err)
	}
	if err := inst.Assign("Extra", 1.5); err != nil || inst.Get("extra").Type() != TypeReal64 {
		t.Errorf("Assign new property: %v", err)
	}
	inst.Set("Tags", Value{})
	if v := inst.Get("Tags"); !v.IsNull() || v.Type() != TypeString || !v.IsArray() {
		t.Error("untyped NULL keeps the declared type")
	}
	if !inst.RemoveProperty("EXTRA") || inst.Has("Extra") || inst.idx != nil {
		t.Error("RemoveProperty must drop the shared index")
	}
	if inst.Get("Name").Str() != "vm1" {
		t.Error("lookup after removal")
	}
	if err := inst.AddProperty(Property{Name: "name"}); err == nil {
		t.Error("duplicate property accepted")
	}
	if inst.Get("nope").Type() != TypeInvalid {
		t.Error("absent property must give the zero Value")
	}
}

func TestInstanceCloneEqualMOF(t *testing.T) {
	inst := NewInstance("HC_X")
	inst.Set("Name", NewString("a"))
	inst.Set("Data", NewUint8Array([]uint8{1, 2}))
	inst.Set("Ref", NewReference(&ObjectPath{Namespace: "root/virt", ClassName: "HC_Y", Keys: []KeyBinding{{"Id", NewString("1")}}}))
	inst.Path = &ObjectPath{ClassName: "HC_X", Keys: []KeyBinding{{"Name", NewString("a")}}}
	c := inst.Clone()
	if !inst.Equal(c) || c.Path.String() != inst.Path.String() {
		t.Fatal("clone")
	}
	c.Property("Data").Value.Uint8Array()[0] = 9
	c.Path.Keys[0].Value = NewString("b")
	if inst.Get("Data").Uint8Array()[0] != 1 || inst.Path.Keys[0].Value.Str() != "a" {
		t.Error("Clone must be deep")
	}
	if inst.Equal(c) {
		t.Error("changed clone still equal")
	}
	want := "instance of HC_X {\n    Name = \"a\";\n    Data = {1, 2};\n    Ref = \"/root/virt:HC_Y.Id=\\\"1\\\"\";\n};\n"
	if got := inst.String(); got != want {
		t.Errorf("MOF:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(inst.GoString(), `Name: cim.Value(string "a")`) {
		t.Errorf("GoString: %s", inst.GoString())
	}
	if (*Instance)(nil).Clone() != nil || !(*Instance)(nil).Equal(nil) || inst.Equal(nil) {
		t.Error("nil handling")
	}
}
