// Package net is the virtio network device (virtio 1.2 §5.1) on a Linux tap
// interface: transmit runs on the notifying vCPU's thread, receive on a
// goroutine that waits for the driver's buffers rather than dropping
// frames. Without a tap the adapter has no link and counts what it drops.
package net
