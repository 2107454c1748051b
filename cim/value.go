package cim

import (
	"math"
	"time"
)

// Value is a CIM value: a typed scalar, a typed array, or a typed NULL. It
// is a small value type (48 bytes) that is copied freely; scalars other than
// references and embedded objects need no heap allocation.
//
// The zero Value is an untyped NULL (Type() == TypeInvalid). NULL values
// of a type are made with Null and NullArray.
//
// Arrays keep the Go slice they were built from: the constructors take
// ownership of it, and the slices returned by the array getters must not be
// modified (use Clone to get an independent copy).
//
// Getters of the wrong type return the zero value of their result type; test
// Type(), IsArray() and IsNull() first when the type is not known.
type Value struct {
	typ   Type
	flags uint8
	aux   uint32 // datetime: timestamp flag, wildcard count, UTC offset
	num   uint64 // boolean, integers (sign-extended), real bits, char16, datetime µs
	str   string // string scalars; the source text of a reference parsed from a path
	obj   any    // arrays ([]T or *nullableArray), *ObjectPath, *Instance, *Class
}

const (
	flagNonNull = 1 << iota
	flagArray
)

// nullableArray is the storage of an array with NULL elements (DSP0201
// VALUE.NULL inside VALUE.ARRAY).
type nullableArray struct {
	data any    // the typed slice; NULL elements hold the zero value
	null []bool // null[i] reports element i is NULL
}

// Null returns a NULL scalar of type t.
func Null(t Type) Value { return Value{typ: t} }

// NullArray returns a NULL array of type t.
func NullArray(t Type) Value { return Value{typ: t, flags: flagArray} }

func scalar(t Type, n uint64) Value { return Value{typ: t, flags: flagNonNull, num: n} }
func array(t Type, s any) Value     { return Value{typ: t, flags: flagNonNull | flagArray, obj: s} }

// NewBoolean returns a boolean value.
func NewBoolean(b bool) Value {
	if b {
		return scalar(TypeBoolean, 1)
	}
	return scalar(TypeBoolean, 0)
}

// NewString returns a string value.
func NewString(s string) Value { return Value{typ: TypeString, flags: flagNonNull, str: s} }

// NewChar16 returns a char16 value (one UCS-2 code unit).
func NewChar16(c uint16) Value { return scalar(TypeChar16, uint64(c)) }

// NewUint8 returns a uint8 value.
func NewUint8(v uint8) Value { return scalar(TypeUint8, uint64(v)) }

// NewSint8 returns a sint8 value.
func NewSint8(v int8) Value { return scalar(TypeSint8, uint64(int64(v))) }

// NewUint16 returns a uint16 value.
func NewUint16(v uint16) Value { return scalar(TypeUint16, uint64(v)) }

// NewSint16 returns a sint16 value.
func NewSint16(v int16) Value { return scalar(TypeSint16, uint64(int64(v))) }

// NewUint32 returns a uint32 value.
func NewUint32(v uint32) Value { return scalar(TypeUint32, uint64(v)) }

// NewSint32 returns a sint32 value.
func NewSint32(v int32) Value { return scalar(TypeSint32, uint64(int64(v))) }

// NewUint64 returns a uint64 value.
func NewUint64(v uint64) Value { return scalar(TypeUint64, v) }

// NewSint64 returns a sint64 value.
func NewSint64(v int64) Value { return scalar(TypeSint64, uint64(v)) }

// NewReal32 returns a real32 value.
func NewReal32(v float32) Value { return scalar(TypeReal32, math.Float64bits(float64(v))) }

// NewReal64 returns a real64 value.
func NewReal64(v float64) Value { return scalar(TypeReal64, math.Float64bits(v)) }

// NewDatetime returns a datetime value (timestamp or interval).
func NewDatetime(d Datetime) Value {
	return Value{typ: TypeDatetime, flags: flagNonNull, num: uint64(d.us), aux: d.pack()}
}

// NewTimestampValue returns a datetime value for t (microsecond precision).
// Times outside years 0..9999 give an error.
func NewTimestampValue(t time.Time) (Value, error) {
	d, err := TimestampOf(t)
	if err != nil {
		return Value{}, err
	}
	return NewDatetime(d), nil
}

// NewIntervalValue returns a datetime interval value for d (microsecond
// precision). Negative durations give an error.
func NewIntervalValue(d time.Duration) (Value, error) {
	dt, err := IntervalOf(d)
	if err != nil {
		return Value{}, err
	}
	return NewDatetime(dt), nil
}

