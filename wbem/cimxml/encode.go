package cimxml

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hypercim/hypercim/cim"
)

// encoder appends CIM-XML (DSP0201) to a byte slice. It is written by hand
// for speed: no reflection and no intermediate tree, one pass over each
// object. Its output follows DSP0203 2.4.0 and also what sblim-wbemcli's
// hand-written parser accepts, which is stricter than the DTD:
//
//   - elements wbemcli reads are never self-closing (PROPERTY,
//     PROPERTY.ARRAY, PARAMETER, QUALIFIER, VALUE, IRETURNVALUE,
//     IMETHODRESPONSE, ERROR...); only CLASSNAME, NAMESPACE, SCOPE and
//     VALUE.NULL, which it accepts self-closed or never sees, are;
//   - attributes are limited to those wbemcli knows for each element,
//     except when the value needs more to be represented at all (the
//     EmbeddedObject attribute of an embedded-instance array or output
//     parameter);
//   - text uses only the five predefined entities (wbemcli does not
//     decode character references), and characters XML 1.0 cannot carry
//     are replaced with U+FFFD;
//   - VALUE.NULL inside VALUE.ARRAY only for clients that declared
//     DTDVERSION 2.3 or later (nullInArrays), since older DTDs and
//     wbemcli reject it; for the others a NULL array element is left out.
type encoder struct {
	b []byte
	// host is what INSTANCEPATH and CLASSPATH name as HOST: the host the
	// client reached the server as.
	host string
	// nullInArrays allows VALUE.NULL inside VALUE.ARRAY.
	nullInArrays bool
	// scratch holds the XML of embedded objects before it is escaped into
	// the enclosing VALUE.
	scratch []byte
}

// str appends literal markup.
func (e *encoder) str(s string) { e.b = append(e.b, s...) }

// text appends s escaped for element content or a double-quoted attribute.
func (e *encoder) text(s string) { e.b = appendEscaped(e.b, s) }

// attr appends ` name="value"`.
func (e *encoder) attr(name, value string) {
	e.b = append(e.b, ' ')
	e.b = append(e.b, name...)
	e.b = append(e.b, '=', '"')
	e.b = appendEscaped(e.b, value)
	e.b = append(e.b, '"')
}

// escapeTable has a '1' for each byte that cannot be copied as is into
// text or a double-quoted attribute: the markup characters & < > ", the
// control characters and the first byte of every non-ASCII sequence
// (which is then validated).
const escapeTable = "" +
	"1111111111111111111111111111111100100010000000000000000000001010" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"1111111111111111111111111111111111111111111111111111111111111111" +
	"1111111111111111111111111111111111111111111111111111111111111111"

// appendEscaped appends s with the five predefined entities where markup
// needs them. Tab, newline and carriage return pass through; other
// control characters, invalid UTF-8 and the non-characters U+FFFE and
// U+FFFF, which XML 1.0 cannot carry at all, become U+FFFD.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain bytes at a time: most text needs no escaping.
		for i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if escapeTable[c] == '0' {
			i++
			continue
		}
		var repl string
		width := 1
		switch {
		case c == '&':
			repl = "&amp;"
		case c == '<':
			repl = "&lt;"
		case c == '>':
			repl = "&gt;"
		case c == '"':
			repl = "&quot;"
		case c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c < 0x20:
			repl = "\uFFFD"
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r != utf8.RuneError || n > 1) && r != 0xFFFE && r != 0xFFFF {
				i += n
				continue
			}
			repl, width = "\uFFFD", n
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, repl...)
		i += width
		start = i
	}
	return append(dst, s[start:]...)
}

// plain8 reports whether none of the eight bytes of s needs escaping: no
// byte below 0x20 or from 0x80, and none of & < > ". It tests all eight at
// once in a 64-bit word (the bit tricks of "Bit Twiddling Hacks": a byte
// of x is zero exactly when the high bit of (x-0x01..) &^ x is set).
func plain8(s string) bool {
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	zero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	bad := x & highs                    // non-ASCII
	bad |= (x - 0x20*ones) &^ x & highs // below 0x20
	bad |= zero(x ^ '&'*ones)
	bad |= zero(x ^ '<'*ones)
	bad |= zero(x ^ '>'*ones)
	bad |= zero(x ^ '"'*ones)
	return bad == 0
}

// --- message envelope ---------------------------------------------------

