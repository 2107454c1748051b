package wbem

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hypercim/hypercim/cim"
)

// The CIM objects of the indication service, in root/interop: filters,
// listener destinations and subscriptions. providers/interop serves their
// classes by calling Create, Modify, Delete, Get and Each; every accepted
// change is stored before it returns.

// DMTF classes of the subscription model.
const (
	ClassIndicationFilter       = "CIM_IndicationFilter"
	ClassListenerDestination    = "CIM_ListenerDestination"
	ClassIndicationSubscription = "CIM_IndicationSubscription"
)

type objectKind int

const (
	kindFilter objectKind = iota + 1
	kindDestination
	kindSubscription
)

func (k objectKind) bucket() string {
	switch k {
	case kindFilter:
		return "filters"
	case kindDestination:
		return "destinations"
	}
	return "subscriptions"
}

// kindOf tells which object of the model a class of root/interop holds.
func (x *Indications) kindOf(class string) (objectKind, error) {
	switch {
	case x.s.IsA(InteropNamespace, class, ClassIndicationSubscription):
		return kindSubscription, nil
	case x.s.IsA(InteropNamespace, class, ClassIndicationFilter):
		return kindFilter, nil
	case x.s.IsA(InteropNamespace, class, ClassListenerDestination):
		return kindDestination, nil
	}
	return 0, errorf(cim.ErrNotSupported, "%s is not a class of the indication subscription model", class)
}

// indDest is a listener destination.
type indDest struct {
	key   string
	path  *cim.ObjectPath
	inst  *cim.Instance // as stored, password included
	dest  ListenerDestination
	queue *deliveryQueue
	refs  int // subscriptions using it; guarded by Indications.mu
}

// indSub is a subscription: CIM (path, inst, dest set) or Go (goSub set).
type indSub struct {
	key        string
	id         uint64
	path       *cim.ObjectPath
	inst       *cim.Instance // as stored
	filter     *indFilter
	dest       *indDest
	queue      *deliveryQueue
	principal  Principal
	goSub      *Subscription
	seqContext string
	seq        atomic.Int64
	queued     atomic.Int64 // indications of this subscription in its queue
	dropCount  atomic.Uint64
	state      atomic.Uint32
	removed    atomic.Bool
	// onFatal and failureTrigger are OnFatalErrorPolicy and
	// FailureTriggerTimeInterval, which do not change.
	onFatal        uint16
	failureTrigger time.Duration

	expires time.Time // guarded by Indications.mu

	mu         sync.Mutex // guards what follows
	lastID     string
	lastTime   time.Time
	firstFatal time.Time
}

// Values of SubscriptionState.
const (
	stateEnabled  = 2
	stateDegraded = 3
	stateDisabled = 4
)

// Values of OnFatalErrorPolicy.
const (
	fatalIgnore  = 2
	fatalDisable = 3
	fatalRemove  = 4
)

func (sub *indSub) enabled() bool {
	return !sub.removed.Load() && sub.state.Load() == stateEnabled
}

// owner is what the store keeps of the subscription's creator.
func (sub *indSub) owner() *storedOwner {
	return &storedOwner{User: sub.principal.User, Unrestricted: sub.principal.Unrestricted, ID: sub.id}
}

func (sub *indSub) name() string {
	if sub.goSub != nil {
		return sub.key
	}
	return describe(sub.path)
}

// expiresAt is when the subscription ends (zero: never); Indications.mu
// is held.
func (sub *indSub) expiresAt() time.Time { return sub.expires }

