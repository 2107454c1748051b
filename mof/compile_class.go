package mof

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// qualifierDecl compiles "Qualifier Name : type = default, Scope(...),
// Flavor(...);".
func (c *compiler) qualifierDecl(d *QualifierDecl) {
	what := "qualifier " + d.Name
	ok := true
	if !cim.ValidName(d.Name) {
		c.errorf(d.NamePos, "invalid qualifier name %q", d.Name)
		ok = false
	}
	t, err := cim.ParseType(d.Type.Name)
	if err != nil || t == cim.TypeReference {
		c.errorf(d.Type.Pos, "%s: a qualifier cannot have type %s", what, d.Type.Name)
		return
	}
	qt := &cim.QualifierType{Name: d.Name, Type: t, IsArray: d.Array != nil}
	if d.Array != nil {
		qt.ArraySize = d.Array.Size
	}
	qt.Default = cim.Null(t)
	if qt.IsArray {
		qt.Default = cim.NullArray(t)
	}
	if d.Default != nil {
		v, vok := c.value(d.Default, t, qt.IsArray, valueContext{what: what, lenientArray: true})
		ok = ok && vok
		if vok {
			qt.Default = v
		}
	}
	for _, s := range d.Scopes {
		switch strings.ToLower(s.Name) {
		case "schema", "qualifier":
			// DSP0004 2.x dropped these meta-elements; old MOF still has them.
			c.warnf(s.Pos, "%s: scope %s is obsolete and ignored", what, s.Name)
			continue
		}
		scope, err := cim.ParseScope(s.Name)
		if err != nil {
			c.errorf(s.Pos, "%s: unknown scope %s (valid: class, association, indication, property, reference, method, parameter, any)", what, s.Name)
			ok = false
			continue
		}
		qt.Scopes |= scope
	}
	if qt.Scopes == 0 && len(d.Scopes) > 0 && ok {
		c.errorf(d.Scopes[0].Pos, "%s: no usable scope", what)
		ok = false
	}
	flavor, fok := c.flavors(d.Flavors, what)
	qt.Flavor = flavor
	if !ok || !fok {
		return
	}
	if err := qt.Validate(); err != nil {
		c.errorf(d.NamePos, "%s", errText(err))
		return
	}
	old, err := c.stage.QualifierType(c.ns, d.Name)
	if err != nil {
		c.targetErr(d.NamePos, "reading "+what, err)
		return
	}
	if prev, again := c.redeclared("qualifier", d.Name, d.NamePos); again && old != nil && !old.Equal(qt) {
		c.errorf(d.NamePos, "%s is already declared differently at %s", what, prev)
		return
	}
	if old == nil || !old.Equal(qt) {
		if err := c.stage.SetQualifierType(c.ns, qt); err != nil {
			c.targetErr(d.NamePos, what, err)
			return
		}
	}
	c.record(stagedWrite{pos: d.NamePos, qt: qt})
	c.result.QualifierTypes++
}

// flavors parses flavor names, reporting unknown and contradictory ones.
func (c *compiler) flavors(ids []Ident, what string) (cim.Flavor, bool) {
	var f cim.Flavor
	ok := true
	for _, id := range ids {
		fl, err := cim.ParseFlavor(id.Name)
		if err != nil {
			c.errorf(id.Pos, "%s: unknown flavor %s (valid: EnableOverride, DisableOverride, Restricted, ToSubclass, Translatable)", what, id.Name)
			ok = false
			continue
		}
		f |= fl
		if err := f.Validate(); err != nil {
			c.errorf(id.Pos, "%s: %s", what, errText(err))
			ok = false
			f &^= fl
		}
	}
	return f, ok
}

