package xmlcodec

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/internal/xmlesc"
)

// Encoder appends CIM-XML (DSP0201) to a byte slice. It is written by hand
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
//     EmbeddedObject attribute of a non-empty embedded-instance array or
//     of an output parameter);
//   - text uses only the five predefined entities (wbemcli does not
//     decode character references), and characters XML 1.0 cannot carry
//     are replaced with U+FFFD;
//   - VALUE.NULL inside VALUE.ARRAY only when NullInArrays is set (for
//     clients that declared DTDVERSION 2.3 or later), since older DTDs
//     and wbemcli reject it; otherwise a NULL array element is left out,
//     and the elements after it move up (no older form says NULL).
//
// One DTD-valid construct wbemcli cannot read remains: a reference array
// (VALUE.REFARRAY) as an output parameter, which it mistakes for VALUE.
// The only form it reads, VALUE.REFERENCE inside VALUE.ARRAY, is invalid
// and refused by other clients, so it is not used.
//
// An Encoder is used by one goroutine at a time; its zero value writes
// for wbemcli-era clients without a HOST of its own.
type Encoder struct {
	// B is the output so far: callers take it, send it and truncate it.
	B []byte
	// Host is what INSTANCEPATH and CLASSPATH name as HOST when a path
	// has none: for a server, the host the client reached it as. Without
	// either, a reference is written as LOCALINSTANCEPATH (LOCALCLASSPATH).
	Host string
	// NullInArrays allows VALUE.NULL inside VALUE.ARRAY.
	NullInArrays bool
	// EscapeWhitespace writes tab, line feed and carriage return as
	// character references, so that XML's line-end and attribute-value
	// normalization leave them intact at a receiver that decodes
	// references (export listeners do; wbemcli does not).
	EscapeWhitespace bool
	// scratch holds the XML of embedded objects before it is escaped into
	// the enclosing VALUE.
	scratch []byte
	// tags remembers the start tags of plain properties by their position
	// in an instance, and keyTags the KEYBINDING start tags (with the
	// KEYVALUE start of a string key) by position in a path: instances of
	// one class list their properties and keys in the same order, so a
	// start tag is escaped and assembled for the first instances of a
	// class and copied for the others, joined to the end tags of the
	// element before when that is a plain property or string key. An
	// entry is used only for the same name, type and whitespace mode, so
	// any other instance merely misses.
	tags, keyTags []memoTag
	// instanceTag and instanceNameTag remember <INSTANCE CLASSNAME="…">
	// and <INSTANCENAME CLASSNAME="…"> for the last class written.
	instanceTag, instanceNameTag memoTag
	// instances and names count the instances and instance names
	// written: the memos are filled from the second of each on, so that a
	// response of one allocates nothing for them.
	instances, names int
}

// Str appends literal markup.
func (e *Encoder) Str(s string) { e.B = append(e.B, s...) }

// Text appends s escaped for element content or a double-quoted attribute.
func (e *Encoder) Text(s string) { e.B = xmlesc.Append(e.B, s, e.ws()) }

// Attr appends ` name="value"`.
func (e *Encoder) Attr(name, value string) {
	e.B = append(e.B, ' ')
	e.B = append(e.B, name...)
	e.B = append(e.B, '=', '"')
	e.B = xmlesc.Append(e.B, value, e.ws())
	e.B = append(e.B, '"')
}

// ws is how the Encoder writes tab, line feed and carriage return.
func (e *Encoder) ws() xmlesc.Whitespace {
	if e.EscapeWhitespace {
		return xmlesc.EscapeWhitespace
	}
	return xmlesc.KeepWhitespace
}

// --- errors ------------------------------------------------------------

