package mof

import (
	"fmt"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// embeddedFile names the text of an embedded object given as a string,
// in positions that are then moved to the string literal.
const embeddedFile = "<embedded object>"

// aliasEntry is a $name declared by "instance of C as $name" or
// "class C as $name".
type aliasEntry struct {
	name  string
	pos   Pos
	ns    string
	inst  *InstanceDecl
	class *ClassDecl
	// path is the object path the alias stands for, computed on first use
	// (possibly before its declaration is compiled: forward references).
	path      *cim.ObjectPath
	computing bool // set while path is computed, to detect cycles
	cycle     bool // the path depends on itself
	failed    bool
	// compiled is the instance once its declaration has been compiled.
	compiled *cim.Instance
}

// instanceDecl compiles "instance of Class [as $alias] { ... };".
func (c *compiler) instanceDecl(d *InstanceDecl) {
	errsBefore := len(c.errs)
	inst, cls := c.buildInstance(d, false)
	if inst == nil || len(c.errs) > errsBefore {
		return
	}
	path, err := cls.InstancePath("", inst)
	if err != nil {
		c.errorf(d.ClassPos, "instance of %s: %s", d.Class, errText(err))
		return
	}
	inst.Path = path
	if prev, again := c.redeclared("instance", path.CanonicalModel(), d.Pos); again {
		c.errorf(d.Pos, "instance %s is already declared at %s", path, prev)
		return
	}
	if err := c.stage.PutInstance(c.ns, inst); err != nil {
		c.targetErr(d.Pos, "instance "+path.String(), err)
		return
	}
	if d.Alias != "" {
		if a := c.aliases[cim.FoldName(d.Alias)]; a != nil && a.inst == d {
			a.compiled = inst
			if a.path == nil {
				a.path = path
			}
		}
	}
	c.record(stagedWrite{pos: d.Pos, inst: inst})
	c.result.Instances++
}

// buildInstance converts an instance declaration: every property of the
// class with its default, overridden by the values given. Embedded
// instances (embedded=true) may not be of an abstract class either, but
// they need no keys.
func (c *compiler) buildInstance(d *InstanceDecl, embedded bool) (*cim.Instance, *cim.Class) {
	cls := c.classIn(d.ClassPos, c.ns, d.Class)
	if cls == nil {
		c.errorf(d.ClassPos, "instance of unknown class %s%s", d.Class, c.laterDecl(d.Class))
		return nil, nil
	}
	if cls.IsAbstract() {
		c.errorf(d.ClassPos, "class %s is abstract and cannot have instances", cls.Name)
		return nil, nil
	}
	inst := cls.NewInstance()
	inst.ClassName = cls.Name
	if len(d.Qualifiers) > 0 {
		inst.Qualifiers = c.qualifiers(d.Qualifiers, 0, "instance of "+d.Class)
	}
	for i, pv := range d.Properties {
		what := "instance of " + d.Class + ": property " + pv.Name
		if prev := findNamed(d.Properties[:i], pv.Name); prev != nil {
			c.errorf(pv.Pos, "instance of %s: property %s is set twice (first at %s)", d.Class, pv.Name, prev.Pos)
			continue
		}
		cp := cls.Property(pv.Name)
		if cp == nil {
			c.errorf(pv.Pos, "instance of %s: class %s has no property %s", d.Class, cls.Name, pv.Name)
			continue
		}
		v, ok := c.value(pv.Value, cp.Type, cp.IsArray, valueContext{what: what, embedded: cp.EmbeddedKind()})
		if !ok {
			continue
		}
		if v.Embedded() == cim.EmbeddedInstance {
			c.checkEmbeddedClass(pv.Value.Pos, cp, v)
		}
		ip := inst.Property(cp.Name)
		ip.Value = v
		if v.Embedded() != cim.EmbeddedNone {
			ip.Embedded = v.Embedded()
		}
		if len(pv.Qualifiers) > 0 {
			ip.Qualifiers = c.qualifiers(pv.Qualifiers, 0, what)
		}
	}
	return inst, cls
}

// checkEmbeddedClass checks that embedded instances are of the class an
// EmbeddedInstance qualifier names, or of a subclass.
func (c *compiler) checkEmbeddedClass(pos Pos, cp *cim.Property, v cim.Value) {
	want := cp.EmbeddedClassName()
	if want == "" {
		return
	}
	insts := v.InstanceArray()
	if one := v.Instance(); one != nil {
		insts = []*cim.Instance{one}
	}
	for _, inst := range insts {
		if inst != nil && !c.isSubclass(inst.ClassName, want) {
			c.errorf(pos, "property %s: the embedded instance is of class %s, but EmbeddedInstance requires %s or a subclass", cp.Name, inst.ClassName, want)
			return
		}
	}
}

// isSubclass reports whether class sub is class super or derives from it.
func (c *compiler) isSubclass(sub, super string) bool {
	for n := 0; sub != "" && n < 1000; n++ {
		if cim.EqualNames(sub, super) {
			return true
		}
		cls, _ := c.class(sub)
		if cls == nil {
			return false
		}
		sub = cls.SuperClass
	}
	return false
}

// embeddedInstance compiles an embedded "instance of" value.
func (c *compiler) embeddedInstance(d *InstanceDecl) (*cim.Instance, bool) {
	errsBefore, failedBefore := len(c.errs), c.failed
	inst, _ := c.buildInstance(d, true)
	return inst, inst != nil && len(c.errs) == errsBefore && c.failed == failedBefore
}

// embeddedFromText compiles the value of an EmbeddedObject or
// EmbeddedInstance property given as a string: MOF v2 writes embedded
// objects as strings holding their MOF declaration.
func (c *compiler) embeddedFromText(v *Value, ctx valueContext) (cim.Value, bool) {
	// Problems inside the string are reported at the string literal, with
	// the line and column inside the embedded text in the message.
	errsBefore := len(c.errs)
	defer func() {
		for _, e := range c.errs[errsBefore:] {
			if e.Pos.File == embeddedFile {
				e.Msg = fmt.Sprintf("%s: in the embedded object, line %d column %d: %s", ctx.what, e.Pos.Line, e.Pos.Col, e.Msg)
				e.Pos = v.Pos
			}
		}
	}()
	f, err := Parse(embeddedFile, []byte(v.Str))
	if err != nil {
		first := err.(ErrorList)[0]
		c.errorf(first.Pos, "%s", first.Msg)
		return cim.Value{}, false
	}
	if len(f.Productions) != 1 {
		c.errorf(v.Pos, "%s: an embedded object string must hold exactly one declaration (\"instance of Class { ... };\")", ctx.what)
		return cim.Value{}, false
	}
	switch d := f.Productions[0].(type) {
	case *InstanceDecl:
		inst, ok := c.embeddedInstance(d)
		if !ok {
			return cim.Value{}, false
		}
		return cim.NewEmbeddedInstance(inst), true
	case *ClassDecl:
		if ctx.embedded != cim.EmbeddedObject {
			break
		}
		b := c.buildClass(d)
		if len(c.errs) > errsBefore {
			return cim.Value{}, false
		}
		res, err := cim.ResolveClass(b.class, b.super, c.stage.resolveOptions(c.ns))
		if err != nil {
			c.errorf(v.Pos, "%s: embedded class %s: %s", ctx.what, d.Name, errText(err))
			return cim.Value{}, false
		}
		return cim.NewEmbeddedClass(res), true
	}
	c.errorf(v.Pos, "%s: expected the MOF of an embedded instance (\"instance of Class { ... };\")", ctx.what)
	return cim.Value{}, false
}

// aliasValue converts $alias: an object path for a reference, the aliased
// instance itself for an embedded instance.
func (c *compiler) aliasValue(v *Value, t cim.Type, ctx valueContext, mismatch func(string) (cim.Value, bool)) (cim.Value, bool) {
	a := c.aliases[cim.FoldName(v.Str)]
	if a == nil {
		c.errorf(v.Pos, "%s: alias $%s is not defined", ctx.what, v.Str)
		return cim.Value{}, false
	}
	switch {
	case t == cim.TypeReference:
		p, ok := c.aliasPath(a, v.Pos)
		if !ok {
			return cim.Value{}, false
		}
		return cim.NewReference(p), true
	case t == cim.TypeString && ctx.embedded != cim.EmbeddedNone && a.inst != nil:
		if a.compiled == nil {
			c.errorf(v.Pos, "%s: alias $%s must be declared (at %s) before it is used as an embedded instance", ctx.what, a.name, a.pos)
			return cim.Value{}, false
		}
		return cim.NewEmbeddedInstance(a.compiled.Clone()), true
	}
	return mismatch(" (an alias stands for an object path; only references and embedded instances take one)")
}

// aliasPath returns the object path an alias stands for. For an instance
// declared further on it builds the path from that declaration's key
// values alone, so instances may refer to each other in any order; only a
// cycle through key references is an error.
func (c *compiler) aliasPath(a *aliasEntry, use Pos) (*cim.ObjectPath, bool) {
	switch {
	case a.path != nil:
		return c.pathFrom(a), true
	case a.failed:
		c.errorf(use, "alias $%s: the instance it names (at %s) has errors", a.name, a.pos)
		return nil, false
	case a.computing:
		a.cycle = true
		return nil, false
	}
	if a.class != nil {
		a.path = cim.NewClassPath("", a.class.Name)
		return c.pathFrom(a), true
	}
	a.computing = true
	defer func() { a.computing = false }()
	path, ok := c.keyPath(a)
	if !ok {
		a.failed = true
		if a.cycle {
			c.errorf(use, "alias $%s: its key values refer back to itself", a.name)
		} else {
			c.errorf(use, "alias $%s: the instance it names (at %s) has errors or lacks key values", a.name, a.pos)
		}
		return nil, false
	}
	a.path = path
	return c.pathFrom(a), true
}

// pathFrom gives an alias's path as seen from the current namespace: with
// the namespace only when the alias lives in another one.
func (c *compiler) pathFrom(a *aliasEntry) *cim.ObjectPath {
	if cim.EqualNames(strings.Trim(a.ns, "/"), c.ns) {
		return a.path
	}
	p := a.path.Clone()
	p.Namespace = a.ns
	return p
}

// keyPath computes the path of an aliased instance declaration from its
// key properties, quietly: errors are reported when the declaration itself
// is compiled.
func (c *compiler) keyPath(a *aliasEntry) (*cim.ObjectPath, bool) {
	d := a.inst
	saved := c.ns
	c.ns = a.ns
	c.quiet++
	failedBefore := c.failed
	defer func() {
		c.quiet--
		c.ns = saved
	}()
	cls, _ := c.class(d.Class)
	if cls == nil {
		return nil, false
	}
	inst := cls.NewInstance()
	inst.ClassName = cls.Name
	for _, pv := range d.Properties {
		cp := cls.Property(pv.Name)
		if cp == nil || !cp.IsKey() {
			continue
		}
		v, ok := c.value(pv.Value, cp.Type, cp.IsArray, valueContext{what: "property " + cp.Name})
		if !ok {
			return nil, false
		}
		inst.Property(cp.Name).Value = v
	}
	path, err := cls.InstancePath("", inst)
	if err != nil || c.failed != failedBefore {
		return nil, false
	}
	return path, true
}
