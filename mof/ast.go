package mof

// The abstract syntax tree of a MOF specification. It mirrors the MOF v2
// grammar of DSP0221 and keeps the position of every element, so the
// compiler can point at the exact token a semantic error is about. The tree
// knows nothing of CIM semantics: names are as written, and values are
// literals not yet converted to a CIM type.

// Production is one top-level element of a MOF file: *Pragma,
// *QualifierDecl, *ClassDecl or *InstanceDecl.
type Production interface {
	Position() Pos
	production()
}

// Pragma is a compiler directive: #pragma name(arg, ...).
type Pragma struct {
	Pos  Pos
	Name string   // as written; compare case-insensitively
	Args []*Value // string literals or, for some vendor pragmas, identifiers
	// Included holds the productions of the file named by a
	// #pragma include, when it was parsed with an include resolver.
	Included *File
}

// QualifierDecl declares a qualifier type:
// Qualifier Name : type[array] = default, Scope(...), Flavor(...);
type QualifierDecl struct {
	Pos     Pos
	Name    string
	NamePos Pos
	Type    DataType
	Array   *ArraySpec // nil for a scalar qualifier
	Default *Value     // nil when absent
	Scopes  []Ident
	Flavors []Ident
}

// ClassDecl declares a class, association or indication (the last two are
// classes that carry the Association or Indication qualifier).
type ClassDecl struct {
	Pos        Pos
	Qualifiers []*Qualifier
	Name       string
	NamePos    Pos
	Alias      string // without '$'; empty when absent
	Super      string // empty when the class has no superclass
	SuperPos   Pos
	Properties []*PropertyDecl // properties and references, in source order
	Methods    []*MethodDecl
}

// InstanceDecl declares an instance: instance of Class as $Alias { ... };
type InstanceDecl struct {
	Pos        Pos
	Qualifiers []*Qualifier
	Class      string
	ClassPos   Pos
	Alias      string
	AliasPos   Pos
	Properties []*PropertyValue
}

// Qualifier is one qualifier applied to an element: Name(value) : flavors.
type Qualifier struct {
	Pos     Pos
	Name    string
	Value   *Value // nil when the qualifier is written without a value
	Flavors []Ident
}

// DataType is a CIM data type as written. For a reference, Name is "ref" and
// RefClass names the referenced class.
type DataType struct {
	Pos      Pos
	Name     string // lower-case intrinsic type name, or "ref"
	RefClass string
}

// IsRef reports whether the type is a reference.
func (t DataType) IsRef() bool { return t.Name == "ref" }

// ArraySpec is the [] or [n] after a name. Size is 0 for a variable-length
// array.
type ArraySpec struct {
	Pos  Pos
	Size int
}

// PropertyDecl declares a property or, when Type.IsRef(), a reference.
type PropertyDecl struct {
	Pos        Pos
	Qualifiers []*Qualifier
	Type       DataType
	Name       string
	NamePos    Pos
	Array      *ArraySpec
	Default    *Value
}

// MethodDecl declares a method.
type MethodDecl struct {
	Pos        Pos
	Qualifiers []*Qualifier
	ReturnType DataType
	Name       string
	NamePos    Pos
	Params     []*ParamDecl
}

// ParamDecl declares one method parameter.
type ParamDecl struct {
	Pos        Pos
	Qualifiers []*Qualifier
	Type       DataType
	Name       string
	NamePos    Pos
	Array      *ArraySpec
	Default    *Value // MOF v3 allows parameter defaults; kept, not used
}

// PropertyValue initialises one property of an instance.
type PropertyValue struct {
	Pos        Pos
	Qualifiers []*Qualifier
	Name       string
	Value      *Value
}

// Ident is a keyword-like word with its position (scope and flavor names).
type Ident struct {
	Pos  Pos
	Name string
}

// ValueKind classifies a Value.
type ValueKind uint8

const (
	NullValue     ValueKind = iota
	IntValue                // Int and Neg hold the value; Base the radix written
	RealValue               // Real holds the value
	StringValue             // Str holds the decoded (and concatenated) value
	CharValue               // Str holds the one character
	BoolValue               // Bool holds the value
	AliasValue              // Str holds the alias name, without '$'
	ArrayValue              // Elems holds the elements
	InstanceValue           // Instance holds an embedded instance (MOF v3 style)
)

func (k ValueKind) String() string {
	return [...]string{
		NullValue:     "NULL",
		IntValue:      "integer",
		RealValue:     "real number",
		StringValue:   "string",
		CharValue:     "char16",
		BoolValue:     "boolean",
		AliasValue:    "alias",
		ArrayValue:    "array",
		InstanceValue: "embedded instance",
	}[k]
}

// Value is a literal, an array of literals, an alias reference or an
// embedded instance, as written in the source.
type Value struct {
	Pos      Pos
	Kind     ValueKind
	Raw      string // the source text of a scalar literal, for messages
	Int      uint64 // magnitude
	Neg      bool
	Base     int
	Real     float64
	Str      string
	Bool     bool
	Elems    []*Value
	Instance *InstanceDecl
	// bad marks a malformed literal that has already been reported; the
	// compiler skips it rather than report a second, derived error.
	bad bool
}

// File is the parse of one MOF source.
type File struct {
	Name        string
	Productions []Production
}

func (p *Pragma) Position() Pos        { return p.Pos }
func (q *QualifierDecl) Position() Pos { return q.Pos }
func (c *ClassDecl) Position() Pos     { return c.Pos }
func (i *InstanceDecl) Position() Pos  { return i.Pos }
func (*Pragma) production()            {}
func (*QualifierDecl) production()     {}
func (*ClassDecl) production()         {}
func (*InstanceDecl) production()      {}
