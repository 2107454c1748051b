// Package queue implements the device side of a virtio split virtqueue
// (virtio 1.2 §2.7): it pops descriptor chains the driver made available
// and returns them through the used ring.
//
// Everything in the rings comes from the guest and is untrusted. This
// package is the one place where it is validated: ring addresses and sizes
// when the queue is activated, every descriptor index, buffer address and
// length, indirect tables and chain lengths when a chain is popped. A device
// receives only chains whose buffers are plain slices of guest RAM.
package queue
