package interop

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// The indication subscription model (DSP1054) in root/interop: clients
// create, read, modify and delete filters, listener destinations and
// subscriptions, which the core's indication service (wbem.Indications)
// validates, stores and acts on; this provider fills in the keys that
// scope them to the server and serves the service and its capabilities.

// Classes of the indication service.
const (
	classFilter              = "CIM_IndicationFilter"
	classDestinationCIMXML   = "CIM_ListenerDestinationCIMXML"
	classHandlerCIMXML       = "CIM_IndicationHandlerCIMXML"
	classDestinationWSMan    = "CIM_ListenerDestinationWSManagement"
	classSubscription        = "CIM_IndicationSubscription"
	classIndicationService   = "HC_IndicationService"
	classIndicationCaps      = "HC_IndicationServiceCapabilities"
	classElementCaps         = "HC_ElementCapabilities"
	indicationServiceName    = "HC:IndicationService"
	indicationCapsID         = "HC:IndicationServiceCapabilities"
	indicationProfileName    = "Indications"
	indicationProfileVersion = "1.1.0"
)

// subscriptionClasses are the classes whose instances clients manage.
var subscriptionClasses = []string{classFilter, classDestinationCIMXML, classHandlerCIMXML, classSubscription}

func isSubscriptionClass(name string) bool {
	for _, c := range subscriptionClasses {
		if cim.EqualNames(c, name) {
			return true
		}
	}
	return false
}

// registerIndications serves the indication classes and registers DSP1054,
// when the server has an indication service.
func (p *Provider) registerIndications(reg *wbem.Registry) error {
	if p.ind == nil {
		return nil
	}
	classes := append([]string{classDestinationWSMan, classIndicationService, classIndicationCaps, classElementCaps}, subscriptionClasses...)
	if err := reg.Register(Namespace, p, classes...); err != nil {
		return err
	}
	svc := p.indicationServicePath()
	_, err := p.RegisterProfile(Profile{
		Name:    indicationProfileName,
		Version: indicationProfileVersion,
		Central: func(ctx context.Context, yield func(*cim.ObjectPath) error) error { return yield(svc) },
	})
	return err
}

func (p *Provider) indicationServicePath() *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, classIndicationService,
		cim.KeyBinding{Name: "SystemCreationClassName", Value: cim.NewString(p.cfg.SystemCreationClassName)},
		cim.KeyBinding{Name: "SystemName", Value: cim.NewString(p.cfg.SystemName)},
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString(classIndicationService)},
		cim.KeyBinding{Name: "Name", Value: cim.NewString(indicationServiceName)},
	)
}

func indicationCapsPath() *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, classIndicationCaps,
		cim.KeyBinding{Name: "InstanceID", Value: cim.NewString(indicationCapsID)})
}

// eachIndication produces the instances of the indication classes; ok is
// false for other classes.
func (p *Provider) eachIndication(class *cim.Class, yield func(*cim.Instance) error) (bool, error) {
	name := class.Name
	switch {
	case p.ind == nil:
		return false, nil
	case isSubscriptionClass(name):
		return true, p.ind.Each(name, yield)
	case cim.EqualNames(name, classDestinationWSMan):
		return true, nil // WS-Eventing subscriptions are not CIM instances
	case cim.EqualNames(name, classIndicationService):
		return true, yield(p.indicationService(class))
	case cim.EqualNames(name, classIndicationCaps):
		return true, yield(p.indicationCaps(class))
	case cim.EqualNames(name, classElementCaps):
		return true, yield(association(class, "ManagedElement", p.indicationServicePath(), "Capabilities", indicationCapsPath()))
	}
	return false, nil
}

func (p *Provider) indicationService(class *cim.Class) *cim.Instance {
	cfg := p.ind.Config()
	inst := class.NewInstance()
	for _, k := range p.indicationServicePath().Keys {
		inst.Set(k.Name, k.Value)
	}
	inst.Set("ElementName", cim.NewString(p.cfg.Product+" indication service"))
	inst.Set("Description", cim.NewString("Delivers indications to CIM-XML listeners subscribed in "+Namespace+" and to WS-Eventing subscribers"))
	inst.Set("Started", cim.NewBoolean(true))
	inst.Set("EnabledState", cim.NewUint16(2))    // Enabled
	inst.Set("RequestedState", cim.NewUint16(12)) // Not Applicable
	inst.Set("EnabledDefault", cim.NewUint16(2))
	inst.Set("OperationalStatus", cim.NewUint16Array([]uint16{2}))
	inst.Set("HealthState", cim.NewUint16(5))
	inst.Set("FilterCreationEnabled", cim.NewBoolean(true))
	inst.Set("DeliveryRetryAttempts", cim.NewUint16(uint16(cfg.DeliveryRetryAttempts)))
	inst.Set("DeliveryRetryInterval", cim.NewUint32(seconds(cfg.DeliveryRetryInterval.Seconds())))
	inst.Set("SubscriptionRemovalAction", cim.NewUint16(cfg.SubscriptionRemovalAction))
	inst.Set("SubscriptionRemovalTimeInterval", cim.NewUint32(seconds(cfg.SubscriptionRemovalTimeInterval.Seconds())))
	return inst
}

// seconds rounds a duration in seconds up to a whole uint32 (at least 1).
func seconds(s float64) uint32 {
	switch {
	case s <= 1:
		return 1
	case s >= 1<<32-1:
		return 1<<32 - 1
	}
	n := uint32(s)
	if float64(n) < s {
		n++
	}
	return n
}

func (p *Provider) indicationCaps(class *cim.Class) *cim.Instance {
	cfg := p.ind.Config()
	inst := class.NewInstance()
	inst.Set("InstanceID", cim.NewString(indicationCapsID))
	inst.Set("ElementName", cim.NewString(p.cfg.Product+" indication service capabilities"))
	// The service's settings come from the server's configuration:
	// clients cannot change them.
	for _, prop := range []string{"FilterCreationEnabledIsSettable", "DeliveryRetryAttemptsIsSettable", "DeliveryRetryIntervalIsSettable",
		"SubscriptionRemovalActionIsSettable", "SubscriptionRemovalTimeIntervalIsSettable"} {
		inst.Set(prop, cim.NewBoolean(false))
	}
	inst.Set("MaxListenerDestinations", cim.NewUint32(uint32(cfg.MaxListenerDestinations)))
	inst.Set("MaxActiveSubscriptions", cim.NewUint32(uint32(cfg.MaxSubscriptions)))
	inst.Set("SubscriptionsPersisted", cim.NewBoolean(true))
	return inst
}

// createSubscriptionObject fills in the keys of a new filter or
// destination (the server's system, the class, a generated Name) and has
// the indication service create it.
func (p *Provider) createSubscriptionObject(ctx context.Context, class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error) {
	if !cim.EqualNames(class.Name, classSubscription) {
		fill := func(name string, v cim.Value) {
			if inst.Get(name).IsNull() {
				inst.Set(name, v)
			}
		}
		fill("SystemCreationClassName", cim.NewString(p.cfg.SystemCreationClassName))
		fill("SystemName", cim.NewString(p.cfg.SystemName))
		fill("CreationClassName", cim.NewString(class.Name))
		if inst.Get("Name").IsNull() || inst.Get("Name").Str() == "" {
			var b [8]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, cim.WrapError(cim.ErrFailed, err, "generating a name")
			}
			inst.Set("Name", cim.NewString("HC:"+hex.EncodeToString(b[:])))
		}
	}
	return p.ind.Create(ctx, class, inst)
}
