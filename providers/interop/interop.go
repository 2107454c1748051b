package interop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// Namespace is the interop namespace.
const Namespace = wbem.InteropNamespace

// Protocols of the listeners a server advertises.
const (
	ProtocolCIMXML = "CIM-XML"
	ProtocolWSMan  = "WS-Management"
)

// Listener is one address a protocol is served at.
type Listener struct {
	// Protocol is ProtocolCIMXML or ProtocolWSMan.
	Protocol string
	// URL is where clients reach it, e.g. "https://host:5989/cimom".
	URL string
	// Authentication lists the HTTP authentication schemes offered:
	// "Basic", "Digest" (none: no authentication, as with --no-auth).
	Authentication []string
}

// Config describes the server the interop namespace advertises.
type Config struct {
	// Product and Version name the server ("hypercim", "0.1.0").
	Product string
	Version string
	// SystemName is the name of the host the server runs on (the host
	// name when empty) and SystemCreationClassName its class
	// ("HC_HostSystem" when empty): the scoping keys of the object
	// manager and the communication mechanisms.
	SystemName              string
	SystemCreationClassName string
	// Listeners are the protocol endpoints to advertise.
	Listeners []Listener
	// Pull are the server's pull limits, advertised on the CIM-XML
	// mechanisms; zero fields are the wbem defaults.
	Pull wbem.PullLimits
	// Indications is the server's indication service, whose
	// subscription classes, service and DSP1054 profile the provider
	// serves; when nil, that of the core (a *wbem.Server has one).
	Indications *wbem.Indications
}

// Class names served in root/interop.
const (
	classObjectManager   = "HC_ObjectManager"
	classNamespace       = "HC_Namespace"
	classCIMNamespace    = "CIM_Namespace"
	classNamespaceInMgr  = "HC_NamespaceInManager"
	classCIMXMLMechanism = "HC_CIMXMLCommunicationMechanism"
	classWSManMechanism  = "HC_WSManCommunicationMechanism"
	classCommForManager  = "HC_CommMechanismForManager"
	classHostedService   = "CIM_HostedService"
	classProfile         = "HC_RegisteredProfile"
	classReferenced      = "HC_ReferencedProfile"
	classConforms        = "HC_ElementConformsToProfile"
)

// Provider serves root/interop. It is safe for concurrent use.
type Provider struct {
	core wbem.Core
	cfg  Config
	reg  *wbem.Registry
	ind  *wbem.Indications // nil: no indication classes

	mu         sync.RWMutex
	hostSystem *cim.ObjectPath
	profiles   []*registeredProfile // in registration order
	conformsNS map[string]bool      // folded namespaces where ECTP is registered
}

// New returns the interop provider of the server core.
func New(core wbem.Core, cfg Config) (*Provider, error) {
	if cfg.Product == "" || cfg.Version == "" {
		return nil, errors.New("interop: the product name and version are needed")
	}
	if cfg.SystemName == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		cfg.SystemName = host
	}
	if cfg.SystemCreationClassName == "" {
		cfg.SystemCreationClassName = "HC_HostSystem"
	}
	for _, l := range cfg.Listeners {
		if l.Protocol != ProtocolCIMXML && l.Protocol != ProtocolWSMan {
			return nil, fmt.Errorf("interop: unknown protocol %q (use %q or %q)", l.Protocol, ProtocolCIMXML, ProtocolWSMan)
		}
		if u, err := url.Parse(l.URL); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("interop: invalid listener URL %q", l.URL)
		}
	}
	ind := cfg.Indications
	if s, ok := core.(interface{ Indications() *wbem.Indications }); ok && ind == nil {
		ind = s.Indications()
	}
	return &Provider{core: core, cfg: cfg, ind: ind, conformsNS: map[string]bool{}}, nil
}