// objectKey is the identity of a filter or destination: its keys, as the
// class types them, whatever class name the path uses (a reference may
// name a superclass).
func (x *Indications) objectKey(p *cim.ObjectPath) (string, error) {
	if p == nil || !p.IsInstancePath() {
		return "", errorf(cim.ErrInvalidParameter, "%s is not an instance path", describe(p))
	}
	if p.Namespace != "" && !cim.EqualNames(CanonicalNamespace(p.Namespace), InteropNamespace) {
		return "", errorf(cim.ErrInvalidParameter, "%s: the objects of the indication service are in namespace %s", describe(p), InteropNamespace)
	}
	cls, err := x.s.Class(InteropNamespace, p.ClassName)
	if err != nil {
		return "", errorf(cim.ErrInvalidParameter, "%s: class %s does not exist", describe(p), p.ClassName)
	}
	norm, err := cls.NormalizePath(&cim.ObjectPath{ClassName: cls.Name, Keys: p.Keys})
	if err != nil {
		return "", err
	}
	return (&cim.ObjectPath{ClassName: "k", Keys: norm.Keys}).CanonicalModel(), nil
}

func subscriptionKey(filterKey, destKey string) string { return filterKey + "\x00" + destKey }

// Each yields the instances of class (exactly) that the service holds, as
// clients see them (no password, current state and counters); they are
// copies the caller may change.
func (x *Indications) Each(class string, yield func(*cim.Instance) error) error {
	kind, err := x.kindOf(class)
	if err != nil {
		return err
	}
	var out []*cim.Instance
	x.mu.Lock()
	switch kind {
	case kindFilter:
		for _, f := range x.filters {
			if cim.EqualNames(f.inst.ClassName, class) {
				out = append(out, f.inst.Clone())
			}
		}
	case kindDestination:
		for _, d := range x.dests {
			if cim.EqualNames(d.inst.ClassName, class) {
				out = append(out, x.destView(d))
			}
		}
	case kindSubscription:
		for _, sub := range x.subs {
			if sub.inst != nil && cim.EqualNames(sub.inst.ClassName, class) {
				out = append(out, x.subView(sub))
			}
		}
	}
	x.mu.Unlock()
	for _, inst := range out {
		if err := yield(inst); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the instance name names, as Each shows it, or
// CIM_ERR_NOT_FOUND.
func (x *Indications) Get(name *cim.ObjectPath) (*cim.Instance, error) {
	kind, err := x.kindOf(name.ClassName)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var inst *cim.Instance
	switch kind {
	case kindFilter:
		if f := x.lookupFilter(name); f != nil {
			inst = f.inst.Clone()
		}
	case kindDestination:
		if d := x.lookupDest(name); d != nil {
			inst = x.destView(d)
		}
	case kindSubscription:
		if sub := x.lookupSub(name); sub != nil {
			inst = x.subView(sub)
		}
	}
	if inst == nil || !x.s.IsA(InteropNamespace, inst.ClassName, name.ClassName) {
		return nil, errorf(cim.ErrNotFound, "Instance not found: %s", describe(name))
	}
	return inst, nil
}

// lookupFilter, lookupDest and lookupSub find objects by path; x.mu is
// held.
func (x *Indications) lookupFilter(p *cim.ObjectPath) *indFilter {
	key, err := x.objectKey(p)
	if err != nil {
		return nil
	}
	return x.filters[key]
}

func (x *Indications) lookupDest(p *cim.ObjectPath) *indDest {
	key, err := x.objectKey(p)
	if err != nil {
		return nil
	}
	return x.dests[key]
}

func (x *Indications) lookupSub(p *cim.ObjectPath) *indSub {
	fv, ok1 := p.Key("Filter")
	hv, ok2 := p.Key("Handler")
	if !ok1 || !ok2 || fv.Ref() == nil || hv.Ref() == nil {
		return nil
	}
	fk, err1 := x.objectKey(fv.Ref())
	hk, err2 := x.objectKey(hv.Ref())
	if err1 != nil || err2 != nil {
		return nil
	}
	return x.subs[subscriptionKey(fk, hk)]
}

// destView is a destination as clients see it: never its password
// (Read(false)).
func (x *Indications) destView(d *indDest) *cim.Instance {
	inst := d.inst.Clone()
	if inst.Has("password") {
		inst.Set("password", cim.Null(cim.TypeString))
	}
	return inst
}

// subView is a subscription with its live properties; x.mu is held.
func (x *Indications) subView(sub *indSub) *cim.Instance {
	inst := sub.inst.Clone()
	state := uint16(sub.state.Load())
	if state == stateEnabled && sub.queue.failing() {
		state = stateDegraded
	}
	inst.Set("SubscriptionState", cim.NewUint16(state))
	if !sub.expires.IsZero() {
		left := max(time.Until(sub.expires), 0)
		inst.Set("SubscriptionTimeRemaining", cim.NewUint64(uint64(left/time.Second)))
	}
	sub.mu.Lock()
	if sub.lastID != "" {
		inst.Set("LastIndicationIdentifier", cim.NewString(sub.lastID))
	}
	if !sub.lastTime.IsZero() {
		if v, err := cim.NewTimestampValue(sub.lastTime); err == nil {
			inst.Set("LastIndicationProductionDateTime", v)
		}
	}
	sub.mu.Unlock()
	return inst
}

// Create adds a filter, listener destination or subscription: inst is an
// instance of class (a class of root/interop) validated by the core, its
// keys filled in by the caller. ctx's principal becomes the owner of a
// subscription, whose indications it must be allowed to read.
func (x *Indications) Create(ctx context.Context, class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error) {
	kind, err := x.kindOf(class.Name)
	if err != nil {
		return nil, err
	}
	if class.IsAbstract() {
		return nil, errorf(cim.ErrInvalidClass, "class %s is abstract", class.Name)
	}
	inst = inst.Clone()
	inst.ClassName = class.Name
	if kind != kindSubscription {
		if v := inst.Get("CreationClassName"); !v.IsNull() && !cim.EqualNames(v.Str(), class.Name) {
			return nil, errorf(cim.ErrInvalidParameter, "CreationClassName %q does not name the class %s", v.Str(), class.Name)
		}
	}
	p, _ := PrincipalFrom(ctx)
	switch kind {
	case kindFilter:
		return x.createFilter(class, inst)
	case kindDestination:
		return x.createDest(class, inst)
	}
	return x.createSubscription(p, class, inst)
}

func (x *Indications) createFilter(class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error) {
	path, err := class.InstancePath(InteropNamespace, inst)
	if err != nil {
		return nil, err
	}
	lang, text := inst.Get("QueryLanguage"), inst.Get("Query")
	if lang.IsNull() || text.IsNull() || strings.TrimSpace(text.Str()) == "" {
		return nil, errorf(cim.ErrInvalidParameter, "an indication filter needs Query and QueryLanguage")
	}
	f, err := x.compileFilter(lang.Str(), text.Str(), filterSources(inst, InteropNamespace))
	if err != nil {
		return nil, err
	}
	f.path, f.inst, f.name = path, inst, inst.Get("Name").Str()
	if f.key, err = x.objectKey(path); err != nil {
		return nil, err
	}
	inst.Path = path
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.filters[f.key] != nil:
		return nil, errorf(cim.ErrAlreadyExists, "the indication filter %s already exists", describe(path))
	case len(x.filters) >= x.cfg.MaxFilters:
		return nil, errorf(cim.ErrFailed, "the server holds its maximum of %d indication filters", x.cfg.MaxFilters)
	}
	if err := x.persist(kindFilter, f.key, inst, nil); err != nil {
		return nil, err
	}
	x.filters[f.key] = f
	return path.Clone(), nil
}

// destinationOf checks the delivery properties of a destination instance.
func (x *Indications) destinationOf(inst *cim.Instance, path *cim.ObjectPath, checkExporter bool) (ListenerDestination, error) {
	d := ListenerDestination{Path: path, Protocol: ProtocolCIMXML}
	if v := inst.Get("Protocol"); !v.IsNull() {
		n, _ := v.Uint()
		d.Protocol = uint16(n)
	}
	if d.Protocol != ProtocolCIMXML {
		return d, errorf(cim.ErrNotSupported, "listener destinations with Protocol %d are not supported: use 2 (CIM-XML); WS-Management listeners subscribe with WS-Eventing", d.Protocol)
	}
	raw := strings.TrimSpace(inst.Get("Destination").Str())
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return d, errorf(cim.ErrInvalidParameter, "the listener destination needs a Destination URL")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "":
		return d, errorf(cim.ErrInvalidParameter, "Destination %q is not an http:// or https:// URL with a host (e.g. http://listener.example.com:5990/cimlistener)", raw)
	case u.User != nil:
		return d, errorf(cim.ErrInvalidParameter, "Destination %q carries credentials: set the username and password properties instead", raw)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return d, errorf(cim.ErrInvalidParameter, "Destination %q has an invalid port", raw)
		}
	}
	if v := inst.Get("PersistenceType"); !v.IsNull() {
		if n, _ := v.Uint(); n < 1 || n > 3 {
			return d, errorf(cim.ErrInvalidParameter, "PersistenceType %d is not 1 (Other), 2 (Permanent) or 3 (Transient)", n)
		}
	}
	if checkExporter && x.exporter(d.Protocol) == nil {
		return d, errorf(cim.ErrNotSupported, "this server has no exporter for CIM-XML listener destinations")
	}
	d.URL = u.String()
	d.Username, d.Password = inst.Get("username").Str(), inst.Get("password").Str()
	return d, nil
}

