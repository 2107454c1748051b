package cim

import (
	"errors"
	"math"
	"testing"
)

func TestParseNumeric(t *testing.T) {
	ok := map[string]Value{
		"5": NewUint64(5), " 017 ": NewUint64(17), "-3": NewSint64(-3), "0x10": NewUint64(16), "-0": NewUint64(0),
		"1.5": NewReal64(1.5), "-1E3": NewReal64(-1000), "INF": NewReal64(math.Inf(1)),
		"18446744073709551615": NewUint64(math.MaxUint64),
	}
	for in, want := range ok {
		if got, err := ParseNumeric(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseNumeric(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "101b", "-9223372036854775809", "1e400", "0x"} {
		if _, err := ParseNumeric(bad); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ParseNumeric(%q) = %v", bad, err)
		}
	}
}

func TestCompare(t *testing.T) {
	ts1, ts2 := mustDT("20240101010000.000000+060"), mustDT("20240101000001.000000+000")
	cases := []struct {
		a, b Value
		want int
	}{
		{NewUint8(1), NewSint64(-1), 1},
		{NewUint64(math.MaxUint64), NewSint64(math.MaxInt64), 1},
		{NewSint64(math.MinInt64), NewUint64(math.MaxUint64), -1},
		{NewUint64(math.MaxUint64), NewUint64(math.MaxUint64 - 1), 1},
		{NewUint16(3), NewReal32(3), 0},
		{NewReal64(2.5), NewSint8(3), -1},
		{NewString("a"), NewString("b"), -1},
		{NewChar16('b'), NewString("b"), 0},
		{NewBoolean(false), NewBoolean(true), -1},
		{NewDatetime(ts1), NewDatetime(ts2), -1}, // 00:00:00Z vs 00:00:01Z
		{NewDatetime(mustDT("00000001000000.000000:000")), NewDatetime(mustDT("00000000230000.000000:000")), 1},
		{NewReference(&ObjectPath{ClassName: "A"}), NewReference(&ObjectPath{ClassName: "a"}), 0},
	}
	for _, c := range cases {
		got, err := Compare(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("Compare(%#v, %#v) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
		if back, _ := Compare(c.b, c.a); back != -c.want {
			t.Errorf("Compare is not antisymmetric on %#v, %#v", c.a, c.b)
		}
	}
	bad := [][2]Value{
		{NewString("1"), NewUint8(1)},
		{NewDatetime(ts1), NewDatetime(Datetime{})},
		{Null(TypeUint8), NewUint8(1)},
		{NewUint8Array([]uint8{1}), NewUint8(1)},
		{NewReal64(math.NaN()), NewReal64(1)},
		{NewBoolean(true), NewUint8(1)},
		{NewEmbeddedInstance(NewInstance("X")), NewString("x")},
	}
	for _, b := range bad {
		if _, err := Compare(b[0], b[1]); !errors.Is(err, ErrTypeMismatch) {
			t.Errorf("Compare(%#v, %#v) = %v, want CIM_ERR_TYPE_MISMATCH", b[0], b[1], err)
		}
	}
}