// NewReference returns a reference value; a nil path gives a NULL reference.
func NewReference(p *ObjectPath) Value {
	if p == nil {
		return Null(TypeReference)
	}
	return Value{typ: TypeReference, flags: flagNonNull, obj: p}
}

// NewEmbeddedInstance returns a string-typed value holding an embedded
// instance; a nil instance gives a NULL string.
func NewEmbeddedInstance(inst *Instance) Value {
	if inst == nil {
		return Null(TypeString)
	}
	return Value{typ: TypeString, flags: flagNonNull, obj: inst}
}

// NewEmbeddedClass returns a string-typed value holding an embedded class
// (an EmbeddedObject that is a class); a nil class gives a NULL string.
func NewEmbeddedClass(c *Class) Value {
	if c == nil {
		return Null(TypeString)
	}
	return Value{typ: TypeString, flags: flagNonNull, obj: c}
}

// Array constructors. Each takes ownership of its slice; a nil slice gives
// a NULL array, an empty non-nil slice an empty array.

func newArray[T any](t Type, s []T) Value {
	if s == nil {
		return NullArray(t)
	}
	return array(t, s)
}

// NewBooleanArray returns a boolean array.
func NewBooleanArray(s []bool) Value { return newArray(TypeBoolean, s) }

// NewStringArray returns a string array.
func NewStringArray(s []string) Value { return newArray(TypeString, s) }

// NewChar16Array returns a char16 array.
func NewChar16Array(s []uint16) Value { return newArray(TypeChar16, s) }

// NewUint8Array returns a uint8 array.
func NewUint8Array(s []uint8) Value { return newArray(TypeUint8, s) }

// NewSint8Array returns a sint8 array.
func NewSint8Array(s []int8) Value { return newArray(TypeSint8, s) }

// NewUint16Array returns a uint16 array.
func NewUint16Array(s []uint16) Value { return newArray(TypeUint16, s) }

// NewSint16Array returns a sint16 array.
func NewSint16Array(s []int16) Value { return newArray(TypeSint16, s) }

// NewUint32Array returns a uint32 array.
func NewUint32Array(s []uint32) Value { return newArray(TypeUint32, s) }

// NewSint32Array returns a sint32 array.
func NewSint32Array(s []int32) Value { return newArray(TypeSint32, s) }

// NewUint64Array returns a uint64 array.
func NewUint64Array(s []uint64) Value { return newArray(TypeUint64, s) }

// NewSint64Array returns a sint64 array.
func NewSint64Array(s []int64) Value { return newArray(TypeSint64, s) }

// NewReal32Array returns a real32 array.
func NewReal32Array(s []float32) Value { return newArray(TypeReal32, s) }

// NewReal64Array returns a real64 array.
func NewReal64Array(s []float64) Value { return newArray(TypeReal64, s) }

// NewDatetimeArray returns a datetime array.
func NewDatetimeArray(s []Datetime) Value { return newArray(TypeDatetime, s) }

// NewReferenceArray returns a reference array; nil elements are NULL.
func NewReferenceArray(s []*ObjectPath) Value {
	return withNilsAsNull(newArray(TypeReference, s), s)
}

// NewEmbeddedInstanceArray returns a string array of embedded instances;
// nil elements are NULL.
func NewEmbeddedInstanceArray(s []*Instance) Value {
	return withNilsAsNull(newArray(TypeString, s), s)
}

// NewEmbeddedClassArray returns a string array of embedded classes; nil
// elements are NULL.
func NewEmbeddedClassArray(s []*Class) Value {
	return withNilsAsNull(newArray(TypeString, s), s)
}

func withNilsAsNull[T any](v Value, s []*T) Value {
	var null []bool
	for i, p := range s {
		if p == nil {
			if null == nil {
				null = make([]bool, len(s))
			}
			null[i] = true
		}
	}
	if null != nil {
		v.obj = &nullableArray{data: s, null: null}
	}
	return v
}

