package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl issues a KVM ioctl whose argument is a plain integer. EINTR (the Go
// runtime preempts with SIGURG) is retried: these calls are idempotent or
// fail before doing anything. KVM_RUN is the exception and uses runIoctl.
func ioctl(fd int, req uintptr, arg uintptr) (uintptr, error) {
	for {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return r, errno
		}
		return r, nil
	}
}

// ioctlPtr issues a KVM ioctl that reads or fills *p. The pointer is
// converted inside the Syscall expression so the object stays alive and in
// place for the duration of the call.
func ioctlPtr[T any](fd int, req uintptr, p *T) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(p)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// runIoctl enters the guest once. EINTR is returned, not retried: it is how
// a kick (immediate_exit plus a signal) gets the vCPU thread back.
func runIoctl(fd int) unix.Errno {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), kvmRun, 0)
	return errno
}

// mapRunData maps a vCPU's struct kvm_run.
func mapRunData(vcpuFD, size int) (*kvmRunData, []byte, error) {
	b, err := unix.Mmap(vcpuFD, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return (*kvmRunData)(unsafe.Pointer(&b[0])), b, nil
}

// setImmediateExit stores kvm_run.immediate_exit, possibly from a thread
// other than the vCPU's. A byte store is atomic on x86, and KVM reads the
// byte on every KVM_RUN entry, so a kick that lands between the vCPU's
// last check and its next KVM_RUN is not lost.
func (r *kvmRunData) setImmediateExit(v uint8) {
	*(*uint8)(unsafe.Pointer(&r.ImmediateExit)) = v
}

// ioctlBytes issues a KVM ioctl whose argument is a variable-sized buffer
// (struct kvm_xsave from KVM_GET_XSAVE2).
func ioctlBytes(fd int, req uintptr, b []byte) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&b[0])))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// ioctlPtrRet is ioctlPtr for requests whose result is a count
// (KVM_GET_MSRS and KVM_SET_MSRS return how many registers they handled).
func ioctlPtrRet[T any](fd int, req uintptr, p *T) (int, error) {
	for {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(p)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(r), nil
	}
}
