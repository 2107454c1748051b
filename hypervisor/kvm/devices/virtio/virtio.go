package virtio

import (
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Device IDs (virtio 1.2 §5).
const (
	IDNet     = 1
	IDBlock   = 2
	IDConsole = 3
	IDRNG     = 4
)

// Feature bits every device may offer (virtio 1.2 §6).
const (
	FeatureIndirectDesc = 28
	FeatureEventIdx     = 29
	FeatureVersion1     = 32
	FeatureAccessPlat   = 33
)

// Device status bits (virtio 1.2 §2.1).
const (
	StatusAcknowledge      = 1
	StatusDriver           = 2
	StatusDriverOK         = 4
	StatusFeaturesOK       = 8
	StatusDeviceNeedsReset = 64
	StatusFailed           = 128
)

// Interrupt status bits, shared by both transports.
const (
	InterruptUsedBuffer   = 1
	InterruptConfigChange = 2
)

// Device is a virtio device as its transport sees it. The transport owns
// feature negotiation, status and queue configuration, and calls the
// device with ready queues; the device never touches transport registers.
type Device interface {
	// Type is the virtio device ID.
	Type() uint32
	// Name identifies the device in reports and statistics ("disk0").
	Name() string
	// Features are the feature bits the device offers.
	Features() uint64
	// QueueSizes gives each virtqueue's maximum size.
	QueueSizes() []uint16
	// ReadConfig and WriteConfig access the device-specific configuration
	// space; out-of-range bytes read as zero and writes to them are ignored.
	ReadConfig(offset uint64, data []byte)
	WriteConfig(offset uint64, data []byte)
	// Activate starts the device once the driver set DRIVER_OK, with the
	// negotiated features and the queues (some may not be ready).
	Activate(mem *guestmem.Memory, features uint64, queues []*queue.Queue, irq Interrupt) error
	// Notify is called when the driver kicks queue index q. It runs on the
	// kicking vCPU's thread.
	Notify(q int)
	// Reset stops the device and forgets the queues (the driver wrote 0 to
	// status, or the transport is being removed).
	Reset()
}

// Interrupt is how a device signals its driver through the transport.
type Interrupt interface {
	// Signal raises the interrupt with the given InterruptUsedBuffer or
	// InterruptConfigChange bits.
	Signal(bits uint32)
	// NeedsReset marks the device broken by the driver's input (virtio 1.2
	// §2.1.2 DEVICE_NEEDS_RESET) and notifies the driver.
	NeedsReset(err error)
}
