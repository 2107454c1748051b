package kvm

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/hypervisor"
)

// DefaultDevice is the KVM device node.
const DefaultDevice = "/dev/kvm"

// kvmAPIVersion is the only KVM API version there has ever been.
const kvmAPIVersion = 12

// system is an open /dev/kvm and what it told us once: capabilities, the
// vCPU mapping size, supported CPUID leaves and saveable MSRs.
type system struct {
	fd       int
	runSize  int
	maxVCPUs int
	cpuid    []kvmCPUIDEntry2
	msrs     []uint32
	// closing counts VMs being destroyed in the background.
	closing sync.WaitGroup
}

// capability names a KVM_CHECK_EXTENSION value.
type capability struct {
	cap  int
	name string
}

// requiredCaps are the capabilities the VMM cannot run without.
func requiredCaps() []capability {
	return []capability{
		{capIRQChip, "KVM_CAP_IRQCHIP"},
		{capUserMemory, "KVM_CAP_USER_MEMORY"},
		{capSetTSSAddr, "KVM_CAP_SET_TSS_ADDR"},
		{capExtCPUID, "KVM_CAP_EXT_CPUID"},
		{capMPState, "KVM_CAP_MP_STATE"},
		{capPIT2, "KVM_CAP_PIT2"},
		{capPITState2, "KVM_CAP_PIT_STATE2"},
		{capImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"},
		{capVCPUEvents, "KVM_CAP_VCPU_EVENTS"},
		{capXSave, "KVM_CAP_XSAVE"},
		{capXCRs, "KVM_CAP_XCRS"},
		{capDebugRegs, "KVM_CAP_DEBUGREGS"},
		{capAdjustClock, "KVM_CAP_ADJUST_CLOCK"},
	}
}

// openSystem opens and probes the KVM device. It does not look at the
// host's CPUID for VMX or SVM: nested and PVM hosts provide /dev/kvm
// without them.
func openSystem(path string) (*system, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: opening %s: %w", hypervisor.ErrUnavailable, path, err)
	}
	s := &system{fd: fd}
	if err := s.probe(path); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

func (s *system) probe(path string) error {
	v, err := ioctl(s.fd, kvmGetAPIVersion, 0)
	if err != nil {
		return fmt.Errorf("%w: %s: KVM_GET_API_VERSION: %w", hypervisor.ErrUnavailable, path, err)
	}
	if v != kvmAPIVersion {
		return fmt.Errorf("%w: %s speaks KVM API %d, want %d", hypervisor.ErrUnavailable, path, v, kvmAPIVersion)
	}
	var missing []string
	for _, c := range requiredCaps() {
		if s.check(c.cap) <= 0 {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s lacks %v", hypervisor.ErrUnavailable, path, missing)
	}
	s.maxVCPUs = s.check(capMaxVCPUs)
	if s.maxVCPUs <= 0 {
		s.maxVCPUs = s.check(capNrVCPUs)
	}
	n, err := ioctl(s.fd, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return fmt.Errorf("%w: KVM_GET_VCPU_MMAP_SIZE: %w", hypervisor.ErrUnavailable, err)
	}
	s.runSize = int(n)
	cpuid := &kvmCPUID2{NEnt: maxCPUIDEntries}
	if err := ioctlPtr(s.fd, kvmGetSupportedCPUID, cpuid); err != nil {
		return fmt.Errorf("%w: KVM_GET_SUPPORTED_CPUID: %w", hypervisor.ErrUnavailable, err)
	}
	s.cpuid = append([]kvmCPUIDEntry2(nil), cpuid.Entries[:cpuid.NEnt]...)
	list := &kvmMSRList{NMSRs: maxMSRs}
	if err := ioctlPtr(s.fd, kvmGetMSRIndexList, list); err != nil && !errors.Is(err, unix.E2BIG) {
		return fmt.Errorf("%w: KVM_GET_MSR_INDEX_LIST: %w", hypervisor.ErrUnavailable, err)
	}
	s.msrs = append([]uint32(nil), list.Indices[:min(int(list.NMSRs), maxMSRs)]...)
	return nil
}

// check returns KVM_CHECK_EXTENSION's answer, 0 when unsupported.
func (s *system) check(c int) int {
	r, err := ioctl(s.fd, kvmCheckExtension, uintptr(c))
	if err != nil {
		return 0
	}
	return int(r)
}

// close waits for VMs still being destroyed, then closes /dev/kvm.
func (s *system) close() error {
	s.closing.Wait()
	return unix.Close(s.fd)
}
