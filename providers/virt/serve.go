package virt

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// enumerate yields every instance of exactly the named class (one of
// InstanceClasses or AssociationClasses), each with its path. Subclasses
// are the core's business: it asks for each.
func (p *Provider) enumerate(className string, yield func(*cim.Instance) error) error {
	w := p.world()
	one := func(i *cim.Instance, err error) error {
		if err != nil || i == nil {
			return err
		}
		return yield(i)
	}
	switch canon := canonicalName(className); canon {
	case classHost:
		return one(p.hostInstance())
	case classVSMS:
		return one(p.serviceInstance(classVSMS, vsmsName, "Virtual system management service"))
	case classSnapService:
		return one(p.serviceInstance(classSnapService, snapServiceName, "Virtual system snapshot service"))
	case classVSMSCaps:
		return one(p.vsmsCapsInstance())
	case classSnapServiceCaps:
		return one(p.snapServiceCapsInstance())
	case classSystem, classStateCaps, classSnapCaps:
		for i := range w.systems {
			v := &w.systems[i]
			var err error
			switch canon {
			case classSystem:
				err = one(p.systemInstance(v))
			case classStateCaps:
				err = one(p.stateCapsInstance(v))
			default:
				err = one(p.snapCapsInstance(v))
			}
			if err != nil {
				return err
			}
		}
	case classVSSD:
		for i := range w.systems {
			v := &w.systems[i]
			if err := one(p.vssdInstance(v, nil)); err != nil {
				return err
			}
			for _, s := range w.bySystem[v.UUID] {
				if err := one(p.vssdInstance(v, s)); err != nil {
					return err
				}
			}
		}
	case classRASD, classSASD, classEPASD:
		only := func(i *cim.Instance) error {
			if cim.EqualNames(i.ClassName, canon) {
				return yield(i)
			}
			return nil
		}
		for i := range w.systems {
			v := &w.systems[i]
			def := v.Def
			if canon == classRASD {
				def = p.inForce(v)
			}
			if err := p.rasdInstances(v.UUID, def, only); err != nil {
				return err
			}
			for _, s := range w.bySystem[v.UUID] {
				if err := p.rasdInstances(s.ID, s.Def, only); err != nil {
					return err
				}
			}
		}
		for i := range pools {
			if rasdClass(pools[i].part) != canon {
				continue
			}
			for _, tr := range templateRoles {
				if err := one(p.templateInstance(&pools[i], tr.role)); err != nil {
					return err
				}
			}
		}
	case classPool, classAllocCaps:
		for i := range pools {
			var err error
			if canon == classPool {
				err = one(p.poolInstance(&pools[i], w))
			} else {
				err = one(p.allocCapsInstance(&pools[i]))
			}
			if err != nil {
				return err
			}
		}
	case classProcessor, classMemory, classDiskDrive, classLogicalDisk, classEthernetPort:
		for i := range w.systems {
			v := &w.systems[i]
			for _, r := range deviceRefs(v) {
				if r.class != canon {
					continue
				}
				if err := one(p.deviceInstance(v, r)); err != nil {
					return err
				}
			}
		}
	case classJob:
		for _, j := range w.jobList(p) {
			if err := one(p.jobInstance(j)); err != nil {
				return err
			}
		}
	default:
		if isAssociation(canon) {
			return p.links(w, canon, nil, func(l link) error { return one(p.linkInstance(l)) })
		}
		return cim.Errorf(cim.ErrInvalidClass, "the virtualization provider does not serve class %s", className)
	}
	return nil
}

// canonicalName spells a class of ours as we do ("" when not ours).
func canonicalName(name string) string {
	for _, c := range instanceClasses {
		if cim.EqualNames(c, name) {
			return c
		}
	}
	for _, c := range associationClasses {
		if cim.EqualNames(c, name) {
			return c
		}
	}
	return name
}

func isAssociation(name string) bool {
	for _, c := range associationClasses {
		if c == name {
			return true
		}
	}
	return false
}

// get returns the instance a path names, or CIM_ERR_NOT_FOUND. The path's
// class may be ours or a DMTF superclass; association paths are matched
// by their references.
func (p *Provider) get(path *cim.ObjectPath) (*cim.Instance, error) {
	if canon := canonicalName(path.ClassName); isAssociation(canon) {
		return p.getLink(canon, path)
	}
	r, ok := p.parseRef(path)
	if !ok {
		return nil, notFound(path)
	}
	var w *world
	if id := r.id; id != "" && r.kind != kindJob {
		sysID := id
		if r.kind == kindVSSD || r.kind == kindRASD {
			if s, err := p.m.Snapshot(id); err == nil {
				sysID = s.System
			}
		}
		var err error
		if w, err = p.worldOf(sysID); err != nil {
			return nil, notFound(path)
		}
	} else {
		w = p.world()
	}
	i, err := p.instanceOf(w, r)
	if err != nil {
		return nil, err
	}
	if i == nil {
		return nil, notFound(path)
	}
	if !p.classFits(path.ClassName, i.ClassName) {
		return nil, notFound(path)
	}
	return i, nil
}

