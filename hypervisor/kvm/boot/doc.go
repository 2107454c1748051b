// Package boot lays out a freshly created x86-64 guest so a kernel can run
// without firmware: it loads a Linux bzImage or an ELF image (vmlinux, or
// any ELF with a Xen PVH entry note, like hypercim's test guest), places the
// command line and initrd, writes the zero page (struct boot_params with an
// E820 map) or the PVH start_info, an MP table describing the vCPUs and
// interrupt routing, and the identity page tables and GDT the VMM starts
// the boot vCPU on.
//
// The guest-physical layout is fixed and documented by the constants in
// layout.go; every value that comes from an image file is validated before
// it is used to place anything.
package boot
