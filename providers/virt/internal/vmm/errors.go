package vmm

import (
	"errors"
	"fmt"

	"github.com/hypercim/hypercim/hypervisor"
)

// Code classifies why an operation failed, in the terms the DMTF methods
// report: the CIM layer turns each into the method's return code.
type Code int

// Failure codes.
const (
	// Failed: the operation was attempted and did not work (I/O error,
	// engine failure).
	Failed Code = iota + 1
	// InvalidParameter: the request itself is wrong (bad quantity, unknown
	// reference, path outside the pool).
	InvalidParameter
	// InvalidState: the request is fine but not in the element's current
	// state (memory change of a running system, pause of a stopped one).
	InvalidState
	// Busy: another operation holds the element; retry later.
	Busy
	// NotFound: the system, snapshot or job does not exist.
	NotFound
	// NotSupported: a valid request this server or its engine cannot do.
	NotSupported
	// Incompatible: parameters that are valid alone contradict each other.
	Incompatible
	// Timeout: the client's timeout passed before the work ended.
	Timeout
	// InUse: a resource (disk image, name) belongs to someone else.
	InUse
	// InsufficientResources: the pool cannot satisfy the request.
	InsufficientResources
)

var codeNames = map[Code]string{
	Failed: "failed", InvalidParameter: "invalid parameter", InvalidState: "invalid state", Busy: "busy",
	NotFound: "not found", NotSupported: "not supported", Incompatible: "incompatible parameters",
	Timeout: "timeout", InUse: "in use", InsufficientResources: "insufficient resources",
}

func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error is every error the manager returns: a Code, a message that says what
// to do next, and the cause.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

func wrapf(c Code, err error, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the Code of err: its own when it is (or wraps) an *Error,
// else the code matching a hypervisor sentinel, else Failed.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return engineCode(err)
}

// engineCode maps the hypervisor's sentinel errors.
func engineCode(err error) Code {
	switch {
	case errors.Is(err, hypervisor.ErrInvalidConfig):
		return InvalidParameter
	case errors.Is(err, hypervisor.ErrInvalidState):
		return InvalidState
	case errors.Is(err, hypervisor.ErrBusy):
		return Busy
	case errors.Is(err, hypervisor.ErrNotFound):
		return NotFound
	case errors.Is(err, hypervisor.ErrNotSupported):
		return NotSupported
	case errors.Is(err, hypervisor.ErrExists):
		return InUse
	}
	return Failed
}

// engineErr wraps an engine error with the code it maps to.
func engineErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return wrapf(engineCode(err), err, format, args...)
}
