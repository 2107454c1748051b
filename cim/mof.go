package cim

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MOF output. Every object prints itself as MOF (DSP0221) with String, so
// logs and test failures read like the schema, and the mof package's
// Writer produces its files with the same code through MOFFormat. Classes
// print only what they declare themselves (not propagated elements), so
// that the output of a resolved class compiles back to the same class.

const mofIndent = "    "

// MOFFormat formats CIM objects as MOF (DSP0221 v2) that compiles back to
// the same objects: values as literals, qualifiers with the flavors they
// need, qualifier declarations, classes (the elements they declare
// themselves) and instances (every property, NULL ones included, since
// leaving one out would give it the class default). The String methods of
// this package use the zero MOFFormat; the mof package's Writer sets a
// Width and the qualifier declarations it has written.
//
// DSP0221 has no literal for a NaN or infinite real: the Append methods
// write NaN, INF or -INF in its place and return an error saying so,
// while String writes them without complaint, for logs.
type MOFFormat struct {
	// Width is the line width to keep within where possible: longer
	// strings are split into adjacent literals after a space, and long
	// arrays, qualifier lists and qualifier declarations are continued on
	// following lines. 0 keeps each on one line.
	Width int
	// QualifierType returns the declaration of a qualifier, or nil. A
	// qualifier's flavors are written only where they differ from its
	// declaration's; without a declaration every flavor the qualifier
	// holds is written, so that the text means the same to any compiler.
	QualifierType func(name string) *QualifierType
}

// AppendValue appends v as a MOF literal.
func (f MOFFormat) AppendValue(dst []byte, v Value) ([]byte, error) {
	p := mofPrinter{MOFFormat: f, buf: dst}
	p.value(v, mofIndent)
	return p.result()
}

// AppendQualifierType appends the MOF qualifier declaration of qt.
func (f MOFFormat) AppendQualifierType(dst []byte, qt *QualifierType) ([]byte, error) {
	p := mofPrinter{MOFFormat: f, buf: dst}
	p.qualifierType(qt)
	return p.result()
}

// AppendClass appends the MOF declaration of the elements c declares
// itself (propagated properties, methods and qualifiers are left out).
func (f MOFFormat) AppendClass(dst []byte, c *Class) ([]byte, error) {
	p := mofPrinter{MOFFormat: f, buf: dst}
	p.class(c)
	return p.result()
}

// AppendInstance appends inst as a MOF instance declaration.
func (f MOFFormat) AppendInstance(dst []byte, inst *Instance) ([]byte, error) {
	p := mofPrinter{MOFFormat: f, buf: dst}
	p.instance(inst)
	return p.result()
}

// mofPrinter writes MOF into buf and keeps the first value it could not
// write faithfully.
type mofPrinter struct {
	MOFFormat
	buf []byte
	err *Error
}

func (p *mofPrinter) result() ([]byte, error) {
	if p.err != nil {
		return p.buf, p.err
	}
	return p.buf, nil
}

func (p *mofPrinter) fail(err *Error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *mofPrinter) str(s string) { p.buf = append(p.buf, s...) }

// column returns the current output column (0-based), counted from the
// last line break in the buffer, or from its start: callers such as the
// mof Writer pass output on only at line ends.
func (p *mofPrinter) column() int { return len(p.buf) - bytes.LastIndexByte(p.buf, '\n') - 1 }

// fits reports whether n more bytes stay within the line width.
func (p *mofPrinter) fits(n int) bool { return p.Width <= 0 || p.column()+n <= p.Width }

// fitsSince reports whether what was written from buf[start:] stayed on
// one line within the width.
func (p *mofPrinter) fitsSince(start int) bool {
	return p.Width <= 0 || p.column() <= p.Width && bytes.IndexByte(p.buf[start:], '\n') < 0
}

// value writes v as a literal; cont is the indentation of continuation
// lines.
func (p *mofPrinter) value(v Value, cont string) {
	switch {
	case v.IsNull():
		p.str("NULL")
	case v.IsArray():
		p.str("{")
		for i, n := 0, v.Len(); i < n; i++ {
			e := v.Index(i)
			if i > 0 {
				p.str(",")
				if p.fits(1 + estimateLen(e)) {
					p.str(" ")
				} else {
					p.str("\n" + cont)
				}
			}
			p.value(e, cont)
		}
		p.str("}")
	default:
		p.scalar(v, cont)
	}
}

// estimateLen is the written length of a scalar, roughly (escapes aside).
func estimateLen(v Value) int {
	switch {
	case v.IsNull():
		return 4
	case v.Type() == TypeString || v.Type() == TypeDatetime || v.Type() == TypeReference:
		return len(v.Text()) + 2
	}
	return len(v.Text()) + 1
}

