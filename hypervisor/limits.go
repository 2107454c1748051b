package hypervisor

import (
	"context"
	"fmt"
	"strings"
)

// Limits control how much of the host a machine may use beyond its size
// (vCPUs and guest RAM, which Config fixes). The zero value means no
// limits: each field's zero is "none" or the engine's default.
type Limits struct {
	// CPUWeight is the machine's share of host CPU time when machines
	// compete for it, relative to the others: 1 to 10000, 100 being the
	// default weight (cgroup v2 cpu.weight's scale; libvirt on cgroup v1
	// gets cpu_shares in proportion, 1024 for 100). 0 means the default.
	CPUWeight uint32
	// CPUCapPercent bounds the host CPU time each vCPU may use, in percent
	// of one host CPU: 1 to 100. 0 means no cap.
	CPUCapPercent uint32
	// MemoryHardLimit bounds the host memory the machine may use, guest
	// RAM and the engine's own memory for it together, in bytes (libvirt
	// memtune hard_limit: the emulator is killed beyond it, so it needs
	// headroom over the guest RAM). 0 means none.
	MemoryHardLimit uint64
	// MemorySoftLimit is what the machine's host memory is pushed back to
	// when the host runs short, in bytes (libvirt memtune soft_limit).
	// 0 means none.
	MemorySoftLimit uint64
}

// Limits bounds.
const (
	DefaultCPUWeight = 100
	MaxCPUWeight     = 10000
)

// IsZero reports whether l sets no limit.
func (l Limits) IsZero() bool { return l == Limits{} }

// Validate checks the ranges every backend shares.
func (l Limits) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case l.CPUWeight > MaxCPUWeight:
		return bad("CPU weight %d: the range is 1 to %d (%d is the default)", l.CPUWeight, MaxCPUWeight, DefaultCPUWeight)
	case l.CPUCapPercent > 100:
		return bad("CPU cap %d%%: the range is 1 to 100 percent of a host CPU per vCPU", l.CPUCapPercent)
	case l.MemoryHardLimit%1024 != 0 || l.MemorySoftLimit%1024 != 0:
		return bad("memory limits %d and %d bytes: must be multiples of 1 KiB", l.MemoryHardLimit, l.MemorySoftLimit)
	case l.MemoryHardLimit != 0 && l.MemorySoftLimit > l.MemoryHardLimit:
		return bad("memory soft limit %s is above the hard limit %s", FormatBytes(l.MemorySoftLimit), FormatBytes(l.MemoryHardLimit))
	}
	return nil
}

// ValidateFor checks l as Validate does, for a machine of guestRAM bytes:
// a hard limit below the guest RAM would get the emulator killed once the
// guest touched its memory, so it is refused.
func (l Limits) ValidateFor(guestRAM uint64) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if l.MemoryHardLimit != 0 && l.MemoryHardLimit < guestRAM {
		return fmt.Errorf("%w: memory hard limit %s is below the guest RAM %s: it bounds the guest RAM and the engine's own memory together",
			ErrInvalidConfig, FormatBytes(l.MemoryHardLimit), FormatBytes(guestRAM))
	}
	return nil
}

// Unsupported returns an error wrapping ErrNotSupported that names the
// fields l sets and supported leaves zero, or nil when there are none.
func (l Limits) Unsupported(supported Limits, engine string) error {
	var fields []string
	if l.CPUWeight != 0 && supported.CPUWeight == 0 {
		fields = append(fields, "a CPU weight")
	}
	if l.CPUCapPercent != 0 && supported.CPUCapPercent == 0 {
		fields = append(fields, "a CPU cap")
	}
	if l.MemoryHardLimit != 0 && supported.MemoryHardLimit == 0 {
		fields = append(fields, "a memory hard limit")
	}
	if l.MemorySoftLimit != 0 && supported.MemorySoftLimit == 0 {
		fields = append(fields, "a memory soft limit")
	}
	if len(fields) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the %s engine cannot enforce %s", ErrNotSupported, engine, strings.Join(fields, " or "))
}

// LimitSupporter is implemented by engines (and their machines) that
// enforce Limits: SupportedLimits has a non-zero value in each field the
// backend enforces, so callers can offer only those. A Config setting
// another field is refused with ErrNotSupported.
type LimitSupporter interface {
	SupportedLimits() Limits
}

// ResourceLimiter is implemented by machines whose backend can change
// their Limits; both backends do, each for the fields it can enforce.
type ResourceLimiter interface {
	LimitSupporter
	// SetLimits replaces the machine's limits: live on a running or paused
	// machine, and in its definition (Config().Limits) for later starts.
	// A field the backend cannot enforce fails with ErrNotSupported, one it
	// cannot change while the machine runs with ErrInvalidState; either
	// way nothing changed.
	SetLimits(ctx context.Context, l Limits) error
	// Limits returns the limits in force: read back from the running
	// machine where the backend can, else those of its definition.
	Limits(ctx context.Context) (Limits, error)
}
