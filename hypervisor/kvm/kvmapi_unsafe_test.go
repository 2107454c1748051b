package kvm

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// kernelSizes are sizeof() of the mirrored structures in the x86-64 kernel
// headers (<linux/kvm.h>, <asm/kvm.h>); TestKernelStructSizesFromHeaders
// recomputes them with the C compiler where one is installed.
var kernelSizes = map[string]uintptr{
	"kvm_run":                     2352,
	"kvm_regs":                    144,
	"kvm_segment":                 24,
	"kvm_dtable":                  16,
	"kvm_sregs":                   312,
	"kvm_fpu":                     416,
	"kvm_lapic_state":             1024,
	"kvm_msr_entry":               16,
	"kvm_cpuid_entry2":            40,
	"kvm_pit_channel_state":       24,
	"kvm_pit_state2":              112,
	"kvm_pit_config":              64,
	"kvm_irqchip":                 520,
	"kvm_clock_data":              48,
	"kvm_xsave":                   4096,
	"kvm_xcrs":                    392,
	"kvm_debugregs":               128,
	"kvm_vcpu_events":             64,
	"kvm_mp_state":                4,
	"kvm_userspace_memory_region": 32,
	"kvm_irq_level":               8,
}

func mirrorSizes() map[string]struct{ unsafe, binary uintptr } {
	type sz = struct{ unsafe, binary uintptr }
	b := func(v any) uintptr { return uintptr(binary.Size(v)) }
	return map[string]sz{
		"kvm_run":                     {unsafe.Sizeof(kvmRunData{}), b(kvmRunData{})},
		"kvm_regs":                    {unsafe.Sizeof(kvmRegs{}), b(kvmRegs{})},
		"kvm_segment":                 {unsafe.Sizeof(kvmSegment{}), b(kvmSegment{})},
		"kvm_dtable":                  {unsafe.Sizeof(kvmDTable{}), b(kvmDTable{})},
		"kvm_sregs":                   {unsafe.Sizeof(kvmSregs{}), b(kvmSregs{})},
		"kvm_fpu":                     {unsafe.Sizeof(kvmFPU{}), b(kvmFPU{})},
		"kvm_lapic_state":             {unsafe.Sizeof(kvmLAPICState{}), b(kvmLAPICState{})},
		"kvm_msr_entry":               {unsafe.Sizeof(kvmMSREntry{}), b(kvmMSREntry{})},
		"kvm_cpuid_entry2":            {unsafe.Sizeof(kvmCPUIDEntry2{}), b(kvmCPUIDEntry2{})},
		"kvm_pit_channel_state":       {unsafe.Sizeof(kvmPITChannelState{}), b(kvmPITChannelState{})},
		"kvm_pit_state2":              {unsafe.Sizeof(kvmPITState2{}), b(kvmPITState2{})},
		"kvm_pit_config":              {unsafe.Sizeof(kvmPITConfig{}), b(kvmPITConfig{})},
		"kvm_irqchip":                 {unsafe.Sizeof(kvmIRQChip{}), b(kvmIRQChip{})},
		"kvm_clock_data":              {unsafe.Sizeof(kvmClockData{}), b(kvmClockData{})},
		"kvm_xsave":                   {unsafe.Sizeof(kvmXSave{}), b(kvmXSave{})},
		"kvm_xcrs":                    {unsafe.Sizeof(kvmXCRs{}), b(kvmXCRs{})},
		"kvm_debugregs":               {unsafe.Sizeof(kvmDebugRegs{}), b(kvmDebugRegs{})},
		"kvm_vcpu_events":             {unsafe.Sizeof(kvmVCPUEvents{}), b(kvmVCPUEvents{})},
		"kvm_mp_state":                {unsafe.Sizeof(kvmMPState{}), b(kvmMPState{})},
		"kvm_userspace_memory_region": {unsafe.Sizeof(kvmUserspaceMemoryRegion{}), b(kvmUserspaceMemoryRegion{})},
		"kvm_irq_level":               {unsafe.Sizeof(kvmIRQLevel{}), b(kvmIRQLevel{})},
	}
}

