package cim

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxPathDepth bounds the nesting of references inside keybindings.
const maxPathDepth = 32

// ParseObjectPath parses an object path in any of the forms in use:
//
//   - a WBEM URI (DSP0207, untyped): [scheme:][//authority]/[namespace]:class[.keys]
//     with scheme http, https, cimxml-wbem or cimxml-wbems, e.g.
//     http://srv:5988/root/cimv2:CIM_Foo.Name="a",Id=5
//   - a namespace path without leading slash: root/cimv2:CIM_Foo.Id=5
//   - a model path: CIM_Foo.Name="a",Id=5 or :CIM_Foo.Id=5
//   - a class path: CIM_Foo, /root/cimv2:CIM_Foo
//   - a singleton instance path: CIM_Foo=@
//
// Keybinding values are "strings" (with backslash escapes), 'c' (char16),
// TRUE/FALSE, integers (decimal, 0x hexadecimal, 0 octal, b binary as in
// MOF; positive ones typed uint64, negative ones sint64), reals (real64)
// and references, written as quoted instance paths. A quoted value is taken
// as a reference when it parses as an instance path with keybindings;
// datetime keys stay strings. Class.NormalizePath converts keys to the
// declared types. User information in the authority is dropped.
//
// Errors are *Error with status CIM_ERR_INVALID_PARAMETER. The parser
// never panics, whatever the input.
func ParseObjectPath(s string) (*ObjectPath, error) {
	return parsePath(s, false, 0)
}

// ParseWBEMURI parses a WBEM URI strictly as DSP0207 writes it: the
// namespace path must start with a slash (after the optional scheme and
// authority), and a colon must precede the class name, as in
// https://srv/root/cimv2:CIM_Foo.Id=5, //srv/interop:CIM_Foo or
// /:CIM_Foo.Id=5.
func ParseWBEMURI(s string) (*ObjectPath, error) {
	return parsePath(s, true, 0)
}

type pathError struct {
	msg string
	at  int
}

func parsePath(s string, strict bool, depth int) (*ObjectPath, error) {
	p, perr := parsePathText(s, strict, depth)
	if perr != nil {
		return nil, Errorf(ErrInvalidParameter, "invalid object path %q: %s at offset %d", s, perr.msg, perr.at)
	}
	return p, nil
}

// isScheme reports a DSP0207 namespace type: http, https, cimxml-wbem,
// cimxml-wbems (also accepted with a dot, cimxml.wbem, as some tools write
// it).
func isScheme(s string) bool {
	for _, n := range [...]string{"http", "https", "cimxml-wbem", "cimxml-wbems", "cimxml.wbem", "cimxml.wbems"} {
		if EqualNames(s, n) {
			return true
		}
	}
	return false
}

