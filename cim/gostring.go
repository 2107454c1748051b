package cim

import (
	"strconv"
	"strings"
)

// String and GoString methods of the small types; the object types have
// theirs in mof.go.

// GoString returns the Go constant of a Status.
func (s Status) GoString() string { return goStatus(s) }

// GoString returns the Go constant of the kind.
func (k EmbeddedKind) GoString() string {
	switch k {
	case EmbeddedObject:
		return "cim.EmbeddedObject"
	case EmbeddedInstance:
		return "cim.EmbeddedInstance"
	}
	return "cim.EmbeddedNone"
}

// GoString returns the scope as a Go expression.
func (s Scope) GoString() string { return goBits("cim.Scope", s.String()) }

// GoString returns the flavors as a Go expression.
func (f Flavor) GoString() string { return goBits("cim.Flavor", f.String()) }

// goBits turns a MOF list like "property, reference" into
// "cim.ScopeProperty|cim.ScopeReference".
func goBits(prefix, list string) string {
	if list == "" {
		return prefix + "(0)"
	}
	parts := strings.Split(list, ", ")
	for i, p := range parts {
		parts[i] = prefix + strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "|")
}

// GoString returns a debugging form of the qualifier.
func (q Qualifier) GoString() string {
	s := "cim.Qualifier{" + strconv.Quote(q.Name) + " = " + q.Value.GoString()
	if q.Flavor != 0 {
		s += ", " + q.Flavor.GoString()
	}
	if q.Propagated {
		s += ", propagated"
	}
	return s + "}"
}

// GoString returns a debugging form of the parameter.
func (p *Parameter) GoString() string { return "cim.Parameter(" + strconv.Quote(p.String()) + ")" }

// String returns the keybinding as in a WBEM URI: Name="value".
func (k KeyBinding) String() string {
	return string(appendKeyValue(append([]byte(k.Name), '='), k.Value))
}

// GoString returns a debugging form of the keybinding.
func (k KeyBinding) GoString() string {
	return "cim.KeyBinding{" + strconv.Quote(k.Name) + ", " + k.Value.GoString() + "}"
}

// String returns the parameter value as "Name = MOF literal".
func (p ParamValue) String() string { return p.Name + " = " + p.Value.String() }

// GoString returns a debugging form of the parameter value.
func (p ParamValue) GoString() string {
	return "cim.ParamValue{" + strconv.Quote(p.Name) + ", " + p.Value.GoString() + "}"
}

// String returns the mapping as the MOF qualifiers it comes from:
// ValueMap{"0", "2"}, Values{"Unknown", "Enabled"}.
func (m *ValueMap) String() string {
	keys := make([]string, len(m.entries))
	texts := make([]string, len(m.entries))
	for i, e := range m.entries {
		keys[i], texts[i] = e.Key, e.Text
	}
	return Qualifier{Name: QualifierValueMap, Value: NewStringArray(keys)}.String() + ", " +
		Qualifier{Name: QualifierValues, Value: NewStringArray(texts)}.String()
}

// GoString returns a debugging form of the mapping.
func (m *ValueMap) GoString() string {
	return "cim.ValueMap(" + m.typ.String() + ": " + m.String() + ")"
}