// Register registers the provider for the classes of root/interop and
// registers the DSP1033 Profile Registration profile.
func (p *Provider) Register(reg *wbem.Registry) error {
	p.reg = reg
	if err := reg.Register(Namespace, p, classObjectManager, classNamespace, classCIMNamespace, classNamespaceInMgr,
		classCIMXMLMechanism, classWSManMechanism, classCommForManager, classHostedService,
		classProfile, classReferenced, classConforms); err != nil {
		return err
	}
	p.mu.Lock()
	p.conformsNS[cim.FoldName(Namespace)] = true
	p.mu.Unlock()
	om := p.objectManagerPath()
	if _, err := p.RegisterProfile(Profile{
		Organization: "DMTF",
		Name:         "Profile Registration",
		Version:      "1.1.0",
		Central: func(ctx context.Context, yield func(*cim.ObjectPath) error) error {
			return yield(om)
		},
	}); err != nil {
		return err
	}
	return p.registerIndications(reg)
}

// SetHostSystem sets the path of the CIM_System instance the server runs
// on (the virtualization provider's host system), which CIM_HostedService
// links to the object manager.
func (p *Provider) SetHostSystem(path *cim.ObjectPath) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hostSystem = path.Clone()
}

// objectManagerPath returns the path of the one object manager.
func (p *Provider) objectManagerPath() *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, classObjectManager,
		cim.KeyBinding{Name: "SystemCreationClassName", Value: cim.NewString(p.cfg.SystemCreationClassName)},
		cim.KeyBinding{Name: "SystemName", Value: cim.NewString(p.cfg.SystemName)},
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString(classObjectManager)},
		cim.KeyBinding{Name: "Name", Value: cim.NewString(p.cfg.Product)},
	)
}

var (
	_ wbem.InstanceProvider = (*Provider)(nil)
	_ wbem.InstanceCreator  = (*Provider)(nil)
	_ wbem.InstanceDeleter  = (*Provider)(nil)
	_ wbem.InstanceModifier = (*Provider)(nil)
	_ wbem.MethodProvider   = (*Provider)(nil)
)