// qualifiers converts a qualifier list for an element of the given scope.
// A qualifier with an error is reported and left out, so the element can
// still be checked further.
func (c *compiler) qualifiers(list []*Qualifier, scope cim.Scope, what string) cim.Qualifiers {
	if len(list) == 0 {
		return nil
	}
	out := make(cim.Qualifiers, 0, len(list))
	for i, q := range list {
		if prev := findNamed(list[:i], q.Name); prev != nil {
			c.errorf(q.Pos, "%s: duplicate qualifier %s (already given at %s)", what, q.Name, prev.Pos)
			continue
		}
		decl := c.qualifierType(q.Pos, q.Name)
		if decl == nil {
			c.errorf(q.Pos, "%s: unknown qualifier %s (not declared in namespace %s; declare it with \"Qualifier %s : type, Scope(...);\" or include qualifiers.mof first)",
				what, q.Name, c.ns, q.Name)
			continue
		}
		if scope != 0 && decl.Scopes&scope == 0 {
			c.errorf(q.Pos, "%s: qualifier %s is not allowed on a %s (its scope is %s)", what, q.Name, scope, decl.Scopes)
			continue
		}
		qv := cim.Qualifier{Name: q.Name}
		switch {
		case q.Value != nil:
			v, ok := c.value(q.Value, decl.Type, decl.IsArray, valueContext{what: what + ": qualifier " + q.Name, lenientArray: true})
			if !ok {
				continue
			}
			qv.Value = v
		case decl.Type == cim.TypeBoolean && !decl.IsArray:
			qv.Value = cim.NewBoolean(true) // [Key] means Key(true)
		default:
			qv.Value = decl.Default
		}
		f, ok := c.flavors(q.Flavors, what+": qualifier "+q.Name)
		if !ok {
			continue
		}
		qv.Flavor = f
		out = append(out, qv)
	}
	return out
}

// hasTrue reports whether a qualifier list sets a boolean qualifier (as
// [Association] does), before the list is converted.
func hasTrue(list []*Qualifier, name string) bool {
	q := findNamed(list, name)
	return q != nil && (q.Value == nil || q.Value.Kind == BoolValue && q.Value.Bool)
}

// builtClass is a class declaration converted to a cim.Class, with the
// syntax nodes of the elements that made it in, for error positions.
type builtClass struct {
	decl    *ClassDecl
	class   *cim.Class
	super   *cim.Class
	props   []*PropertyDecl // parallel to class.Properties()
	methods []*MethodDecl   // parallel to class.Methods()
	// superMissing is set when the superclass does not exist; the class
	// is then built as a root class so its own elements are still checked.
	superMissing bool
}

// buildClass converts a class declaration. Problems it can pin to a token
// (unknown qualifiers, scopes, literals, duplicates) are reported here;
// the inheritance rules are left to cim.ResolveClass.
func (c *compiler) buildClass(d *ClassDecl) *builtClass {
	b := &builtClass{decl: d}
	what := "class " + d.Name
	if !cim.ValidName(d.Name) {
		c.errorf(d.NamePos, "invalid class name %q", d.Name)
	}
	if d.Super != "" {
		super, err := c.class(d.Super)
		switch {
		case err != nil:
			c.targetErr(d.SuperPos, "reading class "+d.Super, err)
			b.superMissing = true
		case super == nil:
			c.errorf(d.SuperPos, "%s: unknown superclass %s%s", what, d.Super, c.laterDecl(d.Super))
			b.superMissing = true
		case cim.EqualNames(d.Super, d.Name):
			c.errorf(d.SuperPos, "%s cannot be its own superclass", what)
			b.superMissing = true
		default:
			b.super = super
		}
	}
	superName := d.Super
	if b.superMissing {
		superName = ""
	}
	b.class = cim.NewClass(d.Name, superName)
	isAssoc := hasTrue(d.Qualifiers, cim.QualifierAssociation) || b.super != nil && b.super.IsAssociation()
	isIndication := hasTrue(d.Qualifiers, cim.QualifierIndication) || b.super != nil && b.super.IsIndication()
	scope := cim.ScopeClass
	switch {
	case isAssoc:
		scope = cim.ScopeAssociation
	case isIndication:
		scope = cim.ScopeIndication
	}
	b.class.Qualifiers = c.qualifiers(d.Qualifiers, scope, what)

	for i, p := range d.Properties {
		if prev := findNamed(d.Properties[:i], p.Name); prev != nil {
			c.errorf(p.NamePos, "%s: duplicate property %s (already declared at %s)", what, p.Name, prev.NamePos)
			continue
		}
		prop, ok := c.buildProperty(p, b, what+": property "+p.Name, isAssoc || b.superMissing)
		if !ok {
			continue
		}
		if err := b.class.AddProperty(prop); err != nil {
			c.errorf(p.NamePos, "%s", errText(err))
			continue
		}
		b.props = append(b.props, p)
	}
	for i, m := range d.Methods {
		if prev := findNamed(d.Methods[:i], m.Name); prev != nil {
			c.errorf(m.NamePos, "%s: duplicate method %s (already declared at %s)", what, m.Name, prev.NamePos)
			continue
		}
		if prev := findNamed(d.Properties, m.Name); prev != nil {
			c.errorf(m.NamePos, "%s: method %s has the name of the property declared at %s", what, m.Name, prev.NamePos)
			continue
		}
		var overridden *cim.Method
		if b.super != nil {
			overridden = b.super.Method(m.Name)
		}
		meth, ok := c.buildMethod(m, overridden, what+": method "+m.Name)
		if !ok {
			continue
		}
		if err := b.class.AddMethod(meth); err != nil {
			c.errorf(m.NamePos, "%s", errText(err))
			continue
		}
		b.methods = append(b.methods, m)
	}
	return b
}

