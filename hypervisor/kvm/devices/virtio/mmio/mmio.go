package mmio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// WindowSize is the size of one device's register window.
const WindowSize = 0x1000

// Register offsets (virtio 1.2 §4.2.2).
const (
	regMagic          = 0x000
	regVersion        = 0x004
	regDeviceID       = 0x008
	regVendorID       = 0x00c
	regDeviceFeatures = 0x010
	regDeviceFeatSel  = 0x014
	regDriverFeatures = 0x020
	regDriverFeatSel  = 0x024
	regQueueSel       = 0x030
	regQueueNumMax    = 0x034
	regQueueNum       = 0x038
	regQueueReady     = 0x044
	regQueueNotify    = 0x050
	regInterruptStat  = 0x060
	regInterruptACK   = 0x064
	regStatus         = 0x070
	regQueueDescLow   = 0x080
	regQueueDescHigh  = 0x084
	regQueueAvailLow  = 0x090
	regQueueAvailHigh = 0x094
	regQueueUsedLow   = 0x0a0
	regQueueUsedHigh  = 0x0a4
	regSHMSel         = 0x0ac
	regSHMLenLow      = 0x0b0
	regSHMLenHigh     = 0x0b4
	regSHMBaseLow     = 0x0b8
	regSHMBaseHigh    = 0x0bc
	regConfigGen      = 0x0fc
	regConfig         = 0x100

	magic = 0x74726976 // "virt"
	// VendorID is hypercim's virtio vendor ID ("HCIM" little-endian).
	VendorID = 0x4d494348
)

// ErrRegister reports a malformed access to the register window.
var ErrRegister = errors.New("invalid virtio-mmio register access")

// Transport is one virtio-mmio window. Insert it on the MMIO bus at its base
// address with size WindowSize.
type Transport struct {
	mu       sync.Mutex
	dev      virtio.Device // nil: an empty slot
	mem      *guestmem.Memory
	irq      devices.InterruptLine
	reporter devices.Reporter
	queues   []*queue.Queue
	st       State
	active   bool
	isr      atomic.Uint32
	broken   atomic.Bool
}

// State is the transport's snapshot state; queue states included.
type State struct {
	DeviceFeatSel uint32
	DriverFeatSel uint32
	DriverFeature uint64
	QueueSel      uint32
	Status        uint32
	ConfigGen     uint32
	Interrupt     uint32
	Queues        []queue.State
}

// New returns a window for dev (nil for an empty slot) in guest memory mem,
// signalling on irq and reporting guest errors to reporter.
func New(dev virtio.Device, mem *guestmem.Memory, irq devices.InterruptLine, reporter devices.Reporter) *Transport {
	t := &Transport{dev: dev, mem: mem, irq: irq, reporter: reporter}
	if dev != nil {
		for _, n := range dev.QueueSizes() {
			t.queues = append(t.queues, queue.New(n))
		}
	}
	return t
}

// Read implements devices.Device.
func (t *Transport) Read(off uint64, data []byte) {
	if off >= regConfig {
		if t.dev != nil {
			t.dev.ReadConfig(off-regConfig, data)
		} else {
			clear(data)
		}
		return
	}
	if len(data) != 4 || off%4 != 0 {
		t.report(fmt.Errorf("%w: %d-byte read at %#x (registers are 32-bit)", ErrRegister, len(data), off))
		clear(data)
		return
	}
	binary.LittleEndian.PutUint32(data, t.readReg(off))
}

