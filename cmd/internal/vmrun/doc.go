// Package vmrun is `hypercim vm run`: parsing its command line and running
// one machine in the foreground with its serial console on the terminal.
//
// It is shared by two binaries. bin/hypercim offers both backends; with
// the kvm backend it hands the run over (exec) to bin/hypercim-vmm, a
// small binary that links only this package and hypercim's VMM, so the
// process hosting the guest carries no CIM server, libvirt client or CLI
// code: its memory overhead is that of the VMM alone. The engine is opened
// through an Opener the binary supplies, which is how the libvirt backend
// stays out of hypercim-vmm.
package vmrun
