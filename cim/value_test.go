package cim

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestScalarConstructorsAndGetters(t *testing.T) {
	dt, _ := ParseDatetime("20240101120000.000000+000")
	path := &ObjectPath{ClassName: "CIM_Foo", Keys: []KeyBinding{{"Id", NewUint32(1)}}}
	inst := NewInstance("CIM_Emb")
	cls := NewClass("CIM_Cls", "")
	cases := []struct {
		v    Value
		typ  Type
		get  any
		want any
	}{
		{NewBoolean(true), TypeBoolean, NewBoolean(true).Bool(), true},
		{NewString("x"), TypeString, NewString("x").Str(), "x"},
		{NewChar16('Z'), TypeChar16, NewChar16('Z').Char16(), uint16('Z')},
		{NewUint8(255), TypeUint8, NewUint8(255).Uint8(), uint8(255)},
		{NewSint8(-128), TypeSint8, NewSint8(-128).Sint8(), int8(-128)},
		{NewUint16(65535), TypeUint16, NewUint16(65535).Uint16(), uint16(65535)},
		{NewSint16(-32768), TypeSint16, NewSint16(-32768).Sint16(), int16(-32768)},
		{NewUint32(math.MaxUint32), TypeUint32, NewUint32(math.MaxUint32).Uint32(), uint32(math.MaxUint32)},
		{NewSint32(math.MinInt32), TypeSint32, NewSint32(math.MinInt32).Sint32(), int32(math.MinInt32)},
		{NewUint64(math.MaxUint64), TypeUint64, NewUint64(math.MaxUint64).Uint64(), uint64(math.MaxUint64)},
		{NewSint64(math.MinInt64), TypeSint64, NewSint64(math.MinInt64).Sint64(), int64(math.MinInt64)},
		{NewReal32(1.5), TypeReal32, NewReal32(1.5).Real32(), float32(1.5)},
		{NewReal64(-2.25), TypeReal64, NewReal64(-2.25).Real64(), -2.25},
		{NewDatetime(dt), TypeDatetime, NewDatetime(dt).Datetime(), dt},
		{NewReference(path), TypeReference, NewReference(path).Ref(), path},
		{NewEmbeddedInstance(inst), TypeString, NewEmbeddedInstance(inst).Instance(), inst},
		{NewEmbeddedClass(cls), TypeString, NewEmbeddedClass(cls).Class(), cls},
	}
	for _, c := range cases {
		if c.v.Type() != c.typ || c.v.IsNull() || c.v.IsArray() {
			t.Errorf("%#v: type %v null %v array %v", c.v, c.v.Type(), c.v.IsNull(), c.v.IsArray())
		}
		if !reflect.DeepEqual(c.get, c.want) {
			t.Errorf("%#v: getter returned %#v, want %#v", c.v, c.get, c.want)
		}
		if !reflect.DeepEqual(c.v.Interface(), c.want) {
			t.Errorf("%#v.Interface() = %#v, want %#v", c.v, c.v.Interface(), c.want)
		}
		if !c.v.Equal(c.v) || !c.v.Equal(c.v.Clone()) {
			t.Errorf("%#v is not equal to itself or its clone", c.v)
		}
	}
	// Getters of another type give zero values.
	v := NewUint16(7)
	if v.Uint32() != 0 || v.Str() != "" || v.Bool() || v.Ref() != nil || v.Datetime() != (Datetime{}) || v.Uint16Array() != nil {
		t.Error("mismatched getters must return zero values")
	}
	if NewEmbeddedInstance(inst).Str() != "" || NewEmbeddedInstance(inst).Embedded() != EmbeddedInstance ||
		NewEmbeddedClass(cls).Embedded() != EmbeddedObject || NewString("x").Embedded() != EmbeddedNone {
		t.Error("embedded kinds wrong")
	}
	if NewReference(nil).IsNull() != true || NewEmbeddedInstance(nil).Type() != TypeString {
		t.Error("nil pointers must give typed NULLs")
	}
}

