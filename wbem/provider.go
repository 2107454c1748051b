package wbem

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/hypercim/hypercim/cim"
)

// The provider interfaces. A provider is registered for classes of a
// namespace (Registry.Register) and implements only what it serves, as an
// http.Handler does: InstanceProvider for instances to read, and the
// optional interfaces below for names, writes, methods and efficient
// association traversal. Providers return cim values and *cim.Error
// values (cim.ErrNotFound, cim.ErrInvalidParameter...), never XML.
//
// For every call the core has already checked the namespace and the
// caller's rights, resolved the class (passed as class: resolved, shared,
// not to be modified) and normalized paths to the class's keys. ctx carries
// the caller's Principal and is cancelled when the client goes away or the
// enumeration is closed. A provider serves a class exactly: the core asks
// separately for each subclass, and instances a provider returns must be
// of the class it was asked for. An instance, path or class a provider
// yields or returns belongs to the caller from then on: it may be kept
// after yield returns and read from other goroutines (pull operations
// buffer results; CIM-XML encodes them on worker goroutines), so the
// provider does not modify or reuse it.

// InstanceProvider serves the instances of the classes it is registered
// for.
type InstanceProvider interface {
	// EnumerateInstances yields every instance of class (not of its
	// subclasses), with all its properties; the core applies the
	// client's PropertyList and other options. An error from yield must
	// be returned unchanged, promptly.
	EnumerateInstances(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) error
	// GetInstance returns the instance named by name, or
	// cim.ErrNotFound.
	GetInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (*cim.Instance, error)
}

// Instances a provider returns may leave Path nil (the core builds it from
// the class's keys) and should be made with class.NewInstance, which gives
// every property its declared type and default.

// InstanceNameEnumerator is implemented by instance providers that can list
// instance paths more cheaply than whole instances; otherwise the core
// takes the paths of EnumerateInstances.
type InstanceNameEnumerator interface {
	EnumerateInstanceNames(ctx context.Context, ns string, class *cim.Class, yield func(*cim.ObjectPath) error) error
}

// InstanceCreator creates instances (CreateInstance). inst has been
// validated and normalized against class (every property present, typed
// as declared, defaults filled in); its keys may be NULL, for the provider
// to assign (an InstanceID) or to refuse with cim.ErrInvalidParameter. It
// returns the new instance's path; cim.ErrAlreadyExists when it exists.
type InstanceCreator interface {
	CreateInstance(ctx context.Context, ns string, class *cim.Class, inst *cim.Instance) (*cim.ObjectPath, error)
}

// InstanceModifier modifies instances (ModifyInstance, SetProperty).
// current is the instance as the provider's GetInstance returned it;
// modified is current with the client's changes applied and checked
// (keys unchanged, values typed as declared). The provider stores modified
// or refuses (cim.ErrNotSupported for a property it cannot change, with a
// description naming it).
type InstanceModifier interface {
	ModifyInstance(ctx context.Context, ns string, class *cim.Class, current, modified *cim.Instance) error
}

// InstanceDeleter deletes instances (DeleteInstance).
type InstanceDeleter interface {
	DeleteInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) error
}

// MethodProvider runs extrinsic methods. It serves the methods of the
// classes it is registered for and, unless they have a method provider of
// their own, of their subclasses. object is an instance path (normalized)
// or, for a static method, a class path; method is the resolved
// declaration; in holds the input parameters converted to their declared
// types (parameters the client did not send are absent). The return value
// and output parameters are converted to their declared types by the
// core, so a provider may return cim.NewUint32(0) or any integer Value.
type MethodProvider interface {
	InvokeMethod(ctx context.Context, ns string, class *cim.Class, object *cim.ObjectPath, method *cim.Method, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error)
}

// AssociationProvider is implemented by the providers of association
// classes that can find the associations of one object without
// enumerating them all. References yields the instances of class assoc
// (exactly) that refer to object, through the reference property role
// when role is not empty. Association providers without it are served by
// filtering EnumerateInstances.
type AssociationProvider interface {
	References(ctx context.Context, ns string, assoc *cim.Class, object *cim.ObjectPath, role string, yield func(*cim.Instance) error) error
}

// Registry routes namespace and class to the providers that serve them.
// Classes without an instance provider are served from the repository's
// static instances. It is safe for concurrent use; providers may be
// registered while the server runs.
type Registry struct {
	mu      sync.RWMutex
	entries map[string]*registration
	// instanceNS counts the classes with an instance provider per folded
	// namespace, so that namespaces without any skip provider lookups.
	instanceNS map[string]int
}

// registration holds the providers of one class, one per role.
type registration struct {
	namespace, class string
	instance         InstanceProvider
	names            InstanceNameEnumerator
	creator          InstanceCreator
	modifier         InstanceModifier
	deleter          InstanceDeleter
	method           MethodProvider
	assoc            AssociationProvider
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{entries: map[string]*registration{}, instanceNS: map[string]int{}}
}

func registryKey(ns, class string) string {
	return cim.FoldName(CanonicalNamespace(ns)) + ":" + cim.FoldName(class)
}