// NewArray builds an array of type t from scalar elements, converting each
// as by Convert; NULL elements are kept as NULL elements. Embedded-object
// elements must all be instances or all classes.
func NewArray(t Type, elems []Value) (Value, error) {
	if !t.Valid() {
		return Value{}, Errorf(ErrInvalidParameter, "invalid array type %d", t)
	}
	if elems == nil {
		return NullArray(t), nil
	}
	conv := make([]Value, len(elems))
	var null []bool
	kind, kindSet := EmbeddedNone, false
	for i, e := range elems {
		if e.IsArray() {
			return Value{}, Errorf(ErrTypeMismatch, "array element %d is itself an array", i)
		}
		if e.IsNull() {
			if null == nil {
				null = make([]bool, len(elems))
			}
			null[i] = true
			conv[i] = Null(t)
			continue
		}
		c, err := e.Convert(t)
		if err != nil {
			return Value{}, Errorf(ErrTypeMismatch, "array element %d: %s", i, errText(err))
		}
		if k := c.Embedded(); !kindSet {
			kind, kindSet = k, true
		} else if k != kind {
			return Value{}, Errorf(ErrTypeMismatch, "array element %d: cannot mix embedded classes, embedded instances and strings", i)
		}
		conv[i] = c
	}
	var data any
	switch t {
	case TypeBoolean:
		data = collect(conv, Value.Bool)
	case TypeString:
		switch kind {
		case EmbeddedInstance:
			data = collect(conv, Value.Instance)
		case EmbeddedObject:
			data = collect(conv, Value.Class)
		default:
			data = collect(conv, Value.Str)
		}
	case TypeChar16:
		data = collect(conv, Value.Char16)
	case TypeUint8:
		data = collect(conv, Value.Uint8)
	case TypeSint8:
		data = collect(conv, Value.Sint8)
	case TypeUint16:
		data = collect(conv, Value.Uint16)
	case TypeSint16:
		data = collect(conv, Value.Sint16)
	case TypeUint32:
		data = collect(conv, Value.Uint32)
	case TypeSint32:
		data = collect(conv, Value.Sint32)
	case TypeUint64:
		data = collect(conv, Value.Uint64)
	case TypeSint64:
		data = collect(conv, Value.Sint64)
	case TypeReal32:
		data = collect(conv, Value.Real32)
	case TypeReal64:
		data = collect(conv, Value.Real64)
	case TypeDatetime:
		data = collect(conv, Value.Datetime)
	case TypeReference:
		data = collect(conv, Value.Ref)
	}
	if null != nil {
		data = &nullableArray{data: data, null: null}
	}
	return array(t, data), nil
}

func collect[T any](vs []Value, get func(Value) T) []T {
	out := make([]T, len(vs))
	for i, v := range vs {
		out[i] = get(v)
	}
	return out
}

// Type returns the CIM type of v (TypeString for embedded objects).
func (v Value) Type() Type { return v.typ }

// IsNull reports whether v is NULL (a NULL scalar or a NULL array).
func (v Value) IsNull() bool { return v.flags&flagNonNull == 0 }

// IsArray reports whether v is an array (possibly a NULL array).
func (v Value) IsArray() bool { return v.flags&flagArray != 0 }

// Embedded reports whether v holds embedded instances (EmbeddedInstance)
// or embedded classes (EmbeddedObject); string text is EmbeddedNone even
// when it is the encoding of an object.
func (v Value) Embedded() EmbeddedKind {
	if v.typ != TypeString || v.obj == nil {
		return EmbeddedNone
	}
	switch v.arrayData().(type) {
	case *Instance, []*Instance:
		return EmbeddedInstance
	case *Class, []*Class:
		return EmbeddedObject
	}
	return EmbeddedNone
}

func (v Value) arrayData() any {
	if na, ok := v.obj.(*nullableArray); ok {
		return na.data
	}
	return v.obj
}

func (v Value) is(t Type) bool { return v.typ == t && v.flags == flagNonNull }

// Bool returns a boolean scalar.
func (v Value) Bool() bool { return v.is(TypeBoolean) && v.num != 0 }

// Str returns a string scalar (empty for embedded objects: use Instance or
// Class).
func (v Value) Str() string {
	if v.is(TypeString) {
		return v.str
	}
	return ""
}

// Char16 returns a char16 scalar.
func (v Value) Char16() uint16 {
	if v.is(TypeChar16) {
		return uint16(v.num)
	}
	return 0
}

// Uint8 returns a uint8 scalar.
func (v Value) Uint8() uint8 {
	if v.is(TypeUint8) {
		return uint8(v.num)
	}
	return 0
}

// Sint8 returns a sint8 scalar.
func (v Value) Sint8() int8 {
	if v.is(TypeSint8) {
		return int8(v.num)
	}
	return 0
}

// Uint16 returns a uint16 scalar.
func (v Value) Uint16() uint16 {
	if v.is(TypeUint16) {
		return uint16(v.num)
	}
	return 0
}

