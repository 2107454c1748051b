package cim

import (
	"errors"
	"testing"
)

func TestValueMap(t *testing.T) {
	vm, err := NewValueMap(TypeSint16, []string{"-5..-1", "0", "2", "0x10..0x1F", "100..", ".."},
		[]string{"Negative", "Zero", "Two", "Hex range", "Big", "Other"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[int16]string{-5: "Negative", -1: "Negative", 0: "Zero", 2: "Two", 16: "Hex range", 31: "Hex range",
		32: "Other", 100: "Big", 32767: "Big", -6: "Other", 1: "Other"}
	for n, want := range cases {
		if got, ok := vm.Lookup(NewSint16(n)); !ok || got != want {
			t.Errorf("Lookup(%d) = %q, %v; want %q", n, got, ok, want)
		}
	}
	// Values of other integer types look up by numeric value.
	if got, _ := vm.Lookup(NewUint64(2)); got != "Two" {
		t.Error("uint64 lookup")
	}
	if _, ok := vm.Lookup(Null(TypeSint16)); ok {
		t.Error("NULL must not match")
	}
	if v, ok := vm.ValueOf("TWO"); !ok || !v.Equal(NewSint16(2)) {
		t.Errorf("ValueOf(TWO) = %v %v", v, ok)
	}
	if _, ok := vm.ValueOf("Big"); ok {
		t.Error("a range entry has no single value")
	}
	if len(vm.Entries()) != 6 || !vm.Entries()[0].IsRange() || vm.Entries()[1].IsRange() {
		t.Error("entries")
	}
	if !vm.Contains(NewSint16(1)) {
		t.Error(".. covers everything else")
	}

	noOther, _ := NewValueMap(TypeUint8, []string{"1", "2"}, nil)
	if _, ok := noOther.Lookup(NewUint8(3)); ok {
		t.Error("no entry and no .. must miss")
	}
	if text, _ := noOther.Lookup(NewUint8(2)); text != "2" {
		t.Error("without Values the entry is its own text")
	}
	onlyValues, _ := NewValueMap(TypeUint8, nil, []string{"Zero", "One"})
	if text, _ := onlyValues.Lookup(NewUint8(1)); text != "One" {
		t.Error("without ValueMap, Values is indexed by the value")
	}
	strMap, _ := NewValueMap(TypeString, []string{"x86", "arm", ".."}, []string{"Intel", "ARM", "Other"})
	if text, _ := strMap.Lookup(NewString("arm")); text != "ARM" {
		t.Error("string map")
	}
	if text, _ := strMap.Lookup(NewString("mips")); text != "Other" {
		t.Error("string map ..")
	}
	if v, ok := strMap.ValueOf("Intel"); !ok || v.Str() != "x86" {
		t.Error("string map ValueOf")
	}
	for _, bad := range [][2][]string{
		{{"1", "2"}, {"One"}},
		{{"one"}, nil},
		{{"1..x"}, nil},
		{{"99999999999999999999"}, nil},
	} {
		if _, err := NewValueMap(TypeUint32, bad[0], bad[1]); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("NewValueMap(%v, %v) = %v", bad[0], bad[1], err)
		}
	}
	if _, err := NewValueMap(TypeUint8, nil, nil); err == nil {
		t.Error("no arrays accepted")
	}
}

func TestPropertyValueMap(t *testing.T) {
	c := vmClass(t)
	vm, err := c.Property("EnabledState").ValueMap()
	if err != nil || vm == nil {
		t.Fatal(err)
	}
	if text, _ := vm.Lookup(NewUint16(3)); text != "Disabled" {
		t.Errorf("Lookup = %q", text)
	}
	if vm, err := c.Property("Name").ValueMap(); vm != nil || err != nil {
		t.Error("no qualifiers means no map")
	}
	p := Property{Name: "P", Type: TypeUint8, Qualifiers: Qualifiers{q("ValueMap", NewStringArray([]string{"1"})),
		q("Values", NewStringArray([]string{"a", "b"}))}}
	if _, err := p.ValueMap(); err == nil {
		t.Error("mismatched lengths accepted")
	}
}
