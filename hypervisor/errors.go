package hypervisor

import (
	"errors"
	"fmt"
)

// Sentinel errors every backend wraps, so callers can use errors.Is.
var (
	ErrNotFound      = errors.New("machine not found")
	ErrExists        = errors.New("machine already defined")
	ErrInvalidConfig = errors.New("invalid machine configuration")
	ErrInvalidState  = errors.New("operation not allowed in the machine's current state")
	ErrNotSupported  = errors.New("operation not supported by this backend")
	ErrBusy          = errors.New("machine is busy with another operation")
	ErrUnavailable   = errors.New("hypervisor unavailable")
	ErrSnapshot      = errors.New("snapshot is unusable")
)

// StateError reports an operation refused because of the machine's state.
// It wraps ErrInvalidState.
type StateError struct {
	Op    string
	State State
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s a machine that is %s", e.Op, e.State)
}

func (e *StateError) Unwrap() error { return ErrInvalidState }
