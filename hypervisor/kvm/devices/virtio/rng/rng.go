package rng

import (
	"crypto/rand"
	"io"
	"sync"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// queueSize is the request queue's maximum size.
const queueSize = 64

// maxRequest bounds the entropy handed out per buffer, like QEMU's and
// Firecracker's devices, so a guest cannot make the VMM fill gigabytes.
const maxRequest = 64 << 10

// Device is a virtio-rng device.
type Device struct {
	name   string
	source io.Reader

	mu     sync.Mutex
	q      *queue.Queue
	irq    virtio.Interrupt
	broken bool
}

// New returns an entropy device reading from crypto/rand.
func New(name string) *Device { return &Device{name: name, source: rand.Reader} }

// Type implements virtio.Device.
func (d *Device) Type() uint32 { return virtio.IDRNG }

// Name implements virtio.Device.
func (d *Device) Name() string { return d.name }

// Features implements virtio.Device.
func (d *Device) Features() uint64 { return 1 << virtio.FeatureIndirectDesc }

// QueueSizes implements virtio.Device.
func (d *Device) QueueSizes() []uint16 { return []uint16{queueSize} }

// ReadConfig implements virtio.Device: the device has no configuration.
func (d *Device) ReadConfig(_ uint64, data []byte) { clear(data) }

// WriteConfig implements virtio.Device.
func (d *Device) WriteConfig(uint64, []byte) {}

// Activate implements virtio.Device.
func (d *Device) Activate(_ *guestmem.Memory, _ uint64, queues []*queue.Queue, irq virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.q, d.irq, d.broken = queues[0], irq, false
	return nil
}

// Reset implements virtio.Device.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.q, d.irq, d.broken = nil, nil, false
}

// Notify implements virtio.Device.
func (d *Device) Notify(int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.q == nil || d.broken || !d.q.Active() {
		return
	}
	served := false
	for {
		c, err := d.q.Pop()
		if err != nil {
			d.broken = true
			d.irq.NeedsReset(err)
			break
		}
		if c == nil {
			break
		}
		n := 0
		for _, b := range c.Writable {
			if n+len(b) > maxRequest {
				b = b[:maxRequest-n]
			}
			k, _ := io.ReadFull(d.source, b)
			n += k
			if n == maxRequest {
				break
			}
		}
		if err := d.q.Push(c.Head, uint32(n)); err != nil {
			d.broken = true
			d.irq.NeedsReset(err)
			break
		}
		served = true
	}
	if served && d.q.WantsInterrupt() {
		d.irq.Signal(virtio.InterruptUsedBuffer)
	}
}
