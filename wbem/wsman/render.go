package wsman

import (
	"math"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem/internal/xmlesc"
)

// Rendering of CIM data as DSP0230 XML. Everything appends to a byte
// slice: enumerations encode each instance straight from the core's
// callback, with no DOM and no per-property allocation for scalars.

// renderOptions shape instances for one request.
type renderOptions struct {
	uris resourceURIs
	// excludeNil leaves NULL properties out (openwsman's
	// ExcludeNilProperties option).
	excludeNil bool
	// asClass, when set, renders every instance as this class (the
	// requested class of an ExcludeSubClassProperties enumeration).
	asClass string
}

// appendEscaped appends s as XML character data (also safe in double-quoted
// attribute values), with the escaping routine CIM-XML shares: carriage
// returns are written as &#xD; so that they survive parsing; characters
// XML 1.0 cannot carry at all (other control characters, invalid UTF-8,
// U+FFFE, U+FFFF) become U+FFFD, so no value can produce a document the
// client fails to parse.
func appendEscaped(dst []byte, s string) []byte { return xmlesc.Append(dst, s, xmlesc.EscapeCR) }

// appendElem appends <prefix:local>text</prefix:local> with text escaped.
func appendElem(dst []byte, tag, text string) []byte {
	dst = append(dst, '<')
	dst = append(dst, tag...)
	dst = append(dst, '>')
	dst = appendEscaped(dst, text)
	dst = append(dst, "</"...)
	dst = append(dst, tag...)
	return append(dst, '>')
}

// appendInstance appends inst as an element in its class namespace. The
// prefix is declared on the element itself unless declared is true (the
// caller declared it on an enclosing element, as wsl's line-oriented Put
// needs; see writeItem).
func appendInstance(dst []byte, inst *cim.Instance, prefix string, declared bool, o *renderOptions) []byte {
	className := inst.ClassName
	if o.asClass != "" {
		className = o.asClass
	}
	dst = append(dst, '<')
	dst = append(dst, prefix...)
	dst = append(dst, ':')
	dst = append(dst, className...)
	if !declared {
		dst = append(dst, " xmlns:"...)
		dst = append(dst, prefix...)
		dst = append(dst, `="`...)
		dst = o.uris.appendClassURI(dst, className)
		dst = append(dst, '"')
	}
	dst = append(dst, '>')
	dst = appendProperties(dst, inst, prefix, o)
	dst = append(dst, "</"...)
	dst = append(dst, prefix...)
	dst = append(dst, ':')
	dst = append(dst, className...)
	return append(dst, '>')
}

func appendProperties(dst []byte, inst *cim.Instance, prefix string, o *renderOptions) []byte {
	props := inst.Properties()
	for i := range props {
		p := &props[i]
		dst = appendPropertyValue(dst, prefix, p.Name, p.Value, o)
	}
	return dst
}

// appendPropertyValue appends the elements of one property or parameter:
// one element for a scalar, one per entry for an array (DSP0230 7.2.2),
// a single xsi:nil element for NULL.
func appendPropertyValue(dst []byte, prefix, name string, v cim.Value, o *renderOptions) []byte {
	if v.IsNull() {
		if o.excludeNil {
			return dst
		}
		return appendNil(dst, prefix, name)
	}
	if v.IsArray() {
		for i, n := 0, v.Len(); i < n; i++ {
			if v.IsNullAt(i) {
				dst = appendNil(dst, prefix, name)
				continue
			}
			dst = appendScalar(dst, prefix, name, v.Index(i), o)
		}
		return dst
	}
	return appendScalar(dst, prefix, name, v, o)
}

func appendNil(dst []byte, prefix, name string) []byte {
	dst = append(dst, '<')
	dst = appendTag(dst, prefix, name)
	return append(dst, ` xsi:nil="true"/>`...)
}

func appendTag(dst []byte, prefix, name string) []byte {
	if prefix != "" {
		dst = append(dst, prefix...)
		dst = append(dst, ':')
	}
	return append(dst, name...)
}

func appendOpen(dst []byte, prefix, name string) []byte {
	dst = append(dst, '<')
	dst = appendTag(dst, prefix, name)
	return append(dst, '>')
}

