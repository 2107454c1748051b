package wbem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
)

// Enumeration contexts of the pull operations (DSP0200 5.3.2.28-5.3.2.40).
//
// An open enumeration holds a producer: the classic operation, run as a
// coroutine (iter.Pull) that advances only while a Pull asks for results.
// Between pulls it is parked after its last result, so an open context
// costs one result and a parked stack whatever the size of the
// enumeration, and back-pressure reaches providers: they produce at the
// pace the client pulls. A context ends when its results are exhausted,
// on CloseEnumeration, on an error, or when it stays unused longer than
// its OperationTimeout; ending it stops the coroutine and cancels the
// context providers were given, so nothing outlives it.

// PullLimits bound the enumeration contexts of a Server.
type PullLimits struct {
	// DefaultTimeout is the OperationTimeout of contexts whose client
	// gives none (30 seconds).
	DefaultTimeout time.Duration
	// MaxTimeout is the longest OperationTimeout accepted (30 minutes);
	// longer ones are CIM_ERR_INVALID_OPERATION_TIMEOUT.
	MaxTimeout time.Duration
	// AllowNoTimeout accepts OperationTimeout 0 (a context that never
	// expires). Off by default: an abandoned context must end.
	AllowNoTimeout bool
	// MaxObjectCount caps the results of one Open or Pull (10000);
	// larger requests get that many.
	MaxObjectCount uint32
	// MaxContexts is the number of contexts open at once on the server
	// (1000), and MaxContextsPerUser per principal (100). Opening one
	// more is CIM_ERR_SERVER_LIMITS_EXCEEDED.
	MaxContexts        int
	MaxContextsPerUser int
	// MaxZeroPulls is the number of consecutive pulls with
	// MaxObjectCount 0 (which only keep a context alive) after which the
	// context is closed with CIM_ERR_SERVER_LIMITS_EXCEEDED (1000).
	MaxZeroPulls int
}

// DefaultPullLimits returns the limits used for zero fields.
func DefaultPullLimits() PullLimits {
	return PullLimits{
		DefaultTimeout:     30 * time.Second,
		MaxTimeout:         30 * time.Minute,
		MaxObjectCount:     10000,
		MaxContexts:        1000,
		MaxContextsPerUser: 100,
		MaxZeroPulls:       1000,
	}
}

func (l PullLimits) withDefaults() (PullLimits, error) {
	d := DefaultPullLimits()
	setDefault(&l.DefaultTimeout, d.DefaultTimeout)
	setDefault(&l.MaxTimeout, d.MaxTimeout)
	setDefault(&l.MaxObjectCount, d.MaxObjectCount)
	setDefault(&l.MaxContexts, d.MaxContexts)
	setDefault(&l.MaxContextsPerUser, d.MaxContextsPerUser)
	setDefault(&l.MaxZeroPulls, d.MaxZeroPulls)
	if l.DefaultTimeout < 0 || l.MaxTimeout < l.DefaultTimeout || l.MaxContexts < 0 || l.MaxContextsPerUser < 0 || l.MaxZeroPulls < 0 {
		return l, fmt.Errorf("wbem: invalid pull limits %+v", l)
	}
	return l, nil
}

// setDefault sets *v to d when it is zero: a zero field of a
// configuration asks for the default.
func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// enumKind is what an enumeration's results are, which decides the Pull
// operation that may continue it.
type enumKind uint8

const (
	kindInstances enumKind = iota // PullInstancesWithPath
	kindPaths                     // PullInstancePaths
	kindQuery                     // PullInstances
)

func (k enumKind) pullName() string {
	return [...]string{"PullInstancesWithPath", "PullInstancePaths", "PullInstances"}[k]
}

// pulled is one result of an enumeration.
type pulled struct {
	inst *cim.Instance
	path *cim.ObjectPath
}

// errStopped ends a producer whose enumeration was closed.
var errStopped = errors.New("enumeration closed")

