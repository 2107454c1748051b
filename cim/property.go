package cim

// Property is a property of a class (a declaration with an optional default
// value) or of an instance (a value). The same type serves both, as in
// CIM-XML's PROPERTY, PROPERTY.ARRAY and PROPERTY.REFERENCE elements.
type Property struct {
	Name    string
	Type    Type
	IsArray bool
	// Embedded is the CIM-XML EmbeddedObject attribute of the property. A
	// class property normally states it through the EmbeddedObject or
	// EmbeddedInstance qualifier instead; EmbeddedKind considers both.
	Embedded EmbeddedKind
	// Propagated is true when the property was inherited unchanged from a
	// superclass.
	Propagated     bool
	ArraySize      int    // fixed array size (MOF "uint8 Data[16]"); 0 if variable
	ReferenceClass string // class a reference property points to
	Value          Value  // class: default value; instance: the value. NULL if none.
	Qualifiers     Qualifiers
	// ClassOrigin names the class that defined the property; set by
	// ResolveClass, and by FilterInstance when a client asks for it.
	ClassOrigin string
}

// NewProperty returns a property holding v, typed after v.
func NewProperty(name string, v Value) Property {
	return Property{Name: name, Type: v.Type(), IsArray: v.IsArray(), Value: v, Embedded: v.Embedded()}
}

// NewReferenceProperty returns a reference property declaration pointing to
// refClass.
func NewReferenceProperty(name, refClass string) Property {
	return Property{Name: name, Type: TypeReference, ReferenceClass: refClass, Value: Null(TypeReference)}
}

// IsKey reports whether the property carries the Key qualifier.
func (p *Property) IsKey() bool { return p.Qualifiers.Bool(QualifierKey) }

// EmbeddedKind returns the embedded-object kind of the property: from the
// EmbeddedInstance or EmbeddedObject qualifier, else the Embedded field,
// else the kind of object the value holds. Only string properties can be
// embedded objects.
func (p *Property) EmbeddedKind() EmbeddedKind {
	if p.Type != TypeString {
		return EmbeddedNone
	}
	return embeddedKind(p.Qualifiers, p.Embedded, p.Value)
}

// EmbeddedClassName returns the class named by the EmbeddedInstance
// qualifier ("" if none).
func (p *Property) EmbeddedClassName() string { return p.Qualifiers.Str(QualifierEmbeddedInstance) }

func embeddedKind(qs Qualifiers, field EmbeddedKind, v Value) EmbeddedKind {
	if q := qs.Get(QualifierEmbeddedInstance); q != nil && !q.Value.IsNull() {
		return EmbeddedInstance
	}
	if qs.Bool(QualifierEmbeddedObject) {
		return EmbeddedObject
	}
	if field != EmbeddedNone {
		return field
	}
	return v.Embedded()
}

// ValueMap returns the property's ValueMap/Values mapping, or nil if it has
// neither qualifier.
func (p *Property) ValueMap() (*ValueMap, error) {
	return valueMapOf(p.Name, p.Type, p.Qualifiers)
}

// Clone returns a deep copy.
func (p *Property) Clone() Property {
	c := *p
	c.Value = p.Value.Clone()
	c.Qualifiers = p.Qualifiers.Clone()
	return c
}

// Equal reports whether two properties have the same name
// (case-insensitively), declaration, value and qualifiers. ClassOrigin and
// Propagated are not compared.
func (p *Property) Equal(o *Property) bool {
	return EqualNames(p.Name, o.Name) && p.Type == o.Type && p.IsArray == o.IsArray &&
		p.ArraySize == o.ArraySize && EqualNames(p.ReferenceClass, o.ReferenceClass) &&
		p.EmbeddedKind() == o.EmbeddedKind() && defaultEqual(p.Value, o.Value) &&
		p.Qualifiers.Equal(o.Qualifiers)
}

// Parameter is a parameter of a method declaration.
type Parameter struct {
	Name           string
	Type           Type
	IsArray        bool
	ArraySize      int
	ReferenceClass string
	Embedded       EmbeddedKind // see Property.Embedded
	Qualifiers     Qualifiers
}

// IsIn reports whether the parameter is an input parameter (the In
// qualifier, TRUE by default).
func (p *Parameter) IsIn() bool {
	v, ok := p.Qualifiers.Value(QualifierIn)
	return !ok || v.IsNull() || v.Bool()
}

// IsOut reports whether the parameter is an output parameter (the Out
// qualifier).
func (p *Parameter) IsOut() bool { return p.Qualifiers.Bool(QualifierOut) }

// EmbeddedKind returns the embedded-object kind, as for Property.
func (p *Parameter) EmbeddedKind() EmbeddedKind {
	if p.Type != TypeString {
		return EmbeddedNone
	}
	return embeddedKind(p.Qualifiers, p.Embedded, Value{})
}

// Clone returns a deep copy.
func (p *Parameter) Clone() Parameter {
	c := *p
	c.Qualifiers = p.Qualifiers.Clone()
	return c
}

// Equal reports whether two parameter declarations are identical.
func (p *Parameter) Equal(o *Parameter) bool {
	return EqualNames(p.Name, o.Name) && p.Type == o.Type && p.IsArray == o.IsArray &&
		p.ArraySize == o.ArraySize && EqualNames(p.ReferenceClass, o.ReferenceClass) &&
		p.EmbeddedKind() == o.EmbeddedKind() && p.Qualifiers.Equal(o.Qualifiers)
}

// Method is a method declaration of a class.
type Method struct {
	Name        string
	ReturnType  Type
	Parameters  []Parameter
	Qualifiers  Qualifiers
	ClassOrigin string
	Propagated  bool
}

// Parameter returns the named parameter (case-insensitive), or nil.
func (m *Method) Parameter(name string) *Parameter {
	for i := range m.Parameters {
		if EqualNames(m.Parameters[i].Name, name) {
			return &m.Parameters[i]
		}
	}
	return nil
}

// ReturnEmbeddedKind returns the embedded-object kind of the return value
// (from the method's EmbeddedObject/EmbeddedInstance qualifier).
func (m *Method) ReturnEmbeddedKind() EmbeddedKind {
	if m.ReturnType != TypeString {
		return EmbeddedNone
	}
	return embeddedKind(m.Qualifiers, EmbeddedNone, Value{})
}

// Clone returns a deep copy.
func (m *Method) Clone() Method {
	c := *m
	c.Qualifiers = m.Qualifiers.Clone()
	if m.Parameters != nil {
		c.Parameters = make([]Parameter, len(m.Parameters))
		for i := range m.Parameters {
			c.Parameters[i] = m.Parameters[i].Clone()
		}
	}
	return c
}

// Equal reports whether two method declarations are identical (parameters
// in order).
func (m *Method) Equal(o *Method) bool {
	if !EqualNames(m.Name, o.Name) || m.ReturnType != o.ReturnType ||
		len(m.Parameters) != len(o.Parameters) || !m.Qualifiers.Equal(o.Qualifiers) {
		return false
	}
	for i := range m.Parameters {
		if !m.Parameters[i].Equal(&o.Parameters[i]) {
			return false
		}
	}
	return true
}

// ParamValue is a named parameter value of a method invocation (CIM-XML
// PARAMVALUE); the Value carries the type.
type ParamValue struct {
	Name  string
	Value Value
}

func typeString(t Type, isArray bool) string {
	if isArray {
		return t.String() + "[]"
	}
	return t.String()
}