// classFits reports whether an instance of class actual answers a path
// naming class asked (the same class or one of its superclasses).
func (p *Provider) classFits(asked, actual string) bool {
	for name := actual; name != ""; {
		if cim.EqualNames(name, asked) {
			return true
		}
		c, err := p.class(name)
		if err != nil {
			return false
		}
		name = c.SuperClass
	}
	return false
}

// instanceOf builds the instance of a ref; nil, nil when it does not
// exist.
func (p *Provider) instanceOf(w *world, r ref) (*cim.Instance, error) {
	sys := func() *vmm.System { return w.byID[r.id] }
	switch r.kind {
	case kindHost:
		return p.hostInstance()
	case kindVSMS:
		return p.serviceInstance(classVSMS, vsmsName, "Virtual system management service")
	case kindSnapService:
		return p.serviceInstance(classSnapService, snapServiceName, "Virtual system snapshot service")
	case kindVSMSCaps:
		return p.vsmsCapsInstance()
	case kindSnapServiceCaps:
		return p.snapServiceCapsInstance()
	case kindSystem, kindStateCaps, kindSnapCaps:
		v := sys()
		if v == nil {
			return nil, nil
		}
		switch r.kind {
		case kindSystem:
			return p.systemInstance(v)
		case kindStateCaps:
			return p.stateCapsInstance(v)
		}
		return p.snapCapsInstance(v)
	case kindVSSD:
		if v := sys(); v != nil {
			return p.vssdInstance(v, nil)
		}
		if s := w.snapByID[r.id]; s != nil {
			if v := w.byID[s.System]; v != nil {
				return p.vssdInstance(v, s)
			}
		}
	case kindRASD:
		if v := sys(); v != nil {
			def := v.Def
			if r.dev == "proc" || r.dev == "mem" {
				def = p.inForce(v)
			}
			return p.rasdInstance(v.UUID, def, r.dev, r.part)
		}
		if s := w.snapByID[r.id]; s != nil {
			return p.rasdInstance(s.ID, s.Def, r.dev, r.part)
		}
	case kindPool, kindAllocCaps, kindTemplate:
		pd := poolByKey(r.pool)
		if pd == nil {
			return nil, nil
		}
		switch r.kind {
		case kindPool:
			return p.poolInstance(pd, p.world())
		case kindAllocCaps:
			return p.allocCapsInstance(pd)
		}
		for _, tr := range templateRoles {
			if tr.role == r.role {
				return p.templateInstance(pd, r.role)
			}
		}
	case kindDevice:
		if v := sys(); v != nil {
			return p.deviceInstance(v, r)
		}
	case kindJob:
		j, err := p.m.Job(r.id)
		if err != nil {
			return nil, nil
		}
		return p.jobInstance(j)
	}
	return nil, nil
}

// getLink finds an association instance by its references.
func (p *Provider) getLink(class string, path *cim.ObjectPath) (*cim.Instance, error) {
	var ends []ref
	for _, kb := range path.Keys {
		if kb.Value.Type() != cim.TypeReference {
			continue
		}
		r, ok := p.parseRef(kb.Value.Ref())
		if !ok {
			return nil, notFound(path)
		}
		ends = append(ends, r)
	}
	if len(ends) != 2 {
		return nil, notFound(path)
	}
	w := p.world()
	var found *cim.Instance
	err := p.links(w, class, &ends[0], func(l link) error {
		if l.has(ends[1]) && found == nil {
			i, err := p.linkInstance(l)
			if err != nil {
				return err
			}
			if keysMatch(path, i.Path) {
				found = i
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, notFound(path)
	}
	return found, nil
}

// keysMatch compares the role names of two association paths.
func keysMatch(asked, have *cim.ObjectPath) bool {
	for _, kb := range asked.Keys {
		if _, ok := have.Key(kb.Name); !ok {
			return false
		}
	}
	return true
}

// referencesOf yields the instances of association class assocClass (ours)
// that refer to object, optionally only through the reference property
// role.
func (p *Provider) referencesOf(assocClass string, object *cim.ObjectPath, role string, yield func(*cim.Instance) error) error {
	class := canonicalName(assocClass)
	if !isAssociation(class) {
		return cim.Errorf(cim.ErrInvalidClass, "%s is not an association the virtualization provider serves", assocClass)
	}
	r, ok := p.parseRef(object)
	if !ok {
		return nil
	}
	w := p.world()
	return p.links(w, class, &r, func(l link) error {
		if role != "" {
			at := -1
			for i := range 2 {
				if l.ends[i] == r {
					at = i
				}
			}
			if at < 0 || !strings.EqualFold(l.roles[at], role) {
				return nil
			}
		}
		i, err := p.linkInstance(l)
		if err != nil {
			return err
		}
		return yield(i)
	})
}
