// Package hypervisor defines the engine interface that runs virtual machines
// for hypercim, independent of CIM: define a machine from a Config, then
// start, stop, pause, resume, reset, snapshot and restore it, read its live
// statistics, follow its events and attach to its serial console.
//
// Two backends implement Engine: hypervisor/kvm, hypercim's own VMM on
// /dev/kvm, and hypervisor/libvirt, which drives an existing libvirtd.
// Callers code against Engine and Machine only, so the CIM providers behave
// the same on both.
//
// The package also holds what both backends share, so they behave alike:
// Config.Validate, EventHub, ConsoleBuffer, the snapshot directory helpers
// (CreateSnapshotDir, WriteFileDurably) and HardwareKVM. SaveChecker is
// implemented by machines that cannot always write their state (libvirt's,
// while QEMU's vmdk driver has a disk open), so callers can tell before
// they try.
//
// Tests that boot a guest use hypervisor/testguest (a freestanding guest,
// built by make) and the module's hypervisor/linuxguest (Debian's stock
// kernel with a busybox initramfs).
//
// Every method is safe for concurrent use. Errors wrap the sentinel values
// declared here (ErrInvalidState, ErrNotFound, ...) so callers can test them
// with errors.Is whatever the backend.
package hypervisor