// named is a syntax node with a name: properties, methods, parameters,
// qualifiers and property values.
type named interface {
	*PropertyDecl | *MethodDecl | *ParamDecl | *Qualifier | *PropertyValue
}

// findNamed returns the first node of list called name (case-insensitively,
// as CIM names compare), or nil.
func findNamed[T named](list []T, name string) T {
	for _, n := range list {
		if cim.EqualNames(nodeName(n), name) {
			return n
		}
	}
	var none T
	return none
}

func nodeName(n any) string {
	switch n := n.(type) {
	case *PropertyDecl:
		return n.Name
	case *MethodDecl:
		return n.Name
	case *ParamDecl:
		return n.Name
	case *Qualifier:
		return n.Name
	case *PropertyValue:
		return n.Name
	}
	return ""
}

// elementType converts a syntax type to a CIM type and reference class.
func (c *compiler) elementType(t DataType, what string) (cim.Type, string, bool) {
	if t.IsRef() {
		if !cim.ValidName(t.RefClass) {
			c.errorf(t.Pos, "%s: invalid class name %q in reference type", what, t.RefClass)
			return 0, "", false
		}
		return cim.TypeReference, t.RefClass, true
	}
	ct, err := cim.ParseType(t.Name)
	if err != nil {
		c.errorf(t.Pos, "%s: unknown type %s", what, t.Name)
		return 0, "", false
	}
	return ct, "", true
}

// embeddedOf returns the embedded-object kind that converted qualifiers
// give, recording EmbeddedInstance class names for the end-of-run check.
func (c *compiler) embeddedOf(qs cim.Qualifiers, list []*Qualifier, t cim.Type, what string) (cim.EmbeddedKind, bool) {
	kind := cim.EmbeddedNone
	for _, q := range list {
		switch {
		case cim.EqualNames(q.Name, cim.QualifierEmbeddedInstance):
			name := qs.Str(cim.QualifierEmbeddedInstance)
			if name == "" {
				continue
			}
			kind = cim.EmbeddedInstance
			pos := q.Pos
			if q.Value != nil {
				pos = q.Value.Pos
			}
			if !cim.ValidName(name) {
				c.errorf(pos, "%s: EmbeddedInstance(%q) does not name a class", what, name)
				return kind, false
			}
			c.embeddedChecks = append(c.embeddedChecks, embeddedCheck{pos: pos, ns: c.ns, className: name, what: what})
		case cim.EqualNames(q.Name, cim.QualifierEmbeddedObject) && qs.Bool(cim.QualifierEmbeddedObject):
			kind = cim.EmbeddedObject
		default:
			continue
		}
		if t != cim.TypeString {
			c.errorf(q.Pos, "%s: qualifier %s requires type string, not %s", what, q.Name, t)
			return kind, false
		}
	}
	return kind, true
}

