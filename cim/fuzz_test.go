package cim

import (
	"errors"
	"strings"
	"testing"
)

var pathSeeds = []string{
	`http://srv:5988/root/cimv2:CIM_Foo.Name="a",Id=5`,
	`https://user:pw@[::1]:5989/interop:CIM_RegisteredProfile.InstanceID="DMTF:1"`,
	`/root/cimv2:CIM_Foo.Name="a \"b\" \\c"`,
	`root/cimv2:CIM_Foo.Flag=TRUE,C='x',R=-1.5E3,H=0x1f,O=017,B=101b`,
	`CIM_Assoc.A="/root:CIM_X.Id=1",B="CIM_Y.Name=\"n\\\"\""`,
	`CIM_Foo=@`, `CIM_Foo`, `/:CIM_Foo.Id=-9223372036854775808`, `//h/ns:C.K="\x41\n"`,
	`CIM_Foo.D="20240101000000.000000+000"`, `CIM_Foo.Id=(uint32)5`, `CIM_Foo.S="unterminated`,
}

// checkPath verifies the invariants of a successfully parsed path: it
// prints, reads back equal, and its canonical form is stable.
func checkPath(t *testing.T, in string, p *ObjectPath) {
	s := p.String()
	again, err := ParseObjectPath(s)
	if err != nil {
		t.Fatalf("%q parsed, but its printed form %q does not: %v", in, s, err)
	}
	if !again.Equal(p) || again.Canonical() != p.Canonical() {
		t.Fatalf("%q: printed form %q reads back as a different path (%q vs %q)", in, s, again.Canonical(), p.Canonical())
	}
	if again.String() != s {
		t.Fatalf("%q: printing is not stable: %q then %q", in, s, again.String())
	}
	canon := p.Canonical()
	cp, err := ParseObjectPath(canon)
	if err != nil {
		t.Fatalf("%q: canonical form %q does not parse: %v", in, canon, err)
	}
	if cp.Canonical() != canon {
		t.Fatalf("%q: canonical form not idempotent: %q then %q", in, canon, cp.Canonical())
	}
	_ = p.GoString()
	_ = p.Clone().Equal(p)
}

func checkPathError(t *testing.T, in string, err error) {
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != ErrInvalidParameter {
		t.Fatalf("%q: error %v is not a CIM_ERR_INVALID_PARAMETER *Error", in, err)
	}
}

func FuzzParseObjectPath(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseObjectPath(s)
		if err != nil {
			checkPathError(t, s, err)
			return
		}
		checkPath(t, s, p)
	})
}

func FuzzParseWBEMURI(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseWBEMURI(s)
		if err != nil {
			checkPathError(t, s, err)
			return
		}
		// Strict URIs are a subset of what ParseObjectPath accepts.
		lenient, err := ParseObjectPath(s)
		if err != nil || !lenient.Equal(p) {
			t.Fatalf("%q: strict and lenient parsers disagree: %v", s, err)
		}
		checkPath(t, s, p)
	})
}

func FuzzParseDatetime(f *testing.F) {
	for _, s := range []string{
		"20240131235959.123456-300", "00000001120032.000000:000", "20240131235959.123***+060",
		"2024**********.******+000", "**************.******:000", "20240230000000.000000+000",
		"99991231235959.999999-000", "0000000****000.000000:000", "20240131235959.123456*300",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDatetime(s)
		if err != nil {
			checkPathError(t, s, err)
			return
		}
		out := d.String()
		if out != s && !(strings.HasSuffix(s, "-000") && out == s[:21]+"+000") {
			t.Fatalf("%q prints back as %q", s, out)
		}
		again, err := ParseDatetime(out)
		if err != nil || again != d {
			t.Fatalf("%q: reparse of %q gave %v, %v", s, out, again, err)
		}
		if d.IsTimestamp() {
			f := d.Fields()
			if tm := d.Time(); tm.Year() != f.Year || int(tm.Month()) != f.Month || tm.Day() != f.Day || tm.Second() != f.Second {
				t.Fatalf("%q: Time() %v disagrees with the fields %+v", s, tm, f)
			}
		} else if _, ok := d.Duration(); !ok && d.Microseconds() < 1<<62/1000 {
			t.Fatalf("%q: short interval without duration", s)
		}
	})
}

func FuzzParseValue(f *testing.F) {
	seeds := []struct {
		t uint8
		s string
	}{
		{uint8(TypeBoolean), "TRUE"}, {uint8(TypeUint8), "0xff"}, {uint8(TypeSint64), "-9223372036854775808"},
		{uint8(TypeReal32), "3.4028235E+38"}, {uint8(TypeReal64), "-INF"}, {uint8(TypeReal64), ".5e-3"},
		{uint8(TypeChar16), "\u00e9"}, {uint8(TypeDatetime), "20240101000000.000000+000"},
		{uint8(TypeReference), `/root:C.K="v"`}, {uint8(TypeString), "x"},
	}
	for _, s := range seeds {
		f.Add(s.t, s.s)
	}
	f.Fuzz(func(t *testing.T, typ uint8, s string) {
		ty := Type(typ%uint8(numTypes-1) + 1)
		v, err := ParseValue(ty, s)
		if err != nil {
			checkPathError(t, s, err)
			return
		}
		if v.Type() != ty || v.IsNull() || v.IsArray() {
			t.Fatalf("ParseValue(%v, %q) = %#v", ty, s, v)
		}
		again, err := ParseValue(ty, v.Text())
		if err != nil || !again.Equal(v) {
			t.Fatalf("ParseValue(%v, %q): text %q reads back as %#v, %v", ty, s, v.Text(), again, err)
		}
		_ = v.String()
		if c, err := v.Convert(TypeString); err == nil && ty != TypeString && ty != TypeReference {
			if back, err := c.Convert(ty); err != nil || !back.Equal(v) {
				t.Fatalf("%#v: string conversion does not round-trip: %#v, %v", v, back, err)
			}
		}
	})
}

func FuzzFoldName(f *testing.F) {
	f.Add("CIM_Foo", "cim_foo")
	f.Add("\u212aelvin", "KELVIN")
	f.Add("\u0130", "\u0131")
	f.Fuzz(func(t *testing.T, a, b string) {
		if EqualNames(a, b) != strings.EqualFold(a, b) {
			t.Fatalf("EqualNames(%q, %q) disagrees with strings.EqualFold", a, b)
		}
		if EqualNames(a, b) != (FoldName(a) == FoldName(b)) {
			t.Fatalf("FoldName disagrees with EqualNames on %q, %q", a, b)
		}
		if FoldName(FoldName(a)) != FoldName(a) {
			t.Fatalf("FoldName not idempotent on %q", a)
		}
	})
}
