package boot

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Params are what a kernel receives besides its image.
type Params struct {
	Cmdline    string
	Initrd     io.ReaderAt // nil: no initrd
	InitrdSize int64
	VCPUs      int
	// PCIRoutes tells the MP table which IRQ each PCI slot's INTA# uses.
	PCIRoutes []PCIRoute
}

// Mode is the CPU mode the boot vCPU starts in.
type Mode int

// Start modes.
const (
	// Mode64: long mode with the VMM's identity page tables (Linux 64-bit
	// boot protocol: RSI points at boot_params).
	Mode64 Mode = iota + 1
	// Mode16: real mode at PVHTrampoline, a stub of the VMM that loads the
	// GDT and TR, enters flat 32-bit protected mode and jumps to the PVH
	// entry with EBX pointing at hvm_start_info, as the PVH ABI requires.
	// Going through real mode, as firmware would, works on hosts that
	// refuse a vCPU set directly into 32-bit protected mode (PVM).
	Mode16
)

// Segment describes a segment register's hidden part.
type Segment struct {
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
}

// CPUState is the boot vCPU's initial register state.
type CPUState struct {
	Mode                     Mode
	RIP, RSP, RSI, RBX       uint64
	RFLAGS                   uint64
	CR0, CR3, CR4, EFER      uint64
	CS, DS, TR               Segment // ES, FS, GS and SS equal DS
	GDTBase                  uint64
	GDTLimit                 uint16
	KernelStart, KernelEnd   uint64 // where the image was loaded
	InitrdStart, InitrdEnd   uint64
	CmdlineAddr, CmdlineSize uint64
}

// Control register and EFER bits.
const (
	cr0PE   = 1 << 0
	cr0MP   = 1 << 1
	cr0ET   = 1 << 4
	cr0NE   = 1 << 5
	cr0WP   = 1 << 16
	cr0PG   = 1 << 31
	cr4PAE  = 1 << 5
	eferLME = 1 << 8
	eferLMA = 1 << 10
)

// Load writes img and everything it needs into the fresh guest memory mem
// and returns the boot vCPU's state. The other vCPUs wait for INIT/SIPI.
func Load(mem *guestmem.Memory, img *Image, p Params) (*CPUState, error) {
	if p.VCPUs < 1 {
		p.VCPUs = 1
	}
	low, _ := SplitRAM(mem.Size())
	if low < 2*HighMemStart {
		return nil, fmt.Errorf("%w: %d KiB of RAM is too little to boot", ErrImage, mem.Size()>>10)
	}
	if err := writeGDT(mem); err != nil {
		return nil, err
	}
	if err := writePageTables(mem); err != nil {
		return nil, err
	}
	if err := WriteMPTable(mem, p.VCPUs, p.PCIRoutes); err != nil {
		return nil, err
	}
	var (
		st  *CPUState
		err error
	)
	switch img.Kind {
	case KindBzImage:
		st, err = loadBzImage(mem, img, p, low)
	case KindELF:
		st, err = loadELF64(mem, img, p, low)
	case KindPVH:
		st, err = loadPVH(mem, img, p, low)
	default:
		err = fmt.Errorf("%w: unknown kind %v", ErrImage, img.Kind)
	}
	if err != nil {
		return nil, err
	}
	st.GDTBase, st.GDTLimit = GDTAddr, gdtEntries*8-1
	st.RSP = BootStackTop
	st.RFLAGS = 0x2
	if st.Mode == Mode64 {
		st.TR = Segment{Base: 0, Limit: 0x67, Selector: SelTSS, Type: 0xb, Present: 1}
	} else {
		st.TR = Segment{Limit: 0xffff, Type: 0xb, Present: 1} // the reset state
	}
	return st, nil
}

