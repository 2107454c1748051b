package wbem

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
)

// Delivery: each listener destination (and each Go subscription) has a
// queue, and a goroutine while the queue holds work. The goroutine
// delivers in order, one indication at a time, so a listener receives a
// destination's indications in the order they were published. A failed
// attempt is retried up to DeliveryRetryAttempts times, waiting
// DeliveryRetryInterval, then twice, four times as long (at most eight
// times); an indication that has waited longer than the whole retry
// schedule when its turn comes (the listener was down meanwhile) is
// dropped without an attempt, so a dead listener costs one attempt per
// interval, not one per indication.

// queuedIndication is one indication waiting for delivery.
type queuedIndication struct {
	sub      *indSub
	ind      *cim.Instance
	enqueued time.Time
	attempts int
}

// deliveryQueue is the ordered work of one destination.
type deliveryQueue struct {
	x       *Indications
	name    string
	deliver func(ctx context.Context, q *deliveryQueue, ind *cim.Instance) error
	// subs returns the subscriptions that deliver here, for the
	// SubscriptionRemovalAction.
	subs func() []*indSub

	mu           sync.Mutex
	dest         ListenerDestination
	items        []queuedIndication
	head         int
	running      bool
	failingSince time.Time // first failure since the last success
	failures     int       // failed attempts since the last success
}

// newDestQueue returns the queue of a CIM listener destination.
func (x *Indications) newDestQueue(d *indDest) *deliveryQueue {
	q := &deliveryQueue{x: x, name: describe(d.path), dest: d.dest}
	q.deliver = func(ctx context.Context, q *deliveryQueue, ind *cim.Instance) error {
		dest := q.destination()
		exp := x.exporter(dest.Protocol)
		if exp == nil {
			return fmt.Errorf("no exporter for protocol %d", dest.Protocol)
		}
		return exp.ExportIndication(ctx, dest, ind)
	}
	q.subs = func() []*indSub {
		x.mu.Lock()
		defer x.mu.Unlock()
		var out []*indSub
		for _, sub := range x.subs {
			if sub.dest == d {
				out = append(out, sub)
			}
		}
		return out
	}
	return q
}

// newCallbackQueue returns the queue of a Go subscription.
func (x *Indications) newCallbackQueue(name string, fn func(context.Context, *cim.Instance) error) *deliveryQueue {
	q := &deliveryQueue{x: x, name: name}
	q.deliver = func(ctx context.Context, _ *deliveryQueue, ind *cim.Instance) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = permanentError{fmt.Errorf("panic in the Deliver function of subscription %s: %v\n%s", name, r, debug.Stack())}
			}
		}()
		return fn(ctx, ind)
	}
	q.subs = func() []*indSub {
		x.mu.Lock()
		defer x.mu.Unlock()
		if sub := x.subs[name]; sub != nil {
			return []*indSub{sub}
		}
		return nil
	}
	return q
}

type permanentError struct{ error }

func (permanentError) Permanent() bool { return true }
func (e permanentError) Unwrap() error { return e.error }

func (q *deliveryQueue) destination() ListenerDestination {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dest
}

func (q *deliveryQueue) setDestination(d ListenerDestination) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dest = d
}

// failing reports whether the last attempt failed.
func (q *deliveryQueue) failing() bool {
	if q == nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.failingSince.IsZero()
}

// enqueue adds an indication for sub; it never waits. Beyond
// MaxQueueLength indications of sub waiting, the new one is dropped.
func (q *deliveryQueue) enqueue(sub *indSub, ind *cim.Instance) {
	x := q.x
	if n := sub.queued.Add(1); n > int64(x.cfg.MaxQueueLength) {
		sub.queued.Add(-1)
		x.dropped.Add(1)
		if d := sub.dropCount.Add(1); d == 1 || d%1000 == 0 {
			x.log.WithFields(logrus.Fields{"subscription": sub.name(), "dropped": d, "queue": x.cfg.MaxQueueLength}).
				Warn("indication queue full: indications dropped (the listener is slower than the indications, or down)")
		}
		return
	}
	q.mu.Lock()
	q.items = append(q.items, queuedIndication{sub: sub, ind: ind, enqueued: time.Now()})
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start && !x.start(q.run) {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}
}

// peek returns the first item, or stops the goroutine when there is none.
func (q *deliveryQueue) peek() (queuedIndication, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		q.items, q.head, q.running = q.items[:0], 0, false
		return queuedIndication{}, false
	}
	return q.items[q.head], true
}

// pop removes the first item.
func (q *deliveryQueue) pop(delivered bool) {
	q.mu.Lock()
	it := q.items[q.head]
	q.items[q.head] = queuedIndication{}
	q.head++
	if q.head > 64 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	q.mu.Unlock()
	it.sub.queued.Add(-1)
	if delivered {
		q.x.delivered.Add(1)
	} else {
		q.x.dropped.Add(1)
	}
}

func (q *deliveryQueue) setAttempts(n int) {
	q.mu.Lock()
	q.items[q.head].attempts = n
	q.mu.Unlock()
}

// backoff is the wait after the n-th failed attempt of one indication.
func (x *Indications) backoff(n int) time.Duration {
	return x.cfg.DeliveryRetryInterval << min(n-1, 3)
}