func appendClose(dst []byte, prefix, name string) []byte {
	dst = append(dst, "</"...)
	dst = appendTag(dst, prefix, name)
	return append(dst, '>')
}

// appendScalar appends one non-NULL scalar as an element.
func appendScalar(dst []byte, prefix, name string, v cim.Value, o *renderOptions) []byte {
	switch v.Type() {
	case cim.TypeReference:
		dst = appendOpen(dst, prefix, name)
		dst = appendEPRBody(dst, v.Ref(), o.uris)
		return appendClose(dst, prefix, name)
	case cim.TypeDatetime:
		dst = appendOpen(dst, prefix, name)
		dst = appendDatetime(dst, v.Datetime())
		return appendClose(dst, prefix, name)
	case cim.TypeString:
		if inst := v.Instance(); inst != nil {
			return appendEmbedded(dst, prefix, name, inst, o)
		}
		if cls := v.Class(); cls != nil {
			// An embedded class has no DSP0230 rendering; its MOF text
			// keeps the information.
			dst = appendOpen(dst, prefix, name)
			dst = appendEscaped(dst, cls.String())
			return appendClose(dst, prefix, name)
		}
	}
	dst = appendOpen(dst, prefix, name)
	dst = appendValueText(dst, v)
	return appendClose(dst, prefix, name)
}

// appendEmbedded renders an embedded instance as the property element
// typed with the embedded class's XSD type (DSP0230 7.2.5.2), its
// properties in the embedded class's namespace.
func appendEmbedded(dst []byte, prefix, name string, inst *cim.Instance, o *renderOptions) []byte {
	ep := "e" + strconv.Itoa(len(prefix))
	dst = append(dst, '<')
	dst = appendTag(dst, prefix, name)
	dst = append(dst, " xmlns:"...)
	dst = append(dst, ep...)
	dst = append(dst, `="`...)
	dst = o.uris.appendClassURI(dst, inst.ClassName)
	dst = append(dst, `" xsi:type="`...)
	dst = append(dst, ep...)
	dst = append(dst, ':')
	dst = append(dst, inst.ClassName...)
	dst = append(dst, `_Type">`...)
	inner := *o
	inner.asClass = ""
	dst = appendProperties(dst, inst, ep, &inner)
	return appendClose(dst, prefix, name)
}

