package hypervisor

import "os"

// HardwareKVM reports whether the host's KVM is backed by VT-x or SVM (the
// kvm_intel or kvm_amd module is loaded). Other /dev/kvm providers, such
// as KVM-PVM, run only paravirtualised guest kernels: a stock Linux kernel
// does not boot on them, so backends and tests that boot one ask this
// rather than whether /dev/kvm exists.
func HardwareKVM() bool {
	for _, m := range []string{"/sys/module/kvm_intel", "/sys/module/kvm_amd"} {
		if _, err := os.Stat(m); err == nil {
			return true
		}
	}
	return false
}