// Sint16 returns a sint16 scalar.
func (v Value) Sint16() int16 {
	if v.is(TypeSint16) {
		return int16(v.num)
	}
	return 0
}

// Uint32 returns a uint32 scalar.
func (v Value) Uint32() uint32 {
	if v.is(TypeUint32) {
		return uint32(v.num)
	}
	return 0
}

// Sint32 returns a sint32 scalar.
func (v Value) Sint32() int32 {
	if v.is(TypeSint32) {
		return int32(v.num)
	}
	return 0
}

// Uint64 returns a uint64 scalar.
func (v Value) Uint64() uint64 {
	if v.is(TypeUint64) {
		return v.num
	}
	return 0
}

// Sint64 returns a sint64 scalar.
func (v Value) Sint64() int64 {
	if v.is(TypeSint64) {
		return int64(v.num)
	}
	return 0
}

// Real32 returns a real32 scalar.
func (v Value) Real32() float32 {
	if v.is(TypeReal32) {
		return float32(math.Float64frombits(v.num))
	}
	return 0
}

// Real64 returns a real64 scalar.
func (v Value) Real64() float64 {
	if v.is(TypeReal64) {
		return math.Float64frombits(v.num)
	}
	return 0
}

// Datetime returns a datetime scalar.
func (v Value) Datetime() Datetime {
	if v.is(TypeDatetime) {
		return unpackDatetime(int64(v.num), v.aux)
	}
	return Datetime{}
}

// Ref returns a reference scalar, nil if v is not one.
func (v Value) Ref() *ObjectPath {
	if v.is(TypeReference) {
		p, _ := v.obj.(*ObjectPath)
		return p
	}
	return nil
}

// Instance returns the embedded instance of a scalar, nil if none.
func (v Value) Instance() *Instance {
	if v.is(TypeString) {
		i, _ := v.obj.(*Instance)
		return i
	}
	return nil
}

// Class returns the embedded class of a scalar, nil if none.
func (v Value) Class() *Class {
	if v.is(TypeString) {
		c, _ := v.obj.(*Class)
		return c
	}
	return nil
}

// Int returns the value of an integer scalar as int64; ok is false when v
// is not an integer or does not fit (a uint64 above math.MaxInt64).
func (v Value) Int() (n int64, ok bool) {
	if v.flags != flagNonNull || !v.typ.IsInteger() {
		return 0, false
	}
	if v.typ == TypeUint64 && v.num > math.MaxInt64 {
		return 0, false
	}
	return int64(v.num), true
}

// Uint returns the value of an integer scalar as uint64; ok is false when v
// is not an integer or is negative.
func (v Value) Uint() (n uint64, ok bool) {
	if v.flags != flagNonNull || !v.typ.IsInteger() {
		return 0, false
	}
	if v.typ.IsSigned() && int64(v.num) < 0 {
		return 0, false
	}
	return v.num, true
}

// Float returns the value of a numeric scalar as float64 (integers may
// lose precision above 2^53); ok is false when v is not numeric.
func (v Value) Float() (f float64, ok bool) {
	if v.flags != flagNonNull {
		return 0, false
	}
	switch {
	case v.typ.IsReal():
		return math.Float64frombits(v.num), true
	case v.typ.IsSigned():
		return float64(int64(v.num)), true
	case v.typ.IsInteger():
		return float64(v.num), true
	}
	return 0, false
}

// Array getters. Each returns nil when v is not a non-NULL array of that
// type; NULL elements appear as zero values (check with IsNullAt).

func arrayOf[T any](v Value, t Type) []T {
	if v.typ != t || v.flags != flagNonNull|flagArray {
		return nil
	}
	s, _ := v.arrayData().([]T)
	return s
}

// BoolArray returns a boolean array.
func (v Value) BoolArray() []bool { return arrayOf[bool](v, TypeBoolean) }

// StrArray returns a string array.
func (v Value) StrArray() []string { return arrayOf[string](v, TypeString) }

// Char16Array returns a char16 array.
func (v Value) Char16Array() []uint16 { return arrayOf[uint16](v, TypeChar16) }

// Uint8Array returns a uint8 array.
func (v Value) Uint8Array() []uint8 { return arrayOf[uint8](v, TypeUint8) }

// Sint8Array returns a sint8 array.
func (v Value) Sint8Array() []int8 { return arrayOf[int8](v, TypeSint8) }

// Uint16Array returns a uint16 array.
func (v Value) Uint16Array() []uint16 { return arrayOf[uint16](v, TypeUint16) }

