package wbem

import (
	"context"
	"time"

	"github.com/hypercim/hypercim/cim"
)

// LifecycleEvent is the kind of change a lifecycle indication reports.
type LifecycleEvent uint8

// Lifecycle events: CIM_InstCreation, CIM_InstModification,
// CIM_InstDeletion.
const (
	InstanceCreated  = LifecycleEvent(lifecycleCreation)
	InstanceModified = LifecycleEvent(lifecycleModification)
	InstanceDeleted  = LifecycleEvent(lifecycleDeletion)
)

func (e LifecycleEvent) class() string {
	for _, lc := range lifecycleClasses() {
		if lc.kind == uint8(e) {
			return lc.class
		}
	}
	return ""
}

// Publish hands an indication of namespace ns to the subscriptions that
// select it (see IndicationPublisher.PublishIndication).
func (x *Indications) Publish(ctx context.Context, ns string, indication *cim.Instance) error {
	if indication == nil {
		return errorf(cim.ErrInvalidParameter, "the indication is missing")
	}
	name, err := x.s.resolveNamespace(ns)
	if err != nil {
		return err
	}
	cls, err := x.s.Class(name, indication.ClassName)
	if err != nil {
		return err
	}
	if !cls.IsIndication() {
		return errorf(cim.ErrInvalidClass, "%s is not an indication class", cls.Name)
	}
	x.dispatch(name, indication)
	return nil
}

// Wanted reports whether an enabled subscription may select indications
// of className from namespace ns.
func (x *Indications) Wanted(ns, className string) bool {
	snap := x.snap.Load()
	if snap.count == 0 {
		return false
	}
	name, err := x.s.resolveNamespace(ns)
	if err != nil {
		return false
	}
	key := cim.FoldName(name)
	for _, sub := range snap.byNS[key] {
		if sel := sub.filter.selects[key]; sel != nil && x.s.IsA(name, className, sel.ClassName) {
			return true
		}
	}
	return false
}

// lifecycleWanted reports whether an enabled subscription may select the
// lifecycle indications of event in namespace ns (resolved): the test
// that keeps static instance writes free of indication work when nobody
// listens.
func (x *Indications) lifecycleWanted(ns string, event LifecycleEvent) bool {
	snap := x.snap.Load()
	if snap.count == 0 {
		return false
	}
	key := cim.FoldName(ns)
	for _, sub := range snap.byNS[key] {
		if sub.filter.lifecycle[key]&uint8(event) != 0 {
			return true
		}
	}
	return false
}

// PublishLifecycle publishes the lifecycle indication of a change to an
// instance of namespace ns: source is the instance after the change (for
// a deletion, as it was), previous the instance before a modification.
// The core calls it for static instances; providers call it for theirs.
// Nothing is built when no subscription may select it, and nothing at all
// in a namespace without the lifecycle classes.
func (x *Indications) PublishLifecycle(ctx context.Context, ns string, event LifecycleEvent, source, previous *cim.Instance) error {
	if source == nil {
		return errorf(cim.ErrInvalidParameter, "the source instance is missing")
	}
	name, err := x.s.resolveNamespace(ns)
	if err != nil {
		return err
	}
	if !x.lifecycleWanted(name, event) {
		return nil
	}
	cls, err := x.s.Class(name, event.class())
	if err != nil {
		return nil
	}
	inst := cls.NewInstance()
	inst.Set("SourceInstance", cim.NewEmbeddedInstance(source))
	path := source.Path
	if path == nil {
		if sc, err := x.s.Class(name, source.ClassName); err == nil {
			path, _ = sc.InstancePath(name, source)
		}
	}
	if path != nil {
		inst.Set("SourceInstanceModelPath", cim.NewString(path.ModelPath()))
	}
	if x.hostName != "" {
		inst.Set("SourceInstanceHost", cim.NewString(x.hostName))
	}
	if event == InstanceModified && previous != nil {
		inst.Set("PreviousInstance", cim.NewEmbeddedInstance(previous))
		inst.Set("ChangedPropertyNames", cim.NewStringArray(changedProperties(previous, source)))
	}
	x.dispatch(name, inst)
	return nil
}

// changedProperties lists the properties whose values differ.
func changedProperties(before, after *cim.Instance) []string {
	out := []string{}
	for _, p := range after.Properties() {
		if q := before.Property(p.Name); q == nil || !q.Value.Equal(p.Value) {
			out = append(out, p.Name)
		}
	}
	for _, p := range before.Properties() {
		if !after.Has(p.Name) {
			out = append(out, p.Name)
		}
	}
	return out
}

// PublishLifecycle publishes a lifecycle indication (see
// Indications.PublishLifecycle).
func (s *Server) PublishLifecycle(ctx context.Context, ns string, event LifecycleEvent, source, previous *cim.Instance) error {
	return s.ind.PublishLifecycle(ctx, ns, event, source, previous)
}

// dispatch queues a copy of indication for every enabled subscription of
// namespace ns (resolved) that selects it.
func (x *Indications) dispatch(ns string, indication *cim.Instance) {
	x.published.Add(1)
	key := cim.FoldName(ns)
	subs := x.snap.Load().byNS[key]
	if len(subs) == 0 {
		return
	}
	now := time.Now()
	base := indication
	if base.Get("IndicationTime").IsNull() || base.Get("IndicationIdentifier").IsNull() {
		base = shallowCopy(indication)
		if base.Get("IndicationTime").IsNull() {
			if v, err := cim.NewTimestampValue(now); err == nil {
				base.Set("IndicationTime", v)
			}
		}
		if base.Get("IndicationIdentifier").IsNull() {
			base.Set("IndicationIdentifier", cim.NewString(x.newIdentifier()))
		}
	}
	id := base.Get("IndicationIdentifier").Str()
	schema := schemaOf{s: x.s, ns: ns}
	for _, sub := range subs {
		sel := sub.filter.selects[key]
		if sel == nil || !sub.enabled() || !x.s.IsA(ns, base.ClassName, sel.ClassName) || !sel.Match(base, schema) {
			continue
		}
		if !x.s.allowed(sub.principal, ns, false) {
			continue
		}
		out := shallowCopy(sel.Project(base))
		out.Path = nil
		out.Set("IndicationFilterName", cim.NewString(sub.filter.name))
		out.Set("SequenceContext", cim.NewString(sub.seqContext))
		out.Set("SequenceNumber", cim.NewSint64(sub.seq.Add(1)-1))
		sub.mu.Lock()
		sub.lastID, sub.lastTime = id, now
		sub.mu.Unlock()
		x.matched.Add(1)
		sub.queue.enqueue(sub, out)
	}
}

// shallowCopy copies an instance's properties; their values are
// immutable and shared.
func shallowCopy(inst *cim.Instance) *cim.Instance {
	out := cim.NewInstance(inst.ClassName)
	out.Path = inst.Path
	for _, p := range inst.Properties() {
		out.AddProperty(p)
	}
	return out
}
