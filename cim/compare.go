package cim

import (
	"math"
	"strings"
)

// ParseNumeric parses the text of an untyped CIM-XML numeric value, such as
// a KEYVALUE with VALUETYPE="numeric" and no TYPE (DSP0201): a decimal or
// 0x-hexadecimal integer becomes uint64 (sint64 when negative), anything
// else must be a real and becomes real64. Leading zeros are decimal here,
// unlike the MOF literals of ParseNumberLiteral.
func ParseNumeric(s string) (Value, error) {
	ts := strings.TrimSpace(s)
	if neg, mag, ok := parseXMLInteger(ts); ok {
		if neg && mag != 0 {
			return intValue(TypeSint64, true, mag, s)
		}
		return NewUint64(mag), nil
	}
	if f, ok := parseReal(ts, 64); ok {
		return realValue(TypeReal64, f, s)
	}
	return Value{}, Errorf(ErrInvalidParameter, "invalid numeric value %q", s)
}

// Compare orders two non-NULL scalars for queries (WQL, CQL, FQL): numbers
// of any types by value, strings and char16 by their UTF-8 bytes, booleans
// false before true, timestamps by instant, intervals by length, references
// by canonical path. It returns -1, 0 or +1, or a CIM_ERR_TYPE_MISMATCH
// error for values that cannot be ordered against each other (a string and
// a number, a timestamp and an interval, NULLs, arrays, NaN).
func Compare(a, b Value) (int, error) {
	if a.flags != flagNonNull || b.flags != flagNonNull {
		return 0, Errorf(ErrTypeMismatch, "cannot order %#v and %#v: only non-NULL scalars compare", a, b)
	}
	switch {
	case a.typ.IsNumeric() && b.typ.IsNumeric():
		return compareNumbers(a, b)
	case isText(a) && isText(b):
		return strings.Compare(a.Text(), b.Text()), nil
	case a.typ == TypeBoolean && b.typ == TypeBoolean:
		return cmp3(a.num, b.num), nil
	case a.typ == TypeDatetime && b.typ == TypeDatetime:
		da, db := a.Datetime(), b.Datetime()
		switch {
		case da.IsTimestamp() && db.IsTimestamp():
			return da.Time().Compare(db.Time()), nil
		case da.IsInterval() && db.IsInterval():
			return cmp3(da.us, db.us), nil
		}
	case a.typ == TypeReference && b.typ == TypeReference:
		return strings.Compare(a.Ref().Canonical(), b.Ref().Canonical()), nil
	}
	return 0, Errorf(ErrTypeMismatch, "cannot order %s value %s against %s value %s", a.typ, a, b.typ, b)
}

func isText(v Value) bool { return v.typ == TypeChar16 || v.typ == TypeString && v.obj == nil }

func cmp3[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareNumbers(a, b Value) (int, error) {
	if a.typ.IsInteger() && b.typ.IsInteger() {
		an, aok := a.Int()
		bn, bok := b.Int()
		switch {
		case aok && bok:
			return cmp3(an, bn), nil
		case !aok && !bok: // both above MaxInt64
			return cmp3(a.num, b.num), nil
		case !aok:
			return 1, nil
		}
		return -1, nil
	}
	fa, _ := a.Float()
	fb, _ := b.Float()
	if math.IsNaN(fa) || math.IsNaN(fb) {
		return 0, Errorf(ErrTypeMismatch, "NaN cannot be ordered")
	}
	switch {
	case fa < fb:
		return -1, nil
	case fa > fb:
		return 1, nil
	}
	return 0, nil
}