func parsePathText(s string, strict bool, depth int) (*ObjectPath, *pathError) {
	if depth > maxPathDepth {
		return nil, &pathError{"references nested too deeply", 0}
	}
	if s == "" {
		return nil, &pathError{"empty path", 0}
	}
	p := &ObjectPath{}
	pos := 0
	// Scheme: only when followed by a slash, so "interop:CIM_Foo" stays a
	// namespace followed by a class.
	if i := strings.IndexByte(s, ':'); i > 0 && i+1 < len(s) && s[i+1] == '/' && isScheme(s[:i]) {
		pos = i + 1
	}
	hasScheme := pos > 0
	if strings.HasPrefix(s[pos:], "//") {
		pos += 2
		end := strings.IndexByte(s[pos:], '/')
		if end < 0 {
			return nil, &pathError{"missing '/' and namespace after the authority", len(s)}
		}
		host := s[pos : pos+end]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:] // drop user information: never keep credentials
		}
		if !validHost(host) {
			return nil, &pathError{"invalid host " + strconv.Quote(host), pos}
		}
		p.Host = host
		pos += end
	}
	slash := pos < len(s) && s[pos] == '/'
	if slash {
		pos++
	} else if strict || hasScheme {
		return nil, &pathError{"expected '/' before the namespace", pos}
	}
	// The namespace ends at the first ':' that precedes any keybinding.
	rest := s[pos:]
	if i := strings.IndexAny(rest, ":.=\"'"); i >= 0 && rest[i] == ':' {
		ns := rest[:i]
		if ns != "" && !validNamespace(ns) {
			return nil, &pathError{"invalid namespace " + strconv.Quote(ns), pos}
		}
		p.Namespace = ns
		pos += i + 1
	} else if strict {
		return nil, &pathError{"expected ':' before the class name", pos}
	}
	// Class name.
	start := pos
	for pos < len(s) && s[pos] != '.' && s[pos] != '=' {
		pos++
	}
	p.ClassName = s[start:pos]
	if !ValidName(p.ClassName) {
		return nil, &pathError{"invalid class name " + strconv.Quote(p.ClassName), start}
	}
	if pos == len(s) {
		return p, nil
	}
	if s[pos] == '=' {
		if s[pos:] != "=@" {
			return nil, &pathError{"expected \"=@\" (singleton) or '.' and keybindings after the class name", pos}
		}
		p.Keys = []KeyBinding{}
		return p, nil
	}
	pos++ // '.'
	for {
		start = pos
		for pos < len(s) && s[pos] != '=' && s[pos] != ',' {
			pos++
		}
		name := s[start:pos]
		if !ValidName(name) {
			return nil, &pathError{"invalid key name " + strconv.Quote(name), start}
		}
		if pos == len(s) || s[pos] != '=' {
			return nil, &pathError{"expected '=' after key name " + name, pos}
		}
		pos++
		if _, dup := p.Key(name); dup {
			return nil, &pathError{"duplicate key " + name, start}
		}
		v, next, perr := parseKeyValue(s, pos, depth)
		if perr != nil {
			return nil, perr
		}
		p.Keys = append(p.Keys, KeyBinding{Name: name, Value: v})
		pos = next
		if pos == len(s) {
			return p, nil
		}
		if s[pos] != ',' {
			return nil, &pathError{"expected ',' or end after key value", pos}
		}
		pos++
	}
}

// validHost accepts an RFC 3986 host[:port], including [IPv6] literals,
// with no characters that would end or confuse the authority.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("/?#\"'\\<>{}|^`,=", c) >= 0 {
			return false
		}
	}
	return true
}

// parseKeyValue parses one keybinding value starting at s[pos]; it returns
// the value and the position after it.
func parseKeyValue(s string, pos, depth int) (Value, int, *pathError) {
	if pos >= len(s) {
		return Value{}, pos, &pathError{"missing key value", pos}
	}
	switch s[pos] {
	case '"':
		text, next, perr := unquote(s, pos, '"')
		if perr != nil {
			return Value{}, pos, perr
		}
		// A quoted instance path is a reference (DSP0207 referenceValue).
		if looksLikeInstancePath(text) {
			if ref, perr := parsePathText(text, false, depth+1); perr == nil && len(ref.Keys) > 0 {
				v := NewReference(ref)
				v.str = text
				return v, next, nil
			}
		}
		return NewString(text), next, nil
	case '\'':
		text, next, perr := unquote(s, pos, '\'')
		if perr != nil {
			return Value{}, pos, perr
		}
		c, ok := singleChar16(text)
		if !ok {
			return Value{}, pos, &pathError{"a char16 key value must be exactly one UCS-2 character", pos}
		}
		return NewChar16(c), next, nil
	case '(':
		return Value{}, pos, &pathError{"typed WBEM URI values are not supported", pos}
	}
	end := pos
	for end < len(s) && s[end] != ',' {
		end++
	}
	tok := s[pos:end]
	switch {
	case EqualNames(tok, "true"):
		return NewBoolean(true), end, nil
	case EqualNames(tok, "false"):
		return NewBoolean(false), end, nil
	}
	v, err := ParseNumberLiteral(tok)
	if err != nil {
		return Value{}, pos, &pathError{errText(err), pos}
	}
	return v, end, nil
}