func (x *Indications) createDest(class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error) {
	path, err := class.InstancePath(InteropNamespace, inst)
	if err != nil {
		return nil, err
	}
	if inst.Get("Protocol").IsNull() && class.HasProperty("Protocol") {
		inst.Set("Protocol", cim.NewUint16(ProtocolCIMXML))
	}
	if inst.Get("PersistenceType").IsNull() && class.HasProperty("PersistenceType") {
		inst.Set("PersistenceType", cim.NewUint16(2)) // Permanent
	}
	dest, err := x.destinationOf(inst, path, true)
	if err != nil {
		return nil, err
	}
	d := &indDest{path: path, inst: inst, dest: dest}
	if d.key, err = x.objectKey(path); err != nil {
		return nil, err
	}
	inst.Path = path
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.dests[d.key] != nil:
		return nil, errorf(cim.ErrAlreadyExists, "the listener destination %s already exists", describe(path))
	case len(x.dests) >= x.cfg.MaxListenerDestinations:
		return nil, errorf(cim.ErrFailed, "the server holds its maximum of %d listener destinations", x.cfg.MaxListenerDestinations)
	}
	if err := x.persist(kindDestination, d.key, inst, nil); err != nil {
		return nil, err
	}
	d.queue = x.newDestQueue(d)
	x.dests[d.key] = d
	return path.Clone(), nil
}

