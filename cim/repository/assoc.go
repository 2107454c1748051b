package repository

import (
	"bytes"

	"github.com/hypercim/hypercim/cim"
)

// ---- Association traversal (DSP0200 References, ReferenceNames,
// Associators, AssociatorNames) over static association instances.
//
// Instance traversal reads the reference index: every scalar reference
// property of every stored instance has an entry keyed by the object it
// refers to, so finding the associations of an object costs one index
// range, not a scan of the instances.

// ReferenceFilter holds the References/ReferenceNames parameters.
type ReferenceFilter struct {
	// ResultClass keeps the association instances (or classes) of this
	// class or its subclasses; "" keeps all.
	ResultClass string
	// Role keeps the associations that refer to the object through the
	// reference property of this name; "" keeps all.
	Role string
}

// AssociatorFilter holds the Associators/AssociatorNames parameters.
type AssociatorFilter struct {
	// AssocClass keeps the associations of this class or its subclasses.
	AssocClass string
	// ResultClass keeps the associated objects of this class or its
	// subclasses.
	ResultClass string
	// Role keeps the associations that refer to the object through the
	// reference property of this name.
	Role string
	// ResultRole keeps the associated objects the association refers to
	// through the reference property of this name.
	ResultRole string
}

// refScan walks the reference index entries of one target object, in
// chunks like instanceScan.
type refScan struct {
	prefix []byte
	from   []byte
	// seen holds the association instances (References) or the
	// associated objects (Associators) already reported: an association
	// may refer to the object through several roles.
	seen map[string]bool
}

// newRefScan prepares the traversal of the associations of obj, an
// instance path, from namespace sp. A local path is normalized against
// its class when the class exists, as stored references are.
func (t *Tx) newRefScan(sp *txSpace, obj *cim.ObjectPath) (*refScan, error) {
	if obj == nil || !obj.IsInstancePath() {
		return nil, cim.Errorf(cim.ErrInvalidParameter, "%s is not an instance path", obj)
	}
	p := obj
	if isLocal(sp.name, obj) {
		cls, err := t.resolved(sp, obj.ClassName)
		if err != nil {
			return nil, err
		}
		if cls != nil {
			if np, err := cls.NormalizePath(obj); err == nil {
				p = np
			}
		}
	}
	return &refScan{prefix: refPrefix(refTarget(sp.name, p)), seen: map[string]bool{}}, nil
}

// next visits up to limit index entries (limit < 0: all) and calls fn for
// each association instance that refers to the object through a role
// accepted by the role filter and whose class is assocClass or one of its
// subclasses (any class if ""). It reports whether the scan is complete.
func (s *refScan) next(t *Tx, sp *txSpace, role, assocClass string, limit int,
	fn func(role string, assoc *cim.Instance, cls *cim.Class) error) (bool, error) {
	c := sp.ref().Cursor()
	start := s.from
	if start == nil {
		start = s.prefix
	}
	n := 0
	for k, _ := c.Seek(start); k != nil && hasPrefix(k, s.prefix); k, _ = c.Next() {
		if limit >= 0 && n >= limit {
			s.from = bytes.Clone(k)
			return false, nil
		}
		n++
		r, ikey, ok := splitRefKey(k, len(s.prefix))
		if !ok {
			return false, corrupt("bad reference index key %q", k)
		}
		if role != "" && !cim.EqualNames(r, role) {
			continue
		}
		cls, err := t.resolved(sp, instKeyClass(ikey))
		if err != nil {
			return false, err
		}
		if cls == nil {
			return false, corrupt("reference index entry %q names a class that does not exist", k)
		}
		if assocClass != "" {
			if ok, err := t.isA(sp, cls, assocClass); err != nil || !ok {
				if err != nil {
					return false, err
				}
				continue
			}
		}
		data := sp.inst().Get(ikey)
		if data == nil {
			return false, corrupt("reference index entry %q names an instance that does not exist", k)
		}
		inst, err := decodeInstanceRecord(data, cls)
		if err != nil {
			return false, err
		}
		if inst.Path, err = cls.InstancePath(sp.name, inst); err != nil {
			return false, corrupt("association instance %q: %s", ikey, errText(err))
		}
		if err := fn(r, inst, cls); err != nil {
			return false, err
		}
	}
	return true, nil
}

// referencesStep runs one chunk of References: it calls fn with each new
// association instance.
func (t *Tx) referencesStep(sp *txSpace, s *refScan, f ReferenceFilter, limit int, fn func(*cim.Instance) error) (bool, error) {
	return s.next(t, sp, f.Role, f.ResultClass, limit, func(_ string, assoc *cim.Instance, _ *cim.Class) error {
		key := assoc.Path.CanonicalModel()
		if s.seen[key] {
			return nil
		}
		s.seen[key] = true
		return fn(assoc)
	})
}

