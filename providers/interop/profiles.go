package interop

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// Profile is a management profile a provider implements, as
// RegisterProfile advertises it (DSP1033).
type Profile struct {
	// Organization is the organization that publishes the profile, one
	// of the Values of CIM_RegisteredProfile.RegisteredOrganization
	// ("DMTF", "SNIA", ...); "DMTF" when empty. Any other name is
	// advertised as Other with OtherRegisteredOrganization.
	Organization string
	// Name and Version are the profile's registered name and version
	// ("System Virtualization", "1.0.0").
	Name    string
	Version string
	// InstanceID of the HC_RegisteredProfile instance; ID() derives one
	// from organization, name and version when empty.
	InstanceID string
	// References are the InstanceIDs of the profiles this profile
	// references (its component profiles), linked by
	// HC_ReferencedProfile once both are registered.
	References []string
	// ImplementedFeatures lists optional features of the profile.
	ImplementedFeatures []string
	// The central instances, for HC_ElementConformsToProfile and
	// GetCentralInstances: Central when set, else the instances of
	// CentralClass (and its subclasses) in CentralNamespace.
	// ElementConformsToProfile is served in CentralNamespace too, which
	// must hold the class HC_ElementConformsToProfile.
	CentralNamespace string
	CentralClass     string
	Central          func(ctx context.Context, yield func(*cim.ObjectPath) error) error
}

// ID returns the InstanceID of the profile's HC_RegisteredProfile
// instance: InstanceID, or "HC:<organization>:<name without spaces>:<version>".
func (prof Profile) ID() string {
	if prof.InstanceID != "" {
		return prof.InstanceID
	}
	org := prof.Organization
	if org == "" {
		org = "DMTF"
	}
	return "HC:" + org + ":" + strings.ReplaceAll(prof.Name, " ", "") + ":" + prof.Version
}

// registeredProfile is a Profile as registered.
type registeredProfile struct {
	Profile
	id    string
	org   uint16
	other string
	path  *cim.ObjectPath
}