// subscriptionPolicy reads and checks the policy properties of a
// subscription.
func subscriptionPolicy(inst *cim.Instance) (state uint16, onFatal uint16, trigger time.Duration, duration time.Duration, err error) {
	state = stateEnabled
	if v := inst.Get("SubscriptionState"); !v.IsNull() {
		switch n, _ := v.Uint(); n {
		case stateEnabled, stateDegraded:
		case stateDisabled:
			state = stateDisabled
		default:
			return 0, 0, 0, 0, errorf(cim.ErrInvalidParameter, "SubscriptionState %d cannot be requested: use 2 (Enabled) or 4 (Disabled)", n)
		}
	}
	onFatal = fatalIgnore
	if v := inst.Get("OnFatalErrorPolicy"); !v.IsNull() {
		switch n, _ := v.Uint(); n {
		case fatalIgnore, fatalDisable, fatalRemove:
			onFatal = uint16(n)
		default:
			return 0, 0, 0, 0, errorf(cim.ErrNotSupported, "OnFatalErrorPolicy %d is not supported: use 2 (Ignore), 3 (Disable) or 4 (Remove)", n)
		}
	}
	if v := inst.Get("RepeatNotificationPolicy"); !v.IsNull() {
		if n, _ := v.Uint(); n != 0 && n != 2 {
			return 0, 0, 0, 0, errorf(cim.ErrNotSupported, "RepeatNotificationPolicy %d is not supported: every indication is delivered (2, None)", n)
		}
	}
	if v := inst.Get("FailureTriggerTimeInterval"); !v.IsNull() {
		n, _ := v.Uint()
		trigger = secondsDuration(n)
	}
	if v := inst.Get("SubscriptionDuration"); !v.IsNull() {
		n, _ := v.Uint()
		duration = secondsDuration(n)
	}
	return state, onFatal, trigger, duration, nil
}