// associatorsStep runs one chunk of Associators: it calls fn with the
// path of each new associated object, and the object itself when it is a
// static instance of this repository (nil otherwise: a provider's
// instance, or a dangling reference).
func (t *Tx) associatorsStep(sp *txSpace, s *refScan, f AssociatorFilter, limit int, withInstances bool,
	fn func(*cim.ObjectPath, *cim.Instance) error) (bool, error) {
	return s.next(t, sp, f.Role, f.AssocClass, limit, func(role string, assoc *cim.Instance, cls *cim.Class) error {
		for _, p := range assoc.Properties() {
			if p.Type != cim.TypeReference || p.IsArray || p.Value.IsNull() || cim.EqualNames(p.Name, role) {
				continue
			}
			if f.ResultRole != "" && !cim.EqualNames(p.Name, f.ResultRole) {
				continue
			}
			target := p.Value.Ref().Clone()
			if target.Host == "" && target.Namespace == "" {
				target.Namespace = sp.name
			}
			key := refTarget(sp.name, target)
			if s.seen[key] {
				continue
			}
			tsp, tcls, err := t.targetClass(target)
			if err != nil {
				return err
			}
			if f.ResultClass != "" {
				ok := cim.EqualNames(target.ClassName, f.ResultClass)
				if !ok && tcls != nil {
					if ok, err = t.isA(tsp, tcls, f.ResultClass); err != nil {
						return err
					}
				}
				if !ok {
					continue
				}
			}
			s.seen[key] = true
			var inst *cim.Instance
			if withInstances && tcls != nil {
				if inst, err = t.staticInstance(tsp, tcls, target); err != nil {
					return err
				}
			}
			if err := fn(target, inst); err != nil {
				return err
			}
		}
		return nil
	})
}

// targetClass returns the namespace and class of an object an association
// refers to, when this repository holds them (nil otherwise).
func (t *Tx) targetClass(p *cim.ObjectPath) (*txSpace, *cim.Class, error) {
	if p.Host != "" {
		return nil, nil, nil
	}
	sp, err := t.space(p.Namespace)
	if err != nil {
		return nil, nil, nil // another server's namespace, or one deleted
	}
	cls, err := t.resolved(sp, p.ClassName)
	return sp, cls, err
}

// staticInstance returns the stored instance p names, nil if there is
// none.
func (t *Tx) staticInstance(sp *txSpace, cls *cim.Class, p *cim.ObjectPath) (*cim.Instance, error) {
	np, err := cls.NormalizePath(p)
	if err != nil {
		return nil, nil
	}
	np.ClassName, np.Host, np.Namespace = cls.Name, "", sp.name
	data := sp.inst().Get(instKey(sp.name, np))
	if data == nil {
		return nil, nil
	}
	inst, err := decodeInstanceRecord(data, cls)
	if err != nil {
		return nil, err
	}
	inst.Path = np
	return inst, nil
}

// References calls fn with each association instance that refers to obj,
// an instance path (its namespace, if any, tells whether it is local;
// with none it is an object of ns), filtered by f. Each comes once, with
// its path set. obj need not be a stored instance: a provider's objects
// have static associations too. Errors: CIM_ERR_INVALID_PARAMETER (obj is
// not an instance path), CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) References(ns string, obj *cim.ObjectPath, f ReferenceFilter, fn func(*cim.Instance) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	s, err := t.newRefScan(sp, obj)
	if err != nil {
		return err
	}
	_, err = t.referencesStep(sp, s, f, -1, fn)
	return err
}

// ReferenceNames is References with the paths only.
func (t *Tx) ReferenceNames(ns string, obj *cim.ObjectPath, f ReferenceFilter, fn func(*cim.ObjectPath) error) error {
	return t.References(ns, obj, f, func(inst *cim.Instance) error { return fn(inst.Path) })
}

// Associators calls fn with each object associated with obj through a
// static association of ns, filtered by f, once each: its path (with its
// namespace set) and, when the repository holds it as a static instance,
// the instance; otherwise inst is nil and the caller may ask the
// object's provider. Errors: as References.
func (t *Tx) Associators(ns string, obj *cim.ObjectPath, f AssociatorFilter, fn func(path *cim.ObjectPath, inst *cim.Instance) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	s, err := t.newRefScan(sp, obj)
	if err != nil {
		return err
	}
	_, err = t.associatorsStep(sp, s, f, -1, true, fn)
	return err
}

