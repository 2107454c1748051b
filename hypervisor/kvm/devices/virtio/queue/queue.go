package queue

import (
	"errors"
	"fmt"

	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Errors a malformed queue produces; each is wrapped with the offending
// value.
var (
	ErrQueueConfig  = errors.New("invalid virtqueue configuration")
	ErrAvailIndex   = errors.New("available ring index moved by more than the queue size")
	ErrDescIndex    = errors.New("descriptor index out of bounds")
	ErrChainTooLong = errors.New("descriptor chain longer than the queue (a loop?)")
	ErrIndirect     = errors.New("invalid indirect descriptor")
	ErrDescBuffer   = errors.New("descriptor buffer outside guest RAM")
	ErrDescOrder    = errors.New("device-readable descriptor after a device-writable one")
)

// Descriptor flags (virtio 1.2 §2.7.5).
const (
	descFNext     = 1
	descFWrite    = 2
	descFIndirect = 4

	availFNoInterrupt = 1

	descSize = 16
	// MaxSize is the largest queue size (virtio 1.2 §2.7: 32768).
	MaxSize = 32768
	// maxIndirect bounds an indirect table; like QEMU, longer tables are
	// refused rather than walked.
	maxIndirect = 1024
)

// Queue is one split virtqueue. It is not safe for concurrent use: the
// owning device serializes access.
type Queue struct {
	// MaxSize is the largest size the device supports; the driver picks
	// Size no larger.
	MaxSize uint16
	State

	mem *guestmem.Memory
}

// State is what the driver configured and how far the device got: the
// queue's snapshot state.
type State struct {
	Size      uint16
	Ready     bool
	DescAddr  uint64
	AvailAddr uint64
	UsedAddr  uint64
	NextAvail uint16
	NextUsed  uint16
}

// New returns a queue supporting up to maxSize entries, with the driver's
// default size set to maxSize.
func New(maxSize uint16) *Queue {
	return &Queue{MaxSize: maxSize, State: State{Size: maxSize}}
}

// Reset returns the queue to its state before the driver configured it.
func (q *Queue) Reset() {
	q.State = State{Size: q.MaxSize}
	q.mem = nil
}

// Activate validates the driver's configuration against guest memory and
// readies the queue for Pop and Push (virtio 1.2 §2.7 size and alignment
// rules: the size is a power of 2, descriptors are 16-byte aligned, the
// available ring 2-byte and the used ring 4-byte aligned).
func (q *Queue) Activate(mem *guestmem.Memory) error {
	size := uint64(q.Size)
	switch {
	case q.Size == 0 || q.Size&(q.Size-1) != 0 || q.Size > q.MaxSize:
		return fmt.Errorf("%w: size %d (must be a power of 2 up to %d)", ErrQueueConfig, q.Size, q.MaxSize)
	case q.DescAddr%16 != 0:
		return fmt.Errorf("%w: descriptor table %#x is not 16-byte aligned", ErrQueueConfig, q.DescAddr)
	case q.AvailAddr%2 != 0:
		return fmt.Errorf("%w: available ring %#x is not 2-byte aligned", ErrQueueConfig, q.AvailAddr)
	case q.UsedAddr%4 != 0:
		return fmt.Errorf("%w: used ring %#x is not 4-byte aligned", ErrQueueConfig, q.UsedAddr)
	}
	for _, r := range []struct {
		what       string
		addr, size uint64
	}{
		{"descriptor table", q.DescAddr, descSize * size},
		{"available ring", q.AvailAddr, 6 + 2*size},
		{"used ring", q.UsedAddr, 6 + 8*size},
	} {
		if _, err := mem.Slice(r.addr, r.size); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrQueueConfig, r.what, err)
		}
	}
	q.mem = mem
	return nil
}

// Active reports whether Activate succeeded since the last Reset.
func (q *Queue) Active() bool { return q.mem != nil }

// Chain is one request: the descriptor chain starting at Head, resolved to
// slices of guest memory, device-readable buffers first.
type Chain struct {
	Head     uint16
	Readable [][]byte
	Writable [][]byte
}

// ReadableLen is the total size of the device-readable buffers.
func (c *Chain) ReadableLen() int {
	n := 0
	for _, b := range c.Readable {
		n += len(b)
	}
	return n
}

// WritableLen is the total size of the device-writable buffers.
func (c *Chain) WritableLen() int {
	n := 0
	for _, b := range c.Writable {
		n += len(b)
	}
	return n
}

// Pop returns the next available chain, or nil when the driver has made
// none available. An error means the driver corrupted the queue; the device
// must stop using it (and should set DEVICE_NEEDS_RESET).
func (q *Queue) Pop() (*Chain, error) {
	if q.mem == nil {
		return nil, nil
	}
	availIdx, err := q.mem.LoadUint16(q.AvailAddr + 2)
	if err != nil {
		return nil, err
	}
	pending := availIdx - q.NextAvail
	if pending == 0 {
		return nil, nil
	}
	if pending > q.Size {
		return nil, fmt.Errorf("%w: %d entries pending (index %d, device at %d), queue size %d",
			ErrAvailIndex, pending, availIdx, q.NextAvail, q.Size)
	}
	head, err := q.mem.Uint16(q.AvailAddr + 4 + 2*uint64(q.NextAvail%q.Size))
	if err != nil {
		return nil, err
	}
	c, err := q.walk(head)
	if err != nil {
		return nil, err
	}
	q.NextAvail++
	return c, nil
}

