package pci

import (
	"encoding/binary"
	"sync"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
)

// Configuration space offsets (PCI Local Bus 3.0 §6.1).
const (
	regVendor     = 0x00
	regCommand    = 0x04
	regStatus     = 0x06
	regRevision   = 0x08
	regHeaderType = 0x0e
	regBAR0       = 0x10
	regSubVendor  = 0x2c
	regSubDevice  = 0x2e
	regIntLine    = 0x3c
	regIntPin     = 0x3d

	cmdIO  = 0x0001
	cmdMem = 0x0002
)

// Header is the identity of an endpoint.
type Header struct {
	VendorID, DeviceID    uint16
	Class                 uint32 // class, subclass, prog-if
	Revision              uint8
	SubVendorID, SubsysID uint16
	// InterruptPin is 1 for INTA#, 0 for none; InterruptLine is the IRQ the
	// firmware routed it to.
	InterruptPin, InterruptLine uint8
}

// BAR is one base address register: an I/O or 32-bit memory region of
// Size bytes (a power of two) served by Dev, first placed at Addr.
type BAR struct {
	IO   bool
	Size uint32
	Addr uint32
	Dev  devices.Device
}

// Endpoint is a type-0 configuration space with up to six BARs. Moving a
// BAR, or toggling I/O or memory decoding, moves its device on the bus.
type Endpoint struct {
	mu   sync.Mutex
	cfg  [256]byte
	bars []BAR
	pio  *devices.Bus
	mmio *devices.Bus
	// mapped records where each BAR is inserted, 0 if not.
	mapped []uint64
}

// NewEndpoint returns an endpoint; BARs are mapped when AttachBARs is
// called with the buses.
func NewEndpoint(h Header, bars []BAR) *Endpoint {
	e := &Endpoint{bars: append([]BAR(nil), bars...)}
	e.mapped = make([]uint64, len(bars))
	c := e.cfg[:]
	binary.LittleEndian.PutUint16(c[regVendor:], h.VendorID)
	binary.LittleEndian.PutUint16(c[regVendor+2:], h.DeviceID)
	c[regRevision] = h.Revision
	c[regRevision+1] = uint8(h.Class)
	c[regRevision+2] = uint8(h.Class >> 8)
	c[regRevision+3] = uint8(h.Class >> 16)
	c[regHeaderType] = 0
	binary.LittleEndian.PutUint16(c[regSubVendor:], h.SubVendorID)
	binary.LittleEndian.PutUint16(c[regSubDevice:], h.SubsysID)
	c[regIntPin] = h.InterruptPin
	c[regIntLine] = h.InterruptLine
	var cmd uint16
	for i, b := range bars {
		v := b.Addr &^ (b.Size - 1)
		if b.IO {
			v |= 1
			cmd |= cmdIO
		} else {
			cmd |= cmdMem
		}
		binary.LittleEndian.PutUint32(c[regBAR0+4*i:], v)
	}
	binary.LittleEndian.PutUint16(c[regCommand:], cmd)
	return e
}

// AttachBARs maps the BARs on the buses, as firmware would have.
func (e *Endpoint) AttachBARs(pio, mmio *devices.Bus) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pio, e.mmio = pio, mmio
	return e.remapLocked()
}

// DetachBARs removes the BARs from the buses (hot-unplug).
func (e *Endpoint) DetachBARs() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.bars {
		e.unmapLocked(i)
	}
}

func (e *Endpoint) bus(i int) *devices.Bus {
	if e.bars[i].IO {
		return e.pio
	}
	return e.mmio
}

func (e *Endpoint) unmapLocked(i int) {
	if e.mapped[i] != 0 && e.bus(i) != nil {
		e.bus(i).Remove(e.mapped[i])
	}
	e.mapped[i] = 0
}

// remapLocked puts every BAR where its register points, if decoding is on.
func (e *Endpoint) remapLocked() error {
	cmd := binary.LittleEndian.Uint16(e.cfg[regCommand:])
	for i, b := range e.bars {
		v := binary.LittleEndian.Uint32(e.cfg[regBAR0+4*i:])
		addr := uint64(v &^ 0xf)
		on := cmd&cmdMem != 0
		if b.IO {
			addr = uint64(v &^ 0x3)
			on = cmd&cmdIO != 0
		}
		if !on || addr == 0 {
			e.unmapLocked(i)
			continue
		}
		if e.mapped[i] == addr {
			continue
		}
		e.unmapLocked(i)
		if bus := e.bus(i); bus != nil {
			if err := bus.Insert(addr, uint64(b.Size), b.Dev); err != nil {
				return err
			}
			e.mapped[i] = addr
		}
	}
	return nil
}

// ReadConfig implements Function.
func (e *Endpoint) ReadConfig(off uint64, data []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	devices.ReadWindow(e.cfg[:], off, data)
}

// WriteConfig implements Function: only the command register, BARs and
// interrupt line are writable.
func (e *Endpoint) WriteConfig(off uint64, data []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	remap := false
	for i, v := range data {
		o := off + uint64(i)
		switch {
		case o == regCommand:
			e.cfg[o] = v & 0x07 // I/O, memory, bus master
			remap = true
		case o == regCommand+1:
			e.cfg[o] = v & 0x05 // SERR, INTx disable
		case o >= regBAR0 && o < regBAR0+24:
			n := int(o-regBAR0) / 4
			if n >= len(e.bars) {
				continue
			}
			e.cfg[o] = v
			remap = true
		case o == regIntLine:
			e.cfg[o] = v
		}
	}
	// BAR sizing: the guest writes all-ones and reads back the size mask;
	// normalize every touched BAR to its size and type bits.
	for i, b := range e.bars {
		p := e.cfg[regBAR0+4*i:]
		v := binary.LittleEndian.Uint32(p) &^ (b.Size - 1)
		if b.IO {
			v |= 1
		} else {
			v &^= 0xf
		}
		binary.LittleEndian.PutUint32(p, v)
	}
	if remap {
		e.remapLocked() //nolint:errcheck // a BAR moved onto another device stays unmapped
	}
}

// Config returns a copy of the configuration space (for snapshots).
func (e *Endpoint) Config() [256]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// SetConfig restores a snapshot's configuration space and remaps the BARs.
func (e *Endpoint) SetConfig(cfg [256]byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg = cfg
	return e.remapLocked()
}
