package wbem

import (
	"context"

	"github.com/hypercim/hypercim/cim"
)

// Instance operations: each class is served by its instance provider when
// it has one, else by the repository's static instances.

// GetInstance returns an instance shaped by o (DSP0200 5.3.2.2).
func (s *Server) GetInstance(ctx context.Context, ns string, name *cim.ObjectPath, o InstanceOptions) (*cim.Instance, error) {
	c, err := s.begin(ctx, "GetInstance", ns, className(name), false)
	if err != nil {
		return nil, err
	}
	inst, cls, err := s.getInstance(ctx, c.ns, name)
	if err != nil {
		return nil, c.end(err)
	}
	return cim.FilterInstance(inst, cls, cim.InstanceFilter{
		PropertyList:       o.PropertyList,
		LocalOnly:          o.LocalOnly,
		IncludeQualifiers:  o.IncludeQualifiers,
		IncludeClassOrigin: o.IncludeClassOrigin,
	}), c.end(nil)
}

func className(p *cim.ObjectPath) string {
	if p == nil {
		return ""
	}
	return p.ClassName
}

// instancePath checks an instance name given by a client and returns it
// normalized to its class (keys typed and ordered as declared, namespace
// ns, no host), with the class. A path naming a superclass whose
// CreationClassName key names a subclass is taken as naming the subclass,
// as DMTF's key conventions mean it.
func (s *Server) instancePath(ns string, name *cim.ObjectPath) (*cim.ObjectPath, *cim.Class, error) {
	if name == nil {
		return nil, nil, errorf(cim.ErrInvalidParameter, "the instance name is missing")
	}
	if !name.IsInstancePath() {
		return nil, nil, errorf(cim.ErrInvalidParameter, "%s is a class path, not an instance path", describe(name))
	}
	if err := mustName("class name", name.ClassName); err != nil {
		return nil, nil, err
	}
	cls, err := s.Class(ns, name.ClassName)
	if err != nil {
		return nil, nil, err
	}
	if v, ok := name.Key("CreationClassName"); ok && v.Type() == cim.TypeString && !v.IsArray() && !v.IsNull() &&
		!cim.EqualNames(v.Str(), cls.Name) && cim.ValidName(v.Str()) && s.IsA(ns, v.Str(), cls.Name) {
		if sub, err := s.Class(ns, v.Str()); err == nil {
			cls = sub
			name = &cim.ObjectPath{ClassName: sub.Name, Keys: name.Keys}
		}
	}
	path, err := cls.NormalizePath(name)
	if err != nil {
		return nil, nil, err
	}
	path.Host, path.Namespace, path.ClassName = "", ns, cls.Name
	return path, cls, nil
}

// getInstance returns the whole instance name names, with its Path set,
// and its class.
func (s *Server) getInstance(ctx context.Context, ns string, name *cim.ObjectPath) (*cim.Instance, *cim.Class, error) {
	path, cls, err := s.instancePath(ns, name)
	if err != nil {
		return nil, nil, err
	}
	if reg := s.reg.instanceProvider(ns, cls.Name); reg != nil {
		inst, err := reg.instance.GetInstance(ctx, ns, cls, path)
		if err != nil {
			return nil, nil, err
		}
		if inst == nil {
			return nil, nil, errorf(cim.ErrNotFound, "Instance not found: %s", describe(path))
		}
		if err := s.adopt(ns, cls, inst); err != nil {
			return nil, nil, err
		}
		return inst, cls, nil
	}
	inst, err := s.repo.GetInstance(ns, path)
	if err != nil {
		return nil, nil, err
	}
	return inst, cls, nil
}

