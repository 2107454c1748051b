package cim

import (
	"sort"
	"strings"
)

// Names of the DSP0004 qualifiers this package interprets.
const (
	QualifierAbstract         = "Abstract"
	QualifierAssociation      = "Association"
	QualifierDescription      = "Description"
	QualifierEmbeddedInstance = "EmbeddedInstance"
	QualifierEmbeddedObject   = "EmbeddedObject"
	QualifierIn               = "In"
	QualifierIndication       = "Indication"
	QualifierKey              = "Key"
	QualifierOut              = "Out"
	QualifierOverride         = "Override"
	QualifierRequired         = "Required"
	QualifierTerminal         = "Terminal"
	QualifierValueMap         = "ValueMap"
	QualifierValues           = "Values"
)

// Scope is the set of element kinds a qualifier may be applied to
// (DSP0004 clause 5.6.1.2; the SCOPE element of CIM-XML).
type Scope uint8

// The qualifier scopes.
const (
	ScopeClass Scope = 1 << iota
	ScopeAssociation
	ScopeIndication
	ScopeProperty
	ScopeReference
	ScopeMethod
	ScopeParameter
	ScopeAny = ScopeClass | ScopeAssociation | ScopeIndication | ScopeProperty | ScopeReference | ScopeMethod | ScopeParameter
)

func scopeName(s Scope) string {
	switch s {
	case ScopeClass:
		return "class"
	case ScopeAssociation:
		return "association"
	case ScopeIndication:
		return "indication"
	case ScopeProperty:
		return "property"
	case ScopeReference:
		return "reference"
	case ScopeMethod:
		return "method"
	case ScopeParameter:
		return "parameter"
	case ScopeAny:
		return "any"
	}
	return ""
}

// String returns the MOF scope list, e.g. "property, reference" or "any".
func (s Scope) String() string {
	if s&ScopeAny == ScopeAny {
		return "any"
	}
	var parts []string
	for b := ScopeClass; b <= ScopeParameter; b <<= 1 {
		if s&b != 0 {
			parts = append(parts, scopeName(b))
		}
	}
	return strings.Join(parts, ", ")
}

// ParseScope returns the scope with the given MOF name (case-insensitive):
// class, association, indication, property, reference, method, parameter
// or any.
func ParseScope(name string) (Scope, error) {
	for s := ScopeClass; s <= ScopeParameter; s <<= 1 {
		if EqualNames(name, scopeName(s)) {
			return s, nil
		}
	}
	if EqualNames(name, "any") {
		return ScopeAny, nil
	}
	return 0, Errorf(ErrInvalidParameter, "unknown qualifier scope %q", name)
}

// Flavor is a set of qualifier flavors (DSP0004 clause 5.6.1.3). Each of
// the pairs EnableOverride/DisableOverride and ToSubclass/Restricted is
// either given explicitly or left unset; unset pairs take their value from
// the qualifier type and, failing that, the DSP0004 defaults
// EnableOverride, ToSubclass and not Translatable.
type Flavor uint8

// The qualifier flavors.
const (
	FlavorEnableOverride Flavor = 1 << iota
	FlavorDisableOverride
	FlavorToSubclass
	FlavorRestricted
	FlavorTranslatable
	// FlavorToInstance is deprecated in DSP0004; it is kept so that the
	// TOINSTANCE attribute of CIM-XML round-trips.
	FlavorToInstance

	overridePair = FlavorEnableOverride | FlavorDisableOverride
	subclassPair = FlavorToSubclass | FlavorRestricted
)

func flavorName(f Flavor) string {
	switch f {
	case FlavorEnableOverride:
		return "EnableOverride"
	case FlavorDisableOverride:
		return "DisableOverride"
	case FlavorToSubclass:
		return "ToSubclass"
	case FlavorRestricted:
		return "Restricted"
	case FlavorTranslatable:
		return "Translatable"
	case FlavorToInstance:
		return "ToInstance"
	}
	return ""
}

// ParseFlavor returns the flavor with the given MOF name (case-insensitive).
func ParseFlavor(name string) (Flavor, error) {
	for f := FlavorEnableOverride; f <= FlavorToInstance; f <<= 1 {
		if EqualNames(name, flavorName(f)) {
			return f, nil
		}
	}
	return 0, Errorf(ErrInvalidParameter, "unknown qualifier flavor %q", name)
}

