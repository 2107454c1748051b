package cim

import (
	"fmt"
	"strings"
)

// ResolveOptions supply what ResolveClass needs beyond the class and its
// superclass. Every field is optional.
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
	// CheckAssociationReferences enforces the DSP0004 rule that an
	// association has at least two references, its own and inherited ones
	// together. Set it when checking a new or changed definition; it is an
	// option so that resolving what a store already holds keeps working
	// for classes stored before the check existed.
	CheckAssociationReferences bool
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
//   - with CheckAssociationReferences, an association has at least two
//     references, its own and inherited ones together
//
// Violations are *Error with CIM_ERR_INVALID_SUPERCLASS or
// CIM_ERR_INVALID_PARAMETER and a message naming the element; ResolveClass
// returns the first one, ResolveClassAll all of them.
func ResolveClass(c, super *Class, opts ResolveOptions) (*Class, error) {
	res, errs := ResolveClassAll(c, super, opts)
	if len(errs) > 0 {
		return nil, errs[0].Err
	}
	return res, nil
}

// ResolveClassAll resolves c as ResolveClass does, but goes on after a
// violation and returns every one it finds, in the order of the class's
// qualifiers, properties and methods, each with the element it concerns.
// An element is reported once, for its first violation, and left out of
// the checks that follow; a problem with the class's name or superclass
// ends the resolution. The resolved class is returned only when there is
// no violation.
func ResolveClassAll(c, super *Class, opts ResolveOptions) (*Class, []*ElementError) {
	r := &resolver{opts: opts, name: c.Name}
	res := r.resolve(c, super)
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	return res, nil
}

// ElementError is a violation found by ResolveClassAll, with the element
// of the class it concerns, so that a caller (a MOF compiler) can point
// at it. Property, or Method and possibly Parameter, name the element;
// all three are empty when the violation concerns the class itself (its
// name, superclass, qualifiers or references as a whole).
type ElementError struct {
	Err       *Error // the violation, as ResolveClass reports it
	Property  string
	Method    string
	Parameter string // a parameter of Method
	// Qualifier names the qualifier of the element that is at fault, as
	// spelled in the class, when the violation is about one.
	Qualifier string
}

// Error returns the violation's message.
func (e *ElementError) Error() string { return e.Err.Error() }

// Unwrap returns the violation, so that errors.Is and StatusOf see its
// status.
func (e *ElementError) Unwrap() error { return e.Err }

type resolver struct {
	opts ResolveOptions
	name string // the class being resolved, for messages
	errs []*ElementError
}

// errorf returns a violation of the class being resolved; the caller
// adds the element it concerns.
func (r *resolver) errorf(format string, args ...any) *ElementError {
	return &ElementError{Err: Errorf(ErrInvalidParameter, "class "+r.name+": "+format, args...)}
}

// fail records a violation that ends the resolution.
func (r *resolver) fail(status Status, format string, args ...any) *Class {
	r.errs = append(r.errs, &ElementError{Err: Errorf(status, format, args...)})
	return nil
}

