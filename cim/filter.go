package cim

// Operation helpers: the pure functions the CIMOM core needs to answer
// DSP0200 intrinsic operations from classes and instances.

// ClassFilter holds the GetClass/EnumerateClasses parameters that shape
// a returned class (DSP0200 clause 5.3.2.1).
type ClassFilter struct {
	// LocalOnly keeps only the properties, methods and qualifiers the class
	// defines or overrides itself (not propagated ones).
	LocalOnly bool
	// IncludeQualifiers keeps qualifiers on the class and its elements.
	IncludeQualifiers bool
	// IncludeClassOrigin keeps the ClassOrigin of properties and methods.
	IncludeClassOrigin bool
	// PropertyList, when non-nil, keeps only the listed properties
	// (case-insensitive; unknown names are ignored). An empty non-nil list
	// keeps none; nil keeps all. Methods are not affected.
	PropertyList []string
}

// FilterClass returns a copy of the resolved class c shaped by f. c is not
// modified.
func FilterClass(c *Class, f ClassFilter) *Class {
	out := &Class{Name: c.Name, SuperClass: c.SuperClass}
	if f.IncludeQualifiers {
		out.Qualifiers = keepQualifiers(c.Qualifiers, f.LocalOnly)
	}
	for i := range c.props {
		p := &c.props[i]
		if f.LocalOnly && p.Propagated || !inPropertyList(f.PropertyList, p.Name) {
			continue
		}
		np := *p
		np.Qualifiers = nil
		if f.IncludeQualifiers {
			np.Qualifiers = keepQualifiers(p.Qualifiers, false)
		}
		if !f.IncludeClassOrigin {
			np.ClassOrigin = ""
		}
		out.props = append(out.props, np)
	}
	for i := range c.methods {
		m := &c.methods[i]
		if f.LocalOnly && m.Propagated {
			continue
		}
		nm := *m
		nm.Qualifiers = nil
		nm.Parameters = make([]Parameter, len(m.Parameters))
		for j, p := range m.Parameters {
			p.Qualifiers = nil
			if f.IncludeQualifiers {
				p.Qualifiers = keepQualifiers(m.Parameters[j].Qualifiers, false)
			}
			nm.Parameters[j] = p
		}
		if f.IncludeQualifiers {
			nm.Qualifiers = keepQualifiers(m.Qualifiers, false)
		}
		if !f.IncludeClassOrigin {
			nm.ClassOrigin = ""
		}
		out.methods = append(out.methods, nm)
	}
	return out
}

// keepQualifiers copies qualifiers (only local ones if localOnly), so that
// the result never shares a backing array with the class.
func keepQualifiers(qs Qualifiers, localOnly bool) Qualifiers {
	if localOnly {
		return qs.local().Clone()
	}
	return qs.Clone()
}

func inPropertyList(list []string, name string) bool {
	if list == nil {
		return true
	}
	for _, n := range list {
		if EqualNames(n, name) {
			return true
		}
	}
	return false
}

// InstanceFilter holds the GetInstance/EnumerateInstances parameters that
// shape a returned instance (DSP0200 clauses 5.3.2.2 and 5.3.2.11).
type InstanceFilter struct {
	// PropertyList, when non-nil, keeps only the listed properties
	// (case-insensitive; unknown names are ignored). An empty non-nil list
	// keeps none; nil keeps all.
	PropertyList []string
	// LocalOnly keeps only properties defined or overridden in the class
	// named in the request (or, with DeepInheritance, in the subclasses
	// between it and the instance's class), leaving out those inherited
	// into the requested class. DSP0200 deprecates it; clients should send
	// false.
	LocalOnly bool
	// DeepInheritance, for EnumerateInstances, keeps the properties that
	// subclasses of the requested class add. When false, only properties of
	// the requested class are returned.
	DeepInheritance bool
	// RequestedClass is the resolved class named in an EnumerateInstances
	// request; nil for GetInstance, where the instance's own class is the
	// requested class and DeepInheritance does not apply.
	RequestedClass *Class
	// IncludeQualifiers keeps (and fills in from the class) qualifiers on
	// the instance's properties; DSP0200 deprecates it for instances.
	IncludeQualifiers bool
	// IncludeClassOrigin keeps (and fills in from the class) the
	// ClassOrigin of each property.
	IncludeClassOrigin bool
}

