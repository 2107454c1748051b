package hypervisor

import (
	"context"
	"strconv"
	"time"
)

// Engine creates and finds machines on one backend.
type Engine interface {
	// Name is the backend's short name: "kvm" or "libvirt".
	Name() string
	// Define validates cfg and registers a stopped machine. It fails with
	// ErrInvalidConfig for a bad config and ErrExists when a machine with
	// the same UUID is already defined.
	Define(ctx context.Context, cfg Config) (Machine, error)
	// Lookup returns the machine defined with uuid, or ErrNotFound. The
	// libvirt backend also finds domains that outlived the calling process.
	Lookup(ctx context.Context, uuid string) (Machine, error)
	// Machines lists every machine this engine knows.
	Machines(ctx context.Context) ([]Machine, error)
	// Close stops delivering events and releases the engine's resources.
	// Machines still running on the kvm backend are stopped.
	Close() error
}

// Machine is one defined virtual machine.
type Machine interface {
	// UUID is the machine's identity, in canonical 8-4-4-4-12 form.
	UUID() string
	// Config returns a copy of the current definition.
	Config() Config
	// State reports the current lifecycle state.
	State() State

	// Start powers on a stopped machine and returns once its vCPUs run.
	Start(ctx context.Context) error
	// Stop powers the machine off at once (pulling the plug).
	Stop(ctx context.Context) error
	// Shutdown asks the guest to power off (ACPI power button, i8042
	// reset-less shutdown or the guest agent, as the backend allows) and
	// returns without waiting; completion is reported as an Event.
	Shutdown(ctx context.Context) error
	// Pause stops all vCPUs without losing any state.
	Pause(ctx context.Context) error
	// Resume continues a paused machine.
	Resume(ctx context.Context) error
	// Reset performs a hard reset: the guest reboots from its boot source.
	Reset(ctx context.Context) error

	// Snapshot writes the complete machine state (vCPU registers, interrupt
	// controllers and clocks, device state and guest memory) into the
	// directory dir, which it creates. The machine is paused while the state
	// is written. Afterwards it is back in its previous state, or Stopped
	// when opts.Stop is set (save to disk).
	Snapshot(ctx context.Context, dir string, opts SnapshotOptions) error
	// Restore loads a snapshot written by Snapshot into this stopped
	// machine and continues the guest where it was saved. Disks are those of
	// the current Config, so a caller can point them at new delta images
	// between Snapshot and Restore; their sizes must match.
	Restore(ctx context.Context, dir string, opts RestoreOptions) error

	// Reconfigure replaces the definition of a stopped machine. The UUID
	// cannot change.
	Reconfigure(ctx context.Context, cfg Config) error
	// AttachDisk and DetachDisk change disks of a running machine
	// (hot-plug); on a stopped machine they edit the definition.
	AttachDisk(ctx context.Context, disk DiskConfig) error
	DetachDisk(ctx context.Context, id string) error
	// AttachNIC and DetachNIC do the same for network adapters.
	AttachNIC(ctx context.Context, nic NICConfig) error
	DetachNIC(ctx context.Context, id string) error

	// Stats returns live counters.
	Stats(ctx context.Context) (Stats, error)
	// Events delivers this machine's events until ctx ends, then closes
	// the channel. Slow readers never block the machine: each subscriber
	// has its own unbounded queue.
	Events(ctx context.Context) <-chan Event
	// Console gives access to the first serial port.
	Console() Console

	// Undefine removes a stopped machine from the engine. Disk images are
	// left alone: they belong to the caller.
	Undefine(ctx context.Context) error
}

// SaveChecker is implemented by machines whose backend cannot write the
// state of every running machine: on the libvirt backend, QEMU's vmdk
// driver blocks it. Callers ask before they offer or attempt Snapshot of a
// running or paused machine.
type SaveChecker interface {
	// CanSave returns nil when Snapshot of the machine, running or paused
	// with its current disks, can succeed, and otherwise an error wrapping
	// ErrNotSupported that says why and what to do instead. It answers
	// from what the machine object knows, without blocking on the backend.
	CanSave() error
}

// SnapshotOptions tune Machine.Snapshot.
type SnapshotOptions struct {
	// Stop leaves the machine Stopped after the state is written (DMTF
	// "save"), instead of returning it to its previous state.
	Stop bool
}

// RestoreOptions tune Machine.Restore.
type RestoreOptions struct {
	// Paused leaves the restored machine Paused instead of Running.
	Paused bool
}

// ShutdownAbandoner is implemented by machines that show a graceful
// shutdown request as StateShuttingDown from the moment it is sent (the
// kvm backend, which cannot see whether the guest acts on it). A caller
// that stops waiting for the guest to power off calls AbandonShutdown, and
// a machine still ShuttingDown is Running again (Paused machines resume
// to Running): its state no longer claims a shutdown the guest ignored.
// The request itself cannot be taken back; a guest that powers off later
// is reported as usual.
type ShutdownAbandoner interface {
	AbandonShutdown(ctx context.Context) error
}

// State is a machine's lifecycle state.
type State int

// Machine states. The zero value is StateStopped: a defined machine that
// is not running.
const (
	StateStopped State = iota
	StateStarting
	StateRunning
	StatePaused
	StateShuttingDown
	StateCrashed
)

var stateNames = [...]string{"stopped", "starting", "running", "paused", "shutting-down", "crashed"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Stats are a machine's live counters.
type Stats struct {
	State State
	// Uptime is the time since the last start, zero when stopped.
	Uptime time.Duration
	// VCPUTime is the host CPU time consumed by all vCPUs together.
	VCPUTime time.Duration
	// VCPUs is the number of vCPUs currently online.
	VCPUs int
	// MemoryBytes is the guest memory currently assigned.
	MemoryBytes uint64
	Disks       []DiskStats
	NICs        []NICStats
}

// DiskStats counts one disk's I/O since the machine started.
type DiskStats struct {
	ID                    string
	ReadOps, WriteOps     uint64
	ReadBytes, WriteBytes uint64
	FlushOps              uint64
}

// NICStats counts one network adapter's traffic since the machine started.
type NICStats struct {
	ID                   string
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
	RxDropped, TxDropped uint64
}

// EventKind says what happened to a machine.
type EventKind int

// Event kinds.
const (
	// EventStateChanged: the machine entered Event.State.
	EventStateChanged EventKind = iota + 1
	// EventGuestShutdown: the guest powered itself off.
	EventGuestShutdown
	// EventGuestReset: the guest rebooted itself.
	EventGuestReset
	// EventGuestPanic: the guest crashed (triple fault, panic notifier).
	EventGuestPanic
	// EventDeviceError: a device rejected guest input (bad virtqueue
	// descriptors, I/O errors); the machine keeps running.
	EventDeviceError
)

var eventKindNames = [...]string{"", "state-changed", "guest-shutdown", "guest-reset", "guest-panic", "device-error"}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one thing that happened to a machine.
type Event struct {
	Time    time.Time
	Machine string // UUID
	Kind    EventKind
	// State is the machine's state after the event.
	State State
	// Reason explains the event in words ("guest wrote 0xfe to the i8042
	// command port", "stopped by request").
	Reason string
}
