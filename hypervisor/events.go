package hypervisor

import (
	"context"
	"sync"
)

// EventHub fans a machine's events out to subscribers. Each subscriber has
// its own unbounded queue, so publishing never blocks the machine and no
// state change is lost to a slow reader.
type EventHub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	mu     sync.Mutex
	queue  []Event
	wake   chan struct{}
	closed bool
}

// NewEventHub returns an empty hub.
func NewEventHub() *EventHub { return &EventHub{subs: map[*subscriber]struct{}{}} }

// Publish queues ev for every current subscriber.
func (h *EventHub) Publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		s.queue = append(s.queue, ev)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Subscribe delivers events published from now on until ctx ends or the hub
// closes, then closes the returned channel.
func (h *EventHub) Subscribe(ctx context.Context) <-chan Event {
	out := make(chan Event)
	s := &subscriber{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(out)
		return out
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go h.pump(ctx, s, out)
	return out
}

func (h *EventHub) pump(ctx context.Context, s *subscriber, out chan<- Event) {
	defer close(out)
	defer func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		var next *Event
		if len(s.queue) > 0 {
			ev := s.queue[0]
			s.queue = s.queue[1:]
			next = &ev
		}
		closed := s.closed
		s.mu.Unlock()
		if next == nil {
			if closed {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		select {
		case out <- *next:
		case <-ctx.Done():
			return
		}
	}
}

// Close ends every subscription once its queued events are delivered.
func (h *EventHub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}