// secondsDuration converts seconds, saturating at about 290 years.
func secondsDuration(n uint64) time.Duration {
	const maxSeconds = uint64(1<<63-1) / uint64(time.Second)
	return time.Duration(min(n, maxSeconds)) * time.Second
}

func (x *Indications) createSubscription(p Principal, class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error) {
	fv, hv := inst.Get("Filter"), inst.Get("Handler")
	if fv.Ref() == nil || hv.Ref() == nil {
		return nil, errorf(cim.ErrInvalidParameter, "an indication subscription needs its Filter and Handler references")
	}
	fk, err := x.objectKey(fv.Ref())
	if err != nil {
		return nil, err
	}
	hk, err := x.objectKey(hv.Ref())
	if err != nil {
		return nil, err
	}
	state, onFatal, trigger, duration, err := subscriptionPolicy(inst)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	f, d := x.filters[fk], x.dests[hk]
	switch {
	case f == nil || !x.s.IsA(InteropNamespace, f.inst.ClassName, fv.Ref().ClassName):
		return nil, errorf(cim.ErrInvalidParameter, "the indication filter %s does not exist", describe(fv.Ref()))
	case d == nil || !x.s.IsA(InteropNamespace, d.inst.ClassName, hv.Ref().ClassName):
		return nil, errorf(cim.ErrInvalidParameter, "the listener destination %s does not exist", describe(hv.Ref()))
	case f.err != nil:
		return nil, errorf(cim.ErrFailed, "the indication filter %s cannot be used: %s", describe(f.path), errText(f.err))
	case x.subs[subscriptionKey(fk, hk)] != nil:
		return nil, errorf(cim.ErrAlreadyExists, "the subscription of %s to %s already exists", describe(d.path), describe(f.path))
	case len(x.subs) >= x.cfg.MaxSubscriptions:
		return nil, errorf(cim.ErrFailed, "the server holds its maximum of %d indication subscriptions", x.cfg.MaxSubscriptions)
	}
	for _, ns := range f.sources {
		if !x.s.allowed(p, ns, false) {
			return nil, errorf(cim.ErrAccessDenied, "user %s may not read namespace %s, a source namespace of the filter", p.User, ns)
		}
	}
	inst.Set("Filter", cim.NewReference(f.path))
	inst.Set("Handler", cim.NewReference(d.path))
	path, err := class.InstancePath(InteropNamespace, inst)
	if err != nil {
		return nil, err
	}
	inst.Path = path
	stamp, _ := cim.NewTimestampValue(now)
	inst.Set("SubscriptionStartTime", stamp)
	inst.Set("TimeOfLastStateChange", stamp)
	inst.Set("SubscriptionState", cim.NewUint16(state))
	x.nextID++
	sub := &indSub{key: subscriptionKey(fk, hk), id: x.nextID, path: path, inst: inst, filter: f, dest: d, queue: d.queue,
		principal: p, onFatal: onFatal, failureTrigger: trigger}
	if duration > 0 {
		sub.expires = now.Add(duration)
	}
	sub.state.Store(uint32(state))
	sub.seqContext = x.sequenceContext(sub.id)
	if err := x.persist(kindSubscription, sub.key, inst, sub.owner()); err != nil {
		return nil, err
	}
	f.refs++
	d.refs++
	x.subs[sub.key] = sub
	x.rebuildLocked()
	return path.Clone(), nil
}

// sequenceContext identifies the sequence of indications of one
// subscription in this run of the server (DSP1054 sequencing): a
// listener that sees it change knows numbering restarted.
func (x *Indications) sequenceContext(id uint64) string {
	return "HC:" + x.nonce + ":" + strconv.FormatUint(id, 10)
}

