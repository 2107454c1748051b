package mof

import (
	"errors"

	"github.com/hypercim/hypercim/cim"
)

// Target is where compiled definitions go: the repository (through an
// adapter in cim/repository) or a MemTarget. It is deliberately small: the
// compiler needs to read what already exists and to write what it
// compiled, nothing else.
//
// Namespaces are given on every call, so a Target holds no "current
// namespace" state; #pragma namespace only changes the ns argument. Names
// (namespaces, qualifiers, classes) are case-insensitive, as in CIM.
//
// Reads report absence with a nil result and a nil error, or with an error
// for which errors.Is(err, cim.ErrNotFound) holds (a *cim.Error with that
// status; cim.ErrInvalidNamespace also counts as absence, for reads from a
// namespace not created yet); any other error is reported to the user.
// Writes return *cim.Error values; their description is shown to the user
// next to the position of the MOF declaration that caused the write.
type Target interface {
	// EnsureNamespace creates the namespace if it does not exist. It is
	// called before the first write into a namespace and must succeed
	// quietly when the namespace exists.
	EnsureNamespace(ns string) error

	// QualifierType returns the qualifier declaration called name.
	QualifierType(ns, name string) (*cim.QualifierType, error)

	// SetQualifierType creates the qualifier declaration, or replaces the
	// existing one of that name. Setting a declaration equal to the stored
	// one must be a no-op.
	SetQualifierType(ns string, qt *cim.QualifierType) error

	// Class returns the class called name, resolved (cim.ResolveClass):
	// with inherited properties and methods, ClassOrigin and propagated
	// qualifiers, as GetClass with LocalOnly=false returns it.
	Class(ns, name string) (*cim.Class, error)

	// PutClass creates the class, or modifies the existing class of that
	// name. c is the class as declared (only its own elements, values
	// typed); the target resolves it against its superclass and qualifier
	// declarations and stores it. Putting a class identical to the stored
	// one must be a no-op; a modification DSP0004 does not allow (e.g. one
	// that would invalidate subclasses or instances) must be refused with
	// a *cim.Error saying why.
	PutClass(ns string, c *cim.Class) error

	// PutInstance creates the instance, or replaces the existing instance
	// with the same path. inst carries every property of its class (values
	// typed as the class declares them, defaults filled in) and inst.Path
	// holds its path, keys typed, without host or namespace.
	PutInstance(ns string, inst *cim.Instance) error
}

// isNotFound reports whether err means "no such object" from a Target.
func isNotFound(err error) bool {
	return errors.Is(err, cim.ErrNotFound) || errors.Is(err, cim.ErrInvalidNamespace)
}