func TestNullValues(t *testing.T) {
	var zero Value
	if !zero.IsNull() || zero.Type() != TypeInvalid || zero.IsArray() || zero.Interface() != nil {
		t.Error("zero Value must be an untyped NULL")
	}
	n := Null(TypeUint8)
	if !n.IsNull() || n.Type() != TypeUint8 || n.IsArray() || n.Uint8() != 0 {
		t.Error("Null(uint8) wrong")
	}
	na := NullArray(TypeString)
	if !na.IsNull() || !na.IsArray() || na.Len() != 0 || na.StrArray() != nil {
		t.Error("NullArray(string) wrong")
	}
	if n.Equal(na) || n.Equal(Null(TypeUint16)) || !n.Equal(Null(TypeUint8)) || n.Equal(NewUint8(0)) {
		t.Error("NULL equality must consider type and array-ness, and differ from zero")
	}
	if NewStringArray(nil).IsNull() != true || NewStringArray([]string{}).IsNull() {
		t.Error("nil slice is a NULL array, empty slice an empty array")
	}
	if got := NewStringArray([]string{}).Elements(); got == nil || len(got) != 0 {
		t.Error("Elements of an empty array must be an empty, non-nil slice")
	}
}

func TestArrays(t *testing.T) {
	arrays := []struct {
		v   Value
		n   int
		get any
	}{
		{NewBooleanArray([]bool{true, false}), 2, NewBooleanArray([]bool{true, false}).BoolArray()},
		{NewStringArray([]string{"a"}), 1, NewStringArray([]string{"a"}).StrArray()},
		{NewChar16Array([]uint16{'a', 'b', 'c'}), 3, NewChar16Array([]uint16{'a', 'b', 'c'}).Char16Array()},
		{NewUint8Array([]uint8{1}), 1, NewUint8Array([]uint8{1}).Uint8Array()},
		{NewSint8Array([]int8{-1}), 1, NewSint8Array([]int8{-1}).Sint8Array()},
		{NewUint16Array([]uint16{1, 2}), 2, NewUint16Array([]uint16{1, 2}).Uint16Array()},
		{NewSint16Array([]int16{-1}), 1, NewSint16Array([]int16{-1}).Sint16Array()},
		{NewUint32Array([]uint32{1}), 1, NewUint32Array([]uint32{1}).Uint32Array()},
		{NewSint32Array([]int32{-1}), 1, NewSint32Array([]int32{-1}).Sint32Array()},
		{NewUint64Array([]uint64{1}), 1, NewUint64Array([]uint64{1}).Uint64Array()},
		{NewSint64Array([]int64{-1}), 1, NewSint64Array([]int64{-1}).Sint64Array()},
		{NewReal32Array([]float32{1}), 1, NewReal32Array([]float32{1}).Real32Array()},
		{NewReal64Array([]float64{1, 2}), 2, NewReal64Array([]float64{1, 2}).Real64Array()},
		{NewDatetimeArray([]Datetime{{}}), 1, NewDatetimeArray([]Datetime{{}}).DatetimeArray()},
		{NewReferenceArray([]*ObjectPath{{ClassName: "A"}}), 1, NewReferenceArray([]*ObjectPath{{ClassName: "A"}}).RefArray()},
		{NewEmbeddedInstanceArray([]*Instance{NewInstance("X")}), 1, NewEmbeddedInstanceArray([]*Instance{NewInstance("X")}).InstanceArray()},
		{NewEmbeddedClassArray([]*Class{NewClass("X", "")}), 1, NewEmbeddedClassArray([]*Class{NewClass("X", "")}).ClassArray()},
	}
	for _, a := range arrays {
		if !a.v.IsArray() || a.v.IsNull() || a.v.Len() != a.n || reflect.ValueOf(a.get).Len() != a.n {
			t.Errorf("%#v: array %v null %v len %d", a.v, a.v.IsArray(), a.v.IsNull(), a.v.Len())
		}
		for i := 0; i < a.n; i++ {
			e := a.v.Index(i)
			if e.Type() != a.v.Type() || e.IsArray() || e.IsNull() {
				t.Errorf("%#v.Index(%d) = %#v", a.v, i, e)
			}
		}
		if !a.v.Index(a.n).IsNull() || !a.v.Index(-1).IsNull() {
			t.Errorf("%#v: out-of-range Index must be NULL", a.v)
		}
		if !a.v.Equal(a.v.Clone()) {
			t.Errorf("%#v: clone differs", a.v)
		}
	}
	if NewChar16Array([]uint16{'a'}).Index(0).Type() != TypeChar16 || NewUint16Array([]uint16{1}).Index(0).Type() != TypeUint16 {
		t.Error("char16 and uint16 arrays share a Go type but must keep their CIM type")
	}
}

