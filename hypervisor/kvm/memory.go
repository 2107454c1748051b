package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// hugePage is the alignment of guest RAM mappings: with 2 MiB alignment in
// both address spaces the host can back guest RAM with transparent huge
// pages, which matters most under shadow paging (nested or PVM hosts).
const hugePage = 2 << 20

// guestRAM is a machine's RAM: anonymous host mappings registered with KVM
// as memory slots, and the guestmem view devices use.
type guestRAM struct {
	maps []hostMapping
	mem  *guestmem.Memory
}

// allocRAM maps size bytes split around the MMIO hole. The memory is
// lazily allocated and zero-filled by the host kernel.
func allocRAM(size uint64) (*guestRAM, error) {
	low, high := boot.SplitRAM(size)
	r := &guestRAM{}
	var regions []guestmem.Region
	for _, part := range []struct{ gpa, size uint64 }{{0, low}, {boot.MMIOHoleEnd, high}} {
		if part.size == 0 {
			continue
		}
		m, err := mapAnonymous(part.size)
		if err != nil {
			r.free()
			return nil, fmt.Errorf("allocating %d MiB of guest RAM: %w", part.size>>20, err)
		}
		m.gpa = part.gpa
		r.maps = append(r.maps, m)
		regions = append(regions, guestmem.Region{GPA: part.gpa, Data: m.data})
	}
	mem, err := guestmem.New(regions...)
	if err != nil {
		r.free()
		return nil, err
	}
	r.mem = mem
	return r, nil
}

// register makes the mappings KVM memory slots of vmFD.
func (r *guestRAM) register(vmFD int) error {
	for i, m := range r.maps {
		region := &kvmUserspaceMemoryRegion{
			Slot:          uint32(i),
			GuestPhysAddr: m.gpa,
			MemorySize:    uint64(len(m.data)),
			UserspaceAddr: uint64(m.addr()),
		}
		if err := ioctlPtr(vmFD, kvmSetUserMemoryRegion, region); err != nil {
			// Whether mapping a huge RAM fails (ENOMEM) or KVM refuses the
			// slot (EINVAL past its per-slot limit) depends on the host's
			// address space: say what failed either way.
			return fmt.Errorf("registering %d MiB of guest RAM at %#x with KVM (KVM_SET_USER_MEMORY_REGION, slot %d): %w", len(m.data)>>20, m.gpa, i, err)
		}
	}
	return nil
}

// free unmaps the RAM; the VM using it must be closed first.
func (r *guestRAM) free() {
	for _, m := range r.maps {
		m.unmap()
	}
	r.maps = nil
}

// spans returns the host address ranges of the RAM mappings.
func (r *guestRAM) spans() [][2]uintptr {
	var out [][2]uintptr
	for _, m := range r.maps {
		lo, hi := m.span()
		out = append(out, [2]uintptr{lo, hi})
	}
	return out
}

// madviseHuge asks for transparent huge pages; failure only costs speed.
func madviseHuge(b []byte) { unix.Madvise(b, unix.MADV_HUGEPAGE) } //nolint:errcheck
