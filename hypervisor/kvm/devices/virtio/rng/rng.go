package rng

import (
	"crypto/rand"
	"io"

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

	requests virtio.SingleQueue
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
	d.requests.Start(queues[0], irq)
	return nil
}

// Reset implements virtio.Device.
func (d *Device) Reset() { d.requests.Stop() }

// Notify implements virtio.Device: fill every buffer the driver offers.
func (d *Device) Notify(int) { d.requests.Serve(d.fill) }

// fill writes entropy into a chain's writable buffers, at most maxRequest
// bytes.
func (d *Device) fill(c *queue.Chain) (uint32, error) {
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
	return uint32(n), nil
}