const xmlHeader = `<?xml version="1.0" encoding="utf-8" ?>` + "\n" + `<CIM CIMVERSION="2.0" DTDVERSION="2.0">`

// beginMessage starts <CIM><MESSAGE><SIMPLERSP> and the method response
// element (IMETHODRESPONSE or METHODRESPONSE).
func (e *encoder) beginMessage(id, protocolVersion, responseElem, method string) {
	e.str(xmlHeader)
	e.str(`<MESSAGE`)
	e.attr("ID", id)
	e.attr("PROTOCOLVERSION", protocolVersion)
	e.str(`><SIMPLERSP><`)
	e.str(responseElem)
	e.attr("NAME", method)
	e.b = append(e.b, '>')
}

// endMessage closes what beginMessage opened.
func (e *encoder) endMessage(responseElem string) {
	e.str(`</`)
	e.str(responseElem)
	e.str(`></SIMPLERSP></MESSAGE></CIM>` + "\n")
}

// errorElem writes <ERROR CODE DESCRIPTION>, whose description starts with
// the DSP0200 name of the status ("CIM_ERR_NOT_FOUND: ..."), with CIM_Error
// instances inside only when withInstances is set.
func (e *encoder) errorElem(err *cim.Error, withInstances bool) {
	e.str(`<ERROR`)
	e.attr("CODE", strconv.Itoa(int(err.Status)))
	e.attr("DESCRIPTION", errorDescription(err))
	e.b = append(e.b, '>')
	if withInstances {
		insts := err.Instances
		if len(insts) == 0 {
			insts = []*cim.Instance{err.CIMErrorInstance("hypercim")}
		}
		for _, inst := range insts {
			e.instance(inst)
		}
	}
	e.str(`</ERROR>`)
}

// errorDescription is the DESCRIPTION of an ERROR element: the symbolic
// name, then what went wrong.
func errorDescription(err *cim.Error) string {
	desc := err.Description
	if desc == "" {
		desc = err.Status.Description()
	}
	name := err.Status.Name()
	if strings.HasPrefix(desc, name) {
		return desc
	}
	return name + ": " + desc
}

// --- names and paths ----------------------------------------------------

func (e *encoder) className(name string) {
	e.str(`<CLASSNAME`)
	e.attr("NAME", name)
	e.str(`/>`)
}

func (e *encoder) localNamespacePath(ns string) {
	e.str(`<LOCALNAMESPACEPATH>`)
	ns = strings.Trim(ns, "/")
	for ns != "" {
		part := ns
		if i := strings.IndexByte(ns, '/'); i >= 0 {
			part, ns = ns[:i], ns[i+1:]
		} else {
			ns = ""
		}
		if part == "" {
			continue
		}
		e.str(`<NAMESPACE`)
		e.attr("NAME", part)
		e.str(`/>`)
	}
	e.str(`</LOCALNAMESPACEPATH>`)
}

func (e *encoder) namespacePath(host, ns string) {
	if host == "" {
		host = e.host
	}
	e.str(`<NAMESPACEPATH><HOST>`)
	e.text(host)
	e.str(`</HOST>`)
	e.localNamespacePath(ns)
	e.str(`</NAMESPACEPATH>`)
}

// instanceName writes INSTANCENAME with one KEYBINDING per key.
func (e *encoder) instanceName(p *cim.ObjectPath) {
	e.str(`<INSTANCENAME`)
	e.attr("CLASSNAME", p.ClassName)
	e.b = append(e.b, '>')
	for i := range p.Keys {
		k := &p.Keys[i]
		e.str(`<KEYBINDING`)
		e.attr("NAME", k.Name)
		e.b = append(e.b, '>')
		e.keyValue(k.Value)
		e.str(`</KEYBINDING>`)
	}
	e.str(`</INSTANCENAME>`)
}

// keyValue writes the KEYVALUE (or, for a reference key, VALUE.REFERENCE)
// of a keybinding. DSP0203 2.4 requires TYPE; VALUETYPE tells clients
// that ignore TYPE how to read the text.
func (e *encoder) keyValue(v cim.Value) {
	t := v.Type()
	if t == cim.TypeReference {
		e.valueReference(v.Ref())
		return
	}
	valueType := "string"
	switch {
	case t == cim.TypeBoolean:
		valueType = "boolean"
	case t.IsNumeric():
		valueType = "numeric"
	case !t.Valid():
		t = cim.TypeString
	}
	e.str(`<KEYVALUE`)
	e.attr("VALUETYPE", valueType)
	e.attr("TYPE", t.String())
	e.b = append(e.b, '>')
	e.scalarText(v)
	e.str(`</KEYVALUE>`)
}

