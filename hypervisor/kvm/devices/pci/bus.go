package pci

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
)

// Configuration mechanism #1 ports.
const (
	ConfigAddressPort = 0xcf8
	ConfigDataPort    = 0xcfc
	// Slots is the number of device slots on bus 0.
	Slots = 32
)

// ErrNoSlot is returned when every slot of the bus is taken.
var ErrNoSlot = errors.New("no free PCI slot")

// Function is one PCI function's configuration space.
type Function interface {
	ReadConfig(off uint64, data []byte)
	WriteConfig(off uint64, data []byte)
}

// Bus is PCI bus 0 behind configuration mechanism #1.
type Bus struct {
	mu    sync.Mutex
	addr  uint32
	slots [Slots]Function
}

// NewBus returns a bus with a host bridge in slot 0.
func NewBus() *Bus {
	b := &Bus{}
	b.slots[0] = NewEndpoint(Header{VendorID: 0x1b36, DeviceID: 0x0008, Class: 0x060000}, nil)
	return b
}

// Plug puts f into a free slot and returns the slot number.
func (b *Bus) Plug(f Function) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := 1; i < Slots; i++ {
		if b.slots[i] == nil {
			b.slots[i] = f
			return i, nil
		}
	}
	return 0, ErrNoSlot
}

// PlugAt puts f into slot, which must be free (restoring a snapshot keeps
// the guest's view of the bus).
func (b *Bus) PlugAt(slot int, f Function) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slot <= 0 || slot >= Slots || b.slots[slot] != nil {
		return fmt.Errorf("PCI slot %d is not free", slot)
	}
	b.slots[slot] = f
	return nil
}

// Unplug empties slot.
func (b *Bus) Unplug(slot int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slot > 0 && slot < Slots {
		b.slots[slot] = nil
	}
}

// AddressPort returns the device for port 0xCF8 (4 bytes wide). Byte
// accesses are passed to other, which answers port 0xCF9 (reset control)
// inside the same dword.
func (b *Bus) AddressPort(other devices.Device) devices.Device {
	return &addressPort{bus: b, other: other}
}

// DataPort returns the device for ports 0xCFC-0xCFF.
func (b *Bus) DataPort() devices.Device { return dataPort{b} }

type addressPort struct {
	bus   *Bus
	other devices.Device
}

func (p *addressPort) Read(off uint64, data []byte) {
	if len(data) != 4 || off != 0 {
		if p.other != nil && off == 1 && len(data) == 1 {
			p.other.Read(0, data)
			return
		}
		devices.Put(data, 0xffffffff)
		return
	}
	p.bus.mu.Lock()
	binary.LittleEndian.PutUint32(data, p.bus.addr)
	p.bus.mu.Unlock()
}

func (p *addressPort) Write(off uint64, data []byte) {
	if len(data) != 4 || off != 0 {
		if p.other != nil && off == 1 && len(data) == 1 {
			p.other.Write(0, data)
		}
		return
	}
	p.bus.mu.Lock()
	p.bus.addr = binary.LittleEndian.Uint32(data) & 0x80fffffc
	p.bus.mu.Unlock()
}

type dataPort struct{ bus *Bus }

// target decodes the latched address: enable bit, bus 0, device, function
// 0 and register; anything else reads as all-ones (no device).
func (p dataPort) target(off uint64) (Function, uint64) {
	p.bus.mu.Lock()
	defer p.bus.mu.Unlock()
	a := p.bus.addr
	if a&0x80000000 == 0 || (a>>16)&0xff != 0 || (a>>8)&0x7 != 0 {
		return nil, 0
	}
	return p.bus.slots[(a>>11)&0x1f], uint64(a&0xfc) + off
}

func (p dataPort) Read(off uint64, data []byte) {
	f, reg := p.target(off)
	if f == nil {
		devices.Put(data, 0xffffffffffffffff)
		return
	}
	f.ReadConfig(reg, data)
}

func (p dataPort) Write(off uint64, data []byte) {
	if f, reg := p.target(off); f != nil {
		f.WriteConfig(reg, data)
	}
}

// FreeSlot returns the lowest free slot, or -1.
func (b *Bus) FreeSlot() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := 1; i < Slots; i++ {
		if b.slots[i] == nil {
			return i
		}
	}
	return -1
}
