package libvirt

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/hypercim/hypercim/hypervisor"
)

// startHint tells an operator how to bring libvirtd up.
const startHint = "start it with `virtlogd -d && libvirtd -d` (or `systemctl start libvirtd` where systemd runs)"

// wrap turns an error from go-libvirt into one wrapping the hypervisor
// sentinel that says what went wrong, keeping libvirt's message.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var lerr golibvirt.Error
	if errors.As(err, &lerr) {
		if sentinel := sentinelFor(golibvirt.ErrorNumber(lerr.Code)); sentinel != nil {
			return fmt.Errorf("libvirt: %s: %w: %w", op, sentinel, lerr)
		}
		return fmt.Errorf("libvirt: %s: %w", op, lerr)
	}
	if disconnected(err) {
		return fmt.Errorf("libvirt: %s: %w: lost the connection to libvirtd (%w); %s", op, hypervisor.ErrUnavailable, err, startHint)
	}
	return fmt.Errorf("libvirt: %s: %w", op, err)
}

// sentinelFor maps libvirt's error numbers (virErrorNumber) onto the
// engine's sentinels; nil leaves the error as libvirt's.
func sentinelFor(code golibvirt.ErrorNumber) error {
	switch code {
	case golibvirt.ErrNoDomain:
		return hypervisor.ErrNotFound
	case golibvirt.ErrDomExist:
		return hypervisor.ErrExists
	case golibvirt.ErrOperationInvalid:
		return hypervisor.ErrInvalidState
	case golibvirt.ErrNoSupport, golibvirt.ErrOperationUnsupported, golibvirt.ErrArgumentUnsupported:
		return hypervisor.ErrNotSupported
	case golibvirt.ErrXMLError, golibvirt.ErrXMLDetail, golibvirt.ErrConfigUnsupported, golibvirt.ErrInvalidArg, golibvirt.ErrInvalidMac:
		return hypervisor.ErrInvalidConfig
	case golibvirt.ErrOperationTimeout:
		return hypervisor.ErrBusy
	case golibvirt.ErrNoConnect, golibvirt.ErrRPC, golibvirt.ErrAuthFailed, golibvirt.ErrAuthCancelled:
		return hypervisor.ErrUnavailable
	}
	return nil
}

// disconnected reports errors that mean the socket to libvirtd is gone.
func disconnected(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, golibvirt.ErrInterrupted) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &opErr)
}

// stateError reports op refused in state st; cause, when set, is libvirt's
// own refusal, kept in the message.
func stateError(op string, st hypervisor.State, cause error) error {
	se := &hypervisor.StateError{Op: op, State: st}
	if cause == nil {
		return se
	}
	var lerr golibvirt.Error
	if errors.As(cause, &lerr) {
		return fmt.Errorf("%w (libvirt: %w)", se, lerr)
	}
	return fmt.Errorf("%w (%w)", se, cause)
}

// withAccessHint adds what to do to an emulator start that failed because
// QEMU, which libvirt runs as an unprivileged user, could not open a file.
func withAccessHint(err error) error {
	if err == nil || !strings.Contains(err.Error(), "Permission denied") {
		return err
	}
	return fmt.Errorf("%w; QEMU runs as an unprivileged user (libvirt-qemu on Debian): every directory on the paths "+
		"of the kernel, initrd and disk images must be searchable by it (chmod o+x DIR)", err)
}
