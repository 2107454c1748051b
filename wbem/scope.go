package wbem

import (
	"context"
	"errors"

	"github.com/hypercim/hypercim/cim"
)

// The narrowing of a class enumeration by OpenOptions.ExactClass and
// OpenOptions.Keys: which classes are asked for instances, which
// instances are kept, and, when the keys name one instance per class, a
// GetInstance per class instead of a scan.

// narrows reports whether p narrows a class enumeration.
func (p OpenOptions) narrows() bool { return p.ExactClass || p.Keys != nil }

// mustNotNarrow refuses ExactClass and Keys on an operation they do not
// apply to.
func mustNotNarrow(op string, p OpenOptions) error {
	if p.narrows() {
		return errorf(cim.ErrInvalidParameter, "%s takes no ExactClass or Keys: they narrow OpenEnumerateInstances and OpenEnumerateInstancePaths", op)
	}
	return nil
}

// scope is a class enumeration narrowed by ExactClass and Keys.
type scope struct {
	s     *Server
	ns    string
	top   *cim.Class
	exact bool
	keys  []cim.KeyBinding
	// get is set when keys name every key of top: each class that may
	// hold the instance is asked for it with GetInstance.
	get bool
}

// scopeOf checks the narrowing p asks for an enumeration of top; nil when
// it asks for none.
func (s *Server) scopeOf(ns string, top *cim.Class, p OpenOptions) (*scope, error) {
	if !p.narrows() {
		return nil, nil
	}
	sc := &scope{s: s, ns: ns, top: top, exact: p.ExactClass, keys: p.Keys}
	topKeys := top.KeyNames()
	named := 0
	for i, k := range p.Keys {
		if err := mustName("key name", k.Name); err != nil {
			return nil, err
		}
		if k.Value.IsNull() || k.Value.IsArray() {
			return nil, errorf(cim.ErrInvalidParameter, "key %s: a key value is a non-NULL scalar", k.Name)
		}
		for _, o := range p.Keys[:i] {
			if cim.EqualNames(o.Name, k.Name) {
				return nil, errorf(cim.ErrInvalidParameter, "key %s is given twice", k.Name)
			}
		}
		if len(topKeys) == 0 {
			// Keys are declared below top: each instance's own are tested.
			continue
		}
		found := false
		for _, name := range topKeys {
			found = found || cim.EqualNames(name, k.Name)
		}
		if !found {
			return nil, errorf(cim.ErrInvalidParameter, "%s is not a key of class %s (its keys: %v)", k.Name, top.Name, topKeys)
		}
		named++
	}
	sc.get = len(topKeys) > 0 && named == len(topKeys)
	return sc, nil
}

// instances calls fn with every whole instance in the scope.
func (sc *scope) instances(ctx context.Context, fn func(*cim.Instance) error) error {
	if sc.get {
		return sc.getEach(ctx, fn)
	}
	keep := func(inst *cim.Instance) error {
		if !sc.matches(inst.Path) {
			return nil
		}
		return fn(inst)
	}
	if sc.exact {
		return sc.s.eachOwnInstance(ctx, sc.ns, sc.top, keep)
	}
	return sc.s.eachInstance(ctx, sc.ns, sc.top, keep)
}

// paths calls fn with the path of every instance in the scope.
func (sc *scope) paths(ctx context.Context, fn func(*cim.ObjectPath) error) error {
	if sc.get {
		return sc.getEach(ctx, func(inst *cim.Instance) error { return fn(inst.Path) })
	}
	keep := func(p *cim.ObjectPath) error {
		if !sc.matches(p) {
			return nil
		}
		return fn(p)
	}
	if sc.exact {
		return sc.s.eachOwnInstanceName(ctx, sc.ns, sc.top, keep)
	}
	return sc.s.eachInstanceName(ctx, sc.ns, sc.top, keep)
}

