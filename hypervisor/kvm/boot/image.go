package boot

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrImage reports a kernel image this package cannot boot.
var ErrImage = errors.New("unbootable kernel image")

// Kind is the format of a kernel image.
type Kind int

// Image kinds.
const (
	KindBzImage Kind = iota + 1 // Linux bzImage (boot protocol 2.06 or later)
	KindELF                     // ELF64 image entered in 64-bit mode
	KindPVH                     // ELF entered at its Xen PVH note
)

func (k Kind) String() string {
	switch k {
	case KindBzImage:
		return "bzImage"
	case KindELF:
		return "ELF"
	case KindPVH:
		return "ELF (PVH)"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Setup header fields (Documentation/arch/x86/boot.rst), as offsets into
// the image and the zero page alike.
const (
	hdrSetupSects     = 0x1f1
	hdrBootFlag       = 0x1fe
	hdrJump           = 0x200
	hdrMagic          = 0x202
	hdrVersion        = 0x206
	hdrTypeOfLoader   = 0x210
	hdrLoadFlags      = 0x211
	hdrRamdiskImage   = 0x218
	hdrRamdiskSize    = 0x21c
	hdrHeapEndPtr     = 0x224
	hdrCmdLinePtr     = 0x228
	hdrInitrdAddrMax  = 0x22c
	hdrKernelAlign    = 0x230
	hdrRelocatable    = 0x234
	hdrXLoadFlags     = 0x236
	hdrCmdlineSize    = 0x238
	hdrPrefAddress    = 0x258
	hdrInitSize       = 0x260
	zpExtRamdiskImage = 0x0c0
	zpExtRamdiskSize  = 0x0c4
	zpExtCmdLinePtr   = 0x0c8
	zpE820Entries     = 0x1e8
	zpE820Table       = 0x2d0
	zpE820Max         = 128
	zeroPageSize      = 0x1000

	loadFlagLoadedHigh = 0x01
	loadFlagCanUseHeap = 0x80
	xlfKernel64        = 0x01
	bootFlagMagic      = 0xaa55
	headerMagic        = 0x53726448 // "HdrS"
	minBootProtocol    = 0x0206     // cmdline_size and 64-bit fields
	typeOfLoaderOther  = 0xff
)

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry note.
const xenElfnotePhys32Entry = 18

// Image is a probed kernel image.
type Image struct {
	Kind Kind
	r    io.ReaderAt
	size int64

	// bzImage
	setup       []byte // the real-mode setup header sectors
	payloadOff  int64  // file offset of the protected-mode kernel
	version     uint16
	initSize    uint64
	prefAddress uint64
	cmdlineSize uint32
	initrdMax   uint32

	// ELF
	segments []segment
	entry    uint64 // 64-bit entry (physical)
	pvhEntry uint64
}

type segment struct {
	paddr, filesz, memsz uint64
	off                  int64
}

// Probe reads enough of r (size bytes long) to tell how to boot it.
func Probe(r io.ReaderAt, size int64) (*Image, error) {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return nil, fmt.Errorf("%w: reading the header: %w", ErrImage, err)
	}
	if bytes.Equal(magic[:], []byte(elf.ELFMAG)) {
		return probeELF(r, size)
	}
	return probeBzImage(r, size)
}

func probeBzImage(r io.ReaderAt, size int64) (*Image, error) {
	hdr := make([]byte, 0x400)
	if size < int64(len(hdr)) {
		return nil, fmt.Errorf("%w: %d bytes is too small for a bzImage or ELF", ErrImage, size)
	}
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("%w: reading the setup header: %w", ErrImage, err)
	}
	le := binary.LittleEndian
	if le.Uint16(hdr[hdrBootFlag:]) != bootFlagMagic || le.Uint32(hdr[hdrMagic:]) != headerMagic {
		return nil, fmt.Errorf("%w: neither an ELF file nor a Linux bzImage (no HdrS signature)", ErrImage)
	}
	img := &Image{Kind: KindBzImage, r: r, size: size}
	img.version = le.Uint16(hdr[hdrVersion:])
	if img.version < minBootProtocol {
		return nil, fmt.Errorf("%w: boot protocol %d.%02d is older than 2.06", ErrImage, img.version>>8, img.version&0xff)
	}
	if le.Uint16(hdr[hdrXLoadFlags:])&xlfKernel64 == 0 {
		return nil, fmt.Errorf("%w: the bzImage has no 64-bit entry point (XLF_KERNEL_64)", ErrImage)
	}
	sects := int64(hdr[hdrSetupSects])
	if sects == 0 {
		sects = 4
	}
	img.payloadOff = (sects + 1) * 512
	if img.payloadOff >= size {
		return nil, fmt.Errorf("%w: setup of %d sectors leaves no kernel in %d bytes", ErrImage, sects, size)
	}
	// The header ends where the jump at 0x200 lands (0x202 + its offset).
	end := 0x202 + int(hdr[hdrJump+1])
	if end > len(hdr) || end < hdrInitSize+4 {
		end = hdrInitSize + 4
	}
	img.setup = hdr[:end]
	img.initSize = uint64(le.Uint32(hdr[hdrInitSize:]))
	img.prefAddress = le.Uint64(hdr[hdrPrefAddress:])
	img.cmdlineSize = le.Uint32(hdr[hdrCmdlineSize:])
	img.initrdMax = le.Uint32(hdr[hdrInitrdAddrMax:])
	return img, nil
}

