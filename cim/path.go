package cim

import (
	"strconv"
	"strings"
)

// ObjectPath names a class or an instance (DSP0004 clause 8, DSP0207): an
// optional host, an optional namespace, a class name and, for instances,
// keybindings. It prints as an untyped WBEM URI:
//
//	//host:5988/root/cimv2:CIM_Foo.Id=5,Name="a"   (with a host)
//	/root/cimv2:CIM_Foo.Id=5,Name="a"             (with a namespace)
//	CIM_Foo.Id=5,Name="a"                         (model path)
//	CIM_Foo                                       (class path)
//	CIM_Singleton=@                               (keyless singleton instance)
//
// Names are case-insensitive: Equal and Canonical ignore case in the host,
// namespace, class and key names, and key order.
type ObjectPath struct {
	Host      string // "host", "host:port" or "[v6addr]:port"; "" for local
	Namespace string // "root/cimv2"; "" when not given
	ClassName string
	// Keys are the keybindings of an instance path, nil for a class path;
	// a non-nil empty slice is the path of a keyless (singleton) instance.
	Keys []KeyBinding
}

// KeyBinding is one key property value of an instance path.
type KeyBinding struct {
	Name  string
	Value Value
}

// NewClassPath returns the path of a class.
func NewClassPath(namespace, className string) *ObjectPath {
	return &ObjectPath{Namespace: namespace, ClassName: className}
}

// NewInstancePath returns the path of an instance; with no keys it is the
// path of a singleton.
func NewInstancePath(namespace, className string, keys ...KeyBinding) *ObjectPath {
	if keys == nil {
		keys = []KeyBinding{}
	}
	return &ObjectPath{Namespace: namespace, ClassName: className, Keys: keys}
}

// IsInstancePath reports whether p names an instance (has keybindings or is
// a singleton path).
func (p *ObjectPath) IsInstancePath() bool { return p != nil && p.Keys != nil }

// Key returns the value of the named keybinding (case-insensitive).
func (p *ObjectPath) Key(name string) (Value, bool) {
	for i := range p.Keys {
		if EqualNames(p.Keys[i].Name, name) {
			return p.Keys[i].Value, true
		}
	}
	return Value{}, false
}

// SetKey sets the named keybinding, adding it if absent.
func (p *ObjectPath) SetKey(name string, v Value) {
	for i := range p.Keys {
		if EqualNames(p.Keys[i].Name, name) {
			p.Keys[i].Value = v
			return
		}
	}
	p.Keys = append(p.Keys, KeyBinding{Name: name, Value: v})
}

// Clone returns a deep copy (nil for nil).
func (p *ObjectPath) Clone() *ObjectPath {
	if p == nil {
		return nil
	}
	c := *p
	if p.Keys != nil {
		c.Keys = make([]KeyBinding, len(p.Keys))
		for i, k := range p.Keys {
			c.Keys[i] = KeyBinding{Name: k.Name, Value: k.Value.Clone()}
		}
	}
	return &c
}

// WithNamespace returns a copy of p with the given host and namespace.
func (p *ObjectPath) WithNamespace(host, namespace string) *ObjectPath {
	c := p.Clone()
	c.Host, c.Namespace = host, namespace
	return c
}

// Equal reports whether p and o name the same object: equal canonical
// forms. Two nil paths are equal.
func (p *ObjectPath) Equal(o *ObjectPath) bool {
	if p == nil || o == nil {
		return p == o
	}
	if !EqualNames(p.ClassName, o.ClassName) || len(p.Keys) != len(o.Keys) ||
		(p.Keys == nil) != (o.Keys == nil) || !EqualNames(p.Host, o.Host) ||
		!EqualNames(trimSlashes(p.Namespace), trimSlashes(o.Namespace)) {
		return false
	}
	for _, k := range p.Keys {
		v, ok := o.Key(k.Name)
		if !ok || !keyValuesEqual(k.Value, v) {
			return false
		}
	}
	return true
}

