// Package virtqtest plays the driver side of a split virtqueue in tests:
// it lays out rings in guest memory, publishes descriptor chains and reads
// the used ring, so device code is exercised on real ring memory.
package virtqtest

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/queue"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Descriptor flags.
const (
	Next     = 1
	Write    = 2
	Indirect = 4
)

// Layout places a queue of size entries at base: descriptors, then the
// available ring, then the used ring on the next 4 KiB boundary.
type Layout struct {
	Size                          uint16
	DescAddr, AvailAddr, UsedAddr uint64
}

// NewLayout computes the legacy layout at base.
func NewLayout(base uint64, size uint16) Layout {
	l := Layout{Size: size, DescAddr: base}
	l.AvailAddr = base + 16*uint64(size)
	l.UsedAddr = (l.AvailAddr + 6 + 2*uint64(size) + 4095) &^ 4095
	return l
}

// End is the first address after the rings.
func (l Layout) End() uint64 { return l.UsedAddr + 6 + 8*uint64(l.Size) }

// Driver fills a queue's rings.
type Driver struct {
	Mem *guestmem.Memory
	L   Layout
	// Data is where Buffer allocates request buffers.
	Data     uint64
	nextDesc uint16
	lastUsed uint16
}

// Memory returns guest memory of size bytes at address 0.
func Memory(size int) *guestmem.Memory {
	m, err := guestmem.New(guestmem.Region{GPA: 0, Data: make([]byte, size)})
	if err != nil {
		panic(err)
	}
	return m
}

// New returns a driver with rings at base and buffers from data on.
func New(mem *guestmem.Memory, base uint64, size uint16, data uint64) *Driver {
	return &Driver{Mem: mem, L: NewLayout(base, size), Data: data}
}

// Configure copies the layout into a device queue and activates it.
func (d *Driver) Configure(q *queue.Queue) error {
	q.Size, q.DescAddr, q.AvailAddr, q.UsedAddr, q.Ready = d.L.Size, d.L.DescAddr, d.L.AvailAddr, d.L.UsedAddr, true
	return q.Activate(d.Mem)
}

// Buffer allocates n bytes (8-byte aligned) filled with content.
func (d *Driver) Buffer(n int, content []byte) uint64 {
	addr := d.Data
	d.Data += (uint64(n) + 7) &^ 7
	b, err := d.Mem.Slice(addr, uint64(n))
	if err != nil {
		panic(fmt.Sprintf("test buffer beyond memory: %v", err))
	}
	copy(b, content)
	return addr
}

// Desc writes descriptor i.
func (d *Driver) Desc(i uint16, addr uint64, length uint32, flags, next uint16) {
	b, _ := d.Mem.Slice(d.L.DescAddr+16*uint64(i), 16)
	binary.LittleEndian.PutUint64(b[0:], addr)
	binary.LittleEndian.PutUint32(b[8:], length)
	binary.LittleEndian.PutUint16(b[12:], flags)
	binary.LittleEndian.PutUint16(b[14:], next)
}

// Seg is one buffer of a chain.
type Seg struct {
	Addr  uint64
	Len   uint32
	Write bool
}

// Chain writes segs as linked descriptors, makes the chain available and
// returns its head.
func (d *Driver) Chain(segs ...Seg) uint16 {
	head := d.nextDesc
	for i, s := range segs {
		idx := (head + uint16(i)) % d.L.Size
		var flags uint16
		if s.Write {
			flags |= Write
		}
		next := (idx + 1) % d.L.Size
		if i < len(segs)-1 {
			flags |= Next
		} else {
			next = 0
		}
		d.Desc(idx, s.Addr, s.Len, flags, next)
	}
	d.nextDesc = (head + uint16(len(segs))) % d.L.Size
	d.Publish(head)
	return head
}

// Publish puts head in the available ring and bumps its index.
func (d *Driver) Publish(head uint16) {
	idx, _ := d.Mem.Uint16(d.L.AvailAddr + 2)
	d.Mem.PutUint16(d.L.AvailAddr+4+2*uint64(idx%d.L.Size), head)
	d.Mem.PutUint16(d.L.AvailAddr+2, idx+1)
}

// SetAvailIdx forces the available index (to corrupt the queue).
func (d *Driver) SetAvailIdx(v uint16) { d.Mem.PutUint16(d.L.AvailAddr+2, v) }

// NoInterrupt sets or clears VIRTQ_AVAIL_F_NO_INTERRUPT.
func (d *Driver) NoInterrupt(on bool) {
	var v uint16
	if on {
		v = 1
	}
	d.Mem.PutUint16(d.L.AvailAddr, v)
}

// Used returns the used elements published since the last call.
func (d *Driver) Used() (heads []uint16, lens []uint32) {
	idx, _ := d.Mem.Uint16(d.L.UsedAddr + 2)
	for ; d.lastUsed != idx; d.lastUsed++ {
		at := d.L.UsedAddr + 4 + 8*uint64(d.lastUsed%d.L.Size)
		id, _ := d.Mem.Uint32(at)
		n, _ := d.Mem.Uint32(at + 4)
		heads, lens = append(heads, uint16(id)), append(lens, n)
	}
	return heads, lens
}

// Bytes returns n bytes at addr.
func (d *Driver) Bytes(addr uint64, n int) []byte {
	b, err := d.Mem.Slice(addr, uint64(n))
	if err != nil {
		panic(err)
	}
	return append([]byte(nil), b...)
}

// Interrupt records what a device signalled (it implements
// virtio.Interrupt). It is safe for devices signalling from their own
// goroutines; Wait gives the test a happens-before edge with the device's
// ring writes.
type Interrupt struct {
	mu        sync.Mutex
	Signals   int
	Bits      uint32
	ResetErrs []error
	ch        chan struct{}
}

// Signal implements virtio.Interrupt.
func (i *Interrupt) Signal(bits uint32) {
	i.mu.Lock()
	i.Signals++
	i.Bits |= bits
	ch := i.chLocked()
	i.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// NeedsReset implements virtio.Interrupt.
func (i *Interrupt) NeedsReset(err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.ResetErrs = append(i.ResetErrs, err)
}

func (i *Interrupt) chLocked() chan struct{} {
	if i.ch == nil {
		i.ch = make(chan struct{}, 1)
	}
	return i.ch
}

// Count returns how many times the device signalled.
func (i *Interrupt) Count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.Signals
}

// Wait blocks until the next Signal or the timeout; it reports whether a
// signal came.
func (i *Interrupt) Wait(timeout time.Duration) bool {
	i.mu.Lock()
	ch := i.chLocked()
	i.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-time.After(timeout):
		return false
	}
}
