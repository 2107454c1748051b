package wbem

import (
	"context"
	"errors"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
)

// Association traversal (DSP0200 5.3.2.16-5.3.2.19). Static associations
// come from the repository's reference index; association classes served
// by a provider are asked through AssociationProvider.References, or by
// filtering their enumeration. Targets a static association names but the
// repository does not hold come from their providers, in whatever
// namespace they live.

// Associators yields the objects associated with object.
func (s *Server) Associators(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, yield func(AssocResult) error) error {
	c, err := s.begin(ctx, "Associators", ns, className(object), false)
	if err != nil {
		return err
	}
	run, err := s.prepareAssociators(c.ns, object, f, o, false, nil)
	if err != nil {
		return c.end(err)
	}
	return c.end(run(ctx, yielder(c, yield)))
}

// AssociatorNames yields the paths of the objects associated with object.
func (s *Server) AssociatorNames(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, yield func(*cim.ObjectPath) error) error {
	c, err := s.begin(ctx, "AssociatorNames", ns, className(object), false)
	if err != nil {
		return err
	}
	run, err := s.prepareAssociators(c.ns, object, f, InstanceOptions{}, true, nil)
	if err != nil {
		return c.end(err)
	}
	y := yielder(c, yield)
	return c.end(run(ctx, func(r AssocResult) error { return y(r.Path) }))
}

// References yields the associations that refer to object.
func (s *Server) References(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, yield func(AssocResult) error) error {
	c, err := s.begin(ctx, "References", ns, className(object), false)
	if err != nil {
		return err
	}
	run, err := s.prepareReferences(c.ns, object, f, o, false, nil)
	if err != nil {
		return c.end(err)
	}
	return c.end(run(ctx, yielder(c, yield)))
}

// ReferenceNames yields the paths of the associations that refer to
// object.
func (s *Server) ReferenceNames(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, yield func(*cim.ObjectPath) error) error {
	c, err := s.begin(ctx, "ReferenceNames", ns, className(object), false)
	if err != nil {
		return err
	}
	run, err := s.prepareReferences(c.ns, object, f, InstanceOptions{}, true, nil)
	if err != nil {
		return c.end(err)
	}
	y := yielder(c, yield)
	return c.end(run(ctx, func(r AssocResult) error { return y(r.Path) }))
}

// checkAssocFilter checks the names of a traversal's filters.
func checkAssocFilter(f AssocFilter) error {
	for _, p := range []struct{ what, name string }{
		{"AssocClass", f.AssocClass}, {"ResultClass", f.ResultClass}, {"Role", f.Role}, {"ResultRole", f.ResultRole},
	} {
		if p.name != "" && !cim.ValidName(p.name) {
			return errorf(cim.ErrInvalidParameter, "%s %q is not a valid CIM name", p.what, p.name)
		}
	}
	return nil
}

// sourceObject checks the object a traversal starts from: an instance path
// (normalized, with its class) or a class path (instance nil).
func (s *Server) sourceObject(ns string, object *cim.ObjectPath) (*cim.ObjectPath, *cim.Class, error) {
	if object == nil {
		return nil, nil, errorf(cim.ErrInvalidParameter, "ObjectName is missing")
	}
	if err := mustName("ObjectName's class", object.ClassName); err != nil {
		return nil, nil, err
	}
	cls, err := s.Class(ns, object.ClassName)
	if err != nil {
		// DSP0200 lists no CIM_ERR_INVALID_CLASS for these operations.
		return nil, nil, errorf(cim.ErrInvalidParameter, "ObjectName names class %s, which does not exist", object.ClassName)
	}
	if !object.IsInstancePath() {
		return nil, cls, nil
	}
	path, err := cls.NormalizePath(object)
	if err != nil {
		return nil, nil, err
	}
	path.Host, path.Namespace, path.ClassName = "", ns, cls.Name
	return path, cls, nil
}

func classFilterOf(o InstanceOptions) cim.ClassFilter {
	return cim.ClassFilter{IncludeQualifiers: o.IncludeQualifiers, IncludeClassOrigin: o.IncludeClassOrigin, PropertyList: o.PropertyList}
}