func (p *mofPrinter) scalar(v Value, cont string) {
	switch v.typ {
	case TypeBoolean:
		if v.num != 0 {
			p.str("true")
		} else {
			p.str("false")
		}
	case TypeString:
		switch o := v.obj.(type) {
		case *Instance:
			p.embedded(cont, func(e *mofPrinter) { e.instance(o) })
		case *Class:
			p.embedded(cont, func(e *mofPrinter) { e.class(o) })
		default:
			p.longString(v.str, cont)
		}
	case TypeChar16:
		p.str("'")
		p.escaped(rune(v.num), '\'')
		p.str("'")
	case TypeReal32, TypeReal64:
		if f := math.Float64frombits(v.num); math.IsNaN(f) || math.IsInf(f, 0) {
			p.fail(Errorf(ErrInvalidParameter, "real value %s cannot be written in MOF: DSP0221 has no literal for NaN or infinity", v.Text()))
		}
		p.buf = v.AppendText(p.buf)
	case TypeDatetime, TypeReference:
		p.quoted(v.Text())
	default:
		p.buf = v.AppendText(p.buf) // integers
	}
}

// embedded writes an embedded object as a string holding its MOF.
func (p *mofPrinter) embedded(cont string, write func(*mofPrinter)) {
	e := mofPrinter{MOFFormat: p.MOFFormat}
	write(&e)
	if e.err != nil {
		p.fail(e.err)
	}
	p.longString(strings.TrimRight(string(e.buf), "\n"), cont)
}

// longString writes s as one literal, or, with a Width, as several
// adjacent literals on successive lines when it does not fit, split after
// spaces.
func (p *mofPrinter) longString(s, cont string) {
	if p.Width <= 0 {
		p.quoted(s)
		return
	}
	room := p.Width - p.column() - 2
	for first := true; ; first = false {
		if !first {
			p.str("\n" + cont)
			room = p.Width - len(cont) - 2
		}
		n := splitAt(s, max(room, 20))
		p.quoted(s[:n])
		s = s[n:]
		if s == "" {
			return
		}
	}
}

// splitAt returns where to end the next chunk of s: after the last space
// within width bytes, else after the first space beyond it, else at the
// end: words are never cut.
func splitAt(s string, width int) int {
	if len(s) <= width {
		return len(s)
	}
	if i := strings.LastIndexByte(s[:width], ' '); i > 0 {
		return i + 1
	}
	if i := strings.IndexByte(s[width:], ' '); i >= 0 {
		return width + i + 1
	}
	return len(s)
}