// RegisterProfile advertises a profile and returns the path of its
// HC_RegisteredProfile instance. Registering a profile with the InstanceID
// of one already registered is an error.
func (p *Provider) RegisterProfile(prof Profile) (*cim.ObjectPath, error) {
	if prof.Name == "" || prof.Version == "" {
		return nil, errors.New("interop: a profile needs a name and a version")
	}
	if prof.Central == nil && (prof.CentralClass == "") != (prof.CentralNamespace == "") {
		return nil, fmt.Errorf("interop: profile %s: CentralClass and CentralNamespace go together", prof.Name)
	}
	cls, err := p.core.Class(Namespace, classProfile)
	if err != nil {
		return nil, err
	}
	org, other, err := organization(cls, prof.Organization)
	if err != nil {
		return nil, fmt.Errorf("interop: profile %s: %w", prof.Name, err)
	}
	rp := &registeredProfile{Profile: prof, id: prof.ID(), org: org, other: other}
	rp.path = cim.NewInstancePath(Namespace, classProfile, cim.KeyBinding{Name: "InstanceID", Value: cim.NewString(rp.id)})
	if ns := prof.CentralNamespace; ns != "" && !cim.EqualNames(wbem.CanonicalNamespace(ns), Namespace) {
		if err := p.serveConforms(ns); err != nil {
			return nil, fmt.Errorf("interop: profile %s: %w", prof.Name, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.profiles {
		if o.id == rp.id {
			return nil, fmt.Errorf("interop: profile %s is already registered", rp.id)
		}
	}
	p.profiles = append(p.profiles, rp)
	return rp.path.Clone(), nil
}

// serveConforms registers the provider for HC_ElementConformsToProfile in
// namespace ns, once.
func (p *Provider) serveConforms(ns string) error {
	ns = wbem.CanonicalNamespace(ns)
	p.mu.Lock()
	done := p.conformsNS[cim.FoldName(ns)]
	p.conformsNS[cim.FoldName(ns)] = true
	p.mu.Unlock()
	if done {
		return nil
	}
	if _, err := p.core.Class(ns, classConforms); err != nil {
		p.mu.Lock()
		delete(p.conformsNS, cim.FoldName(ns))
		p.mu.Unlock()
		return fmt.Errorf("namespace %s lacks class %s: %w", ns, classConforms, err)
	}
	if p.reg == nil {
		return errors.New("the interop provider is not registered yet")
	}
	return p.reg.Register(ns, p, classConforms)
}

// organization maps an organization name to RegisteredOrganization and
// OtherRegisteredOrganization.
func organization(cls *cim.Class, name string) (uint16, string, error) {
	if name == "" {
		name = "DMTF"
	}
	prop := cls.Property("RegisteredOrganization")
	if prop == nil {
		return 0, "", errors.New("HC_RegisteredProfile has no RegisteredOrganization")
	}
	vm, err := prop.ValueMap()
	if err != nil || vm == nil {
		return 0, "", fmt.Errorf("the value map of RegisteredOrganization: %v", err)
	}
	if v, ok := vm.ValueOf(name); ok {
		if n, ok := v.Uint(); ok && n != 1 {
			return uint16(n), "", nil
		}
	}
	return 1, name, nil // Other
}

func (p *Provider) registered() []*registeredProfile {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]*registeredProfile(nil), p.profiles...)
}

func (rp *registeredProfile) instance(class *cim.Class) *cim.Instance {
	inst := class.NewInstance()
	inst.Set("InstanceID", cim.NewString(rp.id))
	inst.Set("RegisteredOrganization", cim.NewUint16(rp.org))
	if rp.other != "" {
		inst.Set("OtherRegisteredOrganization", cim.NewString(rp.other))
	}
	inst.Set("RegisteredName", cim.NewString(rp.Name))
	inst.Set("RegisteredVersion", cim.NewString(rp.Version))
	inst.Set("SpecificationType", cim.NewUint16(2)) // Profile
	inst.Set("AdvertiseTypes", cim.NewUint16Array([]uint16{2}))
	inst.Set("AdvertiseTypeDescriptions", cim.NewStringArray([]string{"Not advertised by SLP"}))
	org := rp.Organization
	if org == "" {
		org = "DMTF"
	}
	inst.Set("ElementName", cim.NewString(org+" "+rp.Name+" "+rp.Version))
	if len(rp.ImplementedFeatures) > 0 {
		inst.Set("ImplementedFeatures", cim.NewStringArray(rp.ImplementedFeatures))
	}
	return inst
}

// eachReferenced produces HC_ReferencedProfile: Antecedent the referenced
// (component) profile, Dependent the referencing one.
func (p *Provider) eachReferenced(class *cim.Class, yield func(*cim.Instance) error) error {
	profiles := p.registered()
	byID := map[string]*registeredProfile{}
	for _, rp := range profiles {
		byID[rp.id] = rp
	}
	for _, rp := range profiles {
		for _, ref := range rp.References {
			if target := byID[ref]; target != nil {
				if err := yield(association(class, "Antecedent", target.path, "Dependent", rp.path)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// central calls fn with the central instances of a profile, with their
// namespaces set.
func (p *Provider) central(ctx context.Context, rp *registeredProfile, fn func(*cim.ObjectPath) error) error {
	if rp.Central != nil {
		return rp.Central(ctx, func(path *cim.ObjectPath) error {
			if path.Namespace == "" {
				ns := rp.CentralNamespace
				if ns == "" {
					ns = Namespace
				}
				path = path.WithNamespace("", ns)
			}
			return fn(path)
		})
	}
	if rp.CentralClass == "" {
		return nil
	}
	// The server's own reading, whoever asked: conformance is public
	// knowledge in the interop namespace.
	return p.core.EnumerateInstanceNames(wbem.Internal(ctx), rp.CentralNamespace, rp.CentralClass, fn)
}

// eachConforms produces HC_ElementConformsToProfile in namespace ns: every
// profile's central instances in root/interop, and those of the profiles
// whose central instances live in ns elsewhere.
func (p *Provider) eachConforms(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error {
	interop := cim.EqualNames(wbem.CanonicalNamespace(ns), Namespace)
	for _, rp := range p.registered() {
		centralNS := rp.CentralNamespace
		if centralNS == "" {
			centralNS = Namespace
		}
		if !interop && !cim.EqualNames(wbem.CanonicalNamespace(centralNS), wbem.CanonicalNamespace(ns)) {
			continue
		}
		if err := p.central(ctx, rp, func(path *cim.ObjectPath) error {
			return yield(association(class, "ConformantStandard", rp.path, "ManagedElement", path))
		}); err != nil {
			return err
		}
	}
	return nil
}

// InvokeMethod implements wbem.MethodProvider for the methods of
// HC_RegisteredProfile: GetCentralInstances (DSP1033 1.1) returns the
// central instances; the deprecated Open/Pull/CloseConformantInstances
// answer 1 (Not Supported), in favour of GetCentralInstances and the
// pull operations.
func (p *Provider) InvokeMethod(ctx context.Context, ns string, class *cim.Class, object *cim.ObjectPath, method *cim.Method, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	if !cim.EqualNames(class.Name, classProfile) {
		return cim.Value{}, nil, cim.Errorf(cim.ErrMethodNotAvailable, "%s.%s is not implemented", class.Name, method.Name)
	}
	switch {
	case cim.EqualNames(method.Name, "GetCentralInstances"):
		if !object.IsInstancePath() {
			return cim.Value{}, nil, cim.NewError(cim.ErrInvalidParameter, "GetCentralInstances is invoked on a registered profile instance")
		}
		id, _ := object.Key("InstanceID")
		var rp *registeredProfile
		for _, r := range p.registered() {
			if r.id == id.Str() {
				rp = r
			}
		}
		if rp == nil {
			return cim.Value{}, nil, cim.Errorf(cim.ErrNotFound, "Instance not found: %s", object.ModelPath())
		}
		var paths []*cim.ObjectPath
		if err := p.central(ctx, rp, func(path *cim.ObjectPath) error {
			paths = append(paths, path)
			return nil
		}); err != nil {
			return cim.Value{}, nil, err
		}
		return cim.NewUint8(0), []cim.ParamValue{{Name: "CentralInstances", Value: cim.NewReferenceArray(paths)}}, nil
	case cim.EqualNames(method.Name, "OpenConformantInstances"), cim.EqualNames(method.Name, "PullConformantInstances"), cim.EqualNames(method.Name, "CloseConformantInstances"):
		return cim.NewUint32(1), nil, nil // Not Supported
	}
	return cim.Value{}, nil, cim.Errorf(cim.ErrMethodNotAvailable, "%s.%s is not implemented", class.Name, method.Name)
}