// matches reports whether the keys of p have the scope's values.
func (sc *scope) matches(p *cim.ObjectPath) bool {
	if len(sc.keys) == 0 {
		return true
	}
	if p == nil {
		return false
	}
	for _, k := range sc.keys {
		v, ok := p.Key(k.Name)
		if !ok || !keyMatches(k.Value, v) {
			return false
		}
	}
	return true
}

// keyMatches compares a wanted key value with an instance's: converted to
// the instance's type, references without host and namespace.
func keyMatches(want, have cim.Value) bool {
	if have.IsNull() || have.IsArray() {
		return false
	}
	if want.Type() == cim.TypeReference || have.Type() == cim.TypeReference {
		if want.Type() != cim.TypeReference || have.Type() != cim.TypeReference {
			return false
		}
		return want.Ref().WithNamespace("", "").Equal(have.Ref().WithNamespace("", ""))
	}
	if want.Type() != have.Type() {
		conv, err := want.Convert(have.Type())
		if err != nil {
			return false
		}
		want = conv
	}
	return want.Equal(have)
}

// getEach gets the instance the keys name from each class of the scope
// that may hold it: the class a CreationClassName key names when it is
// in the scope, else top and, unless exact, each subclass with a provider
// or instances of its own.
func (sc *scope) getEach(ctx context.Context, fn func(*cim.Instance) error) error {
	classes := []string{sc.top.Name}
	if v, ok := keyOf(sc.keys, "CreationClassName"); ok && v.Type() == cim.TypeString {
		switch named := v.Str(); {
		case cim.EqualNames(named, sc.top.Name):
		case sc.exact || !cim.ValidName(named) || !sc.s.IsA(sc.ns, named, sc.top.Name):
			return nil // DMTF's key convention: no instance of the scope has it
		default:
			classes = []string{named}
		}
	} else if !sc.exact {
		if err := sc.s.repo.EnumerateClassNames(sc.ns, sc.top.Name, true, func(name string) error {
			classes = append(classes, name)
			return nil
		}); err != nil {
			return err
		}
	}
	for _, name := range classes {
		cls, err := sc.s.Class(sc.ns, name)
		if err != nil {
			continue // deleted meanwhile
		}
		if cls.IsAbstract() && sc.s.reg.instanceProvider(sc.ns, cls.Name) == nil {
			continue
		}
		inst, _, err := sc.s.getInstance(ctx, sc.ns, &cim.ObjectPath{ClassName: cls.Name, Keys: sc.keys})
		switch {
		case err == nil:
		case errors.Is(err, cim.ErrNotFound), errors.Is(err, cim.ErrInvalidParameter):
			// Not there, or a value that is not of the key's type.
			continue
		default:
			return err
		}
		if err := fn(inst); err != nil {
			return err
		}
	}
	return nil
}

// keyOf returns the value of the named key binding.
func keyOf(keys []cim.KeyBinding, name string) (cim.Value, bool) {
	for _, k := range keys {
		if cim.EqualNames(k.Name, name) {
			return k.Value, true
		}
	}
	return cim.Value{}, false
}

// eachOwnInstance calls fn with every instance of exactly cls, not of its
// subclasses, with all properties and the Path set.
func (s *Server) eachOwnInstance(ctx context.Context, ns string, cls *cim.Class, fn func(*cim.Instance) error) error {
	reg := s.reg.instanceProvider(ns, cls.Name)
	switch {
	case reg != nil:
		return s.providerInstances(ctx, ns, cls, reg, fn)
	case cls.IsAbstract():
		return nil
	}
	return s.repo.EnumerateInstances(ns, cls.Name, false, fn)
}

// eachOwnInstanceName is eachOwnInstance for paths.
func (s *Server) eachOwnInstanceName(ctx context.Context, ns string, cls *cim.Class, fn func(*cim.ObjectPath) error) error {
	reg := s.reg.instanceProvider(ns, cls.Name)
	switch {
	case reg != nil:
		return s.providerInstanceNames(ctx, ns, cls, reg, fn)
	case cls.IsAbstract():
		return nil
	}
	return s.repo.EnumerateInstanceNames(ns, cls.Name, false, fn)
}