// Register registers provider for classNames in namespace. provider must
// implement InstanceProvider or MethodProvider (and may implement the
// other interfaces); each of its roles is registered for every class.
// Different providers may serve different roles of one class (say, one
// for instances and another for methods), but one role of a class has one
// provider: a second registration of it is an error.
func (r *Registry) Register(namespace string, provider any, classNames ...string) error {
	ip, isInstance := provider.(InstanceProvider)
	mp, isMethod := provider.(MethodProvider)
	if !isInstance && !isMethod {
		return fmt.Errorf("registering %T: a provider implements wbem.InstanceProvider or wbem.MethodProvider", provider)
	}
	if CanonicalNamespace(namespace) == "" || len(classNames) == 0 {
		return fmt.Errorf("registering %T: a namespace and at least one class are needed", provider)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Check everything before changing anything.
	for _, name := range classNames {
		if !cim.ValidName(name) {
			return fmt.Errorf("registering %T: invalid class name %q", provider, name)
		}
		if e := r.entries[registryKey(namespace, name)]; e != nil {
			if isInstance && e.instance != nil || isMethod && e.method != nil {
				return fmt.Errorf("registering %T for %s:%s: the class already has a provider", provider, namespace, name)
			}
		}
	}
	for _, name := range classNames {
		key := registryKey(namespace, name)
		e := r.entries[key]
		if e == nil {
			e = &registration{namespace: CanonicalNamespace(namespace), class: name}
			r.entries[key] = e
		}
		if isInstance {
			r.instanceNS[cim.FoldName(e.namespace)]++
			e.instance = instanceGuard{ip}
			if p, ok := provider.(InstanceNameEnumerator); ok {
				e.names = namesGuard{p}
			}
			if p, ok := provider.(InstanceCreator); ok {
				e.creator = creatorGuard{p}
			}
			if p, ok := provider.(InstanceModifier); ok {
				e.modifier = modifierGuard{p}
			}
			if p, ok := provider.(InstanceDeleter); ok {
				e.deleter = deleterGuard{p}
			}
			if p, ok := provider.(AssociationProvider); ok {
				e.assoc = assocGuard{p}
			}
		}
		if isMethod {
			e.method = methodGuard{mp}
		}
	}
	return nil
}

// lookup returns the registration of a class, nil if none.
func (r *Registry) lookup(ns, class string) *registration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.entries[registryKey(ns, class)]
}

// instanceProvider returns the instance provider of a class, nil when its
// instances are static.
func (r *Registry) instanceProvider(ns, class string) *registration {
	if e := r.lookup(ns, class); e != nil && e.instance != nil {
		return e
	}
	return nil
}

// hasInstanceProviders reports whether any instance provider is
// registered in namespace ns.
func (r *Registry) hasInstanceProviders(ns string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.instanceNS[cim.FoldName(CanonicalNamespace(ns))] > 0
}

// Classes returns the classes registered in namespace, sorted, for
// diagnostics and documentation.
func (r *Registry) Classes(namespace string) []string {
	prefix := cim.FoldName(CanonicalNamespace(namespace)) + ":"
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for key, e := range r.entries {
		if strings.HasPrefix(key, prefix) {
			out = append(out, e.class)
		}
	}
	sort.Strings(out)
	return out
}

// Providers are called through guards that turn a panic into
// CIM_ERR_FAILED, so that a provider's bug fails one operation, not the
// server. The stack goes into the error's cause, which the server logs and
// never sends.

func protect(p any, err *error) {
	if r := recover(); r != nil {
		*err = cim.WrapError(cim.ErrFailed, fmt.Errorf("panic: %v\n%s", r, debug.Stack()),
			fmt.Sprintf("internal error in provider %T", p))
	}
}

type instanceGuard struct{ p InstanceProvider }

func (g instanceGuard) EnumerateInstances(ctx context.Context, ns string, class *cim.Class, yield func(*cim.Instance) error) (err error) {
	defer protect(g.p, &err)
	return g.p.EnumerateInstances(ctx, ns, class, yield)
}

func (g instanceGuard) GetInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (_ *cim.Instance, err error) {
	defer protect(g.p, &err)
	return g.p.GetInstance(ctx, ns, class, name)
}

type namesGuard struct{ p InstanceNameEnumerator }

func (g namesGuard) EnumerateInstanceNames(ctx context.Context, ns string, class *cim.Class, yield func(*cim.ObjectPath) error) (err error) {
	defer protect(g.p, &err)
	return g.p.EnumerateInstanceNames(ctx, ns, class, yield)
}

type creatorGuard struct{ p InstanceCreator }

func (g creatorGuard) CreateInstance(ctx context.Context, ns string, class *cim.Class, inst *cim.Instance) (_ *cim.ObjectPath, err error) {
	defer protect(g.p, &err)
	return g.p.CreateInstance(ctx, ns, class, inst)
}

type modifierGuard struct{ p InstanceModifier }

func (g modifierGuard) ModifyInstance(ctx context.Context, ns string, class *cim.Class, current, modified *cim.Instance) (err error) {
	defer protect(g.p, &err)
	return g.p.ModifyInstance(ctx, ns, class, current, modified)
}

type deleterGuard struct{ p InstanceDeleter }

func (g deleterGuard) DeleteInstance(ctx context.Context, ns string, class *cim.Class, name *cim.ObjectPath) (err error) {
	defer protect(g.p, &err)
	return g.p.DeleteInstance(ctx, ns, class, name)
}

type methodGuard struct{ p MethodProvider }

func (g methodGuard) InvokeMethod(ctx context.Context, ns string, class *cim.Class, object *cim.ObjectPath, method *cim.Method, in []cim.ParamValue) (_ cim.Value, _ []cim.ParamValue, err error) {
	defer protect(g.p, &err)
	return g.p.InvokeMethod(ctx, ns, class, object, method, in)
}

type assocGuard struct{ p AssociationProvider }

func (g assocGuard) References(ctx context.Context, ns string, assoc *cim.Class, object *cim.ObjectPath, role string, yield func(*cim.Instance) error) (err error) {
	defer protect(g.p, &err)
	return g.p.References(ctx, ns, assoc, object, role, yield)
}
