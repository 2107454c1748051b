package cim

import (
	"fmt"
	"testing"
)

func TestDebugForms(t *testing.T) {
	vm, _ := NewValueMap(TypeUint8, []string{"1", ".."}, []string{"One", "Other"})
	cases := []struct {
		got, want string
	}{
		{fmt.Sprintf("%#v", ErrNotFound), "cim.Status(6 /*CIM_ERR_NOT_FOUND*/)"},
		{fmt.Sprintf("%#v", Status(77)), "cim.Status(77)"},
		{fmt.Sprintf("%#v", EmbeddedInstance), "cim.EmbeddedInstance"},
		{fmt.Sprintf("%#v", ScopeProperty|ScopeReference), "cim.ScopeProperty|cim.ScopeReference"},
		{fmt.Sprintf("%#v", Scope(0)), "cim.Scope(0)"},
		{fmt.Sprintf("%#v", FlavorDisableOverride|FlavorToSubclass), "cim.FlavorDisableOverride|cim.FlavorToSubclass"},
		{fmt.Sprintf("%#v", Qualifier{Name: "Key", Value: NewBoolean(true), Propagated: true}), `cim.Qualifier{"Key" = cim.Value(boolean true), propagated}`},
		{fmt.Sprintf("%#v", &Parameter{Name: "P", Type: TypeUint8, IsArray: true}), `cim.Parameter("uint8 P[]")`},
		{KeyBinding{"Name", NewString("x")}.String(), `Name="x"`},
		{fmt.Sprintf("%#v", KeyBinding{"Id", NewUint8(1)}), `cim.KeyBinding{"Id", cim.Value(uint8 1)}`},
		{ParamValue{"Count", NewUint32(3)}.String(), "Count = 3"},
		{fmt.Sprintf("%#v", ParamValue{"Count", NewUint32(3)}), `cim.ParamValue{"Count", cim.Value(uint32 3)}`},
		{vm.String(), `ValueMap{"1", ".."}, Values{"One", "Other"}`},
		{fmt.Sprintf("%#v", vm), `cim.ValueMap(uint8: ValueMap{"1", ".."}, Values{"One", "Other"})`},
		{fmt.Sprintf("%#v", &Property{Name: "P", Type: TypeUint8, Value: NewUint8(1)}), `cim.Property{"P" uint8 = 1}`},
		{fmt.Sprintf("%#v", &Method{Name: "M", ReturnType: TypeUint32}), `cim.Method("uint32 M();")`},
		{fmt.Sprintf("%v", TypeDatetime), "datetime"},
		{fmt.Sprintf("%v", ErrInvalidParameter), "CIM_ERR_INVALID_PARAMETER"},
		{fmt.Sprintf("%#v", (*ObjectPath)(nil)), "(*cim.ObjectPath)(nil)"},
		{fmt.Sprintf("%#v", (*Instance)(nil)), "(*cim.Instance)(nil)"},
		{fmt.Sprintf("%#v", (*Class)(nil)), "(*cim.Class)(nil)"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
