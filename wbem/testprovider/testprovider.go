package testprovider

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
)

// MOF declares the classes of the test model; compile it (after the DSP0004
// qualifier declarations) into the namespace the provider is registered
// for. T_Static and T_Link are left to the repository (static instances);
// T_Dynamic, T_Gen, T_DynLink and T_Flaky are served by the provider.
const MOF = `
[Abstract, Description("Base of the test classes.")]
class T_Base {
    [Key, Description("Identifier.")] string Id;
    string Name;
    uint32 Count = 7;
};

class T_Static : T_Base {
    string Extra;
    uint32 Frob();
};

class T_Sub : T_Static {
    uint16 Level;
};

class T_Dynamic : T_Base {
    boolean Flag;
    uint32 Size;
    string Partner;
    datetime Born;
    uint32 Resize([IN] uint32 NewSize, [IN, OUT] string Note, [OUT] uint32 OldSize);
    [Static] string Hello([IN] string Who);
    uint32 Fail();
    uint32 Panic();
    uint32 Embed([IN, EmbeddedInstance("T_Base")] string Item,
                 [OUT, EmbeddedInstance("T_Base")] string Copy);
    uint32 Point([IN] T_Base REF Target, [OUT] T_Base REF Echo, [IN] uint16 Codes[]);
    uint32 Spawn([IN] string Ids[], [OUT] T_Dynamic REF Created[]);
};

class T_Gen : T_Base {
    string Payload;
};

[Description("Instances whose enumeration fails part way: FlakyBefore instances, then CIM_ERR_FAILED, as a provider losing its backend.")]
class T_Flaky {
    [Key] string Id;
    string Payload;
};

[Association, Description("A static association between test objects.")]
class T_Link {
    [Key] T_Base REF Left;
    [Key] T_Base REF Right;
    string Label;
};

[Association, Description("An association served by the provider: T_Dynamic to the T_Static its Partner names.")]
class T_DynLink {
    [Key] T_Dynamic REF From;
    [Key] T_Static REF To;
};
`

// Provider serves T_Dynamic (a writable store in memory), T_Gen (generated
// instances), T_DynLink (associations computed from T_Dynamic.Partner),
// T_Flaky (an enumeration that fails after FlakyBefore instances) and the
// methods of T_Dynamic.
type Provider struct {
	// GenCount is the number of T_Gen instances, GenPayload the length of
	// their Payload string.
	GenCount   int
	GenPayload int
	// Gate, when not nil, is received from before each T_Gen instance is
	// produced, so tests can hold a producer.
	Gate chan struct{}
	// PanicAt, when positive, makes the enumeration of T_Gen panic before
	// producing instance PanicAt, to test that a provider's bug fails
	// the operation and not the server.
	PanicAt int
	// Events, when set, receives the lifecycle indications of T_Dynamic
	// (creation, modification, deletion), as a real provider publishes
	// those of the instances it serves; *wbem.Server implements it.
	Events LifecyclePublisher

	mu       sync.Mutex
	dyn      map[string]*cim.Instance // by folded Id
	order    []string                 // folded Ids in creation order
	produced atomic.Int64
	active   atomic.Int64
}

// LifecyclePublisher is what the provider publishes its lifecycle
// indications to.
type LifecyclePublisher interface {
	PublishLifecycle(ctx context.Context, ns string, event wbem.LifecycleEvent, source, previous *cim.Instance) error
}

// publish publishes a lifecycle indication if the provider has a
// publisher; a failure to publish never fails the operation.
func (p *Provider) publish(ctx context.Context, ns string, event wbem.LifecycleEvent, source, previous *cim.Instance) {
	if p.Events != nil {
		_ = p.Events.PublishLifecycle(ctx, ns, event, source, previous)
	}
}

// FlakyBefore is the number of T_Flaky instances an enumeration yields
// before it fails, and flakyPayload the length of their Payload: together
// over a megabyte, so that a streamed response is sent in part when the
// failure comes.
const (
	FlakyBefore  = 1000
	flakyPayload = 1024
)

// New returns a provider with no T_Dynamic instances and no T_Gen ones.
func New() *Provider { return &Provider{dyn: map[string]*cim.Instance{}} }

// Register registers the provider's classes in namespace ns.
func (p *Provider) Register(reg *wbem.Registry, ns string) error {
	return reg.Register(ns, p, Classes()...)
}

// Classes returns the names of the classes the provider serves.
func Classes() []string { return []string{"T_Dynamic", "T_Gen", "T_DynLink", "T_Flaky"} }