func (r *resolver) resolve(c, super *Class) *Class {
	if !ValidName(c.Name) {
		return r.fail(ErrInvalidParameter, "invalid class name %q", c.Name)
	}
	switch {
	case c.SuperClass == "" && super != nil:
		return r.fail(ErrInvalidSuperclass, "class %s declares no superclass, but %s was given", c.Name, super.Name)
	case c.SuperClass != "" && super == nil:
		return r.fail(ErrInvalidSuperclass, "class %s: superclass %s does not exist", c.Name, c.SuperClass)
	case c.SuperClass != "" && !EqualNames(c.SuperClass, super.Name):
		return r.fail(ErrInvalidSuperclass, "class %s names superclass %s, but %s was given", c.Name, c.SuperClass, super.Name)
	case c.SuperClass != "" && EqualNames(c.SuperClass, c.Name):
		return r.fail(ErrInvalidSuperclass, "class %s cannot be its own superclass", c.Name)
	case super != nil && super.Qualifiers.Bool(QualifierTerminal):
		return r.fail(ErrInvalidSuperclass, "class %s: superclass %s is Terminal and cannot have subclasses", c.Name, super.Name)
	case super != nil && !super.IsAssociation() && c.Qualifiers.Bool(QualifierAssociation):
		return r.fail(ErrInvalidSuperclass, "association %s cannot be a subclass of %s, which is not an association", c.Name, super.Name)
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
	scope := ScopeClass
	switch {
	case isAssoc:
		scope = ScopeAssociation
	case isIndication:
		scope = ScopeIndication
	}
	var err *ElementError
	if res.Qualifiers, err = r.qualifiers(c.Qualifiers, inherited, scope, ""); err != nil {
		r.errs = append(r.errs, err)
	}
	r.properties(res, c, super, isAssoc)
	r.methods(res, c, super)
	if isAssoc && r.opts.CheckAssociationReferences {
		if n := countReferences(c, super); n < 2 {
			r.errs = append(r.errs, r.errorf("an association needs at least two references, but it has %d", n))
		}
	}
	return res
}

// countReferences counts the references of a class: those it inherits
// and those it declares, faulty ones included, so that an error in a
// reference is not reported a second time as a missing reference.
func countReferences(c, super *Class) int {
	names := map[string]bool{}
	for _, cl := range [...]*Class{super, c} {
		if cl == nil {
			continue
		}
		for i := range cl.props {
			if cl.props[i].Type == TypeReference {
				names[FoldName(cl.props[i].Name)] = true
			}
		}
	}
	return len(names)
}

// qualifiers merges the qualifiers an element declares with those it
// inherits (from the superclass or the overridden element; only those with
// the ToSubclass flavor, as propagate returns them). A violation names the
// qualifier at fault; what names the element for messages ("" for the
// class itself, which errorf names already).
func (r *resolver) qualifiers(local, inherited Qualifiers, scope Scope, what string) (Qualifiers, *ElementError) {
	var out Qualifiers
	for _, q := range local {
		if q.Propagated {
			continue // inherited in a previous resolution; recomputed below
		}
		spelled := q.Name
		fault := func(format string, args ...any) *ElementError {
			msg := fmt.Sprintf(format, args...)
			if what != "" {
				msg = what + ": " + msg
			}
			e := r.errorf("%s", msg)
			e.Qualifier = spelled
			return e
		}
		if out.Has(q.Name) {
			return nil, fault("duplicate qualifier %s", q.Name)
		}
		if err := q.Flavor.Validate(); err != nil {
			return nil, fault("qualifier %s: %s", q.Name, errText(err))
		}
		flavor := q.Flavor.Complete()
		if decl := r.declaration(q.Name); decl != nil {
			if decl.Scopes&scope == 0 {
				return nil, fault("qualifier %s is not allowed on a %s (its scope is %s)", q.Name, scopeName(scope), decl.Scopes)
			}
			v, err := r.qualifierValue(q, decl)
			if err != nil {
				return nil, fault("qualifier %s: %s", q.Name, errText(err))
			}
			q.Value = v
			q.Name = decl.Name
			flavor = decl.Flavor.Complete().Merge(q.Flavor)
		} else if r.opts.QualifierType != nil {
			return nil, fault("qualifier %s is not declared", q.Name)
		}
		if iq := inherited.Get(q.Name); iq != nil && !iq.Flavor.Overridable() {
			if !defaultEqual(iq.Value, q.Value) {
				return nil, fault("qualifier %s has flavor DisableOverride and cannot be changed from %s to %s",
					q.Name, iq.Value, q.Value)
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

// overrideQualifier returns an element's own Override qualifier, or nil.
func overrideQualifier(qs Qualifiers) *Qualifier {
	if q := qs.Get(QualifierOverride); q != nil && !q.Propagated {
		return q
	}
	return nil
}

// checkOverride applies the Override rules to a local element with the
// given name: it returns the index of the inherited element it overrides,
// or -1 for a new element.
func (r *resolver) checkOverride(kind, name string, qs Qualifiers, inheritedAt func(string) int, super *Class) (int, *ElementError) {
	i := inheritedAt(name)
	q := overrideQualifier(qs)
	if q == nil {
		if i >= 0 {
			return -1, r.errorf("%s %s redefines the %s inherited from %s without the Override qualifier", kind, name, kind, super.Name)
		}
		return -1, nil
	}
	// The old "Class.Element" form names the element too.
	target := q.Value.Str()
	if dot := strings.LastIndexByte(target, '.'); dot >= 0 {
		target = target[dot+1:]
	}
	var e *ElementError
	switch {
	case target == "":
		e = r.errorf("%s %s: the Override qualifier must name the overridden %s", kind, name, kind)
	case !EqualNames(target, name):
		e = r.errorf("%s %s: Override(%q) names another element; an override must keep the name of the element it overrides", kind, name, target)
	case i < 0:
		e = r.errorf("%s %s has the Override qualifier, but no superclass defines %s", kind, name, name)
	default:
		return i, nil
	}
	e.Qualifier = q.Name
	return -1, e
}

// properties resolves the properties; a faulty one is reported and left
// out.
func (r *resolver) properties(res, c, super *Class, isAssoc bool) {
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
		if lp.Propagated && inheritedAt(lp.Name) >= 0 && !duplicateBefore(c.props[:i], lp.Name) {
			continue
		}
		if e := r.property(res, lp, c.props[:i], super, superHasKeys, isAssoc, inheritedAt); e != nil {
			e.Property = lp.Name
			r.errs = append(r.errs, e)
		}
	}
}

// duplicateBefore reports whether a property of that name comes earlier.
func duplicateBefore(earlier []Property, name string) bool {
	for j := range earlier {
		if EqualNames(earlier[j].Name, name) {
			return true
		}
	}
	return false
}

// property resolves one local property of c into res.
func (r *resolver) property(res *Class, lp *Property, earlier []Property, super *Class, superHasKeys, isAssoc bool, inheritedAt func(string) int) *ElementError {
	what := "property " + lp.Name
	if !ValidName(lp.Name) {
		return r.errorf("invalid property name %q", lp.Name)
	}
	if duplicateBefore(earlier, lp.Name) {
		return r.errorf("duplicate property %s", lp.Name)
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
		if e := r.checkRefClass(what, lp.ReferenceClass); e != nil {
			return e
		}
	}
	at, e := r.checkOverride("property", lp.Name, lp.Qualifiers, inheritedAt, super)
	if e != nil {
		return e
	}
	np := *lp
	np.ClassOrigin, np.Propagated = res.Name, false
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
	if np.Qualifiers, e = r.qualifiers(lp.Qualifiers, inheritedQuals, scope, what); e != nil {
		return e
	}
	var err error
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

func (r *resolver) checkRefClass(what, refClass string) *ElementError {
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

// methods resolves the methods; a faulty one is reported and left out.
func (r *resolver) methods(res, c, super *Class) {
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
		dup := false
		for j := 0; j < i; j++ {
			dup = dup || EqualNames(c.methods[j].Name, lm.Name)
		}
		if lm.Propagated && inheritedAt(lm.Name) >= 0 && !dup {
			continue
		}
		e := r.method(res, lm, dup, super, inheritedAt)
		if e != nil {
			e.Method = lm.Name
			r.errs = append(r.errs, e)
		}
	}
}

// method resolves one local method into res.
func (r *resolver) method(res *Class, lm *Method, dup bool, super *Class, inheritedAt func(string) int) *ElementError {
	what := "method " + lm.Name
	if !ValidName(lm.Name) {
		return r.errorf("invalid method name %q", lm.Name)
	}
	if dup {
		return r.errorf("duplicate method %s", lm.Name)
	}
	if !lm.ReturnType.Valid() {
		return r.errorf("%s has no valid return type", what)
	}
	at, e := r.checkOverride("method", lm.Name, lm.Qualifiers, inheritedAt, super)
	if e != nil {
		return e
	}
	nm := *lm
	nm.ClassOrigin, nm.Propagated = res.Name, false
	var im *Method
	var inheritedQuals Qualifiers
	if at >= 0 {
		im = &res.methods[at]
		inheritedQuals = im.Qualifiers
		if im.ReturnType != lm.ReturnType {
			return r.errorf("%s returning %s cannot override %s.%s, which returns %s", what, lm.ReturnType, im.ClassOrigin, im.Name, im.ReturnType)
		}
	}
	if nm.Qualifiers, e = r.qualifiers(lm.Qualifiers, inheritedQuals, ScopeMethod, what); e != nil {
		return e
	}
	nm.Parameters = make([]Parameter, len(lm.Parameters))
	for j := range lm.Parameters {
		if e := r.parameter(&nm.Parameters[j], lm.Parameters[j], lm.Parameters[:j], im, what); e != nil {
			e.Parameter = lm.Parameters[j].Name
			return e
		}
	}
	if at >= 0 {
		res.methods[at] = nm
	} else {
		res.methods = append(res.methods, nm)
	}
	return nil
}

// parameter resolves parameter lp of a method into out; im is the
// method it overrides, or nil.
func (r *resolver) parameter(out *Parameter, lp Parameter, earlier []Parameter, im *Method, what string) *ElementError {
	pwhat := what + " parameter " + lp.Name
	if !ValidName(lp.Name) {
		return r.errorf("%s: invalid parameter name %q", what, lp.Name)
	}
	for k := range earlier {
		if EqualNames(earlier[k].Name, lp.Name) {
			return r.errorf("%s: duplicate parameter %s", what, lp.Name)
		}
	}
	if !lp.Type.Valid() {
		return r.errorf("%s has no valid type", pwhat)
	}
	if lp.Type == TypeReference {
		if e := r.checkRefClass(pwhat, lp.ReferenceClass); e != nil {
			return e
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
	var e *ElementError
	if lp.Qualifiers, e = r.qualifiers(lp.Qualifiers, ipQuals, ScopeParameter, pwhat); e != nil {
		return e
	}
	*out = lp
	return nil
}