// instancePath writes INSTANCEPATH: the path's host, or the host the
// client reached us as, its namespace and its INSTANCENAME.
func (e *encoder) instancePath(p *cim.ObjectPath, ns string) {
	if p.Namespace != "" {
		ns = p.Namespace
	}
	e.str(`<INSTANCEPATH>`)
	e.namespacePath(p.Host, ns)
	e.instanceName(p)
	e.str(`</INSTANCEPATH>`)
}

func (e *encoder) classPath(p *cim.ObjectPath, ns string) {
	if p.Namespace != "" {
		ns = p.Namespace
	}
	e.str(`<CLASSPATH>`)
	e.namespacePath(p.Host, ns)
	e.className(p.ClassName)
	e.str(`</CLASSPATH>`)
}

// objectPath writes OBJECTPATH around an instance or class path.
func (e *encoder) objectPath(p *cim.ObjectPath, ns string) {
	e.str(`<OBJECTPATH>`)
	if p.IsInstancePath() {
		e.instancePath(p, ns)
	} else {
		e.classPath(p, ns)
	}
	e.str(`</OBJECTPATH>`)
}

// valueReference writes VALUE.REFERENCE. A path with a namespace becomes
// INSTANCEPATH (CLASSPATH) naming the host, which every client parses;
// a model path becomes INSTANCENAME (CLASSNAME).
func (e *encoder) valueReference(p *cim.ObjectPath) {
	e.str(`<VALUE.REFERENCE>`)
	switch {
	case p.IsInstancePath() && p.Namespace != "":
		e.instancePath(p, "")
	case p.IsInstancePath():
		e.instanceName(p)
	case p.Namespace != "":
		e.classPath(p, "")
	default:
		e.className(p.ClassName)
	}
	e.str(`</VALUE.REFERENCE>`)
}

// --- values -------------------------------------------------------------

// scalarText appends the escaped CIM-XML text of a non-NULL scalar that is
// not a reference.
func (e *encoder) scalarText(v cim.Value) {
	switch v.Type() {
	case cim.TypeString:
		switch {
		case v.Instance() != nil:
			e.embedded(v.Instance(), nil)
		case v.Class() != nil:
			e.embedded(nil, v.Class())
		default:
			e.text(v.Str())
		}
	case cim.TypeChar16:
		var buf [utf8.UTFMax]byte
		e.text(string(utf8.AppendRune(buf[:0], rune(v.Char16()))))
	default:
		// Numbers, booleans and datetimes have no characters to escape.
		e.b = v.AppendText(e.b)
	}
}

// embedded appends the XML of an embedded instance or class, escaped as
// the text of the enclosing VALUE.
func (e *encoder) embedded(inst *cim.Instance, cls *cim.Class) {
	inner := encoder{b: e.scratch[:0], host: e.host, nullInArrays: e.nullInArrays}
	if inst != nil {
		inner.instance(inst)
	} else {
		inner.class(cls)
	}
	e.b = appendEscaped(e.b, string(inner.b))
	e.scratch = inner.b
}

// value writes the VALUE, VALUE.ARRAY, VALUE.REFERENCE or VALUE.REFARRAY
// of a non-NULL value.
func (e *encoder) value(v cim.Value) {
	if v.IsArray() {
		if v.Type() == cim.TypeReference {
			e.str(`<VALUE.REFARRAY>`)
			for i, n := 0, v.Len(); i < n; i++ {
				if v.IsNullAt(i) {
					if e.nullInArrays {
						e.str(`<VALUE.NULL/>`)
					}
					continue
				}
				e.valueReference(v.Index(i).Ref())
			}
			e.str(`</VALUE.REFARRAY>`)
			return
		}
		e.str(`<VALUE.ARRAY>`)
		e.arrayElements(v)
		e.str(`</VALUE.ARRAY>`)
		return
	}
	if v.Type() == cim.TypeReference {
		e.valueReference(v.Ref())
		return
	}
	e.str(`<VALUE>`)
	e.scalarText(v)
	e.str(`</VALUE>`)
}

