package kvm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/pci"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/blk"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/mmio"
	vnet "github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/net"
	vpci "github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/pci"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/rng"
)

// Placement of virtio devices.
const (
	// mmioWindows is how many virtio-mmio windows a machine on the MMIO
	// transport has; empty ones take hot-plugged devices.
	mmioWindows = 16
	// pciIOBase is where legacy virtio-pci I/O BARs start; slot s gets
	// pciIOBase + s*BARSize.
	pciIOBase = 0xc000
	// rngID names the entropy device every machine has.
	rngID = "rng0"
)

// mmioIRQs are the ISA interrupts virtio-mmio windows use in turn: free
// lines below 16, so guests on the 8259 PIC reach them too.
func mmioIRQ(window int) uint32 {
	irqs := [...]uint32{5, 6, 7, 9, 12, 14, 15}
	return irqs[window%len(irqs)]
}

// pciIRQ is the line INTA# of slot s is routed to (two shared
// level-triggered lines, like a simple PC chipset).
func pciIRQ(slot int) uint8 { return uint8(10 + slot%2) }

// virtioSlot is one virtio device of a VM and where it is plugged.
type virtioSlot struct {
	id     string
	dev    virtio.Device
	blk    *blk.Device
	disk   diskImage // the image behind blk, which the BIOS reads too
	net    *vnet.Device
	closer io.Closer
	window *mmioWindow     // MMIO transport
	pci    *vpci.Transport // PCI transport
	slot   int             // PCI slot
}

// mmioWindow is one virtio-mmio register window.
type mmioWindow struct {
	base uint64
	irq  uint32
	t    *mmio.Transport
	slot *virtioSlot
}

func (v *vm) reporter() devices.Reporter { return devices.ReporterFunc(v.report) }

// addVirtioDevices creates the windows (MMIO transport) and plugs the
// configured disks and adapters, then the entropy device.
func (v *vm) addVirtioDevices(placement map[string]int) error {
	at := func(id string) int {
		if p, ok := placement[id]; ok {
			return p
		}
		return -1
	}
	if v.opts.Transport == TransportMMIO {
		for i := 0; i < mmioWindows; i++ {
			w := &mmioWindow{base: boot.VirtioMMIOBase + uint64(i)*mmio.WindowSize, irq: mmioIRQ(i)}
			w.t = mmio.New(nil, v.ram.mem, nil, v.reporter())
			if err := v.mmio.Insert(w.base, mmio.WindowSize, w.t); err != nil {
				return err
			}
			v.windows = append(v.windows, w)
		}
	}
	for _, d := range v.cfg.Disks {
		if err := v.attachDisk(d, at(d.ID)); err != nil {
			return err
		}
	}
	for _, n := range v.cfg.NICs {
		if err := v.attachNIC(n, at(n.ID)); err != nil {
			return err
		}
	}
	return v.plug(&virtioSlot{id: rngID, dev: rng.New(rngID)}, at(rngID))
}

func (v *vm) attachDisk(d hypervisor.DiskConfig, at int) error {
	img, err := openDisk(d)
	if err != nil {
		return err
	}
	dev := blk.New(d.ID, d.ID, img, d.ReadOnly)
	if err := v.plug(&virtioSlot{id: d.ID, dev: dev, blk: dev, disk: img, closer: img}, at); err != nil {
		img.Close()
		return err
	}
	return nil
}

func (v *vm) attachNIC(n hypervisor.NICConfig, at int) error {
	mac, err := nicMAC(v.cfg.UUID, n)
	if err != nil {
		return err
	}
	var link io.ReadWriteCloser
	if n.Tap != "" {
		tap, err := vnet.OpenTap(n.Tap)
		if err != nil {
			return fmt.Errorf("NIC %s: %w", n.ID, err)
		}
		link = tap
	}
	dev := vnet.New(n.ID, mac, link)
	if err := v.plug(&virtioSlot{id: n.ID, dev: dev, net: dev, closer: dev}, at); err != nil {
		dev.Close()
		return err
	}
	return nil
}

