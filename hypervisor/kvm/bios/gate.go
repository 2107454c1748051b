package bios

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// Disk is one hard disk the BIOS serves: drive 80h is the first.
type Disk interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
}

// Drive is a disk with its name and access mode.
type Drive struct {
	ID       string
	Disk     Disk
	ReadOnly bool
}

// Config connects a Gate to its machine.
type Config struct {
	Memory *guestmem.Memory
	// Drives lists the hard disks in BIOS order; it is called on every
	// disk service, so hot-plugged disks appear.
	Drives func() []Drive
	// Console receives int 10h output (the first serial port's sink).
	Console io.Writer
	// UART is the first serial port, read as the guest would (line status,
	// receive buffer) for int 16h keyboard input.
	UART devices.Device
	// PowerOff ends the run when the guest powers off through APM.
	PowerOff func(reason string)
	// BootFailed ends the run when the ROM found nothing to boot.
	BootFailed func(reason string)
	// Report receives guest misbehaviour the gate refused.
	Report func(err error)
	// Now is the clock int 1Ah reads; default time.Now.
	Now func() time.Time
}

// Gate is the BIOS gate on the port-I/O bus (GatePort, Ports long).
type Gate struct {
	cfg Config
}

var _ devices.Device = (*Gate)(nil)

// NewGate returns the gate device.
func NewGate(cfg Config) *Gate {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Gate{cfg: cfg}
}

// Errors the gate reports, errors.Is-testable.
var (
	ErrFrame = errors.New("bad BIOS gate frame")
	ErrDisk  = errors.New("bad int 13h request")
)

// Read implements devices.Device: the ports read as absent.
func (g *Gate) Read(_ uint64, data []byte) {
	for i := range data {
		data[i] = 0xff
	}
}

// Write implements devices.Device.
func (g *Gate) Write(offset uint64, data []byte) {
	switch {
	case offset == 0 && len(data) == 4:
		g.call(binary.LittleEndian.Uint32(data))
	case offset == HaltPort-GatePort && len(data) == 1:
		g.cfg.BootFailed(bootFailure(data[0]))
	default:
		g.report(fmt.Errorf("%w: %d-byte write at port %#x", ErrFrame, len(data), GatePort+offset))
	}
}

func bootFailure(code byte) string {
	switch code {
	case 1:
		return "firmware: no bootable disk: sector 0 of hard disk 0x80 cannot be read"
	case 2:
		return "firmware: no bootable disk: sector 0 of hard disk 0x80 lacks the 0x55AA boot signature"
	case 3:
		return "firmware: the boot loader gave up (int 18h)"
	}
	return fmt.Sprintf("firmware: boot failed (code %d)", code)
}

func (g *Gate) report(err error) {
	if g.cfg.Report != nil {
		g.cfg.Report(err)
	}
}

// frame layout (firmware/bios.S), offsets from SS:SP.
const (
	frMagic  = 0
	frEDI    = 2
	frESI    = 6
	frEBP    = 10
	frEBX    = 18
	frEDX    = 22
	frECX    = 26
	frEAX    = 30
	frES     = 34
	frDS     = 36
	frVector = 38
	frFlags  = 44
	frSize   = 46

	gateMagic = 0x4843

	flagCF = 1 << 0
	flagZF = 1 << 6
)

// frame is the caller's registers as the ROM saved them.
type frame struct {
	b [frSize]byte
}

func (f *frame) u16(off int) uint16      { return binary.LittleEndian.Uint16(f.b[off:]) }
func (f *frame) u32(off int) uint32      { return binary.LittleEndian.Uint32(f.b[off:]) }
func (f *frame) set16(off int, v uint16) { binary.LittleEndian.PutUint16(f.b[off:], v) }
func (f *frame) set32(off int, v uint32) { binary.LittleEndian.PutUint32(f.b[off:], v) }

func (f *frame) ah() byte       { return f.b[frEAX+1] }
func (f *frame) al() byte       { return f.b[frEAX] }
func (f *frame) setAH(v byte)   { f.b[frEAX+1] = v }
func (f *frame) setAL(v byte)   { f.b[frEAX] = v }
func (f *frame) ax() uint16     { return f.u16(frEAX) }
func (f *frame) setAX(v uint16) { f.set16(frEAX, v) }
func (f *frame) bx() uint16     { return f.u16(frEBX) }
func (f *frame) setBX(v uint16) { f.set16(frEBX, v) }
func (f *frame) cx() uint16     { return f.u16(frECX) }
func (f *frame) setCX(v uint16) { f.set16(frECX, v) }
func (f *frame) dx() uint16     { return f.u16(frEDX) }
func (f *frame) setDX(v uint16) { f.set16(frEDX, v) }
func (f *frame) ch() byte       { return f.b[frECX+1] }
func (f *frame) cl() byte       { return f.b[frECX] }
func (f *frame) dh() byte       { return f.b[frEDX+1] }
func (f *frame) dl() byte       { return f.b[frEDX] }
func (f *frame) es() uint16     { return f.u16(frES) }
func (f *frame) ds() uint16     { return f.u16(frDS) }
func (f *frame) si() uint16     { return f.u16(frESI) }
func (f *frame) di() uint16     { return f.u16(frEDI) }
func (f *frame) bp() uint16     { return f.u16(frEBP) }
func (f *frame) setFlag(bit uint16, on bool) {
	fl := f.u16(frFlags) &^ bit
	if on {
		fl |= bit
	}
	f.set16(frFlags, fl)
}

// fail sets CF and AH=status, the convention of int 13h and int 15h.
func (f *frame) fail(status byte) {
	f.setAH(status)
	f.setFlag(flagCF, true)
}

// ok clears CF.
func (f *frame) ok() { f.setFlag(flagCF, false) }

// linear is a real-mode segment:offset address.
func linear(seg, off uint16) uint64 { return uint64(seg)<<4 + uint64(off) }

// call serves one gate call; ssp is SS<<16|SP of the frame.
func (g *Gate) call(ssp uint32) {
	addr := linear(uint16(ssp>>16), uint16(ssp))
	mem := g.cfg.Memory
	var f frame
	if err := mem.Read(addr, f.b[:]); err != nil {
		g.report(fmt.Errorf("%w at %#x: %w", ErrFrame, addr, err))
		return
	}
	if f.u16(frMagic) != gateMagic {
		g.report(fmt.Errorf("%w at %#x: magic %#04x, want %#04x", ErrFrame, addr, f.u16(frMagic), gateMagic))
		return
	}
	switch v := f.u16(frVector); v {
	case 0x10:
		g.video(&f)
	case 0x13:
		g.disk(&f)
	case 0x15:
		g.system(&f)
	case 0x16:
		g.keyboard(&f)
	case 0x1a:
		g.clock(&f)
	default:
		g.report(fmt.Errorf("%w at %#x: vector %#x is not served by the gate", ErrFrame, addr, v))
		return
	}
	if err := mem.Write(addr, f.b[:]); err != nil {
		g.report(fmt.Errorf("%w at %#x: writing results: %w", ErrFrame, addr, err))
	}
}
