package cim

import "strings"

// ResolveOptions supply what ResolveClass needs beyond the class and its
// superclass. Both functions are optional.
type ResolveOptions struct {
	// QualifierType returns the declaration of a qualifier, or nil when it
	// is not declared. With it, every qualifier is checked for existence,
	// scope and type, and takes its flavors from the declaration. Without
	// it, qualifiers are not checked and take the DSP0004 default flavors
	// unless they state their own.
	QualifierType func(name string) *QualifierType
	// Class returns an already resolved class by name, or nil. With it,
	// reference properties and parameters must name existing classes, and
	// an overriding reference may only narrow its class to a subclass.
	Class func(name string) *Class
}

// ResolveClass checks a class declaration against its resolved superclass
// (nil for a root class) and returns the resolved class: the inherited
// properties and methods added with Propagated set, every element's
// ClassOrigin set, and qualifiers propagated from the superclass and from
// overridden elements according to their flavors. c itself is not
// modified. The rules enforced, from DSP0004:
//
//   - the superclass must be the one c names, not c itself and not Terminal
//     (CIM_ERR_INVALID_SUPERCLASS); an association's superclass must be an
//     association
//   - every qualifier must be declared, allowed in its scope and of the
//     declared type, and a qualifier inherited with DisableOverride must not
//     change its value
//   - an element with the name of an inherited one must carry the Override
//     qualifier naming it, and an Override must name an inherited element of
//     the same name; elements marked Propagated (as in a GetClass result
//     sent back with ModifyClass) are taken as inherited
//   - an overriding property keeps its type, array-ness and embedded-object
//     kind; an overriding reference may narrow its class to a subclass; an
//     overriding method keeps its return type and the types of its
//     parameters
//   - a class whose superclass has keys cannot add keys; keys are not arrays
//   - reference properties are only allowed in associations
//   - default values are converted to the declared type
//
// Violations are *Error with CIM_ERR_INVALID_SUPERCLASS or
// CIM_ERR_INVALID_PARAMETER and a message naming the element.
func ResolveClass(c, super *Class, opts ResolveOptions) (*Class, error) {
	r := &resolver{opts: opts, name: c.Name}
	return r.resolve(c, super)
}

type resolver struct {
	opts ResolveOptions
	name string // the class being resolved, for messages
}

func (r *resolver) errorf(format string, args ...any) *Error {
	return Errorf(ErrInvalidParameter, "class "+r.name+": "+format, args...)
}

func (r *resolver) resolve(c, super *Class) (*Class, error) {
	if !ValidName(c.Name) {
		return nil, Errorf(ErrInvalidParameter, "invalid class name %q", c.Name)
	}
	switch {
	case c.SuperClass == "" && super != nil:
		return nil, Errorf(ErrInvalidSuperclass, "class %s declares no superclass, but %s was given", c.Name, super.Name)
	case c.SuperClass != "" && super == nil:
		return nil, Errorf(ErrInvalidSuperclass, "class %s: superclass %s does not exist", c.Name, c.SuperClass)
	case c.SuperClass != "" && !EqualNames(c.SuperClass, super.Name):
		return nil, Errorf(ErrInvalidSuperclass, "class %s names superclass %s, but %s was given", c.Name, c.SuperClass, super.Name)
	case c.SuperClass != "" && EqualNames(c.SuperClass, c.Name):
		return nil, Errorf(ErrInvalidSuperclass, "class %s cannot be its own superclass", c.Name)
	case super != nil && super.Qualifiers.Bool(QualifierTerminal):
		return nil, Errorf(ErrInvalidSuperclass, "class %s: superclass %s is Terminal and cannot have subclasses", c.Name, super.Name)
	}

	res := &Class{Name: c.Name, SuperClass: c.SuperClass}
	if super != nil {
		res.SuperClass = super.Name // the superclass's own spelling
	}
	var inherited Qualifiers
	if super != nil {
		inherited = propagate(super.Qualifiers)
	}
	isAssoc := c.Qualifiers.Bool(QualifierAssociation) || super != nil && super.IsAssociation()
	isIndication := c.Qualifiers.Bool(QualifierIndication) || super != nil && super.IsIndication()
	if super != nil && !super.IsAssociation() && c.Qualifiers.Bool(QualifierAssociation) {
		return nil, Errorf(ErrInvalidSuperclass, "association %s cannot be a subclass of %s, which is not an association", c.Name, super.Name)
	}
	scope := ScopeClass
	switch {
	case isAssoc:
		scope = ScopeAssociation
	case isIndication:
		scope = ScopeIndication
	}
	var err error
	if res.Qualifiers, err = r.qualifiers(c.Qualifiers, inherited, scope, "class "+c.Name); err != nil {
		return nil, err
	}
	if err := r.properties(res, c, super, isAssoc); err != nil {
		return nil, err
	}
	if err := r.methods(res, c, super); err != nil {
		return nil, err
	}
	return res, nil
}