// EnumerateInstances implements wbem.InstanceProvider.
func (p *Provider) EnumerateInstances(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error {
	return p.each(ctx, ns, class, yield)
}

// GetInstance implements wbem.InstanceProvider: the instances are few, and
// computed, so the one asked for is found among them.
func (p *Provider) GetInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (*cim.Instance, error) {
	if p.ind != nil && isSubscriptionClass(class.Name) && cim.EqualNames(ns, Namespace) {
		return p.ind.Get(name)
	}
	want := name.CanonicalModel()
	var found *cim.Instance
	errFound := errors.New("found")
	err := p.each(ctx, ns, class, func(inst *cim.Instance) error {
		path, err := class.InstancePath(ns, inst)
		if err != nil {
			return err
		}
		if path.CanonicalModel() == want {
			found = inst
			return errFound
		}
		return nil
	})
	if found != nil {
		return found, nil
	}
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	return nil, cim.Errorf(cim.ErrNotFound, "Instance not found: %s", name.ModelPath())
}

// each produces the instances of class (exactly) in namespace ns.
func (p *Provider) each(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error {
	name := class.Name
	if !cim.EqualNames(ns, Namespace) {
		if cim.EqualNames(name, classConforms) {
			return p.eachConforms(ctx, ns, class, yield)
		}
		return nil
	}
	if ok, err := p.eachIndication(class, yield); ok {
		return err
	}
	switch {
	case cim.EqualNames(name, classObjectManager):
		return yield(p.objectManager(class))
	case cim.EqualNames(name, classNamespace):
		return p.eachNamespace(class, func(inst *cim.Instance, _ *cim.ObjectPath) error { return yield(inst) })
	case cim.EqualNames(name, classNamespaceInMgr):
		om := p.objectManagerPath()
		nsClass, err := p.core.Class(Namespace, classNamespace)
		if err != nil {
			return err
		}
		return p.eachNamespace(nsClass, func(_ *cim.Instance, path *cim.ObjectPath) error {
			return yield(association(class, "Antecedent", om, "Dependent", path))
		})
	case cim.EqualNames(name, classCIMXMLMechanism):
		return p.eachMechanism(ProtocolCIMXML, class, func(inst *cim.Instance) error { return yield(inst) })
	case cim.EqualNames(name, classWSManMechanism):
		return p.eachMechanism(ProtocolWSMan, class, func(inst *cim.Instance) error { return yield(inst) })
	case cim.EqualNames(name, classCommForManager):
		om := p.objectManagerPath()
		for _, proto := range []string{ProtocolCIMXML, ProtocolWSMan} {
			mclass, err := p.core.Class(Namespace, mechanismClass(proto))
			if err != nil {
				return err
			}
			if err := p.eachMechanism(proto, mclass, func(inst *cim.Instance) error {
				path, err := mclass.InstancePath(Namespace, inst)
				if err != nil {
					return err
				}
				return yield(association(class, "Antecedent", om, "Dependent", path))
			}); err != nil {
				return err
			}
		}
		return nil
	case cim.EqualNames(name, classHostedService):
		p.mu.RLock()
		host := p.hostSystem
		p.mu.RUnlock()
		if host == nil {
			return nil
		}
		if err := yield(association(class, "Antecedent", host, "Dependent", p.objectManagerPath())); err != nil || p.ind == nil {
			return err
		}
		return yield(association(class, "Antecedent", host, "Dependent", p.indicationServicePath()))
	case cim.EqualNames(name, classProfile):
		for _, rp := range p.registered() {
			if err := yield(rp.instance(class)); err != nil {
				return err
			}
		}
		return nil
	case cim.EqualNames(name, classReferenced):
		return p.eachReferenced(class, yield)
	case cim.EqualNames(name, classConforms):
		return p.eachConforms(ctx, ns, class, yield)
	}
	// CIM_Namespace itself has no instances: they are HC_Namespace.
	return nil
}

// association builds an instance of an association class with two
// references.
func association(class *cim.Class, role1 string, ref1 *cim.ObjectPath, role2 string, ref2 *cim.ObjectPath) *cim.Instance {
	inst := class.NewInstance()
	inst.Set(role1, cim.NewReference(ref1))
	inst.Set(role2, cim.NewReference(ref2))
	return inst
}

func (p *Provider) objectManager(class *cim.Class) *cim.Instance {
	inst := class.NewInstance()
	set := func(name string, v cim.Value) { inst.Set(name, v) }
	set("SystemCreationClassName", cim.NewString(p.cfg.SystemCreationClassName))
	set("SystemName", cim.NewString(p.cfg.SystemName))
	set("CreationClassName", cim.NewString(classObjectManager))
	set("Name", cim.NewString(p.cfg.Product))
	set("ElementName", cim.NewString(p.cfg.Product))
	set("Caption", cim.NewString(p.cfg.Product+" CIM Server"))
	// pywbem's WBEMServer reads the version after the word "Version".
	set("Description", cim.NewString(p.cfg.Product+" CIM Server Version "+p.cfg.Version))
	set("Started", cim.NewBoolean(true))
	set("EnabledState", cim.NewUint16(2))    // Enabled
	set("RequestedState", cim.NewUint16(12)) // Not Applicable
	set("EnabledDefault", cim.NewUint16(2))
	set("OperationalStatus", cim.NewUint16Array([]uint16{2})) // OK
	set("HealthState", cim.NewUint16(5))                      // OK
	set("GatherStatisticalData", cim.NewBoolean(false))
	return inst
}

// namespacePath returns the path of the HC_Namespace instance of ns.
func (p *Provider) namespacePath(ns string) *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, classNamespace,
		cim.KeyBinding{Name: "SystemCreationClassName", Value: cim.NewString(p.cfg.SystemCreationClassName)},
		cim.KeyBinding{Name: "SystemName", Value: cim.NewString(p.cfg.SystemName)},
		cim.KeyBinding{Name: "ObjectManagerCreationClassName", Value: cim.NewString(classObjectManager)},
		cim.KeyBinding{Name: "ObjectManagerName", Value: cim.NewString(p.cfg.Product)},
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString(classNamespace)},
		cim.KeyBinding{Name: "Name", Value: cim.NewString(ns)},
	)
}