// Sint16Array returns a sint16 array.
func (v Value) Sint16Array() []int16 { return arrayOf[int16](v, TypeSint16) }

// Uint32Array returns a uint32 array.
func (v Value) Uint32Array() []uint32 { return arrayOf[uint32](v, TypeUint32) }

// Sint32Array returns a sint32 array.
func (v Value) Sint32Array() []int32 { return arrayOf[int32](v, TypeSint32) }

// Uint64Array returns a uint64 array.
func (v Value) Uint64Array() []uint64 { return arrayOf[uint64](v, TypeUint64) }

// Sint64Array returns a sint64 array.
func (v Value) Sint64Array() []int64 { return arrayOf[int64](v, TypeSint64) }

// Real32Array returns a real32 array.
func (v Value) Real32Array() []float32 { return arrayOf[float32](v, TypeReal32) }

// Real64Array returns a real64 array.
func (v Value) Real64Array() []float64 { return arrayOf[float64](v, TypeReal64) }

// DatetimeArray returns a datetime array.
func (v Value) DatetimeArray() []Datetime { return arrayOf[Datetime](v, TypeDatetime) }

// RefArray returns a reference array.
func (v Value) RefArray() []*ObjectPath { return arrayOf[*ObjectPath](v, TypeReference) }

// InstanceArray returns an array of embedded instances.
func (v Value) InstanceArray() []*Instance { return arrayOf[*Instance](v, TypeString) }

// ClassArray returns an array of embedded classes.
func (v Value) ClassArray() []*Class { return arrayOf[*Class](v, TypeString) }

// Len returns the number of elements of a non-NULL array, 0 otherwise.
func (v Value) Len() int {
	if v.flags != flagNonNull|flagArray {
		return 0
	}
	switch s := v.arrayData().(type) {
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []uint16:
		return len(s)
	case []uint8:
		return len(s)
	case []int8:
		return len(s)
	case []int16:
		return len(s)
	case []uint32:
		return len(s)
	case []int32:
		return len(s)
	case []uint64:
		return len(s)
	case []int64:
		return len(s)
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []Datetime:
		return len(s)
	case []*ObjectPath:
		return len(s)
	case []*Instance:
		return len(s)
	case []*Class:
		return len(s)
	}
	return 0
}

// IsNullAt reports whether array element i is NULL.
func (v Value) IsNullAt(i int) bool {
	if na, ok := v.obj.(*nullableArray); ok && v.IsArray() {
		return i >= 0 && i < len(na.null) && na.null[i]
	}
	return false
}

// Index returns array element i as a scalar Value (NULL for a NULL
// element). It returns the zero Value when v is not an array or i is out of
// range.
func (v Value) Index(i int) Value {
	if i < 0 || i >= v.Len() {
		return Value{}
	}
	if v.IsNullAt(i) {
		return Null(v.typ)
	}
	switch s := v.arrayData().(type) {
	case []bool:
		return NewBoolean(s[i])
	case []string:
		return NewString(s[i])
	case []uint16:
		if v.typ == TypeChar16 {
			return NewChar16(s[i])
		}
		return NewUint16(s[i])
	case []uint8:
		return NewUint8(s[i])
	case []int8:
		return NewSint8(s[i])
	case []int16:
		return NewSint16(s[i])
	case []uint32:
		return NewUint32(s[i])
	case []int32:
		return NewSint32(s[i])
	case []uint64:
		return NewUint64(s[i])
	case []int64:
		return NewSint64(s[i])
	case []float32:
		return NewReal32(s[i])
	case []float64:
		return NewReal64(s[i])
	case []Datetime:
		return NewDatetime(s[i])
	case []*ObjectPath:
		return NewReference(s[i])
	case []*Instance:
		return NewEmbeddedInstance(s[i])
	case []*Class:
		return NewEmbeddedClass(s[i])
	}
	return Value{}
}

// Elements returns the elements of an array as scalar Values (nil for a
// NULL array or a scalar).
func (v Value) Elements() []Value {
	n := v.Len()
	if n == 0 {
		if v.IsArray() && !v.IsNull() {
			return []Value{}
		}
		return nil
	}
	out := make([]Value, n)
	for i := range out {
		out[i] = v.Index(i)
	}
	return out
}