func TestArrayWithNullElements(t *testing.T) {
	v, err := NewArray(TypeUint16, []Value{NewUint16(1), Null(TypeUint16), {}, NewSint64(4)})
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 4 || v.IsNullAt(0) || !v.IsNullAt(1) || !v.IsNullAt(2) || v.IsNullAt(3) {
		t.Fatalf("null elements wrong: %v", v)
	}
	if got := v.Uint16Array(); !reflect.DeepEqual(got, []uint16{1, 0, 0, 4}) {
		t.Errorf("Uint16Array = %v", got)
	}
	if v.String() != "{1, NULL, NULL, 4}" {
		t.Errorf("MOF = %s", v)
	}
	w, _ := NewArray(TypeUint16, []Value{NewUint16(1), NewUint16(0), Null(TypeUint16), NewUint16(4)})
	if v.Equal(w) {
		t.Error("arrays differing in NULL elements must not be equal")
	}
	c := v.Clone()
	c.Uint16Array()[0] = 99
	if v.Uint16Array()[0] != 1 || !c.IsNullAt(1) {
		t.Error("Clone must copy the elements and the NULL flags")
	}
	refs := NewReferenceArray([]*ObjectPath{nil, {ClassName: "A"}})
	if !refs.IsNullAt(0) || refs.IsNullAt(1) {
		t.Error("nil references are NULL elements")
	}
	if _, err := NewArray(TypeUint8, []Value{NewUint16(300)}); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("out-of-range element: %v", err)
	}
	if _, err := NewArray(TypeString, []Value{NewEmbeddedInstance(NewInstance("A")), NewString("x")}); err == nil {
		t.Error("mixing embedded instances and strings must fail")
	}
	if _, err := NewArray(TypeUint8, []Value{NewUint8Array([]uint8{1})}); err == nil {
		t.Error("nested arrays must fail")
	}
	if _, err := NewArray(TypeInvalid, nil); err == nil {
		t.Error("invalid array type must fail")
	}
}

