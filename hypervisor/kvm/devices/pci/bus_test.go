package pci

import (
	"encoding/binary"
	"testing"

	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
)

type regs struct{ last uint64 }

func (r *regs) Read(off uint64, d []byte)  { devices.Put(d, 0x1234) }
func (r *regs) Write(off uint64, d []byte) { r.last = devices.Get(d) }

func cfgRead(b *Bus, slot int, reg uint32, n int) uint64 {
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], 0x80000000|uint32(slot)<<11|reg&0xfc)
	b.AddressPort(nil).Write(0, a[:])
	d := make([]byte, n)
	b.DataPort().Read(uint64(reg&3), d)
	return devices.Get(d)
}

func cfgWrite(b *Bus, slot int, reg uint32, v uint32) {
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], 0x80000000|uint32(slot)<<11|reg)
	b.AddressPort(nil).Write(0, a[:])
	binary.LittleEndian.PutUint32(a[:], v)
	b.DataPort().Write(0, a[:])
}

func TestConf1AndBARs(t *testing.T) {
	var pio, mmio devices.Bus
	b := NewBus()
	if v := cfgRead(b, 0, 0, 4); v != 0x00081b36 {
		t.Errorf("host bridge ID %#x", v)
	}
	if v := cfgRead(b, 5, 0, 4); v != 0xffffffff {
		t.Errorf("empty slot reads %#x", v)
	}
	dev := &regs{}
	ep := NewEndpoint(Header{VendorID: 0x1af4, DeviceID: 0x1001, Class: 0x010000, InterruptPin: 1, InterruptLine: 10},
		[]BAR{{IO: true, Size: 0x100, Addr: 0xc100, Dev: dev}})
	slot, err := b.Plug(ep)
	if err != nil || slot != 1 {
		t.Fatalf("Plug: %d %v", slot, err)
	}
	if err := ep.AttachBARs(&pio, &mmio); err != nil {
		t.Fatal(err)
	}
	if v := cfgRead(b, 1, 0x10, 4); v != 0xc101 {
		t.Errorf("BAR0 %#x", v)
	}
	if v := cfgRead(b, 1, 0x3c, 2); v != 0x010a {
		t.Errorf("interrupt pin/line %#x", v)
	}
	if v := cfgRead(b, 1, 0x0a, 2); v != 0x0100 {
		t.Errorf("class %#x (16-bit read at offset 0xa)", v)
	}
	// BAR sizing as firmware does it.
	cfgWrite(b, 1, 0x10, 0xffffffff)
	if v := cfgRead(b, 1, 0x10, 4); v != 0xffffff01 {
		t.Errorf("BAR size mask %#x", v)
	}
	// Move the BAR; the device follows on the port bus.
	cfgWrite(b, 1, 0x10, 0xd000)
	if _, _, ok := pio.Lookup(0xc100); ok {
		t.Error("old BAR address still decoded")
	}
	pio.Write(0xd010, []byte{7, 0})
	if dev.last != 7 {
		t.Error("moved BAR does not reach the device")
	}
	// Turning I/O decoding off unmaps it.
	cfgWrite(b, 1, 0x04, 0)
	if _, _, ok := pio.Lookup(0xd000); ok {
		t.Error("BAR decoded with I/O space disabled")
	}
	if v := cfgRead(b, 1, 0x00, 2); v != 0x1af4 {
		t.Error("vendor ID changed")
	}
	cfgWrite(b, 1, 0x00, 0) // read-only
	if v := cfgRead(b, 1, 0x00, 4); v != 0x10011af4 {
		t.Errorf("IDs writable: %#x", v)
	}
	b.Unplug(1)
	if b.FreeSlot() != 1 {
		t.Error("unplugged slot not free")
	}
}

func TestResetRegisterShare(t *testing.T) {
	rst := &regs{}
	p := NewBus().AddressPort(rst)
	p.Write(1, []byte{0x06})
	if rst.last != 6 {
		t.Error("byte write to 0xcf9 not passed on")
	}
}