// Error writes <ERROR CODE DESCRIPTION>, whose description starts with
// the DSP0200 name of the status ("CIM_ERR_NOT_FOUND: ..."), with CIM_Error
// instances inside only when withInstances is set.
func (e *Encoder) Error(err *cim.Error, withInstances bool) {
	e.Str(`<ERROR`)
	e.Attr("CODE", strconv.Itoa(int(err.Status)))
	e.Attr("DESCRIPTION", ErrorDescription(err))
	e.B = append(e.B, '>')
	if withInstances {
		insts := err.Instances
		if len(insts) == 0 {
			insts = []*cim.Instance{err.CIMErrorInstance("hypercim")}
		}
		for _, inst := range insts {
			e.Instance(inst)
		}
	}
	e.Str(`</ERROR>`)
}

// ErrorDescription is the DESCRIPTION of an ERROR element: the symbolic
// name, then what went wrong.
func ErrorDescription(err *cim.Error) string {
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

func (e *Encoder) ClassName(name string) {
	e.Str(`<CLASSNAME`)
	e.Attr("NAME", name)
	e.Str(`/>`)
}

func (e *Encoder) LocalNamespacePath(ns string) {
	e.Str(`<LOCALNAMESPACEPATH>`)
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
		e.Str(`<NAMESPACE`)
		e.Attr("NAME", part)
		e.Str(`/>`)
	}
	e.Str(`</LOCALNAMESPACEPATH>`)
}

func (e *Encoder) NamespacePath(host, ns string) {
	if host == "" {
		host = e.Host
	}
	e.Str(`<NAMESPACEPATH><HOST>`)
	e.Text(host)
	e.Str(`</HOST>`)
	e.LocalNamespacePath(ns)
	e.Str(`</NAMESPACEPATH>`)
}

// InstanceName writes INSTANCENAME with one KEYBINDING per key.
func (e *Encoder) InstanceName(p *cim.ObjectPath) {
	fill := e.names > 0
	e.memoStart(&e.instanceNameTag, fill, `<INSTANCENAME CLASSNAME="`, p.ClassName)
	ws := e.ws()
	// open: the last key written was a string, whose KEYVALUE and
	// KEYBINDING are still open; the next string key's memo closes them
	// and starts its own in one copy.
	open := false
	for i := range p.Keys {
		k := &p.Keys[i]
		m := memoAt(&e.keyTags, i, fill)
		if !plainStringKey(k.Value) {
			if open {
				e.Str(endStringKey)
				open = false
			}
			e.memoStart(m, fill, `<KEYBINDING NAME="`, k.Name)
			e.KeyValue(k.Value)
			e.Str(`</KEYBINDING>`)
			continue
		}
		b := m.appendStart(e.B, fill, open, k.Name, cim.TypeString, ws, endStringKey, `<KEYBINDING NAME="`, `">`+stringKeyValue)
		e.B = xmlesc.Append(b, k.Value.Str(), ws)
		open = true
	}
	if open {
		e.Str(endStringKey + `</INSTANCENAME>`)
	} else {
		e.Str(`</INSTANCENAME>`)
	}
	e.names++
}

const (
	// stringKeyValue starts the KEYVALUE of a string key, endStringKey
	// closes it and its KEYBINDING.
	stringKeyValue = `<KEYVALUE VALUETYPE="string" TYPE="string">`
	endStringKey   = `</KEYVALUE></KEYBINDING>`
)

// plainStringKey reports whether v is a key KeyValue writes as a string
// KEYVALUE: a string that holds no embedded object.
func plainStringKey(v cim.Value) bool {
	return v.Type() == cim.TypeString && v.Instance() == nil && v.Class() == nil
}

// memoStart writes open, name escaped and `">` (a start tag whose one
// attribute is a name), through m (see memoTag.appendStart).
func (e *Encoder) memoStart(m *memoTag, fill bool, open, name string) {
	e.B = m.appendStart(e.B, fill, false, name, 0, e.ws(), "", open, `">`)
}