// enumeration is one open enumeration context.
type enumeration struct {
	id      string
	ns      string
	user    string
	kind    enumKind
	timeout time.Duration // 0: never expires
	table   *enumTable

	// mu is held by the operation using the context (Open, Pull,
	// EnumerationCount, close). The fields below it are guarded by it.
	mu        sync.Mutex
	next      func() (pulled, bool)
	stop      func()
	err       error // the producer's error, once next reported the end
	peeked    *pulled
	done      bool // the producer has ended
	ended     bool // the context is closed and its producer stopped
	zeroPulls int
	deadline  time.Time

	cancel    context.CancelFunc
	timer     *time.Timer
	abandoned atomic.Bool // CloseEnumeration was called during a pull
}

// enumTable holds the open contexts of a server.
type enumTable struct {
	limits PullLimits
	log    *logrus.Logger

	mu      sync.Mutex
	byID    map[string]*enumeration
	perUser map[string]int
	closed  bool
}

func newEnumTable(l PullLimits, log *logrus.Logger) *enumTable {
	return &enumTable{limits: l, log: log, byID: map[string]*enumeration{}, perUser: map[string]int{}}
}

// timeoutOf checks the OperationTimeout and ContinueOnError of an Open.
func (t *enumTable) timeoutOf(p OpenOptions) (time.Duration, error) {
	if p.ContinueOnError {
		return 0, errorf(cim.ErrContinuationOnErrorNotSupported, "ContinueOnError is not supported: an enumeration ends at its first error")
	}
	if p.OperationTimeout == nil {
		return t.limits.DefaultTimeout, nil
	}
	d := *p.OperationTimeout
	switch {
	case d < 0:
		return 0, errorf(cim.ErrInvalidOperationTimeout, "OperationTimeout %v is negative", d)
	case d == 0 && !t.limits.AllowNoTimeout:
		return 0, errorf(cim.ErrInvalidOperationTimeout, "OperationTimeout 0 (no timeout) is not accepted; give at most %d seconds", int(t.limits.MaxTimeout/time.Second))
	case d > t.limits.MaxTimeout:
		return 0, errorf(cim.ErrInvalidOperationTimeout, "OperationTimeout %d seconds is more than the %d this server accepts", int(d/time.Second), int(t.limits.MaxTimeout/time.Second))
	}
	return d, nil
}

