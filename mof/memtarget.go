package mof

import (
	"fmt"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// MemTarget is a Target held in memory. `hypercim mof check` compiles into
// one, tests use it, and the compiler uses one as a staging overlay over
// the real Target, so that nothing is written unless the whole compile
// succeeds.
//
// With a base Target, reads that miss fall through to the base: the
// overlay sees what the store already holds without copying it. Writes
// never reach the base; the compiler replays them once it is sure there is
// no error.
//
// A MemTarget is not safe for concurrent use.
type MemTarget struct {
	base   Target
	spaces map[string]*memNamespace
	order  []string // namespace names in creation order
}

type memNamespace struct {
	name      string
	quals     map[string]*cim.QualifierType
	qualOrder []*cim.QualifierType
	classes   map[string]*memClass
	// classOrder lists classes in creation order, which puts every
	// superclass before its subclasses.
	classOrder []*memClass
	instances  map[string]*cim.Instance // by canonical path
	instOrder  []*cim.Instance
	// baseQuals and baseClasses cache what was read from the base target
	// (nil for names it does not hold); they are not this target's own
	// content.
	baseQuals   map[string]*cim.QualifierType
	baseClasses map[string]*cim.Class
}

type memClass struct {
	resolved   *cim.Class
	subclasses int
	instances  int
}

// NewMemTarget returns an empty MemTarget. base may be nil; otherwise
// lookups that miss in memory are answered by base.
func NewMemTarget(base Target) *MemTarget {
	return &MemTarget{base: base, spaces: map[string]*memNamespace{}}
}

func (m *MemTarget) space(ns string, create bool) *memNamespace {
	key := cim.FoldName(strings.Trim(ns, "/"))
	s := m.spaces[key]
	if s == nil && create {
		s = &memNamespace{
			name:        strings.Trim(ns, "/"),
			quals:       map[string]*cim.QualifierType{},
			classes:     map[string]*memClass{},
			instances:   map[string]*cim.Instance{},
			baseQuals:   map[string]*cim.QualifierType{},
			baseClasses: map[string]*cim.Class{},
		}
		m.spaces[key] = s
		m.order = append(m.order, s.name)
	}
	return s
}

// EnsureNamespace creates the namespace if absent.
func (m *MemTarget) EnsureNamespace(ns string) error {
	if !validNamespace(ns) {
		return cim.Errorf(cim.ErrInvalidNamespace, "invalid namespace name %q", ns)
	}
	m.space(ns, true)
	return nil
}

// validNamespace checks DSP0004's namespace syntax: identifiers separated
// by single slashes.
func validNamespace(ns string) bool {
	ns = strings.Trim(ns, "/")
	if ns == "" {
		return false
	}
	for _, part := range strings.Split(ns, "/") {
		if !cim.ValidName(part) {
			return false
		}
	}
	return true
}

// QualifierType returns a declaration, from memory or the base.
func (m *MemTarget) QualifierType(ns, name string) (*cim.QualifierType, error) {
	s := m.space(ns, m.base != nil)
	if s == nil {
		return nil, nil
	}
	key := cim.FoldName(name)
	if qt := s.quals[key]; qt != nil {
		return qt, nil
	}
	if m.base == nil {
		return nil, nil
	}
	if qt, ok := s.baseQuals[key]; ok {
		return qt, nil
	}
	qt, err := m.base.QualifierType(ns, name)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	s.baseQuals[key] = qt
	return qt, nil
}

// SetQualifierType adds or replaces a declaration.
func (m *MemTarget) SetQualifierType(ns string, qt *cim.QualifierType) error {
	if err := qt.Validate(); err != nil {
		return err
	}
	s := m.space(ns, true)
	key := cim.FoldName(qt.Name)
	if old := s.quals[key]; old != nil {
		for i, o := range s.qualOrder {
			if o == old {
				s.qualOrder[i] = qt
			}
		}
	} else {
		s.qualOrder = append(s.qualOrder, qt)
	}
	s.quals[key] = qt
	return nil
}

// Class returns a resolved class, from memory or the base.
func (m *MemTarget) Class(ns, name string) (*cim.Class, error) {
	s := m.space(ns, m.base != nil)
	if s == nil {
		return nil, nil
	}
	key := cim.FoldName(name)
	if c := s.classes[key]; c != nil {
		return c.resolved, nil
	}
	if m.base == nil {
		return nil, nil
	}
	if c, ok := s.baseClasses[key]; ok {
		return c, nil
	}
	c, err := m.base.Class(ns, name)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	s.baseClasses[key] = c
	return c, nil
}

// resolveOptions gives cim.ResolveClass this target's view of namespace ns.
// Lookup errors other than "not found" count as absence here; they
// surface again, with their cause, on the next direct read.
func (m *MemTarget) resolveOptions(ns string) cim.ResolveOptions {
	return cim.ResolveOptions{
		QualifierType: func(name string) *cim.QualifierType {
			qt, _ := m.QualifierType(ns, name)
			return qt
		},
		Class: func(name string) *cim.Class {
			c, _ := m.Class(ns, name)
			return c
		},
		CheckAssociationReferences: true,
	}
}

// resolve resolves a declared class against this target's superclass and
// qualifier declarations.
func (m *MemTarget) resolve(ns string, c *cim.Class) (*cim.Class, error) {
	var super *cim.Class
	if c.SuperClass != "" {
		var err error
		if super, err = m.Class(ns, c.SuperClass); err != nil {
			return nil, err
		}
		if super == nil {
			return nil, cim.Errorf(cim.ErrInvalidSuperclass, "class %s: superclass %s does not exist", c.Name, c.SuperClass)
		}
	}
	return cim.ResolveClass(c, super, m.resolveOptions(ns))
}

// resolveAll is resolve returning every violation with the element it
// concerns, for the compiler to place. A superclass that cannot be read
// is reported by cim.ResolveClassAll as missing.
func (m *MemTarget) resolveAll(ns string, c *cim.Class) (*cim.Class, []*cim.ElementError) {
	var super *cim.Class
	if c.SuperClass != "" {
		super, _ = m.Class(ns, c.SuperClass)
	}
	return cim.ResolveClassAll(c, super, m.resolveOptions(ns))
}

// PutClass resolves and stores a class. An identical redefinition is a
// no-op; a changed class that already has subclasses or instances is
// refused, since they were built from the old definition.
func (m *MemTarget) PutClass(ns string, c *cim.Class) error {
	res, err := m.resolve(ns, c)
	if err != nil {
		return err
	}
	s := m.space(ns, true)
	key := cim.FoldName(c.Name)
	old := s.classes[key]
	if old == nil {
		if base := s.baseClasses[key]; base != nil && !sameClass(base, res) {
			// Modifying a class of the base: the base decides on replay.
			delete(s.baseClasses, key)
		}
		mc := &memClass{resolved: res}
		s.classes[key] = mc
		s.classOrder = append(s.classOrder, mc)
		if res.SuperClass != "" {
			if sup := s.classes[cim.FoldName(res.SuperClass)]; sup != nil {
				sup.subclasses++
			}
		}
		return nil
	}
	if sameClass(old.resolved, res) {
		return nil
	}
	switch {
	case old.subclasses > 0:
		return cim.Errorf(cim.ErrClassHasChildren, "class %s already exists with a different definition and has subclasses; it cannot be changed", c.Name)
	case old.instances > 0:
		return cim.Errorf(cim.ErrClassHasInstances, "class %s already exists with a different definition and has instances; it cannot be changed", c.Name)
	case !cim.EqualNames(old.resolved.SuperClass, res.SuperClass):
		return cim.Errorf(cim.ErrInvalidSuperclass, "class %s already exists with superclass %q; its superclass cannot be changed to %q",
			c.Name, old.resolved.SuperClass, res.SuperClass)
	}
	old.resolved = res
	return nil
}

// sameClass reports whether two resolved classes are identical in every
// detail, including qualifier flavors, ClassOrigin and Propagated, which
// cim.Class.Equal leaves out.
func sameClass(a, b *cim.Class) bool { return classDetails(a) == classDetails(b) }

// classDetails renders everything a resolved class holds, in order.
func classDetails(c *cim.Class) string {
	var b strings.Builder
	quals := func(qs cim.Qualifiers) {
		for _, q := range qs {
			fmt.Fprintf(&b, " [%s=%#v %v %v]", q.Name, q.Value, q.Flavor, q.Propagated)
		}
	}
	fmt.Fprintf(&b, "%s:%s", c.Name, c.SuperClass)
	quals(c.Qualifiers)
	for _, p := range c.Properties() {
		fmt.Fprintf(&b, "\nP %s %v %v %d %s %v %#v %s %v", p.Name, p.Type, p.IsArray, p.ArraySize, p.ReferenceClass,
			p.EmbeddedKind(), p.Value, p.ClassOrigin, p.Propagated)
		quals(p.Qualifiers)
	}
	for _, m := range c.Methods() {
		fmt.Fprintf(&b, "\nM %s %v %s %v", m.Name, m.ReturnType, m.ClassOrigin, m.Propagated)
		quals(m.Qualifiers)
		for _, p := range m.Parameters {
			fmt.Fprintf(&b, "\n  %s %v %v %d %s %v", p.Name, p.Type, p.IsArray, p.ArraySize, p.ReferenceClass, p.EmbeddedKind())
			quals(p.Qualifiers)
		}
	}
	return b.String()
}

// PutInstance stores an instance, replacing one with the same path.
func (m *MemTarget) PutInstance(ns string, inst *cim.Instance) error {
	cls, err := m.Class(ns, inst.ClassName)
	if err != nil {
		return err
	}
	if cls == nil {
		return cim.Errorf(cim.ErrInvalidClass, "class %s does not exist", inst.ClassName)
	}
	if err := cls.CheckInstance(inst); err != nil {
		return err
	}
	path := inst.Path
	if path == nil {
		if path, err = cls.InstancePath("", inst); err != nil {
			return err
		}
	}
	s := m.space(ns, true)
	key := path.CanonicalModel()
	if old, ok := s.instances[key]; ok {
		for i, o := range s.instOrder {
			if o == old {
				s.instOrder[i] = inst
			}
		}
	} else {
		s.instOrder = append(s.instOrder, inst)
		if mc := s.classes[cim.FoldName(inst.ClassName)]; mc != nil {
			mc.instances++
		}
	}
	s.instances[key] = inst
	return nil
}

// Namespaces returns the namespaces written to, in creation order.
func (m *MemTarget) Namespaces() []string {
	var out []string
	for _, ns := range m.order {
		if s := m.space(ns, false); len(s.qualOrder)+len(s.classOrder)+len(s.instOrder) > 0 {
			out = append(out, ns)
		}
	}
	return out
}

// QualifierTypes returns the declarations set in ns, in declaration order.
func (m *MemTarget) QualifierTypes(ns string) []*cim.QualifierType {
	if s := m.space(ns, false); s != nil {
		return append([]*cim.QualifierType(nil), s.qualOrder...)
	}
	return nil
}

// Classes returns the resolved classes put in ns, every superclass before
// its subclasses.
func (m *MemTarget) Classes(ns string) []*cim.Class {
	s := m.space(ns, false)
	if s == nil {
		return nil
	}
	out := make([]*cim.Class, len(s.classOrder))
	for i, mc := range s.classOrder {
		out[i] = mc.resolved
	}
	return out
}

// Instances returns the instances put in ns, in the order they were first
// put.
func (m *MemTarget) Instances(ns string) []*cim.Instance {
	if s := m.space(ns, false); s != nil {
		return append([]*cim.Instance(nil), s.instOrder...)
	}
	return nil
}