// adopt checks an instance a provider returned for class cls and completes
// its path.
func (s *Server) adopt(ns string, cls *cim.Class, inst *cim.Instance) error {
	switch {
	case inst.ClassName == "":
		inst.ClassName = cls.Name
	case !cim.EqualNames(inst.ClassName, cls.Name):
		return errorf(cim.ErrFailed, "the provider of class %s returned an instance of %s", cls.Name, inst.ClassName)
	}
	switch {
	case inst.Path == nil:
		p, err := cls.InstancePath(ns, inst)
		if err != nil {
			return errorf(cim.ErrFailed, "the provider of class %s returned an instance without its keys: %s", cls.Name, errText(err))
		}
		inst.Path = p
	case inst.Path.Namespace == "" || inst.Path.Host != "":
		inst.Path = inst.Path.WithNamespace("", ns)
	}
	return nil
}

// eachInstance calls fn with every instance of top and its subclasses, in
// the namespace ns, with all properties and the Path set: for each class,
// from its provider or from the repository.
func (s *Server) eachInstance(ctx context.Context, ns string, top *cim.Class, fn func(*cim.Instance) error) error {
	if !s.reg.hasInstanceProviders(ns) {
		return s.repo.EnumerateInstances(ns, top.Name, true, fn)
	}
	return s.eachClass(ns, top, func(cls *cim.Class, reg *registration, deep bool) error {
		if reg == nil {
			return s.repo.EnumerateInstances(ns, cls.Name, deep, fn)
		}
		return s.providerInstances(ctx, ns, cls, reg, fn)
	})
}

// eachInstanceName is eachInstance for paths.
func (s *Server) eachInstanceName(ctx context.Context, ns string, top *cim.Class, fn func(*cim.ObjectPath) error) error {
	if !s.reg.hasInstanceProviders(ns) {
		return s.repo.EnumerateInstanceNames(ns, top.Name, true, fn)
	}
	return s.eachClass(ns, top, func(cls *cim.Class, reg *registration, deep bool) error {
		if reg == nil {
			return s.repo.EnumerateInstanceNames(ns, cls.Name, deep, fn)
		}
		return s.providerInstanceNames(ctx, ns, cls, reg, fn)
	})
}

// providerInstances calls fn with the instances of class cls from its
// provider reg, checked and with their paths completed.
func (s *Server) providerInstances(ctx context.Context, ns string, cls *cim.Class, reg *registration, fn func(*cim.Instance) error) error {
	return reg.instance.EnumerateInstances(ctx, ns, cls, func(inst *cim.Instance) error {
		if err := s.adopt(ns, cls, inst); err != nil {
			return err
		}
		return fn(inst)
	})
}

// providerInstanceNames calls fn with the paths of the instances of class
// cls from its provider reg: from its name enumeration when it has one.
func (s *Server) providerInstanceNames(ctx context.Context, ns string, cls *cim.Class, reg *registration, fn func(*cim.ObjectPath) error) error {
	if reg.names == nil {
		return s.providerInstances(ctx, ns, cls, reg, func(inst *cim.Instance) error { return fn(inst.Path) })
	}
	return reg.names.EnumerateInstanceNames(ctx, ns, cls, func(p *cim.ObjectPath) error {
		if p == nil {
			return errorf(cim.ErrFailed, "the provider of class %s returned a nil path", cls.Name)
		}
		if p.Namespace == "" || p.Host != "" {
			p = p.WithNamespace("", ns)
		}
		return fn(p)
	})
}

