package hypervisor

import (
	"context"
	"io"
	"sync"
)

// Console is a machine's first serial port seen from the host.
type Console interface {
	// History returns the most recent output, oldest byte first, up to the
	// ring buffer's size.
	History() []byte
	// Subscribe delivers output written after the call until ctx ends,
	// then closes the channel. A subscriber that falls more than the ring
	// size behind loses the oldest bytes, never blocking the guest.
	Subscribe(ctx context.Context) <-chan []byte
	// Write sends input to the guest as if typed on the serial line.
	io.Writer
}

// ConsoleBuffer keeps a ring of recent serial output and fans it out to
// subscribers and an optional sink. Backends embed it to implement Console's
// output side; input handling is theirs.
type ConsoleBuffer struct {
	mu   sync.Mutex
	ring []byte
	size int
	next int  // write position in ring
	full bool // ring has wrapped at least once
	sink io.Writer
	subs map[*consoleSub]struct{}
}

// consoleSub is one subscriber's backlog: output not yet taken, at most the
// ring's size, and a wake-up for its delivery goroutine. Output is
// coalesced rather than queued chunk by chunk, because a serial line
// (libvirt's stream, a UART) delivers a byte or a few at a time: a queue
// of chunks would overflow on a burst that a byte budget absorbs.
type consoleSub struct {
	pending []byte
	wake    chan struct{}
}

// DefaultConsoleRing is the ring size used when zero is given.
const DefaultConsoleRing = 64 << 10

// NewConsoleBuffer returns a buffer holding the last size bytes, copying all
// output also to sink when sink is not nil.
func NewConsoleBuffer(size int, sink io.Writer) *ConsoleBuffer {
	if size <= 0 {
		size = DefaultConsoleRing
	}
	return &ConsoleBuffer{ring: make([]byte, size), size: size, sink: sink, subs: map[*consoleSub]struct{}{}}
}

// Write records guest output. It never blocks on slow readers; a failing sink
// is dropped rather than stalling the guest.
func (b *ConsoleBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for rest := p; len(rest) > 0; {
		n := copy(b.ring[b.next:], rest)
		rest = rest[n:]
		b.next += n
		if b.next == b.size {
			b.next, b.full = 0, true
		}
	}
	if b.sink != nil {
		if _, err := b.sink.Write(p); err != nil {
			b.sink = nil
		}
	}
	for sub := range b.subs {
		sub.pending = append(sub.pending, p...)
		if over := len(sub.pending) - b.size; over > 0 {
			// Behind by more than the ring: the oldest bytes go.
			sub.pending = append([]byte(nil), sub.pending[over:]...)
		}
		select {
		case sub.wake <- struct{}{}:
		default: // already woken
		}
	}
	return len(p), nil
}

// History returns the buffered output, oldest first.
func (b *ConsoleBuffer) History() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.full {
		return append([]byte(nil), b.ring[:b.next]...)
	}
	out := make([]byte, 0, b.size)
	out = append(out, b.ring[b.next:]...)
	return append(out, b.ring[:b.next]...)
}

// Subscribe streams output written from now on until ctx ends.
// A subscriber that falls more than the ring's size behind loses the
// oldest bytes; the writer never waits for it.
func (b *ConsoleBuffer) Subscribe(ctx context.Context) <-chan []byte {
	sub := &consoleSub{wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
	out := make(chan []byte)
	go func() {
		defer close(out)
		defer func() {
			b.mu.Lock()
			delete(b.subs, sub)
			b.mu.Unlock()
		}()
		for {
			select {
			case <-sub.wake:
			case <-ctx.Done():
				return
			}
			b.mu.Lock()
			chunk := sub.pending
			sub.pending = nil
			b.mu.Unlock()
			if len(chunk) == 0 {
				continue
			}
			select {
			case out <- chunk:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
