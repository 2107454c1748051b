package devices

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Device answers guest accesses to the address range it is inserted at.
// Offsets are relative to the start of that range; data holds 1, 2, 4 or 8
// bytes, little-endian. Read fills data. Both may run on several vCPU
// threads at once, so devices lock their own state.
type Device interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// ErrOverlap is returned when a device is inserted over another.
var ErrOverlap = errors.New("address range overlaps another device")

// Bus routes accesses in one address space (port I/O or MMIO) to devices.
// Devices can be inserted and removed while vCPUs run (hot-plug).
type Bus struct {
	mu     sync.RWMutex
	ranges []busRange // sorted by base, non-overlapping
}

type busRange struct {
	base, size uint64
	dev        Device
}

// Insert routes [base, base+size) to dev.
func (b *Bus) Insert(base, size uint64, dev Device) error {
	if size == 0 || base+size < base {
		return fmt.Errorf("device range %#x+%#x is empty or wraps", base, size)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	i := sort.Search(len(b.ranges), func(i int) bool { return b.ranges[i].base >= base })
	if i > 0 && b.ranges[i-1].base+b.ranges[i-1].size > base {
		return fmt.Errorf("%w: %#x+%#x", ErrOverlap, base, size)
	}
	if i < len(b.ranges) && base+size > b.ranges[i].base {
		return fmt.Errorf("%w: %#x+%#x", ErrOverlap, base, size)
	}
	b.ranges = append(b.ranges, busRange{})
	copy(b.ranges[i+1:], b.ranges[i:])
	b.ranges[i] = busRange{base: base, size: size, dev: dev}
	return nil
}

// Remove drops the device inserted at base and reports whether one was.
func (b *Bus) Remove(base uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, r := range b.ranges {
		if r.base == base {
			b.ranges = append(b.ranges[:i], b.ranges[i+1:]...)
			return true
		}
	}
	return false
}

// Lookup finds the device covering addr and the offset into its range.
func (b *Bus) Lookup(addr uint64) (Device, uint64, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	i := sort.Search(len(b.ranges), func(i int) bool { return b.ranges[i].base+b.ranges[i].size > addr })
	if i == len(b.ranges) || addr < b.ranges[i].base {
		return nil, 0, false
	}
	return b.ranges[i].dev, addr - b.ranges[i].base, true
}

// Read dispatches a guest read; it reports false when no device covers addr.
func (b *Bus) Read(addr uint64, data []byte) bool {
	dev, off, ok := b.Lookup(addr)
	if ok {
		dev.Read(off, data)
	}
	return ok
}

// Write dispatches a guest write; it reports false when no device covers addr.
func (b *Bus) Write(addr uint64, data []byte) bool {
	dev, off, ok := b.Lookup(addr)
	if ok {
		dev.Write(off, data)
	}
	return ok
}