// isDescriptive reports whether name is a property clients may change on
// any object of the model.
func isDescriptive(name string) bool {
	return cim.EqualNames(name, "Caption") || cim.EqualNames(name, "Description") || cim.EqualNames(name, "ElementName")
}

// Modify changes an object: modified is the whole new instance (the core
// merged the client's changes into the current one). What may change:
// Caption, Description and ElementName everywhere; a destination's
// Destination, PersistenceType, username and password; a subscription's
// SubscriptionState, SubscriptionDuration and SubscriptionInfo. Anything
// else is CIM_ERR_NOT_SUPPORTED.
func (x *Indications) Modify(ctx context.Context, modified *cim.Instance) error {
	kind, err := x.kindOf(modified.ClassName)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var stored *cim.Instance
	var key string
	var allowed []string
	var sub *indSub
	var d *indDest
	switch kind {
	case kindFilter:
		f := x.lookupFilter(modified.Path)
		if f == nil {
			return errorf(cim.ErrNotFound, "Instance not found: %s", describe(modified.Path))
		}
		stored, key = f.inst, f.key
	case kindDestination:
		if d = x.lookupDest(modified.Path); d == nil {
			return errorf(cim.ErrNotFound, "Instance not found: %s", describe(modified.Path))
		}
		stored, key = d.inst, d.key
		allowed = []string{"Destination", "PersistenceType", "username", "password"}
	case kindSubscription:
		if sub = x.lookupSub(modified.Path); sub == nil || sub.inst == nil {
			return errorf(cim.ErrNotFound, "Instance not found: %s", describe(modified.Path))
		}
		stored, key = sub.inst, sub.key
		allowed = []string{"SubscriptionState", "SubscriptionDuration", "SubscriptionInfo"}
	}
	next := stored.Clone()
	live := map[string]bool{"SubscriptionTimeRemaining": true, "LastIndicationIdentifier": true,
		"LastIndicationProductionDateTime": true, "TimeOfLastStateChange": true}
	for _, p := range modified.Properties() {
		v := p.Value
		switch {
		case kind == kindSubscription && live[p.Name]:
			continue
		case cim.EqualNames(p.Name, "password") && v.IsNull():
			continue // what clients read back: unchanged
		case isDescriptive(p.Name) || containsFold(allowed, p.Name):
			next.Set(p.Name, v)
		case !v.Equal(stored.Get(p.Name)) && !(v.IsNull() && stored.Get(p.Name).IsNull()):
			return errorf(cim.ErrNotSupported, "%s cannot be modified", p.Name)
		}
	}
	switch kind {
	case kindDestination:
		dest, err := x.destinationOf(next, d.path, false)
		if err != nil {
			return err
		}
		if err := x.persist(kind, key, next, nil); err != nil {
			return err
		}
		d.inst = next
		d.queue.setDestination(dest)
		return nil
	case kindSubscription:
		state, _, _, duration, err := subscriptionPolicy(next)
		if err != nil {
			return err
		}
		prev := uint16(sub.state.Load())
		if state != prev {
			if v, err := cim.NewTimestampValue(time.Now()); err == nil {
				next.Set("TimeOfLastStateChange", v)
			}
		}
		next.Set("SubscriptionState", cim.NewUint16(state))
		if err := x.persist(kind, key, next, sub.owner()); err != nil {
			return err
		}
		sub.inst = next
		sub.expires = time.Time{}
		if duration > 0 {
			start := sub.inst.Get("SubscriptionStartTime").Datetime().Time()
			if start.IsZero() {
				start = time.Now()
			}
			sub.expires = start.Add(duration)
		}
		sub.state.Store(uint32(state))
		x.rebuildLocked()
		return nil
	}
	if err := x.persist(kind, key, next, nil); err != nil {
		return err
	}
	x.filters[key].inst = next
	return nil
}

func containsFold(list []string, name string) bool {
	for _, s := range list {
		if cim.EqualNames(s, name) {
			return true
		}
	}
	return false
}

