package net

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/internal/virtqtest"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
)

// pipeLink is a link (io.ReadWriteCloser) whose other end is the test.
type pipeLink struct{ net.Conn }

func TestTransmitReceive(t *testing.T) {
	host, dev := net.Pipe()
	mem := virtqtest.Memory(1 << 20)
	rx := virtqtest.New(mem, 0x1000, 8, 0x40000)
	tx := virtqtest.New(mem, 0x10000, 8, 0x80000)
	rq, tq := queue.New(8), queue.New(8)
	rx.Configure(rq)
	tx.Configure(tq)
	d := New("nic0", [6]byte{2, 0, 0, 0, 0, 1}, pipeLink{dev})
	defer d.Close()
	irq := &virtqtest.Interrupt{}
	d.Activate(mem, 1<<virtio.FeatureVersion1, []*queue.Queue{rq, tq}, irq)

	// Guest to host: 12-byte header (VERSION_1) then the frame.
	frame := bytes.Repeat([]byte{0xab}, 60)
	hdr := tx.Buffer(12, nil)
	body := tx.Buffer(len(frame), frame)
	tx.Chain(virtqtest.Seg{Addr: hdr, Len: 12}, virtqtest.Seg{Addr: body, Len: uint32(len(frame))})
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 2048)
		n, _ := host.Read(b)
		got <- b[:n]
	}()
	d.Notify(txQueue)
	select {
	case b := <-got:
		if !bytes.Equal(b, frame) {
			t.Errorf("host got %x", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame on the link")
	}

	// Host to guest: the frame waits until the driver posts a buffer.
	in := []byte("frame from the host, padded to be long enough.......")
	done := make(chan error, 1)
	go func() { _, err := host.Write(in); done <- err }()
	time.Sleep(50 * time.Millisecond)
	buf := rx.Buffer(2048, nil)
	rx.Chain(virtqtest.Seg{Addr: buf, Len: 2048, Write: true})
	d.Notify(rxQueue)
	// The receive goroutine fills the buffer, then signals.
	for irq.Count() < 2 {
		if !irq.Wait(5 * time.Second) {
			t.Fatal("frame never delivered")
		}
	}
	if _, lens := rx.Used(); len(lens) != 1 || lens[0] != uint32(12+len(in)) || !bytes.Equal(rx.Bytes(buf+12, len(in)), in) {
		t.Errorf("guest got %v: %q", lens, rx.Bytes(buf, 12+len(in)))
	}
	st := d.Stats()
	if st.TxPackets != 1 || st.RxPackets != 1 || st.TxBytes != 60 || st.RxBytes != uint64(len(in)) {
		t.Errorf("stats %+v", st)
	}
}

func TestNoLinkDropsAndCounts(t *testing.T) {
	mem := virtqtest.Memory(1 << 20)
	tx := virtqtest.New(mem, 0x10000, 8, 0x80000)
	tq := queue.New(8)
	tx.Configure(tq)
	d := New("nic0", [6]byte{}, nil)
	defer d.Close()
	d.Activate(mem, 0, []*queue.Queue{queue.New(8), tq}, &virtqtest.Interrupt{})
	tx.Chain(virtqtest.Seg{Addr: tx.Buffer(70, nil), Len: 70})
	d.Notify(txQueue)
	if st := d.Stats(); st.TxDropped != 1 {
		t.Errorf("stats %+v", st)
	}
	var c [8]byte
	d.ReadConfig(0, c[:])
	if c[6] != 0 {
		t.Error("link reported up without a link")
	}
}
