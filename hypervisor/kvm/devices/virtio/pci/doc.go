// Package pci is the legacy virtio-pci transport (virtio 1.2 §4.1.4.8, the
// "legacy interface" of transitional devices): an I/O-port BAR holding the
// virtio header and device configuration, and INTx# interrupts whose ISR
// register is cleared by reading it. Stock Linux kernels drive it with
// virtio_pci over configuration mechanism #1, with no ACPI and no MSI-X.
package pci
