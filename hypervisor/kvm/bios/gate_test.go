package bios

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/legacy"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// memDisk is a disk in memory.
type memDisk struct{ b []byte }

func (d *memDisk) Size() int64 { return int64(len(d.b)) }
func (d *memDisk) ReadAt(p []byte, off int64) (int, error) {
	return copy(p, d.b[off:]), nil
}
func (d *memDisk) WriteAt(p []byte, off int64) (int, error) {
	return copy(d.b[off:], p), nil
}

type noIRQ struct{}

func (noIRQ) SetLevel(bool) error { return nil }
func (noIRQ) Pulse() error        { return nil }

// rig is a gate on 2 MiB of RAM with one 1 MiB disk, a UART and records
// of everything it reported.
type rig struct {
	mem      *guestmem.Memory
	gate     *Gate
	disk     *memDisk
	uart     *legacy.Serial
	console  bytes.Buffer
	reports  []error
	poweroff string
	readOnly bool
}

const frameAt = 0x7000 // SS=0700h, SP=0

func newRig(t *testing.T) *rig {
	t.Helper()
	mem, err := guestmem.New(guestmem.Region{GPA: 0, Data: make([]byte, 2<<20)})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{mem: mem, disk: &memDisk{b: make([]byte, 1<<20)}}
	for i := range r.disk.b {
		r.disk.b[i] = byte(i / 512)
	}
	r.uart = legacy.NewSerial(&r.console, noIRQ{})
	r.gate = NewGate(Config{
		Memory:     mem,
		Drives:     func() []Drive { return []Drive{{ID: "disk0", Disk: r.disk, ReadOnly: r.readOnly}} },
		Console:    &r.console,
		UART:       r.uart,
		PowerOff:   func(reason string) { r.poweroff = reason },
		BootFailed: func(reason string) { r.poweroff = reason },
		Report:     func(err error) { r.reports = append(r.reports, err) },
		Now:        func() time.Time { return time.Date(2026, 11, 26, 13, 45, 30, 0, time.UTC) },
	})
	if err := writeBDA(mem, Machine{HardDisks: 1}); err != nil {
		t.Fatal(err)
	}
	return r
}

// call runs vector with the registers in regs (frame offsets) and returns
// the frame after the call.
func (r *rig) call(t *testing.T, vector uint16, regs map[int]uint32) *frame {
	t.Helper()
	var f frame
	f.set16(frMagic, gateMagic)
	f.set16(frVector, vector)
	f.set16(frFlags, 0x0202)
	for off, v := range regs {
		if off == frES || off == frDS {
			f.set16(off, uint16(v))
		} else {
			f.set32(off, v)
		}
	}
	if err := r.mem.Write(frameAt, f.b[:]); err != nil {
		t.Fatal(err)
	}
	r.gate.Write(0, binary.LittleEndian.AppendUint32(nil, frameAt>>4<<16))
	if err := r.mem.Read(frameAt, f.b[:]); err != nil {
		t.Fatal(err)
	}
	return &f
}

func cf(f *frame) bool { return f.u16(frFlags)&flagCF != 0 }

