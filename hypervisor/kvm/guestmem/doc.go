// Package guestmem gives the VMM's devices and boot loader bounds-checked
// access to a guest's physical memory: a set of host mappings, each backing
// one range of guest-physical addresses.
//
// Every address comes from the guest or from an image file and is checked
// here, at one boundary; an access that leaves guest RAM returns an error
// wrapping ErrOutOfRange with the offending address, never a panic.
package guestmem
