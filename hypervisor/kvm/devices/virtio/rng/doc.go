// Package rng is the virtio entropy device (virtio 1.2 §5.4): every buffer
// the driver offers is filled from the host's crypto/rand.
package rng