func mode64(st *CPUState) {
	st.Mode = Mode64
	st.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0PG
	st.CR3 = PML4Addr
	st.CR4 = cr4PAE
	st.EFER = eferLME | eferLMA
	st.CS = Segment{Limit: 0xfffff, Selector: SelCode64, Type: 0xb, Present: 1, S: 1, L: 1, G: 1}
	st.DS = Segment{Limit: 0xfffff, Selector: SelData, Type: 0x3, Present: 1, S: 1, DB: 1, G: 1}
}

func loadBzImage(mem *guestmem.Memory, img *Image, p Params, low uint64) (*CPUState, error) {
	load := uint64(HighMemStart)
	payload := uint64(img.size - img.payloadOff)
	need := max(payload, img.initSize)
	if load+need > low {
		return nil, fmt.Errorf("%w: the kernel needs %d MiB of RAM above 1 MiB (init_size), the machine has %d MiB",
			ErrImage, need>>20+1, (low-load)>>20)
	}
	dst, err := mem.Slice(load, payload)
	if err != nil {
		return nil, err
	}
	if _, err := img.r.ReadAt(dst, img.payloadOff); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: reading the kernel: %w", ErrImage, err)
	}
	zp := make([]byte, zeroPageSize)
	copy(zp[hdrSetupSects:], img.setup[hdrSetupSects:])
	st := &CPUState{RIP: load + 0x200, RSI: ZeroPageAddr, KernelStart: load, KernelEnd: load + need}
	mode64(st)
	maxCmd := uint64(img.cmdlineSize)
	if maxCmd == 0 || maxCmd > CmdlineMax-1 {
		maxCmd = CmdlineMax - 1
	}
	initrdMax := uint64(img.initrdMax)
	if initrdMax == 0 {
		initrdMax = 0x37ffffff
	}
	if err := finishZeroPage(mem, zp, st, p, low, maxCmd, initrdMax); err != nil {
		return nil, err
	}
	return st, nil
}

// loadSegments copies an ELF image's PT_LOAD segments to their physical
// addresses, all of which must lie in RAM above 1 MiB.
func loadSegments(mem *guestmem.Memory, img *Image, low uint64) (start, end uint64, err error) {
	start = ^uint64(0)
	for _, s := range img.segments {
		if s.paddr < HighMemStart || s.paddr+s.memsz > low {
			return 0, 0, fmt.Errorf("%w: segment %#x+%#x is outside RAM from 1 MiB to %#x", ErrImage, s.paddr, s.memsz, low)
		}
		dst, err := mem.Slice(s.paddr, s.memsz)
		if err != nil {
			return 0, 0, err
		}
		if _, err := img.r.ReadAt(dst[:s.filesz], s.off); err != nil && err != io.EOF {
			return 0, 0, fmt.Errorf("%w: reading segment %#x: %w", ErrImage, s.paddr, err)
		}
		clear(dst[s.filesz:])
		start, end = min(start, s.paddr), max(end, s.paddr+s.memsz)
	}
	return start, end, nil
}

func loadELF64(mem *guestmem.Memory, img *Image, p Params, low uint64) (*CPUState, error) {
	start, end, err := loadSegments(mem, img, low)
	if err != nil {
		return nil, err
	}
	if img.entry < start || img.entry >= end {
		return nil, fmt.Errorf("%w: entry point %#x is outside the loaded image %#x-%#x", ErrImage, img.entry, start, end)
	}
	zp := make([]byte, zeroPageSize)
	le := binary.LittleEndian
	le.PutUint16(zp[hdrBootFlag:], bootFlagMagic)
	le.PutUint32(zp[hdrMagic:], headerMagic)
	le.PutUint16(zp[hdrVersion:], 0x020f)
	le.PutUint32(zp[hdrKernelAlign:], 0x1000000)
	st := &CPUState{RIP: img.entry, RSI: ZeroPageAddr, KernelStart: start, KernelEnd: end}
	mode64(st)
	if err := finishZeroPage(mem, zp, st, p, low, CmdlineMax-1, low-1); err != nil {
		return nil, err
	}
	return st, nil
}

