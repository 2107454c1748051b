package pci

import (
	"testing"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/internal/virtqtest"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/rng"
)

type levelLine struct{ high bool }

func (l *levelLine) SetLevel(h bool) error { l.high = h; return nil }
func (l *levelLine) Pulse() error          { return nil }

func TestLegacyDriverFlow(t *testing.T) {
	var pio, mmio devices.Bus
	mem := virtqtest.Memory(1 << 20)
	irq := &levelLine{}
	tr := New(rng.New("rng0"), mem, 0xc000, 11, irq, nil)
	if err := tr.Endpoint().AttachBARs(&pio, &mmio); err != nil {
		t.Fatal(err)
	}
	rd := func(off uint64, n int) uint64 {
		b := make([]byte, n)
		if !pio.Read(0xc000+off, b) {
			t.Fatalf("port %#x not decoded", 0xc000+off)
		}
		return devices.Get(b)
	}
	wr := func(off uint64, n int, v uint64) {
		b := make([]byte, n)
		devices.Put(b, v)
		pio.Write(0xc000+off, b)
	}
	var id [4]byte
	tr.Endpoint().ReadConfig(0, id[:])
	if devices.Get(id[:]) != 0x10051af4 {
		t.Errorf("vendor/device %#x, want the transitional rng ID 0x1005", devices.Get(id[:]))
	}
	wr(regStatus, 1, virtio.StatusAcknowledge|virtio.StatusDriver)
	wr(regGuestFeatures, 4, rd(regHostFeatures, 4))
	wr(regQueueSel, 2, 0)
	size := rd(regQueueSize, 2)
	drv := virtqtest.New(mem, 0x10000, uint16(size), 0x80000)
	wr(regQueuePFN, 4, 0x10)
	wr(regStatus, 1, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusDriverOK)
	buf := drv.Buffer(32, nil)
	drv.Chain(virtqtest.Seg{Addr: buf, Len: 32, Write: true})
	wr(regQueueNotify, 2, 0)
	if _, lens := drv.Used(); len(lens) != 1 || lens[0] != 32 {
		t.Fatalf("used %v", lens)
	}
	if !irq.high {
		t.Error("INTx not asserted after a used buffer")
	}
	if isr := rd(regISR, 1); isr&virtio.InterruptUsedBuffer == 0 || irq.high {
		t.Errorf("ISR %#x; reading it must deassert INTx (high=%v)", isr, irq.high)
	}
	// Snapshot round trip into a new function at the same place.
	st := tr.State()
	var pio2, mmio2 devices.Bus
	tr2 := New(rng.New("rng0"), mem, 0xc000, 11, irq, nil)
	tr2.Endpoint().AttachBARs(&pio2, &mmio2)
	if err := tr2.SetState(st); err != nil {
		t.Fatal(err)
	}
	drv.Chain(virtqtest.Seg{Addr: buf, Len: 16, Write: true})
	b := make([]byte, 2)
	pio2.Write(0xc000+regQueueNotify, b)
	if _, lens := drv.Used(); len(lens) != 1 || lens[0] != 16 {
		t.Errorf("restored function did not serve the queue: %v", lens)
	}
	wr(regStatus, 1, 0)
	if rd(regStatus, 1) != 0 || rd(regQueuePFN, 4) != 0 {
		t.Error("reset left state behind")
	}
}
