// Package blk is the virtio block device (virtio 1.2 §5.2): one request
// queue served on the notifying vCPU's thread, with reads and writes going
// straight between guest memory and a Backend such as a vmdk.Disk or a raw
// image file; flush, discard, write-zeroes and get-ID are supported.
package blk
