package wbem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
)

// The indication service (DSP1054): clients subscribe in root/interop with
// CIM_IndicationFilter, CIM_ListenerDestinationCIMXML (or the legacy
// CIM_IndicationHandlerCIMXML) and CIM_IndicationSubscription instances,
// which providers/interop serves on top of Indications; Go code (the
// WS-Eventing adapter) subscribes with Indications.Subscribe. Providers
// publish indications with Server.PublishIndication, and the core itself
// publishes CIM_InstCreation, CIM_InstModification and CIM_InstDeletion for
// static instances. Every indication is matched against the active
// subscriptions in the caller's goroutine (CPU only: no I/O, no waiting)
// and queued per destination; one goroutine per destination with work
// delivers in order, retrying as CIM_IndicationService says. The
// subscriptions are kept in the repository's database and survive restarts;
// queued indications do not.

// Protocols of listener destinations (CIM_ListenerDestination.Protocol).
const (
	ProtocolCIMXML uint16 = 2
	ProtocolWSMan  uint16 = 4
)

// Values of CIM_IndicationService.SubscriptionRemovalAction.
const (
	RemovalRemove  uint16 = 2
	RemovalDisable uint16 = 3
	RemovalIgnore  uint16 = 4
)

// IndicationConfig configures the indication service of a Server. Zero
// fields take the defaults (those of OpenPegasus).
type IndicationConfig struct {
	// DeliveryRetryAttempts is how many times a failed delivery is
	// retried (default 3; negative: never retried).
	DeliveryRetryAttempts int
	// DeliveryRetryInterval is the least time between two attempts to
	// deliver to a destination that failed (default 20 s; clients read
	// it in whole seconds). Retries of one indication back off
	// exponentially from it: 1, 2, 4, then 8 times the interval.
	DeliveryRetryInterval time.Duration
	// SubscriptionRemovalAction (RemovalRemove, RemovalDisable,
	// RemovalIgnore; default RemovalRemove) is applied to the
	// subscriptions of a destination when deliveries to it have failed,
	// without a success between, for longer than
	// SubscriptionRemovalTimeInterval (default 30 days).
	SubscriptionRemovalAction       uint16
	SubscriptionRemovalTimeInterval time.Duration
	// DeliveryTimeout bounds one delivery attempt (default 30 s).
	DeliveryTimeout time.Duration
	// MaxQueueLength bounds the indications of one subscription waiting
	// for delivery (default 1000); beyond it new ones are dropped.
	MaxQueueLength int
	// MaxFilters, MaxListenerDestinations and MaxSubscriptions bound how
	// many of each clients may create (default 1000 each; Go
	// subscriptions count as subscriptions).
	MaxFilters              int
	MaxListenerDestinations int
	MaxSubscriptions        int
}

// DefaultIndicationConfig returns the defaults of IndicationConfig.
func DefaultIndicationConfig() IndicationConfig {
	return IndicationConfig{
		DeliveryRetryAttempts:           3,
		DeliveryRetryInterval:           20 * time.Second,
		SubscriptionRemovalAction:       RemovalRemove,
		SubscriptionRemovalTimeInterval: 30 * 24 * time.Hour,
		DeliveryTimeout:                 30 * time.Second,
		MaxQueueLength:                  1000,
		MaxFilters:                      1000,
		MaxListenerDestinations:         1000,
		MaxSubscriptions:                1000,
	}
}

func (c IndicationConfig) withDefaults() (IndicationConfig, error) {
	d := DefaultIndicationConfig()
	switch {
	case c.DeliveryRetryAttempts < 0:
		c.DeliveryRetryAttempts = 0
	case c.DeliveryRetryAttempts == 0:
		c.DeliveryRetryAttempts = d.DeliveryRetryAttempts
	case c.DeliveryRetryAttempts > 0xFFFF:
		return c, fmt.Errorf("wbem: DeliveryRetryAttempts %d exceeds 65535", c.DeliveryRetryAttempts)
	}
	setDefault(&c.DeliveryRetryInterval, d.DeliveryRetryInterval)
	setDefault(&c.SubscriptionRemovalAction, d.SubscriptionRemovalAction)
	if c.SubscriptionRemovalAction < RemovalRemove || c.SubscriptionRemovalAction > RemovalIgnore {
		return c, fmt.Errorf("wbem: SubscriptionRemovalAction %d is not 2 (Remove), 3 (Disable) or 4 (Ignore)", c.SubscriptionRemovalAction)
	}
	setDefault(&c.SubscriptionRemovalTimeInterval, d.SubscriptionRemovalTimeInterval)
	setDefault(&c.DeliveryTimeout, d.DeliveryTimeout)
	setDefault(&c.MaxQueueLength, d.MaxQueueLength)
	setDefault(&c.MaxFilters, d.MaxFilters)
	setDefault(&c.MaxListenerDestinations, d.MaxListenerDestinations)
	setDefault(&c.MaxSubscriptions, d.MaxSubscriptions)
	if c.DeliveryRetryInterval < 0 || c.SubscriptionRemovalTimeInterval < 0 || c.DeliveryTimeout < 0 ||
		c.MaxQueueLength < 0 || c.MaxFilters < 0 || c.MaxListenerDestinations < 0 || c.MaxSubscriptions < 0 {
		return c, errors.New("wbem: negative indication limits")
	}
	return c, nil
}

