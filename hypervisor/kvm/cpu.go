package kvm

import (
	"encoding/binary"
	"fmt"

	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
)

// CPUID leaves and bits the VMM adjusts.
const (
	cpuidFeatures    = 0x1
	cpuidExtFeatures = 0x7
	cpuidPerfMon     = 0xa
	cpuidTopology    = 0xb
	cpuidTopologyV2  = 0x1f

	leaf1ECXHypervisor = 1 << 31
	leaf1EDXHTT        = 1 << 28
	leaf7EDXFSRM       = 1 << 4
)

// vcpuCPUID derives vCPU id's CPUID from what KVM supports: its APIC ID
// and the processor count, the hypervisor bit, no performance counters
// (PMU virtualization is absent on nested and PVM hosts), and no FSRM,
// which makes KVM's instruction emulator exit on some hosts.
func vcpuCPUID(supported []kvmCPUIDEntry2, id, count int) *kvmCPUID2 {
	c := &kvmCPUID2{NEnt: uint32(len(supported))}
	copy(c.Entries[:], supported)
	for i := range c.Entries[:c.NEnt] {
		e := &c.Entries[i]
		switch e.Function {
		case cpuidFeatures:
			e.EBX = e.EBX&0x0000ffff | uint32(id)<<24 | uint32(min(count, 255))<<16
			e.ECX |= leaf1ECXHypervisor
			if count > 1 {
				e.EDX |= leaf1EDXHTT
			} else {
				e.EDX &^= leaf1EDXHTT
			}
		case cpuidExtFeatures:
			if e.Index == 0 {
				e.EDX &^= leaf7EDXFSRM
			}
		case cpuidPerfMon:
			e.EAX, e.EBX, e.ECX, e.EDX = 0, 0, 0, 0
		case cpuidTopology, cpuidTopologyV2:
			e.EDX = uint32(id)
		}
	}
	return c
}

// LAPIC register offsets for the local interrupt pins.
const (
	apicLVT0     = 0x350
	apicLVT1     = 0x360
	apicModeMask = 0x700
	apicExtINT   = 0x700
	apicNMI      = 0x400
)

// setLINT wires LINT0 to the 8259 (ExtINT) and LINT1 to NMI, the virtual
// wire mode the MP table announces and firmware would leave behind.
func setLINT(fd int) error {
	var st kvmLAPICState
	if err := ioctlPtr(fd, kvmGetLAPIC, &st); err != nil {
		return fmt.Errorf("KVM_GET_LAPIC: %w", err)
	}
	le := binary.LittleEndian
	lvt0 := le.Uint32(st.Regs[apicLVT0:])
	le.PutUint32(st.Regs[apicLVT0:], lvt0&^apicModeMask|apicExtINT)
	lvt1 := le.Uint32(st.Regs[apicLVT1:])
	le.PutUint32(st.Regs[apicLVT1:], lvt1&^apicModeMask|apicNMI)
	if err := ioctlPtr(fd, kvmSetLAPIC, &st); err != nil {
		return fmt.Errorf("KVM_SET_LAPIC: %w", err)
	}
	return nil
}

func segment(s boot.Segment) kvmSegment {
	return kvmSegment{Base: s.Base, Limit: s.Limit, Selector: s.Selector, Type: s.Type, Present: s.Present,
		DPL: s.DPL, DB: s.DB, S: s.S, L: s.L, G: s.G}
}

// setBootState loads the boot vCPU's registers from the boot layout.
func setBootState(fd int, st *boot.CPUState) error {
	var sregs kvmSregs
	if err := ioctlPtr(fd, kvmGetSregs, &sregs); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	cs, ds := segment(st.CS), segment(st.DS)
	sregs.CS, sregs.DS, sregs.ES, sregs.FS, sregs.GS, sregs.SS = cs, ds, ds, ds, ds, ds
	sregs.TR = segment(st.TR)
	sregs.GDT = kvmDTable{Base: st.GDTBase, Limit: st.GDTLimit}
	sregs.IDT = kvmDTable{}
	sregs.CR0, sregs.CR3, sregs.CR4, sregs.EFER = st.CR0, st.CR3, st.CR4, st.EFER
	if err := ioctlPtr(fd, kvmSetSregs, &sregs); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	regs := kvmRegs{RIP: st.RIP, RSP: st.RSP, RBP: st.RSP, RSI: st.RSI, RBX: st.RBX, RFLAGS: st.RFLAGS}
	if err := ioctlPtr(fd, kvmSetRegs, &regs); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	fpu := kvmFPU{FCW: 0x37f, MXCSR: 0x1f80}
	if err := ioctlPtr(fd, kvmSetFPU, &fpu); err != nil {
		return fmt.Errorf("KVM_SET_FPU: %w", err)
	}
	return nil
}
