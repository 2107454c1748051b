package cim

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseValueForms(t *testing.T) {
	ok := []struct {
		typ  Type
		in   string
		want Value
	}{
		// booleans, any case, white space tolerated
		{TypeBoolean, "TRUE", NewBoolean(true)},
		{TypeBoolean, "true", NewBoolean(true)},
		{TypeBoolean, " False\n", NewBoolean(false)},
		{TypeBoolean, "FALSE", NewBoolean(false)},
		// integers: decimal, signs, leading zeros, hexadecimal
		{TypeUint8, "0", NewUint8(0)},
		{TypeUint8, "255", NewUint8(255)},
		{TypeUint8, "+7", NewUint8(7)},
		{TypeUint8, "007", NewUint8(7)},
		{TypeUint8, "0xFF", NewUint8(255)},
		{TypeUint8, "0Xff", NewUint8(255)},
		{TypeUint8, "-0", NewUint8(0)},
		{TypeSint8, "-128", NewSint8(-128)},
		{TypeSint8, "127", NewSint8(127)},
		{TypeSint8, "-0x80", NewSint8(-128)},
		{TypeUint16, "65535", NewUint16(65535)},
		{TypeSint16, "-32768", NewSint16(-32768)},
		{TypeUint32, "4294967295", NewUint32(4294967295)},
		{TypeSint32, "-2147483648", NewSint32(-2147483648)},
		{TypeUint64, "18446744073709551615", NewUint64(math.MaxUint64)},
		{TypeUint64, "0xFFFFFFFFFFFFFFFF", NewUint64(math.MaxUint64)},
		{TypeSint64, "-9223372036854775808", NewSint64(math.MinInt64)},
		{TypeSint64, "9223372036854775807", NewSint64(math.MaxInt64)},
		{TypeSint64, "\t42 ", NewSint64(42)},
		// reals
		{TypeReal64, "1.5", NewReal64(1.5)},
		{TypeReal64, "-2", NewReal64(-2)},
		{TypeReal64, ".5", NewReal64(0.5)},
		{TypeReal64, "5.", NewReal64(5)},
		{TypeReal64, "1E10", NewReal64(1e10)},
		{TypeReal64, "-1.25e-3", NewReal64(-1.25e-3)},
		{TypeReal64, "+3.0E+2", NewReal64(300)},
		{TypeReal64, "INF", NewReal64(math.Inf(1))},
		{TypeReal64, "-INF", NewReal64(math.Inf(-1))},
		{TypeReal64, "NaN", NewReal64(math.NaN())},
		{TypeReal64, "nan", NewReal64(math.NaN())},
		{TypeReal64, "1e-400", NewReal64(0)},
		{TypeReal32, "3.4028234663852886e+38", NewReal32(math.MaxFloat32)},
		{TypeReal32, "0.1", NewReal32(0.1)},
		{TypeReal32, "-INF", NewReal32(float32(math.Inf(-1)))},
		// char16: exactly one UCS-2 character, white space significant
		{TypeChar16, "a", NewChar16('a')},
		{TypeChar16, " ", NewChar16(' ')},
		{TypeChar16, "\u00e9", NewChar16(0xe9)},
		{TypeChar16, "\uffff", NewChar16(0xffff)},
		// strings verbatim
		{TypeString, "  spaced  ", NewString("  spaced  ")},
		{TypeString, "", NewString("")},
		// datetime
		{TypeDatetime, " 20240101000000.000000+000 ", NewDatetime(mustDT("20240101000000.000000+000"))},
		{TypeDatetime, "00000000000001.******:000", NewDatetime(mustDT("00000000000001.******:000"))},
		// references
		{TypeReference, `/root/cimv2:CIM_Foo.Id=5`, NewReference(&ObjectPath{Namespace: "root/cimv2", ClassName: "CIM_Foo",
			Keys: []KeyBinding{{"Id", NewUint64(5)}}})},
	}
	for _, c := range ok {
		got, err := ParseValue(c.typ, c.in)
		if err != nil {
			t.Errorf("ParseValue(%v, %q): %v", c.typ, c.in, err)
			continue
		}
		if !got.Equal(c.want) {
			t.Errorf("ParseValue(%v, %q) = %#v, want %#v", c.typ, c.in, got, c.want)
		}
	}
	bad := []struct {
		typ  Type
		in   string
		want string
	}{
		{TypeBoolean, "", "invalid boolean"},
		{TypeBoolean, "yes", "invalid boolean"},
		{TypeBoolean, "1", "invalid boolean"},
		{TypeUint8, "256", "out of range for uint8 (0..255)"},
		{TypeUint8, "-1", "out of range for uint8"},
		{TypeUint8, "0x100", "out of range"},
		{TypeSint8, "128", "out of range for sint8 (-128..127)"},
		{TypeSint8, "-129", "out of range"},
		{TypeUint16, "65536", "out of range"},
		{TypeSint16, "-32769", "out of range"},
		{TypeUint32, "4294967296", "out of range"},
		{TypeSint32, "2147483648", "out of range"},
		{TypeSint64, "9223372036854775808", "out of range"},
		{TypeSint64, "-9223372036854775809", "out of range"},
		{TypeUint64, "18446744073709551616", "invalid uint64"},
		{TypeUint32, "", "invalid uint32"},
		{TypeUint32, "1.0", "invalid uint32"},
		{TypeUint32, "0x", "invalid uint32"},
		{TypeUint32, "12a", "invalid uint32"},
		{TypeUint32, "1 2", "invalid uint32"},
		{TypeUint32, "0b101", "invalid uint32"},
		{TypeUint32, "+-1", "invalid uint32"},
		{TypeReal64, "", "invalid real64"},
		{TypeReal64, ".", "invalid real64"},
		{TypeReal64, "1e", "invalid real64"},
		{TypeReal64, "0x1p3", "invalid real64"},
		{TypeReal64, "1_000", "invalid real64"},
		{TypeReal64, "1e400", "out of range for real64"},
		{TypeReal32, "1e39", "out of range for real32"},
		{TypeReal64, "Infinite", "invalid real64"},
		{TypeChar16, "", "invalid char16"},
		{TypeChar16, "ab", "invalid char16"},
		{TypeChar16, "\U0001F600", "invalid char16"},
		{TypeChar16, "\xff", "invalid char16"},
		{TypeDatetime, "2024", "invalid datetime"},
		{TypeReference, "not a path", "invalid object path"},
		{TypeInvalid, "x", "cannot parse"},
	}
	for _, c := range bad {
		_, err := ParseValue(c.typ, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ParseValue(%v, %q) error = %v, want CIM_ERR_INVALID_PARAMETER containing %q", c.typ, c.in, err, c.want)
		}
	}
}