// FilterInstance returns inst shaped by f for a response. cls is the
// resolved class of the instance (it may be nil when f needs no class
// information: no LocalOnly, no DeepInheritance restriction, nothing to fill
// in). When nothing needs to change, inst itself is returned, so the common
// case of enumerating with default parameters allocates nothing; otherwise
// a new instance sharing the (immutable) property values is returned.
// inst is never modified.
func FilterInstance(inst *Instance, cls *Class, f InstanceFilter) *Instance {
	requested := f.RequestedClass
	if requested == nil {
		requested = cls
	}
	if f.RequestedClass == nil {
		f.DeepInheritance = true
	}
	needClass := requested != nil && (f.LocalOnly || !f.DeepInheritance)
	// Without a PropertyList or a class to consult every property is
	// kept: the scan looks only for qualifiers and class origins to drop.
	keepAll := f.PropertyList == nil && !needClass
	if keepAll && !f.IncludeQualifiers && !f.IncludeClassOrigin && !carriesQualifiersOrOrigins(inst) {
		return inst // the common case, decided before the general setup
	}
	keep := func(p *Property) bool {
		if !inPropertyList(f.PropertyList, p.Name) {
			return false
		}
		if !needClass {
			return true
		}
		rp := requested.Property(p.Name)
		if !f.DeepInheritance && rp == nil {
			return false // added by a subclass of the requested class
		}
		return !(f.LocalOnly && rp != nil && rp.Propagated)
	}
	if !instanceNeedsFilter(inst, cls, f, keepAll, keep) {
		return inst
	}
	out := &Instance{ClassName: inst.ClassName, Path: inst.Path}
	if f.IncludeQualifiers {
		out.Qualifiers = inst.Qualifiers.Clone()
		if out.Qualifiers == nil && cls != nil {
			out.Qualifiers = propagate(cls.Qualifiers).Clone()
		}
	}
	n := len(inst.props)
	if f.PropertyList != nil && len(f.PropertyList) < n {
		n = len(f.PropertyList)
	}
	out.props = make([]Property, 0, n)
	for i := range inst.props {
		p := &inst.props[i]
		if !keep(p) {
			continue
		}
		np := *p
		var cp *Property
		if cls != nil && (f.IncludeQualifiers || f.IncludeClassOrigin) {
			cp = cls.Property(p.Name)
		}
		switch {
		case !f.IncludeQualifiers:
			np.Qualifiers = nil
		case np.Qualifiers == nil && cp != nil:
			np.Qualifiers = cp.Qualifiers.Clone()
		default:
			np.Qualifiers = np.Qualifiers.Clone()
		}
		switch {
		case !f.IncludeClassOrigin:
			np.ClassOrigin = ""
		case np.ClassOrigin == "" && cp != nil:
			np.ClassOrigin = cp.ClassOrigin
			np.Propagated = cp.Propagated
		}
		out.props = append(out.props, np)
	}
	if len(out.props) == len(inst.props) {
		out.idx = inst.idx // same names in the same order
	}
	return out
}

// carriesQualifiersOrOrigins reports whether inst or one of its
// properties has qualifiers, or a property its class origin.
func carriesQualifiersOrOrigins(inst *Instance) bool {
	if len(inst.Qualifiers) > 0 {
		return true
	}
	for i := range inst.props {
		if p := &inst.props[i]; len(p.Qualifiers) > 0 || p.ClassOrigin != "" {
			return true
		}
	}
	return false
}

func instanceNeedsFilter(inst *Instance, cls *Class, f InstanceFilter, keepAll bool, keep func(*Property) bool) bool {
	if f.IncludeQualifiers || len(inst.Qualifiers) > 0 {
		return true
	}
	for i := range inst.props {
		p := &inst.props[i]
		if len(p.Qualifiers) > 0 || !keepAll && !keep(p) {
			return true
		}
		if f.IncludeClassOrigin != (p.ClassOrigin != "") && (cls != nil || !f.IncludeClassOrigin) {
			return true
		}
	}
	return false
}

