package kvm

// The KVM user-space API for x86-64: ioctl numbers, exit reasons and Go
// mirrors of the kernel structures in <linux/kvm.h> and <asm/kvm.h>. Every
// mirror carries the kernel's name, keeps the kernel's field order and makes
// padding explicit; kvmapi_unsafe_test.go checks each size against the value
// the kernel headers give.

// ioctl request numbers, as the _IO/_IOR/_IOW/_IOWR macros encode them.
const (
	kvmGetAPIVersion       = 0xae00
	kvmCreateVM            = 0xae01
	kvmGetMSRIndexList     = 0xc004ae02
	kvmCheckExtension      = 0xae03
	kvmGetVCPUMmapSize     = 0xae04
	kvmGetSupportedCPUID   = 0xc008ae05
	kvmCreateVCPU          = 0xae41
	kvmSetUserMemoryRegion = 0x4020ae46
	kvmSetTSSAddr          = 0xae47
	kvmSetIdentityMapAddr  = 0x4008ae48
	kvmCreateIRQChip       = 0xae60
	kvmIRQLine             = 0x4008ae61
	kvmGetIRQChip          = 0xc208ae62
	kvmSetIRQChip          = 0x8208ae63
	kvmCreatePIT2          = 0x4040ae77
	kvmGetPIT2             = 0x8070ae9f
	kvmSetPIT2             = 0x4070aea0
	kvmGetClock            = 0x8030ae7c
	kvmSetClock            = 0x4030ae7b
	kvmRun                 = 0xae80
	kvmGetRegs             = 0x8090ae81
	kvmSetRegs             = 0x4090ae82
	kvmGetSregs            = 0x8138ae83
	kvmSetSregs            = 0x4138ae84
	kvmGetFPU              = 0x81a0ae8c
	kvmSetFPU              = 0x41a0ae8d
	kvmGetLAPIC            = 0x8400ae8e
	kvmSetLAPIC            = 0x4400ae8f
	kvmGetMSRs             = 0xc008ae88
	kvmSetMSRs             = 0x4008ae89
	kvmSetCPUID2           = 0x4008ae90
	kvmGetXSave            = 0x9000aea4
	kvmSetXSave            = 0x5000aea5
	kvmGetXCRs             = 0x8188aea6
	kvmSetXCRs             = 0x4188aea7
	kvmGetDebugRegs        = 0x8080aea1
	kvmSetDebugRegs        = 0x4080aea2
	kvmGetVCPUEvents       = 0x8040ae9f
	kvmSetVCPUEvents       = 0x4040aea0
	kvmGetMPState          = 0x8004ae98
	kvmSetMPState          = 0x4004ae99
	kvmKVMClockCtrl        = 0xaead
)

// KVM_CHECK_EXTENSION capabilities the VMM asks about.
const (
	capIRQChip       = 0
	capUserMemory    = 3
	capSetTSSAddr    = 4
	capExtCPUID      = 7
	capNrVCPUs       = 9
	capMPState       = 14
	capPIT2          = 33
	capPITState2     = 35
	capAdjustClock   = 39
	capVCPUEvents    = 41
	capDebugRegs     = 50
	capXSave         = 55
	capXCRs          = 56
	capMaxVCPUs      = 66
	capImmediateExit = 136
)

// kvm_run.exit_reason values.
const (
	exitUnknown       = 0
	exitException     = 1
	exitIO            = 2
	exitHypercall     = 3
	exitDebug         = 4
	exitHLT           = 5
	exitMMIO          = 6
	exitIRQWindowOpen = 7
	exitShutdown      = 8
	exitFailEntry     = 9
	exitIntr          = 10
	exitInternalError = 17
	exitSystemEvent   = 24
)

// kvm_run.system_event.type values.
const (
	systemEventShutdown = 1
	systemEventReset    = 2
	systemEventCrash    = 3
)

// Direction of a KVM_EXIT_IO.
const (
	exitIOIn  = 0
	exitIOOut = 1
)

// kvm_irqchip.chip_id values.
const (
	irqChipPICMaster = 0
	irqChipPICSlave  = 1
	irqChipIOAPIC    = 2
)

// kvmPITSpeakerDummy asks KVM_CREATE_PIT2 to emulate port 0x61 too.
const kvmPITSpeakerDummy = 1

// kvmRunData mirrors struct kvm_run up to and including the synced
// registers area. The exit-specific union is kept as bytes and decoded by
// the accessors in vcpu_unsafe.go.
type kvmRunData struct {
	RequestInterruptWindow     uint8
	ImmediateExit              uint8
	_                          [6]uint8
	ExitReason                 uint32
	ReadyForInterruptInjection uint8
	IFFlag                     uint8
	Flags                      uint16
	CR8                        uint64
	APICBase                   uint64
	Exit                       [256]byte // the anonymous union of exit data
	ValidRegs                  uint64
	DirtyRegs                  uint64
	SyncRegs                   [2048]byte
}

// kvmRegs mirrors struct kvm_regs.
type kvmRegs struct {
	RAX, RBX, RCX, RDX uint64
	RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11   uint64
	R12, R13, R14, R15 uint64
	RIP, RFLAGS        uint64
}

// kvmSegment mirrors struct kvm_segment.
type kvmSegment struct {
	Base     uint64
	Limit    uint32
	Selector uint16
	Type     uint8
	Present  uint8
	DPL      uint8
	DB       uint8
	S        uint8
	L        uint8
	G        uint8
	AVL      uint8
	Unusable uint8
	_        uint8
}

