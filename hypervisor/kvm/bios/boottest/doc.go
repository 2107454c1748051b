// Package boottest is test support for firmware boot: it builds the BIOS
// and the test boot loader from ../firmware with make, writes the loader
// onto a VMDK disk through package vmdk, and knows what the loader must
// print and write, so the kvm and libvirt backends test one thing the
// same way.
package boottest