// Produced returns the number of T_Gen instances produced so far.
func (p *Provider) Produced() int64 { return p.produced.Load() }

// Active returns the number of T_Gen enumerations in progress.
func (p *Provider) Active() int64 { return p.active.Load() }

var (
	_ wbem.InstanceProvider       = (*Provider)(nil)
	_ wbem.InstanceNameEnumerator = (*Provider)(nil)
	_ wbem.InstanceCreator        = (*Provider)(nil)
	_ wbem.InstanceModifier       = (*Provider)(nil)
	_ wbem.InstanceDeleter        = (*Provider)(nil)
	_ wbem.MethodProvider         = (*Provider)(nil)
	_ wbem.AssociationProvider    = (*Provider)(nil)
)

// EnumerateInstances implements wbem.InstanceProvider.
func (p *Provider) EnumerateInstances(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error {
	switch {
	case cim.EqualNames(class.Name, "T_Dynamic"):
		for _, inst := range p.snapshot() {
			if err := yield(inst); err != nil {
				return err
			}
		}
		return nil
	case cim.EqualNames(class.Name, "T_Gen"):
		p.active.Add(1)
		defer p.active.Add(-1)
		for i := 0; i < p.GenCount; i++ {
			if p.Gate != nil {
				select {
				case <-p.Gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if p.PanicAt > 0 && i == p.PanicAt {
				panic(fmt.Sprintf("testprovider: T_Gen %d", i))
			}
			p.produced.Add(1)
			if err := yield(p.gen(class, i)); err != nil {
				return err
			}
		}
		return nil
	case cim.EqualNames(class.Name, "T_DynLink"):
		for _, inst := range p.snapshot() {
			if link := p.link(ns, inst); link != nil {
				if err := yield(link); err != nil {
					return err
				}
			}
		}
		return nil
	case cim.EqualNames(class.Name, "T_Flaky"):
		for i := 0; i < FlakyBefore; i++ {
			inst := class.NewInstance()
			inst.Set("Id", cim.NewString(fmt.Sprintf("f%04d", i)))
			inst.Set("Payload", cim.NewString(strings.Repeat("f", flakyPayload)))
			if err := yield(inst); err != nil {
				return err
			}
		}
		return cim.Errorf(cim.ErrFailed, "T_Flaky: the backend went away after %d instances", FlakyBefore)
	}
	return cim.Errorf(cim.ErrNotSupported, "testprovider does not serve %s", class.Name)
}

// EnumerateInstanceNames implements wbem.InstanceNameEnumerator for
// T_Dynamic; other classes go through EnumerateInstances.
func (p *Provider) EnumerateInstanceNames(ctx context.Context, ns string, class *cim.Class, yield func(*cim.ObjectPath) error) error {
	return p.EnumerateInstances(ctx, ns, class, func(inst *cim.Instance) error {
		path, err := class.InstancePath(ns, inst)
		if err != nil {
			return err
		}
		return yield(path)
	})
}

func (p *Provider) snapshot() []*cim.Instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*cim.Instance, 0, len(p.order))
	for _, id := range p.order {
		out = append(out, p.dyn[id].Clone())
	}
	return out
}

// genIndex returns the number of a T_Gen Id as gen writes it: "g" and
// the number in at least seven digits, with no other leading zeros. (The
// benchmarks' GetInstance load looks up one per request: fmt.Sscanf would
// cost more than the rest of the lookup.)
func genIndex(id string) (int, bool) {
	digits, ok := strings.CutPrefix(id, "g")
	if !ok || len(digits) < 7 || len(digits) > 7 && digits[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(digits)
	return i, err == nil
}

func (p *Provider) gen(class *cim.Class, i int) *cim.Instance {
	inst := class.NewInstance()
	inst.Set("Id", cim.NewString(fmt.Sprintf("g%07d", i)))
	inst.Set("Name", cim.NewString(fmt.Sprintf("generated %d", i)))
	inst.Set("Count", cim.NewUint32(uint32(i)))
	if p.GenPayload > 0 {
		inst.Set("Payload", cim.NewString(strings.Repeat(string(rune('a'+i%26)), p.GenPayload)))
	}
	return inst
}

// link returns the T_DynLink of a T_Dynamic instance, nil when it has no
// Partner.
func (p *Provider) link(ns string, dyn *cim.Instance) *cim.Instance {
	partner := dyn.Get("Partner")
	if partner.IsNull() || partner.Str() == "" {
		return nil
	}
	link := cim.NewInstance("T_DynLink")
	from := cim.NewInstancePath(ns, "T_Dynamic", cim.KeyBinding{Name: "Id", Value: dyn.Get("Id")})
	to := cim.NewInstancePath(ns, "T_Static", cim.KeyBinding{Name: "Id", Value: partner})
	link.Set("From", cim.NewReference(from))
	link.Set("To", cim.NewReference(to))
	return link
}

// GetInstance implements wbem.InstanceProvider.
func (p *Provider) GetInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (*cim.Instance, error) {
	switch {
	case cim.EqualNames(class.Name, "T_Dynamic"):
		id, _ := name.Key("Id")
		p.mu.Lock()
		defer p.mu.Unlock()
		if inst := p.dyn[cim.FoldName(id.Str())]; inst != nil && inst.Get("Id").Str() == id.Str() {
			return inst.Clone(), nil
		}
	case cim.EqualNames(class.Name, "T_Gen"):
		id, _ := name.Key("Id")
		if i, ok := genIndex(id.Str()); ok && i < p.GenCount {
			return p.gen(class, i), nil
		}
	case cim.EqualNames(class.Name, "T_DynLink"):
		var found *cim.Instance
		err := p.References(ctx, ns, class, mustRef(name, "From"), "From", func(inst *cim.Instance) error {
			if inst.Get("To").Ref().Equal(mustRef(name, "To")) {
				found = inst
			}
			return nil
		})
		if err != nil || found != nil {
			return found, err
		}
	}
	return nil, cim.Errorf(cim.ErrNotFound, "Instance not found: %s", name.ModelPath())
}

func mustRef(p *cim.ObjectPath, key string) *cim.ObjectPath {
	v, _ := p.Key(key)
	if r := v.Ref(); r != nil {
		return r
	}
	return &cim.ObjectPath{}
}

// References implements wbem.AssociationProvider for T_DynLink.
func (p *Provider) References(ctx context.Context, ns string, assoc *cim.Class, object *cim.ObjectPath, role string, yield func(*cim.Instance) error) error {
	for _, inst := range p.snapshot() {
		link := p.link(ns, inst)
		if link == nil {
			continue
		}
		for _, r := range []string{"From", "To"} {
			if (role == "" || cim.EqualNames(role, r)) && sameObject(link.Get(r).Ref(), object) {
				if err := yield(link); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

func sameObject(a, b *cim.ObjectPath) bool { return a.CanonicalModel() == b.CanonicalModel() }

// CreateInstance implements wbem.InstanceCreator for T_Dynamic.
func (p *Provider) CreateInstance(ctx context.Context, ns string, class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error) {
	if !cim.EqualNames(class.Name, "T_Dynamic") {
		return nil, cim.Errorf(cim.ErrNotSupported, "instances of %s cannot be created", class.Name)
	}
	id := inst.Get("Id").Str()
	path, err := class.InstancePath(ns, inst)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	key := cim.FoldName(id)
	if p.dyn[key] != nil {
		p.mu.Unlock()
		return nil, cim.Errorf(cim.ErrAlreadyExists, "T_Dynamic %q already exists", id)
	}
	p.dyn[key] = inst.Clone()
	p.order = append(p.order, key)
	p.mu.Unlock()
	created := inst.Clone()
	created.Path = path
	p.publish(ctx, ns, wbem.InstanceCreated, created, nil)
	return path, nil
}

// ModifyInstance implements wbem.InstanceModifier for T_Dynamic.
func (p *Provider) ModifyInstance(ctx context.Context, ns string, class *cim.Class, current, modified *cim.Instance) error {
	if !cim.EqualNames(class.Name, "T_Dynamic") {
		return cim.Errorf(cim.ErrNotSupported, "instances of %s cannot be modified", class.Name)
	}
	p.mu.Lock()
	key := cim.FoldName(current.Get("Id").Str())
	if p.dyn[key] == nil {
		p.mu.Unlock()
		return cim.Errorf(cim.ErrNotFound, "Instance not found")
	}
	p.dyn[key] = modified.Clone()
	p.mu.Unlock()
	p.publish(ctx, ns, wbem.InstanceModified, modified, current)
	return nil
}

// DeleteInstance implements wbem.InstanceDeleter for T_Dynamic.
func (p *Provider) DeleteInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) error {
	if !cim.EqualNames(class.Name, "T_Dynamic") {
		return cim.Errorf(cim.ErrNotSupported, "instances of %s cannot be deleted", class.Name)
	}
	id, _ := name.Key("Id")
	p.mu.Lock()
	key := cim.FoldName(id.Str())
	gone := p.dyn[key]
	if gone == nil {
		p.mu.Unlock()
		return cim.Errorf(cim.ErrNotFound, "Instance not found: %s", name.ModelPath())
	}
	delete(p.dyn, key)
	for i, k := range p.order {
		if k == key {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	gone = gone.Clone()
	gone.Path = name
	p.publish(ctx, ns, wbem.InstanceDeleted, gone, nil)
	return nil
}

// InvokeMethod implements wbem.MethodProvider for the methods of
// T_Dynamic.
func (p *Provider) InvokeMethod(ctx context.Context, ns string, class *cim.Class, object *cim.ObjectPath, method *cim.Method, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error) {
	arg := func(name string) cim.Value {
		for _, pv := range in {
			if cim.EqualNames(pv.Name, name) {
				return pv.Value
			}
		}
		return cim.Value{}
	}
	switch strings.ToLower(method.Name) {
	case "hello":
		return cim.NewString("hello " + arg("Who").Str()), nil, nil
	case "resize":
		inst, err := p.GetInstance(ctx, ns, class, object)
		if err != nil {
			return cim.Value{}, nil, err
		}
		old := inst.Get("Size")
		inst.Set("Size", arg("NewSize"))
		if err := p.ModifyInstance(ctx, ns, class, inst, inst); err != nil {
			return cim.Value{}, nil, err
		}
		// Integer results are converted to the declared types by the core.
		return cim.NewUint64(0), []cim.ParamValue{
			{Name: "OldSize", Value: old},
			{Name: "Note", Value: cim.NewString(arg("Note").Str() + "!")},
		}, nil
	case "fail":
		return cim.Value{}, nil, cim.NewError(cim.ErrFailed, "Fail always fails")
	case "panic":
		panic("Panic always panics")
	case "embed":
		item := arg("Item").Instance()
		if item == nil {
			return cim.NewUint32(4), nil, nil
		}
		cp := item.Clone()
		cp.Set("Name", cim.NewString("copy of "+item.Get("Name").Str()))
		return cim.NewUint32(0), []cim.ParamValue{{Name: "Copy", Value: cim.NewEmbeddedInstance(cp)}}, nil
	case "point":
		return cim.NewUint32(uint32(arg("Codes").Len())), []cim.ParamValue{{Name: "Echo", Value: arg("Target")}}, nil
	case "spawn":
		return p.spawn(ctx, ns, class, arg("Ids"))
	}
	return cim.Value{}, nil, cim.Errorf(cim.ErrMethodNotAvailable, "testprovider does not implement %s", method.Name)
}

// spawn creates a T_Dynamic for each of ids and returns their paths in the
// reference array Created, as a virtual system management service's
// AddResourceSettings returns the settings it added. It creates nothing
// when one of the instances exists already or an Id is given twice.
func (p *Provider) spawn(ctx context.Context, ns string, class *cim.Class, ids cim.Value) (cim.Value, []cim.ParamValue, error) {
	if ids.IsNull() || ids.Len() == 0 {
		return cim.Value{}, nil, cim.Errorf(cim.ErrInvalidParameter, "Spawn: Ids names no instance")
	}
	seen := map[string]bool{}
	p.mu.Lock()
	for i := 0; i < ids.Len(); i++ {
		id := ids.Index(i).Str()
		if p.dyn[cim.FoldName(id)] != nil || seen[cim.FoldName(id)] {
			p.mu.Unlock()
			return cim.Value{}, nil, cim.Errorf(cim.ErrAlreadyExists, "T_Dynamic %q already exists", id)
		}
		seen[cim.FoldName(id)] = true
	}
	p.mu.Unlock()
	created := make([]*cim.ObjectPath, 0, ids.Len())
	for i := 0; i < ids.Len(); i++ {
		inst := class.NewInstance()
		inst.Set("Id", ids.Index(i))
		inst.Set("Name", cim.NewString("spawned"))
		path, err := p.CreateInstance(ctx, ns, class, inst)
		if err != nil {
			return cim.Value{}, nil, err
		}
		created = append(created, path)
	}
	return cim.NewUint32(0), []cim.ParamValue{{Name: "Created", Value: cim.NewReferenceArray(created)}}, nil
}