// finishZeroPage places command line and initrd, fills the boot
// protocol fields and the E820 map, and writes the zero page.
func finishZeroPage(mem *guestmem.Memory, zp []byte, st *CPUState, p Params, low, maxCmd, initrdMax uint64) error {
	le := binary.LittleEndian
	zp[hdrTypeOfLoader] = typeOfLoaderOther
	zp[hdrLoadFlags] |= loadFlagLoadedHigh
	if err := placeCmdline(mem, st, p.Cmdline, maxCmd); err != nil {
		return err
	}
	le.PutUint32(zp[hdrCmdLinePtr:], uint32(st.CmdlineAddr))
	le.PutUint32(zp[zpExtCmdLinePtr:], uint32(st.CmdlineAddr>>32))
	if err := placeInitrd(mem, st, p, low, initrdMax); err != nil {
		return err
	}
	if st.InitrdEnd > st.InitrdStart {
		size := st.InitrdEnd - st.InitrdStart
		le.PutUint32(zp[hdrRamdiskImage:], uint32(st.InitrdStart))
		le.PutUint32(zp[hdrRamdiskSize:], uint32(size))
		le.PutUint32(zp[zpExtRamdiskImage:], uint32(st.InitrdStart>>32))
		le.PutUint32(zp[zpExtRamdiskSize:], uint32(size>>32))
	}
	e820 := MemoryMap(mem.Size())
	if len(e820) > zpE820Max {
		return fmt.Errorf("%w: %d E820 entries", ErrImage, len(e820))
	}
	zp[zpE820Entries] = uint8(len(e820))
	for i, e := range e820 {
		o := zpE820Table + 20*i
		le.PutUint64(zp[o:], e.Addr)
		le.PutUint64(zp[o+8:], e.Size)
		le.PutUint32(zp[o+16:], e.Type)
	}
	return mem.Write(ZeroPageAddr, zp)
}

func placeCmdline(mem *guestmem.Memory, st *CPUState, cmdline string, maxLen uint64) error {
	if strings.IndexByte(cmdline, 0) >= 0 {
		return fmt.Errorf("%w: the command line contains a NUL byte", ErrImage)
	}
	if uint64(len(cmdline)) > maxLen {
		return fmt.Errorf("%w: the command line is %d bytes, the kernel accepts %d", ErrImage, len(cmdline), maxLen)
	}
	b := append([]byte(cmdline), 0)
	st.CmdlineAddr, st.CmdlineSize = CmdlineAddr, uint64(len(cmdline))
	return mem.Write(CmdlineAddr, b)
}

// placeInitrd puts the initrd as high in low RAM as the kernel allows,
// page-aligned and above the kernel, as boot loaders do.
func placeInitrd(mem *guestmem.Memory, st *CPUState, p Params, low, maxAddr uint64) error {
	if p.Initrd == nil {
		return nil
	}
	size := uint64(p.InitrdSize)
	top := min(low, maxAddr+1)
	if size == 0 || size > top {
		return fmt.Errorf("%w: an initrd of %d bytes does not fit below %#x", ErrImage, size, top)
	}
	addr := (top - size) &^ 0xfff
	if addr < st.KernelEnd {
		return fmt.Errorf("%w: the initrd (%d MiB) and the kernel do not fit in RAM below %#x together",
			ErrImage, size>>20, top)
	}
	dst, err := mem.Slice(addr, size)
	if err != nil {
		return err
	}
	if _, err := p.Initrd.ReadAt(dst, 0); err != nil && err != io.EOF {
		return fmt.Errorf("reading the initrd: %w", err)
	}
	st.InitrdStart, st.InitrdEnd = addr, addr+size
	return nil
}