// AssociatorNames is Associators with the paths only.
func (t *Tx) AssociatorNames(ns string, obj *cim.ObjectPath, f AssociatorFilter, fn func(*cim.ObjectPath) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	s, err := t.newRefScan(sp, obj)
	if err != nil {
		return err
	}
	_, err = t.associatorsStep(sp, s, f, -1, false, func(p *cim.ObjectPath, _ *cim.Instance) error { return fn(p) })
	return err
}

// ---- Class-level traversal: References and Associators of a class path.

// associationClasses returns the resolved association classes of sp whose
// class is assocClass or a subclass of it ("" for all).
func (t *Tx) associationClasses(sp *txSpace, assocClass string) ([]*cim.Class, error) {
	var out []*cim.Class
	c := sp.assoc().Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		cls, err := t.resolved(sp, string(k))
		if err != nil {
			return nil, err
		}
		if cls == nil {
			return nil, corrupt("association index names class %q, which does not exist", k)
		}
		if assocClass != "" {
			ok, err := t.isA(sp, cls, assocClass)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, cls)
	}
	return out, nil
}

// lineage returns the folded names of cls and its superclasses.
func (t *Tx) lineage(sp *txSpace, cls *cim.Class) (map[string]bool, error) {
	names := map[string]bool{}
	for depth := 0; cls != nil && depth < maxClassDepth; depth++ {
		names[cim.FoldName(cls.Name)] = true
		if cls.SuperClass == "" {
			break
		}
		var err error
		if cls, err = t.resolved(sp, cls.SuperClass); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// sourceClass returns the class a class-level traversal starts from:
// CIM_ERR_INVALID_PARAMETER if it does not exist (DSP0200 has no
// CIM_ERR_NOT_FOUND for these operations).
func (t *Tx) sourceClass(sp *txSpace, name string) (*cim.Class, map[string]bool, error) {
	cls, err := t.mustClass(sp, name, cim.ErrInvalidParameter)
	if err != nil {
		return nil, nil, err
	}
	lin, err := t.lineage(sp, cls)
	return cls, lin, err
}

// ReferenceClasses calls fn with each association class (resolved,
// shared: do not modify) with a reference to className or one of its
// superclasses, filtered by f: DSP0200 References on a class path.
// Errors: CIM_ERR_INVALID_PARAMETER (no such class),
// CIM_ERR_INVALID_NAMESPACE.
func (t *Tx) ReferenceClasses(ns, className string, f ReferenceFilter, fn func(*cim.Class) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	_, lin, err := t.sourceClass(sp, className)
	if err != nil {
		return err
	}
	assocs, err := t.associationClasses(sp, f.ResultClass)
	if err != nil {
		return err
	}
	for _, ac := range assocs {
		for _, p := range ac.Properties() {
			if p.Type == cim.TypeReference && lin[cim.FoldName(p.ReferenceClass)] &&
				(f.Role == "" || cim.EqualNames(p.Name, f.Role)) {
				if err := fn(ac); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// AssociatorClasses calls fn once with each class at the other end of an
// association class that refers to className or one of its superclasses,
// filtered by f: DSP0200 Associators on a class path. The classes are
// resolved and shared. Errors: as ReferenceClasses.
func (t *Tx) AssociatorClasses(ns, className string, f AssociatorFilter, fn func(*cim.Class) error) error {
	sp, err := t.space(ns)
	if err != nil {
		return err
	}
	_, lin, err := t.sourceClass(sp, className)
	if err != nil {
		return err
	}
	assocs, err := t.associationClasses(sp, f.AssocClass)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, ac := range assocs {
		props := ac.Properties()
		for i := range props {
			from := &props[i]
			if from.Type != cim.TypeReference || !lin[cim.FoldName(from.ReferenceClass)] ||
				f.Role != "" && !cim.EqualNames(from.Name, f.Role) {
				continue
			}
			for j := range props {
				to := &props[j]
				if j == i || to.Type != cim.TypeReference || f.ResultRole != "" && !cim.EqualNames(to.Name, f.ResultRole) {
					continue
				}
				rc, err := t.resolved(sp, to.ReferenceClass)
				if err != nil {
					return err
				}
				if rc == nil || seen[cim.FoldName(rc.Name)] {
					continue
				}
				if f.ResultClass != "" {
					ok, err := t.isA(sp, rc, f.ResultClass)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
				}
				seen[cim.FoldName(rc.Name)] = true
				if err := fn(rc); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