// quoted writes s as a double-quoted string literal.
func (p *mofPrinter) quoted(s string) {
	p.str(`"`)
	for len(s) > 0 {
		// Copy the run of plain printable ASCII in one go.
		i := 0
		for i < len(s) && s[i] >= 0x20 && s[i] < 0x7F && s[i] != '"' && s[i] != '\\' {
			i++
		}
		p.str(s[:i])
		if i == len(s) {
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		p.escaped(r, '"')
		s = s[i+n:]
	}
	p.str(`"`)
}

// escaped writes one character of a string or char16 literal (DSP0221
// escapes). Characters that are not printable are written as \x with four
// hex digits, so that a following hex digit cannot be taken as part of
// the escape ("\x0001a" is U+0001 then "a", where "\x1a" would be U+001A).
func (p *mofPrinter) escaped(r rune, quote rune) {
	switch r {
	case '\\':
		p.str(`\\`)
	case quote:
		p.buf = append(p.buf, '\\', byte(quote))
	case '\b':
		p.str(`\b`)
	case '\t':
		p.str(`\t`)
	case '\n':
		p.str(`\n`)
	case '\f':
		p.str(`\f`)
	case '\r':
		p.str(`\r`)
	default:
		if r <= 0xFFFF && !unicode.IsPrint(r) {
			const hex = "0123456789ABCDEF"
			p.buf = append(p.buf, '\\', 'x', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
			return
		}
		p.buf = utf8.AppendRune(p.buf, r)
	}
}

// qualifier writes Key, Key(false), Description("text"), ValueMap{"1"},
// followed by the flavors that must be stated (Description("x") :
// Restricted).
func (p *mofPrinter) qualifier(q Qualifier, cont string) {
	p.str(q.Name)
	v := q.Value
	switch {
	case v.Type() == TypeBoolean && !v.IsArray() && v.Bool():
		// [Key] is Key(true).
	case v.IsArray() && !v.IsNull():
		p.value(v, cont)
	default:
		p.str("(")
		p.value(v, cont)
		p.str(")")
	}
	if f := p.statedFlavor(q); f != 0 {
		p.str(" :")
		for b := FlavorEnableOverride; b <= FlavorToInstance; b <<= 1 {
			if f&b != 0 {
				p.str(" " + flavorName(b))
			}
		}
	}
}

// statedFlavor returns the flavors to write after a qualifier: with its
// declaration known, those of q that the declaration does not already
// give; else all of q's.
func (p *mofPrinter) statedFlavor(q Qualifier) Flavor {
	var decl *QualifierType
	if p.QualifierType != nil {
		decl = p.QualifierType(q.Name)
	}
	if decl == nil {
		return q.Flavor
	}
	d := decl.Flavor.Complete()
	var f Flavor
	for _, pair := range [...]Flavor{overridePair, subclassPair} {
		if q.Flavor&pair != 0 && q.Flavor&pair != d&pair {
			f |= q.Flavor & pair
		}
	}
	return f | q.Flavor&^d&(FlavorTranslatable|FlavorToInstance)
}

// qualifierList writes [Q1, Q2(v)], on one line when it fits, else with a
// line per qualifier; it reports whether it took several lines. indent is
// that of the element the list belongs to.
func (p *mofPrinter) qualifierList(qs Qualifiers, indent string) (multiline bool) {
	start := len(p.buf)
	cont := indent + mofIndent
	p.str("[")
	for i, q := range qs {
		if i > 0 {
			p.str(", ")
		}
		p.qualifier(q, cont)
	}
	p.str("]")
	if p.fitsSince(start) {
		return false
	}
	p.buf = p.buf[:start]
	p.str("[")
	for i, q := range qs {
		if i > 0 {
			p.str(",\n" + indent + " ")
		}
		p.qualifier(q, cont)
	}
	p.str("]")
	return true
}

// qualifierLine writes the local qualifiers of an element on their own
// line.
func (p *mofPrinter) qualifierLine(qs Qualifiers, indent string) {
	if local := qs.local(); len(local) > 0 {
		p.str(indent)
		p.qualifierList(local, indent)
		p.str("\n")
	}
}

// qualifierType writes Qualifier Key : boolean = false,
// Scope(property, reference), Flavor(DisableOverride, ToSubclass); on one
// line when it fits, else with a line per clause.
func (p *mofPrinter) qualifierType(qt *QualifierType) {
	start := len(p.buf)
	for _, sep := range [...]string{", ", ",\n" + mofIndent} {
		p.buf = p.buf[:start]
		p.str("Qualifier " + qt.Name + " : " + qt.Type.String())
		if qt.IsArray {
			p.arraySuffix(qt.ArraySize)
		}
		if !qt.Default.IsNull() {
			p.str(" = ")
			p.value(qt.Default, mofIndent)
		}
		p.str(sep + "Scope(" + qt.Scopes.String() + ")")
		if qt.Flavor != 0 {
			p.str(sep + "Flavor(" + qt.Flavor.String() + ")")
		}
		p.str(";")
		if p.fitsSince(start) {
			return
		}
	}
}

func (p *mofPrinter) arraySuffix(size int) {
	p.str("[")
	if size > 0 {
		p.buf = strconv.AppendInt(p.buf, int64(size), 10)
	}
	p.str("]")
}

// decl writes "type name[]" or "RefClass REF name".
func (p *mofPrinter) decl(name string, t Type, isArray bool, size int, refClass string) {
	if t == TypeReference {
		p.str(refClass + " REF ")
	} else {
		p.str(t.String() + " ")
	}
	p.str(name)
	if isArray {
		p.arraySuffix(size)
	}
}

// property writes a property declaration with its local qualifiers on the
// line before.
func (p *mofPrinter) property(prop *Property, indent string) {
	p.qualifierLine(prop.Qualifiers, indent)
	p.str(indent)
	p.decl(prop.Name, prop.Type, prop.IsArray, prop.ArraySize, prop.ReferenceClass)
	if !prop.Value.IsNull() {
		p.str(" = ")
		p.value(prop.Value, indent+mofIndent)
	}
	p.str(";\n")
}

// parameter writes [IN, OUT] string Names[]; when the declaration does
// not fit after the qualifiers, it goes on the next line.
func (p *mofPrinter) parameter(par *Parameter, indent string) {
	local := par.Qualifiers.local()
	if len(local) == 0 {
		p.decl(par.Name, par.Type, par.IsArray, par.ArraySize, par.ReferenceClass)
		return
	}
	multiline := p.qualifierList(local, indent)
	mark := len(p.buf)
	p.str(" ")
	p.decl(par.Name, par.Type, par.IsArray, par.ArraySize, par.ReferenceClass)
	if multiline || !p.fits(2) { // room for the ");" or "," that follows
		decl := string(p.buf[mark+1:])
		p.buf = append(p.buf[:mark], "\n"+indent...)
		p.str(decl)
	}
}

// method writes a method declaration, a parameter per line.
func (p *mofPrinter) method(m *Method, indent string) {
	p.qualifierLine(m.Qualifiers, indent)
	p.str(indent + m.ReturnType.String() + " " + m.Name + "(")
	for i := range m.Parameters {
		if i > 0 {
			p.str(",")
		}
		p.str("\n" + indent + mofIndent)
		p.parameter(&m.Parameters[i], indent+mofIndent)
	}
	p.str(");\n")
}

func (p *mofPrinter) class(c *Class) {
	p.qualifierLine(c.Qualifiers, "")
	p.str("class " + c.Name)
	if c.SuperClass != "" {
		p.str(" : " + c.SuperClass)
	}
	p.str(" {\n")
	first := true
	separate := func() {
		if !first {
			p.str("\n")
		}
		first = false
	}
	for i := range c.props {
		if !c.props[i].Propagated {
			separate()
			p.property(&c.props[i], mofIndent)
		}
	}
	for i := range c.methods {
		if !c.methods[i].Propagated {
			separate()
			p.method(&c.methods[i], mofIndent)
		}
	}
	p.str("};\n")
}

func (p *mofPrinter) instance(inst *Instance) {
	p.qualifierLine(inst.Qualifiers, "")
	p.str("instance of " + inst.ClassName + " {\n")
	for i := range inst.props {
		prop := &inst.props[i]
		p.qualifierLine(prop.Qualifiers, mofIndent)
		p.str(mofIndent + prop.Name + " = ")
		p.value(prop.Value, mofIndent+mofIndent)
		p.str(";\n")
	}
	p.str("};\n")
}

// appendMOF appends v as by String.
func (v Value) appendMOF(dst []byte) []byte {
	p := mofPrinter{buf: dst}
	p.value(v, mofIndent)
	return p.buf
}

// String returns the qualifier as it appears in a MOF qualifier list, with
// the flavors it holds: Key, Key(false), Description("text"),
// ValueMap{"1", "2"}, Override("Name") : Restricted.
func (q Qualifier) String() string {
	var p mofPrinter
	p.qualifier(q, mofIndent)
	return string(p.buf)
}

// String returns the qualifier list in brackets, "[Key, Description("x")]",
// or "" for an empty list.
func (qs Qualifiers) String() string {
	if len(qs) == 0 {
		return ""
	}
	var p mofPrinter
	p.qualifierList(qs, "")
	return string(p.buf)
}

// String returns the MOF qualifier declaration, e.g.
// Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
func (qt *QualifierType) String() string {
	var p mofPrinter
	p.qualifierType(qt)
	return string(p.buf)
}

// GoString returns a debugging form.
func (qt *QualifierType) GoString() string {
	return "cim.QualifierType(" + strconv.Quote(qt.String()) + ")"
}

// String returns the property as a MOF property declaration with its local
// qualifiers on the line before: [Key] string Name = "x";
func (p *Property) String() string {
	var pr mofPrinter
	pr.property(p, "")
	return strings.TrimSuffix(string(pr.buf), "\n")
}

// GoString returns a debugging form.
func (p *Property) GoString() string {
	return "cim.Property{" + strconv.Quote(p.Name) + " " + typeString(p.Type, p.IsArray) + " = " + p.Value.String() + "}"
}

// String returns the parameter as in a MOF method declaration:
// [IN, OUT] string Names[]
func (p *Parameter) String() string {
	var pr mofPrinter
	pr.parameter(p, "")
	return string(pr.buf)
}

// String returns the method as a MOF method declaration.
func (m *Method) String() string {
	var p mofPrinter
	p.method(m, "")
	return strings.TrimSuffix(string(p.buf), "\n")
}

// GoString returns a debugging form.
func (m *Method) GoString() string { return "cim.Method(" + strconv.Quote(m.String()) + ")" }

// String returns the MOF class declaration of the elements the class
// declares itself (propagated properties, methods and qualifiers are left
// out), with every flavor its qualifiers hold (see MOFFormat).
func (c *Class) String() string {
	var p mofPrinter
	p.class(c)
	return string(p.buf)
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
	var p mofPrinter
	p.instance(inst)
	return string(p.buf)
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