// qualifiers merges the qualifiers an element declares with those it
// inherits (from the superclass or the overridden element; only those with
// the ToSubclass flavor, as propagate returns them).
func (r *resolver) qualifiers(local, inherited Qualifiers, scope Scope, what string) (Qualifiers, error) {
	var out Qualifiers
	for _, q := range local {
		if q.Propagated {
			continue // inherited in a previous resolution; recomputed below
		}
		if out.Has(q.Name) {
			return nil, r.errorf("%s: duplicate qualifier %s", what, q.Name)
		}
		if err := q.Flavor.Validate(); err != nil {
			return nil, r.errorf("%s: qualifier %s: %s", what, q.Name, errText(err))
		}
		flavor := q.Flavor.Complete()
		if decl := r.declaration(q.Name); decl != nil {
			if decl.Scopes&scope == 0 {
				return nil, r.errorf("%s: qualifier %s is not allowed on a %s (its scope is %s)", what, q.Name, scopeName(scope), decl.Scopes)
			}
			v, err := r.qualifierValue(q, decl)
			if err != nil {
				return nil, r.errorf("%s: qualifier %s: %s", what, q.Name, errText(err))
			}
			q.Value = v
			q.Name = decl.Name
			flavor = decl.Flavor.Complete().Merge(q.Flavor)
		} else if r.opts.QualifierType != nil {
			return nil, r.errorf("%s: qualifier %s is not declared", what, q.Name)
		}
		if iq := inherited.Get(q.Name); iq != nil && !iq.Flavor.Overridable() {
			if !defaultEqual(iq.Value, q.Value) {
				return nil, r.errorf("%s: qualifier %s has flavor DisableOverride and cannot be changed from %s to %s",
					what, q.Name, iq.Value, q.Value)
			}
			flavor = flavor&^overridePair | FlavorDisableOverride
		}
		q.Flavor, q.Propagated = flavor, false
		out = append(out, q)
	}
	for _, iq := range inherited {
		if iq.Flavor.ToSubclass() && !out.Has(iq.Name) {
			iq.Propagated = true
			out = append(out, iq)
		}
	}
	return out, nil
}

func (r *resolver) declaration(name string) *QualifierType {
	if r.opts.QualifierType == nil {
		return nil
	}
	return r.opts.QualifierType(name)
}

// qualifierValue converts a qualifier value to its declared type. A NULL
// without type takes the declared one.
func (r *resolver) qualifierValue(q Qualifier, decl *QualifierType) (Value, error) {
	v := q.Value
	if v.Type() == TypeInvalid {
		return nullOf(decl.Type, decl.IsArray), nil
	}
	if v.IsArray() != decl.IsArray {
		return Value{}, Errorf(ErrTypeMismatch, "value %s does not fit the declared type %s", v, typeString(decl.Type, decl.IsArray))
	}
	c, err := v.Convert(decl.Type)
	if err != nil {
		return Value{}, Errorf(ErrTypeMismatch, "value %s does not fit the declared type %s: %s", v, typeString(decl.Type, decl.IsArray), errText(err))
	}
	return c, nil
}

// overrideTarget returns the name an element's Override qualifier names
// ("" if it has none), accepting the old "Class.Element" form.
func overrideTarget(qs Qualifiers) (string, bool) {
	q := qs.Get(QualifierOverride)
	if q == nil || q.Propagated {
		return "", false
	}
	name := q.Value.Str()
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return name, true
}

// checkOverride applies the Override rules to a local element with the
// given name: it returns the index of the inherited element it overrides,
// or -1 for a new element.
func (r *resolver) checkOverride(kind, name string, qs Qualifiers, inheritedAt func(string) int, super *Class) (int, error) {
	i := inheritedAt(name)
	target, has := overrideTarget(qs)
	switch {
	case !has && i >= 0:
		return -1, r.errorf("%s %s redefines the %s inherited from %s without the Override qualifier", kind, name, kind, super.Name)
	case !has:
		return -1, nil
	case target == "":
		return -1, r.errorf("%s %s: the Override qualifier must name the overridden %s", kind, name, kind)
	case !EqualNames(target, name):
		return -1, r.errorf("%s %s: Override(%q) names another element; an override must keep the name of the element it overrides", kind, name, target)
	case i < 0:
		return -1, r.errorf("%s %s has the Override qualifier, but no superclass defines %s", kind, name, name)
	}
	return i, nil
}

