package rng

import (
	"bytes"
	"testing"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/internal/virtqtest"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
)

func TestFillsBuffers(t *testing.T) {
	drv := virtqtest.New(virtqtest.Memory(1<<20), 0x1000, 8, 0x10000)
	q := queue.New(queueSize)
	q.MaxSize = 8
	if err := drv.Configure(q); err != nil {
		t.Fatal(err)
	}
	d := New("rng0")
	irq := &virtqtest.Interrupt{}
	d.Activate(drv.Mem, 0, []*queue.Queue{q}, irq)
	a, b := drv.Buffer(64, nil), drv.Buffer(100<<10, nil)
	drv.Chain(virtqtest.Seg{Addr: a, Len: 64, Write: true})
	drv.Chain(virtqtest.Seg{Addr: b, Len: 100 << 10, Write: true})
	d.Notify(0)
	_, lens := drv.Used()
	if len(lens) != 2 || lens[0] != 64 || lens[1] != maxRequest {
		t.Fatalf("used lengths %v, want 64 and the %d cap", lens, maxRequest)
	}
	if bytes.Equal(drv.Bytes(a, 64), make([]byte, 64)) {
		t.Error("buffer left zero")
	}
	if irq.Signals != 1 {
		t.Errorf("%d interrupts for one notify", irq.Signals)
	}
}
