package wbem

import (
	"encoding/json"
	"fmt"

	"github.com/hypercim/hypercim/cim"
)

// The filters, destinations and subscriptions are kept in the server's
// ProviderStore "indications", one bucket each, as JSON: the class name,
// each property's value in its CIM-XML text form (typed again from the
// class when read back), and the owner of a subscription. The store is
// the one source of truth; the maps of Indications are its cache.

// storedOwner is who created a subscription, and its number.
type storedOwner struct {
	User         string `json:"user"`
	Unrestricted bool   `json:"unrestricted,omitempty"`
	ID           uint64 `json:"id"`
}

type storedObject struct {
	Class string                     `json:"class"`
	Props map[string]json.RawMessage `json:"props"`
	Owner *storedOwner               `json:"owner,omitempty"`
}

// persist stores an object durably before the caller changes its maps.
func (x *Indications) persist(kind objectKind, key string, inst *cim.Instance, owner *storedOwner) error {
	rec := storedObject{Class: inst.ClassName, Props: map[string]json.RawMessage{}, Owner: owner}
	for _, p := range inst.Properties() {
		raw, err := encodeStoredValue(p.Value)
		if err != nil {
			return cim.WrapError(cim.ErrFailed, err, fmt.Sprintf("storing %s: property %s", describe(inst.Path), p.Name))
		}
		rec.Props[p.Name] = raw
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return cim.WrapError(cim.ErrFailed, err, "storing "+describe(inst.Path))
	}
	if err := x.store.Update(func(tx ProviderTx) error { return tx.Put(kind.bucket(), key, data) }); err != nil {
		return cim.WrapError(cim.ErrFailed, err, "storing "+describe(inst.Path))
	}
	return nil
}

func (x *Indications) unpersist(kind objectKind, key string) error {
	if err := x.store.Update(func(tx ProviderTx) error { return tx.Delete(kind.bucket(), key) }); err != nil {
		return cim.WrapError(cim.ErrFailed, err, "deleting a stored indication object")
	}
	return nil
}

func encodeStoredValue(v cim.Value) (json.RawMessage, error) {
	if v.IsNull() {
		return json.RawMessage("null"), nil
	}
	if v.Embedded() != cim.EmbeddedNone {
		return nil, fmt.Errorf("embedded objects are not stored")
	}
	if !v.IsArray() {
		return json.Marshal(v.Text())
	}
	elems := make([]*string, v.Len())
	for i := range elems {
		if !v.IsNullAt(i) {
			s := v.Index(i).Text()
			elems[i] = &s
		}
	}
	return json.Marshal(elems)
}

// decodeStored rebuilds an instance of root/interop from its record.
func (x *Indications) decodeStored(data []byte) (*cim.Instance, *cim.Class, *storedOwner, error) {
	var rec storedObject
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, nil, nil, err
	}
	cls, err := x.s.Class(InteropNamespace, rec.Class)
	if err != nil {
		return nil, nil, nil, err
	}
	inst := cls.NewInstance()
	for name, raw := range rec.Props {
		cp := cls.Property(name)
		if cp == nil {
			continue // the class lost the property since
		}
		v, err := decodeStoredValue(cp, raw)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("property %s: %w", name, err)
		}
		inst.Set(cp.Name, v)
	}
	path, err := cls.InstancePath(InteropNamespace, inst)
	if err != nil {
		return nil, nil, nil, err
	}
	inst.Path = path
	return inst, cls, rec.Owner, nil
}

func decodeStoredValue(cp *cim.Property, raw json.RawMessage) (cim.Value, error) {
	if string(raw) == "null" {
		if cp.IsArray {
			return cim.NullArray(cp.Type), nil
		}
		return cim.Null(cp.Type), nil
	}
	if !cp.IsArray {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return cim.Value{}, err
		}
		return cim.ParseValue(cp.Type, s)
	}
	var texts []*string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return cim.Value{}, err
	}
	elems := make([]cim.Value, len(texts))
	for i, s := range texts {
		if s == nil {
			elems[i] = cim.Null(cp.Type)
			continue
		}
		v, err := cim.ParseValue(cp.Type, *s)
		if err != nil {
			return cim.Value{}, err
		}
		elems[i] = v
	}
	return cim.NewArray(cp.Type, elems)
}

