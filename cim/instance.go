package cim

// Instance is a CIM instance: the name of its class, its properties with
// values, and optionally its object path.
//
// Properties are looked up by name case-insensitively. Instances made by
// Class.NewInstance share the class's name index, which makes Get and Set
// O(1) without any per-instance map; other instances scan linearly, which
// is as fast for the usual few dozen properties. Property pointers stay
// valid until the next AddProperty or RemoveProperty.
type Instance struct {
	ClassName string
	// Path is the instance's object path when known (e.g. as returned by
	// a provider or built by Class.InstancePath).
	Path *ObjectPath
	// Qualifiers are instance-level qualifiers, which DSP0200 deprecates;
	// usually nil.
	Qualifiers Qualifiers

	props []Property
	idx   *nameIndex // shared, immutable; nil means linear lookup
}

// NewInstance returns an instance of the named class with no properties.
// Prefer Class.NewInstance when the class is at hand.
func NewInstance(className string) *Instance { return &Instance{ClassName: className} }

// Properties returns the properties in order. Elements may be modified in
// place (except their Name); the slice must not be appended to.
func (inst *Instance) Properties() []Property { return inst.props }

func (inst *Instance) propIndex(name string) int { return inst.idx.find(inst.props, name) }

// Property returns the named property (case-insensitive), or nil.
func (inst *Instance) Property(name string) *Property {
	if i := inst.propIndex(name); i >= 0 {
		return &inst.props[i]
	}
	return nil
}

// Has reports whether the instance has the named property.
func (inst *Instance) Has(name string) bool { return inst.propIndex(name) >= 0 }

// Get returns the value of the named property; the zero Value (an untyped
// NULL) if there is no such property.
func (inst *Instance) Get(name string) Value {
	if i := inst.propIndex(name); i >= 0 {
		return inst.props[i].Value
	}
	return Value{}
}

// Set sets the named property to v, adding the property if needed. The
// property takes v's type; an untyped NULL (the zero Value) keeps the
// declared type and makes the property NULL.
func (inst *Instance) Set(name string, v Value) {
	if i := inst.propIndex(name); i >= 0 {
		setPropValue(&inst.props[i], v)
		return
	}
	inst.props = append(inst.props, NewProperty(name, v))
}

func setPropValue(p *Property, v Value) {
	if v.Type() == TypeInvalid {
		p.Value = nullOf(p.Type, p.IsArray)
		return
	}
	p.Value = v
	p.Type, p.IsArray = v.Type(), v.IsArray()
	if k := v.Embedded(); k != EmbeddedNone {
		p.Embedded = k
	}
}

// Assign sets the named property from a Go value: converted to the
// property's declared type when the property exists (an int into a uint16
// property, with range checking), typed as by ValueOf otherwise.
func (inst *Instance) Assign(name string, x any) error {
	if i := inst.propIndex(name); i >= 0 {
		p := &inst.props[i]
		v, err := ValueOfType(p.Type, p.IsArray, x)
		if err != nil {
			return Errorf(ErrTypeMismatch, "property %s: %s", p.Name, errText(err))
		}
		setPropValue(p, v)
		return nil
	}
	v, err := ValueOf(x)
	if err != nil {
		return Errorf(ErrTypeMismatch, "property %s: %s", name, errText(err))
	}
	inst.props = append(inst.props, NewProperty(name, v))
	return nil
}

// AddProperty appends p; a property of the same name is an error.
func (inst *Instance) AddProperty(p Property) error {
	if inst.propIndex(p.Name) >= 0 {
		return Errorf(ErrInvalidParameter, "instance of %s: duplicate property %s", inst.ClassName, p.Name)
	}
	inst.props = append(inst.props, p)
	return nil
}

// RemoveProperty deletes the named property and reports whether it existed.
func (inst *Instance) RemoveProperty(name string) bool {
	i := inst.propIndex(name)
	if i < 0 {
		return false
	}
	inst.props = append(inst.props[:i:i], inst.props[i+1:]...)
	inst.idx = nil
	return true
}

// Clone returns a deep copy.
func (inst *Instance) Clone() *Instance {
	if inst == nil {
		return nil
	}
	n := &Instance{ClassName: inst.ClassName, Path: inst.Path.Clone(), Qualifiers: inst.Qualifiers.Clone(), idx: inst.idx}
	if inst.props != nil {
		n.props = make([]Property, len(inst.props))
		for i := range inst.props {
			n.props[i] = inst.props[i].Clone()
		}
	}
	return n
}

// Equal reports whether two instances have the same class name
// (case-insensitively) and the same properties with equal values, in any
// order. Paths are not compared.
func (inst *Instance) Equal(o *Instance) bool {
	if inst == nil || o == nil {
		return inst == o
	}
	if !EqualNames(inst.ClassName, o.ClassName) || len(inst.props) != len(o.props) ||
		!inst.Qualifiers.Equal(o.Qualifiers) {
		return false
	}
	for i := range inst.props {
		p := o.Property(inst.props[i].Name)
		if p == nil || !inst.props[i].Equal(p) {
			return false
		}
	}
	return true
}