// KeyValue writes the KEYVALUE (or, for a reference key, VALUE.REFERENCE)
// of a keybinding. DSP0203 2.4 requires TYPE; VALUETYPE tells clients
// that ignore TYPE how to read the text.
func (e *Encoder) KeyValue(v cim.Value) {
	t := v.Type()
	if plainStringKey(v) {
		// The common key, in fewer steps; the same output as below.
		b := append(e.B, stringKeyValue...)
		b = xmlesc.Append(b, v.Str(), e.ws())
		e.B = append(b, `</KEYVALUE>`...)
		return
	}
	if t == cim.TypeReference {
		e.ValueReference(v.Ref())
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
	// The attribute values are names of types: nothing to escape.
	e.Str(`<KEYVALUE VALUETYPE="`)
	e.Str(valueType)
	e.Str(`" TYPE="`)
	e.Str(t.String())
	e.Str(`">`)
	e.ScalarText(v)
	e.Str(`</KEYVALUE>`)
}

// InstancePath writes INSTANCEPATH: the path's host, or the host the
// client reached us as, its namespace and its INSTANCENAME.
func (e *Encoder) InstancePath(p *cim.ObjectPath, ns string) {
	if p.Namespace != "" {
		ns = p.Namespace
	}
	e.Str(`<INSTANCEPATH>`)
	e.NamespacePath(p.Host, ns)
	e.InstanceName(p)
	e.Str(`</INSTANCEPATH>`)
}

func (e *Encoder) ClassPath(p *cim.ObjectPath, ns string) {
	if p.Namespace != "" {
		ns = p.Namespace
	}
	e.Str(`<CLASSPATH>`)
	e.NamespacePath(p.Host, ns)
	e.ClassName(p.ClassName)
	e.Str(`</CLASSPATH>`)
}

// ObjectPath writes OBJECTPATH around an instance or class path.
func (e *Encoder) ObjectPath(p *cim.ObjectPath, ns string) {
	e.Str(`<OBJECTPATH>`)
	if p.IsInstancePath() {
		e.InstancePath(p, ns)
	} else {
		e.ClassPath(p, ns)
	}
	e.Str(`</OBJECTPATH>`)
}

// ValueReference writes VALUE.REFERENCE. A path with a namespace becomes
// INSTANCEPATH (CLASSPATH) naming its host or the Encoder's, which every
// client parses, or LOCALINSTANCEPATH (LOCALCLASSPATH) when no host is
// known; a model path becomes INSTANCENAME (CLASSNAME).
func (e *Encoder) ValueReference(p *cim.ObjectPath) {
	e.Str(`<VALUE.REFERENCE>`)
	hostKnown := p.Host != "" || e.Host != ""
	switch {
	case p.IsInstancePath() && p.Namespace != "" && hostKnown:
		e.InstancePath(p, "")
	case p.IsInstancePath() && p.Namespace != "":
		e.Str(`<LOCALINSTANCEPATH>`)
		e.LocalNamespacePath(p.Namespace)
		e.InstanceName(p)
		e.Str(`</LOCALINSTANCEPATH>`)
	case p.IsInstancePath():
		e.InstanceName(p)
	case p.Namespace != "" && hostKnown:
		e.ClassPath(p, "")
	case p.Namespace != "":
		e.Str(`<LOCALCLASSPATH>`)
		e.LocalNamespacePath(p.Namespace)
		e.ClassName(p.ClassName)
		e.Str(`</LOCALCLASSPATH>`)
	default:
		e.ClassName(p.ClassName)
	}
	e.Str(`</VALUE.REFERENCE>`)
}

// --- values -------------------------------------------------------------

// ScalarText appends the escaped CIM-XML text of a non-NULL scalar that is
// not a reference.
func (e *Encoder) ScalarText(v cim.Value) {
	switch v.Type() {
	case cim.TypeString:
		switch {
		case v.Instance() != nil:
			e.embedded(v.Instance(), nil)
		case v.Class() != nil:
			e.embedded(nil, v.Class())
		default:
			e.Text(v.Str())
		}
	case cim.TypeChar16:
		var buf [utf8.UTFMax]byte
		e.Text(string(utf8.AppendRune(buf[:0], rune(v.Char16()))))
	default:
		// Numbers, booleans and datetimes have no characters to escape.
		e.B = v.AppendText(e.B)
	}
}

// embedded appends the XML of an embedded instance or class, escaped as
// the text of the enclosing VALUE.
func (e *Encoder) embedded(inst *cim.Instance, cls *cim.Class) {
	inner := Encoder{B: e.scratch[:0], Host: e.Host, NullInArrays: e.NullInArrays, EscapeWhitespace: e.EscapeWhitespace}
	if inst != nil {
		inner.Instance(inst)
	} else {
		inner.Class(cls)
	}
	e.B = xmlesc.Append(e.B, string(inner.B), e.ws())
	e.scratch = inner.B
}

// Value writes the VALUE, VALUE.ARRAY, VALUE.REFERENCE or VALUE.REFARRAY
// of a non-NULL value.
func (e *Encoder) Value(v cim.Value) {
	if v.IsArray() {
		if v.Type() == cim.TypeReference {
			e.Str(`<VALUE.REFARRAY>`)
			for i, n := 0, v.Len(); i < n; i++ {
				if v.IsNullAt(i) {
					if e.NullInArrays {
						e.Str(`<VALUE.NULL/>`)
					}
					continue
				}
				e.ValueReference(v.Index(i).Ref())
			}
			e.Str(`</VALUE.REFARRAY>`)
			return
		}
		e.Str(`<VALUE.ARRAY>`)
		e.arrayElements(v)
		e.Str(`</VALUE.ARRAY>`)
		return
	}
	if v.Type() == cim.TypeReference {
		e.ValueReference(v.Ref())
		return
	}
	e.Str(`<VALUE>`)
	e.ScalarText(v)
	e.Str(`</VALUE>`)
}

// arrayElements writes the VALUE (or VALUE.NULL) elements of an array.
// The common element types are written straight from the typed slice.
func (e *Encoder) arrayElements(v cim.Value) {
	switch v.Type() {
	case cim.TypeString:
		if v.Embedded() == cim.EmbeddedNone {
			appendElements(e, v, v.StrArray(), func(b []byte, s string) []byte { return xmlesc.Append(b, s, e.ws()) })
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
			if e.NullInArrays {
				e.Str(`<VALUE.NULL/>`)
			}
			continue
		}
		e.Str(`<VALUE>`)
		e.ScalarText(v.Index(i))
		e.Str(`</VALUE>`)
	}
}

func appendElements[T any](e *Encoder, v cim.Value, elems []T, appendText func([]byte, T) []byte) {
	for i, x := range elems {
		if v.IsNullAt(i) {
			if e.NullInArrays {
				e.Str(`<VALUE.NULL/>`)
			}
			continue
		}
		e.Str(`<VALUE>`)
		e.B = appendText(e.B, x)
		e.Str(`</VALUE>`)
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

func (e *Encoder) Qualifiers(qs cim.Qualifiers) {
	for i := range qs {
		e.Qualifier(&qs[i])
	}
}

func (e *Encoder) Qualifier(q *cim.Qualifier) {
	e.Str(`<QUALIFIER`)
	e.Attr("NAME", q.Name)
	e.Attr("TYPE", typeName(q.Value.Type()))
	if q.Propagated {
		e.Str(` PROPAGATED="true"`)
	}
	e.flavorAttrs(q.Flavor)
	e.B = append(e.B, '>')
	if !q.Value.IsNull() {
		e.Value(q.Value)
	}
	e.Str(`</QUALIFIER>`)
}

// flavorAttrs writes the flavor attributes that differ from the DTD's
// defaults (OVERRIDABLE and TOSUBCLASS true, the others false).
func (e *Encoder) flavorAttrs(f cim.Flavor) {
	if !f.Overridable() {
		e.Str(` OVERRIDABLE="false"`)
	}
	if !f.ToSubclass() {
		e.Str(` TOSUBCLASS="false"`)
	}
	if f&cim.FlavorToInstance != 0 {
		e.Str(` TOINSTANCE="true"`)
	}
	if f.Translatable() {
		e.Str(` TRANSLATABLE="true"`)
	}
}

// QualifierDeclaration writes QUALIFIER.DECLARATION.
func (e *Encoder) QualifierDeclaration(qt *cim.QualifierType) {
	e.Str(`<QUALIFIER.DECLARATION`)
	e.Attr("NAME", qt.Name)
	e.Attr("TYPE", typeName(qt.Type))
	if qt.IsArray {
		e.Str(` ISARRAY="true"`)
		if qt.ArraySize > 0 {
			e.Attr("ARRAYSIZE", strconv.Itoa(qt.ArraySize))
		}
	} else {
		e.Str(` ISARRAY="false"`)
	}
	e.flavorAttrs(qt.Flavor)
	e.Str(`><SCOPE`)
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
			e.B = append(e.B, ' ')
			e.Str(s.attr)
			e.Str(`="true"`)
		}
	}
	e.Str(`/>`)
	if !qt.Default.IsNull() {
		e.Value(qt.Default)
	}
	e.Str(`</QUALIFIER.DECLARATION>`)
}

// --- properties, instances and classes ----------------------------------

// Property writes PROPERTY, PROPERTY.ARRAY or PROPERTY.REFERENCE of a
// class (inClass) or an instance.
func (e *Encoder) Property(p *cim.Property, inClass bool) {
	if !inClass && e.plainProperty(p, -1) {
		return
	}
	e.property(p, inClass)
}

func (e *Encoder) property(p *cim.Property, inClass bool) {
	t := p.Type
	if !t.Valid() {
		t = p.Value.Type()
	}
	switch {
	case t == cim.TypeReference && !p.IsArray:
		e.Str(`<PROPERTY.REFERENCE`)
		e.Attr("NAME", p.Name)
		if p.ReferenceClass != "" {
			e.Attr("REFERENCECLASS", p.ReferenceClass)
		}
		e.originAttrs(p, inClass)
		e.B = append(e.B, '>')
		e.Qualifiers(p.Qualifiers)
		if ref := p.Value.Ref(); ref != nil {
			e.ValueReference(ref)
		}
		e.Str(`</PROPERTY.REFERENCE>`)
	case p.IsArray:
		e.Str(`<PROPERTY.ARRAY`)
		e.Attr("NAME", p.Name)
		e.Attr("TYPE", typeName(t))
		if p.ArraySize > 0 {
			e.Attr("ARRAYSIZE", strconv.Itoa(p.ArraySize))
		}
		e.originAttrs(p, inClass)
		// sblim-wbemcli rejects any EmbeddedObject attribute on
		// PROPERTY.ARRAY, even in a class. It is sent only where values
		// need it to be read as objects; a class says the same with its
		// EmbeddedObject/EmbeddedInstance qualifier.
		if !inClass && p.Value.Len() > 0 {
			e.embeddedAttr(p)
		}
		e.B = append(e.B, '>')
		e.Qualifiers(p.Qualifiers)
		switch {
		case p.Value.IsNull():
		case p.Value.Type() == cim.TypeReference:
			e.referenceStrings(p.Value)
		default:
			e.Value(p.Value)
		}
		e.Str(`</PROPERTY.ARRAY>`)
	default:
		e.Str(`<PROPERTY`)
		e.Attr("NAME", p.Name)
		e.Attr("TYPE", typeName(t))
		e.originAttrs(p, inClass)
		e.embeddedAttr(p)
		e.B = append(e.B, '>')
		e.Qualifiers(p.Qualifiers)
		if !p.Value.IsNull() {
			e.Value(p.Value)
		}
		e.Str(`</PROPERTY>`)
	}
}

// referenceStrings writes the VALUE.ARRAY of a reference array held by a
// property. DSP0201 has no reference arrays in properties (DSP0004 allows
// them only as parameters): such an array goes out as the string array of
// its paths.
func (e *Encoder) referenceStrings(v cim.Value) {
	e.Str(`<VALUE.ARRAY>`)
	for i, n := 0, v.Len(); i < n; i++ {
		if v.IsNullAt(i) {
			if e.NullInArrays {
				e.Str(`<VALUE.NULL/>`)
			}
			continue
		}
		e.Str(`<VALUE>`)
		e.Text(v.Index(i).Text())
		e.Str(`</VALUE>`)
	}
	e.Str(`</VALUE.ARRAY>`)
}

// plainProperty writes the most common property of an instance, a
// scalar of a type with plain text and no qualifiers, class origin or
// embedded object, in fewer steps than Property; it reports false, having
// written nothing, for every other property. The output is the same.
// at is the property's position in its instance, for the start-tag memo
// (-1: none).
func (e *Encoder) plainProperty(p *cim.Property, at int) bool {
	t := p.Type
	if !plainType(t) || !plain(p) {
		return false
	}
	// A local slice header: the appends neither reload nor store e.B.
	ws, b := e.ws(), e.B
	if p.Value.IsNull() {
		b = append(b, `<PROPERTY NAME="`...)
		b = xmlesc.Append(b, p.Name, ws)
		b = append(b, `" TYPE="`...)
		b = append(b, t.String()...)
		e.B = append(b, `"></PROPERTY>`...)
		return true
	}
	// The memo has entries once the Encoder has written an instance.
	m := memoAt(&e.tags, at, e.instances > 0)
	b = m.appendStart(b, true, false, p.Name, t, ws, endPlainProperty, `<PROPERTY NAME="`, `" TYPE="`, t.String(), `"><VALUE>`)
	e.B = append(appendPlainValue(b, p, ws), endPlainProperty...)
	return true
}

// endPlainProperty closes the VALUE and PROPERTY of a plain property.
const endPlainProperty = `</VALUE></PROPERTY>`

// plainType reports whether plainProperty takes properties of type t:
// those whose values are plain text.
func plainType(t cim.Type) bool {
	return t.Valid() && t != cim.TypeReference && t != cim.TypeChar16
}

// plain reports whether p, of a type plainType takes, is a scalar (NULL
// or not) of its declared type without qualifiers, class origin or
// embedded object.
func plain(p *cim.Property) bool { return plainAttrs(p) && plainValue(&p.Value, p.Type) }

// plainAttrs and plainValue are plain's two halves, each small enough to
// be inlined where Instance tests every property: p is no array and
// carries no qualifiers, class origin or embedded-object mark; v is a
// scalar of type t that holds no embedded object.
func plainAttrs(p *cim.Property) bool {
	return !p.IsArray && len(p.Qualifiers) == 0 && p.ClassOrigin == "" && p.Embedded == cim.EmbeddedNone
}

func plainValue(v *cim.Value, t cim.Type) bool {
	return v.Type() == t && !v.IsArray() && (t != cim.TypeString || v.Embedded() == cim.EmbeddedNone)
}

// appendPlainValue appends the text of a plain property's value.
func appendPlainValue(b []byte, p *cim.Property, ws xmlesc.Whitespace) []byte {
	if p.Type == cim.TypeString {
		return xmlesc.Append(b, p.Value.Str(), ws)
	}
	return p.Value.AppendText(b)
}

// memoTag is a start tag as the Encoder last wrote it for a name (and,
// for a property or a string key, a type) in one whitespace mode; see
// Encoder.tags.
type memoTag struct {
	name string
	t    cim.Type
	ws   xmlesc.Whitespace
	// joint is the end tags that close the element before (a plain
	// property's, a string key's) followed by the start tag, so that a
	// run of such elements costs one copy between values; tag is the
	// start tag alone, the end of joint.
	joint, tag []byte
}

// holds reports whether m is the tag of name and t in mode ws.
func (m *memoTag) holds(name string, t cim.Type, ws xmlesc.Whitespace) bool {
	return len(m.tag) > 0 && m.name == name && m.t == t && m.ws == ws
}

// start returns the remembered start tag, after the end tags of the
// element before when closing is set.
func (m *memoTag) start(closing bool) []byte {
	if closing {
		return m.joint
	}
	return m.tag
}

// appendStart appends to b the start tag open, name escaped and rest:
// from m when it holds the tag of name and t in mode ws, else assembled,
// and then remembered in m when fill is set. closing says that the
// element before is still open, and end (the same for every use of an
// entry) closes it first. m may be nil (no memo).
func (m *memoTag) appendStart(b []byte, fill, closing bool, name string, t cim.Type, ws xmlesc.Whitespace, end, open string, rest ...string) []byte {
	if m != nil && m.holds(name, t, ws) {
		return append(b, m.start(closing)...)
	}
	if closing {
		b = append(b, end...)
	}
	start := len(b)
	b = append(b, open...)
	b = xmlesc.Append(b, name, ws)
	for _, r := range rest {
		b = append(b, r...)
	}
	if m != nil && fill {
		m.name, m.t, m.ws = name, t, ws
		m.joint = append(append(m.joint[:0], end...), b[start:]...)
		m.tag = m.joint[len(end):]
	}
	return b
}

// maxTags bounds the memos by position: properties and keys further into
// an instance are written without them.
const maxTags = 256

// memoAt returns the entry of memo for position at, or nil when memo has
// none; with grow it makes room for one (up to maxTags).
func memoAt(memo *[]memoTag, at int, grow bool) *memoTag {
	switch {
	case at < 0:
		return nil
	case at < len(*memo):
		return &(*memo)[at]
	case !grow || at >= maxTags:
		return nil
	}
	*memo = append(*memo, make([]memoTag, at+1-len(*memo))...)
	return &(*memo)[at]
}

// originAttrs writes CLASSORIGIN when known and, in a class, PROPAGATED
// (which means nothing for an instance's values).
func (e *Encoder) originAttrs(p *cim.Property, inClass bool) {
	if p.ClassOrigin != "" {
		e.Attr("CLASSORIGIN", p.ClassOrigin)
	}
	if inClass && p.Propagated {
		e.Str(` PROPAGATED="true"`)
	}
}

func (e *Encoder) embeddedAttr(p *cim.Property) {
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
		e.Str(` EmbeddedObject="instance"`)
	case cim.EmbeddedObject:
		e.Str(` EmbeddedObject="object"`)
	}
}