// checkValueMap checks the ValueMap and Values qualifiers of an element:
// arrays of the same length, and entries that are integers or ranges for
// an integer element (DSP0004 ValueMap). inherited holds the qualifiers of
// the element this one overrides, if any: a subclass that sets only Values
// must match the ValueMap it inherits, and the reverse. Problems are
// reported at the ValueMap qualifier.
func (c *compiler) checkValueMap(qs cim.Qualifiers, list []*Qualifier, inherited cim.Qualifiers, t cim.Type, what string) {
	vm, values := qs.Get(cim.QualifierValueMap), qs.Get(cim.QualifierValues)
	if vm == nil && values == nil {
		return
	}
	if vm == nil {
		vm = inheritedQualifier(inherited, cim.QualifierValueMap)
	}
	if values == nil {
		values = inheritedQualifier(inherited, cim.QualifierValues)
	}
	var keys, texts []string
	pos := Pos{}
	for _, q := range list {
		switch {
		case cim.EqualNames(q.Name, cim.QualifierValueMap):
			pos = q.Pos
		case cim.EqualNames(q.Name, cim.QualifierValues) && !pos.IsValid():
			pos = q.Pos
		}
	}
	if vm != nil {
		keys = vm.Value.StrArray()
	}
	if values != nil {
		texts = values.Value.StrArray()
	}
	if keys == nil && texts == nil {
		return // both NULL
	}
	if _, err := cim.NewValueMap(t, keys, texts); err != nil {
		c.errorf(pos, "%s: %s", what, errText(err))
	}
}

// inheritedQualifier returns the qualifier called name of an overridden
// element if it propagates to the overriding one, else nil.
func inheritedQualifier(inherited cim.Qualifiers, name string) *cim.Qualifier {
	if q := inherited.Get(name); q != nil && q.Flavor.ToSubclass() {
		return q
	}
	return nil
}

func (c *compiler) buildProperty(p *PropertyDecl, b *builtClass, what string, refsAllowed bool) (cim.Property, bool) {
	t, refClass, ok := c.elementType(p.Type, what)
	if !ok {
		return cim.Property{}, false
	}
	scope := cim.ScopeProperty
	if t == cim.TypeReference {
		scope = cim.ScopeReference
		if !refsAllowed {
			c.errorf(p.Type.Pos, "%s: a reference is only allowed in an association (add the Association qualifier to class %s)", what, b.decl.Name)
			return cim.Property{}, false
		}
		if p.Array != nil {
			c.errorf(p.Array.Pos, "%s: a reference property cannot be an array", what)
			return cim.Property{}, false
		}
	}
	prop := cim.Property{Name: p.Name, Type: t, IsArray: p.Array != nil, ReferenceClass: refClass}
	if p.Array != nil {
		prop.ArraySize = p.Array.Size
	}
	prop.Qualifiers = c.qualifiers(p.Qualifiers, scope, what)
	kind, ok := c.embeddedOf(prop.Qualifiers, p.Qualifiers, t, what)
	if !ok {
		return cim.Property{}, false
	}
	if kind == cim.EmbeddedNone && b.super != nil && findNamed(p.Qualifiers, cim.QualifierOverride) != nil {
		// An overriding property inherits its embedded-object kind.
		if sp := b.super.Property(p.Name); sp != nil {
			kind = sp.EmbeddedKind()
		}
	}
	var inherited cim.Qualifiers
	if b.super != nil {
		if sp := b.super.Property(p.Name); sp != nil {
			inherited = sp.Qualifiers
		}
	}
	c.checkValueMap(prop.Qualifiers, p.Qualifiers, inherited, t, what)
	if p.Default != nil {
		v, ok := c.value(p.Default, t, prop.IsArray, valueContext{what: what, embedded: kind})
		if !ok {
			return cim.Property{}, false
		}
		prop.Value = v
	}
	return prop, true
}

