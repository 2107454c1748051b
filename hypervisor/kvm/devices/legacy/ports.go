package legacy

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Fixed ports of the small devices below.
const (
	// DebugExitPort is hypercim's debug-exit port (QEMU's isa-debug-exit
	// address): a byte written there powers the machine off, 0 meaning
	// success and anything else a failure code the guest reports.
	DebugExitPort = 0xf4
	// ResetControlPort is the PCI reset control register (Intel PIIX/ICH).
	ResetControlPort = 0xcf9
	// SystemControlPort is System Control Port A (fast A20 and reset).
	SystemControlPort = 0x92
	// PVPanicPort is QEMU's ISA pvpanic port.
	PVPanicPort = 0x505
	// POSTPort receives POST codes; Linux also writes it as an I/O delay.
	POSTPort = 0x80
)

// DebugExit powers the machine off with the status the guest writes.
type DebugExit struct {
	exit func(code uint8)
}

// NewDebugExit returns the port; exit is called with the byte written.
func NewDebugExit(exit func(code uint8)) *DebugExit { return &DebugExit{exit: exit} }

// Read implements devices.Device: the port reads as absent.
func (d *DebugExit) Read(_ uint64, data []byte) {
	for i := range data {
		data[i] = 0xff
	}
}

// Write implements devices.Device.
func (d *DebugExit) Write(_ uint64, data []byte) { d.exit(data[0]) }

// ResetControl is the 0xCF9 reset control register or System Control Port
// A at 0x92; both reset the machine on a bit the guest sets.
type ResetControl struct {
	mu    sync.Mutex
	val   uint8
	bit   uint8 // the bit that resets: 0x04 (RST_CPU) or 0x01 (fast reset)
	name  string
	reset func(reason string)
}

// NewResetControl returns the register at port 0xCF9.
func NewResetControl(reset func(reason string)) *ResetControl {
	return &ResetControl{bit: 0x04, name: "reset control register 0xcf9", reset: reset}
}

// NewSystemControlA returns System Control Port A at 0x92; it reads back
// with A20 enabled.
func NewSystemControlA(reset func(reason string)) *ResetControl {
	return &ResetControl{val: 0x02, bit: 0x01, name: "system control port 0x92", reset: reset}
}

// Read implements devices.Device.
func (r *ResetControl) Read(_ uint64, data []byte) {
	r.mu.Lock()
	data[0] = r.val
	r.mu.Unlock()
}

// Write implements devices.Device.
func (r *ResetControl) Write(_ uint64, data []byte) {
	r.mu.Lock()
	v := data[0]
	r.val = v &^ r.bit
	r.mu.Unlock()
	if v&r.bit != 0 {
		r.reset(fmt.Sprintf("guest wrote %#02x to the %s", v, r.name))
	}
}

// PVPanic is QEMU's pvpanic ISA device: a guest that crashes writes bit 0.
type PVPanic struct {
	panicked func(reason string)
}

// NewPVPanic returns the device; panicked is called once per write.
func NewPVPanic(panicked func(reason string)) *PVPanic { return &PVPanic{panicked: panicked} }

// Read implements devices.Device: the capabilities PANICKED and CRASH_LOADED.
func (p *PVPanic) Read(_ uint64, data []byte) { data[0] = 0x03 }

// Write implements devices.Device.
func (p *PVPanic) Write(_ uint64, data []byte) {
	switch {
	case data[0]&0x01 != 0:
		p.panicked("guest reported a panic through pvpanic")
	case data[0]&0x02 != 0:
		p.panicked("guest reported a crash dump load through pvpanic")
	}
}

// POST records the last POST code the guest wrote to port 0x80, which
// Linux also uses as a short I/O delay.
type POST struct{ last atomic.Uint32 }

// Read implements devices.Device.
func (p *POST) Read(_ uint64, data []byte) { data[0] = uint8(p.last.Load()) }

// Write implements devices.Device.
func (p *POST) Write(_ uint64, data []byte) { p.last.Store(uint32(data[0])) }

// Last returns the last code written.
func (p *POST) Last() uint8 { return uint8(p.last.Load()) }