// TestKernelStructSizes: every mirror has the kernel's size both in memory
// (what ioctls see) and encoded (what snapshots store), so no implicit
// padding hides in a mirror.
func TestKernelStructSizes(t *testing.T) {
	for name, got := range mirrorSizes() {
		want, ok := kernelSizes[name]
		if !ok {
			t.Errorf("no kernel size for %s", name)
			continue
		}
		if got.unsafe != want || got.binary != want {
			t.Errorf("%s: Go size %d (encoded %d), kernel %d", name, got.unsafe, got.binary, want)
		}
	}
	// Fields KVM reads at fixed offsets.
	if off := unsafe.Offsetof(kvmRunData{}.ImmediateExit); off != 1 {
		t.Errorf("kvm_run.immediate_exit at %d", off)
	}
	if off := unsafe.Offsetof(kvmRunData{}.ExitReason); off != 8 {
		t.Errorf("kvm_run.exit_reason at %d", off)
	}
	if off := unsafe.Offsetof(kvmRunData{}.Exit); off != 32 {
		t.Errorf("kvm_run exit union at %d", off)
	}
	if off := unsafe.Offsetof(kvmVCPUEvents{}.ExceptionPayload); off != 56 {
		t.Errorf("kvm_vcpu_events.exception_payload at %d", off)
	}
}

// TestKernelStructSizesFromHeaders asks the C compiler for the sizes and
// ioctl numbers in this host's kernel headers.
func TestKernelStructSizesFromHeaders(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no C compiler")
	}
	if _, err := os.Stat("/usr/include/linux/kvm.h"); err != nil {
		t.Skip("no kernel headers")
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <linux/kvm.h>\nint main(void){\n")
	for name := range kernelSizes {
		src.WriteString(`printf("` + name + ` %zu\n", sizeof(struct ` + name + `));` + "\n")
	}
	ioctls := map[string]uintptr{
		"KVM_RUN": kvmRun, "KVM_GET_REGS": kvmGetRegs, "KVM_SET_SREGS": kvmSetSregs, "KVM_GET_XSAVE": kvmGetXSave,
		"KVM_SET_MSRS": kvmSetMSRs, "KVM_GET_VCPU_EVENTS": kvmGetVCPUEvents, "KVM_GET_PIT2": kvmGetPIT2,
		"KVM_GET_IRQCHIP": kvmGetIRQChip, "KVM_SET_CLOCK": kvmSetClock, "KVM_SET_USER_MEMORY_REGION": kvmSetUserMemoryRegion,
		"KVM_CREATE_PIT2": kvmCreatePIT2, "KVM_GET_SUPPORTED_CPUID": kvmGetSupportedCPUID, "KVM_SET_CPUID2": kvmSetCPUID2,
		"KVM_GET_LAPIC": kvmGetLAPIC, "KVM_IRQ_LINE": kvmIRQLine, "KVM_GET_XCRS": kvmGetXCRs, "KVM_SET_MP_STATE": kvmSetMPState,
	}
	for name := range ioctls {
		src.WriteString(`printf("` + name + ` %lu\n", (unsigned long)` + name + `);` + "\n")
	}
	src.WriteString("return 0;}\n")
	dir := t.TempDir()
	c := filepath.Join(dir, "sizes.c")
	os.WriteFile(c, []byte(src.String()), 0o600)
	bin := filepath.Join(dir, "sizes")
	if out, err := exec.Command(cc, "-o", bin, c).CombinedOutput(); err != nil {
		t.Skipf("compiling against the headers: %v: %s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		v, _ := strconv.ParseUint(f[1], 10, 64)
		if want, ok := kernelSizes[f[0]]; ok && uintptr(v) != want {
			t.Errorf("sizeof(struct %s) = %d in the headers, %d here", f[0], v, want)
		}
		if want, ok := ioctls[f[0]]; ok && uintptr(v) != want {
			t.Errorf("%s = %#x in the headers, %#x here", f[0], v, want)
		}
	}
}