// eachClass splits the class tree under top (top included) into what
// serves its instances, parents before children: fn gets each class with
// a provider (reg set), and each class served by the repository (reg nil),
// with deep set when no class below it has a provider, so that one
// repository enumeration covers its whole subtree.
func (s *Server) eachClass(ns string, top *cim.Class, fn func(cls *cim.Class, reg *registration, deep bool) error) error {
	type node struct {
		cls    *cim.Class
		reg    *registration
		parent int  // index of the superclass node, -1 for top
		mixed  bool // a provider serves this class or one below it
	}
	nodes := []node{{cls: top, reg: s.reg.instanceProvider(ns, top.Name), parent: -1}}
	index := map[string]int{cim.FoldName(top.Name): 0}
	if err := s.repo.EnumerateClassNames(ns, top.Name, true, func(name string) error {
		cls, err := s.Class(ns, name)
		if err != nil {
			return nil // deleted meanwhile
		}
		parent, ok := index[cim.FoldName(cls.SuperClass)]
		if !ok {
			return nil
		}
		index[cim.FoldName(name)] = len(nodes)
		nodes = append(nodes, node{cls: cls, reg: s.reg.instanceProvider(ns, name), parent: parent})
		return nil
	}); err != nil {
		return err
	}
	// Children come after their parents: walking backwards propagates
	// "a provider below" up the tree.
	for i := len(nodes) - 1; i >= 0; i-- {
		n := &nodes[i]
		n.mixed = n.mixed || n.reg != nil
		if n.mixed && n.parent >= 0 {
			nodes[n.parent].mixed = true
		}
	}
	covered := make([]bool, len(nodes))
	for i, n := range nodes {
		if n.parent >= 0 && covered[n.parent] {
			covered[i] = true
			continue
		}
		var err error
		switch {
		case n.reg != nil:
			err = fn(n.cls, n.reg, false)
		case !n.mixed:
			covered[i] = true
			err = fn(n.cls, nil, true)
		case !n.cls.IsAbstract():
			err = fn(n.cls, nil, false)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// classCache remembers the last classes looked up during one enumeration.
type classCache struct {
	s      *Server
	ns     string
	last   *cim.Class
	byName map[string]*cim.Class
}

func newClassCache(s *Server, ns string, first *cim.Class) *classCache {
	return &classCache{s: s, ns: ns, last: first}
}

func (cc *classCache) get(name string) *cim.Class {
	if cc.last != nil && cc.last.Name == name {
		return cc.last
	}
	if c := cc.byName[name]; c != nil {
		cc.last = c
		return c
	}
	c, err := cc.s.Class(cc.ns, name)
	if err != nil {
		return nil
	}
	if cc.byName == nil {
		cc.byName = map[string]*cim.Class{}
	}
	if len(cc.byName) < 1024 {
		cc.byName[name] = c
	}
	cc.last = c
	return c
}

// instanceFilter returns the cim.InstanceFilter of an enumeration of class
// top.
func instanceFilter(o InstanceOptions, top *cim.Class) cim.InstanceFilter {
	return cim.InstanceFilter{
		PropertyList:       o.PropertyList,
		LocalOnly:          o.LocalOnly,
		DeepInheritance:    o.DeepInheritance,
		RequestedClass:     top,
		IncludeQualifiers:  o.IncludeQualifiers,
		IncludeClassOrigin: o.IncludeClassOrigin,
	}
}

// needsClass reports whether shaping instances with f needs their classes.
func needsClass(f cim.InstanceFilter) bool {
	return f.LocalOnly || !f.DeepInheritance || f.IncludeQualifiers || f.IncludeClassOrigin
}

// EnumerateInstances yields the instances of className and its subclasses
// (DSP0200 5.3.2.11), shaped by o.
func (s *Server) EnumerateInstances(ctx context.Context, ns, className string, o InstanceOptions, yield func(*cim.Instance) error) error {
	return s.EnumerateInstancesUnshaped(ctx, ns, className, o, func(u Unshaped) error { return yield(u.Shape()) })
}

// Unshaped is an instance of an enumeration as its provider or the
// repository produced it, with its Path, and what shapes it for the
// operation's options.
type Unshaped struct {
	Instance *cim.Instance
	class    *cim.Class
	filter   *cim.InstanceFilter
}

// Shape returns the instance shaped for the operation (PropertyList,
// LocalOnly, DeepInheritance, qualifiers, class origins). It reads only
// the instance and shared, read-only data, so it may run on any goroutine.
func (u Unshaped) Shape() *cim.Instance { return cim.FilterInstance(u.Instance, u.class, *u.filter) }

// EnumerateInstancesUnshaped is EnumerateInstances for a caller that
// shapes the instances itself, on goroutines of its own: shaping reads
// each instance's properties, so doing it where the instance is encoded
// spares the producing goroutine that first pass over them.
func (s *Server) EnumerateInstancesUnshaped(ctx context.Context, ns, className string, o InstanceOptions, yield func(Unshaped) error) error {
	c, err := s.begin(ctx, "EnumerateInstances", ns, className, false)
	if err != nil {
		return err
	}
	run, err := s.prepareUnshaped(c.ns, className, o, nil)
	if err != nil {
		return c.end(err)
	}
	return c.end(run(ctx, yielder(c, yield)))
}

// enumRun produces the results of a prepared operation.
type enumRun[T any] func(ctx context.Context, yield func(T) error) error

// prepareEnumerateInstances checks an EnumerateInstances request and
// returns what produces its results; keep, when not nil, selects the
// instances (whole, before o shapes them) to return.
func (s *Server) prepareEnumerateInstances(ns, className string, o InstanceOptions, keep func(*cim.Instance) bool) (enumRun[*cim.Instance], error) {
	run, err := s.prepareUnshaped(ns, className, o, keep)
	if err != nil {
		return nil, err
	}
	return shaped(run), nil
}

// prepareUnshaped is prepareEnumerateInstances leaving the shaping to the
// caller.
func (s *Server) prepareUnshaped(ns, className string, o InstanceOptions, keep func(*cim.Instance) bool) (enumRun[Unshaped], error) {
	if err := mustName("ClassName", className); err != nil {
		return nil, err
	}
	top, err := s.Class(ns, className)
	if err != nil {
		return nil, err
	}
	return s.unshapedInstances(ns, top, o, keep, func(ctx context.Context, fn func(*cim.Instance) error) error {
		return s.eachInstance(ctx, ns, top, fn)
	}), nil
}

// shapeInstances returns what yields the instances source produces for an
// enumeration of class top: those keep selects (all when nil), shaped by
// o.
func (s *Server) shapeInstances(ns string, top *cim.Class, o InstanceOptions, keep func(*cim.Instance) bool, source enumRun[*cim.Instance]) enumRun[*cim.Instance] {
	return shaped(s.unshapedInstances(ns, top, o, keep, source))
}

// shaped shapes the instances run yields.
func shaped(run enumRun[Unshaped]) enumRun[*cim.Instance] {
	return func(ctx context.Context, yield func(*cim.Instance) error) error {
		return run(ctx, func(u Unshaped) error { return yield(u.Shape()) })
	}
}

// unshapedInstances is shapeInstances leaving the shaping to the caller.
func (s *Server) unshapedInstances(ns string, top *cim.Class, o InstanceOptions, keep func(*cim.Instance) bool, source enumRun[*cim.Instance]) enumRun[Unshaped] {
	f := instanceFilter(o, top)
	return func(ctx context.Context, yield func(Unshaped) error) error {
		classes := newClassCache(s, ns, top)
		withClass := needsClass(f)
		return source(ctx, func(inst *cim.Instance) error {
			if keep != nil && !keep(inst) {
				return nil
			}
			u := Unshaped{Instance: inst, filter: &f}
			if withClass {
				u.class = classes.get(inst.ClassName)
			}
			return yield(u)
		})
	}
}

// EnumerateInstanceNames yields the paths of the instances of className
// and its subclasses (DSP0200 5.3.2.12).
func (s *Server) EnumerateInstanceNames(ctx context.Context, ns, className string, yield func(*cim.ObjectPath) error) error {
	c, err := s.begin(ctx, "EnumerateInstanceNames", ns, className, false)
	if err != nil {
		return err
	}
	run, err := s.prepareEnumerateInstanceNames(c.ns, className)
	if err != nil {
		return c.end(err)
	}
	return c.end(run(ctx, yielder(c, yield)))
}

func (s *Server) prepareEnumerateInstanceNames(ns, className string) (enumRun[*cim.ObjectPath], error) {
	if err := mustName("ClassName", className); err != nil {
		return nil, err
	}
	top, err := s.Class(ns, className)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, yield func(*cim.ObjectPath) error) error {
		return s.eachInstanceName(ctx, ns, top, yield)
	}, nil
}

// CreateInstance creates an instance and returns its path (DSP0200
// 5.3.2.13).
func (s *Server) CreateInstance(ctx context.Context, ns string, inst *cim.Instance) (*cim.ObjectPath, error) {
	if inst == nil {
		return nil, errorf(cim.ErrInvalidParameter, "NewInstance is missing")
	}
	name := inst.ClassName
	if name == "" && inst.Path != nil {
		name = inst.Path.ClassName
	}
	c, err := s.begin(ctx, "CreateInstance", ns, name, true)
	if err != nil {
		return nil, err
	}
	if err := mustName("the instance's class name", name); err != nil {
		return nil, c.end(err)
	}
	cls, err := s.Class(c.ns, name)
	if err != nil {
		return nil, c.end(err)
	}
	reg := s.reg.instanceProvider(c.ns, cls.Name)
	if reg == nil {
		path, err := s.createStatic(ctx, c.ns, inst)
		return path, c.end(err)
	}
	if reg.creator == nil {
		return nil, c.end(errorf(cim.ErrNotSupported, "instances of %s cannot be created", cls.Name))
	}
	if inst.ClassName == "" {
		cp := *inst
		cp.ClassName = cls.Name
		inst = &cp
	}
	normalized, err := normalizeNew(cls, inst)
	if err != nil {
		return nil, c.end(err)
	}
	path, err := reg.creator.CreateInstance(ctx, c.ns, cls, normalized)
	if err != nil {
		return nil, c.end(err)
	}
	if path == nil {
		if path, err = cls.InstancePath(c.ns, normalized); err != nil {
			return nil, c.end(err)
		}
	}
	return path.WithNamespace("", c.ns), c.end(nil)
}

// normalizeNew checks a new instance for a provider and returns it as
// cim.Class.NormalizeInstance does, except that keys may be missing: a
// provider may assign them (an InstanceID, say).
func normalizeNew(cls *cim.Class, inst *cim.Instance) (*cim.Instance, error) {
	if !cim.EqualNames(inst.ClassName, cls.Name) {
		return nil, errorf(cim.ErrInvalidClass, "instance of %s given for class %s", inst.ClassName, cls.Name)
	}
	if cls.IsAbstract() {
		return nil, errorf(cim.ErrInvalidClass, "class %s is abstract and cannot have instances", cls.Name)
	}
	out := cls.NewInstance()
	for _, p := range inst.Properties() {
		cp := cls.Property(p.Name)
		if cp == nil {
			return nil, errorf(cim.ErrNoSuchProperty, "class %s has no property %s", cls.Name, p.Name)
		}
		v, err := declaredValue(p.Value, cp.Type, cp.IsArray)
		if err != nil {
			return nil, errorf(cim.ErrTypeMismatch, "property %s.%s: %s", cls.Name, cp.Name, errText(err))
		}
		out.Set(cp.Name, v)
	}
	return out, nil
}

// ModifyInstance modifies the instance inst.Path names (DSP0200 5.3.2.14):
// with a nil propertyList every property inst carries, else exactly the
// listed ones. includeQualifiers is deprecated by DSP0200 and ignored:
// instances carry no qualifiers of their own here.
func (s *Server) ModifyInstance(ctx context.Context, ns string, inst *cim.Instance, includeQualifiers bool, propertyList []string) error {
	if inst == nil {
		return errorf(cim.ErrInvalidParameter, "ModifiedInstance is missing")
	}
	c, err := s.begin(ctx, "ModifyInstance", ns, className(inst.Path), true)
	if err != nil {
		return err
	}
	name := inst.Path
	if name == nil {
		cls, err := s.Class(c.ns, inst.ClassName)
		if err != nil {
			return c.end(err)
		}
		if name, err = cls.InstancePath(c.ns, inst); err != nil {
			return c.end(err)
		}
	}
	return c.end(s.modifyInstance(ctx, c.ns, name, inst, propertyList))
}

func (s *Server) modifyInstance(ctx context.Context, ns string, name *cim.ObjectPath, inst *cim.Instance, propertyList []string) error {
	path, cls, err := s.instancePath(ns, name)
	if err != nil {
		return err
	}
	if inst.ClassName != "" && !cim.EqualNames(inst.ClassName, cls.Name) && !cim.EqualNames(inst.ClassName, name.ClassName) {
		return errorf(cim.ErrInvalidParameter, "the modified instance is of class %s but its path names %s", inst.ClassName, cls.Name)
	}
	mod := *inst
	mod.ClassName, mod.Path = cls.Name, path
	reg := s.reg.instanceProvider(ns, cls.Name)
	if reg == nil {
		return s.modifyStatic(ctx, ns, &mod, propertyList)
	}
	if reg.modifier == nil {
		return errorf(cim.ErrNotSupported, "instances of %s cannot be modified", cls.Name)
	}
	current, err := reg.instance.GetInstance(ctx, ns, cls, path)
	if err != nil {
		return err
	}
	if current == nil {
		return errorf(cim.ErrNotFound, "Instance not found: %s", describe(path))
	}
	if err := s.adopt(ns, cls, current); err != nil {
		return err
	}
	modified, err := cls.ModifyInstance(current, &mod, propertyList)
	if err != nil {
		return err
	}
	return reg.modifier.ModifyInstance(ctx, ns, cls, current, modified)
}

// DeleteInstance deletes an instance (DSP0200 5.3.2.15).
func (s *Server) DeleteInstance(ctx context.Context, ns string, name *cim.ObjectPath) error {
	c, err := s.begin(ctx, "DeleteInstance", ns, className(name), true)
	if err != nil {
		return err
	}
	path, cls, err := s.instancePath(c.ns, name)
	if err != nil {
		return c.end(err)
	}
	reg := s.reg.instanceProvider(c.ns, cls.Name)
	switch {
	case reg == nil:
		return c.end(s.deleteStatic(ctx, c.ns, path))
	case reg.deleter == nil:
		return c.end(errorf(cim.ErrNotSupported, "instances of %s cannot be deleted", cls.Name))
	}
	return c.end(reg.deleter.DeleteInstance(ctx, c.ns, cls, path))
}

// GetProperty returns one property of an instance (DSP0200 5.3.2.26); a
// property the instance does not carry is a NULL of the declared type.
func (s *Server) GetProperty(ctx context.Context, ns string, name *cim.ObjectPath, property string) (cim.Value, error) {
	c, err := s.begin(ctx, "GetProperty", ns, className(name), false)
	if err != nil {
		return cim.Value{}, err
	}
	inst, cls, err := s.getInstance(ctx, c.ns, name)
	if err != nil {
		return cim.Value{}, c.end(err)
	}
	cp := cls.Property(property)
	if cp == nil {
		return cim.Value{}, c.end(errorf(cim.ErrNoSuchProperty, "class %s has no property %s", cls.Name, property))
	}
	if p := inst.Property(property); p != nil {
		return p.Value, c.end(nil)
	}
	if cp.IsArray {
		return cim.NullArray(cp.Type), c.end(nil)
	}
	return cim.Null(cp.Type), c.end(nil)
}

// SetProperty sets one property of an instance (DSP0200 5.3.2.27); the
// value is converted to the declared type.
func (s *Server) SetProperty(ctx context.Context, ns string, name *cim.ObjectPath, property string, value cim.Value) error {
	c, err := s.begin(ctx, "SetProperty", ns, className(name), true)
	if err != nil {
		return err
	}
	path, cls, err := s.instancePath(c.ns, name)
	if err != nil {
		return c.end(err)
	}
	cp := cls.Property(property)
	if cp == nil {
		return c.end(errorf(cim.ErrNoSuchProperty, "class %s has no property %s", cls.Name, property))
	}
	mod := cim.NewInstance(cls.Name)
	mod.Set(cp.Name, value)
	return c.end(s.modifyInstance(ctx, c.ns, path, mod, []string{cp.Name}))
}