// keyValuesEqual reports whether two key values have the same canonical
// form, comparing the common kinds directly instead of formatting them.
func keyValuesEqual(a, b Value) bool {
	switch {
	case a.is(TypeString) && b.is(TypeString) && a.obj == nil && b.obj == nil:
		return a.str == b.str
	case a.is(TypeBoolean) && b.is(TypeBoolean):
		return a.num == b.num
	case a.flags == flagNonNull && b.flags == flagNonNull && a.typ.IsInteger() && b.typ.IsInteger():
		an, aneg := a.num, a.typ.IsSigned() && int64(a.num) < 0
		bn, bneg := b.num, b.typ.IsSigned() && int64(b.num) < 0
		return an == bn && aneg == bneg
	case a.is(TypeReference) && b.is(TypeReference):
		return a.Ref().Equal(b.Ref())
	}
	return string(appendCanonicalValue(nil, a)) == string(appendCanonicalValue(nil, b))
}

func trimSlashes(ns string) string { return strings.Trim(ns, "/") }

// Canonical returns the canonical form of p, for use as a map or store key
// and for equality: host and names case-folded, keys sorted by folded name,
// values normalized (integers in decimal, reals in shortest form, booleans
// as true/false, strings, char16 and datetimes as quoted strings,
// references as their quoted canonical form). Integer and real keys of any
// width canonicalize alike, so a path parsed from an untyped WBEM URI
// matches the typed one; string values stay case-sensitive.
func (p *ObjectPath) Canonical() string {
	return string(p.AppendCanonical(make([]byte, 0, 128)))
}

// CanonicalModel returns the canonical form of the class name and keys
// only, without host and namespace: the key of an instance within its
// namespace.
func (p *ObjectPath) CanonicalModel() string {
	return string(p.appendCanonicalModel(make([]byte, 0, 128)))
}

// AppendCanonical appends the canonical form of p to dst.
func (p *ObjectPath) AppendCanonical(dst []byte) []byte {
	if p == nil {
		return dst
	}
	if p.Host != "" {
		dst = append(dst, "//"...)
		dst = appendFolded(dst, p.Host)
		dst = append(dst, '/')
	}
	if ns := trimSlashes(p.Namespace); ns != "" || p.Host != "" {
		dst = appendFolded(dst, ns)
		dst = append(dst, ':')
	}
	return p.appendCanonicalModel(dst)
}

func (p *ObjectPath) appendCanonicalModel(dst []byte) []byte {
	dst = appendFolded(dst, p.ClassName)
	if p.Keys == nil {
		return dst
	}
	if len(p.Keys) == 0 {
		return append(dst, "=@"...)
	}
	// Sort key positions by folded name; paths have few keys, so an
	// insertion sort over a small stack array avoids allocating.
	var orderBuf [8]int
	order := orderBuf[:0]
	if len(p.Keys) > len(orderBuf) {
		order = make([]int, 0, len(p.Keys))
	}
	for i := range p.Keys {
		j := len(order)
		order = append(order, i)
		for ; j > 0 && foldLess(p.Keys[i].Name, p.Keys[order[j-1]].Name); j-- {
			order[j] = order[j-1]
		}
		order[j] = i
	}
	for n, i := range order {
		if n == 0 {
			dst = append(dst, '.')
		} else {
			dst = append(dst, ',')
		}
		dst = appendFolded(dst, p.Keys[i].Name)
		dst = append(dst, '=')
		dst = appendCanonicalValue(dst, p.Keys[i].Value)
	}
	return dst
}

// foldLess orders names by their folded forms.
func foldLess(a, b string) bool {
	if isASCII(a) && isASCII(b) {
		for i := 0; i < len(a) && i < len(b); i++ {
			ca, cb := a[i], b[i]
			if 'A' <= ca && ca <= 'Z' {
				ca += 'a' - 'A'
			}
			if 'A' <= cb && cb <= 'Z' {
				cb += 'a' - 'A'
			}
			if ca != cb {
				return ca < cb
			}
		}
		return len(a) < len(b)
	}
	return FoldName(a) < FoldName(b)
}

