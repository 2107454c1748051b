package cim

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseValue parses the CIM-XML text form of a scalar of type t (the
// content of a DSP0201 VALUE element):
//
//   - boolean: "true" or "false" in any case
//   - integers: decimal ("-5", "+17", "007") or hexadecimal ("0x1F",
//     "-0X10"), range-checked for t
//   - reals: decimal with optional fraction and exponent ("1.5", "-2E10",
//     ".5"), and the special values INF, -INF and NaN; real32 values beyond
//     its range are an error
//   - char16: exactly one UCS-2 character
//   - datetime: the 25-character form (see ParseDatetime)
//   - reference: an object path (see ParseObjectPath)
//   - string: the text unchanged
//
// Leading and trailing white space is ignored except for strings and
// char16. Errors are *Error with status CIM_ERR_INVALID_PARAMETER.
func ParseValue(t Type, s string) (Value, error) {
	switch t {
	case TypeString:
		return NewString(s), nil
	case TypeChar16:
		c, ok := singleChar16(s)
		if !ok {
			return Value{}, Errorf(ErrInvalidParameter, "invalid char16 value %q: want exactly one UCS-2 character", s)
		}
		return NewChar16(c), nil
	}
	ts := strings.TrimSpace(s)
	switch {
	case t == TypeBoolean:
		switch {
		case EqualNames(ts, "true"):
			return NewBoolean(true), nil
		case EqualNames(ts, "false"):
			return NewBoolean(false), nil
		}
		return Value{}, Errorf(ErrInvalidParameter, "invalid boolean value %q: want TRUE or FALSE", s)
	case t.IsInteger():
		neg, mag, ok := parseXMLInteger(ts)
		if !ok {
			return Value{}, Errorf(ErrInvalidParameter, "invalid %s value %q: want a decimal or 0x-prefixed hexadecimal integer", t, s)
		}
		return intValue(t, neg, mag, s)
	case t.IsReal():
		f, ok := parseReal(ts, t.Bits())
		if !ok {
			return Value{}, Errorf(ErrInvalidParameter, "invalid %s value %q: want a decimal real number, INF, -INF or NaN", t, s)
		}
		return realValue(t, f, s)
	case t == TypeDatetime:
		d, err := ParseDatetime(ts)
		if err != nil {
			return Value{}, err
		}
		return NewDatetime(d), nil
	case t == TypeReference:
		p, err := ParseObjectPath(ts)
		if err != nil {
			return Value{}, err
		}
		return NewReference(p), nil
	}
	return Value{}, Errorf(ErrInvalidParameter, "cannot parse a value of type %s", t)
}

// singleChar16 returns the UCS-2 code unit of a one-character string.
func singleChar16(s string) (uint16, bool) {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || n != len(s) || r == utf8.RuneError && n == 1 || r > 0xFFFF || utf16.IsSurrogate(r) {
		return 0, false
	}
	return uint16(r), true
}

// parseXMLInteger parses DSP0201 integer text: [+-] then decimal digits or
// 0x and hexadecimal digits.
func parseXMLInteger(s string) (neg bool, mag uint64, ok bool) {
	if s == "" {
		return false, 0, false
	}
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	base := uint64(10)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base, s = 16, s[2:]
	}
	mag, ok = parseDigits(s, base)
	return neg, mag, ok
}

// parseDigits parses unsigned digits in base 2, 8, 10 or 16; ok is false on
// an empty string, a bad digit or overflow of uint64.
func parseDigits(s string, base uint64) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		var d uint64
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base || n > (math.MaxUint64-d)/base {
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}

// intValue makes an integer of type t from sign and magnitude, checking the
// type's range; src is quoted in the error.
func intValue(t Type, neg bool, mag uint64, src string) (Value, error) {
	min, max := t.intRange()
	if neg && mag != 0 {
		if min == 0 || mag-1 > uint64(-(min+1)) {
			return Value{}, rangeError(t, src)
		}
		return scalar(t, uint64(-int64(mag-1)-1)), nil
	}
	if mag > max {
		return Value{}, rangeError(t, src)
	}
	return scalar(t, mag), nil
}

func rangeError(t Type, src string) *Error {
	min, max := t.intRange()
	return Errorf(ErrInvalidParameter, "value %s out of range for %s (%d..%d)", src, t, min, max)
}

