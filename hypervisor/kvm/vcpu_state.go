package kvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// vcpuState is one vCPU's saved architectural state. Each byte field holds
// a kernel structure as its Go mirror encodes it with encoding/binary
// (little-endian, padding zeroed), so the snapshot file format is the
// kernel ABI and nothing else.
type vcpuState struct {
	MPState   uint32
	Regs      []byte // kvm_regs
	Sregs     []byte // kvm_sregs
	FPU       []byte // kvm_fpu
	XSave     []byte // kvm_xsave (KVM_GET_XSAVE2 size when larger)
	XCRs      []byte // kvm_xcrs
	LAPIC     []byte // kvm_lapic_state
	Events    []byte // kvm_vcpu_events
	DebugRegs []byte // kvm_debugregs
	MSRs      []msrValue
}

// msrValue is one saved model-specific register.
type msrValue struct {
	Index uint32
	Data  uint64
}

func encode(v any) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, v) //nolint:errcheck // fixed-size mirrors always encode
	return b.Bytes()
}

func decode(b []byte, v any) error {
	if len(b) != binary.Size(v) {
		return fmt.Errorf("saved structure is %d bytes, want %d", len(b), binary.Size(v))
	}
	return binary.Read(bytes.NewReader(b), binary.LittleEndian, v)
}

