package bios

import (
	"encoding/binary"
	"fmt"
)

// int 13h status codes (AH), as PC BIOSes and the EDD specification
// define them.
const (
	diskOK           = 0x00
	diskBadCommand   = 0x01 // invalid function or parameter
	diskWriteProtect = 0x03
	diskNotFound     = 0x04 // sector not found / read error
	diskWriteFault   = 0xcc
	diskNoDrive      = 0x80 // timeout: no such drive
	// diskKeepAH: the function succeeded and set AH to its answer.
	diskKeepAH = 0xff

	sector        = 512
	maxCHSCount   = 128 // sectors in one AH=02h/03h call
	maxExtCount   = 127 // sectors in one AH=42h/43h call (EDD 1.1)
	firstHardDisk = 0x80
	romStart      = 0xf0000 // transfers never overwrite the BIOS
	sectorsPerTrk = 63
)

// geometry is the logical CHS geometry the BIOS reports for a disk: 63
// sectors per track and the fewest heads (16 to 255, the "LBA assist"
// translation) that keep the cylinders at 1024 or fewer.
type geometry struct {
	cylinders, heads, sectors int64
}

func geometryOf(total int64) geometry {
	heads := int64(255)
	for _, h := range []int64{16, 32, 64, 128} {
		if total/(h*sectorsPerTrk) <= 1024 {
			heads = h
			break
		}
	}
	c := min(max(total/(heads*sectorsPerTrk), 1), 1024)
	return geometry{cylinders: c, heads: heads, sectors: sectorsPerTrk}
}

// disk serves int 13h.
func (g *Gate) disk(f *frame) {
	fn := f.ah()
	status := g.diskCall(f, fn)
	if status == diskKeepAH {
		// AH holds an answer (drive type, EDD version), not a status.
		status = diskOK
		f.ok()
	} else {
		f.setAH(status)
		f.setFlag(flagCF, status != diskOK)
	}
	g.cfg.Memory.Write(bdaDiskStatus, []byte{status}) //nolint:errcheck // the BDA is RAM on every machine the VMM builds
}

func (g *Gate) diskCall(f *frame, fn byte) byte {
	if fn == 0x01 { // status of the last operation
		var b [1]byte
		g.cfg.Memory.Read(bdaDiskStatus, b[:]) //nolint:errcheck // as above
		return b[0]
	}
	drives := g.cfg.Drives()
	dl := int(f.dl())
	if dl < firstHardDisk || dl-firstHardDisk >= len(drives) {
		// Loaders probe drives in turn: an absent one is an answer, not
		// misbehaviour worth a report. AH=15h says "no such drive".
		if fn == 0x15 {
			f.setAH(0)
			return diskKeepAH
		}
		return diskNoDrive
	}
	d := drives[dl-firstHardDisk]
	total := d.Disk.Size() / sector
	geo := geometryOf(total)
	switch fn {
	case 0x00, 0x0d, 0x10, 0x11: // reset, alternate reset, test ready, recalibrate
		return diskOK
	case 0x02, 0x03, 0x04, 0x0c: // read, write, verify, seek (CHS)
		return g.chsTransfer(f, d, geo, total, fn)
	case 0x08: // drive parameters
		maxCyl := geo.cylinders - 1
		f.setCX(uint16(maxCyl&0xff)<<8 | uint16(maxCyl>>8&3)<<6 | uint16(geo.sectors))
		f.setDX(uint16(geo.heads-1)<<8 | uint16(len(drives)))
		f.setBX(0)
		f.set16(frES, 0)
		f.set16(frEDI, 0)
		f.setAL(0)
		return diskOK
	case 0x15: // drive type: 3 = hard disk, CX:DX sectors
		n := min(total, 0xffffffff)
		f.setCX(uint16(n >> 16))
		f.setDX(uint16(n))
		f.setAH(0x03)
		return diskKeepAH
	case 0x41: // extensions present
		if f.bx() != 0x55aa {
			return diskBadCommand
		}
		f.setBX(0xaa55)
		f.setCX(0x0001) // fixed disk access subset: 42h-44h, 47h, 48h
		f.setAH(0x21)   // EDD 1.1
		return diskKeepAH
	case 0x42, 0x43, 0x44, 0x47: // extended read, write, verify, seek
		return g.extTransfer(f, d, total, fn)
	case 0x48: // extended drive parameters
		return g.extParams(f, geo, total)
	}
	g.report(fmt.Errorf("%w: function %#02x on drive %#02x is not supported", ErrDisk, fn, dl))
	return diskBadCommand
}

// chsTransfer serves AH=02h-04h and 0Ch: AL sectors at cylinder CH (bits
// 8-9 in CL 6-7), head DH, sector CL 0-5 (from 1), buffer ES:BX.
func (g *Gate) chsTransfer(f *frame, d Drive, geo geometry, total int64, fn byte) byte {
	count := int64(f.al())
	cyl := int64(f.ch()) | int64(f.cl()&0xc0)<<2
	head, sec := int64(f.dh()), int64(f.cl()&0x3f)
	if fn == 0x0c {
		count = 1
	}
	f.setAL(0)
	if count == 0 || count > maxCHSCount || sec == 0 || sec > geo.sectors || head >= geo.heads || cyl >= geo.cylinders {
		g.report(fmt.Errorf("%w: drive %s: CHS %d/%d/%d, %d sectors is outside the geometry %d/%d/%d",
			ErrDisk, d.ID, cyl, head, sec, count, geo.cylinders, geo.heads, geo.sectors))
		return diskBadCommand
	}
	lba := (cyl*geo.heads+head)*geo.sectors + sec - 1
	status := g.transfer(d, total, fn, lba, count, linear(f.es(), f.bx()))
	if status == diskOK {
		f.setAL(byte(count))
	}
	return status
}