func assocInstanceFilter(o InstanceOptions) cim.InstanceFilter {
	return cim.InstanceFilter{PropertyList: o.PropertyList, IncludeQualifiers: o.IncludeQualifiers, IncludeClassOrigin: o.IncludeClassOrigin}
}

// prepareAssociators checks an Associators request and returns what
// produces its results; with namesOnly the results carry only paths. keep,
// when not nil, selects the instances (whole, before o shapes them) to
// return.
func (s *Server) prepareAssociators(ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, namesOnly bool, keep func(*cim.Instance) bool) (enumRun[AssocResult], error) {
	if err := checkAssocFilter(f); err != nil {
		return nil, err
	}
	obj, cls, err := s.sourceObject(ns, object)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		cf := classFilterOf(o)
		return func(ctx context.Context, yield func(AssocResult) error) error {
			return s.repo.AssociatorClasses(ns, cls.Name, repository.AssociatorFilter(f), func(ac *cim.Class) error {
				r := AssocResult{Path: cim.NewClassPath(ns, ac.Name)}
				if !namesOnly {
					r.Class = cim.FilterClass(ac, cf)
				}
				return yield(r)
			})
		}, nil
	}
	filter := assocInstanceFilter(o)
	return func(ctx context.Context, yield func(AssocResult) error) error {
		seen := map[string]bool{}
		emit := func(target *cim.ObjectPath, inst *cim.Instance) error {
			if target.Host == "" && target.Namespace == "" {
				target = target.WithNamespace("", ns)
			}
			key := target.WithNamespace("", target.Namespace).Canonical()
			if seen[key] {
				return nil
			}
			seen[key] = true
			if namesOnly {
				return yield(AssocResult{Path: target})
			}
			inst, tcls, err := s.associatedInstance(ctx, target, inst)
			if err != nil || inst == nil || keep != nil && !keep(inst) {
				return err
			}
			return yield(AssocResult{Instance: cim.FilterInstance(inst, tcls, filter), Path: inst.Path})
		}
		af := repository.AssociatorFilter(f)
		var err error
		if namesOnly {
			err = s.repo.AssociatorNames(ns, obj, af, func(p *cim.ObjectPath) error { return emit(p, nil) })
		} else {
			err = s.repo.Associators(ns, obj, af, emit)
		}
		if err != nil {
			return err
		}
		return s.providerAssociations(ctx, ns, obj, cls, f.AssocClass, f.Role, func(assoc *cim.Instance, role string) error {
			for _, p := range assoc.Properties() {
				if p.Type != cim.TypeReference || p.IsArray || p.Value.IsNull() || cim.EqualNames(p.Name, role) ||
					f.ResultRole != "" && !cim.EqualNames(p.Name, f.ResultRole) {
					continue
				}
				target := p.Value.Ref()
				if f.ResultClass != "" && !s.targetIsA(ns, target, f.ResultClass) {
					continue
				}
				if err := emit(target, nil); err != nil {
					return err
				}
			}
			return nil
		})
	}, nil
}

// targetIsA reports whether the object target names is of class
// className or a subclass, judged in the target's namespace.
func (s *Server) targetIsA(ns string, target *cim.ObjectPath, className string) bool {
	if cim.EqualNames(target.ClassName, className) {
		return true
	}
	tns := ns
	if target.Namespace != "" {
		tns = target.Namespace
	}
	if name, err := s.resolveNamespace(tns); err == nil {
		return s.IsA(name, target.ClassName, className)
	}
	return false
}

