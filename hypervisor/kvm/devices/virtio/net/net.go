package net

import (
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Feature bits (virtio 1.2 §5.1.3).
const (
	featMAC      = 5
	featMrgRxBuf = 15
	featStatus   = 16

	statusLinkUp = 1

	queueSize = 256
	// maxFrame is the largest frame carried: 1500-byte MTU plus Ethernet
	// header and VLAN tag, with room to spare.
	maxFrame = 1522 + 256
	rxQueue  = 0
	txQueue  = 1
)

// Stats counts the adapter's traffic.
type Stats struct {
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
	RxDropped, TxDropped uint64
}

// Device is a virtio-net adapter.
type Device struct {
	name string
	mac  [6]byte
	link io.ReadWriteCloser // nil: no link

	mu      sync.Mutex
	wake    *sync.Cond
	rx, tx  *queue.Queue
	irq     virtio.Interrupt
	hdrLen  int
	broken  bool
	closed  bool
	frozen  bool   // the machine is paused: hold received frames
	pending []byte // a received frame waiting for an RX buffer

	rxBytes, txBytes, rxPackets, txPackets, rxDropped, txDropped atomic.Uint64
	done                                                         chan struct{}
}

// New returns an adapter with address mac on link (a *Tap, or nil for an
// adapter without link). Receiving starts at once; Close stops it.
func New(name string, mac [6]byte, link io.ReadWriteCloser) *Device {
	d := &Device{name: name, mac: mac, link: link, done: make(chan struct{})}
	d.wake = sync.NewCond(&d.mu)
	if link != nil {
		go d.receive()
	} else {
		close(d.done)
	}
	return d
}

// Type implements virtio.Device.
func (d *Device) Type() uint32 { return virtio.IDNet }

// Name implements virtio.Device.
func (d *Device) Name() string { return d.name }

// Features implements virtio.Device.
func (d *Device) Features() uint64 {
	return 1<<featMAC | 1<<featStatus | 1<<virtio.FeatureIndirectDesc
}

// QueueSizes implements virtio.Device: receive, then transmit.
func (d *Device) QueueSizes() []uint16 { return []uint16{queueSize, queueSize} }

// ReadConfig implements virtio.Device: struct virtio_net_config's mac and
// status.
func (d *Device) ReadConfig(off uint64, data []byte) {
	var c [8]byte
	copy(c[:], d.mac[:])
	if d.link != nil {
		binary.LittleEndian.PutUint16(c[6:], statusLinkUp)
	}
	for i := range data {
		if o := off + uint64(i); o < uint64(len(c)) {
			data[i] = c[o]
		} else {
			data[i] = 0
		}
	}
}

// WriteConfig implements virtio.Device; legacy drivers may write the MAC,
// which this device keeps fixed.
func (d *Device) WriteConfig(uint64, []byte) {}

// Activate implements virtio.Device.
func (d *Device) Activate(_ *guestmem.Memory, features uint64, queues []*queue.Queue, irq virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rx, d.tx, d.irq, d.broken = queues[rxQueue], queues[txQueue], irq, false
	// virtio 1.2 §5.1.6: the header carries num_buffers (12 bytes) with
	// VERSION_1 or MRG_RXBUF; legacy devices without them use 10 bytes.
	d.hdrLen = 10
	if features&(1<<virtio.FeatureVersion1|1<<featMrgRxBuf) != 0 {
		d.hdrLen = 12
	}
	d.wake.Broadcast()
	return nil
}

// Reset implements virtio.Device.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rx, d.tx, d.irq, d.broken, d.pending = nil, nil, nil, false, nil
	d.wake.Broadcast()
}

// Notify implements virtio.Device.
func (d *Device) Notify(q int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch q {
	case rxQueue:
		d.wake.Broadcast() // new receive buffers
	case txQueue:
		d.transmit()
	}
}

func (d *Device) fail(err error) {
	d.broken = true
	d.irq.NeedsReset(err)
}

