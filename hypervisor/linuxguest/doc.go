// Package linuxguest prepares a stock Linux guest for the tests that boot
// one: Debian's cloud kernel, unchanged, with a busybox initramfs built here
// in Go.
//
// It is a test-support package, like net/http/httptest: production code
// does not import it. It sits outside internal/ so that tests anywhere in
// the module (the engines', the CLI's, the CIM conformance suites booting a
// guest through hypercimd) prepare and drive the same guest.
//
// FetchKernel obtains the kernel once per clone through
// scripts/guest-kernel.sh (apt-get download of the package that
// linux-image-cloud-amd64 depends on, unpacked under
// var/cache/guest-kernel/). WriteInitramfs builds a newc cpio archive
// holding /bin/busybox (from busybox-static), the kernel modules the guest
// needs with their dependencies in load order, and an /init script that
//
//   - loads the modules (virtio PCI, block, net and rng, pvpanic, the ACPI
//     power button),
//   - prints one "linuxguest: disk NAME sectors=N md5=HEX" line per virtio
//     disk, the MD5 covering its first linuxguest.sum sectors,
//   - prints the marker "linuxguest: ready",
//   - then powers off (linuxguest.mode=poweroff, the default) or serves
//     commands read from the serial console (linuxguest.mode=serve): see
//     the Command* constants. In serve mode an ACPI power button press
//     powers the guest off, so engines can test a graceful shutdown.
//
// The same initramfs serves every test: what the guest does is chosen on
// the kernel command line built by Cmdline. Transcript follows a
// hypervisor.Console line by line so tests wait for markers with a context
// deadline rather than sleeping.
//
// Typical use in a test (a backend's own Config plumbing elided):
//
//	k, err := linuxguest.FetchKernel(ctx)
//	initrd := filepath.Join(dir, "initramfs.cpio")
//	err = k.WriteInitramfsFile(initrd, linuxguest.Options{})
//	boot := hypervisor.BootSource{Kernel: k.Image, Initrd: initrd,
//		Cmdline: linuxguest.Cmdline(linuxguest.Boot{Mode: linuxguest.ModeServe})}
//	// define and start the machine, then:
//	tr := linuxguest.Follow(ctx, machine.Console())
//	line, err := tr.Wait(ctx, linuxguest.MarkerReady)
package linuxguest
