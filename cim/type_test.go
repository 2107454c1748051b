package cim

import (
	"errors"
	"testing"
	"unicode"
)

func TestTypeNamesRoundTrip(t *testing.T) {
	want := []string{"boolean", "string", "char16", "uint8", "sint8", "uint16", "sint16", "uint32",
		"sint32", "uint64", "sint64", "real32", "real64", "datetime", "reference"}
	for i, name := range want {
		typ := Type(i + 1)
		if got := typ.String(); got != name {
			t.Errorf("Type(%d).String() = %q, want %q", i+1, got, name)
		}
		for _, spelling := range []string{name, upper(name)} {
			got, err := ParseType(spelling)
			if err != nil || got != typ {
				t.Errorf("ParseType(%q) = %v, %v; want %v", spelling, got, err, typ)
			}
		}
	}
	if got, err := ParseType("ref"); err != nil || got != TypeReference {
		t.Errorf("ParseType(ref) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "int", "uint128", "object", "strin"} {
		_, err := ParseType(bad)
		if !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ParseType(%q) error = %v, want CIM_ERR_INVALID_PARAMETER", bad, err)
		}
	}
	if TypeInvalid.String() != "invalid" || Type(200).String() != "invalid" || Type(200).Valid() {
		t.Error("invalid types must print as invalid and not be Valid")
	}
	if TypeUint16.GoString() != "cim.TypeUint16" || TypeInvalid.GoString() != "cim.TypeInvalid" {
		t.Errorf("GoString: %s %s", TypeUint16.GoString(), TypeInvalid.GoString())
	}
}

func upper(s string) string {
	r := []rune(s)
	for i := range r {
		r[i] = unicode.ToUpper(r[i])
	}
	return string(r)
}

func TestTypeClassification(t *testing.T) {
	for typ := TypeBoolean; typ < numTypes; typ++ {
		isInt := typ >= TypeUint8 && typ <= TypeSint64
		if typ.IsInteger() != isInt {
			t.Errorf("%v.IsInteger() = %v", typ, typ.IsInteger())
		}
		if typ.IsReal() != (typ == TypeReal32 || typ == TypeReal64) {
			t.Errorf("%v.IsReal() wrong", typ)
		}
		if typ.IsSigned() != (typ.String()[0] == 's' && isInt) {
			t.Errorf("%v.IsSigned() wrong", typ)
		}
	}
	bits := map[Type]int{TypeUint8: 8, TypeSint8: 8, TypeUint16: 16, TypeSint16: 16, TypeChar16: 16,
		TypeUint32: 32, TypeSint32: 32, TypeReal32: 32, TypeUint64: 64, TypeSint64: 64, TypeReal64: 64,
		TypeString: 0, TypeBoolean: 0}
	for typ, b := range bits {
		if typ.Bits() != b {
			t.Errorf("%v.Bits() = %d, want %d", typ, typ.Bits(), b)
		}
	}
}

func TestEmbeddedKind(t *testing.T) {
	for _, k := range []EmbeddedKind{EmbeddedNone, EmbeddedObject, EmbeddedInstance} {
		got, err := ParseEmbeddedKind(k.String())
		if err != nil || got != k {
			t.Errorf("round trip of %q: %v, %v", k, got, err)
		}
	}
	if k, err := ParseEmbeddedKind("Instance"); err != nil || k != EmbeddedInstance {
		t.Errorf("ParseEmbeddedKind is case-insensitive: %v %v", k, err)
	}
	if _, err := ParseEmbeddedKind("class"); err == nil {
		t.Error("ParseEmbeddedKind(class) should fail")
	}
}