// arrayElements writes the VALUE (or VALUE.NULL) elements of an array.
// The common element types are written straight from the typed slice.
func (e *encoder) arrayElements(v cim.Value) {
	switch v.Type() {
	case cim.TypeString:
		if v.Embedded() == cim.EmbeddedNone {
			appendElements(e, v, v.StrArray(), func(b []byte, s string) []byte { return appendEscaped(b, s) })
			return
		}
	case cim.TypeUint8:
		appendElements(e, v, v.Uint8Array(), func(b []byte, n uint8) []byte { return strconv.AppendUint(b, uint64(n), 10) })
		return
	case cim.TypeUint16:
		appendElements(e, v, v.Uint16Array(), func(b []byte, n uint16) []byte { return strconv.AppendUint(b, uint64(n), 10) })
		return
	case cim.TypeUint32:
		appendElements(e, v, v.Uint32Array(), func(b []byte, n uint32) []byte { return strconv.AppendUint(b, uint64(n), 10) })
		return
	case cim.TypeUint64:
		appendElements(e, v, v.Uint64Array(), func(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) })
		return
	case cim.TypeSint32:
		appendElements(e, v, v.Sint32Array(), func(b []byte, n int32) []byte { return strconv.AppendInt(b, int64(n), 10) })
		return
	case cim.TypeSint64:
		appendElements(e, v, v.Sint64Array(), func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
		return
	}
	for i, n := 0, v.Len(); i < n; i++ {
		if v.IsNullAt(i) {
			if e.nullInArrays {
				e.str(`<VALUE.NULL/>`)
			}
			continue
		}
		e.str(`<VALUE>`)
		e.scalarText(v.Index(i))
		e.str(`</VALUE>`)
	}
}

func appendElements[T any](e *encoder, v cim.Value, elems []T, appendText func([]byte, T) []byte) {
	for i, x := range elems {
		if v.IsNullAt(i) {
			if e.nullInArrays {
				e.str(`<VALUE.NULL/>`)
			}
			continue
		}
		e.str(`<VALUE>`)
		e.b = appendText(e.b, x)
		e.str(`</VALUE>`)
	}
}

// typeName is the TYPE attribute of an element of type t; an untyped NULL
// is written as a string.
func typeName(t cim.Type) string {
	if !t.Valid() || t == cim.TypeReference {
		return "string"
	}
	return t.String()
}

// --- qualifiers ---------------------------------------------------------

func (e *encoder) qualifiers(qs cim.Qualifiers) {
	for i := range qs {
		e.qualifier(&qs[i])
	}
}

func (e *encoder) qualifier(q *cim.Qualifier) {
	e.str(`<QUALIFIER`)
	e.attr("NAME", q.Name)
	e.attr("TYPE", typeName(q.Value.Type()))
	if q.Propagated {
		e.str(` PROPAGATED="true"`)
	}
	e.flavorAttrs(q.Flavor)
	e.b = append(e.b, '>')
	if !q.Value.IsNull() {
		e.value(q.Value)
	}
	e.str(`</QUALIFIER>`)
}

// flavorAttrs writes the flavor attributes that differ from the DTD's
// defaults (OVERRIDABLE and TOSUBCLASS true, the others false).
func (e *encoder) flavorAttrs(f cim.Flavor) {
	if !f.Overridable() {
		e.str(` OVERRIDABLE="false"`)
	}
	if !f.ToSubclass() {
		e.str(` TOSUBCLASS="false"`)
	}
	if f&cim.FlavorToInstance != 0 {
		e.str(` TOINSTANCE="true"`)
	}
	if f.Translatable() {
		e.str(` TRANSLATABLE="true"`)
	}
}

// qualifierDeclaration writes QUALIFIER.DECLARATION.
func (e *encoder) qualifierDeclaration(qt *cim.QualifierType) {
	e.str(`<QUALIFIER.DECLARATION`)
	e.attr("NAME", qt.Name)
	e.attr("TYPE", typeName(qt.Type))
	if qt.IsArray {
		e.str(` ISARRAY="true"`)
		if qt.ArraySize > 0 {
			e.attr("ARRAYSIZE", strconv.Itoa(qt.ArraySize))
		}
	} else {
		e.str(` ISARRAY="false"`)
	}
	e.flavorAttrs(qt.Flavor)
	e.str(`><SCOPE`)
	for _, s := range []struct {
		attr  string
		scope cim.Scope
	}{
		{"CLASS", cim.ScopeClass}, {"ASSOCIATION", cim.ScopeAssociation},
		{"REFERENCE", cim.ScopeReference}, {"PROPERTY", cim.ScopeProperty},
		{"METHOD", cim.ScopeMethod}, {"PARAMETER", cim.ScopeParameter},
		{"INDICATION", cim.ScopeIndication},
	} {
		if qt.Scopes&s.scope != 0 {
			e.b = append(e.b, ' ')
			e.str(s.attr)
			e.str(`="true"`)
		}
	}
	e.str(`/>`)
	if !qt.Default.IsNull() {
		e.value(qt.Default)
	}
	e.str(`</QUALIFIER.DECLARATION>`)
}