// Delete removes an object. A filter or destination that a subscription
// uses cannot be deleted (CIM_ERR_FAILED, as OpenPegasus answers): delete
// the subscriptions first.
func (x *Indications) Delete(ctx context.Context, name *cim.ObjectPath) error {
	kind, err := x.kindOf(name.ClassName)
	if err != nil {
		return err
	}
	notFound := errorf(cim.ErrNotFound, "Instance not found: %s", describe(name))
	if kind == kindSubscription {
		x.mu.Lock()
		sub := x.lookupSub(name)
		x.mu.Unlock()
		if sub == nil || sub.inst == nil {
			return notFound
		}
		return x.removeSubscription(sub, nil)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	switch kind {
	case kindFilter:
		f := x.lookupFilter(name)
		switch {
		case f == nil:
			return notFound
		case f.refs > 0:
			return errorf(cim.ErrFailed, "the indication filter %s is used by %d subscription(s): delete them first", describe(f.path), f.refs)
		}
		if err := x.unpersist(kindFilter, f.key); err != nil {
			return err
		}
		delete(x.filters, f.key)
	case kindDestination:
		d := x.lookupDest(name)
		switch {
		case d == nil:
			return notFound
		case d.refs > 0:
			return errorf(cim.ErrFailed, "the listener destination %s is used by %d subscription(s): delete them first", describe(d.path), d.refs)
		}
		if err := x.unpersist(kindDestination, d.key); err != nil {
			return err
		}
		delete(x.dests, d.key)
	}
	return nil
}

// removeSubscription deletes a subscription (from the store too, for a CIM
// one); why, when not nil, ends a Go subscription with that reason.
// Indications of it still queued are dropped.
func (x *Indications) removeSubscription(sub *indSub, why error) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.subs[sub.key] != sub {
		return nil // removed meanwhile
	}
	if sub.inst != nil {
		if err := x.unpersist(kindSubscription, sub.key); err != nil {
			return err
		}
		sub.dest.refs--
		sub.filter.refs--
	}
	sub.removed.Store(true)
	delete(x.subs, sub.key)
	x.rebuildLocked()
	if sub.goSub != nil {
		if why == nil {
			why = ErrSubscriptionCancelled
		}
		sub.goSub.end(why)
	}
	return nil
}

// disableSubscription sets a subscription's state to Disabled (stored).
func (x *Indications) disableSubscription(sub *indSub) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.subs[sub.key] != sub || sub.state.Load() == stateDisabled {
		return nil
	}
	if sub.inst != nil {
		next := sub.inst.Clone()
		next.Set("SubscriptionState", cim.NewUint16(stateDisabled))
		if v, err := cim.NewTimestampValue(time.Now()); err == nil {
			next.Set("TimeOfLastStateChange", v)
		}
		if err := x.persist(kindSubscription, sub.key, next, sub.owner()); err != nil {
			return err
		}
		sub.inst = next
	}
	sub.state.Store(stateDisabled)
	x.rebuildLocked()
	return nil
}

// Subscription is a subscription made from Go with Indications.Subscribe,
// for protocol adapters (WS-Eventing) that deliver indications
// themselves.
type Subscription struct {
	x    *Indications
	sub  *indSub
	done chan struct{}
	once sync.Once
	err  error
}

// Errors that end Go subscriptions (Subscription.Err).
var (
	ErrSubscriptionCancelled = errors.New("wbem: the subscription was cancelled")
	ErrSubscriptionExpired   = errSubscriptionExpired
	ErrSubscriptionRemoved   = errors.New("wbem: the subscription was removed after deliveries kept failing")
)

// SubscribeRequest describes a Go subscription.
type SubscribeRequest struct {
	// Name identifies the subscription in logs and is the
	// IndicationFilterName of what it delivers; a generated one when
	// empty.
	Name string
	// QueryLanguage ("WQL" or "DMTF:CQL") and Query select the
	// indications, as a CIM_IndicationFilter's do.
	QueryLanguage, Query string
	// SourceNamespaces are the namespaces whose indications are
	// selected; at least one. ctx's principal must be allowed to read
	// each.
	SourceNamespaces []string
	// Deliver is called with each selected indication, one at a time and
	// in order, from a goroutine of the service, within
	// IndicationConfig.DeliveryTimeout (ctx). An error is retried as a
	// failed delivery to a listener is; an error with a method
	// Permanent() bool returning true ends the subscription (Err returns
	// it). Deliver must not call Cancel and wait for Done.
	Deliver func(ctx context.Context, indication *cim.Instance) error
	// Expires, when not zero, is when the subscription ends by itself
	// (Renew moves it).
	Expires time.Time
}

