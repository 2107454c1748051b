// Package virtio holds what the virtio devices and transports of the kvm
// VMM share (virtio 1.2, OASIS): device IDs, feature bits, status bits,
// the Device interface a transport (virtio-mmio or virtio-pci) drives, and
// the serving loop every device runs on its queues (Drain, SingleQueue).
//
// The split virtqueue lives in subpackage queue, the transports in mmio and
// pci, and the devices in blk, net and rng.
package virtio