// open creates and registers an enumeration whose results run produces.
// The producer starts on the first request for results, in a context
// that carries p and lives as long as the enumeration.
func (t *enumTable) open(ns string, p Principal, kind enumKind, timeout time.Duration, run enumRun[pulled]) (*enumeration, error) {
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, cim.WrapError(cim.ErrFailed, err, "making an enumeration context")
	}
	e := &enumeration{id: hex.EncodeToString(idb[:]), ns: ns, user: p.User, kind: kind, timeout: timeout, table: t}
	ctx, cancel := context.WithCancel(WithPrincipal(context.Background(), p))
	e.cancel = cancel
	e.next, e.stop = iter.Pull(func(yield func(pulled) bool) {
		defer func() {
			// A provider's panic ends the enumeration with an error
			// rather than the server.
			if r := recover(); r != nil {
				e.err = errorf(cim.ErrFailed, "internal error while producing results: %v", r)
				t.log.WithFields(logrus.Fields{"namespace": ns, "user": p.User, "panic": fmt.Sprint(r)}).Error("enumeration producer panicked")
			}
		}()
		err := run(ctx, func(x pulled) error {
			if !yield(x) {
				return errStopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopped) {
			e.err = err
		}
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		e.release()
		return nil, errorf(cim.ErrServerIsShuttingDown, "the server is shutting down")
	case len(t.byID) >= t.limits.MaxContexts:
		e.release()
		return nil, errorf(cim.ErrServerLimitsExceeded, "%d enumeration contexts are open, the most this server allows; close some (CloseEnumeration) or wait for them to expire", len(t.byID))
	case t.perUser[p.User] >= t.limits.MaxContextsPerUser:
		e.release()
		return nil, errorf(cim.ErrServerLimitsExceeded, "user %s has %d enumeration contexts open, the most this server allows per user; close some (CloseEnumeration) or wait for them to expire", p.User, t.perUser[p.User])
	}
	t.byID[e.id] = e
	t.perUser[p.User]++
	e.mu.Lock() // held for the first delivery
	return e, nil
}

// release stops the producer and cancels its context. The caller holds
// e.mu (or e is not shared yet).
func (e *enumeration) release() {
	if e.ended {
		return
	}
	e.ended = true
	e.cancel()
	e.stop()
	e.peeked = nil
	if e.timer != nil {
		e.timer.Stop()
	}
}

// remove unregisters e; it reports whether e was still registered.
func (t *enumTable) remove(e *enumeration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID[e.id] != e {
		return false
	}
	delete(t.byID, e.id)
	if t.perUser[e.user]--; t.perUser[e.user] <= 0 {
		delete(t.perUser, e.user)
	}
	return true
}

// finish ends e (the caller holds e.mu).
func (e *enumeration) finish() {
	e.table.remove(e)
	e.release()
}

// expire runs when e's timer fires: e ends unless it was used since.
func (e *enumeration) expire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ended || time.Now().Before(e.deadline) {
		return
	}
	if e.table.log.IsLevelEnabled(logrus.DebugLevel) {
		e.table.log.WithFields(logrus.Fields{"namespace": e.ns, "user": e.user, "timeout": e.timeout.String()}).Debug("enumeration context expired")
	}
	e.finish()
}

// idle starts the inter-operation timeout (the caller holds e.mu).
func (e *enumeration) idle() {
	if e.timeout <= 0 || e.ended {
		return
	}
	e.deadline = time.Now().Add(e.timeout)
	if e.timer == nil {
		e.timer = time.AfterFunc(e.timeout, e.expire)
	} else {
		e.timer.Reset(e.timeout)
	}
}

// acquire finds and locks the context id for an operation of kind (any
// kind when kind < 0) by p in namespace ns.
func (t *enumTable) acquire(id, ns string, p Principal, kind int) (*enumeration, error) {
	t.mu.Lock()
	e := t.byID[id]
	t.mu.Unlock()
	if e == nil || !cim.EqualNames(e.ns, ns) || e.user != p.User {
		return nil, errorf(cim.ErrInvalidEnumerationContext, "the enumeration context %q is unknown, closed or expired (or belongs to another namespace or user)", id)
	}
	if kind >= 0 && enumKind(kind) != e.kind {
		return nil, errorf(cim.ErrInvalidEnumerationContext, "the enumeration context %q must be continued with %s", id, e.kind.pullName())
	}
	e.mu.Lock()
	if e.ended {
		e.mu.Unlock()
		return nil, errorf(cim.ErrInvalidEnumerationContext, "the enumeration context %q is closed or expired", id)
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	return e, nil
}

// take returns the next result, producing it if needed.
func (e *enumeration) take() (pulled, bool) {
	if e.peeked != nil {
		x := *e.peeked
		e.peeked = nil
		return x, true
	}
	if e.done {
		return pulled{}, false
	}
	x, ok := e.next()
	if !ok {
		e.done = true
	}
	return x, ok
}

// deliver hands up to max results to emit and returns the state that
// follows. The caller holds e.mu; deliver unlocks it. On an error, or when
// the results are exhausted, the context ends.
func (t *enumTable) deliver(e *enumeration, max uint32, emit func(pulled) error) (PullState, error) {
	defer e.mu.Unlock()
	if max > t.limits.MaxObjectCount {
		max = t.limits.MaxObjectCount
	}
	if max == 0 {
		if e.zeroPulls++; e.zeroPulls > t.limits.MaxZeroPulls {
			e.finish()
			return PullState{}, errorf(cim.ErrServerLimitsExceeded, "more than %d consecutive requests for no results; the enumeration context is closed", t.limits.MaxZeroPulls)
		}
		e.idle()
		return PullState{Context: e.id}, nil
	}
	e.zeroPulls = 0
	for n := uint32(0); n < max; n++ {
		if e.abandoned.Load() {
			e.finish()
			return PullState{}, errorf(cim.ErrPullHasBeenAbandoned, "the enumeration was closed during this pull")
		}
		x, ok := e.take()
		if !ok {
			break
		}
		if err := emit(x); err != nil {
			e.finish()
			return PullState{}, err
		}
	}
	if !e.done && e.peeked == nil {
		if x, ok := e.take(); ok {
			e.peeked = &x
		}
	}
	if e.abandoned.Load() {
		e.finish()
		return PullState{}, errorf(cim.ErrPullHasBeenAbandoned, "the enumeration was closed during this pull")
	}
	if e.done && e.peeked == nil {
		err := e.err
		e.finish()
		if err != nil {
			return PullState{}, err
		}
		return PullState{EndOfSequence: true}, nil
	}
	e.idle()
	return PullState{Context: e.id}, nil
}

// closeContext ends a context on CloseEnumeration: at once when it is
// idle, else the pull in progress ends it (CIM_ERR_PULL_HAS_BEEN_ABANDONED).
func (t *enumTable) closeContext(id, ns string, p Principal) error {
	t.mu.Lock()
	e := t.byID[id]
	t.mu.Unlock()
	if e == nil || !cim.EqualNames(e.ns, ns) || e.user != p.User || !t.remove(e) {
		return errorf(cim.ErrInvalidEnumerationContext, "the enumeration context %q is unknown, closed or expired", id)
	}
	e.abandoned.Store(true)
	if e.mu.TryLock() {
		e.release()
		e.mu.Unlock()
		return nil
	}
	// A pull is producing: cancel what providers are doing for it; the
	// pull sees the abandonment and ends the context.
	e.cancel()
	return nil
}

// count returns the number of results left when known.
func (t *enumTable) count(e *enumeration) (uint64, bool) {
	defer e.mu.Unlock()
	defer e.idle()
	if !e.done {
		return 0, false
	}
	if e.peeked != nil {
		return 1, true
	}
	return 0, true
}

// closeAll ends every context (server shutdown).
func (t *enumTable) closeAll() {
	t.mu.Lock()
	t.closed = true
	all := make([]*enumeration, 0, len(t.byID))
	for _, e := range t.byID {
		all = append(all, e)
	}
	t.mu.Unlock()
	for _, e := range all {
		e.abandoned.Store(true)
		e.cancel()
		e.mu.Lock()
		e.finish()
		e.mu.Unlock()
	}
}

// openCount returns the number of open contexts.
func (t *enumTable) openCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// startPull opens an enumeration over run and delivers its first batch.
func (s *Server) startPull(c *call, kind enumKind, p OpenOptions, timeout time.Duration, run enumRun[pulled], emit func(pulled) error) (PullState, error) {
	e, err := s.enums.open(c.ns, c.p, kind, timeout, run)
	if err != nil {
		return PullState{}, err
	}
	return s.enums.deliver(e, p.MaxObjectCount, emit)
}

// pullRun adapts an operation's producer to the enumeration's results.
func pullRun[T any](run enumRun[T], conv func(T) pulled) enumRun[pulled] {
	return func(ctx context.Context, yield func(pulled) error) error {
		return run(ctx, func(x T) error { return yield(conv(x)) })
	}
}

// classOpen is what an Open of the instances of a class checks before it
// runs: the context's timeout, the class, the FQL filter and the narrowing
// the client asked for (nil when none).
type classOpen struct {
	timeout time.Duration
	top     *cim.Class
	keep    func(*cim.Instance) bool
	scope   *scope
}

// openClass checks the request of OpenEnumerateInstances or
// OpenEnumerateInstancePaths on className.
func (s *Server) openClass(ns, className string, p OpenOptions) (classOpen, error) {
	timeout, err := s.enums.timeoutOf(p)
	if err != nil {
		return classOpen{}, err
	}
	if err := mustName("ClassName", className); err != nil {
		return classOpen{}, err
	}
	top, err := s.Class(ns, className)
	if err != nil {
		return classOpen{}, err
	}
	keep, err := s.filterOf(ns, p, top)
	if err != nil {
		return classOpen{}, err
	}
	sc, err := s.scopeOf(ns, top, p)
	if err != nil {
		return classOpen{}, err
	}
	return classOpen{timeout: timeout, top: top, keep: keep, scope: sc}, nil
}

// OpenEnumerateInstances opens an enumeration of the instances of
// className and its subclasses (DSP0200 5.3.2.28), filtered by the FQL
// FilterQuery of p if any.
func (s *Server) OpenEnumerateInstances(ctx context.Context, ns, className string, o InstanceOptions, p OpenOptions, yield func(*cim.Instance) error) (PullState, error) {
	c, err := s.begin(ctx, "OpenEnumerateInstances", ns, className, false)
	if err != nil {
		return PullState{}, err
	}
	y := yielder(c, yield)
	st, err := func() (PullState, error) {
		req, err := s.openClass(c.ns, className, p)
		if err != nil {
			return PullState{}, err
		}
		var run enumRun[*cim.Instance]
		if req.scope != nil {
			run = s.shapeInstances(c.ns, req.top, o, req.keep, req.scope.instances)
		} else if run, err = s.prepareEnumerateInstances(c.ns, className, o, req.keep); err != nil {
			return PullState{}, err
		}
		return s.startPull(c, kindInstances, p, req.timeout,
			pullRun(run, func(i *cim.Instance) pulled { return pulled{inst: i} }),
			func(x pulled) error { return y(x.inst) })
	}()
	return st, c.end(err)
}

// OpenEnumerateInstancePaths opens an enumeration of the paths of the
// instances of className and its subclasses (DSP0200 5.3.2.29).
func (s *Server) OpenEnumerateInstancePaths(ctx context.Context, ns, className string, p OpenOptions, yield func(*cim.ObjectPath) error) (PullState, error) {
	c, err := s.begin(ctx, "OpenEnumerateInstancePaths", ns, className, false)
	if err != nil {
		return PullState{}, err
	}
	y := yielder(c, yield)
	st, err := func() (PullState, error) {
		req, err := s.openClass(c.ns, className, p)
		if err != nil {
			return PullState{}, err
		}
		var run enumRun[pulled]
		switch {
		case req.scope != nil && req.keep != nil:
			irun := s.shapeInstances(c.ns, req.top, InstanceOptions{DeepInheritance: true}, req.keep, req.scope.instances)
			run = pullRun(irun, func(i *cim.Instance) pulled { return pulled{path: i.Path} })
		case req.scope != nil:
			run = pullRun(req.scope.paths, func(p *cim.ObjectPath) pulled { return pulled{path: p} })
		case req.keep != nil:
			// A filter needs the instances; only their paths are returned.
			irun, err := s.prepareEnumerateInstances(c.ns, className, InstanceOptions{DeepInheritance: true}, req.keep)
			if err != nil {
				return PullState{}, err
			}
			run = pullRun(irun, func(i *cim.Instance) pulled { return pulled{path: i.Path} })
		default:
			prun, err := s.prepareEnumerateInstanceNames(c.ns, className)
			if err != nil {
				return PullState{}, err
			}
			run = pullRun(prun, func(p *cim.ObjectPath) pulled { return pulled{path: p} })
		}
		return s.startPull(c, kindPaths, p, req.timeout, run, func(x pulled) error { return y(x.path) })
	}()
	return st, c.end(err)
}

// openAssoc is OpenAssociatorInstances and its three siblings.
func (s *Server) openAssoc(ctx context.Context, op string, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, p OpenOptions,
	references, paths bool, emit func(AssocResult) error) (PullState, error) {
	c, err := s.begin(ctx, op, ns, className(object), false)
	if err != nil {
		return PullState{}, err
	}
	emit = yielder(c, emit)
	st, err := func() (PullState, error) {
		timeout, err := s.enums.timeoutOf(p)
		if err != nil {
			return PullState{}, err
		}
		if err := mustNotNarrow(op, p); err != nil {
			return PullState{}, err
		}
		if object != nil && !object.IsInstancePath() {
			return PullState{}, errorf(cim.ErrInvalidParameter, "%s works on instances; %s is a class path", op, describe(object))
		}
		// The filter is checked against the class results are asked for,
		// when the request names one.
		var resultClass *cim.Class
		if f.ResultClass != "" {
			resultClass, _ = s.Class(c.ns, f.ResultClass)
		}
		keep, err := s.filterOf(c.ns, p, resultClass)
		if err != nil {
			return PullState{}, err
		}
		namesOnly := paths && keep == nil
		var run enumRun[AssocResult]
		if references {
			run, err = s.prepareReferences(c.ns, object, f, o, namesOnly, keep)
		} else {
			run, err = s.prepareAssociators(c.ns, object, f, o, namesOnly, keep)
		}
		if err != nil {
			return PullState{}, err
		}
		kind := kindInstances
		if paths {
			kind = kindPaths
		}
		return s.startPull(c, kind, p, timeout,
			pullRun(run, func(r AssocResult) pulled { return pulled{inst: r.Instance, path: r.Path} }),
			func(x pulled) error { return emit(AssocResult{Instance: x.inst, Path: x.path}) })
	}()
	return st, c.end(err)
}

// OpenAssociatorInstances opens an enumeration of the instances associated
// with an instance (DSP0200 5.3.2.30).
func (s *Server) OpenAssociatorInstances(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, p OpenOptions, yield func(*cim.Instance) error) (PullState, error) {
	return s.openAssoc(ctx, "OpenAssociatorInstances", ns, object, f, o, p, false, false, func(r AssocResult) error {
		return yield(r.Instance)
	})
}

// OpenAssociatorInstancePaths opens an enumeration of the paths of the
// instances associated with an instance (DSP0200 5.3.2.31).
func (s *Server) OpenAssociatorInstancePaths(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, p OpenOptions, yield func(*cim.ObjectPath) error) (PullState, error) {
	return s.openAssoc(ctx, "OpenAssociatorInstancePaths", ns, object, f, InstanceOptions{}, p, false, true, func(r AssocResult) error {
		return yield(r.Path)
	})
}

// OpenReferenceInstances opens an enumeration of the associations that
// refer to an instance (DSP0200 5.3.2.32).
func (s *Server) OpenReferenceInstances(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, o InstanceOptions, p OpenOptions, yield func(*cim.Instance) error) (PullState, error) {
	return s.openAssoc(ctx, "OpenReferenceInstances", ns, object, f, o, p, true, false, func(r AssocResult) error {
		return yield(r.Instance)
	})
}

// OpenReferenceInstancePaths opens an enumeration of the paths of the
// associations that refer to an instance (DSP0200 5.3.2.33).
func (s *Server) OpenReferenceInstancePaths(ctx context.Context, ns string, object *cim.ObjectPath, f AssocFilter, p OpenOptions, yield func(*cim.ObjectPath) error) (PullState, error) {
	return s.openAssoc(ctx, "OpenReferenceInstancePaths", ns, object, f, InstanceOptions{}, p, true, true, func(r AssocResult) error {
		return yield(r.Path)
	})
}

// OpenQueryInstances opens an enumeration of the results of a WQL or CQL
// query (DSP0200 5.3.2.34); with returnQueryResultClass it also returns the
// class of the results: the FROM class reduced to the selected properties.
func (s *Server) OpenQueryInstances(ctx context.Context, ns, language, text string, returnQueryResultClass bool, p OpenOptions, yield func(*cim.Instance) error) (*cim.Class, PullState, error) {
	c, err := s.begin(ctx, "OpenQueryInstances", ns, "", false)
	if err != nil {
		return nil, PullState{}, err
	}
	y := yielder(c, yield)
	cls, st, err := func() (*cim.Class, PullState, error) {
		timeout, err := s.enums.timeoutOf(p)
		if err != nil {
			return nil, PullState{}, err
		}
		if p.FilterQueryLanguage != "" || p.FilterQuery != "" {
			return nil, PullState{}, errorf(cim.ErrInvalidParameter, "OpenQueryInstances has no FilterQuery parameter: its query is the filter")
		}
		if err := mustNotNarrow("OpenQueryInstances", p); err != nil {
			return nil, PullState{}, err
		}
		run, sel, top, err := s.prepareQuery(c.ns, language, text)
		if err != nil {
			return nil, PullState{}, err
		}
		c.class = sel.ClassName
		var resultClass *cim.Class
		if returnQueryResultClass {
			resultClass = cim.FilterClass(top, cim.ClassFilter{IncludeQualifiers: true, PropertyList: sel.Properties})
		}
		st, err := s.startPull(c, kindQuery, p, timeout,
			pullRun(run, func(i *cim.Instance) pulled { return pulled{inst: i} }),
			func(x pulled) error { return y(x.inst) })
		return resultClass, st, err
	}()
	return cls, st, c.end(err)
}

// pull continues an enumeration of kind.
func (s *Server) pull(ctx context.Context, op, ns, id string, kind enumKind, max uint32, emit func(pulled) error) (PullState, error) {
	c, err := s.begin(ctx, op, ns, "", false)
	if err != nil {
		return PullState{}, err
	}
	e, err := s.enums.acquire(id, c.ns, c.p, int(kind))
	if err != nil {
		return PullState{}, c.end(err)
	}
	st, err := s.enums.deliver(e, max, yielder(c, emit))
	return st, c.end(err)
}

// PullInstancesWithPath continues an OpenEnumerateInstances,
// OpenAssociatorInstances or OpenReferenceInstances (DSP0200 5.3.2.35).
func (s *Server) PullInstancesWithPath(ctx context.Context, ns, enumContext string, maxObjectCount uint32, yield func(*cim.Instance) error) (PullState, error) {
	return s.pull(ctx, "PullInstancesWithPath", ns, enumContext, kindInstances, maxObjectCount, func(x pulled) error { return yield(x.inst) })
}

// PullInstancePaths continues an Open*InstancePaths (DSP0200 5.3.2.36).
func (s *Server) PullInstancePaths(ctx context.Context, ns, enumContext string, maxObjectCount uint32, yield func(*cim.ObjectPath) error) (PullState, error) {
	return s.pull(ctx, "PullInstancePaths", ns, enumContext, kindPaths, maxObjectCount, func(x pulled) error { return yield(x.path) })
}

// PullInstances continues an OpenQueryInstances (DSP0200 5.3.2.37).
func (s *Server) PullInstances(ctx context.Context, ns, enumContext string, maxObjectCount uint32, yield func(*cim.Instance) error) (PullState, error) {
	return s.pull(ctx, "PullInstances", ns, enumContext, kindQuery, maxObjectCount, func(x pulled) error { return yield(x.inst) })
}

// CloseEnumeration ends an enumeration before its end (DSP0200 5.3.2.38).
func (s *Server) CloseEnumeration(ctx context.Context, ns, enumContext string) error {
	c, err := s.begin(ctx, "CloseEnumeration", ns, "", false)
	if err != nil {
		return err
	}
	return c.end(s.enums.closeContext(enumContext, c.ns, c.p))
}

// EnumerationCount returns how many results an enumeration has left when
// that is known without producing them: only once its producer has ended
// (DSP0200 5.3.2.39 allows the count to be unknown, as here before that).
func (s *Server) EnumerationCount(ctx context.Context, ns, enumContext string) (uint64, bool, error) {
	c, err := s.begin(ctx, "EnumerationCount", ns, "", false)
	if err != nil {
		return 0, false, err
	}
	e, err := s.enums.acquire(enumContext, c.ns, c.p, -1)
	if err != nil {
		return 0, false, c.end(err)
	}
	n, ok := s.enums.count(e)
	return n, ok, c.end(nil)
}

// OpenEnumerations returns the number of open enumeration contexts.
func (s *Server) OpenEnumerations() int { return s.enums.openCount() }
