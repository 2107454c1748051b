package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hostMapping is one anonymous mapping of guest RAM.
type hostMapping struct {
	gpa  uint64
	data []byte
	// base and length are the whole mapping, including alignment slack
	// trimmed from data.
	base   unsafe.Pointer
	length uintptr
}

// mapAnonymous maps size bytes aligned to hugePage. It over-allocates by
// one huge page and uses the aligned part; MAP_NORESERVE keeps large
// guests from being refused by overcommit accounting.
func mapAnonymous(size uint64) (hostMapping, error) {
	length := uintptr(size) + hugePage
	p, err := unix.MmapPtr(-1, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return hostMapping{}, err
	}
	slack := (hugePage - uintptr(p)%hugePage) % hugePage
	data := unsafe.Slice((*byte)(unsafe.Add(p, slack)), size)
	madviseHuge(data)
	return hostMapping{data: data, base: p, length: length}, nil
}

func (m hostMapping) addr() uintptr { return uintptr(unsafe.Pointer(&m.data[0])) }

func (m hostMapping) unmap() {
	unix.MunmapPtr(m.base, m.length) //nolint:errcheck // only fails for bad arguments
}

// span returns the host address range of the whole mapping.
func (m hostMapping) span() (lo, hi uintptr) {
	return uintptr(m.base), uintptr(m.base) + m.length
}