// InstancePath builds the path of inst from the key properties of its
// resolved class c: the keys in class order, spelled as the class spells
// them, converted to the declared types. A key that is missing or NULL is a
// CIM_ERR_INVALID_PARAMETER error. The path has no host.
func (c *Class) InstancePath(namespace string, inst *Instance) (*ObjectPath, error) {
	className := inst.ClassName
	if className == "" {
		className = c.Name
	}
	p := &ObjectPath{Namespace: namespace, ClassName: className, Keys: make([]KeyBinding, 0, len(c.derive().keys))}
	for cp := range c.keyProps {
		v := inst.Get(cp.Name)
		if v.IsNull() {
			return nil, Errorf(ErrInvalidParameter, "key property %s of class %s has no value", cp.Name, c.Name)
		}
		cv, err := v.Convert(cp.Type)
		if err != nil || cv.IsArray() {
			return nil, Errorf(ErrInvalidParameter, "key property %s of class %s: value %s is not a %s", cp.Name, c.Name, v, cp.Type)
		}
		p.Keys = append(p.Keys, KeyBinding{Name: cp.Name, Value: cv})
	}
	return p, nil
}

// NormalizePath checks an instance path against the resolved class c and
// returns a copy whose keybindings are exactly c's keys, in class order,
// spelled as the class spells them and converted to the declared types (so
// an untyped Id=5 becomes the uint32 key it is, a quoted string the
// datetime or reference it is). Unknown or non-key names, missing keys and
// values that do not convert are CIM_ERR_INVALID_PARAMETER errors. A class
// without keys takes the singleton path (no keybindings).
func (c *Class) NormalizePath(p *ObjectPath) (*ObjectPath, error) {
	out := &ObjectPath{Host: p.Host, Namespace: p.Namespace, ClassName: p.ClassName, Keys: []KeyBinding{}}
	used := 0
	for cp := range c.keyProps {
		v, ok := p.Key(cp.Name)
		if !ok || v.IsNull() {
			return nil, Errorf(ErrInvalidParameter, "path %s lacks key property %s of class %s", p, cp.Name, c.Name)
		}
		used++
		cv, err := v.Convert(cp.Type)
		if err != nil || cv.IsArray() {
			return nil, Errorf(ErrInvalidParameter, "path %s: key %s: %s is not a valid %s", p, cp.Name, v, cp.Type)
		}
		out.Keys = append(out.Keys, KeyBinding{Name: cp.Name, Value: cv})
	}
	if used != len(p.Keys) {
		for _, k := range p.Keys {
			if cp := c.Property(k.Name); cp == nil || !cp.IsKey() {
				return nil, Errorf(ErrInvalidParameter, "path %s: %s is not a key property of class %s", p, k.Name, c.Name)
			}
		}
	}
	return out, nil
}

// CheckInstance checks inst against its resolved class c: the class name
// matches and the class is not abstract (CIM_ERR_INVALID_CLASS), every
// property exists in the class (CIM_ERR_NO_SUCH_PROPERTY) and has the
// declared type and array-ness (CIM_ERR_TYPE_MISMATCH), and every key
// property has a value (CIM_ERR_INVALID_PARAMETER). Untyped NULL values are
// accepted anywhere.
func (c *Class) CheckInstance(inst *Instance) error {
	if !EqualNames(inst.ClassName, c.Name) {
		return Errorf(ErrInvalidClass, "instance of %s checked against class %s", inst.ClassName, c.Name)
	}
	if c.IsAbstract() {
		return abstractError(c)
	}
	for i := range inst.props {
		p := &inst.props[i]
		cp := c.Property(p.Name)
		if cp == nil {
			return Errorf(ErrNoSuchProperty, "class %s has no property %s", c.Name, p.Name)
		}
		if v := p.Value; v.Type() != TypeInvalid && (v.Type() != cp.Type || v.IsArray() != cp.IsArray) {
			return Errorf(ErrTypeMismatch, "property %s.%s is %s, but a %s value was given", c.Name, cp.Name,
				typeString(cp.Type, cp.IsArray), typeString(v.Type(), v.IsArray()))
		}
	}
	return c.checkKeys(inst)
}

// abstractError reports an instance of an abstract class, which DSP0004
// does not allow.
func abstractError(c *Class) error {
	return Errorf(ErrInvalidClass, "class %s is abstract and cannot have instances", c.Name)
}