func appendCanonicalValue(dst []byte, v Value) []byte {
	if v.IsNull() {
		return append(dst, "NULL"...)
	}
	if v.IsArray() {
		dst = append(dst, '{')
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonicalValue(dst, v.Index(i))
		}
		return append(dst, '}')
	}
	switch v.typ {
	case TypeBoolean:
		return strconv.AppendBool(dst, v.Bool())
	case TypeReal32, TypeReal64:
		f, _ := v.Float()
		if f == float64(int64(f)) && f > -1<<53 && f < 1<<53 {
			// Integral reals equal integers of the same value.
			return strconv.AppendInt(dst, int64(f), 10)
		}
		return appendReal(dst, f, v.typ.Bits())
	case TypeReference:
		dst = append(dst, '"')
		return append(escapeTail(v.Ref().AppendCanonical(dst), len(dst)), '"')
	case TypeString:
		return appendQuoted(dst, v.Text())
	case TypeChar16, TypeDatetime:
		dst = append(dst, '"')
		return append(escapeTail(v.AppendText(dst), len(dst)), '"')
	}
	return v.AppendText(dst) // integers
}

// appendQuoted appends s in double quotes, escaping quotes and backslashes
// (the WBEM URI string form; other characters are kept as they are).
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// escapeTail backslash-escapes the quotes and backslashes in dst[from:] in
// place, so that nested values need no temporary buffer.
func escapeTail(dst []byte, from int) []byte {
	n := 0
	for _, c := range dst[from:] {
		if c == '"' || c == '\\' {
			n++
		}
	}
	if n == 0 {
		return dst
	}
	end := len(dst)
	dst = append(dst, make([]byte, n)...)
	for r, w := end-1, len(dst)-1; r >= from; r-- {
		c := dst[r]
		dst[w] = c
		w--
		if c == '"' || c == '\\' {
			dst[w] = '\\'
			w--
		}
	}
	return dst
}

// String returns p as an untyped WBEM URI without scheme (see ObjectPath).
func (p *ObjectPath) String() string {
	if p == nil {
		return ""
	}
	return string(p.appendPath(make([]byte, 0, 128), false))
}

// ModelPath returns the class name and keybindings only
// ("CIM_Foo.Id=5,Name=\"a\"").
func (p *ObjectPath) ModelPath() string {
	if p == nil {
		return ""
	}
	return string(p.appendPath(make([]byte, 0, 64), true))
}

// URI returns p as a WBEM URI with the given scheme ("http", "https",
// "cimxml-wbem" or "cimxml-wbems"), e.g.
// http://host:5988/root/cimv2:CIM_Foo.Id=5.
func (p *ObjectPath) URI(scheme string) string {
	return scheme + ":" + p.String()
}

func (p *ObjectPath) appendPath(dst []byte, modelOnly bool) []byte {
	if p == nil {
		return dst
	}
	if !modelOnly {
		if p.Host != "" {
			dst = append(dst, "//"...)
			dst = append(dst, p.Host...)
		}
		if p.Host != "" || p.Namespace != "" {
			dst = append(dst, '/')
			dst = append(dst, trimSlashes(p.Namespace)...)
			dst = append(dst, ':')
		}
	}
	dst = append(dst, p.ClassName...)
	if p.Keys == nil {
		return dst
	}
	if len(p.Keys) == 0 {
		return append(dst, "=@"...)
	}
	for i, k := range p.Keys {
		if i == 0 {
			dst = append(dst, '.')
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, k.Name...)
		dst = append(dst, '=')
		dst = appendKeyValue(dst, k.Value)
	}
	return dst
}

// appendKeyValue writes a keybinding value in untyped WBEM URI form.
func appendKeyValue(dst []byte, v Value) []byte {
	if v.IsNull() || v.IsArray() {
		return v.appendMOF(dst)
	}
	switch v.typ {
	case TypeChar16:
		dst = append(dst, '\'')
		if c := rune(v.num); c == '\'' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = v.AppendText(dst)
		return append(dst, '\'')
	case TypeString:
		return appendQuoted(dst, v.Text())
	case TypeDatetime, TypeReference:
		dst = append(dst, '"')
		return append(escapeTail(v.AppendText(dst), len(dst)), '"')
	}
	return v.AppendText(dst) // booleans TRUE/FALSE, numbers
}

// GoString returns a debugging form.
func (p *ObjectPath) GoString() string {
	if p == nil {
		return "(*cim.ObjectPath)(nil)"
	}
	return "cim.ParseObjectPath(" + strconv.Quote(p.String()) + ")"
}
