package cim

import (
	"strconv"
	"strings"
)

// MOF output. Every object prints itself as MOF (DSP0221) with String, so
// logs and test failures read like the schema. Classes print only what
// they declare themselves (not propagated elements), so that the output of
// a resolved class compiles back to the same class.

const mofIndent = "    "

// String returns the qualifier as it appears in a MOF qualifier list:
// Key, Key(false), Description("text"), ValueMap{"1", "2"}.
func (q Qualifier) String() string { return string(q.appendMOF(nil)) }

func (q Qualifier) appendMOF(dst []byte) []byte {
	dst = append(dst, q.Name...)
	v := q.Value
	switch {
	case v.Type() == TypeBoolean && !v.IsArray() && v.Bool():
		return dst
	case v.IsArray() && !v.IsNull():
		return v.appendMOF(dst)
	}
	dst = append(dst, '(')
	dst = v.appendMOF(dst)
	return append(dst, ')')
}

// String returns the qualifier list in brackets, "[Key, Description("x")]",
// or "" for an empty list.
func (qs Qualifiers) String() string { return string(qs.appendMOF(nil)) }

func (qs Qualifiers) appendMOF(dst []byte) []byte {
	if len(qs) == 0 {
		return dst
	}
	dst = append(dst, '[')
	for i, q := range qs {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = q.appendMOF(dst)
	}
	return append(dst, ']')
}

// String returns the MOF qualifier declaration, e.g.
// Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
func (qt *QualifierType) String() string {
	var b []byte
	b = append(b, "Qualifier "...)
	b = append(b, qt.Name...)
	b = append(b, " : "...)
	b = append(b, qt.Type.String()...)
	if qt.IsArray {
		b = appendArraySuffix(b, qt.ArraySize)
	}
	if !qt.Default.IsNull() {
		b = append(b, " = "...)
		b = qt.Default.appendMOF(b)
	}
	b = append(b, ", Scope("...)
	b = append(b, qt.Scopes.String()...)
	b = append(b, ')')
	if qt.Flavor != 0 {
		b = append(b, ", Flavor("...)
		b = append(b, qt.Flavor.String()...)
		b = append(b, ')')
	}
	return string(append(b, ';'))
}

// GoString returns a debugging form.
func (qt *QualifierType) GoString() string {
	return "cim.QualifierType(" + strconv.Quote(qt.String()) + ")"
}

func appendArraySuffix(dst []byte, size int) []byte {
	dst = append(dst, '[')
	if size > 0 {
		dst = strconv.AppendInt(dst, int64(size), 10)
	}
	return append(dst, ']')
}

// appendQualifierLine writes local qualifiers on their own line.
func appendQualifierLine(dst []byte, qs Qualifiers, indent string) []byte {
	local := qs.local()
	if len(local) == 0 {
		return dst
	}
	dst = append(dst, indent...)
	dst = local.appendMOF(dst)
	return append(dst, '\n')
}

// appendDecl writes "type name[]" or "RefClass REF name".
func appendDecl(dst []byte, name string, t Type, isArray bool, size int, refClass string) []byte {
	if t == TypeReference {
		dst = append(dst, refClass...)
		dst = append(dst, " REF "...)
	} else {
		dst = append(dst, t.String()...)
		dst = append(dst, ' ')
	}
	dst = append(dst, name...)
	if isArray {
		dst = appendArraySuffix(dst, size)
	}
	return dst
}

// String returns the property as a MOF property declaration with its local
// qualifiers on the line before: [Key] string Name = "x";
func (p *Property) String() string {
	return strings.TrimSuffix(string(p.appendMOF(nil, "")), "\n")
}

func (p *Property) appendMOF(dst []byte, indent string) []byte {
	dst = appendQualifierLine(dst, p.Qualifiers, indent)
	dst = append(dst, indent...)
	dst = appendDecl(dst, p.Name, p.Type, p.IsArray, p.ArraySize, p.ReferenceClass)
	if !p.Value.IsNull() {
		dst = append(dst, " = "...)
		dst = p.Value.appendMOF(dst)
	}
	return append(dst, ";\n"...)
}

// GoString returns a debugging form.
func (p *Property) GoString() string {
	return "cim.Property{" + strconv.Quote(p.Name) + " " + typeString(p.Type, p.IsArray) + " = " + p.Value.String() + "}"
}