// Instance writes INSTANCE with the properties (and qualifiers) the
// Instance carries; the core has already shaped it for the request.
func (e *Encoder) Instance(inst *cim.Instance) {
	e.memoStart(&e.instanceTag, e.instances > 0, `<INSTANCE CLASSNAME="`, inst.ClassName)
	e.Qualifiers(inst.Qualifiers)
	props := inst.Properties()
	ws := e.ws()
	// open: the last property written was plain and had a value, its
	// VALUE and PROPERTY are still open; the next memo hit closes them
	// and starts its own in one copy. The loop writes such properties
	// itself when the memo holds their tag (the steady state of an
	// enumeration), plainProperty and property the others.
	open := false
	for i := range props {
		p := &props[i]
		// A memo entry is only made for a type plainType takes.
		if m := memoAt(&e.tags, i, false); m != nil && m.holds(p.Name, p.Type, ws) &&
			plainAttrs(p) && plainValue(&p.Value, p.Type) && !p.Value.IsNull() {
			e.B = appendPlainValue(append(e.B, m.start(open)...), p, ws)
			open = true
			continue
		}
		if open {
			e.Str(endPlainProperty)
			open = false
		}
		if !e.plainProperty(p, i) {
			e.property(p, false)
		}
	}
	if open {
		e.Str(endPlainProperty + `</INSTANCE>`)
	} else {
		e.Str(`</INSTANCE>`)
	}
	e.instances++
}

