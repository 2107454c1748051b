package guestmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// ErrOutOfRange reports an access that is not inside one region of guest RAM.
var ErrOutOfRange = errors.New("guest-physical address range is not RAM")

// Region is one contiguous range of guest RAM and the host memory backing it.
type Region struct {
	// GPA is the guest-physical address of Data[0].
	GPA  uint64
	Data []byte
}

// End is the first guest-physical address after the region.
func (r Region) End() uint64 { return r.GPA + uint64(len(r.Data)) }

// Memory is a guest's RAM. It is immutable after New and safe for
// concurrent use; the bytes themselves are shared with running vCPUs.
type Memory struct {
	regions []Region // sorted by GPA, non-overlapping
	size    uint64
}

// New returns a Memory over regions, which must not overlap.
func New(regions ...Region) (*Memory, error) {
	rs := append([]Region(nil), regions...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].GPA < rs[j].GPA })
	m := &Memory{regions: rs}
	for i, r := range rs {
		if r.End() < r.GPA {
			return nil, fmt.Errorf("guest memory region at %#x wraps around", r.GPA)
		}
		if i > 0 && rs[i-1].End() > r.GPA {
			return nil, fmt.Errorf("guest memory regions at %#x and %#x overlap", rs[i-1].GPA, r.GPA)
		}
		m.size += uint64(len(r.Data))
	}
	return m, nil
}

// Regions returns the RAM regions in address order.
func (m *Memory) Regions() []Region { return append([]Region(nil), m.regions...) }

// Size is the total RAM in bytes.
func (m *Memory) Size() uint64 { return m.size }

// Slice returns the n bytes at gpa, aliasing guest memory, when they lie
// inside one region.
func (m *Memory) Slice(gpa, n uint64) ([]byte, error) {
	i := sort.Search(len(m.regions), func(i int) bool { return m.regions[i].End() > gpa })
	if i < len(m.regions) {
		r := m.regions[i]
		if gpa >= r.GPA {
			off := gpa - r.GPA
			if n <= uint64(len(r.Data))-off {
				return r.Data[off : off+n : off+n], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %#x+%#x", ErrOutOfRange, gpa, n)
}

// Read copies len(p) bytes at gpa into p.
func (m *Memory) Read(gpa uint64, p []byte) error {
	b, err := m.Slice(gpa, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(p, b)
	return nil
}

// Write copies p into guest memory at gpa.
func (m *Memory) Write(gpa uint64, p []byte) error {
	b, err := m.Slice(gpa, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(b, p)
	return nil
}

// Uint16 reads a little-endian 16-bit value.
func (m *Memory) Uint16(gpa uint64) (uint16, error) {
	b, err := m.Slice(gpa, 2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

// Uint32 reads a little-endian 32-bit value.
func (m *Memory) Uint32(gpa uint64) (uint32, error) {
	b, err := m.Slice(gpa, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// Uint64 reads a little-endian 64-bit value.
func (m *Memory) Uint64(gpa uint64) (uint64, error) {
	b, err := m.Slice(gpa, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// PutUint16 writes a little-endian 16-bit value.
func (m *Memory) PutUint16(gpa uint64, v uint16) error {
	b, err := m.Slice(gpa, 2)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint16(b, v)
	return nil
}

// PutUint32 writes a little-endian 32-bit value.
func (m *Memory) PutUint32(gpa uint64, v uint32) error {
	b, err := m.Slice(gpa, 4)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b, v)
	return nil
}

// PutUint64 writes a little-endian 64-bit value.
func (m *Memory) PutUint64(gpa uint64, v uint64) error {
	b, err := m.Slice(gpa, 8)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(b, v)
	return nil
}

// LoadUint16 reads a 16-bit value the guest may be updating concurrently
// (a virtqueue index): the load is not cached or reordered by the compiler.
func (m *Memory) LoadUint16(gpa uint64) (uint16, error) {
	b, err := m.Slice(gpa, 2)
	if err != nil {
		return 0, err
	}
	return loadUint16(b), nil
}

// StoreUint16 publishes a 16-bit value to the guest after every store that
// precedes it in program order (x86 keeps stores in order; the compiler is
// kept from moving this one).
func (m *Memory) StoreUint16(gpa uint64, v uint16) error {
	b, err := m.Slice(gpa, 2)
	if err != nil {
		return err
	}
	storeUint16(b, v)
	return nil
}
