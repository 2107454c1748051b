package wsman

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hypercim/hypercim/cim"
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

// escapeTable has a '1' for each byte that cannot be copied as is into
// character data or a double-quoted attribute: the markup characters
// & < > ", carriage return, the other control characters except tab and
// newline, and the first byte of every non-ASCII sequence (which is then
// validated).
const escapeTable = "" +
	"1111111110011111111111111111111100100010000000000000000000001010" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"1111111111111111111111111111111111111111111111111111111111111111" +
	"1111111111111111111111111111111111111111111111111111111111111111"

// appendEscaped appends s as XML character data (also safe in double-quoted
// attribute values). Carriage returns are written as &#xD; so that they
// survive parsing; characters XML 1.0 cannot carry at all (other control
// characters, invalid UTF-8, U+FFFE, U+FFFF) become U+FFFD, so no value can
// produce a document the client fails to parse.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		for i+16 <= len(s) && (escapeMask(word(s[i:]))|escapeMask(word(s[i+8:])))&highBits == 0 {
			i += 16
		}
		for i+8 <= len(s) && escapeMask(word(s[i:]))&highBits == 0 {
			i += 8
		}
		if i == len(s) {
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
		case c == '\r':
			repl = "&#xD;"
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

// word returns the first 8 bytes of s, little-endian (one load).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// highBits has the high bit of each of 8 bytes.
const highBits = 0x8080808080808080

// escapeMask tests the 8 bytes of x at once for the bytes appendEscaped
// must look at: the result has a byte's high bit set (within highBits) for
// at least one such byte if there is one, and for none otherwise. They are
// the bytes below 0x20, at or above 0x80, and & < > " (a superset of the
// escape table: tab and newline are then let through byte by byte). For
// y without a zero byte (y-ones)&^y has no high bit set, and it has one
// for the first zero byte otherwise; x^c has a zero byte where x holds c,
// and x-0x20.. flags bytes below 0x20 alike.
func escapeMask(x uint64) uint64 {
	const ones = 0x0101010101010101
	amp, lt, gt, quot := x^('&'*ones), x^('<'*ones), x^('>'*ones), x^('"'*ones)
	return x | (amp-ones)&^amp | (lt-ones)&^lt | (gt-ones)&^gt | (quot-ones)&^quot | (x-0x20*ones)&^x
}

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
