package cim

import "strconv"

// ValueMap maps the values of a property, parameter or method return value
// to their descriptions, as given by the ValueMap and Values qualifiers
// (DSP0004 clause 5.6.3.55 and 5.6.3.57):
//
//	[ValueMap {"0", "2", "3", "4..32767", "32768..", ".."},
//	 Values {"Unknown", "Enabled", "Disabled", "DMTF Reserved", "Vendor Reserved", "Other"}]
//
// Entries are single values, ranges ("lo..hi", "..hi", "lo.."; integers in
// any MOF notation, e.g. "0x8000..") or "..", which stands for every value
// no other entry covers. For string-typed elements the entries are strings
// matched exactly. Without a ValueMap, Values is indexed by the value
// (0, 1, 2...); without Values, an entry's text is the entry itself.
type ValueMap struct {
	typ     Type
	entries []ValueMapEntry
	other   int // index of the ".." entry, -1 if none
}

// ValueMapEntry is one ValueMap entry and its Values text.
type ValueMapEntry struct {
	Key  string // as written in ValueMap, e.g. "2", "4..32767", ".."
	Text string // the corresponding Values string (Key when there is no Values)

	isRange bool
	lo, hi  bound // integer entries: inclusive bounds
}

// bound is an integer of either sign, or an open end of a range.
type bound struct {
	neg  bool
	mag  uint64
	open bool
}

func (b bound) cmp(neg bool, mag uint64) int {
	switch {
	case b.neg && !neg:
		return -1
	case !b.neg && neg:
		return 1
	case b.mag == mag:
		return 0
	case (b.mag < mag) != b.neg:
		return -1
	}
	return 1
}

// NewValueMap builds the mapping for an element of type t from the ValueMap
// and Values qualifier arrays; either may be nil, not both. It checks that
// the arrays have the same length and that integer entries parse.
func NewValueMap(t Type, valueMap, values []string) (*ValueMap, error) {
	if valueMap == nil && values == nil {
		return nil, NewError(ErrInvalidParameter, "neither ValueMap nor Values given")
	}
	if valueMap == nil {
		valueMap = make([]string, len(values))
		for i := range values {
			valueMap[i] = strconv.Itoa(i)
		}
	}
	if values != nil && len(values) != len(valueMap) {
		return nil, Errorf(ErrInvalidParameter, "ValueMap has %d entries but Values has %d", len(valueMap), len(values))
	}
	m := &ValueMap{typ: t, entries: make([]ValueMapEntry, len(valueMap)), other: -1}
	for i, k := range valueMap {
		e := ValueMapEntry{Key: k, Text: k}
		if values != nil {
			e.Text = values[i]
		}
		if k == ".." {
			if m.other < 0 {
				m.other = i
			}
		} else if t.IsInteger() {
			if err := e.parseKey(); err != nil {
				return nil, err
			}
		}
		m.entries[i] = e
	}
	return m, nil
}

func valueMapOf(name string, t Type, qs Qualifiers) (*ValueMap, error) {
	vm, values := qs.Get(QualifierValueMap), qs.Get(QualifierValues)
	if vm == nil && values == nil {
		return nil, nil
	}
	var a, b []string
	if vm != nil {
		a = vm.Value.StrArray()
	}
	if values != nil {
		b = values.Value.StrArray()
	}
	m, err := NewValueMap(t, a, b)
	if err != nil {
		return nil, Errorf(ErrInvalidParameter, "%s: %s", name, errText(err))
	}
	return m, nil
}

func (e *ValueMapEntry) parseKey() error {
	k := e.Key
	parse := func(s string) (bound, bool) {
		if s == "" {
			return bound{open: true}, true
		}
		neg, mag, ok, isInt := parseMOFInteger(s)
		return bound{neg: neg && mag != 0, mag: mag}, ok && isInt
	}
	for i := 0; i+1 < len(k); i++ {
		if k[i] == '.' && k[i+1] == '.' {
			lo, ok1 := parse(k[:i])
			hi, ok2 := parse(k[i+2:])
			if !ok1 || !ok2 {
				break
			}
			e.isRange, e.lo, e.hi = true, lo, hi
			return nil
		}
	}
	if b, ok := parse(k); ok && !b.open {
		e.lo, e.hi = b, b
		return nil
	}
	return Errorf(ErrInvalidParameter, "invalid ValueMap entry %q: want an integer, a range lo..hi or \"..\"", k)
}

func (e *ValueMapEntry) contains(neg bool, mag uint64) bool {
	return (e.lo.open || e.lo.cmp(neg, mag) <= 0) && (e.hi.open || e.hi.cmp(neg, mag) >= 0)
}

// IsRange reports whether the entry covers a range of values ("lo..hi",
// "lo..", "..hi" or "..").
func (e *ValueMapEntry) IsRange() bool { return e.isRange || e.Key == ".." }

// Entries returns the entries in declaration order.
func (m *ValueMap) Entries() []ValueMapEntry { return m.entries }

// Lookup returns the Values text for v and the entry that matched: an
// exact entry or range first, the ".." entry otherwise. v may be of any
// integer type (or a string for string-typed maps); ok is false when no
// entry covers v.
func (m *ValueMap) Lookup(v Value) (text string, ok bool) {
	if i := m.find(v); i >= 0 {
		return m.entries[i].Text, true
	}
	return "", false
}

func (m *ValueMap) find(v Value) int {
	if v.IsNull() || v.IsArray() {
		return -1
	}
	if m.typ.IsInteger() || m.typ == TypeInvalid && v.Type().IsInteger() {
		var neg bool
		var mag uint64
		if u, ok := v.Uint(); ok {
			mag = u
		} else if n, ok := v.Int(); ok {
			neg, mag = true, uint64(-(n+1))+1
		} else {
			return -1
		}
		for i := range m.entries {
			e := &m.entries[i]
			if e.Key != ".." && e.contains(neg, mag) {
				return i
			}
		}
		return m.other
	}
	s := v.Text()
	for i := range m.entries {
		if i != m.other && m.entries[i].Key == s {
			return i
		}
	}
	return m.other
}

// Contains reports whether some entry covers v.
func (m *ValueMap) Contains(v Value) bool { return m.find(v) >= 0 }

// ValueOf returns the value whose Values text is text: the first entry
// with exactly that text, else the first whose text matches ignoring case.
// Only single-value entries qualify; ok is false when none matches. The
// value has the map's type.
func (m *ValueMap) ValueOf(text string) (v Value, ok bool) {
	for pass := 0; pass < 2; pass++ {
		for i := range m.entries {
			e := &m.entries[i]
			match := e.Text == text
			if pass == 1 {
				match = EqualNames(e.Text, text)
			}
			if !match || e.IsRange() {
				continue
			}
			if !m.typ.IsInteger() {
				return NewString(e.Key), true
			}
			v, err := intValue(m.typ, e.lo.neg, e.lo.mag, e.Key)
			return v, err == nil
		}
	}
	return Value{}, false
}
