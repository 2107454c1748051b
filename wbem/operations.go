package wbem

import (
	"context"
	"time"

	"github.com/hypercim/hypercim/cim"
)

// Operations is the CIMOM core as the protocol adapters see it: one method
// per DSP0200 operation. wbem/cimxml and wbem/wsman call nothing else, so the
// two protocols behave the same. *Server implements it.
//
// Conventions for every method:
//   - ctx carries the authenticated Principal (WithPrincipal); the core
//     checks the caller's right on the namespace (read or write) and answers
//     cim.ErrAccessDenied when it is missing.
//   - ns is a namespace name as the client sent it ("root/virt",
//     "interop"); the core resolves aliases and case.
//   - Results stream through yield: the core calls it once per result, in
//     order, while the results are produced; a non-nil error from yield
//     stops the operation and is returned unchanged. Nothing is buffered
//     beyond what one result needs, so a million instances cost constant
//     memory.
//   - Errors are *cim.Error with the DSP0200 status (cim.StatusOf).
//   - Paths given to the core may lack host and namespace; the namespace of
//     an operation is ns, or the path's own namespace when the method has no
//     ns parameter. Paths the core returns carry the namespace and no host
//     (adapters add the host they are reached as).
type Operations interface {
	GetClass(ctx context.Context, ns, className string, f cim.ClassFilter) (*cim.Class, error)
	// EnumerateClasses yields the subclasses of className ("" for the root
	// classes), all descendants when deep, else only direct children.
	EnumerateClasses(ctx context.Context, ns, className string, deep bool, f cim.ClassFilter, yield func(*cim.Class) error) error
	EnumerateClassNames(ctx context.Context, ns, className string, deep bool, yield func(string) error) error
	CreateClass(ctx context.Context, ns string, c *cim.Class) error
	ModifyClass(ctx context.Context, ns string, c *cim.Class) error
	DeleteClass(ctx context.Context, ns, className string) error

	// GetInstance returns the instance with its Path set.
	GetInstance(ctx context.Context, ns string, name *cim.ObjectPath, o InstanceOptions) (*cim.Instance, error)
	// EnumerateInstances yields instances of className and all its
	// subclasses, each with its Path set; o.DeepInheritance decides which
	// properties of subclasses are kept (DSP0200 5.3.2.11).
	EnumerateInstances(ctx context.Context, ns, className string, o InstanceOptions, yield func(*cim.Instance) error) error
	// EnumerateInstancesUnshaped is EnumerateInstances leaving the
	// shaping of each instance (Unshaped.Shape) to the caller, which may
	// do it on other goroutines.
	EnumerateInstancesUnshaped(ctx context.Context, ns, className string, o InstanceOptions, yield func(Unshaped) error) error
	EnumerateInstanceNames(ctx context.Context, ns, className string, yield func(*cim.ObjectPath) error) error
	// CreateInstance returns the path of the new instance.
	CreateInstance(ctx context.Context, ns string, inst *cim.Instance) (*cim.ObjectPath, error)
	// ModifyInstance changes the instance named by inst.Path; with a
	// non-nil propertyList only those properties change (DSP0200 5.3.2.7).
	ModifyInstance(ctx context.Context, ns string, inst *cim.Instance, includeQualifiers bool, propertyList []string) error
	DeleteInstance(ctx context.Context, ns string, name *cim.ObjectPath) error

	// Associators, AssociatorNames, References and ReferenceNames work on
	// an instance path (instance-level) or a class path (class-level,
	// results are classes: AssocResult.Class set).
	Associators(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, yield func(AssocResult) error) error
	AssociatorNames(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, yield func(*cim.ObjectPath) error) error
	References(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, yield func(AssocResult) error) error
	ReferenceNames(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, yield func(*cim.ObjectPath) error) error

	GetProperty(ctx context.Context, ns string, name *cim.ObjectPath, property string) (cim.Value, error)
	SetProperty(ctx context.Context, ns string, name *cim.ObjectPath, property string, value cim.Value) error

	GetQualifier(ctx context.Context, ns, name string) (*cim.QualifierType, error)
	SetQualifier(ctx context.Context, ns string, qt *cim.QualifierType) error
	DeleteQualifier(ctx context.Context, ns, name string) error
	EnumerateQualifiers(ctx context.Context, ns string, yield func(*cim.QualifierType) error) error

	// ExecQuery runs a query ("WQL", "DMTF:CQL", with "CQL" and "CIM:CQL"
	// as aliases) and yields the matching instances (projected when the
	// query selects properties; Path set when the result is a whole
	// instance).
	ExecQuery(ctx context.Context, ns, language, query string, yield func(*cim.Instance) error) error

	// InvokeMethod calls an extrinsic method on an instance path or, for a
	// static method, a class path. Input parameters are typed by the
	// caller's best knowledge; the core converts them to the method's
	// declared types and rejects unknown or mistyped ones.
	InvokeMethod(ctx context.Context, ns string, object *cim.ObjectPath, method string, in []cim.ParamValue) (cim.Value, []cim.ParamValue, error)

	// The pull operations (DSP0200 5.3.2.21-5.3.2.34). Each Open* yields
	// its first batch (at most p.MaxObjectCount results) and returns the
	// enumeration's state; Pull* continue it. An enumeration context is
	// bound to the namespace and principal that opened it and to the
	// result kind (instances with paths, paths, or query instances).
	OpenEnumerateInstances(ctx context.Context, ns, className string, o InstanceOptions, p OpenOptions, yield func(*cim.Instance) error) (PullState, error)
	OpenEnumerateInstancePaths(ctx context.Context, ns, className string, p OpenOptions, yield func(*cim.ObjectPath) error) (PullState, error)
	OpenAssociatorInstances(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, p OpenOptions, yield func(*cim.Instance) error) (PullState, error)
	OpenAssociatorInstancePaths(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, p OpenOptions, yield func(*cim.ObjectPath) error) (PullState, error)
	OpenReferenceInstances(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, p OpenOptions, yield func(*cim.Instance) error) (PullState, error)
	OpenReferenceInstancePaths(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, p OpenOptions, yield func(*cim.ObjectPath) error) (PullState, error)
	// OpenQueryInstances returns the query result class when
	// returnQueryResultClass is set.
	OpenQueryInstances(ctx context.Context, ns, language, query string, returnQueryResultClass bool, p OpenOptions, yield func(*cim.Instance) error) (*cim.Class, PullState, error)
	PullInstancesWithPath(ctx context.Context, ns, enumContext string, maxObjectCount uint32, yield func(*cim.Instance) error) (PullState, error)
	PullInstancePaths(ctx context.Context, ns, enumContext string, maxObjectCount uint32, yield func(*cim.ObjectPath) error) (PullState, error)
	PullInstances(ctx context.Context, ns, enumContext string, maxObjectCount uint32, yield func(*cim.Instance) error) (PullState, error)
	CloseEnumeration(ctx context.Context, ns, enumContext string) error
	// EnumerationCount returns the number of results still to come, or
	// ok=false when the count is not known without producing them.
	EnumerationCount(ctx context.Context, ns, enumContext string) (count uint64, ok bool, err error)
}