// kvmDTable mirrors struct kvm_dtable.
type kvmDTable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// kvmSregs mirrors struct kvm_sregs.
type kvmSregs struct {
	CS, DS, ES, FS, GS, SS kvmSegment
	TR, LDT                kvmSegment
	GDT, IDT               kvmDTable
	CR0, CR2, CR3, CR4     uint64
	CR8                    uint64
	EFER                   uint64
	APICBase               uint64
	InterruptBitmap        [4]uint64
}

// kvmFPU mirrors struct kvm_fpu.
type kvmFPU struct {
	FPR        [8][16]uint8
	FCW        uint16
	FSW        uint16
	FTWX       uint8
	_          uint8
	LastOpcode uint16
	LastIP     uint64
	LastDP     uint64
	XMM        [16][16]uint8
	MXCSR      uint32
	_          uint32
}

// kvmLAPICState mirrors struct kvm_lapic_state.
type kvmLAPICState struct {
	Regs [1024]byte
}

// kvmMSREntry mirrors struct kvm_msr_entry.
type kvmMSREntry struct {
	Index uint32
	_     uint32
	Data  uint64
}

// maxMSRs bounds the MSRs saved per vCPU; KVM's index list is far shorter.
const maxMSRs = 256

// kvmMSRs mirrors struct kvm_msrs followed by its flexible entries array.
type kvmMSRs struct {
	NMSRs   uint32
	_       uint32
	Entries [maxMSRs]kvmMSREntry
}

// kvmMSRList mirrors struct kvm_msr_list with room for its indices.
type kvmMSRList struct {
	NMSRs   uint32
	Indices [maxMSRs]uint32
}

// kvmCPUIDEntry2 mirrors struct kvm_cpuid_entry2.
type kvmCPUIDEntry2 struct {
	Function uint32
	Index    uint32
	Flags    uint32
	EAX      uint32
	EBX      uint32
	ECX      uint32
	EDX      uint32
	_        [3]uint32
}

// maxCPUIDEntries bounds KVM_GET_SUPPORTED_CPUID; KVM returns E2BIG beyond.
const maxCPUIDEntries = 256

// kvmCPUID2 mirrors struct kvm_cpuid2 followed by its entries array.
type kvmCPUID2 struct {
	NEnt    uint32
	_       uint32
	Entries [maxCPUIDEntries]kvmCPUIDEntry2
}

// kvmPITChannelState mirrors struct kvm_pit_channel_state.
type kvmPITChannelState struct {
	Count         uint32
	LatchedCount  uint16
	CountLatched  uint8
	StatusLatched uint8
	Status        uint8
	ReadState     uint8
	WriteState    uint8
	WriteLatch    uint8
	RWMode        uint8
	Mode          uint8
	BCD           uint8
	Gate          uint8
	CountLoadTime int64
}

// kvmPITState2 mirrors struct kvm_pit_state2.
type kvmPITState2 struct {
	Channels [3]kvmPITChannelState
	Flags    uint32
	_        [9]uint32
}

// kvmPITConfig mirrors struct kvm_pit_config.
type kvmPITConfig struct {
	Flags uint32
	_     [15]uint32
}

// kvmIRQChip mirrors struct kvm_irqchip; Chip holds the kvm_pic_state or
// kvm_ioapic_state union member as the kernel lays it out.
type kvmIRQChip struct {
	ChipID uint32
	_      uint32
	Chip   [512]byte
}

// kvmClockData mirrors struct kvm_clock_data.
type kvmClockData struct {
	Clock    uint64
	Flags    uint32
	_        uint32
	Realtime uint64
	HostTSC  uint64
	_        [4]uint32
}

// kvmXSave mirrors struct kvm_xsave (the legacy 4 KiB form).
type kvmXSave struct {
	Region [1024]uint32
}

// kvmXCR mirrors struct kvm_xcr.
type kvmXCR struct {
	XCR   uint32
	_     uint32
	Value uint64
}

// kvmXCRs mirrors struct kvm_xcrs.
type kvmXCRs struct {
	NrXCRs uint32
	Flags  uint32
	XCRs   [16]kvmXCR
	_      [16]uint64
}

// kvmDebugRegs mirrors struct kvm_debugregs.
type kvmDebugRegs struct {
	DB    [4]uint64
	DR6   uint64
	DR7   uint64
	Flags uint64
	_     [9]uint64
}

// kvmVCPUEvents mirrors struct kvm_vcpu_events.
type kvmVCPUEvents struct {
	ExceptionInjected     uint8
	ExceptionNr           uint8
	ExceptionHasErrorCode uint8
	ExceptionPending      uint8
	ExceptionErrorCode    uint32
	InterruptInjected     uint8
	InterruptNr           uint8
	InterruptSoft         uint8
	InterruptShadow       uint8
	NMIInjected           uint8
	NMIPending            uint8
	NMIMasked             uint8
	_                     uint8
	SIPIVector            uint32
	Flags                 uint32
	SMISMM                uint8
	SMIPending            uint8
	SMIInsideNMI          uint8
	SMILatchedInit        uint8
	TripleFaultPending    uint8
	_                     [26]uint8
	ExceptionHasPayload   uint8
	ExceptionPayload      uint64
}

// kvmMPState mirrors struct kvm_mp_state.
type kvmMPState struct {
	MPState uint32
}

// kvmUserspaceMemoryRegion mirrors struct kvm_userspace_memory_region.
type kvmUserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// kvmIRQLevel mirrors struct kvm_irq_level.
type kvmIRQLevel struct {
	IRQ   uint32
	Level uint32
}

// Additional ioctls and capabilities for snapshots.
const (
	kvmGetXSave2 = 0x9000aecf
	capXSave2    = 208
)