// String returns the flavors as a MOF flavor list, e.g.
// "DisableOverride, ToSubclass".
func (f Flavor) String() string {
	var parts []string
	for b := FlavorEnableOverride; b <= FlavorToInstance; b <<= 1 {
		if f&b != 0 {
			parts = append(parts, flavorName(b))
		}
	}
	return strings.Join(parts, ", ")
}

// Overridable reports whether a subclass may change the qualifier's value
// (not DisableOverride).
func (f Flavor) Overridable() bool { return f&FlavorDisableOverride == 0 }

// ToSubclass reports whether the qualifier propagates to subclasses and
// overriding elements (not Restricted).
func (f Flavor) ToSubclass() bool { return f&FlavorRestricted == 0 }

// Translatable reports whether the qualifier's value may be localized.
func (f Flavor) Translatable() bool { return f&FlavorTranslatable != 0 }

// Merge returns f with the flavors given in explicit replacing the
// corresponding ones: a pair set in explicit wins, Translatable and
// ToInstance add.
func (f Flavor) Merge(explicit Flavor) Flavor {
	if explicit&overridePair != 0 {
		f = f&^overridePair | explicit&overridePair
	}
	if explicit&subclassPair != 0 {
		f = f&^subclassPair | explicit&subclassPair
	}
	return f | explicit&(FlavorTranslatable|FlavorToInstance)
}

// Complete returns f with unset pairs filled in with the DSP0004 defaults
// (EnableOverride, ToSubclass).
func (f Flavor) Complete() Flavor {
	if f&overridePair == 0 {
		f |= FlavorEnableOverride
	}
	if f&subclassPair == 0 {
		f |= FlavorToSubclass
	}
	return f
}

// Validate reports contradictory flavors, such as EnableOverride together
// with DisableOverride.
func (f Flavor) Validate() error {
	if f&overridePair == overridePair {
		return NewError(ErrInvalidParameter, "flavors EnableOverride and DisableOverride contradict each other")
	}
	if f&subclassPair == subclassPair {
		return NewError(ErrInvalidParameter, "flavors ToSubclass and Restricted contradict each other")
	}
	return nil
}

// QualifierType is a qualifier declaration (DSP0004 clause 5.6.1; MOF
// "Qualifier Key : boolean = false, Scope(property, reference),
// Flavor(DisableOverride, ToSubclass);").
type QualifierType struct {
	Name      string
	Type      Type
	IsArray   bool
	ArraySize int   // fixed array size, 0 if variable
	Default   Value // default value, NULL if none
	Scopes    Scope
	Flavor    Flavor // as declared; Complete() gives the effective flavors
}

// Validate checks the declaration: a valid name and type, a default value of
// that type, at least one scope and consistent flavors.
func (qt *QualifierType) Validate() error {
	if !ValidName(qt.Name) {
		return Errorf(ErrInvalidParameter, "invalid qualifier name %q", qt.Name)
	}
	if !qt.Type.Valid() || qt.Type == TypeReference {
		return Errorf(ErrInvalidParameter, "qualifier %s: invalid type %s", qt.Name, qt.Type)
	}
	if qt.Scopes == 0 {
		return Errorf(ErrInvalidParameter, "qualifier %s: no scope", qt.Name)
	}
	if err := qt.Flavor.Validate(); err != nil {
		return Errorf(ErrInvalidParameter, "qualifier %s: %s", qt.Name, errText(err))
	}
	if qt.Default.Type() != TypeInvalid && (qt.Default.Type() != qt.Type || qt.Default.IsArray() != qt.IsArray) {
		return Errorf(ErrInvalidParameter, "qualifier %s: default value %s is not of type %s", qt.Name, qt.Default, typeString(qt.Type, qt.IsArray))
	}
	return nil
}

// Clone returns a deep copy.
func (qt *QualifierType) Clone() *QualifierType {
	if qt == nil {
		return nil
	}
	c := *qt
	c.Default = qt.Default.Clone()
	return &c
}

// Equal reports whether two declarations are identical (names compared
// case-insensitively, flavors by effect).
func (qt *QualifierType) Equal(o *QualifierType) bool {
	if qt == nil || o == nil {
		return qt == o
	}
	return EqualNames(qt.Name, o.Name) && qt.Type == o.Type && qt.IsArray == o.IsArray &&
		qt.ArraySize == o.ArraySize && qt.Scopes == o.Scopes &&
		qt.Flavor.Complete() == o.Flavor.Complete() && defaultEqual(qt.Default, o.Default)
}