func TestDiskReadWriteCHSAndLBA(t *testing.T) {
	r := newRig(t)
	// CHS read of cylinder 0, head 1, sector 1 (LBA 63), 2 sectors to 1000h.
	f := r.call(t, 0x13, map[int]uint32{frEAX: 0x0202, frECX: 0x0001, frEDX: 0x0180, frEBX: 0x1000})
	if cf(f) || f.ah() != 0 || f.al() != 2 {
		t.Fatalf("CHS read: CF=%v AX=%04x", cf(f), f.ax())
	}
	got, _ := r.mem.Slice(0x1000, 1024)
	if got[0] != 63 || got[512] != 64 {
		t.Errorf("CHS 0/1/1 read sectors %d and %d, want 63 and 64", got[0], got[512])
	}
	// Extended write of one sector from 2000h to LBA 5.
	dap := []byte{0x10, 0, 1, 0, 0x00, 0x20, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0}
	r.mem.Write(0x600, dap)
	r.mem.Write(0x2000, bytes.Repeat([]byte{0xab}, 512))
	f = r.call(t, 0x13, map[int]uint32{frEAX: 0x4300, frEDX: 0x80, frESI: 0x600})
	if cf(f) || !bytes.Equal(r.disk.b[5*512:6*512], bytes.Repeat([]byte{0xab}, 512)) {
		t.Fatalf("extended write: CF=%v AH=%02x", cf(f), f.ah())
	}
	r.readOnly = true
	if f = r.call(t, 0x13, map[int]uint32{frEAX: 0x4300, frEDX: 0x80, frESI: 0x600}); !cf(f) || f.ah() != diskWriteProtect {
		t.Errorf("write to a read-only disk: CF=%v AH=%02x", cf(f), f.ah())
	}
	var st [1]byte
	r.mem.Read(bdaDiskStatus, st[:])
	if f = r.call(t, 0x13, map[int]uint32{frEAX: 0x0100, frEDX: 0x80}); f.ah() != diskWriteProtect || st[0] != diskWriteProtect {
		t.Errorf("AH=01h after a refused write: AH=%02x, BDA %02x", f.ah(), st[0])
	}
	if len(r.reports) != 0 {
		t.Errorf("valid requests were reported: %v", r.reports)
	}
}

func TestDiskRefusesBadRequests(t *testing.T) {
	r := newRig(t)
	dap := func(count uint16, seg uint16, lba uint64) {
		b := make([]byte, 16)
		b[0] = 0x10
		binary.LittleEndian.PutUint16(b[2:], count)
		binary.LittleEndian.PutUint16(b[6:], seg)
		binary.LittleEndian.PutUint64(b[8:], lba)
		r.mem.Write(0x600, b)
	}
	for name, c := range map[string]struct {
		regs   map[int]uint32
		setup  func()
		status byte
		report string
	}{
		"beyond the end": {map[int]uint32{frEAX: 0x4200, frEDX: 0x80, frESI: 0x600}, func() { dap(2, 0x100, 2047) }, diskBadCommand, "beyond the end"},
		"huge LBA":       {map[int]uint32{frEAX: 0x4200, frEDX: 0x80, frESI: 0x600}, func() { dap(1, 0x100, 1<<63) }, diskBadCommand, "sectors on the disk"},
		"too many":       {map[int]uint32{frEAX: 0x4200, frEDX: 0x80, frESI: 0x600}, func() { dap(128, 0x100, 0) }, diskBadCommand, "at most 127"},
		"over the ROM":   {map[int]uint32{frEAX: 0x4200, frEDX: 0x80, frESI: 0x600}, func() { dap(1, 0xf000, 0) }, diskBadCommand, "overlaps the BIOS"},
		"short packet":   {map[int]uint32{frEAX: 0x4200, frEDX: 0x80, frESI: 0x680}, func() {}, diskBadCommand, "16 or more"},
		"CHS sector 0":   {map[int]uint32{frEAX: 0x0201, frECX: 0x0000, frEDX: 0x80, frEBX: 0x1000}, func() {}, diskBadCommand, "outside the geometry"},
		"CHS count 0":    {map[int]uint32{frEAX: 0x0200, frECX: 0x0001, frEDX: 0x80, frEBX: 0x1000}, func() {}, diskBadCommand, "outside the geometry"},
		"no drive 81h":   {map[int]uint32{frEAX: 0x0201, frECX: 0x0001, frEDX: 0x81, frEBX: 0x1000}, func() {}, diskNoDrive, ""},
		"floppy":         {map[int]uint32{frEAX: 0x0201, frECX: 0x0001, frEDX: 0x00, frEBX: 0x1000}, func() {}, diskNoDrive, ""},
		"unknown AH":     {map[int]uint32{frEAX: 0x5000, frEDX: 0x80}, func() {}, diskBadCommand, "not supported"},
		"tiny params":    {map[int]uint32{frEAX: 0x4800, frEDX: 0x80, frESI: 0x700}, func() { r.mem.Write(0x700, []byte{4, 0}) }, diskBadCommand, "26 or more"},
	} {
		r.reports = nil
		c.setup()
		f := r.call(t, 0x13, c.regs)
		if !cf(f) || f.ah() != c.status {
			t.Errorf("%s: CF=%v AH=%02x, want CF and %02x", name, cf(f), f.ah(), c.status)
		}
		switch {
		case c.report == "" && len(r.reports) != 0:
			t.Errorf("%s: reported %v", name, r.reports)
		case c.report != "" && (len(r.reports) != 1 || !errors.Is(r.reports[0], ErrDisk) || !strings.Contains(r.reports[0].Error(), c.report)):
			t.Errorf("%s: reports %v, want one naming %q", name, r.reports, c.report)
		}
	}
}