// nicMAC returns the configured MAC or a stable locally administered one
// derived from the machine UUID and adapter ID.
func nicMAC(uuid string, n hypervisor.NICConfig) ([6]byte, error) {
	var mac [6]byte
	if n.MAC != "" {
		b, err := hex.DecodeString(strings.ReplaceAll(n.MAC, ":", ""))
		if err != nil || len(b) != 6 || len(n.MAC) != 17 {
			return mac, fmt.Errorf("%w: NIC %s: MAC %q is not six hex pairs", hypervisor.ErrInvalidConfig, n.ID, n.MAC)
		}
		copy(mac[:], b)
		return mac, nil
	}
	sum := sha256.Sum256([]byte(uuid + "/" + n.ID))
	mac = [6]byte{0x52, 0x54, 0x00, sum[0], sum[1], sum[2]}
	return mac, nil
}

// plug puts s on the VM's transport, at position at (window index or PCI
// slot) when restoring a snapshot, else in the first free place.
func (v *vm) plug(s *virtioSlot, at int) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.opts.Transport == TransportMMIO {
		var w *mmioWindow
		for i, c := range v.windows {
			if c.slot == nil && (at < 0 || at == i) {
				w = c
				break
			}
		}
		if w == nil {
			return fmt.Errorf("%w: no free virtio-mmio window for %s", hypervisor.ErrInvalidConfig, s.id)
		}
		t := mmio.New(s.dev, v.ram.mem, v.lines.line(w.irq), v.reporter())
		v.mmio.Remove(w.base)
		if err := v.mmio.Insert(w.base, mmio.WindowSize, t); err != nil {
			return err
		}
		w.t, w.slot, s.window = t, s, w
		v.virtio = append(v.virtio, s)
		return nil
	}
	slot := at
	if slot < 0 {
		if slot = v.pciBus.FreeSlot(); slot < 0 {
			return fmt.Errorf("%w: no free PCI slot for %s", hypervisor.ErrInvalidConfig, s.id)
		}
	}
	t := vpci.New(s.dev, v.ram.mem, uint32(pciIOBase+slot*vpci.BARSize), pciIRQ(slot),
		v.lines.line(uint32(pciIRQ(slot))), v.reporter())
	if err := v.pciBus.PlugAt(slot, t.Endpoint()); err != nil {
		return err
	}
	if err := t.Endpoint().AttachBARs(&v.pio, &v.mmio); err != nil {
		v.pciBus.Unplug(slot)
		return err
	}
	s.pci, s.slot = t, slot
	v.virtio = append(v.virtio, s)
	return nil
}

// unplug removes the device with id from its transport and closes its
// backend. The VM must be paused (no vCPU inside the device).
func (v *vm) unplug(id string) (bool, error) {
	v.mu.Lock()
	var s *virtioSlot
	for i, c := range v.virtio {
		if c.id == id {
			s = c
			v.virtio = append(v.virtio[:i], v.virtio[i+1:]...)
			break
		}
	}
	if s == nil {
		v.mu.Unlock()
		return false, nil
	}
	if w := s.window; w != nil {
		empty := mmio.New(nil, v.ram.mem, nil, v.reporter())
		v.mmio.Remove(w.base)
		v.mmio.Insert(w.base, mmio.WindowSize, empty) //nolint:errcheck // the range was just freed
		w.t, w.slot = empty, nil
	}
	if s.pci != nil {
		s.pci.Endpoint().DetachBARs()
		s.pci.Release()
		v.pciBus.Unplug(s.slot)
	}
	v.mu.Unlock()
	s.dev.Reset()
	if s.closer != nil {
		return true, s.closer.Close()
	}
	return true, nil
}

// closeVirtio unplugs every device, flushing and closing disk images.
func (v *vm) closeVirtio() {
	v.mu.Lock()
	ids := make([]string, 0, len(v.virtio))
	for _, s := range v.virtio {
		ids = append(ids, s.id)
	}
	v.mu.Unlock()
	for _, id := range ids {
		v.unplug(id) //nolint:errcheck // closing after the run; nothing to tell the guest
	}
}

// pciRoutes is the MP table's interrupt routing for every slot, so
// devices hot-plugged later are routed too.
func (v *vm) pciRoutes() []boot.PCIRoute {
	if v.opts.Transport != TransportPCI {
		return nil
	}
	routes := make([]boot.PCIRoute, 0, pci.Slots-1)
	for s := 1; s < pci.Slots; s++ {
		routes = append(routes, boot.PCIRoute{Slot: s, IRQ: pciIRQ(s)})
	}
	return routes
}

// slots returns a copy of the device list.
func (v *vm) slots() []*virtioSlot {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*virtioSlot(nil), v.virtio...)
}