func probeELF(r io.ReaderAt, size int64) (*Image, error) {
	f, err := elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrImage, err)
	}
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_386 {
		return nil, fmt.Errorf("%w: ELF for %s, want x86-64", ErrImage, f.Machine)
	}
	img := &Image{Kind: KindELF, r: r, size: size}
	hasPVH := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			if p.Memsz == 0 {
				continue
			}
			if p.Filesz > p.Memsz || p.Off > uint64(size) || p.Filesz > uint64(size)-p.Off || p.Paddr+p.Memsz < p.Paddr {
				return nil, fmt.Errorf("%w: PT_LOAD at %#x has bad sizes", ErrImage, p.Paddr)
			}
			img.segments = append(img.segments, segment{paddr: p.Paddr, filesz: p.Filesz, memsz: p.Memsz, off: int64(p.Off)})
		case elf.PT_NOTE:
			if e, ok := pvhNote(p, size); ok {
				img.pvhEntry, hasPVH = e, true
			}
		}
	}
	if len(img.segments) == 0 {
		return nil, fmt.Errorf("%w: ELF has no loadable segment", ErrImage)
	}
	// A 64-bit image is entered in 64-bit mode at its ELF entry, as
	// Firecracker boots vmlinux: it skips the 32-bit stage, which hosts
	// that virtualize without VT-x or SVM (PVM) cannot run. A 32-bit image
	// needs the PVH entry.
	switch {
	case f.Class == elf.ELFCLASS64:
	case hasPVH:
		img.Kind = KindPVH
	default:
		return nil, fmt.Errorf("%w: 32-bit ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)", ErrImage)
	}
	// vmlinux links at virtual addresses but its entry is physical; map a
	// virtual entry through the segment that contains it.
	img.entry = f.Entry
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && f.Entry >= p.Vaddr && f.Entry-p.Vaddr < p.Memsz && p.Vaddr != p.Paddr {
			img.entry = p.Paddr + (f.Entry - p.Vaddr)
		}
	}
	return img, nil
}

// PVHEntry returns the PVH entry point and whether the image has one.
func (img *Image) PVHEntry() (uint64, bool) { return img.pvhEntry, img.pvhEntry != 0 }

// UsePVH makes the image boot through its PVH entry (32-bit protected
// mode, hvm_start_info) instead of the 64-bit entry.
func (img *Image) UsePVH() error {
	if img.pvhEntry == 0 {
		return fmt.Errorf("%w: the image has no PVH entry note", ErrImage)
	}
	img.Kind = KindPVH
	return nil
}

// pvhNote finds XEN_ELFNOTE_PHYS32_ENTRY in a PT_NOTE segment.
func pvhNote(p *elf.Prog, size int64) (uint64, bool) {
	if p.Filesz > 1<<20 || p.Off > uint64(size) || p.Filesz > uint64(size)-p.Off {
		return 0, false
	}
	b := make([]byte, p.Filesz)
	if _, err := p.ReadAt(b, 0); err != nil {
		return 0, false
	}
	le := binary.LittleEndian
	for len(b) >= 12 {
		namesz, descsz, typ := le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint32(b[8:])
		nameEnd := 12 + align4(uint64(namesz))
		descEnd := nameEnd + align4(uint64(descsz))
		if nameEnd > uint64(len(b)) || descEnd > uint64(len(b)) {
			return 0, false
		}
		name := b[12 : 12+namesz]
		desc := b[nameEnd : nameEnd+uint64(descsz)]
		if typ == xenElfnotePhys32Entry && bytes.Equal(bytes.TrimRight(name, "\x00"), []byte("Xen")) {
			switch len(desc) {
			case 4:
				return uint64(le.Uint32(desc)), true
			case 8:
				return le.Uint64(desc), true
			}
		}
		b = b[descEnd:]
	}
	return 0, false
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }
