package export

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hypercim/hypercim/cim"
)

// encoder appends DSP0201 XML to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) str(s string) { e.b = append(e.b, s...) }

func (e *encoder) text(s string) { e.b = appendEscaped(e.b, s) }

func (e *encoder) attr(name, value string) {
	e.b = append(e.b, ' ')
	e.b = append(e.b, name...)
	e.b = append(e.b, '=', '"')
	e.b = appendEscaped(e.b, value)
	e.b = append(e.b, '"')
}

// appendEscaped escapes the markup characters for text and double-quoted
// attributes. Characters XML 1.0 cannot carry (control characters other
// than tab, newline and carriage return, invalid UTF-8, U+FFFE, U+FFFF)
// become U+FFFD; carriage returns and tabs are written as character
// references so that attribute normalization does not change them.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				dst = append(dst, "&amp;"...)
			case c == '<':
				dst = append(dst, "&lt;"...)
			case c == '>':
				dst = append(dst, "&gt;"...)
			case c == '"':
				dst = append(dst, "&quot;"...)
			case c == '\r':
				dst = append(dst, "&#13;"...)
			case c == '\t':
				dst = append(dst, "&#9;"...)
			case c == '\n':
				dst = append(dst, "&#10;"...)
			case c < 0x20:
				dst = append(dst, "\uFFFD"...)
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

const xmlDecl = `<?xml version="1.0" encoding="utf-8" ?>` + "\n"

// exportRequest returns the body of an ExportIndication request.
func exportRequest(id string, ind *cim.Instance) []byte {
	e := &encoder{b: make([]byte, 0, 2048)}
	e.str(xmlDecl)
	e.str(`<CIM CIMVERSION="2.0" DTDVERSION="2.4"><MESSAGE`)
	e.attr("ID", id)
	e.str(` PROTOCOLVERSION="1.0"><SIMPLEEXPREQ><EXPMETHODCALL NAME="ExportIndication"><EXPPARAMVALUE NAME="NewIndication">`)
	e.instance(ind)
	e.str(`</EXPPARAMVALUE></EXPMETHODCALL></SIMPLEEXPREQ></MESSAGE></CIM>` + "\n")
	return e.b
}

// exportResponse returns the body of an ExportIndication response: empty
// on success, else an ERROR.
func exportResponse(id, method string, cerr *cim.Error) []byte {
	e := &encoder{b: make([]byte, 0, 512)}
	e.str(xmlDecl)
	e.str(`<CIM CIMVERSION="2.0" DTDVERSION="2.4"><MESSAGE`)
	e.attr("ID", id)
	e.str(` PROTOCOLVERSION="1.0"><SIMPLEEXPRSP><EXPMETHODRESPONSE`)
	e.attr("NAME", method)
	e.str(`>`)
	if cerr != nil {
		desc := cerr.Description
		if !strings.HasPrefix(desc, cerr.Status.Name()) {
			desc = cerr.Status.Name() + ": " + desc
		}
		e.str(`<ERROR`)
		e.attr("CODE", strconv.Itoa(int(cerr.Status)))
		e.attr("DESCRIPTION", desc)
		e.str(`/>`)
	}
	e.str(`</EXPMETHODRESPONSE></SIMPLEEXPRSP></MESSAGE></CIM>` + "\n")
	return e.b
}

// instance writes INSTANCE with every property the instance carries.
func (e *encoder) instance(inst *cim.Instance) {
	e.str(`<INSTANCE`)
	e.attr("CLASSNAME", inst.ClassName)
	e.str(`>`)
	props := inst.Properties()
	for i := range props {
		e.property(&props[i])
	}
	e.str(`</INSTANCE>`)
}

func typeName(t cim.Type) string {
	if !t.Valid() || t == cim.TypeReference {
		return "string"
	}
	return t.String()
}

func (e *encoder) property(p *cim.Property) {
	t := p.Value.Type()
	if !t.Valid() {
		t = p.Type
	}
	isArray := p.IsArray || p.Value.IsArray()
	switch {
	case t == cim.TypeReference && !isArray:
		e.str(`<PROPERTY.REFERENCE`)
		e.attr("NAME", p.Name)
		if p.ReferenceClass != "" {
			e.attr("REFERENCECLASS", p.ReferenceClass)
		}
		e.str(`>`)
		if ref := p.Value.Ref(); ref != nil {
			e.valueReference(ref)
		}
		e.str(`</PROPERTY.REFERENCE>`)
	case isArray:
		e.str(`<PROPERTY.ARRAY`)
		e.attr("NAME", p.Name)
		e.attr("TYPE", typeName(t))
		e.embeddedAttr(p)
		e.str(`>`)
		if !p.Value.IsNull() {
			e.array(p.Value)
		}
		e.str(`</PROPERTY.ARRAY>`)
	default:
		e.str(`<PROPERTY`)
		e.attr("NAME", p.Name)
		e.attr("TYPE", typeName(t))
		e.embeddedAttr(p)
		e.str(`>`)
		if !p.Value.IsNull() {
			e.str(`<VALUE>`)
			e.scalar(p.Value)
			e.str(`</VALUE>`)
		}
		e.str(`</PROPERTY>`)
	}
}

