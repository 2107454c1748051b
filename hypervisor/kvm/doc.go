// Package kvm is hypercim's own virtual machine monitor: a
// hypervisor.Engine that runs each machine as a KVM VM inside this
// process, through the /dev/kvm ioctls of golang.org/x/sys/unix.
//
// A running machine is a vm (vm.go): guest RAM in 2 MiB-aligned anonymous
// mappings registered as KVM memory slots (memory.go), the in-kernel
// interrupt controllers and PIT, one OS thread per vCPU (vcpu.go) that is
// kicked out of KVM_RUN with immediate_exit and a signal, and the devices:
// COM1, the i8042 (reset line, Ctrl+Alt+Del), the 0xCF9/0x92 reset
// registers, a debug-exit port, pvpanic (devices/legacy), the PCI bus
// (devices/pci) and virtio-blk, virtio-net and virtio-rng (devices/virtio)
// on legacy virtio-pci or virtio-mmio. Disks are opened through package
// vmdk, which reads and writes every VMDK variant and raw images.
//
// The boot package lays out Linux bzImages, ELF vmlinux (entered in 64-bit
// mode, or through its PVH note with Options.BootPVH) and hypercim's test
// guest: boot_params with an E820 map, command line, initrd, MP table,
// identity page tables and GDT. A machine with BootSource.Firmware boots
// instead through hypercim's paravirtual BIOS (package bios), which loads
// the first disk's boot sector and serves int 10h/13h/15h/16h/1Ah.
//
// Machine state changes are Events; guest misbehaviour a device survives
// (bad virtqueue descriptors, unknown ports, unmapped MMIO) is an
// EventDeviceError and never stops the VMM; a triple fault or a pvpanic is
// an EventGuestPanic. Snapshot writes vCPU, interrupt controller, clock and
// device state as JSON next to a sparse memory image; Restore continues
// the guest where it stopped.
//
// Every use of unsafe is in a *_unsafe.go file; the Go mirrors of kernel
// structures carry the kernel's names and are size-tested against the
// kernel headers. docs/hypervisor.md documents the engine, the devices, the
// test guest's command protocol and `hypercim vm run`.
package kvm