// buildMethod converts a method declaration; overridden is the method of
// the superclass it overrides, or nil.
func (c *compiler) buildMethod(m *MethodDecl, overridden *cim.Method, what string) (cim.Method, bool) {
	rt, _, ok := c.elementType(m.ReturnType, what)
	if !ok {
		return cim.Method{}, false
	}
	if rt == cim.TypeReference {
		c.errorf(m.ReturnType.Pos, "%s: a method cannot return a reference in MOF v2 (return an object path string or use an OUT parameter)", what)
		return cim.Method{}, false
	}
	meth := cim.Method{Name: m.Name, ReturnType: rt}
	meth.Qualifiers = c.qualifiers(m.Qualifiers, cim.ScopeMethod, what)
	if _, ok := c.embeddedOf(meth.Qualifiers, m.Qualifiers, rt, what); !ok {
		return cim.Method{}, false
	}
	var inherited cim.Qualifiers
	if overridden != nil {
		inherited = overridden.Qualifiers
	}
	c.checkValueMap(meth.Qualifiers, m.Qualifiers, inherited, rt, what)
	ok = true
	for i, p := range m.Params {
		pwhat := what + ": parameter " + p.Name
		if prev := findNamed(m.Params[:i], p.Name); prev != nil {
			c.errorf(p.NamePos, "%s: duplicate parameter %s (already declared at %s)", what, p.Name, prev.NamePos)
			ok = false
			continue
		}
		t, refClass, tok := c.elementType(p.Type, pwhat)
		if !tok {
			ok = false
			continue
		}
		if p.Default != nil {
			c.warnf(p.Default.Pos, "%s: parameter default values are a MOF v3 feature and are ignored", pwhat)
		}
		par := cim.Parameter{Name: p.Name, Type: t, IsArray: p.Array != nil, ReferenceClass: refClass}
		if p.Array != nil {
			par.ArraySize = p.Array.Size
		}
		par.Qualifiers = c.qualifiers(p.Qualifiers, cim.ScopeParameter, pwhat)
		if _, eok := c.embeddedOf(par.Qualifiers, p.Qualifiers, t, pwhat); !eok {
			ok = false
			continue
		}
		var parInherited cim.Qualifiers
		if overridden != nil {
			if op := overridden.Parameter(p.Name); op != nil {
				parInherited = op.Qualifiers
			}
		}
		c.checkValueMap(par.Qualifiers, p.Qualifiers, parInherited, t, pwhat)
		meth.Parameters = append(meth.Parameters, par)
	}
	return meth, ok
}

// classDecl compiles a class, association or indication declaration.
func (c *compiler) classDecl(d *ClassDecl) {
	errsBefore := len(c.errs)
	b := c.buildClass(d)
	if prev, again := c.redeclared("class", d.Name, d.NamePos); again {
		c.errorf(d.NamePos, "class %s is already declared at %s", d.Name, prev)
		return
	}
	if err := c.stage.PutClass(c.ns, b.class); err != nil {
		switch _, violations := c.stage.resolveAll(c.ns, b.class); {
		case b.superMissing:
			// Already reported; the rest would be a cascade.
		case len(violations) > 0:
			for _, v := range violations {
				c.errorf(violationPos(b, v), "%s", errText(v.Err))
			}
		default:
			// The class is valid, but the target refuses the change.
			c.targetErr(d.NamePos, "class "+d.Name, err)
		}
		return
	}
	if len(c.errs) > errsBefore {
		return
	}
	c.record(stagedWrite{pos: d.NamePos, class: b.class})
	c.result.Classes++
}

// violationPos returns where to report a violation cim.ResolveClassAll
// found: at the qualifier concerned, else at the name of the element
// (property, method or parameter), else at the class's superclass for a
// superclass problem or its name.
func violationPos(b *builtClass, v *cim.ElementError) Pos {
	d := b.decl
	quals, pos := d.Qualifiers, d.NamePos
	if v.Err.Status == cim.ErrInvalidSuperclass && d.Super != "" {
		pos = d.SuperPos
	}
	switch {
	case v.Property != "":
		if p := findNamed(b.props, v.Property); p != nil {
			quals, pos = p.Qualifiers, p.NamePos
		}
	case v.Method != "":
		m := findNamed(b.methods, v.Method)
		if m == nil {
			break
		}
		quals, pos = m.Qualifiers, m.NamePos
		if par := findNamed(m.Params, v.Parameter); v.Parameter != "" && par != nil {
			quals, pos = par.Qualifiers, par.NamePos
		}
	}
	if q := findNamed(quals, v.Qualifier); v.Qualifier != "" && q != nil {
		pos = q.Pos
	}
	return pos
}
