package boot

import (
	"encoding/binary"
	"fmt"

	"github.com/hypercim/hypercim/hypervisor/kvm/guestmem"
)

// PCIRoute says which IOAPIC input a PCI slot's INTA# is wired to.
type PCIRoute struct {
	Slot int
	IRQ  uint8
}

// MP table constants (Intel MultiProcessor Specification 1.4, chapter 4).
const (
	mpFloatSize   = 16
	mpHeaderSize  = 44
	mpCPUSize     = 20
	mpEntrySize   = 8
	mpSpecRev     = 4
	mpISABus      = 0
	mpPCIBus      = 1
	mpIOAPICID    = 0xff // set below to the first ID after the vCPUs
	mpAPICVersion = 0x14
	mpIOAPICVer   = 0x11
	// ISAIRQs is how many ISA interrupts are wired 1:1 to IOAPIC inputs,
	// matching KVM's default GSI routing.
	ISAIRQs = 16
	// MaxVCPUs is how many processors the MP table (8-bit APIC IDs, one
	// for the IOAPIC) and the BIOS area can describe.
	MaxVCPUs = 254
)

// WriteMPTable writes the floating pointer and configuration table at
// MPTableAddr: one processor entry per vCPU (APIC ID = vCPU index, vCPU 0
// the bootstrap processor), an ISA and a PCI bus, the IOAPIC, ISA IRQs
// 0-15 on IOAPIC inputs 0-15, PCI slots on their routed inputs (level,
// active high), and LINT0 as ExtINT and LINT1 as NMI.
func WriteMPTable(mem *guestmem.Memory, vcpus int, pci []PCIRoute) error {
	if vcpus < 1 || vcpus > MaxVCPUs {
		return fmt.Errorf("%w: %d vCPUs (the MP table describes 1 to %d)", ErrImage, vcpus, MaxVCPUs)
	}
	le := binary.LittleEndian
	ioapicID := uint8(vcpus)
	var entries []byte
	count := 0
	add := func(e []byte) { entries = append(entries, e...); count++ }
	for i := 0; i < vcpus; i++ {
		e := make([]byte, mpCPUSize)
		e[0] = 0 // processor
		e[1] = uint8(i)
		e[2] = mpAPICVersion
		e[3] = 0x01 // enabled
		if i == 0 {
			e[3] |= 0x02 // bootstrap processor
		}
		le.PutUint32(e[4:], 0x600) // signature: family 6
		le.PutUint32(e[8:], 0x201) // features: FPU, APIC
		add(e)
	}
	add([]byte{1, mpISABus, 'I', 'S', 'A', ' ', ' ', ' '})
	add([]byte{1, mpPCIBus, 'P', 'C', 'I', ' ', ' ', ' '})
	ioapic := make([]byte, mpEntrySize)
	ioapic[0], ioapic[1], ioapic[2], ioapic[3] = 2, ioapicID, mpIOAPICVer, 0x01
	le.PutUint32(ioapic[4:], IOAPICAddr)
	add(ioapic)
	for irq := 0; irq < ISAIRQs; irq++ {
		// type 3 I/O interrupt: INT, conforming flags, ISA bus, IRQ -> INTIN
		add([]byte{3, 0, 0, 0, mpISABus, uint8(irq), ioapicID, uint8(irq)})
	}
	for _, r := range pci {
		// polarity active high (01), trigger level (11)
		add([]byte{3, 0, 0x0d, 0, mpPCIBus, uint8(r.Slot << 2), ioapicID, r.IRQ})
	}
	add([]byte{4, 3, 0, 0, mpISABus, 0, 0xff, 0}) // ExtINT -> LINT0 of all
	add([]byte{4, 1, 0, 0, mpISABus, 0, 0xff, 1}) // NMI -> LINT1 of all

	table := make([]byte, mpHeaderSize, mpHeaderSize+len(entries))
	copy(table[0:], "PCMP")
	le.PutUint16(table[4:], uint16(mpHeaderSize+len(entries)))
	table[6] = mpSpecRev
	copy(table[8:], "HYPERCIM")
	copy(table[16:], "KVM VMM     ")
	le.PutUint16(table[34:], uint16(count))
	le.PutUint32(table[36:], LAPICAddr)
	table = append(table, entries...)
	table[7] = checksum(table)

	float := make([]byte, mpFloatSize)
	copy(float, "_MP_")
	le.PutUint32(float[4:], MPTableAddr+mpFloatSize)
	float[8] = 1 // length in 16-byte units
	float[9] = mpSpecRev
	float[10] = checksum(float)
	if mpFloatSize+len(table) > HighMemStart-MPTableAddr {
		return fmt.Errorf("%w: MP table of %d bytes", ErrImage, len(table))
	}
	if err := mem.Write(MPTableAddr, float); err != nil {
		return err
	}
	return mem.Write(MPTableAddr+mpFloatSize, table)
}

// checksum returns the byte that makes b sum to zero.
func checksum(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return -s
}
