package wbem

import "github.com/hypercim/hypercim/cim"

// Core is what providers may use of the server that hosts them. The
// operations check rights like any other call: pass the client's ctx to
// act for the client, or Internal(ctx) to act on the server's own behalf
// (to read the objects a provider builds on, say). *Server implements it.
type Core interface {
	Operations
	// Class returns a resolved class (shared: do not modify);
	// CIM_ERR_INVALID_CLASS when it does not exist.
	Class(ns, name string) (*cim.Class, error)
	// NewInstance returns an instance of a class with every property at
	// its declared default.
	NewInstance(ns, className string) (*cim.Instance, error)
	// IsA reports whether className is superName or a subclass of it.
	IsA(ns, className, superName string) bool
	// Namespaces returns the names of all namespaces.
	Namespaces() ([]string, error)
	// CreateNamespace and DeleteNamespace change the namespaces (the
	// interop provider's CIM_Namespace instances); the caller has checked
	// the rights.
	CreateNamespace(ns string) error
	DeleteNamespace(ns string) error
}

var _ Core = (*Server)(nil)
