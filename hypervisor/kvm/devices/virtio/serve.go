package virtio

import (
	"sync"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
)

// Drain serves every chain the driver has made available on q: handle
// returns how many bytes it wrote into the chain's writable buffers, and
// the chain goes back on the used ring with that length. One used-buffer
// interrupt follows the batch, when anything was served and the driver
// wants it. A corrupt queue (Pop or Push fails) or a chain handle cannot
// answer at all stops the batch: the device is marked DEVICE_NEEDS_RESET
// through irq and the error returned, and the caller must leave the queue
// alone until the driver resets the device.
func Drain(q *queue.Queue, irq Interrupt, handle func(*queue.Chain) (uint32, error)) error {
	served := false
	defer func() {
		if served && q.WantsInterrupt() {
			irq.Signal(InterruptUsedBuffer)
		}
	}()
	for {
		c, err := q.Pop()
		if err == nil && c == nil {
			return nil
		}
		var written uint32
		if err == nil {
			written, err = handle(c)
		}
		if err == nil {
			err = q.Push(c.Head, written)
		}
		if err != nil {
			irq.NeedsReset(err)
			return err
		}
		served = true
	}
}

// SingleQueue is the queue state of a device with one request queue
// (block, entropy): what Activate, Reset and Notify do is the same for
// all of them, only the serving of a chain differs.
type SingleQueue struct {
	mu     sync.Mutex
	q      *queue.Queue
	irq    Interrupt
	broken bool
}

// Start takes the queue and interrupt the transport activated the device
// with (Device.Activate).
func (s *SingleQueue) Start(q *queue.Queue, irq Interrupt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q, s.irq, s.broken = q, irq, false
}

// Stop forgets them (Device.Reset).
func (s *SingleQueue) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q, s.irq, s.broken = nil, nil, false
}

// Serve drains the queue with handle (Device.Notify), unless the device is
// not activated or broken by earlier input. Notifications from several
// vCPUs are served one at a time.
func (s *SingleQueue) Serve(handle func(*queue.Chain) (uint32, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.q == nil || s.broken || !s.q.Active() {
		return
	}
	if Drain(s.q, s.irq, handle) != nil {
		s.broken = true
	}
}