// embeddedAttr writes EmbeddedObject for a property holding (or declared
// to hold) embedded objects.
func (e *encoder) embeddedAttr(p *cim.Property) {
	kind := p.EmbeddedKind()
	if kind == cim.EmbeddedNone {
		kind = p.Value.Embedded()
	}
	switch kind {
	case cim.EmbeddedInstance:
		e.str(` EmbeddedObject="instance"`)
	case cim.EmbeddedObject:
		e.str(` EmbeddedObject="object"`)
	}
}

// array writes VALUE.ARRAY. DSP0201 has no reference arrays in
// properties (DSP0004 allows them only as parameters): such an array goes
// out as the string array of its WBEM URIs.
func (e *encoder) array(v cim.Value) {
	e.str(`<VALUE.ARRAY>`)
	for i, n := 0, v.Len(); i < n; i++ {
		if v.IsNullAt(i) {
			e.str(`<VALUE.NULL/>`)
			continue
		}
		e.str(`<VALUE>`)
		e.scalar(v.Index(i))
		e.str(`</VALUE>`)
	}
	e.str(`</VALUE.ARRAY>`)
}

// scalar writes the escaped text of a non-NULL scalar; an embedded
// instance is written as its INSTANCE XML, escaped.
func (e *encoder) scalar(v cim.Value) {
	switch {
	case v.Instance() != nil:
		inner := &encoder{}
		inner.instance(v.Instance())
		e.b = appendEscaped(e.b, string(inner.b))
	case v.Type() == cim.TypeChar16:
		e.text(string(rune(v.Char16())))
	case v.Type() == cim.TypeString:
		e.text(v.Str())
	default:
		e.text(v.Text())
	}
}

func (e *encoder) valueReference(p *cim.ObjectPath) {
	e.str(`<VALUE.REFERENCE>`)
	switch {
	case p.IsInstancePath() && p.Namespace != "" && p.Host != "":
		e.str(`<INSTANCEPATH>`)
		e.namespacePath(p.Host, p.Namespace)
		e.instanceName(p)
		e.str(`</INSTANCEPATH>`)
	case p.IsInstancePath() && p.Namespace != "":
		e.str(`<LOCALINSTANCEPATH>`)
		e.localNamespacePath(p.Namespace)
		e.instanceName(p)
		e.str(`</LOCALINSTANCEPATH>`)
	case p.IsInstancePath():
		e.instanceName(p)
	case p.Namespace != "" && p.Host != "":
		e.str(`<CLASSPATH>`)
		e.namespacePath(p.Host, p.Namespace)
		e.className(p.ClassName)
		e.str(`</CLASSPATH>`)
	case p.Namespace != "":
		e.str(`<LOCALCLASSPATH>`)
		e.localNamespacePath(p.Namespace)
		e.className(p.ClassName)
		e.str(`</LOCALCLASSPATH>`)
	default:
		e.className(p.ClassName)
	}
	e.str(`</VALUE.REFERENCE>`)
}

func (e *encoder) className(name string) {
	e.str(`<CLASSNAME`)
	e.attr("NAME", name)
	e.str(`/>`)
}

func (e *encoder) namespacePath(host, ns string) {
	e.str(`<NAMESPACEPATH><HOST>`)
	e.text(host)
	e.str(`</HOST>`)
	e.localNamespacePath(ns)
	e.str(`</NAMESPACEPATH>`)
}

func (e *encoder) localNamespacePath(ns string) {
	e.str(`<LOCALNAMESPACEPATH>`)
	for _, part := range strings.Split(strings.Trim(ns, "/"), "/") {
		if part != "" {
			e.str(`<NAMESPACE`)
			e.attr("NAME", part)
			e.str(`/>`)
		}
	}
	e.str(`</LOCALNAMESPACEPATH>`)
}

func (e *encoder) instanceName(p *cim.ObjectPath) {
	e.str(`<INSTANCENAME`)
	e.attr("CLASSNAME", p.ClassName)
	e.str(`>`)
	for _, k := range p.Keys {
		e.str(`<KEYBINDING`)
		e.attr("NAME", k.Name)
		e.str(`>`)
		if k.Value.Type() == cim.TypeReference {
			e.valueReference(k.Value.Ref())
		} else {
			valueType := "string"
			switch t := k.Value.Type(); {
			case t == cim.TypeBoolean:
				valueType = "boolean"
			case t.IsNumeric():
				valueType = "numeric"
			}
			e.str(`<KEYVALUE`)
			e.attr("VALUETYPE", valueType)
			e.attr("TYPE", typeName(k.Value.Type()))
			e.str(`>`)
			e.scalar(k.Value)
			e.str(`</KEYVALUE>`)
		}
		e.str(`</KEYBINDING>`)
	}
	e.str(`</INSTANCENAME>`)
}
