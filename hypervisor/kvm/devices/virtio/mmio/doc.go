// Package mmio is the virtio-mmio transport, version 2 (virtio 1.2 §4.2):
// a 4 KiB register window per device on the MMIO bus. A window without a
// device answers with device ID 0, which the specification defines as a
// placeholder drivers ignore, so the VMM can offer a fixed set of slots
// that disks and adapters are hot-plugged into.
//
// Guests find the windows through the Linux "virtio_mmio.device=" command
// line syntax, which the VMM appends to the kernel command line.
package mmio
