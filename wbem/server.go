package wbem

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
)

// Config configures a Server.
type Config struct {
	// Repository holds the namespaces, classes and static instances.
	// Required.
	Repository *repository.Repository
	// Registry routes classes to providers; a new empty one when nil.
	Registry *Registry
	// Authorizer decides who may read and write each namespace. When nil,
	// only Unrestricted principals are allowed anything: a server without
	// an authorizer is closed, not open.
	Authorizer Authorizer
	// Logger receives the structured operation logs; a new logrus logger
	// writing to standard error when nil.
	Logger *logrus.Logger
	// Pull limits the enumeration contexts of the pull operations; zero
	// fields take the defaults of DefaultPullLimits.
	Pull PullLimits
	// Indications configures the indication service; zero fields take
	// the defaults of DefaultIndicationConfig.
	Indications IndicationConfig
}

// Server is the CIMOM core: it implements Operations over a repository and
// the providers of a Registry. It is safe for concurrent use.
type Server struct {
	repo  *repository.Repository
	reg   *Registry
	authz Authorizer
	log   *logrus.Logger
	enums *enumTable
	ind   *Indications

	nsMu       sync.RWMutex
	namespaces map[string]string // folded name -> name as created
}

var _ Operations = (*Server)(nil)

// NewServer returns a Server. Call Close when done: it ends the open
// enumerations.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Repository == nil {
		return nil, errors.New("wbem: a repository is needed")
	}
	s := &Server{repo: cfg.Repository, reg: cfg.Registry, authz: cfg.Authorizer, log: cfg.Logger}
	if s.reg == nil {
		s.reg = NewRegistry()
	}
	if s.log == nil {
		s.log = logrus.New()
	}
	limits, err := cfg.Pull.withDefaults()
	if err != nil {
		return nil, err
	}
	s.enums = newEnumTable(limits, s.log)
	if err := s.refreshNamespaces(); err != nil {
		return nil, err
	}
	if s.ind, err = newIndications(s, cfg.Indications); err != nil {
		s.enums.closeAll()
		return nil, err
	}
	return s, nil
}

// Close ends every open enumeration context and stops indication delivery
// (what is queued is dropped). Operations in progress finish; the
// repository is not closed.
func (s *Server) Close() error {
	s.enums.closeAll()
	s.ind.close()
	return nil
}

// Registry returns the server's provider registry.
func (s *Server) Registry() *Registry { return s.reg }

// Repository returns the server's repository.
func (s *Server) Repository() *repository.Repository { return s.repo }

// internalUser is the name the server's own calls run under.
const internalUser = "hypercim"

// Internal returns a context carrying an Unrestricted principal, for
// providers and server components that call operations on their own
// behalf (never for work a client asked for: pass the client's context
// through instead).
func Internal(ctx context.Context) context.Context {
	return WithPrincipal(ctx, Principal{User: internalUser, Unrestricted: true})
}

// refreshNamespaces reloads the namespace names from the repository.
func (s *Server) refreshNamespaces() error {
	names, err := s.repo.Namespaces()
	if err != nil {
		return err
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[cim.FoldName(n)] = n
	}
	s.nsMu.Lock()
	s.namespaces = m
	s.nsMu.Unlock()
	return nil
}

// resolveNamespace returns the namespace as the repository spells it, or
// CIM_ERR_INVALID_NAMESPACE.
func (s *Server) resolveNamespace(ns string) (string, error) {
	key := cim.FoldName(CanonicalNamespace(ns))
	s.nsMu.RLock()
	name, ok := s.namespaces[key]
	s.nsMu.RUnlock()
	if ok {
		return name, nil
	}
	// Another component may have created it since (the schema loader).
	if key != "" && s.repo.NamespaceExists(key) {
		if err := s.refreshNamespaces(); err == nil {
			s.nsMu.RLock()
			name, ok = s.namespaces[key]
			s.nsMu.RUnlock()
			if ok {
				return name, nil
			}
		}
	}
	return "", invalidNamespace(ns)
}

func invalidNamespace(ns string) error {
	// "Invalid namespace" is what SFCB says, and what scripts grep for.
	return cim.Errorf(cim.ErrInvalidNamespace, "Invalid namespace %s", ns)
}

// Namespaces returns the names of all namespaces.
func (s *Server) Namespaces() ([]string, error) {
	if err := s.refreshNamespaces(); err != nil {
		return nil, err
	}
	return s.repo.Namespaces()
}

// CreateNamespace creates a namespace (for the interop provider's
// CIM_Namespace instances; callers check rights).
func (s *Server) CreateNamespace(ns string) error {
	ns = CanonicalNamespace(ns)
	if err := s.repo.CreateNamespace(ns); err != nil {
		return err
	}
	return s.refreshNamespaces()
}

// DeleteNamespace deletes an empty namespace (callers check rights).
func (s *Server) DeleteNamespace(ns string) error {
	name, err := s.resolveNamespace(ns)
	if err != nil {
		return err
	}
	if cim.EqualNames(name, InteropNamespace) {
		return cim.NewError(cim.ErrNotSupported, "the interop namespace cannot be deleted")
	}
	if err := s.repo.DeleteNamespace(name, false); err != nil {
		return err
	}
	return s.refreshNamespaces()
}

