package repository

import (
	"sync"
	"sync/atomic"

	"github.com/hypercim/hypercim/cim"
)

// cache holds, per namespace, the resolved classes and the qualifier
// declarations read so far, so that GetClass and instance decoding do not
// resolve a class chain on every call.
//
// Correctness with concurrent writers rests on one invariant: an nsCache
// holds exactly the classes of the namespace as committed by transaction
// gen, and that state lasts until the transaction pending (if set) commits.
// A reader whose snapshot s lies in [gen, pending) may use and fill it; any
// other reader works from its own snapshot without the cache. A writer that
// changed classes or qualifier declarations marks the namespace pending
// before it commits, and replaces the nsCache with one for its own
// transaction after.
type cache struct {
	mu     sync.RWMutex
	base   uint64 // the transaction the repository was opened at
	spaces map[string]*nsCache
}

type nsCache struct {
	gen     uint64
	pending atomic.Uint64 // 0: no writer is committing a change

	mu      sync.RWMutex
	classes map[string]*cim.Class         // by folded name and by the class's own spelling
	quals   map[string]*cim.QualifierType // by folded name and by spelling
}

func newCache(base uint64) *cache {
	return &cache{base: base, spaces: map[string]*nsCache{}}
}

func newNSCache(gen uint64) *nsCache {
	return &nsCache{gen: gen, classes: map[string]*cim.Class{}, quals: map[string]*cim.QualifierType{}}
}

// space returns the cache of a namespace, creating it.
func (c *cache) space(key string) *nsCache {
	c.mu.RLock()
	s := c.spaces[key]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.spaces[key]; s == nil {
		// No class change since the repository was opened, or the
		// namespace would have a cache already.
		s = newNSCache(c.base)
		c.spaces[key] = s
	}
	return s
}

// forSnapshot returns the cache of a namespace if a transaction reading
// snapshot s may use it, nil otherwise.
func (c *cache) forSnapshot(key string, s uint64) *nsCache {
	sc := c.space(key)
	if !sc.usable(s) {
		return nil
	}
	return sc
}

func (sc *nsCache) usable(s uint64) bool {
	p := sc.pending.Load()
	return sc.gen <= s && (p == 0 || s < p)
}

// lookupClass returns a cached class of the latest committed state, for
// reads outside a transaction. A writer that has committed a change but
// not yet replaced the cache has not returned to its caller either, so the
// answer is as recent as linearizability asks. The class's own spelling
// is tried before the folded name, which saves folding it.
func (c *cache) lookupClass(nsKey, name string) *cim.Class {
	c.mu.RLock()
	sc := c.spaces[nsKey]
	c.mu.RUnlock()
	if sc == nil {
		return nil
	}
	if cls := sc.class(name); cls != nil {
		return cls
	}
	if key := cim.FoldName(name); key != name {
		return sc.class(key)
	}
	return nil
}

func (sc *nsCache) class(key string) *cim.Class {
	sc.mu.RLock()
	cls := sc.classes[key]
	sc.mu.RUnlock()
	return cls
}

func (sc *nsCache) putClass(key string, cls *cim.Class) {
	sc.mu.Lock()
	sc.classes[key] = cls
	sc.classes[cls.Name] = cls
	sc.mu.Unlock()
}

func (sc *nsCache) qualifier(name string) *cim.QualifierType {
	sc.mu.RLock()
	qt := sc.quals[name]
	sc.mu.RUnlock()
	return qt
}

func (sc *nsCache) putQualifier(names []string, qt *cim.QualifierType) {
	sc.mu.Lock()
	for _, n := range names {
		sc.quals[n] = qt
	}
	sc.mu.Unlock()
}

// setPending marks a namespace as being changed by write transaction id,
// just before it commits.
func (c *cache) setPending(key string, id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := c.spaces[key]
	if sc == nil {
		sc = newNSCache(c.base)
		c.spaces[key] = sc
	}
	sc.pending.Store(id)
}

// committed installs the cache of a namespace as transaction id left it,
// seeded with what the transaction resolved.
func (c *cache) committed(key string, id uint64, classes map[string]*cim.Class, quals map[string]*cim.QualifierType) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.spaces[key]
	if old != nil && old.gen > id {
		return // a later writer got here first
	}
	sc := newNSCache(id)
	for k, v := range classes {
		sc.classes[k] = v
		sc.classes[v.Name] = v
	}
	for k, v := range quals {
		sc.quals[k] = v
	}
	if old != nil {
		if p := old.pending.Load(); p > id {
			sc.pending.Store(p) // the next writer is committing already
		}
	}
	c.spaces[key] = sc
}

// failed resets the cache of a namespace after the commit of transaction
// id failed: no snapshot before id may fill it, and id is what the next
// write transaction will be numbered.
func (c *cache) failed(key string, id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spaces[key] = newNSCache(id)
}