// defaultEqual compares defaults, treating an untyped NULL like a typed one.
func defaultEqual(a, b Value) bool {
	if a.IsNull() && b.IsNull() {
		return true
	}
	return a.Equal(b)
}

// Qualifier is a qualifier value on a class, property, method or parameter.
type Qualifier struct {
	Name  string
	Value Value
	// Flavor holds the flavors given explicitly on this value; ResolveClass
	// replaces it with the effective flavors (declaration merged with the
	// explicit ones).
	Flavor Flavor
	// Propagated is true when the value was inherited from a superclass or
	// overridden element rather than specified on this element.
	Propagated bool
}

// Qualifiers is a list of qualifier values with case-insensitive lookup.
// Order is preserved for output.
type Qualifiers []Qualifier

func (qs Qualifiers) index(name string) int {
	for i := range qs {
		if EqualNames(qs[i].Name, name) {
			return i
		}
	}
	return -1
}

// Get returns the named qualifier, or nil. The pointer refers into the list.
func (qs Qualifiers) Get(name string) *Qualifier {
	if i := qs.index(name); i >= 0 {
		return &qs[i]
	}
	return nil
}

// Has reports whether the named qualifier is present.
func (qs Qualifiers) Has(name string) bool { return qs.index(name) >= 0 }

// Value returns the value of the named qualifier; ok is false if absent.
func (qs Qualifiers) Value(name string) (v Value, ok bool) {
	if i := qs.index(name); i >= 0 {
		return qs[i].Value, true
	}
	return Value{}, false
}

// Bool reports whether the named boolean qualifier is present with the
// value TRUE, as in [Key] or [Association].
func (qs Qualifiers) Bool(name string) bool {
	v, _ := qs.Value(name)
	return v.Bool()
}

// Str returns the value of a string-typed qualifier ("" if absent or NULL).
func (qs Qualifiers) Str(name string) string {
	v, _ := qs.Value(name)
	return v.Str()
}

// StrArray returns the value of a string-array qualifier such as ValueMap.
func (qs Qualifiers) StrArray(name string) []string {
	v, _ := qs.Value(name)
	return v.StrArray()
}

// Set adds q, or replaces the qualifier of the same name.
func (qs *Qualifiers) Set(q Qualifier) {
	if i := qs.index(q.Name); i >= 0 {
		(*qs)[i] = q
		return
	}
	*qs = append(*qs, q)
}

// Remove deletes the named qualifier and reports whether it was present.
func (qs *Qualifiers) Remove(name string) bool {
	i := qs.index(name)
	if i < 0 {
		return false
	}
	*qs = append((*qs)[:i], (*qs)[i+1:]...)
	return true
}

// Clone returns a deep copy.
func (qs Qualifiers) Clone() Qualifiers {
	if qs == nil {
		return nil
	}
	c := make(Qualifiers, len(qs))
	for i, q := range qs {
		q.Value = q.Value.Clone()
		c[i] = q
	}
	return c
}

// Equal reports whether both lists hold the same qualifiers with equal
// values, in any order. Flavors and Propagated flags are not compared.
func (qs Qualifiers) Equal(o Qualifiers) bool {
	if len(qs) != len(o) {
		return false
	}
	for _, q := range qs {
		p := o.Get(q.Name)
		if p == nil || !defaultEqual(q.Value, p.Value) {
			return false
		}
	}
	return true
}

// local returns the qualifiers that were not propagated.
func (qs Qualifiers) local() Qualifiers {
	var out Qualifiers
	for _, q := range qs {
		if !q.Propagated {
			out = append(out, q)
		}
	}
	return out
}

// QualifierTypes is a set of qualifier declarations keyed by folded name,
// e.g. the declarations of one namespace.
type QualifierTypes map[string]*QualifierType

// Add validates qt and adds or replaces it.
func (m QualifierTypes) Add(qt *QualifierType) error {
	if err := qt.Validate(); err != nil {
		return err
	}
	m[FoldName(qt.Name)] = qt
	return nil
}

// Get returns the named declaration, or nil.
func (m QualifierTypes) Get(name string) *QualifierType { return m[FoldName(name)] }

// Sorted returns the declarations ordered by folded name.
func (m QualifierTypes) Sorted() []*QualifierType {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*QualifierType, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