// Class writes CLASS with its qualifiers, properties and methods.
func (e *Encoder) Class(c *cim.Class) {
	e.Str(`<CLASS`)
	e.Attr("NAME", c.Name)
	if c.SuperClass != "" {
		e.Attr("SUPERCLASS", c.SuperClass)
	}
	e.B = append(e.B, '>')
	e.Qualifiers(c.Qualifiers)
	props := c.Properties()
	for i := range props {
		e.Property(&props[i], true)
	}
	methods := c.Methods()
	for i := range methods {
		e.Method(&methods[i])
	}
	e.Str(`</CLASS>`)
}

func (e *Encoder) Method(m *cim.Method) {
	e.Str(`<METHOD`)
	e.Attr("NAME", m.Name)
	if m.ReturnType.Valid() && m.ReturnType != cim.TypeReference {
		e.Attr("TYPE", m.ReturnType.String())
	}
	if m.ClassOrigin != "" {
		e.Attr("CLASSORIGIN", m.ClassOrigin)
	}
	if m.Propagated {
		e.Str(` PROPAGATED="true"`)
	}
	e.B = append(e.B, '>')
	e.Qualifiers(m.Qualifiers)
	for i := range m.Parameters {
		e.Parameter(&m.Parameters[i])
	}
	e.Str(`</METHOD>`)
}