func mustDT(s string) Datetime {
	d, err := ParseDatetime(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestTextForms(t *testing.T) {
	cases := []struct {
		v    Value
		text string
		mof  string
	}{
		{NewBoolean(true), "TRUE", "true"},
		{NewBoolean(false), "FALSE", "false"},
		{NewString("a\"b\\c\n"), "a\"b\\c\n", `"a\"b\\c\n"`},
		{NewString("tab\there\x01"), "tab\there\x01", `"tab\there\x0001"`},
		// Four hex digits always: "\x1a" would read back as U+001A.
		{NewString("\x01a\u200b\x7f"), "\x01a\u200b\x7f", `"\x0001a\x200B\x007F"`},
		{NewChar16(0xD800), "\uFFFD", `'\xD800'`},
		{NewString("caf\u00e9"), "caf\u00e9", "\"caf\u00e9\""},
		{NewChar16('\''), "'", `'\''`},
		{NewChar16('"'), `"`, `'"'`},
		{NewUint8(200), "200", "200"},
		{NewSint32(-5), "-5", "-5"},
		{NewUint64(math.MaxUint64), "18446744073709551615", "18446744073709551615"},
		{NewSint64(math.MinInt64), "-9223372036854775808", "-9223372036854775808"},
		{NewReal64(1), "1.0", "1.0"},
		{NewReal64(0.1), "0.1", "0.1"},
		{NewReal64(-1.5e-7), "-1.5E-07", "-1.5E-07"},
		{NewReal64(1e21), "1.0E+21", "1.0E+21"},
		{NewReal64(123456789), "123456789.0", "123456789.0"},
		{NewReal32(0.1), "0.1", "0.1"},
		{NewReal32(16777216), "16777216.0", "16777216.0"},
		{NewReal64(1e20), "100000000000000000000.0", "100000000000000000000.0"},
		{NewReal64(0.0001), "0.0001", "0.0001"},
		{NewReal64(math.Inf(1)), "INF", "INF"},
		{NewReal64(math.Inf(-1)), "-INF", "-INF"},
		{NewReal64(math.NaN()), "NaN", "NaN"},
		{NewDatetime(mustDT("20240101000000.000000+000")), "20240101000000.000000+000", `"20240101000000.000000+000"`},
		{NewReference(&ObjectPath{Namespace: "root", ClassName: "A", Keys: []KeyBinding{{"K", NewString("v")}}}),
			`/root:A.K="v"`, `"/root:A.K=\"v\""`},
		{Null(TypeString), "", "NULL"},
		{NewUint8Array([]uint8{1, 2}), "", "{1, 2}"},
		{NewStringArray([]string{}), "", "{}"},
	}
	for _, c := range cases {
		if got := c.v.Text(); got != c.text {
			t.Errorf("%#v.Text() = %q, want %q", c.v, got, c.text)
		}
		if got := c.v.String(); got != c.mof {
			t.Errorf("%#v.String() = %q, want %q", c.v, got, c.mof)
		}
	}
	if got := NewUint8(5).GoString(); got != "cim.Value(uint8 5)" {
		t.Errorf("GoString = %s", got)
	}
	if got := NewStringArray([]string{"a"}).GoString(); got != `cim.Value(string[] {"a"})` {
		t.Errorf("GoString = %s", got)
	}
	if got := (Value{}).GoString(); got != "cim.Value(NULL)" {
		t.Errorf("GoString = %s", got)
	}
	inst := NewInstance("CIM_E")
	inst.Set("Name", NewString("x"))
	if got := NewEmbeddedInstance(inst).Text(); !strings.HasPrefix(got, "instance of CIM_E {") {
		t.Errorf("embedded instance text = %q", got)
	}
}

// Every scalar must read back from its own text form unchanged.
func TestTextRoundTrip(t *testing.T) {
	values := []Value{
		NewBoolean(true), NewBoolean(false), NewString(" x "), NewChar16('q'), NewChar16(0x263a),
		NewUint8(0), NewUint8(255), NewSint8(-128), NewUint16(65535), NewSint16(-1), NewUint32(1 << 31),
		NewSint32(math.MaxInt32), NewUint64(math.MaxUint64), NewSint64(math.MinInt64),
		NewReal32(math.MaxFloat32), NewReal32(math.SmallestNonzeroFloat32), NewReal32(-0.3),
		NewReal64(math.MaxFloat64), NewReal64(math.SmallestNonzeroFloat64), NewReal64(1e-300), NewReal64(math.Pi),
		NewReal64(math.NaN()), NewReal64(math.Inf(-1)),
		NewDatetime(mustDT("99991231235959.999999-999")), NewDatetime(mustDT("99999999235959.999999:000")),
		NewDatetime(mustDT("2024**********.******+000")),
		NewReference(&ObjectPath{Host: "h:1", Namespace: "a/b", ClassName: "C", Keys: []KeyBinding{{"K", NewString(`q"\`)}}}),
	}
	for _, v := range values {
		got, err := ParseValue(v.Type(), v.Text())
		if err != nil || !got.Equal(v) {
			t.Errorf("round trip of %#v via %q: %#v, %v", v, v.Text(), got, err)
		}
	}
}