// load reads the stored objects at start. An object that no longer fits
// the schema is logged and left out (its record stays, for a later
// schema to accept); a filter whose query no longer checks is kept but
// selects nothing.
func (x *Indications) load() error {
	type entry struct{ key, data string }
	read := func(kind objectKind) ([]entry, error) {
		var out []entry
		err := x.store.View(func(tx ProviderTx) error {
			return tx.ForEach(kind.bucket(), func(k string, v []byte) error {
				out = append(out, entry{k, string(v)})
				return nil
			})
		})
		return out, err
	}
	warn := func(kind objectKind, key string, err error) {
		x.log.WithError(err).WithField("object", kind.bucket()).Warn("a stored indication object cannot be used")
	}
	filters, err := read(kindFilter)
	if err != nil {
		return fmt.Errorf("reading the indication subscriptions: %w", err)
	}
	for _, e := range filters {
		inst, _, _, err := x.decodeStored([]byte(e.data))
		if err != nil {
			warn(kindFilter, e.key, err)
			continue
		}
		f, err := x.compileFilter(inst.Get("QueryLanguage").Str(), inst.Get("Query").Str(), filterSources(inst, InteropNamespace))
		if err != nil {
			x.log.WithError(err).WithField("filter", describe(inst.Path)).Warn("a stored indication filter no longer checks against the schema: it selects nothing")
			f = &indFilter{err: err}
		}
		f.key, f.path, f.inst, f.name = e.key, inst.Path, inst, inst.Get("Name").Str()
		x.filters[e.key] = f
	}
	dests, err := read(kindDestination)
	if err != nil {
		return fmt.Errorf("reading the indication subscriptions: %w", err)
	}
	for _, e := range dests {
		inst, _, _, err := x.decodeStored([]byte(e.data))
		if err != nil {
			warn(kindDestination, e.key, err)
			continue
		}
		dest, err := x.destinationOf(inst, inst.Path, false)
		if err != nil {
			warn(kindDestination, e.key, err)
			continue
		}
		d := &indDest{key: e.key, path: inst.Path, inst: inst, dest: dest}
		d.queue = x.newDestQueue(d)
		x.dests[e.key] = d
	}
	subs, err := read(kindSubscription)
	if err != nil {
		return fmt.Errorf("reading the indication subscriptions: %w", err)
	}
	for _, e := range subs {
		inst, _, owner, err := x.decodeStored([]byte(e.data))
		if err != nil {
			warn(kindSubscription, e.key, err)
			continue
		}
		fk, err1 := x.objectKey(inst.Get("Filter").Ref())
		hk, err2 := x.objectKey(inst.Get("Handler").Ref())
		f, d := x.filters[fk], x.dests[hk]
		if err1 != nil || err2 != nil || f == nil || d == nil || owner == nil {
			warn(kindSubscription, e.key, fmt.Errorf("its filter or destination is missing"))
			continue
		}
		state, onFatal, trigger, duration, err := subscriptionPolicy(inst)
		if err != nil {
			warn(kindSubscription, e.key, err)
			continue
		}
		sub := &indSub{key: e.key, id: owner.ID, path: inst.Path, inst: inst, filter: f, dest: d, queue: d.queue,
			principal: Principal{User: owner.User, Unrestricted: owner.Unrestricted}, onFatal: onFatal, failureTrigger: trigger}
		if duration > 0 {
			if t := inst.Get("SubscriptionStartTime").Datetime().Time(); !t.IsZero() {
				sub.expires = t.Add(duration)
			}
		}
		sub.state.Store(uint32(state))
		sub.seqContext = x.sequenceContext(sub.id)
		x.nextID = max(x.nextID, owner.ID)
		f.refs++
		d.refs++
		x.subs[e.key] = sub
	}
	x.rebuildLocked()
	if len(x.subs) > 0 {
		x.log.WithField("subscriptions", len(x.subs)).Info("indication subscriptions restored")
	}
	return nil
}