// walk resolves the chain starting at head, following one level of
// indirection.
func (q *Queue) walk(head uint16) (*Chain, error) {
	c := &Chain{Head: head}
	table, count := q.DescAddr, uint32(q.Size)
	idx := uint32(head)
	indirect := false
	// virtio 1.2 §2.7.5.2: the queue size bounds the length of a chain;
	// a longer walk means the driver linked the chain into a loop.
	steps := uint32(0)
	for {
		if idx >= count {
			return nil, fmt.Errorf("%w: %d (table of %d, chain head %d)", ErrDescIndex, idx, count, head)
		}
		if steps == count {
			return nil, fmt.Errorf("%w: more than %d descriptors from head %d", ErrChainTooLong, count, head)
		}
		steps++
		d, err := q.mem.Slice(table+uint64(idx)*descSize, descSize)
		if err != nil {
			return nil, err
		}
		addr := le64(d[0:])
		length := le32(d[8:])
		flags := le16(d[12:])
		next := le16(d[14:])
		if flags&descFIndirect != 0 {
			// virtio 1.2 §2.7.5.3.1: "The driver MUST NOT set the
			// VIRTQ_DESC_F_INDIRECT flag within an indirect descriptor"
			// and "MUST NOT set both VIRTQ_DESC_F_INDIRECT and
			// VIRTQ_DESC_F_NEXT".
			switch {
			case indirect:
				return nil, fmt.Errorf("%w: nested indirect table at descriptor %d", ErrIndirect, idx)
			case flags&descFNext != 0:
				return nil, fmt.Errorf("%w: descriptor %d has both INDIRECT and NEXT", ErrIndirect, idx)
			case length == 0 || length%descSize != 0 || length/descSize > maxIndirect:
				return nil, fmt.Errorf("%w: table length %d (must be a non-zero multiple of 16, at most %d entries)", ErrIndirect, length, maxIndirect)
			case addr%descSize != 0:
				return nil, fmt.Errorf("%w: table address %#x is not 16-byte aligned", ErrIndirect, addr)
			}
			if _, err := q.mem.Slice(addr, uint64(length)); err != nil {
				return nil, fmt.Errorf("%w: table %w", ErrIndirect, err)
			}
			if len(c.Readable)+len(c.Writable) > 0 {
				return nil, fmt.Errorf("%w: indirect descriptor %d follows direct ones", ErrIndirect, idx)
			}
			table, count, idx, indirect, steps = addr, length/descSize, 0, true, 0
			continue
		}
		buf, err := q.mem.Slice(addr, uint64(length))
		if err != nil {
			return nil, fmt.Errorf("%w: descriptor %d: %w", ErrDescBuffer, idx, err)
		}
		if flags&descFWrite != 0 {
			c.Writable = append(c.Writable, buf)
		} else {
			// virtio 1.2 §2.7.4.2: "The driver MUST place any
			// device-writable descriptor elements after any
			// device-readable descriptor elements."
			if len(c.Writable) > 0 {
				return nil, fmt.Errorf("%w: descriptor %d", ErrDescOrder, idx)
			}
			c.Readable = append(c.Readable, buf)
		}
		if flags&descFNext == 0 {
			return c, nil
		}
		idx = uint32(next)
	}
}

// Push returns chain head to the driver with written bytes in its
// device-writable buffers.
func (q *Queue) Push(head uint16, written uint32) error {
	if q.mem == nil {
		return fmt.Errorf("%w: queue is not active", ErrQueueConfig)
	}
	slot := q.UsedAddr + 4 + 8*uint64(q.NextUsed%q.Size)
	if err := q.mem.PutUint32(slot, uint32(head)); err != nil {
		return err
	}
	if err := q.mem.PutUint32(slot+4, written); err != nil {
		return err
	}
	q.NextUsed++
	return q.mem.StoreUint16(q.UsedAddr+2, q.NextUsed)
}

// WantsInterrupt reports whether the driver asked to be interrupted for
// used buffers (it did not set VIRTQ_AVAIL_F_NO_INTERRUPT).
func (q *Queue) WantsInterrupt() bool {
	if q.mem == nil {
		return false
	}
	flags, err := q.mem.LoadUint16(q.AvailAddr)
	return err != nil || flags&availFNoInterrupt == 0
}

// SetState restores a snapshot's queue state; Activate must follow for a
// ready queue.
func (q *Queue) SetState(st State) {
	q.State = st
	q.mem = nil
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 { return uint32(le16(b)) | uint32(le16(b[2:]))<<16 }
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }
