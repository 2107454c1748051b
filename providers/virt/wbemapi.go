package virt

import (
	"context"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
	"github.com/hypercim/hypercim/wbem"
)

// The provider serves the core through the wbem provider interfaces.
var (
	_ wbem.InstanceProvider    = (*Provider)(nil)
	_ wbem.MethodProvider      = (*Provider)(nil)
	_ wbem.AssociationProvider = (*Provider)(nil)
	_ wbem.InstanceDeleter     = (*Provider)(nil)
)

// Register registers the provider with the core for every class it
// serves in root/virt.
func (p *Provider) Register(reg *wbem.Registry) error {
	return reg.Register(Namespace, p, append(InstanceClasses(), AssociationClasses()...)...)
}

// EnumerateInstances implements wbem.InstanceProvider.
func (p *Provider) EnumerateInstances(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error {
	return p.enumerate(class.Name, yield)
}

// GetInstance implements wbem.InstanceProvider.
func (p *Provider) GetInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (*cim.Instance, error) {
	i, err := p.get(name)
	if err != nil {
		return nil, err
	}
	if !cim.EqualNames(i.ClassName, class.Name) {
		return nil, notFound(name)
	}
	return i, nil
}

// InvokeMethod implements wbem.MethodProvider.
func (p *Provider) InvokeMethod(ctx context.Context, ns string, class *cim.Class, object *cim.ObjectPath, method *cim.Method, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	return p.invoke(ctx, object, method.Name, in)
}

// References implements wbem.AssociationProvider.
func (p *Provider) References(ctx context.Context, ns string, assoc *cim.Class, object *cim.ObjectPath, role string, yield func(*cim.Instance) error) error {
	return p.referencesOf(assoc.Name, object, role, yield)
}

// DeleteInstance implements wbem.InstanceDeleter: ended jobs can be
// deleted before their TimeBeforeRemoval passes; everything else changes
// through the management methods.
func (p *Provider) DeleteInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) error {
	r, ok := p.parseRef(name)
	if !ok || r.kind != kindJob || !cim.EqualNames(class.Name, classJob) {
		return cim.Errorf(cim.ErrNotSupported, "instances of %s are changed through the virtual system management service's methods, not deleted", class.Name)
	}
	if err := p.m.DeleteJob(r.id); err != nil {
		if vmm.CodeOf(err) == vmm.NotFound {
			return notFound(name)
		}
		return cim.Errorf(cim.ErrFailed, "%v", err)
	}
	return nil
}

// HostPath is the path of the host system (HC_HostSystem), which the
// interop namespace links to the object manager.
func (p *Provider) HostPath() *cim.ObjectPath { return p.hostPath() }
