package bios

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Ports of the gate (firmware/bios.S names them alike).
const (
	// GatePort takes a 32-bit write of SS<<16|SP, the address of a gate
	// frame on the caller's stack.
	GatePort = 0x5f0
	// HaltPort takes a byte when booting failed; the byte says why.
	HaltPort = 0x5f4
	// Ports is the size of the port range the gate occupies.
	Ports = 8
)

// Image constraints.
const (
	imageEnd     = 0x100000 // the ROM ends at 1 MiB, reset vector 16 bytes below
	imageMax     = 64 << 10 // one real-mode segment, F000:0000-F000:FFFF
	imageMagic   = "HCBIOS"
	gateVersion  = 1
	resetVector  = 0xfff0
	romSegment   = 0xf000
	bootSegLimit = 0xffff
)

// ErrImage reports a file that is not a hypercim BIOS image.
var ErrImage = errors.New("not a hypercim BIOS image")

// CheckImage validates a firmware image: its identification, the gate
// protocol version this package speaks and a size that fits one segment.
func CheckImage(img []byte) error {
	switch {
	case len(img) < 32 || len(img) > imageMax || len(img)%16 != 0:
		return fmt.Errorf("%w: %d bytes, want a multiple of 16 up to %d", ErrImage, len(img), imageMax)
	case !bytes.HasPrefix(img, []byte(imageMagic)):
		return fmt.Errorf("%w: no %q identification", ErrImage, imageMagic)
	case img[len(imageMagic)] != gateVersion:
		return fmt.Errorf("%w: gate protocol version %d, this VMM speaks %d", ErrImage, img[len(imageMagic)], gateVersion)
	}
	return nil
}

// Machine is what the BIOS data area describes.
type Machine struct {
	HardDisks int
	// Now is the time of day the tick count starts from.
	Now time.Time
}

// BIOS data area (segment 0040h) and related addresses.
const (
	bdaCOM1       = 0x400
	bdaEBDASeg    = 0x40e
	bdaEquipment  = 0x410
	bdaBaseMemKB  = 0x413
	bdaKbdHead    = 0x41a
	bdaKbdTail    = 0x41c
	bdaKbdBuf     = 0x41e // 16 words
	bdaVideoMode  = 0x449
	bdaVideoCols  = 0x44a
	bdaTicks      = 0x46c
	bdaMidnight   = 0x470
	bdaDiskStatus = 0x474
	bdaHardDisks  = 0x475
	bdaKbdStart   = 0x480
	bdaKbdEnd     = 0x482
	bdaVideoRows  = 0x484

	kbdBufStart = 0x1e // offsets from 0400h, as the BDA stores them
	kbdBufEnd   = 0x3e

	// equipment: one serial port (bits 9-11), 80x25 colour (bits 4-5)
	equipmentWord = 1<<9 | 2<<4
	ticksPerDay   = 0x1800b0
)

// Load writes the ROM image at the top of the first MiB and the BIOS data
// area, and returns the boot vCPU's state: real mode at F000:FFF0, as a
// PC leaves reset.
func Load(mem *guestmem.Memory, img []byte, m Machine) (*boot.CPUState, error) {
	if err := CheckImage(img); err != nil {
		return nil, err
	}
	if mem.Size() < imageEnd {
		return nil, fmt.Errorf("%d bytes of RAM do not hold the BIOS below 1 MiB", mem.Size())
	}
	if err := mem.Write(imageEnd-uint64(len(img)), img); err != nil {
		return nil, fmt.Errorf("writing the BIOS image: %w", err)
	}
	if err := writeBDA(mem, m); err != nil {
		return nil, err
	}
	st := &boot.CPUState{Mode: boot.Mode16, RIP: resetVector, RFLAGS: 2, CR0: 0x10} // CR0.ET, as at reset
	st.CS = boot.Segment{Base: romSegment << 4, Limit: bootSegLimit, Selector: romSegment, Type: 0xb, Present: 1, S: 1}
	st.DS = boot.Segment{Limit: bootSegLimit, Type: 0x3, Present: 1, S: 1}
	st.TR = boot.Segment{Limit: 0xffff, Type: 0xb, Present: 1} // busy 32-bit TSS, the reset value
	return st, nil
}

func writeBDA(mem *guestmem.Memory, m Machine) error {
	bda := make([]byte, 0x100)
	le := binary.LittleEndian
	at := func(addr int) []byte { return bda[addr-0x400:] }
	le.PutUint16(at(bdaCOM1), 0x3f8)
	le.PutUint16(at(bdaEBDASeg), boot.EBDAStart>>4)
	le.PutUint16(at(bdaEquipment), equipmentWord)
	le.PutUint16(at(bdaBaseMemKB), boot.EBDAStart>>10)
	le.PutUint16(at(bdaKbdHead), kbdBufStart)
	le.PutUint16(at(bdaKbdTail), kbdBufStart)
	at(bdaVideoMode)[0] = 3
	le.PutUint16(at(bdaVideoCols), 80)
	le.PutUint32(at(bdaTicks), ticksAt(m.Now))
	at(bdaHardDisks)[0] = byte(min(m.HardDisks, 255))
	le.PutUint16(at(bdaKbdStart), kbdBufStart)
	le.PutUint16(at(bdaKbdEnd), kbdBufEnd)
	at(bdaVideoRows)[0] = 24
	if err := mem.Write(0x400, bda); err != nil {
		return fmt.Errorf("writing the BIOS data area: %w", err)
	}
	// The EBDA's first word is its size in KiB.
	ebda := make([]byte, 0xa0000-boot.EBDAStart)
	le.PutUint16(ebda, uint16(len(ebda)>>10))
	if err := mem.Write(boot.EBDAStart, ebda); err != nil {
		return fmt.Errorf("writing the extended BIOS data area: %w", err)
	}
	return nil
}

// ticksAt is the BIOS tick count (18.2065 Hz since midnight) at t.
func ticksAt(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	ms := uint64(t.Sub(midnight).Milliseconds())
	return uint32(ms * ticksPerDay / uint64((24 * time.Hour).Milliseconds()))
}