func TestDiskParameters(t *testing.T) {
	r := newRig(t)
	f := r.call(t, 0x13, map[int]uint32{frEAX: 0x0800, frEDX: 0x80})
	// 2048 sectors: 16 heads, 63 sectors, 2 cylinders (max 1).
	if cf(f) || f.cx() != 0x013f || f.dx() != 0x0f01 {
		t.Errorf("AH=08h: CF=%v CX=%04x DX=%04x", cf(f), f.cx(), f.dx())
	}
	r.mem.Write(0x700, []byte{0x1e, 0})
	if f = r.call(t, 0x13, map[int]uint32{frEAX: 0x4800, frEDX: 0x80, frESI: 0x700}); cf(f) {
		t.Fatalf("AH=48h: AH=%02x", f.ah())
	}
	p, _ := r.mem.Slice(0x700, 0x1e)
	if binary.LittleEndian.Uint64(p[16:]) != 2048 || binary.LittleEndian.Uint16(p[24:]) != 512 || binary.LittleEndian.Uint32(p[26:]) != 0xffffffff {
		t.Errorf("AH=48h result % x", p)
	}
	if f = r.call(t, 0x13, map[int]uint32{frEAX: 0x1500, frEDX: 0x80}); cf(f) || f.ah() != 3 || f.dx() != 2048 {
		t.Errorf("AH=15h: CF=%v AX=%04x DX=%04x", cf(f), f.ax(), f.dx())
	}
	if f = r.call(t, 0x13, map[int]uint32{frEAX: 0x1500, frEDX: 0x81}); cf(f) || f.ah() != 0 {
		t.Errorf("AH=15h on an absent drive: CF=%v AH=%02x, want no such drive", cf(f), f.ah())
	}
	for _, c := range []struct{ sectors, c, h int64 }{{2048, 2, 16}, {1 << 21, 520, 64}, {1 << 40, 1024, 255}, {10, 1, 16}} {
		if g := geometryOf(c.sectors); g.cylinders != c.c || g.heads != c.h || g.sectors != 63 {
			t.Errorf("geometry of %d sectors: %+v", c.sectors, g)
		}
	}
}

