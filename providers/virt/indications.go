package virt

import (
	"context"
	"sync"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/wbem"
)

// Publisher is where the provider sends lifecycle indications; the core's
// *wbem.Server is one.
type Publisher interface {
	PublishLifecycle(ctx context.Context, ns string, event wbem.LifecycleEvent, source, previous *cim.Instance) error
	IndicationsWanted(ns, className string) bool
}

// indicator turns the manager's changes into lifecycle indications:
// CIM_InstCreation, CIM_InstModification (with PreviousInstance) and
// CIM_InstDeletion of HC_ComputerSystem (VirtualSystemStateChange) and
// HC_ConcreteJob (ConcreteJobStateChange).
type indicator struct {
	p   *Provider
	pub Publisher

	mu   sync.Mutex
	last map[string]*cim.Instance // by kind/ID: what was last published
}

// SetPublisher makes the provider send lifecycle indications of virtual
// systems and jobs to pub. It is set once, before clients are served.
func (p *Provider) SetPublisher(pub Publisher) {
	p.ind = &indicator{p: p, pub: pub, last: map[string]*cim.Instance{}}
}

var lifecycleClass = map[vmm.Event]string{
	vmm.Created: "CIM_InstCreation", vmm.Modified: "CIM_InstModification", vmm.Deleted: "CIM_InstDeletion",
}

var lifecycleEvent = map[vmm.Event]wbem.LifecycleEvent{
	vmm.Created: wbem.InstanceCreated, vmm.Modified: wbem.InstanceModified, vmm.Deleted: wbem.InstanceDeleted,
}

// onChange is the manager's OnChange.
func (p *Provider) onChange(c vmm.Change) {
	if p.ind != nil {
		p.ind.change(c)
	}
}

func (x *indicator) change(c vmm.Change) {
	key := c.Kind + "/" + c.ID
	if !x.pub.IndicationsWanted(Namespace, lifecycleClass[c.Event]) {
		// Nobody listens: forget what was published, so that a later
		// subscriber is not sent a stale PreviousInstance.
		x.mu.Lock()
		delete(x.last, key)
		x.mu.Unlock()
		return
	}
	var cur *cim.Instance
	var err error
	switch {
	case c.Kind == "system" && c.System != nil:
		cur, err = x.p.systemInstance(c.System)
	case c.Kind == "system":
		var v vmm.System
		if v, err = x.p.m.System(c.ID); err != nil {
			return // gone meanwhile: its deletion follows
		}
		cur, err = x.p.systemInstance(&v)
	case c.Kind == "job" && c.Job != nil:
		cur, err = x.p.jobInstance(*c.Job)
	case c.Kind == "job":
		var j vmm.Job
		if j, err = x.p.m.Job(c.ID); err != nil {
			return
		}
		cur, err = x.p.jobInstance(j)
	}
	if err != nil || cur == nil {
		return
	}
	x.mu.Lock()
	prev := x.last[key]
	if c.Event == vmm.Deleted {
		delete(x.last, key)
	} else {
		x.last[key] = cur
	}
	x.mu.Unlock()
	if c.Event == vmm.Modified && prev != nil && prev.Equal(cur) {
		return // a change the instance does not show
	}
	if err := x.pub.PublishLifecycle(context.Background(), Namespace, lifecycleEvent[c.Event], cur, prev); err != nil {
		x.p.log.WithError(err).Warn("publishing an indication")
	}
}
