package boot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

func newMem(t *testing.T, size uint64) *guestmem.Memory {
	t.Helper()
	low, high := SplitRAM(size)
	regions := []guestmem.Region{{GPA: 0, Data: make([]byte, low)}}
	if high > 0 {
		regions = append(regions, guestmem.Region{GPA: MMIOHoleEnd, Data: make([]byte, high)})
	}
	m, err := guestmem.New(regions...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// bzImage builds a minimal bzImage: setup sectors with a 2.15 header, then
// a protected-mode payload.
func bzImage(payload []byte, initSize uint32, xload uint16) []byte {
	const sects = 4
	img := make([]byte, (sects+1)*512)
	le := binary.LittleEndian
	img[hdrSetupSects] = sects
	le.PutUint16(img[hdrBootFlag:], bootFlagMagic)
	img[hdrJump], img[hdrJump+1] = 0xeb, 0x66 // header ends at 0x268
	le.PutUint32(img[hdrMagic:], headerMagic)
	le.PutUint16(img[hdrVersion:], 0x020f)
	le.PutUint32(img[hdrInitrdAddrMax:], 0x7fffffff)
	le.PutUint32(img[hdrKernelAlign:], 0x200000)
	img[hdrRelocatable] = 1
	le.PutUint16(img[hdrXLoadFlags:], xload)
	le.PutUint32(img[hdrCmdlineSize:], 2047)
	le.PutUint64(img[hdrPrefAddress:], 0x1000000)
	le.PutUint32(img[hdrInitSize:], initSize)
	return append(img, payload...)
}

func TestBzImageLayout(t *testing.T) {
	mem := newMem(t, 128<<20)
	payload := bytes.Repeat([]byte("kernel"), 1000)
	raw := bzImage(payload, 16<<20, xlfKernel64)
	img, err := Probe(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || img.Kind != KindBzImage {
		t.Fatalf("Probe: %v %v", img, err)
	}
	initrd := bytes.Repeat([]byte{0x42}, 3<<20+123)
	st, err := Load(mem, img, Params{Cmdline: "console=ttyS0 quiet", Initrd: bytes.NewReader(initrd), InitrdSize: int64(len(initrd)), VCPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != Mode64 || st.RIP != HighMemStart+0x200 || st.RSI != ZeroPageAddr || st.CR3 != PML4Addr ||
		st.EFER != eferLME|eferLMA || st.CS.Selector != SelCode64 || st.CS.L != 1 || st.DS.Selector != SelData {
		t.Errorf("CPU state %+v", st)
	}
	got := make([]byte, len(payload))
	mem.Read(HighMemStart, got)
	if !bytes.Equal(got, payload) {
		t.Error("payload not at 1 MiB")
	}
	zp := make([]byte, zeroPageSize)
	mem.Read(ZeroPageAddr, zp)
	le := binary.LittleEndian
	if zp[hdrTypeOfLoader] != 0xff || zp[hdrLoadFlags]&loadFlagLoadedHigh == 0 || le.Uint32(zp[hdrMagic:]) != headerMagic {
		t.Error("boot protocol header fields")
	}
	if le.Uint32(zp[hdrCmdLinePtr:]) != CmdlineAddr {
		t.Errorf("cmd_line_ptr %#x", le.Uint32(zp[hdrCmdLinePtr:]))
	}
	cl := make([]byte, 20)
	mem.Read(CmdlineAddr, cl)
	if string(cl) != "console=ttyS0 quiet\x00" {
		t.Errorf("command line %q", cl)
	}
	rdAddr, rdSize := le.Uint32(zp[hdrRamdiskImage:]), le.Uint32(zp[hdrRamdiskSize:])
	if rdSize != uint32(len(initrd)) || rdAddr%4096 != 0 || uint64(rdAddr) < HighMemStart+16<<20 || uint64(rdAddr)+uint64(rdSize) > 128<<20 {
		t.Errorf("initrd at %#x size %d", rdAddr, rdSize)
	}
	gotRD := make([]byte, len(initrd))
	mem.Read(uint64(rdAddr), gotRD)
	if !bytes.Equal(gotRD, initrd) {
		t.Error("initrd content")
	}
	n := int(zp[zpE820Entries])
	want := MemoryMap(128 << 20)
	if n != len(want) {
		t.Fatalf("%d E820 entries, want %d", n, len(want))
	}
	for i, e := range want {
		o := zpE820Table + 20*i
		if le.Uint64(zp[o:]) != e.Addr || le.Uint64(zp[o+8:]) != e.Size || le.Uint32(zp[o+16:]) != e.Type {
			t.Errorf("E820 entry %d differs from %+v", i, e)
		}
	}
}

func TestBzImageRejects(t *testing.T) {
	mem := newMem(t, 32<<20)
	for _, c := range []struct {
		name   string
		img    []byte
		params Params
	}{
		{"no 64-bit entry", bzImage(nil, 1<<20, 0), Params{}},
		{"init_size beyond RAM", bzImage(nil, 64<<20, xlfKernel64), Params{}},
		{"command line too long", bzImage(nil, 1<<20, xlfKernel64), Params{Cmdline: string(bytes.Repeat([]byte("a"), 2048))}},
		{"NUL in command line", bzImage(nil, 1<<20, xlfKernel64), Params{Cmdline: "a\x00b"}},
		{"initrd too big", bzImage(nil, 1<<20, xlfKernel64), Params{Initrd: bytes.NewReader(nil), InitrdSize: 40 << 20}},
		{"garbage", bytes.Repeat([]byte{0x90}, 4096), Params{}},
	} {
		img, err := Probe(bytes.NewReader(c.img), int64(len(c.img)))
		if err == nil {
			_, err = Load(mem, img, c.params)
		}
		if !errors.Is(err, ErrImage) {
			t.Errorf("%s: %v, want ErrImage", c.name, err)
		}
	}
	old := bzImage(nil, 1<<20, xlfKernel64)
	binary.LittleEndian.PutUint16(old[hdrVersion:], 0x0205)
	if _, err := Probe(bytes.NewReader(old), int64(len(old))); !errors.Is(err, ErrImage) {
		t.Errorf("boot protocol 2.05 accepted: %v", err)
	}
}

// elfImage builds an ELF with one PT_LOAD at paddr and optionally a PVH
// note; class is 1 (32-bit) or 2 (64-bit).
func elfImage(class byte, paddr, entry uint64, code []byte, pvh uint32) []byte {
	le := binary.LittleEndian
	var note []byte
	if pvh != 0 {
		note = make([]byte, 20)
		le.PutUint32(note[0:], 4)
		le.PutUint32(note[4:], 4)
		le.PutUint32(note[8:], xenElfnotePhys32Entry)
		copy(note[12:], "Xen\x00")
		le.PutUint32(note[16:], pvh)
	}
	nph := 1
	if note != nil {
		nph = 2
	}
	if class == 2 {
		const ehsize, phsize = 64, 56
		dataOff := uint64(ehsize + phsize*nph)
		h := make([]byte, dataOff)
		copy(h, "\x7fELF\x02\x01\x01")
		le.PutUint16(h[16:], 2)  // ET_EXEC
		le.PutUint16(h[18:], 62) // EM_X86_64
		le.PutUint32(h[20:], 1)
		le.PutUint64(h[24:], entry)
		le.PutUint64(h[32:], ehsize)
		le.PutUint16(h[52:], ehsize)
		le.PutUint16(h[54:], phsize)
		le.PutUint16(h[56:], uint16(nph))
		p := h[ehsize:]
		le.PutUint32(p[0:], 1) // PT_LOAD
		le.PutUint64(p[8:], dataOff)
		le.PutUint64(p[16:], paddr)
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], uint64(len(code)))
		le.PutUint64(p[40:], uint64(len(code))+4096) // bss
		if note != nil {
			p = h[ehsize+phsize:]
			le.PutUint32(p[0:], 4) // PT_NOTE
			le.PutUint64(p[8:], dataOff+uint64(len(code)))
			le.PutUint64(p[32:], uint64(len(note)))
			le.PutUint64(p[40:], uint64(len(note)))
		}
		return append(append(h, code...), note...)
	}
	const ehsize, phsize = 52, 32
	dataOff := uint32(ehsize + phsize*nph)
	h := make([]byte, dataOff)
	copy(h, "\x7fELF\x01\x01\x01")
	le.PutUint16(h[16:], 2)
	le.PutUint16(h[18:], 3) // EM_386
	le.PutUint32(h[20:], 1)
	le.PutUint32(h[24:], uint32(entry))
	le.PutUint32(h[28:], ehsize)
	le.PutUint16(h[40:], ehsize)
	le.PutUint16(h[42:], phsize)
	le.PutUint16(h[44:], uint16(nph))
	p := h[ehsize:]
	le.PutUint32(p[0:], 1)
	le.PutUint32(p[4:], dataOff)
	le.PutUint32(p[8:], uint32(paddr))
	le.PutUint32(p[12:], uint32(paddr))
	le.PutUint32(p[16:], uint32(len(code)))
	le.PutUint32(p[20:], uint32(len(code)))
	if note != nil {
		p = h[ehsize+phsize:]
		le.PutUint32(p[0:], 4)
		le.PutUint32(p[4:], dataOff+uint32(len(code)))
		le.PutUint32(p[16:], uint32(len(note)))
		le.PutUint32(p[20:], uint32(len(note)))
	}
	return append(append(h, code...), note...)
}

func TestELF64PrefersLongModeEntry(t *testing.T) {
	mem := newMem(t, 64<<20)
	raw := elfImage(2, 0x200000, 0x200010, []byte("elf kernel code"), 0x200004)
	img, err := Probe(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || img.Kind != KindELF {
		t.Fatalf("Probe: %+v %v", img, err)
	}
	if e, ok := img.PVHEntry(); !ok || e != 0x200004 {
		t.Errorf("PVH entry %#x %v", e, ok)
	}
	st, err := Load(mem, img, Params{Cmdline: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != Mode64 || st.RIP != 0x200010 || st.KernelStart != 0x200000 || st.KernelEnd != 0x200000+15+4096 {
		t.Errorf("state %+v", st)
	}
	zp := make([]byte, 0x300)
	mem.Read(ZeroPageAddr, zp)
	if binary.LittleEndian.Uint32(zp[hdrMagic:]) != headerMagic || binary.LittleEndian.Uint16(zp[hdrBootFlag:]) != bootFlagMagic {
		t.Error("synthesized setup header")
	}
	// The same image booted through PVH.
	if err := img.UsePVH(); err != nil {
		t.Fatal(err)
	}
	st, err = Load(newMem(t, 64<<20), img, Params{})
	if err != nil || st.Mode != Mode16 || st.CS.Base != PVHTrampoline {
		t.Errorf("PVH: %+v %v", st, err)
	}
}

func TestPVHStartInfo(t *testing.T) {
	mem := newMem(t, 64<<20)
	raw := elfImage(1, 0x100000, 0x100000, []byte{0xf4}, 0x100000)
	img, err := Probe(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || img.Kind != KindPVH {
		t.Fatalf("Probe: %+v %v", img, err)
	}
	initrd := []byte("initrd!")
	st, err := Load(mem, img, Params{Cmdline: "pvh cmdline", Initrd: bytes.NewReader(initrd), InitrdSize: int64(len(initrd))})
	if err != nil {
		t.Fatal(err)
	}
	// The vCPU starts in real mode at the trampoline, which jumps to the
	// PVH entry with EBX = start_info.
	if st.Mode != Mode16 || st.CR0&(cr0PE|cr0PG) != 0 || st.CS.Base != PVHTrampoline || st.CS.Selector != PVHTrampoline>>4 || st.RIP != 0 {
		t.Errorf("state %+v", st)
	}
	tramp := make([]byte, len(pvhTrampoline()))
	mem.Read(PVHTrampoline, tramp)
	if binary.LittleEndian.Uint32(tramp[pvhTrampEntry:]) != 0x100000 || binary.LittleEndian.Uint32(tramp[pvhTrampInfo:]) != PVHStartInfo ||
		binary.LittleEndian.Uint32(tramp[pvhTrampGDTPtr+2:]) != GDTAddr || tramp[0] != 0xfa {
		t.Errorf("trampoline %x", tramp)
	}
	le := binary.LittleEndian
	si := make([]byte, 56)
	mem.Read(PVHStartInfo, si)
	if le.Uint32(si[0:]) != pvhMagic || le.Uint32(si[4:]) != 1 || le.Uint64(si[24:]) != CmdlineAddr || le.Uint32(si[12:]) != 1 {
		t.Errorf("start_info %x", si)
	}
	mod := make([]byte, 16)
	mem.Read(le.Uint64(si[16:]), mod)
	if le.Uint64(mod[8:]) != uint64(len(initrd)) {
		t.Errorf("module size %d", le.Uint64(mod[8:]))
	}
	if n := le.Uint32(si[48:]); n != uint32(len(MemoryMap(64<<20))) {
		t.Errorf("%d memmap entries", n)
	}
	bad := elfImage(1, 0x100000, 0x100000, []byte{0xf4}, 0)
	if _, err := Probe(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrImage) {
		t.Errorf("32-bit ELF without PVH note: %v", err)
	}
}

func TestELFRejectsLowSegmentsAndBadEntry(t *testing.T) {
	for name, raw := range map[string][]byte{
		"segment below 1 MiB":   elfImage(2, 0x8000, 0x8000, []byte{1}, 0),
		"entry outside image":   elfImage(2, 0x200000, 0x900000, []byte{1}, 0),
		"segment beyond memory": elfImage(2, 0x7000000, 0x7000000, []byte{1}, 0),
	} {
		img, err := Probe(bytes.NewReader(raw), int64(len(raw)))
		if err == nil {
			_, err = Load(newMem(t, 64<<20), img, Params{})
		}
		if !errors.Is(err, ErrImage) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPageTablesAndGDT(t *testing.T) {
	mem := newMem(t, 16<<20)
	if err := writePageTables(mem); err != nil {
		t.Fatal(err)
	}
	if err := writeGDT(mem); err != nil {
		t.Fatal(err)
	}
	v, _ := mem.Uint64(PML4Addr)
	if v != PDPTAddr|3 {
		t.Errorf("PML4[0] %#x", v)
	}
	v, _ = mem.Uint64(PDPTAddr + 3*8)
	if v != PDAddr+3*4096|3 {
		t.Errorf("PDPT[3] %#x", v)
	}
	v, _ = mem.Uint64(PDAddr + 2047*8)
	if v != 2047<<21|0x83 {
		t.Errorf("last PD entry %#x (want 4 GiB identity map)", v)
	}
	for sel, want := range map[uint64]uint64{SelCode32: 0x00cf9b000000ffff, SelCode64: 0x00af9b000000ffff, SelData: 0x00cf93000000ffff,
		SelTSS: 0x00008b0000000067, SelTSS32: 0x0000890000000067} {
		if got, _ := mem.Uint64(GDTAddr + sel); got != want {
			t.Errorf("GDT[%#x] = %#016x, want %#016x", sel, got, want)
		}
	}
}

func TestMPTable(t *testing.T) {
	mem := newMem(t, 16<<20)
	if err := WriteMPTable(mem, 4, []PCIRoute{{Slot: 1, IRQ: 11}}); err != nil {
		t.Fatal(err)
	}
	float := make([]byte, mpFloatSize)
	mem.Read(MPTableAddr, float)
	if string(float[:4]) != "_MP_" || checksum(float) != 0 {
		t.Fatalf("floating pointer %x", float)
	}
	addr := binary.LittleEndian.Uint32(float[4:])
	hdr := make([]byte, mpHeaderSize)
	mem.Read(uint64(addr), hdr)
	length := binary.LittleEndian.Uint16(hdr[4:])
	table := make([]byte, length)
	mem.Read(uint64(addr), table)
	if string(table[:4]) != "PCMP" || checksum(table) != 0 {
		t.Fatal("configuration table signature or checksum")
	}
	cpus, bsp, pciRoute := 0, 0, false
	for p := table[mpHeaderSize:]; len(p) > 0; {
		switch p[0] {
		case 0:
			cpus++
			if p[3]&2 != 0 {
				bsp++
			}
			p = p[mpCPUSize:]
		case 3:
			if p[4] == mpPCIBus && p[5] == 1<<2 && p[7] == 11 {
				pciRoute = true
			}
			p = p[mpEntrySize:]
		default:
			p = p[mpEntrySize:]
		}
	}
	if cpus != 4 || bsp != 1 || !pciRoute {
		t.Errorf("cpus %d bsp %d pci route %v", cpus, bsp, pciRoute)
	}
	if err := WriteMPTable(mem, MaxVCPUs+1, nil); !errors.Is(err, ErrImage) {
		t.Error("too many vCPUs accepted")
	}
}

func TestMemoryMapAboveHole(t *testing.T) {
	m := MemoryMap(5 << 30)
	last := m[len(m)-1]
	if last.Addr != MMIOHoleEnd || last.Size != 2<<30 || last.Type != E820RAM {
		t.Errorf("high RAM %+v", last)
	}
	var ram uint64
	for _, e := range m {
		if e.Type == E820RAM {
			ram += e.Size
		}
	}
	// RAM minus the EBDA and BIOS area below 1 MiB.
	if ram != 5<<30-(HighMemStart-EBDAStart) {
		t.Errorf("RAM in map %d", ram)
	}
}