// associatedInstance returns the instance an association names, from its
// provider when the repository did not have it; nil when it does not exist
// (a dangling reference), lives on another server, or the caller may not
// read its namespace.
func (s *Server) associatedInstance(ctx context.Context, target *cim.ObjectPath, inst *cim.Instance) (*cim.Instance, *cim.Class, error) {
	if target.Host != "" {
		return nil, nil, nil
	}
	tns, err := s.resolveNamespace(target.Namespace)
	if err != nil {
		return nil, nil, nil
	}
	if p, _ := PrincipalFrom(ctx); !s.allowed(p, tns, false) {
		return nil, nil, nil
	}
	if inst != nil {
		cls, err := s.Class(tns, inst.ClassName)
		if err != nil {
			return nil, nil, err
		}
		return inst, cls, nil
	}
	inst, cls, err := s.getInstance(ctx, tns, target)
	switch {
	case errors.Is(err, cim.ErrNotFound), errors.Is(err, cim.ErrInvalidClass), errors.Is(err, cim.ErrInvalidParameter):
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return inst, cls, nil
}

// providerAssociations calls fn with each instance of a provider-served
// association class (assocClass or a subclass, any if "") that refers to
// obj (through role, if not ""), with the name of the property through
// which it does (fn is called once per such property).
func (s *Server) providerAssociations(ctx context.Context, ns string, obj *cim.ObjectPath, cls *cim.Class, assocClass, role string, fn func(assoc *cim.Instance, role string) error) error {
	if !s.reg.hasInstanceProviders(ns) {
		return nil
	}
	var classes []*cim.Class
	err := s.repo.ReferenceClasses(ns, cls.Name, repository.ReferenceFilter{ResultClass: assocClass, Role: role}, func(ac *cim.Class) error {
		if s.reg.instanceProvider(ns, ac.Name) != nil {
			classes = append(classes, ac)
		}
		return nil
	})
	if err != nil {
		return err
	}
	objKey := obj.CanonicalModel()
	for _, ac := range classes {
		reg := s.reg.instanceProvider(ns, ac.Name)
		visit := func(inst *cim.Instance) error {
			if err := s.adopt(ns, ac, inst); err != nil {
				return err
			}
			for _, p := range inst.Properties() {
				if p.Type != cim.TypeReference || p.IsArray || p.Value.IsNull() || role != "" && !cim.EqualNames(p.Name, role) {
					continue
				}
				if refersTo(p.Value.Ref(), ns, objKey) {
					if err := fn(inst, p.Name); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if reg.assoc != nil {
			err = reg.assoc.References(ctx, ns, ac, obj, role, visit)
		} else {
			err = reg.instance.EnumerateInstances(ctx, ns, ac, visit)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// refersTo reports whether reference value ref (relative to namespace ns)
// names the object of namespace ns whose canonical model path is objKey.
func refersTo(ref *cim.ObjectPath, ns string, objKey string) bool {
	if ref.Host != "" || ref.Namespace != "" && !cim.EqualNames(CanonicalNamespace(ref.Namespace), ns) {
		return false
	}
	return ref.CanonicalModel() == objKey
}

// prepareReferences checks a References request and returns what produces
// its results; keep is as for prepareAssociators.
func (s *Server) prepareReferences(ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, namesOnly bool, keep func(*cim.Instance) bool) (enumRun[AssocResult], error) {
	if err := checkAssocFilter(f); err != nil {
		return nil, err
	}
	obj, cls, err := s.sourceObject(ns, object)
	if err != nil {
		return nil, err
	}
	rf := repository.ReferenceFilter{ResultClass: f.ResultClass, Role: f.Role}
	if obj == nil {
		cf := classFilterOf(o)
		return func(ctx context.Context, yield func(AssocResult) error) error {
			return s.repo.ReferenceClasses(ns, cls.Name, rf, func(ac *cim.Class) error {
				r := AssocResult{Path: cim.NewClassPath(ns, ac.Name)}
				if !namesOnly {
					r.Class = cim.FilterClass(ac, cf)
				}
				return yield(r)
			})
		}, nil
	}
	filter := assocInstanceFilter(o)
	return func(ctx context.Context, yield func(AssocResult) error) error {
		classes := newClassCache(s, ns, nil)
		emit := func(inst *cim.Instance) error {
			if keep != nil && !keep(inst) {
				return nil
			}
			if namesOnly {
				return yield(AssocResult{Path: inst.Path})
			}
			return yield(AssocResult{Instance: cim.FilterInstance(inst, classes.get(inst.ClassName), filter), Path: inst.Path})
		}
		if err := s.repo.References(ns, obj, rf, emit); err != nil {
			return err
		}
		var last *cim.Instance
		return s.providerAssociations(ctx, ns, obj, cls, f.ResultClass, f.Role, func(assoc *cim.Instance, _ string) error {
			if assoc == last { // refers to obj through several roles
				return nil
			}
			last = assoc
			return emit(assoc)
		})
	}, nil
}