// ListenerDestination is a CIM listener destination as an exporter needs
// it.
type ListenerDestination struct {
	// Path is the destination's instance path in root/interop.
	Path *cim.ObjectPath
	// Protocol is ProtocolCIMXML (ProtocolWSMan destinations are served
	// by WS-Eventing, not by an exporter).
	Protocol uint16
	// URL is the listener's address (CIM_ListenerDestination.Destination).
	URL string
	// Username and Password, when set, authenticate the server to the
	// listener (HTTP Basic).
	Username, Password string
}

// IndicationExporter delivers one indication to a listener destination,
// within ctx's deadline. wbem/cimxml/export implements it for CIM-XML.
//
// An error that has a method Permanent() bool returning true says that
// retrying cannot help (the listener refused this indication); any other
// error is retried.
type IndicationExporter interface {
	ExportIndication(ctx context.Context, dest ListenerDestination, indication *cim.Instance) error
}

// permanent reports whether a delivery error says not to retry.
func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// IndicationPublisher is what providers publish their indications to;
// *Server implements it.
type IndicationPublisher interface {
	// PublishIndication hands an indication of namespace sourceNamespace
	// to the subscriptions that select it. It never waits for delivery
	// (nor for anything else): matching subscriptions get a copy queued,
	// and indication is not modified or kept. IndicationTime and
	// IndicationIdentifier are filled in when NULL. The class must be an
	// indication class of sourceNamespace (else CIM_ERR_INVALID_CLASS).
	PublishIndication(ctx context.Context, sourceNamespace string, indication *cim.Instance) error
	// IndicationsWanted reports whether an active subscription may select
	// indications of className (or a subclass) from sourceNamespace:
	// a cheap test a provider can make before building an indication.
	IndicationsWanted(sourceNamespace, className string) bool
}

var _ IndicationPublisher = (*Server)(nil)

// IndicationStats are counters of the indication service since start.
type IndicationStats struct {
	Published uint64 // indications published (providers and core)
	Matched   uint64 // copies queued for subscriptions
	Delivered uint64 // copies delivered
	Dropped   uint64 // copies dropped: queue full, retries exhausted, refused, subscription gone
	Retries   uint64 // failed attempts that were retried
}

// Indications is the indication service of a Server: the filters,
// listener destinations and subscriptions, the matching of published
// indications and their delivery. It is safe for concurrent use.
type Indications struct {
	s     *Server
	cfg   IndicationConfig
	log   *logrus.Logger
	store ProviderStore
	nonce string // distinguishes this run in identifiers
	// hostName is the SourceInstanceHost of lifecycle indications.
	hostName string

	expMu     sync.RWMutex
	exporters map[uint16]IndicationExporter

	mu      sync.Mutex // guards the maps below and the state of subscriptions
	filters map[string]*indFilter
	dests   map[string]*indDest
	subs    map[string]*indSub // by key; Go subscriptions by "go:<id>"
	nextID  uint64
	// snap is what publishing reads without locks: the enabled
	// subscriptions by source namespace, rebuilt on every change.
	snap atomic.Pointer[indSnapshot]

	// runMu orders starting goroutines against close: workers start
	// under RLock while closed is false.
	runMu   sync.RWMutex
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	wakeExp chan struct{} // wakes the expiry goroutine after a change
	// expRunning tells whether the expiry goroutine runs: only while a
	// subscription has an expiry. Guarded by mu.
	expRunning bool

	idSeq                                                atomic.Uint64
	published, matched, delivered, dropped, retriedCount atomic.Uint64
}

// indSnapshot is an immutable view of the enabled subscriptions.
type indSnapshot struct {
	byNS  map[string][]*indSub // folded source namespace -> subscriptions
	count int
}

// providerStoreName is the ProviderStore the subscriptions are kept in.
const providerStoreName = "indications"

func newIndications(s *Server, cfg IndicationConfig) (*Indications, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &Indications{
		s: s, cfg: cfg, log: s.log, store: s.ProviderStore(providerStoreName),
		nonce:     hex.EncodeToString(b[:]),
		exporters: map[uint16]IndicationExporter{},
		filters:   map[string]*indFilter{}, dests: map[string]*indDest{}, subs: map[string]*indSub{},
		ctx: ctx, cancel: cancel, wakeExp: make(chan struct{}, 1),
	}
	x.hostName, _ = os.Hostname()
	x.snap.Store(&indSnapshot{})
	if err := x.load(); err != nil {
		cancel()
		return nil, err
	}
	return x, nil
}

// Indications returns the server's indication service.
func (s *Server) Indications() *Indications { return s.ind }

