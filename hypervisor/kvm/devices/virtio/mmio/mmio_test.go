package mmio

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/internal/virtqtest"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// fakeDev records what the transport asks of it.
type fakeDev struct {
	activated bool
	features  uint64
	queues    []*queue.Queue
	irq       virtio.Interrupt
	notified  []int
	resets    int
	cfg       [8]byte
}

func (f *fakeDev) Type() uint32         { return virtio.IDRNG }
func (f *fakeDev) Name() string         { return "fake0" }
func (f *fakeDev) Features() uint64     { return 1 << virtio.FeatureIndirectDesc }
func (f *fakeDev) QueueSizes() []uint16 { return []uint16{16} }
func (f *fakeDev) ReadConfig(off uint64, d []byte) {
	for i := range d {
		if int(off)+i < len(f.cfg) {
			d[i] = f.cfg[int(off)+i]
		}
	}
}
func (f *fakeDev) WriteConfig(off uint64, d []byte) { copy(f.cfg[off:], d) }
func (f *fakeDev) Activate(_ *guestmem.Memory, feat uint64, q []*queue.Queue, irq virtio.Interrupt) error {
	f.activated, f.features, f.queues, f.irq = true, feat, q, irq
	return nil
}
func (f *fakeDev) Notify(q int) { f.notified = append(f.notified, q) }
func (f *fakeDev) Reset()       { f.resets++; f.activated = false }

type line struct{ pulses int }

func (l *line) SetLevel(bool) error { return nil }
func (l *line) Pulse() error        { l.pulses++; return nil }

type reports []error

func (r *reports) Report(_ string, err error) { *r = append(*r, err) }

func r32(t *Transport, off uint64) uint32 {
	var b [4]byte
	t.Read(off, b[:])
	return binary.LittleEndian.Uint32(b[:])
}

func w32(t *Transport, off uint64, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	t.Write(off, b[:])
}

// initDriver performs the virtio 1.2 §3.1.1 driver initialization.
func initDriver(t *testing.T, tr *Transport, drv *virtqtest.Driver, features uint64) uint32 {
	t.Helper()
	w32(tr, regStatus, 0)
	w32(tr, regStatus, virtio.StatusAcknowledge)
	w32(tr, regStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	w32(tr, regDriverFeatSel, 0)
	w32(tr, regDriverFeatures, uint32(features))
	w32(tr, regDriverFeatSel, 1)
	w32(tr, regDriverFeatures, uint32(features>>32))
	w32(tr, regStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK)
	st := r32(tr, regStatus)
	if st&virtio.StatusFeaturesOK == 0 {
		return st
	}
	w32(tr, regQueueSel, 0)
	w32(tr, regQueueNum, uint32(drv.L.Size))
	w32(tr, regQueueDescLow, uint32(drv.L.DescAddr))
	w32(tr, regQueueAvailLow, uint32(drv.L.AvailAddr))
	w32(tr, regQueueUsedLow, uint32(drv.L.UsedAddr))
	w32(tr, regQueueReady, 1)
	w32(tr, regStatus, st|virtio.StatusDriverOK)
	return r32(tr, regStatus)
}

func TestIdentityAndEmptySlot(t *testing.T) {
	empty := New(nil, virtqtest.Memory(4096), nil, nil)
	if r32(empty, regMagic) != magic || r32(empty, regVersion) != 2 || r32(empty, regDeviceID) != 0 {
		t.Error("an empty window must read magic, version 2 and device ID 0")
	}
	w32(empty, regStatus, 1) // ignored
	tr := New(&fakeDev{}, virtqtest.Memory(4096), nil, nil)
	if r32(tr, regDeviceID) != virtio.IDRNG || r32(tr, regVendorID) != VendorID || r32(tr, regQueueNumMax) != 16 {
		t.Error("identity registers")
	}
	w32(tr, regDeviceFeatSel, 1)
	if r32(tr, regDeviceFeatures)&1 == 0 {
		t.Error("VERSION_1 not offered")
	}
}

func TestInitNotifyInterrupt(t *testing.T) {
	mem := virtqtest.Memory(1 << 20)
	drv := virtqtest.New(mem, 0x10000, 8, 0x40000)
	dev, irq := &fakeDev{}, &line{}
	tr := New(dev, mem, irq, nil)
	if st := initDriver(t, tr, drv, 1<<virtio.FeatureVersion1|1<<virtio.FeatureIndirectDesc); st&virtio.StatusDriverOK == 0 {
		t.Fatalf("status %#x", st)
	}
	if !dev.activated || dev.features != 1<<virtio.FeatureVersion1|1<<virtio.FeatureIndirectDesc || !dev.queues[0].Active() {
		t.Fatalf("device %+v", dev)
	}
	w32(tr, regQueueNotify, 0)
	if len(dev.notified) != 1 {
		t.Error("notify not delivered")
	}
	dev.irq.Signal(virtio.InterruptUsedBuffer)
	if r32(tr, regInterruptStat) != virtio.InterruptUsedBuffer || irq.pulses != 1 {
		t.Error("interrupt status or line")
	}
	w32(tr, regInterruptACK, virtio.InterruptUsedBuffer)
	if r32(tr, regInterruptStat) != 0 {
		t.Error("ack did not clear the interrupt status")
	}
	// Snapshot state round-trips into a fresh transport.
	st := tr.State()
	dev2 := &fakeDev{}
	tr2 := New(dev2, mem, irq, nil)
	if err := tr2.SetState(st); err != nil {
		t.Fatal(err)
	}
	if !dev2.activated || dev2.queues[0].DescAddr != drv.L.DescAddr {
		t.Error("restored transport did not reactivate the device on its queues")
	}
	before := dev.resets
	w32(tr, regStatus, 0)
	if dev.resets != before+1 || r32(tr, regStatus) != 0 {
		t.Errorf("reset: resets %d status %#x", dev.resets, r32(tr, regStatus))
	}
}

func TestFeatureNegotiationRefused(t *testing.T) {
	mem := virtqtest.Memory(1 << 20)
	drv := virtqtest.New(mem, 0x10000, 8, 0x40000)
	tr := New(&fakeDev{}, mem, nil, nil)
	if st := initDriver(t, tr, drv, 1<<virtio.FeatureVersion1|1<<40); st&virtio.StatusFeaturesOK != 0 {
		t.Error("FEATURES_OK accepted for a feature never offered")
	}
	tr = New(&fakeDev{}, mem, nil, nil)
	if st := initDriver(t, tr, drv, 0); st&virtio.StatusFeaturesOK != 0 {
		t.Error("FEATURES_OK accepted without VERSION_1")
	}
}

func TestBadQueueAndRegisterAccess(t *testing.T) {
	mem := virtqtest.Memory(1 << 20)
	var rep reports
	dev := &fakeDev{}
	tr := New(dev, mem, &line{}, &rep)
	w32(tr, regQueueSel, 0)
	w32(tr, regQueueNum, 8)
	w32(tr, regQueueDescLow, 0x7) // misaligned
	w32(tr, regQueueReady, 1)
	if r32(tr, regQueueReady) != 0 || r32(tr, regStatus)&virtio.StatusDeviceNeedsReset == 0 {
		t.Error("a misplaced queue became ready or did not set DEVICE_NEEDS_RESET")
	}
	var b [2]byte
	tr.Read(regStatus, b[:])
	w32(tr, regMagic, 1)
	w32(tr, regQueueNotify, 7)
	if len(rep) < 3 || !errors.Is(rep[1], ErrRegister) {
		t.Errorf("reports %v", rep)
	}
}
