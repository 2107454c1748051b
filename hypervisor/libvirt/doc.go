// Package libvirt implements hypercim's hypervisor engine on libvirtd,
// through github.com/digitalocean/go-libvirt (libvirt's RPC protocol in
// pure Go, no cgo) and libvirt.org/go/libvirtxml.
//
// A machine is a persistent libvirt domain: type "kvm" where the host has
// hardware KVM, "qemu" (TCG, software emulation) elsewhere; direct kernel
// boot; virtio disks, checked with package vmdk and opened with QEMU's
// vmdk driver, or its raw driver for raw images and flat VMDKs, a delta
// with its whole chain of parents spelled out (formats included) and the
// files libvirt does not relabel made accessible to QEMU; virtio NICs;
// a serial console whose output the engine captures; a pvpanic device.
// Domains carry a metadata element in hypercim's namespace, which is how a
// later process tells them from other domains and finds them again with
// Lookup and Machines.
//
// Open connects to libvirtd's UNIX socket (qemu:///system by default) and
// follows libvirt's domain event stream: lifecycle events become
// hypervisor.Events (state changes with reasons, guest shutdown, guest
// panic), reboots become EventGuestReset, I/O errors EventDeviceError. If
// libvirtd restarts, the engine reconnects, reports the state changes it
// missed and reattaches consoles.
//
// Snapshot and Restore use libvirt's save images; see Machine.Snapshot for
// the limit QEMU's vmdk driver puts on them. docs/hypervisor-libvirt.md
// describes the mapping, the domain XML and how to run libvirtd without
// systemd.
//
//	eng, err := libvirt.Open(ctx, libvirt.Options{})
//	if err != nil {
//		return err // wraps hypervisor.ErrUnavailable when libvirtd is down
//	}
//	defer eng.Close()
//	m, err := eng.Define(ctx, hypervisor.Config{
//		Name: "web1", UUID: "6f1c...", VCPUs: 1, MemoryBytes: 256 << 20,
//		Boot:  hypervisor.BootSource{Kernel: "/boot/vmlinuz", Cmdline: "console=ttyS0"},
//		Disks: []hypervisor.DiskConfig{{ID: "disk0", Path: "/srv/web1.vmdk"}},
//	})
//	err = m.Start(ctx)
package libvirt
