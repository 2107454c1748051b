package cim

import "sync/atomic"

// Class is a CIM class: its name, superclass, qualifiers, properties and
// methods. A class as declared (in MOF or a CreateClass request) holds only
// its own elements; ResolveClass turns it into a resolved class that also
// holds the inherited ones, with ClassOrigin and Propagated set.
//
// Properties and methods are kept in declaration order and looked up by
// name case-insensitively; property lookup is O(1) on large classes. The
// Property and Method pointers returned by lookups point into the class
// and stay valid until the next Add or Remove; their Name must not be
// changed in place.
//
// A Class is safe for concurrent reads. Build a class completely before
// sharing it or making instances from it: the name index and the instance
// template are derived on first use, and changes made in place through
// Property pointers afterwards are not seen by them (Add, Set and Remove
// are). Clone a shared class to derive another.
type Class struct {
	Name       string
	SuperClass string // "" for a root class
	Qualifiers Qualifiers

	props   []Property
	methods []Method
	derived atomic.Pointer[classDerived]
}

// classDerived is what a class derives from its properties on first use;
// concurrent readers may race to build it, each builds the same value and
// the last store wins.
type classDerived struct {
	n        int        // len(props) it was built for
	idx      *nameIndex // nil for small classes
	template []Property // what NewInstance copies
	keys     []int      // positions of the key properties
}

func (c *Class) derive() *classDerived {
	d := c.derived.Load()
	if d != nil && d.n == len(c.props) {
		return d
	}
	d = &classDerived{n: len(c.props), template: make([]Property, len(c.props))}
	if len(c.props) >= indexThreshold {
		d.idx = buildIndex(c.props)
	}
	for i := range c.props {
		p := &c.props[i]
		v := p.Value
		if v.Type() == TypeInvalid {
			v = nullOf(p.Type, p.IsArray)
		}
		d.template[i] = Property{Name: p.Name, Type: p.Type, IsArray: p.IsArray, ArraySize: p.ArraySize,
			ReferenceClass: p.ReferenceClass, Embedded: p.EmbeddedKind(), Value: v}
		if p.IsKey() {
			d.keys = append(d.keys, i)
		}
	}
	c.derived.Store(d)
	return d
}

// NewClass returns an empty class.
func NewClass(name, superClass string) *Class {
	return &Class{Name: name, SuperClass: superClass}
}

// Properties returns the properties in order. Elements may be modified in
// place (except their Name); the slice must not be appended to.
func (c *Class) Properties() []Property { return c.props }

// Methods returns the methods in order, with the same rules as Properties.
func (c *Class) Methods() []Method { return c.methods }

func (c *Class) index() *nameIndex {
	if len(c.props) < indexThreshold {
		return nil
	}
	return c.derive().idx
}

func (c *Class) propIndex(name string) int { return c.index().find(c.props, name) }

// findForUpdate looks a property up without deriving anything, so that
// building a class property by property stays linear.
func (c *Class) findForUpdate(name string) int {
	var idx *nameIndex
	if d := c.derived.Load(); d != nil && d.n == len(c.props) {
		idx = d.idx
	}
	return idx.find(c.props, name)
}

// Property returns the named property (case-insensitive), or nil.
func (c *Class) Property(name string) *Property {
	if i := c.propIndex(name); i >= 0 {
		return &c.props[i]
	}
	return nil
}

// HasProperty reports whether the class has the named property.
func (c *Class) HasProperty(name string) bool { return c.propIndex(name) >= 0 }

// AddProperty appends p; a property of the same name is an error.
func (c *Class) AddProperty(p Property) error {
	if c.findForUpdate(p.Name) >= 0 {
		return Errorf(ErrInvalidParameter, "class %s: duplicate property %s", c.Name, p.Name)
	}
	c.props = append(c.props, p)
	return nil
}

// SetProperty replaces the property of the same name, or appends p.
func (c *Class) SetProperty(p Property) {
	if i := c.findForUpdate(p.Name); i >= 0 {
		c.props[i] = p
		c.derived.Store(nil)
		return
	}
	c.props = append(c.props, p)
}

// RemoveProperty deletes the named property and reports whether it existed.
func (c *Class) RemoveProperty(name string) bool {
	i := c.findForUpdate(name)
	if i < 0 {
		return false
	}
	c.props = append(c.props[:i:i], c.props[i+1:]...)
	c.derived.Store(nil)
	return true
}

func (c *Class) methodIndex(name string) int {
	for i := range c.methods {
		if EqualNames(c.methods[i].Name, name) {
			return i
		}
	}
	return -1
}

