package kvm

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/bios"
	"github.com/hypercim/hypercim/hypervisor/kvm/boot"
)

// Engine is hypercim's own VMM as a hypervisor.Engine: every machine runs
// in this process, one KVM VM per running machine.
type Engine struct {
	sys  *system
	opts Options

	mu       sync.Mutex
	machines map[string]*Machine // by UUID
	closed   bool
}

var _ hypervisor.Engine = (*Engine)(nil)

// New opens the KVM device and returns an engine. It fails with
// hypervisor.ErrUnavailable when /dev/kvm is missing or lacks what the
// VMM needs.
func New(opts Options) (*Engine, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hypervisor.ErrInvalidConfig, err)
	}
	sys, err := openSystem(opts.Device)
	if err != nil {
		return nil, err
	}
	return &Engine{sys: sys, opts: opts, machines: map[string]*Machine{}}, nil
}

// Name implements hypervisor.Engine.
func (e *Engine) Name() string { return "kvm" }

// maxVCPUs is the largest machine this engine runs.
func (e *Engine) maxVCPUs() int {
	n := boot.MaxVCPUs
	if e.opts.MaxVCPUs > 0 {
		n = min(n, e.opts.MaxVCPUs)
	}
	if e.sys.maxVCPUs > 0 {
		n = min(n, e.sys.maxVCPUs)
	}
	return n
}

// validate adds this backend's limits to Config.Validate.
func (e *Engine) validate(cfg hypervisor.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.VCPUs > e.maxVCPUs() {
		return fmt.Errorf("%w: %d vCPUs, this host runs at most %d", hypervisor.ErrInvalidConfig, cfg.VCPUs, e.maxVCPUs())
	}
	if cfg.MemoryBytes < 4<<20 {
		return fmt.Errorf("%w: %d MiB of memory, the kvm backend needs at least 4 MiB", hypervisor.ErrInvalidConfig, cfg.MemoryBytes>>20)
	}
	if !e.opts.Overcommit {
		if err := hypervisor.CheckMemory(cfg.MemoryBytes, e.opts.MaxMemoryBytes, "kvm.Options.Overcommit (hypercim vm run --overcommit)"); err != nil {
			return err
		}
	}
	if err := cfg.Limits.Unsupported(supportedLimits(), "kvm"); err != nil {
		return err
	}
	for _, n := range cfg.NICs {
		if _, err := nicMAC(cfg.UUID, n); err != nil {
			return err
		}
	}
	if cfg.Boot.Firmware {
		if _, err := e.firmware(); err != nil {
			return err
		}
	}
	return nil
}

// firmware reads and checks the BIOS image; it is read at every boot, so
// a rebuilt image takes effect on the next start.
func (e *Engine) firmware() ([]byte, error) {
	path := e.opts.Firmware
	if path == "" {
		return nil, fmt.Errorf("%w: firmware boot: the BIOS image %s cannot be located (set kvm.Options.Firmware)", hypervisor.ErrUnavailable, FirmwareName)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: firmware boot needs hypercim's BIOS image: %w (build it with `make build`, or name it with kvm.Options.Firmware / hypercim vm run --bios)", hypervisor.ErrUnavailable, err)
	}
	if err := bios.CheckImage(img); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", hypervisor.ErrUnavailable, path, err)
	}
	return img, nil
}

// Define implements hypervisor.Engine.
func (e *Engine) Define(_ context.Context, cfg hypervisor.Config) (hypervisor.Machine, error) {
	if err := e.validate(cfg); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("%w: the engine is closed", hypervisor.ErrUnavailable)
	}
	if _, ok := e.machines[cfg.UUID]; ok {
		return nil, fmt.Errorf("%w: %s", hypervisor.ErrExists, cfg.UUID)
	}
	for _, m := range e.machines {
		if m.Config().Name == cfg.Name {
			return nil, fmt.Errorf("%w: a machine named %q exists (%s)", hypervisor.ErrExists, cfg.Name, m.UUID())
		}
	}
	m := newMachine(e, cfg.Clone())
	e.machines[cfg.UUID] = m
	return m, nil
}

// Lookup implements hypervisor.Engine.
func (e *Engine) Lookup(_ context.Context, uuid string) (hypervisor.Machine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.machines[uuid]
	if !ok {
		return nil, fmt.Errorf("%w: %s", hypervisor.ErrNotFound, uuid)
	}
	return m, nil
}

// Machines implements hypervisor.Engine, sorted by name.
func (e *Engine) Machines(context.Context) ([]hypervisor.Machine, error) {
	e.mu.Lock()
	ms := make([]*Machine, 0, len(e.machines))
	for _, m := range e.machines {
		ms = append(ms, m)
	}
	e.mu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].Config().Name < ms[j].Config().Name })
	out := make([]hypervisor.Machine, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out, nil
}

// Close stops every machine, ends their event streams and closes /dev/kvm.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	ms := make([]*Machine, 0, len(e.machines))
	for _, m := range e.machines {
		ms = append(ms, m)
	}
	e.mu.Unlock()
	for _, m := range ms {
		m.shutdownForClose()
	}
	return e.sys.close()
}

func (e *Engine) remove(uuid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.machines, uuid)
}

// byName finds a machine by name.
func (e *Engine) byName(name string) *Machine {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.machines {
		if m.Config().Name == name {
			return m
		}
	}
	return nil
}
