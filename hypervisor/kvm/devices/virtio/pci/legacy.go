package pci

import (
	"fmt"
	"sync"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
	hwpci "github.com/hypercim/hypercim/hypervisor/kvm/devices/pci"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Legacy header registers in BAR 0 (virtio 1.2 §4.1.4.8).
const (
	regHostFeatures  = 0x00
	regGuestFeatures = 0x04
	regQueuePFN      = 0x08
	regQueueSize     = 0x0c
	regQueueSel      = 0x0e
	regQueueNotify   = 0x10
	regStatus        = 0x12
	regISR           = 0x13
	regConfig        = 0x14

	// BARSize is the I/O BAR size: header plus up to 236 config bytes.
	BARSize = 0x100
	// legacyAlign is the legacy ring layout's used-ring alignment.
	legacyAlign = 4096
	// VendorID is the virtio PCI vendor (Red Hat, Inc.).
	VendorID = 0x1af4
)

// Transport is one legacy virtio-pci function.
type Transport struct {
	mu       sync.Mutex
	dev      virtio.Device
	mem      *guestmem.Memory
	irq      devices.InterruptLine
	reporter devices.Reporter
	ep       *hwpci.Endpoint
	queues   []*queue.Queue
	st       State
	active   bool
	broken   bool
	level    bool
}

// State is the transport's snapshot state.
type State struct {
	GuestFeatures uint32
	QueueSel      uint16
	Status        uint8
	ISR           uint8
	Broken        bool
	Config        [256]byte
	Queues        []queue.State
}

// transitionalID is the PCI device ID legacy drivers bind to (virtio 1.2
// §4.1.2.3, "Transitional PCI Device ID"); a type without one gets its
// modern ID, 0x1040 + type.
func transitionalID(typ uint32) uint16 {
	switch typ {
	case virtio.IDNet:
		return 0x1000
	case virtio.IDBlock:
		return 0x1001
	case virtio.IDConsole:
		return 0x1003
	case virtio.IDRNG:
		return 0x1005
	}
	return uint16(0x1040 + typ)
}

// classCode gives the PCI class of a virtio device type.
func classCode(id uint32) uint32 {
	switch id {
	case virtio.IDNet:
		return 0x020000 // network controller, Ethernet
	case virtio.IDBlock:
		return 0x010000 // mass storage, SCSI (what QEMU reports)
	}
	return 0x00ff00 // unclassified
}

// New returns the function for dev with its BAR at ioBase and its INTA#
// routed to irq, which is interrupt line irqLine.
func New(dev virtio.Device, mem *guestmem.Memory, ioBase uint32, irqLine uint8, irq devices.InterruptLine, reporter devices.Reporter) *Transport {
	t := &Transport{dev: dev, mem: mem, irq: irq, reporter: reporter}
	for _, n := range dev.QueueSizes() {
		t.queues = append(t.queues, queue.New(n))
	}
	t.ep = hwpci.NewEndpoint(hwpci.Header{
		VendorID:      VendorID,
		DeviceID:      transitionalID(dev.Type()),
		Class:         classCode(dev.Type()),
		SubVendorID:   VendorID,
		SubsysID:      uint16(dev.Type()),
		InterruptPin:  1,
		InterruptLine: irqLine,
	}, []hwpci.BAR{{IO: true, Size: BARSize, Addr: ioBase, Dev: (*registers)(t)}})
	return t
}

// Endpoint returns the PCI function to plug into the bus.
func (t *Transport) Endpoint() *hwpci.Endpoint { return t.ep }

// registers is the BAR 0 view of the transport.
type registers Transport

func (r *registers) Read(off uint64, data []byte) {
	t := (*Transport)(r)
	if off >= regConfig {
		t.dev.ReadConfig(off-regConfig, data)
		return
	}
	t.mu.Lock()
	var v uint32
	switch {
	case off == regHostFeatures && len(data) == 4:
		v = uint32(t.dev.Features())
	case off == regGuestFeatures && len(data) == 4:
		v = t.st.GuestFeatures
	case off == regQueuePFN && len(data) == 4:
		if q := t.queue(); q != nil {
			v = uint32(q.DescAddr / legacyAlign)
		}
	case off == regQueueSize && len(data) == 2:
		if q := t.queue(); q != nil {
			v = uint32(q.MaxSize)
		}
	case off == regQueueSel && len(data) == 2:
		v = uint32(t.st.QueueSel)
	case off == regStatus && len(data) == 1:
		v = uint32(t.st.Status)
		if t.broken {
			v |= virtio.StatusDeviceNeedsReset
		}
	case off == regISR && len(data) == 1:
		// Reading the ISR acknowledges the interrupt (§4.1.4.5).
		v = uint32(t.st.ISR)
		t.st.ISR = 0
		t.updateLocked()
	default:
		t.mu.Unlock()
		t.report(fmt.Errorf("invalid %d-byte read of legacy virtio-pci register %#x", len(data), off))
		devices.Put(data, 0xffffffff)
		return
	}
	t.mu.Unlock()
	devices.Put(data, uint64(v))
}

func (r *registers) Write(off uint64, data []byte) {
	t := (*Transport)(r)
	if off >= regConfig {
		t.dev.WriteConfig(off-regConfig, data)
		return
	}
	v := uint32(devices.Get(data))
	if off == regQueueNotify && len(data) == 2 {
		t.notify(int(v))
		return
	}
	t.mu.Lock()
	var after func()
	switch {
	case off == regGuestFeatures && len(data) == 4:
		t.st.GuestFeatures = v & uint32(t.dev.Features())
	case off == regQueuePFN && len(data) == 4:
		after = t.setPFN(v)
	case off == regQueueSel && len(data) == 2:
		t.st.QueueSel = uint16(v)
	case off == regStatus && len(data) == 1:
		after = t.setStatus(uint8(v))
	default:
		t.mu.Unlock()
		t.report(fmt.Errorf("invalid %d-byte write of %#x to legacy virtio-pci register %#x", len(data), v, off))
		return
	}
	t.mu.Unlock()
	if after != nil {
		after()
	}
}

func (t *Transport) queue() *queue.Queue {
	if int(t.st.QueueSel) < len(t.queues) {
		return t.queues[t.st.QueueSel]
	}
	return nil
}

// setPFN places the selected queue: the legacy layout puts the available
// ring right after the descriptors and the used ring on the next 4 KiB
// boundary (§2.7.2, legacy interfaces). PFN 0 disables the queue.
func (t *Transport) setPFN(pfn uint32) func() {
	q := t.queue()
	if q == nil {
		return nil
	}
	if pfn == 0 {
		q.Reset()
		return nil
	}
	size := uint64(q.MaxSize)
	q.Size = q.MaxSize
	q.DescAddr = uint64(pfn) * legacyAlign
	q.AvailAddr = q.DescAddr + 16*size
	q.UsedAddr = (q.AvailAddr + 6 + 2*size + legacyAlign - 1) &^ (legacyAlign - 1)
	if err := q.Activate(t.mem); err != nil {
		sel := t.st.QueueSel
		return func() { t.NeedsReset(fmt.Errorf("queue %d: %w", sel, err)) }
	}
	q.Ready = true
	return nil
}

func (t *Transport) setStatus(v uint8) func() {
	if v == 0 {
		for _, q := range t.queues {
			q.Reset()
		}
		t.st.GuestFeatures, t.st.Status, t.st.ISR = 0, 0, 0
		t.active, t.broken = false, false
		t.updateLocked()
		return t.dev.Reset
	}
	t.st.Status = v &^ virtio.StatusDeviceNeedsReset
	if v&virtio.StatusDriverOK == 0 || t.active || t.broken {
		return nil
	}
	t.active = true
	feats, queues := uint64(t.st.GuestFeatures), t.queues
	return func() {
		if err := t.dev.Activate(t.mem, feats, queues, t); err != nil {
			t.NeedsReset(err)
		}
	}
}

func (t *Transport) notify(q int) {
	t.mu.Lock()
	// Legacy drivers may kick before DRIVER_OK (Linux probes with the
	// queues set up); activate on the first kick of a ready queue.
	ok := !t.broken && q < len(t.queues) && t.queues[q].Ready
	var activate bool
	if ok && !t.active {
		t.active, activate = true, true
	}
	feats, queues := uint64(t.st.GuestFeatures), t.queues
	t.mu.Unlock()
	if !ok {
		if q >= len(t.queues) {
			t.report(fmt.Errorf("notify for queue %d of %d", q, len(t.queues)))
		}
		return
	}
	if activate {
		if err := t.dev.Activate(t.mem, feats, queues, t); err != nil {
			t.NeedsReset(err)
			return
		}
	}
	t.dev.Notify(q)
}

// Signal implements virtio.Interrupt: INTx# stays asserted until the
// driver reads the ISR.
func (t *Transport) Signal(bits uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.ISR |= uint8(bits)
	t.updateLocked()
}

// NeedsReset implements virtio.Interrupt.
func (t *Transport) NeedsReset(err error) {
	t.report(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken {
		return
	}
	t.broken = true
	t.st.ISR |= virtio.InterruptConfigChange
	t.updateLocked()
}

func (t *Transport) updateLocked() {
	want := t.st.ISR != 0
	if want != t.level && t.irq != nil {
		t.level = want
		t.irq.SetLevel(want) //nolint:errcheck // fails only on a dead VM
	}
}

func (t *Transport) report(err error) {
	if t.reporter != nil {
		t.reporter.Report(t.dev.Name(), err)
	}
}

// Release lowers the interrupt line before the function is unplugged.
func (t *Transport) Release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.ISR = 0
	t.updateLocked()
}

// State returns the transport's snapshot state.
func (t *Transport) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	st.Broken = t.broken
	st.Config = t.ep.Config()
	st.Queues = nil
	for _, q := range t.queues {
		st.Queues = append(st.Queues, q.State)
	}
	return st
}

// SetState restores a snapshot, remapping the BAR where the guest had put
// it and re-activating a running device.
func (t *Transport) SetState(st State) error {
	if len(st.Queues) != len(t.queues) {
		return fmt.Errorf("snapshot has %d queues for %s, device has %d", len(st.Queues), t.dev.Name(), len(t.queues))
	}
	if err := t.ep.SetConfig(st.Config); err != nil {
		return fmt.Errorf("restoring %s PCI configuration: %w", t.dev.Name(), err)
	}
	t.mu.Lock()
	t.st, t.broken = st, st.Broken
	for i, q := range t.queues {
		q.SetState(st.Queues[i])
		if q.Ready {
			if err := q.Activate(t.mem); err != nil {
				t.mu.Unlock()
				return fmt.Errorf("restoring %s queue %d: %w", t.dev.Name(), i, err)
			}
		}
	}
	t.level = false
	t.updateLocked()
	run := t.st.Status&virtio.StatusDriverOK != 0 && !t.broken
	t.active = run
	feats := uint64(t.st.GuestFeatures)
	t.mu.Unlock()
	if run {
		return t.dev.Activate(t.mem, feats, t.queues, t)
	}
	return nil
}