// PVH start_info layout (xen/include/public/arch-x86/hvm/start_info.h).
const (
	pvhMagic       = 0x336ec578
	pvhModlist     = PVHStartInfo + 0x40
	pvhMemmap      = PVHStartInfo + 0x80
	pvhMemmapEntry = 24
)

func loadPVH(mem *guestmem.Memory, img *Image, p Params, low uint64) (*CPUState, error) {
	start, end, err := loadSegments(mem, img, low)
	if err != nil {
		return nil, err
	}
	if img.pvhEntry >= 1<<32 {
		return nil, fmt.Errorf("%w: PVH entry %#x is above 4 GiB", ErrImage, img.pvhEntry)
	}
	st := &CPUState{Mode: Mode16, RIP: 0, KernelStart: start, KernelEnd: end}
	st.CR0 = cr0ET
	st.CS = Segment{Base: PVHTrampoline, Limit: 0xffff, Selector: PVHTrampoline >> 4, Type: 0xb, Present: 1, S: 1}
	st.DS = Segment{Limit: 0xffff, Type: 0x3, Present: 1, S: 1}
	if err := writePVHTrampoline(mem, uint32(img.pvhEntry)); err != nil {
		return nil, err
	}
	if err := placeCmdline(mem, st, p.Cmdline, CmdlineMax-1); err != nil {
		return nil, err
	}
	if err := placeInitrd(mem, st, p, low, MMIOHoleStart-1); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	si := make([]byte, 0x40)
	le.PutUint32(si[0:], pvhMagic)
	le.PutUint32(si[4:], 1) // version
	le.PutUint64(si[24:], CmdlineAddr)
	if st.InitrdEnd > st.InitrdStart {
		le.PutUint32(si[12:], 1) // nr_modules
		le.PutUint64(si[16:], pvhModlist)
		mod := make([]byte, 32)
		le.PutUint64(mod[0:], st.InitrdStart)
		le.PutUint64(mod[8:], st.InitrdEnd-st.InitrdStart)
		if err := mem.Write(pvhModlist, mod); err != nil {
			return nil, err
		}
	}
	e820 := MemoryMap(mem.Size())
	if pvhMemmap+uint64(len(e820))*pvhMemmapEntry > ZeroPageAddr {
		return nil, fmt.Errorf("%w: %d memory map entries do not fit", ErrImage, len(e820))
	}
	le.PutUint64(si[40:], pvhMemmap)
	le.PutUint32(si[48:], uint32(len(e820)))
	mm := make([]byte, len(e820)*pvhMemmapEntry)
	for i, e := range e820 {
		o := i * pvhMemmapEntry
		le.PutUint64(mm[o:], e.Addr)
		le.PutUint64(mm[o+8:], e.Size)
		le.PutUint32(mm[o+16:], e.Type)
	}
	if err := mem.Write(pvhMemmap, mm); err != nil {
		return nil, err
	}
	return st, mem.Write(PVHStartInfo, si)
}

// gdtEntries is the number of descriptors in the boot GDT; the 64-bit TSS
// takes two slots.
const gdtEntries = 7