// String returns the parameter as in a MOF method declaration:
// [IN, OUT] string Names[]
func (p *Parameter) String() string {
	var b []byte
	if local := p.Qualifiers.local(); len(local) > 0 {
		b = local.appendMOF(b)
		b = append(b, ' ')
	}
	return string(appendDecl(b, p.Name, p.Type, p.IsArray, p.ArraySize, p.ReferenceClass))
}

// String returns the method as a MOF method declaration.
func (m *Method) String() string { return strings.TrimSuffix(string(m.appendMOF(nil, "")), "\n") }

func (m *Method) appendMOF(dst []byte, indent string) []byte {
	dst = appendQualifierLine(dst, m.Qualifiers, indent)
	dst = append(dst, indent...)
	dst = append(dst, m.ReturnType.String()...)
	dst = append(dst, ' ')
	dst = append(dst, m.Name...)
	dst = append(dst, '(')
	for i := range m.Parameters {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '\n')
		dst = append(dst, indent...)
		dst = append(dst, mofIndent...)
		dst = append(dst, m.Parameters[i].String()...)
	}
	return append(dst, ");\n"...)
}

// GoString returns a debugging form.
func (m *Method) GoString() string { return "cim.Method(" + strconv.Quote(m.String()) + ")" }

// String returns the MOF class declaration of the elements the class
// declares itself (propagated properties, methods and qualifiers are left
// out).
func (c *Class) String() string {
	var b []byte
	b = appendQualifierLine(b, c.Qualifiers, "")
	b = append(b, "class "...)
	b = append(b, c.Name...)
	if c.SuperClass != "" {
		b = append(b, " : "...)
		b = append(b, c.SuperClass...)
	}
	b = append(b, " {\n"...)
	first := true
	for i := range c.props {
		if c.props[i].Propagated {
			continue
		}
		if !first {
			b = append(b, '\n')
		}
		first = false
		b = c.props[i].appendMOF(b, mofIndent)
	}
	for i := range c.methods {
		if c.methods[i].Propagated {
			continue
		}
		if !first {
			b = append(b, '\n')
		}
		first = false
		b = c.methods[i].appendMOF(b, mofIndent)
	}
	return string(append(b, "};\n"...))
}

// GoString returns a short debugging form.
func (c *Class) GoString() string {
	if c == nil {
		return "(*cim.Class)(nil)"
	}
	var b strings.Builder
	b.WriteString("&cim.Class{Name: ")
	b.WriteString(strconv.Quote(c.Name))
	if c.SuperClass != "" {
		b.WriteString(", SuperClass: ")
		b.WriteString(strconv.Quote(c.SuperClass))
	}
	b.WriteString(", Properties: [")
	for i := range c.props {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.props[i].Name)
	}
	b.WriteString("], Methods: [")
	for i := range c.methods {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.methods[i].Name)
	}
	b.WriteString("]}")
	return b.String()
}

// String returns the instance as a MOF instance declaration:
//
//	instance of CIM_Foo {
//	    Name = "x";
//	};
func (inst *Instance) String() string {
	var b []byte
	b = appendQualifierLine(b, inst.Qualifiers, "")
	b = append(b, "instance of "...)
	b = append(b, inst.ClassName...)
	b = append(b, " {\n"...)
	for i := range inst.props {
		p := &inst.props[i]
		b = append(b, mofIndent...)
		b = append(b, p.Name...)
		b = append(b, " = "...)
		b = p.Value.appendMOF(b)
		b = append(b, ";\n"...)
	}
	return string(append(b, "};\n"...))
}

// GoString returns a debugging form listing the property values.
func (inst *Instance) GoString() string {
	if inst == nil {
		return "(*cim.Instance)(nil)"
	}
	var b strings.Builder
	b.WriteString("&cim.Instance{ClassName: ")
	b.WriteString(strconv.Quote(inst.ClassName))
	if inst.Path != nil {
		b.WriteString(", Path: ")
		b.WriteString(strconv.Quote(inst.Path.String()))
	}
	b.WriteString(", Properties: {")
	for i := range inst.props {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(inst.props[i].Name)
		b.WriteString(": ")
		b.WriteString(inst.props[i].Value.GoString())
	}
	b.WriteString("}}")
	return b.String()
}