// ParseNumberLiteral parses a DSP0004/MOF numeric literal, as found in MOF
// files and untyped WBEM URI keybindings: integers in decimal (-12),
// hexadecimal (0x1F), octal (017) or binary (101b) become uint64 values, or
// sint64 when negative; reals (1.5, -2.5E3, and INF, -INF, NaN) become
// real64. Convert the result to the declared type, which checks its range.
func ParseNumberLiteral(s string) (Value, error) {
	if neg, mag, ok, isInt := parseMOFInteger(s); isInt {
		if !ok || neg && mag > 1<<63 {
			return Value{}, Errorf(ErrInvalidParameter, "integer %s out of range", s)
		}
		if neg {
			return intValue(TypeSint64, true, mag, s)
		}
		return NewUint64(mag), nil
	}
	if f, ok := parseReal(s, 64); ok && !(math.IsInf(f, 0) && !strings.Contains(strings.ToLower(s), "inf")) {
		return NewReal64(f), nil
	}
	return Value{}, Errorf(ErrInvalidParameter, "invalid numeric value %q", s)
}

// looksLikeInstancePath is a cheap filter before trying to parse a quoted
// value as a reference: an instance path has a '.' and an '='.
func looksLikeInstancePath(s string) bool {
	dot := strings.IndexByte(s, '.')
	return dot > 0 && strings.IndexByte(s[dot:], '=') > 0
}

// unquote reads a quoted string starting at s[pos] (the opening quote) and
// returns its unescaped text and the position after the closing quote.
// Escapes are those of MOF: \b \t \n \f \r \" \' \\ and \x or \X with one to
// four hex digits; any other escaped character stands for itself.
func unquote(s string, pos int, quote byte) (string, int, *pathError) {
	i := pos + 1
	// Fast path: no escapes.
	for j := i; j < len(s); j++ {
		if s[j] == quote {
			return s[i:j], j + 1, nil
		}
		if s[j] == '\\' {
			break
		}
	}
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		switch {
		case c == quote:
			return b.String(), i + 1, nil
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		e := s[i]
		i++
		switch e {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'x', 'X':
			j := i
			for j < len(s) && j < i+4 && isHex(s[j]) {
				j++
			}
			if j == i {
				return "", pos, &pathError{"\\x escape without hex digits", i}
			}
			n, _ := strconv.ParseUint(s[i:j], 16, 32)
			r := rune(n)
			if !utf8.ValidRune(r) {
				return "", pos, &pathError{"\\x escape names an invalid character", i}
			}
			b.WriteRune(r)
			i = j
		default:
			b.WriteByte(e)
		}
	}
	return "", pos, &pathError{"unterminated quoted value", pos}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// parseMOFInteger parses a DSP0004/MOF integer literal: decimal
// ([+-]?[1-9][0-9]*|0), hexadecimal (0x...), octal (0[0-7]+) or binary
// ([01]+b). isInt reports that s has integer syntax; ok that it fits in
// uint64 magnitude.
func parseMOFInteger(s string) (neg bool, mag uint64, ok, isInt bool) {
	t := s
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if t == "" {
		return false, 0, false, false
	}
	base := uint64(10)
	digits := t
	switch {
	case len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'):
		base, digits = 16, t[2:]
	case len(t) > 1 && (t[len(t)-1] == 'b' || t[len(t)-1] == 'B') && strings.Trim(t[:len(t)-1], "01") == "":
		base, digits = 2, t[:len(t)-1]
	case len(t) > 1 && t[0] == '0':
		base, digits = 8, t[1:]
	}
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; !isHex(c) || base <= 10 && (c < '0' || c > '9') {
			return false, 0, false, false
		}
	}
	mag, ok = parseDigits(digits, base)
	if !ok {
		// Syntax was fine if every digit is below the base: then it overflowed.
		for i := 0; i < len(digits); i++ {
			if d, _ := parseDigits(digits[i:i+1], 16); d >= base {
				return false, 0, false, false
			}
		}
		return neg, 0, false, true
	}
	return neg, mag, true, true
}