// maxAge is how long an indication may wait before its first attempt:
// the whole retry schedule of the indication before it.
func (x *Indications) maxAge() time.Duration {
	total := time.Duration(x.cfg.DeliveryRetryAttempts+1) * x.cfg.DeliveryTimeout
	for n := 1; n <= x.cfg.DeliveryRetryAttempts; n++ {
		total += x.backoff(n)
	}
	return total
}

// run delivers until the queue is empty or the service closes.
func (q *deliveryQueue) run() {
	x := q.x
	log := x.log.WithField("destination", q.name)
	for {
		it, ok := q.peek()
		if !ok {
			return
		}
		if !it.sub.enabled() {
			q.pop(false) // the subscription was deleted or disabled
			continue
		}
		if it.attempts == 0 && time.Since(it.enqueued) > x.maxAge() {
			q.pop(false)
			log.WithField("subscription", it.sub.name()).Debug("indication dropped: it waited longer than the retry schedule while the listener failed")
			continue
		}
		ctx, cancel := context.WithTimeout(x.ctx, x.cfg.DeliveryTimeout)
		err := q.deliver(ctx, q, it.ind)
		cancel()
		if x.ctx.Err() != nil {
			return
		}
		if err == nil {
			q.pop(true)
			q.succeeded(log)
			it.sub.mu.Lock()
			it.sub.firstFatal = time.Time{}
			it.sub.mu.Unlock()
			continue
		}
		if permanent(err) {
			q.pop(false)
			log.WithError(err).WithField("subscription", it.sub.name()).Warn("the listener refused an indication; it is dropped")
			x.fatal(it.sub, err)
			continue
		}
		q.failed(log, err)
		n := it.attempts + 1
		if n > x.cfg.DeliveryRetryAttempts {
			q.pop(false)
			log.WithError(err).WithFields(logrus.Fields{"subscription": it.sub.name(), "attempts": n}).
				Warn("indication dropped: delivery failed after every retry")
		} else {
			q.setAttempts(n)
			x.retriedCount.Add(1)
		}
		timer := time.NewTimer(x.backoff(n))
		select {
		case <-x.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// succeeded ends a failure episode.
func (q *deliveryQueue) succeeded(log *logrus.Entry) {
	q.mu.Lock()
	failures := q.failures
	q.failingSince, q.failures = time.Time{}, 0
	q.mu.Unlock()
	if failures > 0 {
		log.WithField("failed_attempts", failures).Info("indication delivery recovered")
	}
}

// failed records a failed attempt and, when deliveries have failed for
// longer than SubscriptionRemovalTimeInterval, applies the
// SubscriptionRemovalAction to the destination's subscriptions.
func (q *deliveryQueue) failed(log *logrus.Entry, err error) {
	x := q.x
	now := time.Now()
	q.mu.Lock()
	first := q.failingSince.IsZero()
	if first {
		q.failingSince = now
	}
	q.failures++
	due := !first && now.Sub(q.failingSince) > x.cfg.SubscriptionRemovalTimeInterval
	if due {
		q.failingSince = now // the next action, if any, after another interval
	}
	q.mu.Unlock()
	if first {
		log.WithError(err).Warn("indication delivery failed; retrying")
	}
	if !due {
		return
	}
	for _, sub := range q.subs() {
		slog := log.WithField("subscription", sub.name())
		var aerr error
		switch x.cfg.SubscriptionRemovalAction {
		case RemovalRemove:
			slog.Warn("removing the indication subscription: deliveries have failed longer than SubscriptionRemovalTimeInterval")
			aerr = x.removeSubscription(sub, ErrSubscriptionRemoved)
		case RemovalDisable:
			slog.Warn("disabling the indication subscription: deliveries have failed longer than SubscriptionRemovalTimeInterval")
			aerr = x.disableSubscription(sub)
		}
		if aerr != nil {
			slog.WithError(aerr).Warn("applying SubscriptionRemovalAction")
		}
	}
}

// fatal applies a subscription's OnFatalErrorPolicy after the listener
// refused an indication, once refusals have lasted its
// FailureTriggerTimeInterval.
func (x *Indications) fatal(sub *indSub, cause error) {
	now := time.Now()
	sub.mu.Lock()
	if sub.firstFatal.IsZero() {
		sub.firstFatal = now
	}
	due := now.Sub(sub.firstFatal) >= sub.failureTrigger
	sub.mu.Unlock()
	if !due {
		return
	}
	var err error
	switch sub.onFatal {
	case fatalDisable:
		x.log.WithField("subscription", sub.name()).Warn("disabling the indication subscription (OnFatalErrorPolicy Disable)")
		err = x.disableSubscription(sub)
	case fatalRemove:
		x.log.WithField("subscription", sub.name()).Warn("removing the indication subscription (OnFatalErrorPolicy Remove)")
		why := cause
		if sub.goSub == nil || why == nil {
			why = ErrSubscriptionRemoved
		}
		err = x.removeSubscription(sub, why)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		x.log.WithError(err).WithField("subscription", sub.name()).Warn("applying OnFatalErrorPolicy")
	}
}