func TestValueEqual(t *testing.T) {
	nan := NewReal64(math.NaN())
	ref1 := NewReference(&ObjectPath{ClassName: "CIM_A", Keys: []KeyBinding{{"Id", NewUint32(1)}}})
	ref2 := NewReference(&ObjectPath{ClassName: "cim_a", Keys: []KeyBinding{{"ID", NewUint64(1)}}})
	pairs := []struct {
		a, b  Value
		equal bool
	}{
		{NewUint8(1), NewUint8(1), true},
		{NewUint8(1), NewUint16(1), false},
		{NewString("a"), NewString("A"), false},
		{nan, nan, true},
		{NewReal64(0), NewReal64(math.Copysign(0, -1)), true},
		{ref1, ref2, true},
		{NewStringArray([]string{"a"}), NewStringArray([]string{"a"}), true},
		{NewStringArray([]string{"a"}), NewString("a"), false},
		{NewStringArray([]string{"a", "b"}), NewStringArray([]string{"a"}), false},
		{NewEmbeddedInstance(NewInstance("A")), NewString(""), false},
		{NewEmbeddedInstance(NewInstance("A")), NewEmbeddedInstance(NewInstance("a")), true},
	}
	for _, p := range pairs {
		if got := p.a.Equal(p.b); got != p.equal {
			t.Errorf("%#v.Equal(%#v) = %v, want %v", p.a, p.b, got, p.equal)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := []string{"a", "b"}
	v := NewStringArray(s)
	c := v.Clone()
	c.StrArray()[0] = "changed"
	if v.StrArray()[0] != "a" {
		t.Error("Clone shares the slice")
	}
	p := &ObjectPath{ClassName: "A", Keys: []KeyBinding{{"K", NewString("v")}}}
	r := NewReference(p).Clone()
	r.Ref().Keys[0].Value = NewString("other")
	if p.Keys[0].Value.Str() != "v" {
		t.Error("Clone shares the referenced path")
	}
}

func TestNumericAccessors(t *testing.T) {
	if n, ok := NewSint8(-5).Int(); !ok || n != -5 {
		t.Error("Int of sint8")
	}
	if _, ok := NewUint64(math.MaxUint64).Int(); ok {
		t.Error("Int of a huge uint64 must fail")
	}
	if _, ok := NewSint16(-1).Uint(); ok {
		t.Error("Uint of a negative must fail")
	}
	if u, ok := NewUint32(7).Uint(); !ok || u != 7 {
		t.Error("Uint of uint32")
	}
	if f, ok := NewSint32(-3).Float(); !ok || f != -3 {
		t.Error("Float of sint32")
	}
	if _, ok := NewString("1").Float(); ok {
		t.Error("Float of a string must fail")
	}
	if _, ok := Null(TypeUint8).Int(); ok {
		t.Error("Int of NULL must fail")
	}
}

func TestConvert(t *testing.T) {
	ok := []struct {
		from Value
		to   Type
		want Value
	}{
		{NewSint64(200), TypeUint8, NewUint8(200)},
		{NewUint64(5), TypeSint8, NewSint8(5)},
		{NewSint64(-128), TypeSint8, NewSint8(-128)},
		{NewUint8(3), TypeReal32, NewReal32(3)},
		{NewReal64(4), TypeUint16, NewUint16(4)},
		{NewReal64(-4), TypeSint16, NewSint16(-4)},
		{NewReal64(1.5), TypeReal32, NewReal32(1.5)},
		{NewString("0x10"), TypeUint32, NewUint32(16)},
		{NewString("TRUE"), TypeBoolean, NewBoolean(true)},
		{NewString("c"), TypeChar16, NewChar16('c')},
		{NewString("00000001000000.000000:000"), TypeDatetime, NewDatetime(Datetime{us: usPerDay})},
		{NewChar16('x'), TypeString, NewString("x")},
		{NewDatetime(Datetime{}), TypeString, NewString("00000000000000.000000:000")},
		{Null(TypeString), TypeUint8, Null(TypeUint8)},
		{NullArray(TypeString), TypeUint8, NullArray(TypeUint8)},
		{NewSint64Array([]int64{1, 2}), TypeUint8, NewUint8Array([]uint8{1, 2})},
	}
	for _, c := range ok {
		got, err := c.from.Convert(c.to)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%#v.Convert(%v) = %#v, %v; want %#v", c.from, c.to, got, err, c.want)
		}
	}
	bad := []struct {
		from Value
		to   Type
		code Status
	}{
		{NewSint64(256), TypeUint8, ErrInvalidParameter},
		{NewSint64(-1), TypeUint64, ErrInvalidParameter},
		{NewUint64(math.MaxUint64), TypeSint64, ErrInvalidParameter},
		{NewReal64(1.5), TypeUint8, ErrTypeMismatch},
		{NewReal64(math.Inf(1)), TypeUint8, ErrTypeMismatch},
		{NewReal64(1e300), TypeReal32, ErrInvalidParameter},
		{NewBoolean(true), TypeUint8, ErrTypeMismatch},
		{NewUint8(1), TypeBoolean, ErrTypeMismatch},
		{NewString("abc"), TypeUint8, ErrInvalidParameter},
		{NewUint8(1), TypeString, ErrTypeMismatch},
		{NewUint8(1), TypeInvalid, ErrTypeMismatch},
		{NewSint64Array([]int64{1, 1000}), TypeUint8, ErrInvalidParameter},
	}
	for _, c := range bad {
		_, err := c.from.Convert(c.to)
		if StatusOf(err) != c.code {
			t.Errorf("%#v.Convert(%v) error = %v, want %v", c.from, c.to, err, c.code)
		}
	}
	// A reference parsed from a path converts back to its original text.
	p, err := ParseObjectPath(`CIM_A.Ref="/root:CIM_B.Id=007"`)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := p.Key("Ref")
	if ref.Type() != TypeReference {
		t.Fatalf("quoted path key is %v", ref.Type())
	}
	if s, _ := ref.Convert(TypeString); s.Str() != "/root:CIM_B.Id=007" {
		t.Errorf("reference to string = %q", s.Str())
	}
}

func TestValueOf(t *testing.T) {
	dt, _ := TimestampOf(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	cases := []struct {
		x    any
		want Value
	}{
		{nil, Value{}},
		{true, NewBoolean(true)},
		{"s", NewString("s")},
		{uint8(1), NewUint8(1)}, {uint16(1), NewUint16(1)}, {uint32(1), NewUint32(1)}, {uint64(1), NewUint64(1)}, {uint(1), NewUint64(1)},
		{int8(-1), NewSint8(-1)}, {int16(-1), NewSint16(-1)}, {int32(-1), NewSint32(-1)}, {int64(-1), NewSint64(-1)}, {-1, NewSint64(-1)},
		{float32(1), NewReal32(1)}, {2.5, NewReal64(2.5)},
		{time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), NewDatetime(dt)},
		{90 * time.Second, NewDatetime(Datetime{us: 90 * usPerSecond})},
		{NewUint8(9), NewUint8(9)},
		{[]int{1, 2}, NewSint64Array([]int64{1, 2})},
		{[]uint16{1}, NewUint16Array([]uint16{1})},
		{[]Value{{}, NewString("a")}, must(NewArray(TypeString, []Value{{}, NewString("a")}))},
		{[]string(nil), NewStringArray(nil)},
	}
	for _, c := range cases {
		got, err := ValueOf(c.x)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ValueOf(%#v) = %#v, %v; want %#v", c.x, got, err, c.want)
		}
	}
	for _, bad := range []any{struct{}{}, map[string]int{}, []any{1, "a"}, [][]int{{1}}, []Value{{}}, -time.Second} {
		if _, err := ValueOf(bad); err == nil {
			t.Errorf("ValueOf(%#v) should fail", bad)
		}
	}
	if v, err := ValueOfType(TypeUint16, false, 2); err != nil || !v.Equal(NewUint16(2)) {
		t.Errorf("ValueOfType(uint16, 2) = %v, %v", v, err)
	}
	if v, err := ValueOfType(TypeUint16, true, nil); err != nil || !v.Equal(NullArray(TypeUint16)) {
		t.Errorf("ValueOfType(uint16[], nil) = %v, %v", v, err)
	}
	if _, err := ValueOfType(TypeUint16, true, 2); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("scalar for array: %v", err)
	}
	if _, err := ValueOfType(TypeUint8, false, 256); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("out of range: %v", err)
	}
}

func must(v Value, err error) Value {
	if err != nil {
		panic(err)
	}
	return v
}

// Scalars must not allocate: the server builds millions of them.
func TestScalarsDoNotAllocate(t *testing.T) {
	s := "some string"
	var sink Value
	allocs := testing.AllocsPerRun(100, func() {
		sink = NewString(s)
		sink = NewUint32(5)
		sink = NewReal64(1.5)
		sink = NewDatetime(Datetime{us: 5})
		sink = NewUint16Array(nil)
		_ = sink.Equal(NewUint32(5))
	})
	if allocs != 0 {
		t.Errorf("scalar construction allocates %v times", allocs)
	}
}

// The representation is part of the performance contract: a Value must
// stay small enough to pass and store by value.
func TestValueSize(t *testing.T) {
	if size := reflect.TypeOf(Value{}).Size(); size > 48 {
		t.Errorf("Value is %d bytes, want at most 48", size)
	}
	if size := reflect.TypeOf(Datetime{}).Size(); size > 16 {
		t.Errorf("Datetime is %d bytes, want at most 16", size)
	}
}