func (e *Encoder) Parameter(p *cim.Parameter) {
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
	e.B = append(e.B, '<')
	e.Str(elem)
	e.Attr("NAME", p.Name)
	if p.Type == cim.TypeReference {
		if p.ReferenceClass != "" {
			e.Attr("REFERENCECLASS", p.ReferenceClass)
		}
	} else {
		e.Attr("TYPE", typeName(p.Type))
	}
	if p.IsArray && p.ArraySize > 0 {
		e.Attr("ARRAYSIZE", strconv.Itoa(p.ArraySize))
	}
	e.B = append(e.B, '>')
	e.Qualifiers(p.Qualifiers)
	e.Str(`</`)
	e.Str(elem)
	e.B = append(e.B, '>')
}

// --- composite return values --------------------------------------------

// NamedInstance writes VALUE.NAMEDINSTANCE (EnumerateInstances).
func (e *Encoder) NamedInstance(inst *cim.Instance) {
	e.Str(`<VALUE.NAMEDINSTANCE>`)
	e.InstanceName(inst.Path)
	e.Instance(inst)
	e.Str(`</VALUE.NAMEDINSTANCE>`)
}

// InstanceWithPath writes VALUE.INSTANCEWITHPATH (pulled instances).
func (e *Encoder) InstanceWithPath(inst *cim.Instance, ns string) {
	e.Str(`<VALUE.INSTANCEWITHPATH>`)
	e.InstancePath(inst.Path, ns)
	e.Instance(inst)
	e.Str(`</VALUE.INSTANCEWITHPATH>`)
}

