package kvm

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hypercim/hypercim/hypervisor"
)

// Transport is the bus virtio devices are put on.
type Transport string

// Transports.
const (
	// TransportPCI puts disks, adapters and the entropy device on legacy
	// virtio-pci behind PCI configuration mechanism #1, which stock Linux
	// kernels (virtio_pci) find without ACPI. The default.
	TransportPCI Transport = "pci"
	// TransportMMIO puts them in virtio-mmio windows at 0xd0000000,
	// announced on the kernel command line (virtio_mmio.device=).
	TransportMMIO Transport = "mmio"
)

// Options configure an Engine.
type Options struct {
	// Device is the KVM device node; default /dev/kvm.
	Device string
	// Transport is the virtio transport of every machine; default PCI.
	Transport Transport
	// ConsoleRing is the size of each machine's console history in bytes;
	// default hypervisor.DefaultConsoleRing.
	ConsoleRing int
	// BootPVH boots ELF images that carry a Xen PVH note through it (32-bit
	// protected mode, hvm_start_info), as QEMU and Cloud Hypervisor do. By
	// default a 64-bit ELF image is entered in 64-bit mode at its ELF
	// entry with the Linux boot protocol, as Firecracker boots vmlinux.
	BootPVH bool
	// MaxVCPUs caps the vCPUs of one machine below what KVM allows;
	// default boot.MaxVCPUs.
	MaxVCPUs int
	// MaxMemoryBytes is the largest guest RAM of one machine; default the
	// host's physical memory (MemTotal). Guest RAM is allocated as the
	// guest touches it, so a larger machine would start and then get the
	// whole process killed by the host's OOM killer: Define refuses it.
	MaxMemoryBytes uint64
	// Overcommit lifts that limit, for hosts with swap or guests known to
	// touch only part of their RAM.
	Overcommit bool
	// Firmware is the BIOS image machines with BootSource.Firmware run
	// (package bios); default FirmwareName beside the running executable,
	// where `make build` puts it next to hypercimd, hypercim and
	// hypercim-vmm.
	Firmware string
}

// FirmwareName is the file name of the BIOS image `make build` writes to
// bin/.
const FirmwareName = "hypercim-bios"

// defaultFirmware is FirmwareName beside the executable, or "" when the
// executable's path is unknown.
func defaultFirmware() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(self), FirmwareName)
}

func (o Options) withDefaults() (Options, error) {
	if o.Device == "" {
		o.Device = DefaultDevice
	}
	if o.Firmware == "" {
		o.Firmware = defaultFirmware()
	}
	switch o.Transport {
	case "":
		o.Transport = TransportPCI
	case TransportPCI, TransportMMIO:
	default:
		return o, fmt.Errorf("virtio transport %q is not %q or %q", o.Transport, TransportPCI, TransportMMIO)
	}
	if o.MaxMemoryBytes == 0 && !o.Overcommit {
		host, err := hypervisor.HostMemory()
		if err != nil {
			return o, err
		}
		o.MaxMemoryBytes = host
	}
	return o, nil
}