// Method returns the named method (case-insensitive), or nil.
func (c *Class) Method(name string) *Method {
	if i := c.methodIndex(name); i >= 0 {
		return &c.methods[i]
	}
	return nil
}

// AddMethod appends m; a method of the same name is an error.
func (c *Class) AddMethod(m Method) error {
	if c.methodIndex(m.Name) >= 0 {
		return Errorf(ErrInvalidParameter, "class %s: duplicate method %s", c.Name, m.Name)
	}
	c.methods = append(c.methods, m)
	return nil
}

// SetMethod replaces the method of the same name, or appends m.
func (c *Class) SetMethod(m Method) {
	if i := c.methodIndex(m.Name); i >= 0 {
		c.methods[i] = m
		return
	}
	c.methods = append(c.methods, m)
}

// RemoveMethod deletes the named method and reports whether it existed.
func (c *Class) RemoveMethod(name string) bool {
	i := c.methodIndex(name)
	if i < 0 {
		return false
	}
	c.methods = append(c.methods[:i:i], c.methods[i+1:]...)
	return true
}

// IsAssociation reports whether the class carries Association(true).
func (c *Class) IsAssociation() bool { return c.Qualifiers.Bool(QualifierAssociation) }

// IsIndication reports whether the class carries Indication(true).
func (c *Class) IsIndication() bool { return c.Qualifiers.Bool(QualifierIndication) }

// IsAbstract reports whether the class carries Abstract(true).
func (c *Class) IsAbstract() bool { return c.Qualifiers.Bool(QualifierAbstract) }

// KeyNames returns the names of the key properties in declaration order.
func (c *Class) KeyNames() []string {
	var keys []string
	for _, i := range c.derive().keys {
		keys = append(keys, c.props[i].Name)
	}
	return keys
}

// keyProps returns the key properties in declaration order.
func (c *Class) keyProps(yield func(*Property) bool) {
	for _, i := range c.derive().keys {
		if !yield(&c.props[i]) {
			return
		}
	}
}

// ReferenceNames returns the names of the reference properties in
// declaration order (the roles of an association).
func (c *Class) ReferenceNames() []string {
	var refs []string
	for i := range c.props {
		if c.props[i].Type == TypeReference {
			refs = append(refs, c.props[i].Name)
		}
	}
	return refs
}

// NewInstance returns an instance of c with every property of c set to its
// default value (NULL where the class has none) and typed as declared.
// ClassOrigin is left empty (FilterInstance fills it in when a client asks
// for it). The instance shares c's name index, so property lookups on it
// cost one hash and no per-instance setup; c should be resolved, so that
// the instance has the inherited properties too.
func (c *Class) NewInstance() *Instance {
	d := c.derive()
	props := make([]Property, len(d.template))
	copy(props, d.template)
	return &Instance{ClassName: c.Name, props: props, idx: d.idx}
}

func nullOf(t Type, isArray bool) Value {
	if isArray {
		return NullArray(t)
	}
	return Null(t)
}

// Clone returns a deep copy.
func (c *Class) Clone() *Class {
	if c == nil {
		return nil
	}
	n := &Class{Name: c.Name, SuperClass: c.SuperClass, Qualifiers: c.Qualifiers.Clone()}
	if c.props != nil {
		n.props = make([]Property, len(c.props))
		for i := range c.props {
			n.props[i] = c.props[i].Clone()
		}
	}
	if c.methods != nil {
		n.methods = make([]Method, len(c.methods))
		for i := range c.methods {
			n.methods[i] = c.methods[i].Clone()
		}
	}
	return n
}

// Equal reports whether two classes declare the same things: name and
// superclass (case-insensitively), qualifiers, and properties and methods
// matched by name in any order.
func (c *Class) Equal(o *Class) bool {
	if c == nil || o == nil {
		return c == o
	}
	if !EqualNames(c.Name, o.Name) || !EqualNames(c.SuperClass, o.SuperClass) ||
		len(c.props) != len(o.props) || len(c.methods) != len(o.methods) ||
		!c.Qualifiers.Equal(o.Qualifiers) {
		return false
	}
	for i := range c.props {
		p := o.Property(c.props[i].Name)
		if p == nil || !c.props[i].Equal(p) {
			return false
		}
	}
	for i := range c.methods {
		m := o.Method(c.methods[i].Name)
		if m == nil || !c.methods[i].Equal(m) {
			return false
		}
	}
	return true
}
