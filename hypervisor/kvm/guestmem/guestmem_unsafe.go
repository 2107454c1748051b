package guestmem

import (
	"sync/atomic"
	"unsafe"
)

// loadUint16 is a volatile 16-bit load from guest memory. The guest writes
// ring indices from other CPUs; x86 makes an aligned 16-bit load atomic,
// and keeping the function out of line stops the compiler caching it.
//
//go:noinline
func loadUint16(b []byte) uint16 {
	return *(*uint16)(unsafe.Pointer(&b[0]))
}

// storeUint16 is a 16-bit store followed by a full fence, so the guest sees
// it before any later load of ours (the notification-suppression check
// reads the avail ring right after publishing a used index).
//
//go:noinline
func storeUint16(b []byte, v uint16) {
	*(*uint16)(unsafe.Pointer(&b[0])) = v
	var fence uint32
	atomic.AddUint32(&fence, 1)
}