// pvhTrampoline is the real-mode stub at PVHTrampoline (assembled from):
//
//	    cli; xor %ax,%ax; mov %ax,%ds
//	    lgdtl PVHTrampoline+0x40        ; the boot GDT
//	    mov %cr0,%eax; or $1,%al; mov %eax,%cr0
//	    ljmpl $SelCode32, $PVHTrampoline+0x1b
//	.code32
//	    mov $SelData,%ax; mov %ax,%ds/%es/%ss/%fs/%gs
//	    mov $SelTSS32,%ax; ltr %ax
//	    mov PVHTrampoline+0x4a,%ebx     ; hvm_start_info
//	    mov PVHTrampoline+0x46,%eax     ; PVH entry
//	    jmp *%eax
//	0x40: GDT pointer, 0x46: entry, 0x4a: start_info
func pvhTrampoline() []byte {
	return []byte{
		0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x66, 0x0f, 0x01, 0x16, 0x40, 0x80, 0x0f,
		0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0x66, 0xea, 0x1b, 0x80, 0x00,
		0x00, 0x08, 0x00, 0x66, 0xb8, 0x18, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e,
		0xd0, 0x8e, 0xe0, 0x8e, 0xe8, 0x66, 0xb8, 0x30, 0x00, 0x0f, 0x00, 0xd8,
		0x8b, 0x1d, 0x4a, 0x80, 0x00, 0x00, 0xa1, 0x46, 0x80, 0x00, 0x00, 0xff,
		0xe0, 0x8d, 0x76, 0x00, 0x37, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
}

// Offsets of the trampoline's data.
const (
	pvhTrampGDTPtr = 0x40
	pvhTrampEntry  = 0x46
	pvhTrampInfo   = 0x4a
)

func writePVHTrampoline(mem *guestmem.Memory, entry uint32) error {
	t := pvhTrampoline()
	le := binary.LittleEndian
	le.PutUint16(t[pvhTrampGDTPtr:], gdtEntries*8-1)
	le.PutUint32(t[pvhTrampGDTPtr+2:], GDTAddr)
	le.PutUint32(t[pvhTrampEntry:], entry)
	le.PutUint32(t[pvhTrampInfo:], PVHStartInfo)
	return mem.Write(PVHTrampoline, t)
}

// gdtEntry encodes a segment descriptor from the access/flags word (as in
// Firecracker and the Linux boot code), base and limit.
func gdtEntry(flags uint16, base, limit uint32) uint64 {
	return uint64(base&0xff000000)<<32 | uint64(flags&0xf0ff)<<40 | uint64(limit&0xf0000)<<32 |
		uint64(base&0xffffff)<<16 | uint64(limit&0xffff)
}

// writeGDT writes null, 32-bit code, 64-bit code, data and TSS descriptors.
// KVM needs the table in guest memory, not only in the segment registers:
// an interrupt delivered without it is a triple fault.
func writeGDT(mem *guestmem.Memory) error {
	gdt := []uint64{
		0,
		gdtEntry(0xc09b, 0, 0xfffff), // 0x08: 32-bit code
		gdtEntry(0xa09b, 0, 0xfffff), // 0x10: 64-bit code
		gdtEntry(0xc093, 0, 0xfffff), // 0x18: data
		gdtEntry(0x008b, 0, 0x67),    // 0x20: 64-bit TSS (busy), low half
		0,                            // 0x28: 64-bit TSS high half
		gdtEntry(0x0089, 0, 0x67),    // 0x30: 32-bit TSS (available)
	}
	b := make([]byte, 8*len(gdt))
	for i, e := range gdt {
		binary.LittleEndian.PutUint64(b[8*i:], e)
	}
	return mem.Write(GDTAddr, b)
}

// writePageTables identity-maps the first 4 GiB with 2 MiB pages, which
// covers the kernel, its boot data and the LAPIC and IOAPIC windows.
func writePageTables(mem *guestmem.Memory) error {
	const present, rw, ps = 1, 2, 0x80
	le := binary.LittleEndian
	pml4 := make([]byte, 4096)
	le.PutUint64(pml4, PDPTAddr|present|rw)
	pdpt := make([]byte, 4096)
	pd := make([]byte, 4*4096)
	for i := 0; i < 4; i++ {
		le.PutUint64(pdpt[8*i:], uint64(PDAddr+i*4096)|present|rw)
	}
	for i := 0; i < 4*512; i++ {
		le.PutUint64(pd[8*i:], uint64(i)<<21|present|rw|ps)
	}
	for _, w := range []struct {
		addr uint64
		b    []byte
	}{{PML4Addr, pml4}, {PDPTAddr, pdpt}, {PDAddr, pd}} {
		if err := mem.Write(w.addr, w.b); err != nil {
			return err
		}
	}
	return nil
}
