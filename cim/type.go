package cim

import "strings"

// Type is a CIM intrinsic data type (DSP0004 clause 5.2). The zero Type is
// TypeInvalid, which no valid element or non-NULL value has.
//
// Embedded objects and embedded instances are not a Type of their own: as in
// DSP0004 they are TypeString elements that carry the EmbeddedObject or
// EmbeddedInstance qualifier (see EmbeddedKind).
type Type uint8

// The CIM intrinsic data types, named as in MOF and CIM-XML.
const (
	TypeInvalid Type = iota
	TypeBoolean
	TypeString
	TypeChar16
	TypeUint8
	TypeSint8
	TypeUint16
	TypeSint16
	TypeUint32
	TypeSint32
	TypeUint64
	TypeSint64
	TypeReal32
	TypeReal64
	TypeDatetime
	TypeReference
	numTypes
)

// String returns the MOF/CIM-XML name of t ("uint8", "datetime",
// "reference"...).
func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "boolean"
	case TypeString:
		return "string"
	case TypeChar16:
		return "char16"
	case TypeUint8:
		return "uint8"
	case TypeSint8:
		return "sint8"
	case TypeUint16:
		return "uint16"
	case TypeSint16:
		return "sint16"
	case TypeUint32:
		return "uint32"
	case TypeSint32:
		return "sint32"
	case TypeUint64:
		return "uint64"
	case TypeSint64:
		return "sint64"
	case TypeReal32:
		return "real32"
	case TypeReal64:
		return "real64"
	case TypeDatetime:
		return "datetime"
	case TypeReference:
		return "reference"
	}
	return "invalid"
}

// GoString returns the Go constant name of t, for debugging.
func (t Type) GoString() string {
	if t == TypeInvalid || t >= numTypes {
		return "cim.TypeInvalid"
	}
	n := t.String()
	return "cim.Type" + strings.ToUpper(n[:1]) + n[1:]
}

// ParseType returns the Type named s. Names are matched case-insensitively,
// as MOF keywords are. "ref" is accepted as a synonym of "reference".
func ParseType(s string) (Type, error) {
	if t := typeByName(s); t != TypeInvalid {
		return t, nil
	}
	if f := FoldName(s); f != s {
		if t := typeByName(f); t != TypeInvalid {
			return t, nil
		}
	}
	return TypeInvalid, Errorf(ErrInvalidParameter, "unknown CIM type %q", s)
}

// typeByName maps the lower-case type names; CIM-XML always sends them so,
// which makes this switch the whole cost of decoding a TYPE attribute.
func typeByName(s string) Type {
	switch s {
	case "boolean":
		return TypeBoolean
	case "string":
		return TypeString
	case "char16":
		return TypeChar16
	case "uint8":
		return TypeUint8
	case "sint8":
		return TypeSint8
	case "uint16":
		return TypeUint16
	case "sint16":
		return TypeSint16
	case "uint32":
		return TypeUint32
	case "sint32":
		return TypeSint32
	case "uint64":
		return TypeUint64
	case "sint64":
		return TypeSint64
	case "real32":
		return TypeReal32
	case "real64":
		return TypeReal64
	case "datetime":
		return TypeDatetime
	case "reference", "ref":
		return TypeReference
	}
	return TypeInvalid
}

// Valid reports whether t is one of the intrinsic types.
func (t Type) Valid() bool { return t > TypeInvalid && t < numTypes }

// IsInteger reports whether t is one of uint8..sint64.
func (t Type) IsInteger() bool { return t >= TypeUint8 && t <= TypeSint64 }

// IsSigned reports whether t is one of sint8..sint64.
func (t Type) IsSigned() bool {
	return t == TypeSint8 || t == TypeSint16 || t == TypeSint32 || t == TypeSint64
}

// IsReal reports whether t is real32 or real64.
func (t Type) IsReal() bool { return t == TypeReal32 || t == TypeReal64 }

// IsNumeric reports whether t is an integer or real type.
func (t Type) IsNumeric() bool { return t.IsInteger() || t.IsReal() }

// Bits returns the width in bits of an integer or real type, 0 otherwise.
func (t Type) Bits() int {
	switch t {
	case TypeUint8, TypeSint8:
		return 8
	case TypeUint16, TypeSint16, TypeChar16:
		return 16
	case TypeUint32, TypeSint32, TypeReal32:
		return 32
	case TypeUint64, TypeSint64, TypeReal64:
		return 64
	}
	return 0
}

// intRange returns the bounds of an integer type.
func (t Type) intRange() (min int64, max uint64) {
	switch t {
	case TypeUint8:
		return 0, 1<<8 - 1
	case TypeUint16:
		return 0, 1<<16 - 1
	case TypeUint32:
		return 0, 1<<32 - 1
	case TypeUint64:
		return 0, 1<<64 - 1
	case TypeSint8:
		return -1 << 7, 1<<7 - 1
	case TypeSint16:
		return -1 << 15, 1<<15 - 1
	case TypeSint32:
		return -1 << 31, 1<<31 - 1
	case TypeSint64:
		return -1 << 63, 1<<63 - 1
	}
	return 0, 0
}

// EmbeddedKind says whether a string-typed property, parameter or method
// return value carries an embedded object. It corresponds to the
// EmbeddedObject and EmbeddedInstance qualifiers of DSP0004 and to the
// EmbeddedObject="object|instance" attribute of CIM-XML (DSP0201).
type EmbeddedKind uint8

const (
	// EmbeddedNone is an ordinary element.
	EmbeddedNone EmbeddedKind = iota
	// EmbeddedObject holds an embedded class or instance
	// (EmbeddedObject qualifier; CIM-XML EmbeddedObject="object").
	EmbeddedObject
	// EmbeddedInstance holds an embedded instance of a named class
	// (EmbeddedInstance("Class") qualifier; CIM-XML
	// EmbeddedObject="instance").
	EmbeddedInstance
)

// String returns the CIM-XML EmbeddedObject attribute value: "", "object"
// or "instance".
func (k EmbeddedKind) String() string {
	switch k {
	case EmbeddedObject:
		return "object"
	case EmbeddedInstance:
		return "instance"
	}
	return ""
}

// ParseEmbeddedKind parses a CIM-XML EmbeddedObject attribute value
// (case-insensitive); the empty string is EmbeddedNone.
func ParseEmbeddedKind(s string) (EmbeddedKind, error) {
	switch {
	case s == "":
		return EmbeddedNone, nil
	case EqualNames(s, "object"):
		return EmbeddedObject, nil
	case EqualNames(s, "instance"):
		return EmbeddedInstance, nil
	}
	return EmbeddedNone, Errorf(ErrInvalidParameter, "invalid EmbeddedObject value %q (want \"object\" or \"instance\")", s)
}