func (c *Class) checkKeys(inst *Instance) error {
	for cp := range c.keyProps {
		if inst.Get(cp.Name).IsNull() {
			return Errorf(ErrInvalidParameter, "key property %s of class %s has no value", cp.Name, c.Name)
		}
	}
	return nil
}

// NormalizeInstance returns a new instance of the resolved class c carrying
// inst's values: every class property present in class order (those inst
// lacks take the class default), values converted to the declared types.
// It is what CreateInstance stores. Errors
// are as for CheckInstance, except that convertible values (an integer of
// another width, a datetime given as a string) are accepted.
func (c *Class) NormalizeInstance(inst *Instance) (*Instance, error) {
	if !EqualNames(inst.ClassName, c.Name) {
		return nil, Errorf(ErrInvalidClass, "instance of %s given for class %s", inst.ClassName, c.Name)
	}
	if c.IsAbstract() {
		return nil, abstractError(c)
	}
	out := c.NewInstance()
	out.Path = inst.Path
	for i := range inst.props {
		p := &inst.props[i]
		j := out.propIndex(p.Name)
		if j < 0 {
			return nil, Errorf(ErrNoSuchProperty, "class %s has no property %s", c.Name, p.Name)
		}
		op := &out.props[j]
		v, err := declaredValue(p.Value, op.Type, op.IsArray)
		if err != nil {
			return nil, Errorf(ErrTypeMismatch, "property %s.%s: %s", c.Name, op.Name, errText(err))
		}
		op.Value = v
	}
	if err := c.checkKeys(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ModifyInstance applies a DSP0200 ModifyInstance request to the stored
// instance current (normally a NormalizeInstance result) and returns the
// new instance; neither input is modified. With a nil propertyList every
// property of modified is updated; otherwise exactly the listed ones are,
// and a listed property that modified lacks is reset to the class default
// (DSP0200 clause 5.3.2.9). Values are converted to the declared types.
// Changing a key, naming a property the class lacks in propertyList
// (CIM_ERR_INVALID_PARAMETER), or giving one in modified
// (CIM_ERR_NO_SUCH_PROPERTY) are errors.
func (c *Class) ModifyInstance(current, modified *Instance, propertyList []string) (*Instance, error) {
	if !EqualNames(modified.ClassName, c.Name) && modified.ClassName != "" {
		return nil, Errorf(ErrInvalidClass, "instance of %s given for class %s", modified.ClassName, c.Name)
	}
	out := &Instance{ClassName: current.ClassName, Path: current.Path, Qualifiers: current.Qualifiers.Clone(),
		props: append([]Property(nil), current.props...), idx: current.idx}
	update := func(name string, v Value, given bool) error {
		cp := c.Property(name)
		if cp == nil {
			if given {
				return Errorf(ErrNoSuchProperty, "class %s has no property %s", c.Name, name)
			}
			return Errorf(ErrInvalidParameter, "PropertyList names %s, which class %s does not have", name, c.Name)
		}
		if !given {
			v = cp.Value
		}
		nv, err := declaredValue(v, cp.Type, cp.IsArray)
		if err != nil {
			return Errorf(ErrTypeMismatch, "property %s.%s: %s", c.Name, cp.Name, errText(err))
		}
		if cp.IsKey() {
			if old := current.Get(cp.Name); !old.Equal(nv) {
				return Errorf(ErrInvalidParameter, "key property %s.%s cannot be modified (from %s to %s)", c.Name, cp.Name, old, nv)
			}
			return nil
		}
		if i := out.propIndex(cp.Name); i >= 0 {
			out.props[i].Value, out.props[i].Type, out.props[i].IsArray = nv, cp.Type, cp.IsArray
		} else {
			np := NewProperty(cp.Name, nv)
			np.Embedded = cp.EmbeddedKind()
			out.props = append(out.props, np)
		}
		return nil
	}
	if propertyList == nil {
		for i := range modified.props {
			p := &modified.props[i]
			if err := update(p.Name, p.Value, true); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for _, name := range propertyList {
		p := modified.Property(name)
		var v Value
		if p != nil {
			v = p.Value
		}
		if err := update(name, v, p != nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