func (r *resolver) properties(res, c, super *Class, isAssoc bool) error {
	superHasKeys := false
	if super != nil {
		res.props = make([]Property, 0, len(super.props)+len(c.props))
		for i := range super.props {
			p := super.props[i]
			p.Propagated = true
			p.Qualifiers = propagate(p.Qualifiers)
			res.props = append(res.props, p)
			superHasKeys = superHasKeys || p.IsKey()
		}
	}
	nInherited := len(res.props)
	inheritedAt := func(name string) int {
		for i := 0; i < nInherited; i++ {
			if EqualNames(res.props[i].Name, name) {
				return i
			}
		}
		return -1
	}
	for i := range c.props {
		lp := &c.props[i]
		what := "property " + lp.Name
		if !ValidName(lp.Name) {
			return r.errorf("invalid property name %q", lp.Name)
		}
		for j := 0; j < i; j++ {
			if EqualNames(c.props[j].Name, lp.Name) {
				return r.errorf("duplicate property %s", lp.Name)
			}
		}
		if lp.Propagated && inheritedAt(lp.Name) >= 0 {
			continue
		}
		if !lp.Type.Valid() {
			return r.errorf("%s has no valid type", what)
		}
		scope := ScopeProperty
		if lp.Type == TypeReference {
			scope = ScopeReference
			if !isAssoc {
				return r.errorf("reference property %s is only allowed in an association", lp.Name)
			}
			if err := r.checkRefClass(what, lp.ReferenceClass); err != nil {
				return err
			}
		}
		at, err := r.checkOverride("property", lp.Name, lp.Qualifiers, inheritedAt, super)
		if err != nil {
			return err
		}
		np := *lp
		np.ClassOrigin, np.Propagated = c.Name, false
		var inheritedQuals Qualifiers
		var ip *Property
		if at >= 0 {
			ip = &res.props[at]
			inheritedQuals = ip.Qualifiers
			if ip.Type != lp.Type || ip.IsArray != lp.IsArray {
				return r.errorf("%s of type %s cannot override %s.%s of type %s", what, typeString(lp.Type, lp.IsArray),
					ip.ClassOrigin, ip.Name, typeString(ip.Type, ip.IsArray))
			}
			if lp.Type == TypeReference && !r.narrows(lp.ReferenceClass, ip.ReferenceClass) {
				return r.errorf("reference %s to %s cannot override %s.%s, which refers to %s (only a subclass may be given)",
					lp.Name, lp.ReferenceClass, ip.ClassOrigin, ip.Name, ip.ReferenceClass)
			}
		}
		if np.Qualifiers, err = r.qualifiers(lp.Qualifiers, inheritedQuals, scope, what); err != nil {
			return err
		}
		if np.Value, err = declaredValue(np.Value, np.Type, np.IsArray); err != nil {
			return r.errorf("default value of %s: %s", what, errText(err))
		}
		if ip != nil {
			if np.Value.IsNull() {
				np.Value = ip.Value // an override without default keeps the inherited one
			}
			if np.EmbeddedKind() != ip.EmbeddedKind() {
				return r.errorf("%s cannot change the embedded-object kind of %s.%s", what, ip.ClassOrigin, ip.Name)
			}
			if np.IsKey() && !ip.IsKey() && superHasKeys {
				return r.errorf("%s cannot become a key: superclass %s already defines keys", what, super.Name)
			}
		} else if np.IsKey() && superHasKeys {
			return r.errorf("key property %s cannot be added: superclass %s already defines keys", lp.Name, super.Name)
		}
		if np.IsKey() && np.IsArray {
			return r.errorf("key property %s cannot be an array", lp.Name)
		}
		if np.IsKey() && np.EmbeddedKind() != EmbeddedNone {
			return r.errorf("key property %s cannot be an embedded object", lp.Name)
		}
		if at >= 0 {
			res.props[at] = np
		} else {
			res.props = append(res.props, np)
		}
	}
	return nil
}

// declaredValue converts a default value to the declared type.
func declaredValue(v Value, t Type, isArray bool) (Value, error) {
	if v.Type() == TypeInvalid {
		return nullOf(t, isArray), nil
	}
	if v.IsArray() != isArray {
		return Value{}, Errorf(ErrTypeMismatch, "%s value %s given for %s", typeString(v.Type(), v.IsArray()), v, typeString(t, isArray))
	}
	return v.Convert(t)
}

// propagate returns the qualifiers an inherited element keeps: those with
// the ToSubclass flavor, marked Propagated.
func propagate(qs Qualifiers) Qualifiers {
	var out Qualifiers
	for _, q := range qs {
		if q.Flavor.ToSubclass() {
			q.Propagated = true
			out = append(out, q)
		}
	}
	return out
}

