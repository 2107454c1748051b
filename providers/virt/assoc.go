package virt

import (
	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// pathOf builds the path of an object.
func (p *Provider) pathOf(r ref) *cim.ObjectPath {
	switch r.kind {
	case kindHost:
		return p.hostPath()
	case kindSystem:
		return systemPath(r.id)
	case kindVSMS:
		return p.vsmsPath()
	case kindSnapService:
		return p.snapServicePath()
	case kindVSMSCaps:
		return idPath(classVSMSCaps, idCaps+capsMgmt)
	case kindSnapServiceCaps:
		return idPath(classSnapServiceCaps, idCaps+capsSnapSvc)
	case kindStateCaps:
		return idPath(classStateCaps, stateCapsID(r.id))
	case kindSnapCaps:
		return idPath(classSnapCaps, snapshotCapsID(r.id))
	case kindVSSD:
		return idPath(classVSSD, vssdID(r.id))
	case kindRASD:
		return rasdPath(r.id, r.dev, r.part)
	case kindPool:
		return idPath(classPool, poolID(r.pool))
	case kindAllocCaps:
		return idPath(classAllocCaps, allocCapsID(r.pool))
	case kindTemplate:
		part := ""
		if pd := poolByKey(r.pool); pd != nil {
			part = pd.part
		}
		return idPath(rasdClass(part), templateID(r.pool, r.role))
	case kindDevice:
		return devicePath(r.class, r.id, r.dev)
	case kindJob:
		return idPath(classJob, jobID(r.id))
	}
	return nil
}

// link is one association instance: two ends and extra properties.
type link struct {
	class string
	roles [2]string
	ends  [2]ref
	props []cim.ParamValue
}

func (l link) has(r ref) bool { return l.ends[0] == r || l.ends[1] == r }

var (
	refHost     = ref{kind: kindHost}
	refVSMS     = ref{kind: kindVSMS}
	refSnapSvc  = ref{kind: kindSnapService}
	refVSMSCaps = ref{kind: kindVSMSCaps}
	refSnapCaps = ref{kind: kindSnapServiceCaps}
)

// systemOf returns the system an object belongs to, "" for objects of
// the host.
func (w *world) systemOf(r ref) string {
	switch r.kind {
	case kindSystem, kindDevice, kindStateCaps, kindSnapCaps:
		return r.id
	case kindVSSD, kindRASD:
		if _, ok := w.byID[r.id]; ok {
			return r.id
		}
		if s, ok := w.snapByID[r.id]; ok {
			return s.System
		}
		return r.id
	}
	return ""
}

// systemsFor lists the systems whose links can involve the focus.
func (w *world) systemsFor(focus *ref) []*vmm.System {
	if focus != nil {
		if id := w.systemOf(*focus); id != "" {
			if v, ok := w.byID[id]; ok {
				return []*vmm.System{v}
			}
			return nil
		}
	}
	out := make([]*vmm.System, len(w.systems))
	for i := range w.systems {
		out[i] = &w.systems[i]
	}
	return out
}

func u16s(vs ...uint16) cim.Value { return cim.NewUint16Array(vs) }

// links yields the instances of one association class, all of them or
// those involving focus.
func (p *Provider) links(w *world, class string, focus *ref, yield func(link) error) error {
	emit := func(l link) error {
		if focus != nil && !l.has(*focus) {
			return nil
		}
		l.class = class
		return yield(l)
	}
	two := func(a, b string) [2]string { return [2]string{a, b} }
	switch class {
	case assocHostedService:
		for _, svc := range []ref{refVSMS, refSnapSvc} {
			if err := emit(link{roles: two("Antecedent", "Dependent"), ends: [2]ref{refHost, svc}}); err != nil {
				return err
			}
		}
	case assocHostedPool:
		for _, pd := range pools {
			if err := emit(link{roles: two("GroupComponent", "PartComponent"), ends: [2]ref{refHost, {kind: kindPool, pool: pd.key}}}); err != nil {
				return err
			}
		}
	case assocDefineCaps:
		for _, pd := range pools {
			for _, tr := range templateRoles {
				l := link{roles: two("GroupComponent", "PartComponent"),
					ends: [2]ref{{kind: kindAllocCaps, pool: pd.key}, {kind: kindTemplate, pool: pd.key, role: tr.role}},
					props: []cim.ParamValue{{Name: "PropertyPolicy", Value: cim.NewUint16(0)},
						{Name: "ValueRole", Value: cim.NewUint16(tr.valueRole)}, {Name: "ValueRange", Value: cim.NewUint16(tr.valueRng)}}}
				if err := emit(l); err != nil {
					return err
				}
			}
		}
	case assocElementCaps:
		fixed := []link{
			{ends: [2]ref{refVSMS, refVSMSCaps}},
			{ends: [2]ref{refSnapSvc, refSnapCaps}},
		}
		for _, pd := range pools {
			fixed = append(fixed, link{ends: [2]ref{{kind: kindPool, pool: pd.key}, {kind: kindAllocCaps, pool: pd.key}}})
		}
		for _, v := range w.systemsFor(focus) {
			fixed = append(fixed,
				link{ends: [2]ref{{kind: kindSystem, id: v.UUID}, {kind: kindStateCaps, id: v.UUID}}},
				link{ends: [2]ref{{kind: kindSystem, id: v.UUID}, {kind: kindSnapCaps, id: v.UUID}}})
		}
		for _, l := range fixed {
			l.roles = two("ManagedElement", "Capabilities")
			l.props = []cim.ParamValue{{Name: "Characteristics", Value: u16s(2, 3)}}
			if err := emit(l); err != nil {
				return err
			}
		}
	case assocHostedDependency, assocServiceAffects, assocDefineState, assocElementSetting, assocVSSDComponent,
		assocSystemDevice, assocSnapshotOf, assocLastApplied, assocMostCurrentSnapshot, assocAllocatedFromPool,
		assocAllocationFromPool:
		for _, v := range w.systemsFor(focus) {
			if err := p.systemLinks(w, v, class, emit); err != nil {
				return err
			}
		}
	case assocAffectedJob, assocOwningJob:
		for _, j := range w.jobList(p) {
			if focus != nil && focus.kind == kindJob && focus.id != j.ID {
				continue
			}
			jr := ref{kind: kindJob, id: j.ID}
			if class == assocOwningJob {
				owner := refVSMS
				if j.Owner == vmm.OwnerSnapshot {
					owner = refSnapSvc
				}
				if err := emit(link{roles: two("OwningElement", "OwnedElement"), ends: [2]ref{owner, jr}}); err != nil {
					return err
				}
				continue
			}
			for _, a := range j.Affected {
				var er ref
				switch a.Kind {
				case "system":
					if _, ok := w.byID[a.ID]; !ok {
						continue // not created yet, or destroyed
					}
					er = ref{kind: kindSystem, id: a.ID}
				case "snapshot":
					if _, ok := w.snapByID[a.ID]; !ok {
						continue
					}
					er = ref{kind: kindVSSD, id: a.ID}
				default:
					continue
				}
				effects := a.Effects
				if len(effects) == 0 {
					effects = []uint16{0}
				}
				l := link{roles: two("AffectedElement", "AffectingElement"), ends: [2]ref{er, jr},
					props: []cim.ParamValue{{Name: "ElementEffects", Value: cim.NewUint16Array(effects)}}}
				if err := emit(l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jobList returns the world's jobs, read when first needed.
func (w *world) jobList(p *Provider) []vmm.Job {
	if w.jobs == nil {
		w.jobs = p.m.Jobs()
	}
	return w.jobs
}

// systemLinks yields the links of one class that involve one system.
func (p *Provider) systemLinks(w *world, v *vmm.System, class string, emit func(link) error) error {
	sys := ref{kind: kindSystem, id: v.UUID}
	vssd := ref{kind: kindVSSD, id: v.UUID}
	two := func(a, b string) [2]string { return [2]string{a, b} }
	switch class {
	case assocHostedDependency:
		return emit(link{roles: two("Antecedent", "Dependent"), ends: [2]ref{refHost, sys}})
	case assocServiceAffects:
		for _, svc := range []ref{refVSMS, refSnapSvc} {
			l := link{roles: two("AffectedElement", "AffectingElement"), ends: [2]ref{sys, svc},
				props: []cim.ParamValue{{Name: "ElementEffects", Value: u16s(5)}}}
			if err := emit(l); err != nil {
				return err
			}
		}
	case assocElementSetting:
		return emit(link{roles: two("ManagedElement", "SettingData"), ends: [2]ref{sys, vssd},
			props: []cim.ParamValue{{Name: "IsDefault", Value: cim.NewUint16(1)}, {Name: "IsCurrent", Value: cim.NewUint16(1)},
				{Name: "IsNext", Value: cim.NewUint16(1)}}})
	case assocDefineState:
		if err := emit(link{roles: two("ManagedElement", "SettingData"), ends: [2]ref{sys, vssd}}); err != nil {
			return err
		}
		for _, d := range deviceRefs(v) {
			dev, part := allocationOf(d)
			if err := emit(link{roles: two("ManagedElement", "SettingData"), ends: [2]ref{d, {kind: kindRASD, id: v.UUID, dev: dev, part: part}}}); err != nil {
				return err
			}
		}
	case assocSystemDevice:
		for _, d := range deviceRefs(v) {
			if err := emit(link{roles: two("GroupComponent", "PartComponent"), ends: [2]ref{sys, d}}); err != nil {
				return err
			}
		}
	case assocAllocatedFromPool:
		for _, d := range deviceRefs(v) {
			dev, part := allocationOf(d)
			pd := poolOfAllocation(&v.Def, dev, part)
			if pd == nil {
				continue
			}
			if err := emit(link{roles: two("Antecedent", "Dependent"), ends: [2]ref{{kind: kindPool, pool: pd.key}, d}}); err != nil {
				return err
			}
		}
	case assocAllocationFromPool:
		for _, a := range allocations(v.UUID, v.Def) {
			pd := poolOfAllocation(&v.Def, a.dev, a.part)
			if err := emit(link{roles: two("Antecedent", "Dependent"), ends: [2]ref{{kind: kindPool, pool: pd.key}, a}}); err != nil {
				return err
			}
		}
	case assocVSSDComponent:
		owners := []struct {
			owner string
			def   vmm.Definition
		}{{v.UUID, v.Def}}
		for _, s := range w.bySystem[v.UUID] {
			owners = append(owners, struct {
				owner string
				def   vmm.Definition
			}{s.ID, s.Def})
		}
		for _, o := range owners {
			for _, a := range allocations(o.owner, o.def) {
				if err := emit(link{roles: two("GroupComponent", "PartComponent"), ends: [2]ref{{kind: kindVSSD, id: o.owner}, a}}); err != nil {
					return err
				}
			}
		}
	case assocSnapshotOf:
		for _, s := range w.bySystem[v.UUID] {
			if err := emit(link{roles: two("Antecedent", "Dependent"), ends: [2]ref{sys, {kind: kindVSSD, id: s.ID}}}); err != nil {
				return err
			}
		}
	case assocLastApplied:
		if _, ok := w.snapByID[v.LastApplied]; ok {
			return emit(link{roles: two("Antecedent", "Dependent"), ends: [2]ref{{kind: kindVSSD, id: v.LastApplied}, sys}})
		}
	case assocMostCurrentSnapshot:
		if _, ok := w.snapByID[v.Branch]; ok {
			return emit(link{roles: two("Antecedent", "Dependent"), ends: [2]ref{sys, {kind: kindVSSD, id: v.Branch}}})
		}
	}
	return nil
}

// allocations lists the allocation refs of a definition.
func allocations(owner string, def vmm.Definition) []ref {
	out := []ref{{kind: kindRASD, id: owner, dev: "proc"}, {kind: kindRASD, id: owner, dev: "mem"}}
	for _, d := range def.Disks {
		out = append(out, ref{kind: kindRASD, id: owner, dev: d.ID})
		if d.Image != "" {
			out = append(out, ref{kind: kindRASD, id: owner, dev: d.ID, part: partImage})
		}
	}
	for _, n := range def.NICs {
		out = append(out, ref{kind: kindRASD, id: owner, dev: n.ID})
		if n.Connected {
			out = append(out, ref{kind: kindRASD, id: owner, dev: n.ID, part: partConnection})
		}
	}
	return out
}

// linkInstance renders a link.
func (p *Provider) linkInstance(l link) (*cim.Instance, error) {
	b := p.newInst(l.class)
	for i := range 2 {
		b.set(l.roles[i], cim.NewReference(p.pathOf(l.ends[i])))
	}
	for _, pv := range l.props {
		b.set(pv.Name, pv.Value)
	}
	return b.done()
}