func (p *Provider) eachNamespace(class *cim.Class, fn func(*cim.Instance, *cim.ObjectPath) error) error {
	names, err := p.core.Namespaces()
	if err != nil {
		return err
	}
	for _, ns := range names {
		inst := class.NewInstance()
		path := p.namespacePath(ns)
		for _, k := range path.Keys {
			inst.Set(k.Name, k.Value)
		}
		inst.Set("ElementName", cim.NewString(ns))
		inst.Set("ClassInfo", cim.NewUint16(1)) // Other: see DescriptionOfClassInfo
		inst.Set("DescriptionOfClassInfo", cim.NewString("DMTF CIM Schema 2.49.0 and hypercim HC_ classes"))
		inst.Set("ClassType", cim.NewUint16(2)) // CIM
		inst.Set("ClassTypeVersion", cim.NewString("2.49.0"))
		inst.Path = path
		if err := fn(inst, path); err != nil {
			return err
		}
	}
	return nil
}

func mechanismClass(protocol string) string {
	if protocol == ProtocolWSMan {
		return classWSManMechanism
	}
	return classCIMXMLMechanism
}

// eachMechanism produces the communication mechanisms of one protocol,
// one per listener.
func (p *Provider) eachMechanism(protocol string, class *cim.Class, fn func(*cim.Instance) error) error {
	limits := p.cfg.Pull
	d := wbem.DefaultPullLimits()
	if limits.MaxTimeout == 0 {
		limits.MaxTimeout = d.MaxTimeout
	}
	for _, l := range p.cfg.Listeners {
		if l.Protocol != protocol {
			continue
		}
		inst := class.NewInstance()
		inst.Set("SystemCreationClassName", cim.NewString(p.cfg.SystemCreationClassName))
		inst.Set("SystemName", cim.NewString(p.cfg.SystemName))
		inst.Set("CreationClassName", cim.NewString(class.Name))
		inst.Set("Name", cim.NewString(l.URL))
		inst.Set("ElementName", cim.NewString(protocol+" at "+l.URL))
		inst.Set("EnabledState", cim.NewUint16(2))
		inst.Set("OperationalStatus", cim.NewUint16Array([]uint16{2}))
		inst.Set("MultipleOperationsSupported", cim.NewBoolean(false))
		inst.Set("AdvertiseTypes", cim.NewUint16Array([]uint16{2})) // Not Advertised
		inst.Set("AdvertiseTypeDescriptions", cim.NewStringArray([]string{"Not advertised by SLP"}))
		auth, authNames := []uint16{}, []string{}
		for _, a := range l.Authentication {
			switch strings.ToLower(a) {
			case "basic":
				auth, authNames = append(auth, 3), append(authNames, "HTTP Basic")
			case "digest":
				auth, authNames = append(auth, 4), append(authNames, "HTTP Digest")
			}
		}
		if len(auth) == 0 {
			auth, authNames = []uint16{2}, []string{"None"}
		}
		inst.Set("AuthenticationMechanismsSupported", cim.NewUint16Array(auth))
		inst.Set("AuthenticationMechanismDescriptions", cim.NewStringArray(authNames))
		if protocol == ProtocolWSMan {
			inst.Set("CommunicationMechanism", cim.NewUint16(4))
			inst.Set("Version", cim.NewString("1.1"))
			inst.Set("FunctionalProfilesSupported", cim.NewUint16Array([]uint16{2, 3, 5, 6, 7}))
			inst.Set("FunctionalProfileDescriptions", cim.NewStringArray([]string{"Basic Read", "Basic Write", "Instance Manipulation", "Association Traversal", "Query Execution"}))
		} else {
			inst.Set("CommunicationMechanism", cim.NewUint16(2))
			inst.Set("Version", cim.NewString("1.0"))
			inst.Set("CIMXMLProtocolVersion", cim.NewUint16(1))
			inst.Set("CIMValidated", cim.NewBoolean(false))
			inst.Set("FunctionalProfilesSupported", cim.NewUint16Array([]uint16{2, 3, 4, 5, 6, 7, 8, 10, 11, 12}))
			inst.Set("FunctionalProfileDescriptions", cim.NewStringArray([]string{"Basic Read", "Basic Write", "Schema Manipulation",
				"Instance Manipulation", "Association Traversal", "Query Execution", "Qualifier Declaration",
				"Pulled Read", "Pulled Read Count", "Pulled Query Execution"}))
			inst.Set("PulledEnumerationClosureOnExceedingServerLimitsSupported", cim.NewBoolean(true))
			inst.Set("PulledEnumerationContinuationOnErrorSupported", cim.NewBoolean(false))
			inst.Set("PulledEnumerationMinimumOperationTimeout", cim.NewUint32(1))
			inst.Set("PulledEnumerationMaximumOperationTimeout", cim.NewUint32(uint32(limits.MaxTimeout.Seconds())))
			inst.Set("PulledEnumerationNoOperationTimeoutSupported", cim.NewBoolean(limits.AllowNoTimeout))
		}
		if err := fn(inst); err != nil {
			return err
		}
	}
	return nil
}

