// Package bios is the host half of hypercim's paravirtual PC BIOS, the
// firmware a kvm machine with hypervisor.BootSource.Firmware boots.
//
// The guest half is a 4 KiB real-mode ROM built from firmware/bios.S by
// `make build` (bin/hypercim-bios). Load places it at the top of the first
// MiB, fills the BIOS data area and returns a vCPU state at the reset
// vector F000:FFF0. The ROM's POST fills the interrupt vector table,
// programs the PICs and the 18.2 Hz timer and runs int 19h, which reads
// sector 0 of hard disk 80h to 0000:7C00, checks the 55AAh signature and
// jumps to it with DL=80h.
//
// Services that depend on the machine (int 10h console output, int 13h
// disk access, int 15h memory map, A20 and APM power-off, int 16h
// keyboard, int 1Ah clock) pass through a gate: the ROM saves the
// caller's registers on its stack and writes the stack address to
// GatePort; Gate, a port-I/O device, performs the call against the
// machine's disks and memory and writes the results into that frame.
// Everything the guest passes is checked here: a bad drive, a sector
// beyond the end of a disk or a buffer outside RAM gets the BIOS error
// code a PC BIOS returns (CF set, AH the status) and a report, never a
// crash of the VMM.
package bios