// appendValueText appends the DSP0230 text of a simple scalar.
func appendValueText(dst []byte, v cim.Value) []byte {
	switch t := v.Type(); {
	case t == cim.TypeBoolean:
		if v.Bool() {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case t.IsInteger():
		if t.IsSigned() {
			n, _ := v.Int()
			return strconv.AppendInt(dst, n, 10)
		}
		n, _ := v.Uint()
		return strconv.AppendUint(dst, n, 10)
	case t.IsReal():
		f, _ := v.Float()
		bits := 64
		if t == cim.TypeReal32 {
			bits = 32
		}
		switch {
		case math.IsNaN(f):
			return append(dst, "NaN"...)
		case math.IsInf(f, 1):
			return append(dst, "INF"...)
		case math.IsInf(f, -1):
			return append(dst, "-INF"...)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	case t == cim.TypeString:
		return appendEscaped(dst, v.Str())
	}
	return appendEscaped(dst, v.Text())
}

// selectorText is the text of a key value in a selector.
func selectorText(v cim.Value) string {
	if v.Type() == cim.TypeBoolean {
		if v.Bool() {
			return "true"
		}
		return "false"
	}
	return string(appendValueText(nil, v))
}

// appendDatetime renders a datetime as the cim:cimDateTime choice of
// DSP0230 7.2.3: cim:Interval (xs:duration) for intervals, cim:Datetime
// (xs:dateTime) for timestamps, and cim:CIM_DateTime (the 25-character
// form) when asterisks leave fields unknown. The cim prefix is declared on
// the element so that it survives being cut out of the document.
func appendDatetime(dst []byte, d cim.Datetime) []byte {
	const decl = ` xmlns:cim="` + nsCIM + `">`
	f := d.Fields()
	if d.Precision() < 21 {
		dst = append(dst, "<cim:CIM_DateTime"...)
		dst = append(dst, decl...)
		dst = d.AppendText(dst)
		return append(dst, "</cim:CIM_DateTime>"...)
	}
	if d.IsInterval() {
		dst = append(dst, "<cim:Interval"...)
		dst = append(dst, decl...)
		dst = appendDuration(dst, f)
		return append(dst, "</cim:Interval>"...)
	}
	dst = append(dst, "<cim:Datetime"...)
	dst = append(dst, decl...)
	dst = appendXSDateTime(dst, f)
	return append(dst, "</cim:Datetime>"...)
}

// appendPad appends the non-negative n in decimal, at least width digits.
func appendPad(dst []byte, n, width int) []byte {
	digits := 1
	for m := n; m >= 10; m /= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

func appendXSDateTime(dst []byte, f cim.DatetimeFields) []byte {
	dst = appendPad(dst, f.Year, 4)
	dst = append(dst, '-')
	dst = appendPad(dst, f.Month, 2)
	dst = append(dst, '-')
	dst = appendPad(dst, f.Day, 2)
	dst = append(dst, 'T')
	dst = appendPad(dst, f.Hour, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, f.Minute, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, f.Second, 2)
	if f.Microsecond != 0 {
		dst = append(dst, '.')
		dst = appendPad(dst, f.Microsecond, 6)
	}
	off := f.UTCOffset
	if off == 0 {
		return append(dst, 'Z')
	}
	if off < 0 {
		dst = append(dst, '-')
		off = -off
	} else {
		dst = append(dst, '+')
	}
	dst = appendPad(dst, off/60, 2)
	dst = append(dst, ':')
	return appendPad(dst, off%60, 2)
}

func appendDuration(dst []byte, f cim.DatetimeFields) []byte {
	dst = append(dst, 'P')
	dst = strconv.AppendInt(dst, int64(f.Days), 10)
	dst = append(dst, "DT"...)
	dst = strconv.AppendInt(dst, int64(f.Hour), 10)
	dst = append(dst, 'H')
	dst = strconv.AppendInt(dst, int64(f.Minute), 10)
	dst = append(dst, 'M')
	dst = strconv.AppendInt(dst, int64(f.Second), 10)
	if f.Microsecond != 0 {
		dst = append(dst, '.')
		dst = appendPad(dst, f.Microsecond, 6)
	}
	return append(dst, 'S')
}

// appendEPR appends a whole wsa:EndpointReference for path.
func appendEPR(dst []byte, path *cim.ObjectPath, uris resourceURIs) []byte {
	dst = append(dst, "<wsa:EndpointReference>"...)
	dst = appendEPRBody(dst, path, uris)
	return append(dst, "</wsa:EndpointReference>"...)
}

// appendEPRBody appends the content of an EPR: the anonymous address and
// reference parameters naming the resource URI of the class and the keys
// as selectors, with the namespace as the __cimnamespace selector.
func appendEPRBody(dst []byte, path *cim.ObjectPath, uris resourceURIs) []byte {
	dst = append(dst, "<wsa:Address>"+anonymousAddress+"</wsa:Address><wsa:ReferenceParameters>"...)
	dst = append(dst, "<wsman:ResourceURI>"...)
	dst = uris.appendClassURI(dst, path.ClassName)
	dst = append(dst, "</wsman:ResourceURI>"...)
	dst = append(dst, "<wsman:SelectorSet>"...)
	for _, k := range path.Keys {
		dst = append(dst, `<wsman:Selector Name="`...)
		dst = appendEscaped(dst, k.Name)
		dst = append(dst, `">`...)
		if k.Value.Type() == cim.TypeReference && !k.Value.IsNull() && k.Value.Ref() != nil {
			dst = appendEPR(dst, k.Value.Ref(), uris)
		} else if !k.Value.IsNull() {
			dst = appendEscaped(dst, selectorText(k.Value))
		}
		dst = append(dst, "</wsman:Selector>"...)
	}
	if path.Namespace != "" {
		dst = append(dst, `<wsman:Selector Name="`+cimNamespaceSelector+`">`...)
		dst = appendEscaped(dst, strings.Trim(path.Namespace, "/"))
		dst = append(dst, "</wsman:Selector>"...)
	}
	return append(dst, "</wsman:SelectorSet></wsa:ReferenceParameters>"...)
}
