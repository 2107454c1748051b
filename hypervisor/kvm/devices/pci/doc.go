// Package pci is the kvm VMM's PCI bus: configuration mechanism #1 on ports
// 0xCF8/0xCFC, a host bridge in slot 0 and endpoints whose I/O and memory
// BARs the guest may move. It is the transport stock Linux kernels find
// their virtio devices on (virtio-pci, see devices/virtio/pci).
package pci