// Interface returns v as a Go value: nil for NULL; bool, string, uint16
// (char16), uint8 ... int64, float32, float64, Datetime, *ObjectPath,
// *Instance or *Class for scalars; the typed slice for arrays (NULL elements
// as zero values).
func (v Value) Interface() any {
	if v.IsNull() {
		return nil
	}
	if v.IsArray() {
		return v.arrayData()
	}
	switch v.typ {
	case TypeBoolean:
		return v.Bool()
	case TypeString:
		if v.obj != nil {
			return v.obj
		}
		return v.str
	case TypeChar16:
		return v.Char16()
	case TypeUint8:
		return v.Uint8()
	case TypeSint8:
		return v.Sint8()
	case TypeUint16:
		return v.Uint16()
	case TypeSint16:
		return v.Sint16()
	case TypeUint32:
		return v.Uint32()
	case TypeSint32:
		return v.Sint32()
	case TypeUint64:
		return v.Uint64()
	case TypeSint64:
		return v.Sint64()
	case TypeReal32:
		return v.Real32()
	case TypeReal64:
		return v.Real64()
	case TypeDatetime:
		return v.Datetime()
	case TypeReference:
		return v.Ref()
	}
	return nil
}

// Equal reports whether v and w are the same value: same type, both scalar
// or both array, same NULL-ness and equal elements. Reals are equal when ==
// holds or both are NaN; datetimes compare by their text form; references
// by canonical path; embedded objects deeply. Strings compare exactly.
func (v Value) Equal(w Value) bool {
	if v.typ != w.typ || v.flags != w.flags {
		return false
	}
	if v.IsNull() {
		return true
	}
	if !v.IsArray() {
		return v.scalarEqual(w)
	}
	n := v.Len()
	if n != w.Len() || v.Embedded() != w.Embedded() {
		return false
	}
	for i := 0; i < n; i++ {
		if v.IsNullAt(i) != w.IsNullAt(i) {
			return false
		}
		if !v.IsNullAt(i) && !v.Index(i).scalarEqual(w.Index(i)) {
			return false
		}
	}
	return true
}

func (v Value) scalarEqual(w Value) bool {
	switch v.typ {
	case TypeString:
		switch a := v.obj.(type) {
		case nil:
			return w.obj == nil && v.str == w.str
		case *Instance:
			b, ok := w.obj.(*Instance)
			return ok && a.Equal(b)
		case *Class:
			b, ok := w.obj.(*Class)
			return ok && a.Equal(b)
		}
		return false
	case TypeReal32, TypeReal64:
		a, b := math.Float64frombits(v.num), math.Float64frombits(w.num)
		return a == b || a != a && b != b
	case TypeDatetime:
		return v.num == w.num && v.aux == w.aux
	case TypeReference:
		return v.Ref().Equal(w.Ref())
	}
	return v.num == w.num
}

// Clone returns a deep copy of v: arrays, referenced paths and embedded
// objects are copied so that modifying them does not affect v.
func (v Value) Clone() Value {
	switch o := v.obj.(type) {
	case nil:
		return v
	case *ObjectPath:
		v.obj = o.Clone()
	case *Instance:
		v.obj = o.Clone()
	case *Class:
		v.obj = o.Clone()
	case *nullableArray:
		v.obj = &nullableArray{data: cloneSlice(o.data), null: append([]bool(nil), o.null...)}
	default:
		v.obj = cloneSlice(o)
	}
	return v
}

func cloneSlice(s any) any {
	switch s := s.(type) {
	case []bool:
		return append([]bool{}, s...)
	case []string:
		return append([]string{}, s...)
	case []uint16:
		return append([]uint16{}, s...)
	case []uint8:
		return append([]uint8{}, s...)
	case []int8:
		return append([]int8{}, s...)
	case []int16:
		return append([]int16{}, s...)
	case []uint32:
		return append([]uint32{}, s...)
	case []int32:
		return append([]int32{}, s...)
	case []uint64:
		return append([]uint64{}, s...)
	case []int64:
		return append([]int64{}, s...)
	case []float32:
		return append([]float32{}, s...)
	case []float64:
		return append([]float64{}, s...)
	case []Datetime:
		return append([]Datetime{}, s...)
	case []*ObjectPath:
		out := make([]*ObjectPath, len(s))
		for i, p := range s {
			out[i] = p.Clone()
		}
		return out
	case []*Instance:
		out := make([]*Instance, len(s))
		for i, p := range s {
			out[i] = p.Clone()
		}
		return out
	case []*Class:
		out := make([]*Class, len(s))
		for i, p := range s {
			out[i] = p.Clone()
		}
		return out
	}
	return s
}