// PublishIndication implements IndicationPublisher.
func (s *Server) PublishIndication(ctx context.Context, sourceNamespace string, indication *cim.Instance) error {
	return s.ind.Publish(ctx, sourceNamespace, indication)
}

// IndicationsWanted implements IndicationPublisher.
func (s *Server) IndicationsWanted(sourceNamespace, className string) bool {
	return s.ind.Wanted(sourceNamespace, className)
}

// Config returns the service's configuration, defaults filled in.
func (x *Indications) Config() IndicationConfig { return x.cfg }

// SetExporter sets the exporter of the listener destinations of a
// protocol (ProtocolCIMXML). Destinations of a protocol without an
// exporter cannot be created.
func (x *Indications) SetExporter(protocol uint16, e IndicationExporter) {
	x.expMu.Lock()
	defer x.expMu.Unlock()
	if e == nil {
		delete(x.exporters, protocol)
		return
	}
	x.exporters[protocol] = e
}

func (x *Indications) exporter(protocol uint16) IndicationExporter {
	x.expMu.RLock()
	defer x.expMu.RUnlock()
	return x.exporters[protocol]
}

// Stats returns the service's counters.
func (x *Indications) Stats() IndicationStats {
	return IndicationStats{
		Published: x.published.Load(), Matched: x.matched.Load(), Delivered: x.delivered.Load(),
		Dropped: x.dropped.Load(), Retries: x.retriedCount.Load(),
	}
}

// close stops delivery: the goroutines end (what is queued is dropped)
// and the Go subscriptions are ended. The subscriptions stay stored.
func (x *Indications) close() {
	x.runMu.Lock()
	if x.closed {
		x.runMu.Unlock()
		return
	}
	x.closed = true
	x.runMu.Unlock()
	x.cancel()
	x.wg.Wait()
	x.mu.Lock()
	for _, sub := range x.subs {
		if sub.goSub != nil {
			sub.goSub.end(ErrServerClosed)
		}
	}
	x.mu.Unlock()
}

// ErrServerClosed ends the Go subscriptions when the server closes.
var ErrServerClosed = errors.New("wbem: the server is closed")

// start runs fn in a goroutine unless the service is closed.
func (x *Indications) start(fn func()) bool {
	x.runMu.RLock()
	defer x.runMu.RUnlock()
	if x.closed {
		return false
	}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		fn()
	}()
	return true
}

// newIdentifier returns a unique IndicationIdentifier.
func (x *Indications) newIdentifier() string {
	return fmt.Sprintf("HC:%s:%d", x.nonce, x.idSeq.Add(1))
}

// rebuildLocked recomputes the snapshot; x.mu is held.
func (x *Indications) rebuildLocked() {
	snap := &indSnapshot{byNS: map[string][]*indSub{}}
	for _, sub := range x.subs {
		if !sub.enabled() || sub.filter.err != nil {
			continue
		}
		snap.count++
		for ns := range sub.filter.selects {
			snap.byNS[ns] = append(snap.byNS[ns], sub)
		}
	}
	x.snap.Store(snap)
	switch {
	case x.expRunning:
		select {
		case x.wakeExp <- struct{}{}:
		default:
		}
	case x.hasExpiryLocked():
		x.expRunning = x.start(x.expireLoop)
	}
}

// hasExpiryLocked reports whether a subscription has an expiry; mu is
// held.
func (x *Indications) hasExpiryLocked() bool {
	for _, sub := range x.subs {
		if !sub.expires.IsZero() {
			return true
		}
	}
	return false
}

// expireLoop ends subscriptions whose duration has run out, while there
// are such subscriptions.
func (x *Indications) expireLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := x.expireDue(time.Now())
		wait := time.Until(next)
		if next.IsZero() {
			x.mu.Lock()
			if !x.hasExpiryLocked() {
				x.expRunning = false
				x.mu.Unlock()
				return
			}
			x.mu.Unlock()
			// One was added meanwhile, or could not be removed (the store
			// failed; logged): look again shortly.
			wait = time.Second
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(wait, 10*time.Millisecond))
		select {
		case <-x.ctx.Done():
			return
		case <-x.wakeExp:
		case <-timer.C:
		}
	}
}

// expireDue removes the subscriptions that have expired at now and
// returns when the next one expires (zero: none).
func (x *Indications) expireDue(now time.Time) time.Time {
	var next time.Time
	var expired []*indSub
	x.mu.Lock()
	for _, sub := range x.subs {
		exp := sub.expiresAt()
		switch {
		case exp.IsZero():
		case !exp.After(now):
			expired = append(expired, sub)
		case next.IsZero() || exp.Before(next):
			next = exp
		}
	}
	x.mu.Unlock()
	for _, sub := range expired {
		x.log.WithField("subscription", sub.name()).Info("indication subscription expired")
		if err := x.removeSubscription(sub, errSubscriptionExpired); err != nil {
			x.log.WithError(err).WithField("subscription", sub.name()).Warn("removing an expired indication subscription")
		}
	}
	return next
}

var errSubscriptionExpired = errors.New("wbem: the subscription expired")