// getPair runs a KVM_GET_* ioctl into a fresh T and encodes it.
func getPair[T any](fd int, req uintptr, name string) ([]byte, error) {
	v := new(T)
	if err := ioctlPtr(fd, req, v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return encode(v), nil
}

// setPair decodes b into a T and runs the KVM_SET_* ioctl with it.
func setPair[T any](fd int, req uintptr, name string, b []byte) error {
	v := new(T)
	if err := decode(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := ioctlPtr(fd, req, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// saveState reads the vCPU's state; it runs on the vCPU thread while the
// VM is paused.
func (c *vcpu) saveState() (*vcpuState, error) {
	st := &vcpuState{}
	var mp kvmMPState
	if err := ioctlPtr(c.fd, kvmGetMPState, &mp); err != nil {
		return nil, fmt.Errorf("KVM_GET_MP_STATE: %w", err)
	}
	st.MPState = mp.MPState
	var err error
	for _, g := range []struct {
		dst *[]byte
		get func() ([]byte, error)
	}{
		{&st.Regs, func() ([]byte, error) { return getPair[kvmRegs](c.fd, kvmGetRegs, "KVM_GET_REGS") }},
		{&st.Sregs, func() ([]byte, error) { return getPair[kvmSregs](c.fd, kvmGetSregs, "KVM_GET_SREGS") }},
		{&st.FPU, func() ([]byte, error) { return getPair[kvmFPU](c.fd, kvmGetFPU, "KVM_GET_FPU") }},
		{&st.XSave, c.saveXSave},
		{&st.XCRs, func() ([]byte, error) { return getPair[kvmXCRs](c.fd, kvmGetXCRs, "KVM_GET_XCRS") }},
		{&st.LAPIC, func() ([]byte, error) { return getPair[kvmLAPICState](c.fd, kvmGetLAPIC, "KVM_GET_LAPIC") }},
		{&st.Events, func() ([]byte, error) { return getPair[kvmVCPUEvents](c.fd, kvmGetVCPUEvents, "KVM_GET_VCPU_EVENTS") }},
		{&st.DebugRegs, func() ([]byte, error) { return getPair[kvmDebugRegs](c.fd, kvmGetDebugRegs, "KVM_GET_DEBUGREGS") }},
	} {
		if *g.dst, err = g.get(); err != nil {
			return nil, err
		}
	}
	if st.MSRs, err = c.saveMSRs(); err != nil {
		return nil, err
	}
	return st, nil
}

func (c *vcpu) saveXSave() ([]byte, error) {
	if size := c.vm.sys.check(capXSave2); size > 4096 {
		b := make([]byte, size)
		if err := ioctlBytes(c.fd, kvmGetXSave2, b); err != nil {
			return nil, fmt.Errorf("KVM_GET_XSAVE2: %w", err)
		}
		return b, nil
	}
	return getPair[kvmXSave](c.fd, kvmGetXSave, "KVM_GET_XSAVE")
}

// saveMSRs reads every MSR KVM lists for saving. KVM_GET_MSRS stops at the
// first register it cannot read; such a register is skipped, as it cannot
// be restored either.
func (c *vcpu) saveMSRs() ([]msrValue, error) {
	var out []msrValue
	idx := c.vm.sys.msrs
	for len(idx) > 0 {
		req := &kvmMSRs{NMSRs: uint32(min(len(idx), maxMSRs))}
		for i := range req.NMSRs {
			req.Entries[i].Index = idx[i]
		}
		n, err := ioctlPtrRet(c.fd, kvmGetMSRs, req)
		if err != nil {
			return nil, fmt.Errorf("KVM_GET_MSRS: %w", err)
		}
		for i := 0; i < n; i++ {
			out = append(out, msrValue{Index: req.Entries[i].Index, Data: req.Entries[i].Data})
		}
		idx = idx[min(n+1, len(idx)):] // skip the register that failed
	}
	return out, nil
}

// restoreState loads a saved state into the vCPU, in the order KVM needs:
// the mode before registers, registers before the LAPIC, MSRs (the TSC
// among them) and pending events last.
func (c *vcpu) restoreState(st *vcpuState) error {
	if err := ioctlPtr(c.fd, kvmSetMPState, &kvmMPState{MPState: st.MPState}); err != nil {
		return fmt.Errorf("KVM_SET_MP_STATE: %w", err)
	}
	steps := []func() error{
		func() error { return setPair[kvmRegs](c.fd, kvmSetRegs, "KVM_SET_REGS", st.Regs) },
		func() error { return setPair[kvmSregs](c.fd, kvmSetSregs, "KVM_SET_SREGS", st.Sregs) },
		func() error { return setPair[kvmFPU](c.fd, kvmSetFPU, "KVM_SET_FPU", st.FPU) },
		func() error { return c.restoreXSave(st.XSave) },
		func() error { return setPair[kvmXCRs](c.fd, kvmSetXCRs, "KVM_SET_XCRS", st.XCRs) },
		func() error { return setPair[kvmDebugRegs](c.fd, kvmSetDebugRegs, "KVM_SET_DEBUGREGS", st.DebugRegs) },
		func() error { return setPair[kvmLAPICState](c.fd, kvmSetLAPIC, "KVM_SET_LAPIC", st.LAPIC) },
		func() error { return c.restoreMSRs(st.MSRs) },
		func() error { return setPair[kvmVCPUEvents](c.fd, kvmSetVCPUEvents, "KVM_SET_VCPU_EVENTS", st.Events) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

func (c *vcpu) restoreXSave(b []byte) error {
	if len(b) > 4096 {
		// KVM_SET_XSAVE accepts the larger KVM_GET_XSAVE2 layout.
		if err := ioctlBytes(c.fd, kvmSetXSave, b); err != nil {
			return fmt.Errorf("KVM_SET_XSAVE: %w", err)
		}
		return nil
	}
	return setPair[kvmXSave](c.fd, kvmSetXSave, "KVM_SET_XSAVE", b)
}

// errMSR reports a register KVM refused to restore.
var errMSR = errors.New("MSR not restored")

func (c *vcpu) restoreMSRs(msrs []msrValue) error {
	for len(msrs) > 0 {
		req := &kvmMSRs{NMSRs: uint32(min(len(msrs), maxMSRs))}
		for i := range req.NMSRs {
			req.Entries[i] = kvmMSREntry{Index: msrs[i].Index, Data: msrs[i].Data}
		}
		n, err := ioctlPtrRet(c.fd, kvmSetMSRs, req)
		if err != nil {
			return fmt.Errorf("KVM_SET_MSRS: %w", err)
		}
		if n < int(req.NMSRs) {
			return fmt.Errorf("%w: %#x (value %#x) on vCPU %d", errMSR, msrs[n].Index, msrs[n].Data, c.id)
		}
		msrs = msrs[n:]
	}
	return nil
}

// vmState is the saved state of the in-kernel devices shared by all vCPUs.
type vmState struct {
	PICMaster, PICSlave, IOAPIC []byte // kvm_irqchip
	PIT                         []byte // kvm_pit_state2
	Clock                       uint64 // kvm_clock_data.clock
}

func (v *vm) saveVMState() (*vmState, error) {
	st := &vmState{}
	for _, c := range []struct {
		id  uint32
		dst *[]byte
	}{{irqChipPICMaster, &st.PICMaster}, {irqChipPICSlave, &st.PICSlave}, {irqChipIOAPIC, &st.IOAPIC}} {
		chip := &kvmIRQChip{ChipID: c.id}
		if err := ioctlPtr(v.fd, kvmGetIRQChip, chip); err != nil {
			return nil, fmt.Errorf("KVM_GET_IRQCHIP %d: %w", c.id, err)
		}
		*c.dst = encode(chip)
	}
	var err error
	if st.PIT, err = getPair[kvmPITState2](v.fd, kvmGetPIT2, "KVM_GET_PIT2"); err != nil {
		return nil, err
	}
	var clock kvmClockData
	if err := ioctlPtr(v.fd, kvmGetClock, &clock); err != nil {
		return nil, fmt.Errorf("KVM_GET_CLOCK: %w", err)
	}
	st.Clock = clock.Clock
	return st, nil
}

func (v *vm) restoreVMState(st *vmState) error {
	for _, b := range [][]byte{st.PICMaster, st.PICSlave, st.IOAPIC} {
		if err := setPair[kvmIRQChip](v.fd, kvmSetIRQChip, "KVM_SET_IRQCHIP", b); err != nil {
			return err
		}
	}
	if err := setPair[kvmPITState2](v.fd, kvmSetPIT2, "KVM_SET_PIT2", st.PIT); err != nil {
		return err
	}
	// KVM_SET_CLOCK rejects flags it sets itself (TSC_STABLE); the clock
	// value alone continues guest time where it stopped.
	if err := ioctlPtr(v.fd, kvmSetClock, &kvmClockData{Clock: st.Clock}); err != nil {
		return fmt.Errorf("KVM_SET_CLOCK: %w", err)
	}
	return nil
}