// InstanceOptions are the DSP0200 parameters that shape returned instances.
type InstanceOptions struct {
	LocalOnly          bool
	DeepInheritance    bool
	IncludeQualifiers  bool
	IncludeClassOrigin bool
	// PropertyList: nil returns all properties; a non-nil empty list none.
	PropertyList []string
}

// AssocFilter holds the association traversal filters; empty strings do
// not filter.
type AssocFilter struct {
	AssocClass  string // Associators/AssociatorNames only
	ResultClass string
	Role        string
	ResultRole  string // Associators/AssociatorNames only
}

// AssocResult is one Associators or References result: an instance (with
// its Path) for an instance-level request, or a class with its path for a
// class-level one.
type AssocResult struct {
	Instance *cim.Instance
	Class    *cim.Class
	Path     *cim.ObjectPath
}

// OpenOptions are the parameters common to every Open* pull operation.
type OpenOptions struct {
	// FilterQueryLanguage and FilterQuery: "DMTF:FQL" (DSP0212) filters
	// the results; empty means no filter.
	FilterQueryLanguage string
	FilterQuery         string
	// OperationTimeout is how long the context lives between requests;
	// nil means the server's default, zero means no timeout where the
	// server allows it.
	OperationTimeout *time.Duration
	// ContinueOnError is refused with CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED.
	ContinueOnError bool
	// MaxObjectCount is the most results the Open returns at once; zero
	// opens the enumeration without returning any.
	MaxObjectCount uint32

	// ExactClass and Keys narrow OpenEnumerateInstances and
	// OpenEnumerateInstancePaths (the other Open* operations refuse them
	// with CIM_ERR_INVALID_PARAMETER); they are what WS-Management's
	// PolymorphismMode None and SelectorFilter ask for (DSP0227, DSP0226).
	//
	// ExactClass leaves out the instances of subclasses: only instances
	// of the requested class itself are enumerated (and only its
	// provider or its static instances are asked).
	ExactClass bool
	// Keys keeps the instances whose key properties have these values: a
	// string value is compared as the key's declared type (one that does
	// not convert matches nothing), a reference value as a path (host and
	// namespace aside). When the class has keys, every name must be one of
	// them (CIM_ERR_INVALID_PARAMETER otherwise); when they name all of
	// them, the instance is got rather than searched for.
	Keys []cim.KeyBinding
}

// PullState is the state of an enumeration after an Open or Pull.
type PullState struct {
	// Context identifies the open enumeration; empty once it has ended.
	Context string
	// EndOfSequence is set when every result has been returned.
	EndOfSequence bool
}

// Principal is the authenticated caller of an operation.
type Principal struct {
	// User is the name the caller authenticated as.
	User string
	// Unrestricted skips authorization: for --no-auth development servers
	// and for the server's own internal calls, never for a network client
	// that authenticated.
	Unrestricted bool
}

type principalKey struct{}

// WithPrincipal returns a context carrying p, for the adapters to pass to
// every operation.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal carried by ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