// CreateInstance implements wbem.InstanceCreator: a new CIM_Namespace (or
// HC_Namespace) instance creates the namespace its Name gives.
func (p *Provider) CreateInstance(ctx context.Context, ns string, class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error) {
	if p.ind != nil && isSubscriptionClass(class.Name) && cim.EqualNames(ns, Namespace) {
		return p.createSubscriptionObject(ctx, class, inst)
	}
	if cim.EqualNames(class.Name, classDestinationWSMan) {
		return nil, cim.NewError(cim.ErrNotSupported, "WS-Management listeners subscribe with WS-Eventing (Subscribe to /wsman), not with CIM_ListenerDestinationWSManagement instances")
	}
	if !cim.EqualNames(ns, Namespace) || !cim.EqualNames(class.Name, classNamespace) && !cim.EqualNames(class.Name, classCIMNamespace) {
		return nil, cim.Errorf(cim.ErrNotSupported, "instances of %s cannot be created", class.Name)
	}
	name := wbem.CanonicalNamespace(inst.Get("Name").Str())
	if name == "" {
		return nil, cim.NewError(cim.ErrInvalidParameter, "the Name of the new namespace is missing")
	}
	existing, err := p.core.Namespaces()
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		if cim.EqualNames(e, name) {
			return nil, cim.Errorf(cim.ErrAlreadyExists, "namespace %s already exists", e)
		}
	}
	if err := p.core.CreateNamespace(name); err != nil {
		return nil, err
	}
	return p.namespacePath(name), nil
}

// DeleteInstance implements wbem.InstanceDeleter: deleting an HC_Namespace
// instance deletes its namespace, which must be empty.
func (p *Provider) DeleteInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) error {
	if p.ind != nil && isSubscriptionClass(class.Name) && cim.EqualNames(ns, Namespace) {
		return p.ind.Delete(ctx, name)
	}
	if !cim.EqualNames(class.Name, classNamespace) {
		return cim.Errorf(cim.ErrNotSupported, "instances of %s cannot be deleted", class.Name)
	}
	if _, err := p.GetInstance(ctx, ns, class, name); err != nil {
		return err
	}
	v, _ := name.Key("Name")
	return p.core.DeleteNamespace(v.Str())
}

// ModifyInstance implements wbem.InstanceModifier for the filters,
// listener destinations and subscriptions (what the indication service
// lets change: see wbem.Indications.Modify); other instances of
// root/interop are computed and cannot be modified.
func (p *Provider) ModifyInstance(ctx context.Context, ns string, class *cim.Class, current, modified *cim.Instance) error {
	if p.ind == nil || !isSubscriptionClass(class.Name) || !cim.EqualNames(ns, Namespace) {
		return cim.Errorf(cim.ErrNotSupported, "instances of %s cannot be modified", class.Name)
	}
	if modified.Path == nil {
		modified.Path = current.Path
	}
	return p.ind.Modify(ctx, modified)
}