// ObjectWithPathInstance writes VALUE.OBJECTWITHPATH for an instance.
func (e *Encoder) ObjectWithPathInstance(inst *cim.Instance, ns string) {
	e.Str(`<VALUE.OBJECTWITHPATH>`)
	e.InstancePath(inst.Path, ns)
	e.Instance(inst)
	e.Str(`</VALUE.OBJECTWITHPATH>`)
}

// ObjectWithPathClass writes VALUE.OBJECTWITHPATH for a class.
func (e *Encoder) ObjectWithPathClass(path *cim.ObjectPath, c *cim.Class, ns string) {
	e.Str(`<VALUE.OBJECTWITHPATH>`)
	e.ClassPath(path, ns)
	e.Class(c)
	e.Str(`</VALUE.OBJECTWITHPATH>`)
}

// ParamValue writes an output PARAMVALUE (or the RETURNVALUE when name is
// empty) of a method response or a pull operation. NULL values are left
// out by the caller: wbemcli cannot read an empty PARAMVALUE.
func (e *Encoder) ParamValue(elem, name string, v cim.Value) {
	e.B = append(e.B, '<')
	e.Str(elem)
	if name != "" {
		e.Attr("NAME", name)
	}
	switch t := v.Type(); {
	case t == cim.TypeReference:
		e.Str(` PARAMTYPE="reference"`)
	case t.Valid():
		e.Attr("PARAMTYPE", t.String())
	}
	switch v.Embedded() {
	case cim.EmbeddedInstance:
		e.Str(` EmbeddedObject="instance"`)
	case cim.EmbeddedObject:
		e.Str(` EmbeddedObject="object"`)
	}
	e.B = append(e.B, '>')
	if !v.IsNull() {
		e.Value(v)
	}
	e.Str(`</`)
	e.Str(elem)
	e.B = append(e.B, '>')
}