func (t *Transport) readReg(off uint64) uint32 {
	switch off {
	case regMagic:
		return magic
	case regVersion:
		return 2
	case regVendorID:
		return VendorID
	}
	if t.dev == nil {
		return 0 // device ID 0: no device in this slot
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch off {
	case regDeviceID:
		return t.dev.Type()
	case regDeviceFeatures:
		f := t.dev.Features() | 1<<virtio.FeatureVersion1
		switch t.st.DeviceFeatSel {
		case 0:
			return uint32(f)
		case 1:
			return uint32(f >> 32)
		}
		return 0
	case regQueueNumMax:
		if q := t.queue(); q != nil {
			return uint32(q.MaxSize)
		}
		return 0
	case regQueueReady:
		if q := t.queue(); q != nil && q.Ready {
			return 1
		}
		return 0
	case regInterruptStat:
		return t.isr.Load()
	case regStatus:
		s := t.st.Status
		if t.broken.Load() {
			s |= virtio.StatusDeviceNeedsReset
		}
		return s
	case regSHMLenLow, regSHMLenHigh:
		return 0xffffffff // no shared memory regions
	case regConfigGen:
		return t.st.ConfigGen
	}
	return 0
}

// Write implements devices.Device.
func (t *Transport) Write(off uint64, data []byte) {
	if t.dev == nil {
		return
	}
	if off >= regConfig {
		t.dev.WriteConfig(off-regConfig, data)
		return
	}
	if len(data) != 4 || off%4 != 0 {
		t.report(fmt.Errorf("%w: %d-byte write at %#x (registers are 32-bit)", ErrRegister, len(data), off))
		return
	}
	v := binary.LittleEndian.Uint32(data)
	switch off {
	case regQueueNotify:
		t.notify(v)
		return
	case regInterruptACK:
		t.isr.And(^v)
		return
	}
	t.mu.Lock()
	var after func()
	switch off {
	case regDeviceFeatSel:
		t.st.DeviceFeatSel = v
	case regDriverFeatSel:
		t.st.DriverFeatSel = v
	case regDriverFeatures:
		switch t.st.DriverFeatSel {
		case 0:
			t.st.DriverFeature = t.st.DriverFeature&^0xffffffff | uint64(v)
		case 1:
			t.st.DriverFeature = t.st.DriverFeature&0xffffffff | uint64(v)<<32
		}
	case regQueueSel:
		t.st.QueueSel = v
	case regQueueNum:
		if q := t.queue(); q != nil && !q.Ready {
			q.Size = uint16(min(v, queue.MaxSize))
		}
	case regQueueReady:
		after = t.setQueueReady(v == 1)
	case regQueueDescLow, regQueueDescHigh, regQueueAvailLow, regQueueAvailHigh, regQueueUsedLow, regQueueUsedHigh:
		if q := t.queue(); q != nil && !q.Ready {
			setHalf(addrField(q, off), off, v)
		}
	case regStatus:
		after = t.setStatus(v)
	case regSHMSel:
	default:
		t.mu.Unlock()
		t.report(fmt.Errorf("%w: write of %#x to read-only or unknown register %#x", ErrRegister, v, off))
		return
	}
	t.mu.Unlock()
	if after != nil {
		after()
	}
}

func addrField(q *queue.Queue, off uint64) *uint64 {
	switch off &^ 7 {
	case regQueueDescLow:
		return &q.DescAddr
	case regQueueAvailLow:
		return &q.AvailAddr
	}
	return &q.UsedAddr
}

func setHalf(p *uint64, off uint64, v uint32) {
	if off%8 == 0 {
		*p = *p&^0xffffffff | uint64(v)
	} else {
		*p = *p&0xffffffff | uint64(v)<<32
	}
}

func (t *Transport) queue() *queue.Queue {
	if int(t.st.QueueSel) < len(t.queues) {
		return t.queues[t.st.QueueSel]
	}
	return nil
}

// setQueueReady validates a queue when the driver enables it. A queue that
// does not fit guest RAM breaks the device rather than the VMM.
func (t *Transport) setQueueReady(ready bool) func() {
	q := t.queue()
	if q == nil {
		return nil
	}
	if !ready {
		q.Ready = false
		return nil
	}
	if err := q.Activate(t.mem); err != nil {
		return func() { t.NeedsReset(fmt.Errorf("queue %d: %w", t.st.QueueSel, err)) }
	}
	q.Ready = true
	return nil
}

// setStatus applies a status write; the returned function runs after the
// transport lock is released, because devices may signal interrupts.
func (t *Transport) setStatus(v uint32) func() {
	if v == 0 {
		t.resetLocked()
		return t.dev.Reset
	}
	old := t.st.Status
	if v&virtio.StatusFeaturesOK != 0 && old&virtio.StatusFeaturesOK == 0 {
		offered := t.dev.Features() | 1<<virtio.FeatureVersion1
		// virtio 1.2 §2.2.1: the device refuses FEATURES_OK for feature
		// bits it did not offer; a v2 window needs VERSION_1.
		if t.st.DriverFeature&^offered != 0 || t.st.DriverFeature&(1<<virtio.FeatureVersion1) == 0 {
			v &^= virtio.StatusFeaturesOK
		}
	}
	t.st.Status = v &^ virtio.StatusDeviceNeedsReset
	if v&virtio.StatusDriverOK == 0 || t.active || t.broken.Load() {
		return nil
	}
	t.active = true
	feats, queues := t.st.DriverFeature, t.queues
	return func() {
		if err := t.dev.Activate(t.mem, feats, queues, t); err != nil {
			t.NeedsReset(err)
		}
	}
}

func (t *Transport) resetLocked() {
	for _, q := range t.queues {
		q.Reset()
	}
	t.st = State{ConfigGen: t.st.ConfigGen}
	t.active = false
	t.broken.Store(false)
	t.isr.Store(0)
}

func (t *Transport) notify(q uint32) {
	t.mu.Lock()
	ok := t.active && !t.broken.Load() && int(q) < len(t.queues)
	t.mu.Unlock()
	if !ok {
		if int(q) >= len(t.queues) {
			t.report(fmt.Errorf("%w: notify for queue %d of %d", ErrRegister, q, len(t.queues)))
		}
		return
	}
	t.dev.Notify(int(q))
}

// Signal implements virtio.Interrupt.
func (t *Transport) Signal(bits uint32) {
	t.isr.Or(bits)
	if t.irq != nil {
		t.irq.Pulse() //nolint:errcheck // fails only on a dead VM
	}
}

// NeedsReset implements virtio.Interrupt.
func (t *Transport) NeedsReset(err error) {
	t.report(err)
	if t.broken.Swap(true) {
		return
	}
	t.Signal(virtio.InterruptConfigChange)
}

func (t *Transport) report(err error) {
	if t.reporter == nil {
		return
	}
	name := "virtio-mmio"
	if t.dev != nil {
		name = t.dev.Name()
	}
	t.reporter.Report(name, err)
}

// State returns the transport's snapshot state. The machine is paused, so
// no vCPU is inside the device.
func (t *Transport) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	st.Interrupt = t.isr.Load()
	if t.broken.Load() {
		st.Status |= virtio.StatusDeviceNeedsReset
	}
	st.Queues = nil
	for _, q := range t.queues {
		st.Queues = append(st.Queues, q.State)
	}
	return st
}

// SetState restores a snapshot and, when the driver had the device running,
// re-activates it on the restored queues.
func (t *Transport) SetState(st State) error {
	if t.dev == nil {
		return nil
	}
	if len(st.Queues) != len(t.queues) {
		return fmt.Errorf("snapshot has %d queues for %s, device has %d", len(st.Queues), t.dev.Name(), len(t.queues))
	}
	t.mu.Lock()
	t.st = st
	t.st.Status &^= virtio.StatusDeviceNeedsReset
	t.isr.Store(st.Interrupt)
	t.broken.Store(st.Status&virtio.StatusDeviceNeedsReset != 0)
	for i, q := range t.queues {
		q.SetState(st.Queues[i])
		if q.Ready {
			if err := q.Activate(t.mem); err != nil {
				t.mu.Unlock()
				return fmt.Errorf("restoring %s queue %d: %w", t.dev.Name(), i, err)
			}
		}
	}
	run := t.st.Status&virtio.StatusDriverOK != 0 && !t.broken.Load()
	t.active = run
	feats := t.st.DriverFeature
	t.mu.Unlock()
	if run {
		return t.dev.Activate(t.mem, feats, t.queues, t)
	}
	return nil
}