// transmit sends every frame the driver queued.
func (d *Device) transmit() {
	if d.tx == nil || d.broken || !d.tx.Active() {
		return
	}
	frame := make([]byte, maxFrame+d.hdrLen)
	err := virtio.Drain(d.tx, d.irq, func(c *queue.Chain) (uint32, error) {
		n := c.Gather(frame, 0)
		switch {
		case n <= d.hdrLen || c.ReadableLen() > len(frame), d.link == nil:
			d.txDropped.Add(1)
		default:
			if _, err := d.link.Write(frame[d.hdrLen:n]); err != nil {
				d.txDropped.Add(1)
			} else {
				d.txPackets.Add(1)
				d.txBytes.Add(uint64(n - d.hdrLen))
			}
		}
		return 0, nil
	})
	if err != nil {
		d.broken = true
	}
}

// receive moves frames from the link into the guest until Close.
func (d *Device) receive() {
	defer close(d.done)
	buf := make([]byte, maxFrame)
	for {
		n, err := d.link.Read(buf)
		if err != nil {
			return
		}
		d.mu.Lock()
		d.pending = append(d.pending[:0], buf[:n]...)
		for !d.closed && d.pending != nil {
			if d.frozen {
				d.wake.Wait()
				continue
			}
			if d.rx == nil || d.broken || !d.rx.Active() {
				d.rxDropped.Add(1) // no driver: the frame has nowhere to go
				d.pending = nil
				break
			}
			if d.deliver() {
				break
			}
			d.wake.Wait() // wait for receive buffers
		}
		closed := d.closed
		d.mu.Unlock()
		if closed {
			return
		}
	}
}

// deliver puts the pending frame into the next receive buffer; it reports
// false when the driver has none available yet.
func (d *Device) deliver() bool {
	c, err := d.rx.Pop()
	if err != nil {
		d.fail(err)
		d.pending = nil
		return true
	}
	if c == nil {
		return false
	}
	hdr := make([]byte, d.hdrLen)
	if d.hdrLen == 12 {
		binary.LittleEndian.PutUint16(hdr[10:], 1) // num_buffers
	}
	written := uint32(0)
	if c.WritableLen() < d.hdrLen+len(d.pending) {
		d.rxDropped.Add(1) // buffer too small for the frame
	} else {
		c.Scatter(hdr, 0)
		c.Scatter(d.pending, d.hdrLen)
		written = uint32(d.hdrLen + len(d.pending))
		d.rxPackets.Add(1)
		d.rxBytes.Add(uint64(len(d.pending)))
	}
	d.pending = nil
	if err := d.rx.Push(c.Head, written); err != nil {
		d.fail(err)
		return true
	}
	if d.rx.WantsInterrupt() {
		d.irq.Signal(virtio.InterruptUsedBuffer)
	}
	return true
}

// Freeze holds received frames outside guest memory until Thaw, so a
// paused machine's memory and queues do not change (snapshots).
func (d *Device) Freeze() {
	d.mu.Lock()
	d.frozen = true
	d.mu.Unlock()
}

// Thaw resumes delivery after Freeze.
func (d *Device) Thaw() {
	d.mu.Lock()
	d.frozen = false
	d.wake.Broadcast()
	d.mu.Unlock()
}

// Close stops receiving and detaches from the link.
func (d *Device) Close() error {
	d.mu.Lock()
	d.closed = true
	d.wake.Broadcast()
	d.mu.Unlock()
	var err error
	if d.link != nil {
		err = d.link.Close()
	}
	<-d.done
	return err
}

// Stats returns the adapter's counters.
func (d *Device) Stats() Stats {
	return Stats{
		RxBytes: d.rxBytes.Load(), TxBytes: d.txBytes.Load(),
		RxPackets: d.rxPackets.Load(), TxPackets: d.txPackets.Load(),
		RxDropped: d.rxDropped.Load(), TxDropped: d.txDropped.Load(),
	}
}