func TestMemoryMapAndA20(t *testing.T) {
	r := newRig(t)
	var got []boot.E820Entry
	ebx := uint32(0)
	for i := 0; i < 10; i++ {
		f := r.call(t, 0x15, map[int]uint32{frEAX: 0xe820, frEDX: smap, frEBX: ebx, frECX: 24, frEDI: 0x500})
		if cf(f) || f.u32(frEAX) != smap || f.u32(frECX) != 24 {
			t.Fatalf("E820h entry %d: CF=%v EAX=%08x ECX=%d", i, cf(f), f.u32(frEAX), f.u32(frECX))
		}
		b, _ := r.mem.Slice(0x500, 24)
		got = append(got, boot.E820Entry{Addr: binary.LittleEndian.Uint64(b), Size: binary.LittleEndian.Uint64(b[8:]), Type: binary.LittleEndian.Uint32(b[16:])})
		if ebx = f.u32(frEBX); ebx == 0 {
			break
		}
	}
	if want := boot.MemoryMap(2 << 20); len(got) != len(want) || got[len(got)-1] != want[len(want)-1] {
		t.Errorf("E820 map %+v, want %+v", got, want)
	}
	if f := r.call(t, 0x15, map[int]uint32{frEAX: 0xe820, frEDX: 0, frECX: 20}); !cf(f) {
		t.Error("E820h without the SMAP signature succeeded")
	}
	if f := r.call(t, 0x15, map[int]uint32{frEAX: 0xe801}); cf(f) || f.ax() != 1024 || f.bx() != 0 {
		t.Errorf("E801h: AX=%04x BX=%04x", f.ax(), f.bx())
	}
	if f := r.call(t, 0x15, map[int]uint32{frEAX: 0x2402}); cf(f) || f.al() != 1 {
		t.Errorf("A20 status: AL=%02x", f.al())
	}
	if f := r.call(t, 0x15, map[int]uint32{frEAX: 0x2400}); !cf(f) || f.ah() != sysUnsupported {
		t.Errorf("A20 disable: CF=%v AH=%02x", cf(f), f.ah())
	}
	if f := r.call(t, 0x15, map[int]uint32{frEAX: 0x5307, frEBX: 1, frECX: 2}); !cf(f) || r.poweroff != "" {
		t.Errorf("APM suspend: CF=%v poweroff %q", cf(f), r.poweroff)
	}
	if f := r.call(t, 0x15, map[int]uint32{frEAX: 0x5307, frEBX: 1, frECX: 3}); cf(f) || !strings.Contains(r.poweroff, "APM") {
		t.Errorf("APM off: CF=%v poweroff %q", cf(f), r.poweroff)
	}
}

func TestConsoleKeyboardClock(t *testing.T) {
	r := newRig(t)
	r.call(t, 0x10, map[int]uint32{frEAX: 0x0e41})
	r.mem.Write(0x800, []byte("h\x07i\x07"))
	r.call(t, 0x10, map[int]uint32{frEAX: 0x1303, frECX: 2, frEBP: 0x800})
	if got := r.console.String(); got != "Ahi" {
		t.Errorf("console %q", got)
	}
	if f := r.call(t, 0x16, map[int]uint32{frEAX: 0x0100}); f.u16(frFlags)&flagZF == 0 {
		t.Error("AH=01h with no input: ZF clear")
	}
	r.uart.Input([]byte("x\n"))
	if f := r.call(t, 0x16, map[int]uint32{frEAX: 0x0100}); f.u16(frFlags)&flagZF != 0 || f.ax() != 'x' {
		t.Errorf("peek: AX=%04x", f.ax())
	}
	if f := r.call(t, 0x16, map[int]uint32{frEAX: 0x0000}); f.ax() != 'x' {
		t.Errorf("read: AX=%04x", f.ax())
	}
	if f := r.call(t, 0x16, map[int]uint32{frEAX: 0x1000}); f.ax() != 0x1c0d {
		t.Errorf("read Enter: AX=%04x", f.ax())
	}
	if f := r.call(t, 0x1a, map[int]uint32{frEAX: 0x0200}); cf(f) || f.cx() != 0x1345 || f.dh() != 0x30 {
		t.Errorf("RTC time: CX=%04x DX=%04x", f.cx(), f.dx())
	}
	if f := r.call(t, 0x1a, map[int]uint32{frEAX: 0x0400}); cf(f) || f.cx() != 0x2026 || f.dx() != 0x1126 {
		t.Errorf("RTC date: CX=%04x DX=%04x", f.cx(), f.dx())
	}
	r.call(t, 0x1a, map[int]uint32{frEAX: 0x0100, frECX: 0x12, frEDX: 0x3456})
	if f := r.call(t, 0x1a, map[int]uint32{frEAX: 0x0000}); f.cx() != 0x12 || f.dx() != 0x3456 {
		t.Errorf("ticks: CX:DX=%04x:%04x", f.cx(), f.dx())
	}
}