// parseReal parses DSP0201/XML Schema real text and the special values,
// rounding to the given precision (32 or 64 bits); values too large for it
// come back infinite.
func parseReal(s string, bits int) (float64, bool) {
	switch {
	case EqualNames(s, "NaN"):
		return math.NaN(), true
	case EqualNames(s, "INF"), EqualNames(s, "+INF"), EqualNames(s, "Infinity"), EqualNames(s, "+Infinity"):
		return math.Inf(1), true
	case EqualNames(s, "-INF"), EqualNames(s, "-Infinity"):
		return math.Inf(-1), true
	}
	if !realSyntax(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// realSyntax checks [+-] (digits [. [digits]] | . digits) [(e|E) [+-] digits].
func realSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	mant := digits()
	if i < len(s) && s[i] == '.' {
		i++
		mant += digits()
	}
	if mant == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// realValue makes a real of type t, rejecting finite values that real32
// cannot hold.
func realValue(t Type, f float64, src string) (Value, error) {
	v := NewReal64(f)
	if t == TypeReal32 {
		v = NewReal32(float32(f))
	}
	// A finite source that came out infinite did not fit.
	if f, _ := v.Float(); math.IsInf(f, 0) && !strings.Contains(strings.ToLower(src), "inf") {
		return Value{}, Errorf(ErrInvalidParameter, "value %s out of range for %s", src, t)
	}
	return v, nil
}

// appendReal formats a real in the shortest form that reads back to the
// same value, always with a decimal point so that it is also a MOF real
// literal: 1.0, 0.1, 123456789.0, 1.5E-07, 1.0E+21, INF, -INF, NaN. Like
// most CIM clients it uses positional notation for exponents -4..20.
func appendReal(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "INF"...)
	case math.IsInf(f, -1):
		return append(dst, "-INF"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, bits)
	e := bytes.LastIndexByte(dst[start:], 'e')
	exp, _ := strconv.Atoi(string(dst[start+e+1:]))
	if exp >= -4 && exp < 21 {
		dst = strconv.AppendFloat(dst[:start], f, 'f', -1, bits)
		if bytes.IndexByte(dst[start:], '.') < 0 {
			dst = append(dst, ".0"...)
		}
		return dst
	}
	dst[start+e] = 'E'
	if bytes.IndexByte(dst[start:start+e], '.') >= 0 {
		return dst
	}
	// Insert ".0" before the exponent: 1e+21 -> 1.0E+21.
	exponent := string(dst[start+e:])
	dst = append(dst[:start+e], ".0"...)
	return append(dst, exponent...)
}

// Text returns the CIM-XML text form of a scalar (the content of a VALUE
// element): TRUE/FALSE, decimal integers, reals as by appendReal, the
// char16 character, the 25-character datetime, the path of a reference,
// the string itself. It returns "" for NULL and arrays; an embedded object
// yields its MOF form (CIM-XML adapters encode embedded objects as XML
// themselves).
func (v Value) Text() string {
	if v.is(TypeString) && v.obj == nil {
		return v.str
	}
	return string(v.AppendText(nil))
}

// AppendText appends the CIM-XML text form of a scalar to dst.
func (v Value) AppendText(dst []byte) []byte {
	if v.flags != flagNonNull {
		return dst
	}
	switch v.typ {
	case TypeBoolean:
		if v.num != 0 {
			return append(dst, "TRUE"...)
		}
		return append(dst, "FALSE"...)
	case TypeString:
		switch o := v.obj.(type) {
		case *Instance:
			return append(dst, o.String()...)
		case *Class:
			return append(dst, o.String()...)
		}
		return append(dst, v.str...)
	case TypeChar16:
		return utf8.AppendRune(dst, rune(v.num))
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64:
		return strconv.AppendUint(dst, v.num, 10)
	case TypeSint8, TypeSint16, TypeSint32, TypeSint64:
		return strconv.AppendInt(dst, int64(v.num), 10)
	case TypeReal32:
		return appendReal(dst, math.Float64frombits(v.num), 32)
	case TypeReal64:
		return appendReal(dst, math.Float64frombits(v.num), 64)
	case TypeDatetime:
		return v.Datetime().AppendText(dst)
	case TypeReference:
		return v.Ref().appendPath(dst, false)
	}
	return dst
}

// String returns v as a MOF literal: "text" with MOF escapes, 'c', 42,
// 1.5, true, "20240101000000.000000+000" for datetimes, the quoted path of a
// reference, the quoted MOF of an embedded object, {a, b} for arrays and
// NULL for NULL. A NaN or infinite real, which has no MOF literal, is
// written NaN, INF or -INF, for logs; MOFFormat.AppendValue refuses it.
func (v Value) String() string { return string(v.appendMOF(nil)) }

// GoString returns a debugging form such as cim.Value(uint8 5) or
// cim.Value(string[] {"a", "b"}).
func (v Value) GoString() string {
	if v.typ == TypeInvalid {
		return "cim.Value(NULL)"
	}
	return "cim.Value(" + typeString(v.typ, v.IsArray()) + " " + v.String() + ")"
}