// Subscribe subscribes Go code to indications. The subscription lives
// until Cancel, its expiry, its removal by the service's
// SubscriptionRemovalAction, or the server's Close; it is not stored.
// Errors are those of creating a CIM_IndicationFilter, CIM_ERR_ACCESS_DENIED
// and CIM_ERR_FAILED at the subscription limit.
func (x *Indications) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return nil, errorf(cim.ErrAccessDenied, "the request carries no authenticated user")
	}
	if req.Deliver == nil {
		return nil, errors.New("wbem: Subscribe needs a Deliver function")
	}
	if len(req.SourceNamespaces) == 0 {
		return nil, errorf(cim.ErrInvalidParameter, "a subscription needs at least one source namespace")
	}
	f, err := x.compileFilter(req.QueryLanguage, req.Query, req.SourceNamespaces)
	if err != nil {
		return nil, err
	}
	for _, ns := range f.sources {
		if !x.s.allowed(p, ns, false) {
			return nil, errorf(cim.ErrAccessDenied, "user %s may not read namespace %s", p.User, ns)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.subs) >= x.cfg.MaxSubscriptions {
		return nil, errorf(cim.ErrFailed, "the server holds its maximum of %d indication subscriptions", x.cfg.MaxSubscriptions)
	}
	x.nextID++
	id := x.nextID
	key := "go:" + strconv.FormatUint(id, 10)
	f.name = req.Name
	if f.name == "" {
		f.name = "HC:" + key
	}
	sub := &indSub{key: key, id: id, filter: f, principal: p, expires: req.Expires, onFatal: fatalRemove}
	sub.state.Store(stateEnabled)
	sub.seqContext = x.sequenceContext(id)
	g := &Subscription{x: x, sub: sub, done: make(chan struct{})}
	sub.goSub = g
	sub.queue = x.newCallbackQueue(key, req.Deliver)
	x.subs[key] = sub
	x.rebuildLocked()
	return g, nil
}

// ID returns the subscription's identifier.
func (g *Subscription) ID() string { return g.sub.key }

// Cancel ends the subscription; what is queued for it is dropped. It may
// be called more than once.
func (g *Subscription) Cancel() { g.x.removeSubscription(g.sub, ErrSubscriptionCancelled) }

// Done is closed when the subscription has ended.
func (g *Subscription) Done() <-chan struct{} { return g.done }

// Err returns why the subscription ended (nil while it is active):
// ErrSubscriptionCancelled, ErrSubscriptionExpired, ErrSubscriptionRemoved,
// ErrServerClosed, or the permanent error Deliver returned.
func (g *Subscription) Err() error {
	select {
	case <-g.done:
		return g.err
	default:
		return nil
	}
}

// Expires returns when the subscription ends by itself (zero: never).
func (g *Subscription) Expires() time.Time {
	g.x.mu.Lock()
	defer g.x.mu.Unlock()
	return g.sub.expires
}

// Renew sets a new expiry (zero: never), as WS-Eventing Renew does; an
// ended subscription cannot be renewed (its Err is returned).
func (g *Subscription) Renew(expires time.Time) error {
	g.x.mu.Lock()
	defer g.x.mu.Unlock()
	if g.x.subs[g.sub.key] != g.sub {
		if err := g.Err(); err != nil {
			return err
		}
		return ErrSubscriptionCancelled
	}
	g.sub.expires = expires
	g.x.rebuildLocked()
	return nil
}

func (g *Subscription) end(err error) {
	g.once.Do(func() {
		g.err = err
		close(g.done)
	})
}