func TestGateRefusesBadFrames(t *testing.T) {
	r := newRig(t)
	r.gate.Write(0, binary.LittleEndian.AppendUint32(nil, 0xffff_fff0)) // FFFF:FFF0 + 46 bytes: past 2 MiB? no: inside; bad magic
	r.gate.Write(0, []byte{1, 2})                                       // wrong width
	r.mem.Write(frameAt, binary.LittleEndian.AppendUint16(nil, 0x1234))
	r.gate.Write(0, binary.LittleEndian.AppendUint32(nil, frameAt>>4<<16))
	var f frame
	f.set16(frMagic, gateMagic)
	f.set16(frVector, 0x21)
	r.mem.Write(frameAt, f.b[:])
	r.gate.Write(0, binary.LittleEndian.AppendUint32(nil, frameAt>>4<<16))
	if len(r.reports) != 4 {
		t.Fatalf("reports %v, want 4", r.reports)
	}
	for _, err := range r.reports {
		if !errors.Is(err, ErrFrame) {
			t.Errorf("%v is not ErrFrame", err)
		}
	}
	small, _ := guestmem.New(guestmem.Region{GPA: 0, Data: make([]byte, 64<<10)})
	g := NewGate(Config{Memory: small, Report: func(err error) { r.reports = append(r.reports, err) }})
	g.Write(0, binary.LittleEndian.AppendUint32(nil, 0x9000<<16)) // 90000h is not RAM
	if !strings.Contains(r.reports[len(r.reports)-1].Error(), "not RAM") {
		t.Errorf("frame outside RAM: %v", r.reports[len(r.reports)-1])
	}
}

func TestLoadAndCheckImage(t *testing.T) {
	mem, _ := guestmem.New(guestmem.Region{GPA: 0, Data: make([]byte, 2<<20)})
	img := make([]byte, 4096)
	copy(img, "HCBIOS\x01")
	st, err := Load(mem, img, Machine{HardDisks: 2, Now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != boot.Mode16 || st.CS.Base != 0xf0000 || st.RIP != 0xfff0 {
		t.Errorf("reset state %+v", st)
	}
	var b [4]byte
	mem.Read(bdaTicks, b[:])
	if got := binary.LittleEndian.Uint32(b[:]); got != ticksPerDay/2 {
		t.Errorf("ticks at noon %#x, want %#x", got, ticksPerDay/2)
	}
	for _, bad := range [][]byte{img[:8], []byte(strings.Repeat("x", 4096)), append([]byte("HCBIOS\x02"), make([]byte, 4089)...), make([]byte, 128<<10)} {
		if err := CheckImage(bad); !errors.Is(err, ErrImage) {
			t.Errorf("image of %d bytes accepted: %v", len(bad), err)
		}
	}
}

// FuzzGate: whatever the guest leaves in the frame and the memory it
// points at, the gate answers or reports and never panics.
func FuzzGate(f *testing.F) {
	f.Add(uint32(frameAt>>4<<16), []byte{0x43, 0x48, 0, 0}, uint16(0x13), uint32(0x4200), uint32(0x80), uint32(0x600))
	f.Add(uint32(0xffffffff), []byte{}, uint16(0x15), uint32(0xe820), uint32(smap), uint32(0))
	f.Fuzz(func(t *testing.T, ssp uint32, packet []byte, vector uint16, eax, edx, esi uint32) {
		mem, _ := guestmem.New(guestmem.Region{GPA: 0, Data: make([]byte, 1<<20)})
		disk := &memDisk{b: make([]byte, 64<<10)}
		g := NewGate(Config{Memory: mem, Drives: func() []Drive { return []Drive{{ID: "d", Disk: disk}} },
			PowerOff: func(string) {}, BootFailed: func(string) {}})
		var fr frame
		fr.set16(frMagic, gateMagic)
		fr.set16(frVector, vector)
		fr.set32(frEAX, eax)
		fr.set32(frEDX, edx)
		fr.set32(frESI, esi)
		fr.set32(frEBX, esi)
		fr.set32(frECX, eax)
		mem.Write(frameAt, fr.b[:])
		mem.Write(uint64(esi&0xffff), packet)
		g.Write(0, binary.LittleEndian.AppendUint32(nil, frameAt>>4<<16))
		g.Write(0, binary.LittleEndian.AppendUint32(nil, ssp))
	})
}