// Disk address packet (EDD): size, reserved, count, offset:segment, LBA,
// and a 64-bit flat buffer address when the packet is 18h bytes long and
// offset:segment is FFFF:FFFF.
const (
	dapCount  = 2
	dapBuffer = 4
	dapLBA    = 8
	dapFlat   = 16
)

// extTransfer serves AH=42h-44h and 47h with the packet at DS:SI.
func (g *Gate) extTransfer(f *frame, d Drive, total int64, fn byte) byte {
	mem := g.cfg.Memory
	at := linear(f.ds(), f.si())
	var dap [24]byte
	if err := mem.Read(at, dap[:16]); err != nil {
		g.report(fmt.Errorf("%w: drive %s: disk address packet at %#x: %w", ErrDisk, d.ID, at, err))
		return diskBadCommand
	}
	le := binary.LittleEndian
	size, count, lba := dap[0], int64(le.Uint16(dap[dapCount:])), le.Uint64(dap[dapLBA:])
	buf := linear(le.Uint16(dap[dapBuffer+2:]), le.Uint16(dap[dapBuffer:]))
	if size < 0x10 {
		g.report(fmt.Errorf("%w: drive %s: disk address packet at %#x is %d bytes, want 16 or more", ErrDisk, d.ID, at, size))
		return diskBadCommand
	}
	if le.Uint32(dap[dapBuffer:]) == 0xffffffff && size >= 0x18 {
		if err := mem.Read(at+dapFlat, dap[dapFlat:]); err != nil {
			g.report(fmt.Errorf("%w: drive %s: disk address packet at %#x: %w", ErrDisk, d.ID, at, err))
			return diskBadCommand
		}
		buf = le.Uint64(dap[dapFlat:])
	}
	if fn == 0x47 {
		count = 0
	}
	if count > maxExtCount || lba > uint64(total) {
		g.report(fmt.Errorf("%w: drive %s: %d sectors at LBA %d (at most %d per call, %d sectors on the disk)",
			ErrDisk, d.ID, count, lba, maxExtCount, total))
		mem.Write(at+dapCount, []byte{0, 0}) //nolint:errcheck // read above
		return diskBadCommand
	}
	status := byte(diskOK)
	if count > 0 {
		status = g.transfer(d, total, fn-0x40, int64(lba), count, buf)
	}
	if status != diskOK {
		mem.Write(at+dapCount, []byte{0, 0}) //nolint:errcheck // read above
	}
	return status
}

// extParams fills the result buffer at DS:SI (EDD 1.1, 1Ah bytes; 1Eh
// with an absent EDD configuration pointer).
func (g *Gate) extParams(f *frame, geo geometry, total int64) byte {
	mem := g.cfg.Memory
	at := linear(f.ds(), f.si())
	var hdr [2]byte
	if err := mem.Read(at, hdr[:]); err != nil {
		g.report(fmt.Errorf("%w: drive parameter buffer at %#x: %w", ErrDisk, at, err))
		return diskBadCommand
	}
	size := binary.LittleEndian.Uint16(hdr[:])
	if size < 0x1a {
		g.report(fmt.Errorf("%w: drive parameter buffer at %#x is %d bytes, want 26 or more", ErrDisk, at, size))
		return diskBadCommand
	}
	n := 0x1a
	if size >= 0x1e {
		n = 0x1e
	}
	b := make([]byte, n)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(n))
	le.PutUint16(b[2:], 0x0002) // CHS information is valid
	le.PutUint32(b[4:], uint32(geo.cylinders))
	le.PutUint32(b[8:], uint32(geo.heads))
	le.PutUint32(b[12:], uint32(geo.sectors))
	le.PutUint64(b[16:], uint64(total))
	le.PutUint16(b[24:], sector)
	if n == 0x1e {
		le.PutUint32(b[26:], 0xffffffff) // no EDD configuration parameters
	}
	if err := mem.Write(at, b); err != nil {
		g.report(fmt.Errorf("%w: drive parameter buffer at %#x: %w", ErrDisk, at, err))
		return diskBadCommand
	}
	return diskOK
}

// transfer moves count sectors at lba between the disk and guest memory
// at buf; fn is 02h (read), 03h (write), 04h (verify) or 0Ch (seek).
func (g *Gate) transfer(d Drive, total int64, fn byte, lba, count int64, buf uint64) byte {
	if lba < 0 || lba+count > total {
		g.report(fmt.Errorf("%w: drive %s: sectors %d-%d are beyond the end of the disk (%d sectors)",
			ErrDisk, d.ID, lba, lba+count-1, total))
		return diskBadCommand
	}
	if fn == 0x04 || fn == 0x0c {
		return diskOK
	}
	n := uint64(count) * sector
	mem, err := g.cfg.Memory.Slice(buf, n)
	if err == nil && buf < imageEnd && buf+n > romStart {
		err = fmt.Errorf("it overlaps the BIOS at %#x-%#x", romStart, imageEnd-1)
	}
	if err != nil {
		g.report(fmt.Errorf("%w: drive %s: buffer %#x+%#x: %w", ErrDisk, d.ID, buf, n, err))
		return diskBadCommand
	}
	off := lba * sector
	if fn == 0x03 {
		if d.ReadOnly {
			return diskWriteProtect
		}
		if _, err := d.Disk.WriteAt(mem, off); err != nil {
			g.report(fmt.Errorf("drive %s: writing %d sectors at LBA %d: %w", d.ID, count, lba, err))
			return diskWriteFault
		}
		return diskOK
	}
	if _, err := d.Disk.ReadAt(mem, off); err != nil {
		g.report(fmt.Errorf("drive %s: reading %d sectors at LBA %d: %w", d.ID, count, lba, err))
		return diskNotFound
	}
	return diskOK
}
