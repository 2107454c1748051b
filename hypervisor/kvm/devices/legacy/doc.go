// Package legacy emulates the PC platform devices the kvm VMM puts on the
// port-I/O bus: a 16550A UART (COM1), the i8042 keyboard controller with
// its reset line and a Ctrl+Alt+Del key sequence for graceful shutdown, the
// 0xCF9 and 0x92 reset registers, a debug-exit port that lets test guests
// power off with a status, a pvpanic port, and the POST-code port 0x80.
//
// The PIC, IOAPIC, PIT and LAPIC are KVM's in-kernel models, not here.
package legacy