// --- properties, instances and classes ----------------------------------

// property writes PROPERTY, PROPERTY.ARRAY or PROPERTY.REFERENCE of a
// class (inClass) or an instance.
func (e *encoder) property(p *cim.Property, inClass bool) {
	t := p.Type
	if !t.Valid() {
		t = p.Value.Type()
	}
	switch {
	case t == cim.TypeReference && !p.IsArray:
		e.str(`<PROPERTY.REFERENCE`)
		e.attr("NAME", p.Name)
		if p.ReferenceClass != "" {
			e.attr("REFERENCECLASS", p.ReferenceClass)
		}
		e.originAttrs(p, inClass)
		e.b = append(e.b, '>')
		e.qualifiers(p.Qualifiers)
		if ref := p.Value.Ref(); ref != nil {
			e.valueReference(ref)
		}
		e.str(`</PROPERTY.REFERENCE>`)
	case p.IsArray:
		e.str(`<PROPERTY.ARRAY`)
		e.attr("NAME", p.Name)
		e.attr("TYPE", typeName(t))
		if p.ArraySize > 0 {
			e.attr("ARRAYSIZE", strconv.Itoa(p.ArraySize))
		}
		e.originAttrs(p, inClass)
		e.embeddedAttr(p)
		e.b = append(e.b, '>')
		e.qualifiers(p.Qualifiers)
		if !p.Value.IsNull() {
			e.value(p.Value)
		}
		e.str(`</PROPERTY.ARRAY>`)
	default:
		e.str(`<PROPERTY`)
		e.attr("NAME", p.Name)
		e.attr("TYPE", typeName(t))
		e.originAttrs(p, inClass)
		e.embeddedAttr(p)
		e.b = append(e.b, '>')
		e.qualifiers(p.Qualifiers)
		if !p.Value.IsNull() {
			e.value(p.Value)
		}
		e.str(`</PROPERTY>`)
	}
}

// originAttrs writes CLASSORIGIN when known and, in a class, PROPAGATED
// (which means nothing for an instance's values).
func (e *encoder) originAttrs(p *cim.Property, inClass bool) {
	if p.ClassOrigin != "" {
		e.attr("CLASSORIGIN", p.ClassOrigin)
	}
	if inClass && p.Propagated {
		e.str(` PROPAGATED="true"`)
	}
}

func (e *encoder) embeddedAttr(p *cim.Property) {
	if p.Type != cim.TypeString && p.Value.Type() != cim.TypeString {
		return
	}
	kind := p.Embedded
	switch {
	case len(p.Qualifiers) > 0:
		kind = p.EmbeddedKind()
	case kind == cim.EmbeddedNone:
		kind = p.Value.Embedded()
	}
	switch kind {
	case cim.EmbeddedInstance:
		e.str(` EmbeddedObject="instance"`)
	case cim.EmbeddedObject:
		e.str(` EmbeddedObject="object"`)
	}
}

// instance writes INSTANCE with the properties (and qualifiers) the
// instance carries; the core has already shaped it for the request.
func (e *encoder) instance(inst *cim.Instance) {
	e.str(`<INSTANCE`)
	e.attr("CLASSNAME", inst.ClassName)
	e.b = append(e.b, '>')
	e.qualifiers(inst.Qualifiers)
	props := inst.Properties()
	for i := range props {
		e.property(&props[i], false)
	}
	e.str(`</INSTANCE>`)
}

// class writes CLASS with its qualifiers, properties and methods.
func (e *encoder) class(c *cim.Class) {
	e.str(`<CLASS`)
	e.attr("NAME", c.Name)
	if c.SuperClass != "" {
		e.attr("SUPERCLASS", c.SuperClass)
	}
	e.b = append(e.b, '>')
	e.qualifiers(c.Qualifiers)
	props := c.Properties()
	for i := range props {
		e.property(&props[i], true)
	}
	methods := c.Methods()
	for i := range methods {
		e.method(&methods[i])
	}
	e.str(`</CLASS>`)
}

