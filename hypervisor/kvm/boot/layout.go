package boot

// Guest-physical layout below 1 MiB and the fixed device windows. The VMM
// and this package agree on it; guests learn it from the E820 map, the MP
// table and the boot protocol, never by assumption.
const (
	GDTAddr         = 0x0500 // GDT the boot vCPU starts with
	PVHStartInfo    = 0x6000 // struct hvm_start_info and its tables
	PVHTrampoline   = 0x8000 // real-mode stub that enters a PVH kernel
	ZeroPageAddr    = 0x7000 // struct boot_params
	BootStackTop    = 0x8ff0 // initial stack pointer
	PML4Addr        = 0x9000 // identity page tables: PML4, PDPT, 4 PDs
	PDPTAddr        = 0xa000
	PDAddr          = 0xb000
	CmdlineAddr     = 0x20000
	CmdlineMax      = 0x10000 // bytes reserved for the command line
	EBDAStart       = 0x9fc00 // end of usable base memory
	BIOSAreaStart   = 0xf0000 // reserved; holds the MP table
	MPTableAddr     = BIOSAreaStart
	HighMemStart    = 0x100000 // where kernels are loaded
	MMIOHoleStart   = 0xc0000000
	MMIOHoleEnd     = 0x100000000
	VirtioMMIOBase  = 0xd0000000 // virtio-mmio windows, 4 KiB each
	IOAPICAddr      = 0xfec00000
	LAPICAddr       = 0xfee00000
	TSSAddr         = 0xfffbd000 // KVM_SET_TSS_ADDR (three pages)
	IdentityMapAddr = 0xfffbc000 // KVM_SET_IDENTITY_MAP_ADDR (one page)
)

// GDT selectors. Linux's 64-bit boot protocol asks for __BOOT_CS = 0x10
// and __BOOT_DS = 0x18; PVH asks for a flat 32-bit code segment.
const (
	SelCode32 = 0x08
	SelCode64 = 0x10
	SelData   = 0x18
	SelTSS    = 0x20 // 64-bit TSS (two slots), loaded busy through KVM
	SelTSS32  = 0x30 // 32-bit TSS the PVH trampoline loads with LTR
)

// E820 types.
const (
	E820RAM      = 1
	E820Reserved = 2
)

// E820Entry is one range of the physical memory map.
type E820Entry struct {
	Addr, Size uint64
	Type       uint32
}

// MemoryMap returns the E820 map of a guest with ram bytes of RAM: base
// memory up to the EBDA, the BIOS area reserved, RAM from 1 MiB up to the
// MMIO hole and the rest above 4 GiB.
func MemoryMap(ram uint64) []E820Entry {
	low, high := SplitRAM(ram)
	m := []E820Entry{
		{0, EBDAStart, E820RAM},
		{EBDAStart, 0xa0000 - EBDAStart, E820Reserved},
		{BIOSAreaStart, HighMemStart - BIOSAreaStart, E820Reserved},
	}
	if low > HighMemStart {
		m = append(m, E820Entry{HighMemStart, low - HighMemStart, E820RAM})
	}
	if high > 0 {
		m = append(m, E820Entry{MMIOHoleEnd, high, E820RAM})
	}
	return m
}

// SplitRAM divides ram between the range below the MMIO hole and the range
// from 4 GiB up.
func SplitRAM(ram uint64) (low, high uint64) {
	if ram <= MMIOHoleStart {
		return ram, 0
	}
	return MMIOHoleStart, ram - MMIOHoleStart
}