func (r *resolver) checkRefClass(what, refClass string) error {
	if !ValidName(refClass) {
		return r.errorf("%s: invalid reference class %q", what, refClass)
	}
	if r.opts.Class != nil && !EqualNames(refClass, r.name) && r.opts.Class(refClass) == nil {
		return r.errorf("%s refers to class %s, which does not exist", what, refClass)
	}
	return nil
}

// narrows reports whether class sub is class super or one of its
// subclasses. Without a class lookup only equal names are known to narrow;
// other names are accepted.
func (r *resolver) narrows(sub, super string) bool {
	if EqualNames(sub, super) || r.opts.Class == nil {
		return true
	}
	for name, n := sub, 0; name != "" && n < 1000; n++ {
		if EqualNames(name, super) {
			return true
		}
		if EqualNames(name, r.name) {
			return false // the class being resolved is not yet known to the lookup
		}
		c := r.opts.Class(name)
		if c == nil {
			return false
		}
		name = c.SuperClass
	}
	return false
}

func (r *resolver) methods(res, c, super *Class) error {
	if super != nil {
		res.methods = make([]Method, 0, len(super.methods)+len(c.methods))
		for i := range super.methods {
			m := super.methods[i]
			m.Propagated = true
			m.Qualifiers = propagate(m.Qualifiers)
			m.Parameters = make([]Parameter, len(super.methods[i].Parameters))
			for j, p := range super.methods[i].Parameters {
				p.Qualifiers = propagate(p.Qualifiers)
				m.Parameters[j] = p
			}
			res.methods = append(res.methods, m)
		}
	}
	nInherited := len(res.methods)
	inheritedAt := func(name string) int {
		for i := 0; i < nInherited; i++ {
			if EqualNames(res.methods[i].Name, name) {
				return i
			}
		}
		return -1
	}
	for i := range c.methods {
		lm := &c.methods[i]
		what := "method " + lm.Name
		if !ValidName(lm.Name) {
			return r.errorf("invalid method name %q", lm.Name)
		}
		for j := 0; j < i; j++ {
			if EqualNames(c.methods[j].Name, lm.Name) {
				return r.errorf("duplicate method %s", lm.Name)
			}
		}
		if lm.Propagated && inheritedAt(lm.Name) >= 0 {
			continue
		}
		if !lm.ReturnType.Valid() {
			return r.errorf("%s has no valid return type", what)
		}
		at, err := r.checkOverride("method", lm.Name, lm.Qualifiers, inheritedAt, super)
		if err != nil {
			return err
		}
		nm := *lm
		nm.ClassOrigin, nm.Propagated = c.Name, false
		var im *Method
		var inheritedQuals Qualifiers
		if at >= 0 {
			im = &res.methods[at]
			inheritedQuals = im.Qualifiers
			if im.ReturnType != lm.ReturnType {
				return r.errorf("%s returning %s cannot override %s.%s, which returns %s", what, lm.ReturnType, im.ClassOrigin, im.Name, im.ReturnType)
			}
		}
		if nm.Qualifiers, err = r.qualifiers(lm.Qualifiers, inheritedQuals, ScopeMethod, what); err != nil {
			return err
		}
		nm.Parameters = make([]Parameter, len(lm.Parameters))
		for j := range lm.Parameters {
			lp := lm.Parameters[j]
			pwhat := what + " parameter " + lp.Name
			if !ValidName(lp.Name) {
				return r.errorf("%s: invalid parameter name %q", what, lp.Name)
			}
			for k := 0; k < j; k++ {
				if EqualNames(lm.Parameters[k].Name, lp.Name) {
					return r.errorf("%s: duplicate parameter %s", what, lp.Name)
				}
			}
			if !lp.Type.Valid() {
				return r.errorf("%s has no valid type", pwhat)
			}
			if lp.Type == TypeReference {
				if err := r.checkRefClass(pwhat, lp.ReferenceClass); err != nil {
					return err
				}
			}
			var ipQuals Qualifiers
			if im != nil {
				if ip := im.Parameter(lp.Name); ip != nil {
					if ip.Type != lp.Type || ip.IsArray != lp.IsArray ||
						lp.Type == TypeReference && !r.narrows(lp.ReferenceClass, ip.ReferenceClass) {
						return r.errorf("%s of type %s does not match the overridden %s.%s, whose parameter is of type %s",
							pwhat, typeString(lp.Type, lp.IsArray), im.ClassOrigin, im.Name, typeString(ip.Type, ip.IsArray))
					}
					ipQuals = ip.Qualifiers
				}
			}
			if lp.Qualifiers, err = r.qualifiers(lp.Qualifiers, ipQuals, ScopeParameter, pwhat); err != nil {
				return err
			}
			nm.Parameters[j] = lp
		}
		if at >= 0 {
			res.methods[at] = nm
		} else {
			res.methods = append(res.methods, nm)
		}
	}
	return nil
}