func (e *encoder) method(m *cim.Method) {
	e.str(`<METHOD`)
	e.attr("NAME", m.Name)
	if m.ReturnType.Valid() && m.ReturnType != cim.TypeReference {
		e.attr("TYPE", m.ReturnType.String())
	}
	if m.ClassOrigin != "" {
		e.attr("CLASSORIGIN", m.ClassOrigin)
	}
	if m.Propagated {
		e.str(` PROPAGATED="true"`)
	}
	e.b = append(e.b, '>')
	e.qualifiers(m.Qualifiers)
	for i := range m.Parameters {
		e.parameter(&m.Parameters[i])
	}
	e.str(`</METHOD>`)
}

func (e *encoder) parameter(p *cim.Parameter) {
	var elem string
	switch {
	case p.Type == cim.TypeReference && p.IsArray:
		elem = "PARAMETER.REFARRAY"
	case p.Type == cim.TypeReference:
		elem = "PARAMETER.REFERENCE"
	case p.IsArray:
		elem = "PARAMETER.ARRAY"
	default:
		elem = "PARAMETER"
	}
	e.b = append(e.b, '<')
	e.str(elem)
	e.attr("NAME", p.Name)
	if p.Type == cim.TypeReference {
		if p.ReferenceClass != "" {
			e.attr("REFERENCECLASS", p.ReferenceClass)
		}
	} else {
		e.attr("TYPE", typeName(p.Type))
	}
	if p.IsArray && p.ArraySize > 0 {
		e.attr("ARRAYSIZE", strconv.Itoa(p.ArraySize))
	}
	e.b = append(e.b, '>')
	e.qualifiers(p.Qualifiers)
	e.str(`</`)
	e.str(elem)
	e.b = append(e.b, '>')
}

// --- composite return values --------------------------------------------

// namedInstance writes VALUE.NAMEDINSTANCE (EnumerateInstances).
func (e *encoder) namedInstance(inst *cim.Instance) {
	e.str(`<VALUE.NAMEDINSTANCE>`)
	e.instanceName(inst.Path)
	e.instance(inst)
	e.str(`</VALUE.NAMEDINSTANCE>`)
}

// instanceWithPath writes VALUE.INSTANCEWITHPATH (pulled instances).
func (e *encoder) instanceWithPath(inst *cim.Instance, ns string) {
	e.str(`<VALUE.INSTANCEWITHPATH>`)
	e.instancePath(inst.Path, ns)
	e.instance(inst)
	e.str(`</VALUE.INSTANCEWITHPATH>`)
}

// objectWithPathInstance writes VALUE.OBJECTWITHPATH for an instance.
func (e *encoder) objectWithPathInstance(inst *cim.Instance, ns string) {
	e.str(`<VALUE.OBJECTWITHPATH>`)
	e.instancePath(inst.Path, ns)
	e.instance(inst)
	e.str(`</VALUE.OBJECTWITHPATH>`)
}

// objectWithPathClass writes VALUE.OBJECTWITHPATH for a class.
func (e *encoder) objectWithPathClass(path *cim.ObjectPath, c *cim.Class, ns string) {
	e.str(`<VALUE.OBJECTWITHPATH>`)
	e.classPath(path, ns)
	e.class(c)
	e.str(`</VALUE.OBJECTWITHPATH>`)
}

// paramValue writes an output PARAMVALUE (or the RETURNVALUE when name is
// empty) of a method response or a pull operation. NULL values are left
// out by the caller: wbemcli cannot read an empty PARAMVALUE.
func (e *encoder) paramValue(elem, name string, v cim.Value) {
	e.b = append(e.b, '<')
	e.str(elem)
	if name != "" {
		e.attr("NAME", name)
	}
	switch t := v.Type(); {
	case t == cim.TypeReference:
		e.str(` PARAMTYPE="reference"`)
	case t.Valid():
		e.attr("PARAMTYPE", t.String())
	}
	switch v.Embedded() {
	case cim.EmbeddedInstance:
		e.str(` EmbeddedObject="instance"`)
	case cim.EmbeddedObject:
		e.str(` EmbeddedObject="object"`)
	}
	e.b = append(e.b, '>')
	if !v.IsNull() {
		e.value(v)
	}
	e.str(`</`)
	e.str(elem)
	e.b = append(e.b, '>')
}