// Class returns the resolved class name of namespace ns, shared and not to
// be modified (Clone it to change it). A missing class is
// CIM_ERR_INVALID_CLASS ("Class not found").
func (s *Server) Class(ns, name string) (*cim.Class, error) {
	c, err := s.repo.GetClass(ns, name)
	if err != nil {
		if errors.Is(err, cim.ErrNotFound) {
			return nil, classNotFound(name)
		}
		return nil, err
	}
	return c, nil
}

func classNotFound(name string) error {
	// "Class not found" is what SFCB says, and what scripts grep for.
	return cim.Errorf(cim.ErrInvalidClass, "Class not found: %s", name)
}

// NewInstance returns a new instance of a class of ns with every property
// at its default, for providers building instances.
func (s *Server) NewInstance(ns, className string) (*cim.Instance, error) {
	c, err := s.Class(ns, className)
	if err != nil {
		return nil, err
	}
	return c.NewInstance(), nil
}

// IsA reports whether className is superName or one of its subclasses in
// namespace ns.
func (s *Server) IsA(ns, className, superName string) bool {
	for name, depth := className, 0; name != "" && depth < 256; depth++ {
		if cim.EqualNames(name, superName) {
			return true
		}
		c, err := s.repo.GetClass(ns, name)
		if err != nil {
			return false
		}
		name = c.SuperClass
	}
	return false
}

// schemaOf adapts IsA to the query engine's Schema for one namespace.
type schemaOf struct {
	s  *Server
	ns string
}

func (q schemaOf) IsA(className, superName string) bool { return q.s.IsA(q.ns, className, superName) }

func (q schemaOf) lookup(name string) *cim.Class {
	c, _ := q.s.repo.GetClass(q.ns, name)
	return c
}

// call is one operation in progress, for authorization and logging.
type call struct {
	s      *Server
	op     string
	ns     string // resolved
	class  string
	p      Principal
	start  time.Time
	yieldE error // the last error a yield callback returned
}

// begin starts an operation: it resolves the namespace and checks that
// the caller may read (or write) it.
func (s *Server) begin(ctx context.Context, op, ns, class string, write bool) (*call, error) {
	c := &call{s: s, op: op, class: class, start: time.Now()}
	p, ok := PrincipalFrom(ctx)
	c.p = p
	if !ok {
		return c, c.end(cim.NewError(cim.ErrAccessDenied, "the request carries no authenticated user"))
	}
	name, err := s.resolveNamespace(ns)
	if err != nil {
		c.ns = ns
		return c, c.end(err)
	}
	c.ns = name
	if !s.allowed(p, name, write) {
		right := "read"
		if write {
			right = "write"
		}
		return c, c.end(cim.Errorf(cim.ErrAccessDenied, "user %s may not %s namespace %s", p.User, right, name))
	}
	return c, nil
}

func (s *Server) allowed(p Principal, ns string, write bool) bool {
	if p.Unrestricted {
		return true
	}
	return s.authz != nil && s.authz.Allowed(p, ns, write)
}

// yielder wraps a result callback so that its errors are recognized and
// passed back unchanged.
func yielder[T any](c *call, yield func(T) error) func(T) error {
	return func(x T) error {
		if err := yield(x); err != nil {
			c.yieldE = err
			return err
		}
		return nil
	}
}

// end finishes an operation: errors other than the callback's are made
// *cim.Error values, and the operation is logged.
func (c *call) end(err error) error {
	switch {
	case err == nil:
	case c.yieldE != nil && errors.Is(err, c.yieldE):
		// The callback's own error, perhaps wrapped by a provider: back
		// unchanged to the caller that returned it.
		err = c.yieldE
	default:
		err = cim.AsError(err)
	}
	c.s.logCall(c, err)
	return err
}

func (s *Server) logCall(c *call, err error) {
	status := cim.StatusOf(err)
	level := logrus.DebugLevel
	if status == cim.ErrFailed && err != c.yieldE {
		level = logrus.WarnLevel
	}
	if !s.log.IsLevelEnabled(level) {
		return
	}
	fields := logrus.Fields{
		"op":        c.op,
		"namespace": c.ns,
		"user":      c.p.User,
		"duration":  time.Since(c.start).String(),
		"status":    status.Name(),
	}
	if c.class != "" {
		fields["class"] = c.class
	}
	if ce, ok := err.(*cim.Error); ok && ce.Err != nil {
		// The cause (a provider's panic with its stack, an I/O error) is
		// for the log only; clients get the description.
		fields["cause"] = ce.Err.Error()
	}
	e := s.log.WithFields(fields)
	if err != nil {
		e = e.WithError(err)
	}
	e.Log(level, "CIM operation")
}

// errorf is a shorthand for *cim.Error values.
func errorf(status cim.Status, format string, args ...any) error {
	return cim.Errorf(status, format, args...)
}

// mustName checks that a class name parameter is present and valid.
func mustName(what, name string) error {
	if name == "" {
		return errorf(cim.ErrInvalidParameter, "%s is missing", what)
	}
	if !cim.ValidName(name) {
		return errorf(cim.ErrInvalidParameter, "%s %q is not a valid CIM name", what, name)
	}
	return nil
}

// describe formats a path for messages.
func describe(p *cim.ObjectPath) string {
	if p == nil {
		return "(none)"
	}
	return fmt.Sprint(p.ModelPath())
}
