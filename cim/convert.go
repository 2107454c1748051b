package cim

import (
	"math"
	"reflect"
	"time"
)

// Convert returns v converted to type t, keeping array-ness:
//
//   - integers convert to other integer types within range, and to reals
//   - reals convert to integers when integral and within range, and
//     real64 to real32 within range
//   - strings parse as by ParseValue (e.g. a MOF datetime or reference
//     literal given as a string)
//   - char16, datetime and reference values convert to string
//   - NULL converts to a NULL of type t
//
// Anything else is an *Error with status CIM_ERR_TYPE_MISMATCH; values out
// of range give CIM_ERR_INVALID_PARAMETER.
func (v Value) Convert(t Type) (Value, error) {
	if v.typ == t {
		return v, nil
	}
	if !t.Valid() {
		return Value{}, Errorf(ErrTypeMismatch, "cannot convert to type %s", t)
	}
	if v.IsNull() {
		return nullOf(t, v.IsArray()), nil
	}
	if v.IsArray() {
		elems := v.Elements()
		for i, e := range elems {
			if e.IsNull() {
				continue
			}
			c, err := e.convertScalar(t)
			if err != nil {
				return Value{}, err
			}
			elems[i] = c
		}
		return NewArray(t, elems)
	}
	return v.convertScalar(t)
}

func (v Value) convertScalar(t Type) (Value, error) {
	switch {
	case v.typ == t:
		return v, nil
	case v.typ.IsInteger() && t.IsInteger():
		neg := v.typ.IsSigned() && int64(v.num) < 0
		mag := v.num
		if neg {
			mag = uint64(-(int64(v.num) + 1)) + 1
		}
		return intValue(t, neg, mag, v.Text())
	case v.typ.IsNumeric() && t.IsReal():
		f, _ := v.Float()
		return realValue(t, f, v.Text())
	case v.typ.IsReal() && t.IsInteger():
		f, _ := v.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
			return Value{}, Errorf(ErrTypeMismatch, "real value %s is not an integer", v.Text())
		}
		if f < -(1<<63) || f >= 1<<64 {
			return Value{}, rangeError(t, v.Text())
		}
		if f < 0 {
			return intValue(t, true, uint64(-f), v.Text())
		}
		return intValue(t, false, uint64(f), v.Text())
	case v.typ == TypeString && v.obj == nil:
		return ParseValue(t, v.str)
	case t == TypeString && (v.typ == TypeChar16 || v.typ == TypeDatetime):
		return NewString(v.Text()), nil
	case t == TypeString && v.typ == TypeReference:
		if v.str != "" {
			return NewString(v.str), nil // the text the path was parsed from
		}
		return NewString(v.Text()), nil
	}
	return Value{}, Errorf(ErrTypeMismatch, "cannot convert %s value %s to %s", v.typ, v.String(), t)
}

// ValueOf returns the CIM value of a Go value:
//
//	nil                       untyped NULL (the zero Value)
//	Value                     itself
//	bool, string              boolean, string
//	uint8..uint64, uint       uint8..uint64 (uint as uint64)
//	int8..int64, int          sint8..sint64 (int as sint64)
//	float32, float64          real32, real64
//	Datetime                  datetime
//	time.Time, time.Duration  datetime timestamp, interval
//	*ObjectPath               reference
//	*Instance, *Class         embedded instance, embedded class
//	[]T of the above          arrays; []Value as by NewArray
//
// char16 has no Go counterpart here: use NewChar16.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return Value{}, nil
	case Value:
		return x, nil
	case bool:
		return NewBoolean(x), nil
	case string:
		return NewString(x), nil
	case uint8:
		return NewUint8(x), nil
	case uint16:
		return NewUint16(x), nil
	case uint32:
		return NewUint32(x), nil
	case uint64:
		return NewUint64(x), nil
	case uint:
		return NewUint64(uint64(x)), nil
	case int8:
		return NewSint8(x), nil
	case int16:
		return NewSint16(x), nil
	case int32:
		return NewSint32(x), nil
	case int64:
		return NewSint64(x), nil
	case int:
		return NewSint64(int64(x)), nil
	case float32:
		return NewReal32(x), nil
	case float64:
		return NewReal64(x), nil
	case Datetime:
		return NewDatetime(x), nil
	case time.Time:
		return NewTimestampValue(x)
	case time.Duration:
		return NewIntervalValue(x)
	case *ObjectPath:
		return NewReference(x), nil
	case *Instance:
		return NewEmbeddedInstance(x), nil
	case *Class:
		return NewEmbeddedClass(x), nil
	case []bool:
		return NewBooleanArray(x), nil
	case []string:
		return NewStringArray(x), nil
	case []uint8:
		return NewUint8Array(x), nil
	case []uint16:
		return NewUint16Array(x), nil
	case []uint32:
		return NewUint32Array(x), nil
	case []uint64:
		return NewUint64Array(x), nil
	case []int8:
		return NewSint8Array(x), nil
	case []int16:
		return NewSint16Array(x), nil
	case []int32:
		return NewSint32Array(x), nil
	case []int64:
		return NewSint64Array(x), nil
	case []float32:
		return NewReal32Array(x), nil
	case []float64:
		return NewReal64Array(x), nil
	case []Datetime:
		return NewDatetimeArray(x), nil
	case []*ObjectPath:
		return NewReferenceArray(x), nil
	case []*Instance:
		return NewEmbeddedInstanceArray(x), nil
	case []*Class:
		return NewEmbeddedClassArray(x), nil
	case []Value:
		t := TypeInvalid
		for _, e := range x {
			if e.Type() != TypeInvalid {
				t = e.Type()
				break
			}
		}
		if t == TypeInvalid {
			return Value{}, NewError(ErrTypeMismatch, "cannot infer the type of an array of untyped NULLs")
		}
		return NewArray(t, x)
	}
	// Other slices ([]int, []uint, []time.Time, ...) element by element.
	rv := reflect.ValueOf(x)
	if rv.Kind() == reflect.Slice {
		if rv.IsNil() {
			return Value{}, nil
		}
		elems := make([]Value, rv.Len())
		for i := range elems {
			e, err := ValueOf(rv.Index(i).Interface())
			if err != nil {
				return Value{}, Errorf(ErrTypeMismatch, "element %d: %s", i, errText(err))
			}
			if e.IsArray() {
				return Value{}, Errorf(ErrTypeMismatch, "element %d: nested arrays are not CIM values", i)
			}
			elems[i] = e
		}
		return ValueOf(elems)
	}
	return Value{}, Errorf(ErrTypeMismatch, "no CIM type for Go type %T", x)
}

// ValueOfType returns the CIM value of type t (an array of t if isArray)
// for a Go value, converting as by Convert: ValueOfType(TypeUint16, false, 2)
// is a uint16 2, and 70000 would be out of range. nil gives a typed NULL.
func ValueOfType(t Type, isArray bool, x any) (Value, error) {
	v, err := ValueOf(x)
	if err != nil {
		return Value{}, err
	}
	if v.Type() == TypeInvalid {
		return nullOf(t, isArray), nil
	}
	if v.IsArray() != isArray {
		return Value{}, Errorf(ErrTypeMismatch, "%s value %s given for %s", typeString(v.Type(), v.IsArray()), v, typeString(t, isArray))
	}
	return v.Convert(t)
}
