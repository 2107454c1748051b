// Package devices holds what every emulated device of the kvm VMM shares:
// the port-I/O and MMIO buses that route guest accesses to devices, the
// interrupt line a device raises, and the Reporter through which a device
// tells its machine about guest misbehaviour without stopping it.
//
// Devices live in subpackages: legacy (8250 UART, i8042, reset and debug
// ports), pci (the conf1 host bridge) and virtio (queue, transports, block,
// net and rng).
package devices
