package kvm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// maxDeviceErrors bounds the device-error events of one run, so a guest
// hammering a bad register cannot flood subscribers.
const maxDeviceErrors = 100

// Machine is one machine of the kvm engine. Lifecycle operations are
// serialized by a semaphore (waiting honours the caller's context); reads
// of state and statistics never wait for them.
type Machine struct {
	eng     *Engine
	uuid    string
	events  *hypervisor.EventHub
	history *hypervisor.ConsoleBuffer
	op      chan struct{} // held by the lifecycle operation in progress

	mu        sync.Mutex
	cfg       hypervisor.Config
	state     hypervisor.State
	vm        *vm
	started   time.Time
	prevState hypervisor.State // state to return to after Resume
	devErrors int
	undefined bool
	// totals of runs of the current start that ended in a guest reset,
	// so counters cover the whole time since Start
	base runTotals
}

// runTotals are counters carried over from earlier runs.
type runTotals struct {
	cpu   time.Duration
	disks map[string]hypervisor.DiskStats
	nics  map[string]hypervisor.NICStats
}

var (
	_ hypervisor.Machine         = (*Machine)(nil)
	_ hypervisor.ResourceLimiter = (*Machine)(nil)
)

func newMachine(e *Engine, cfg hypervisor.Config) *Machine {
	return &Machine{
		eng:     e,
		uuid:    cfg.UUID,
		cfg:     cfg,
		events:  hypervisor.NewEventHub(),
		history: hypervisor.NewConsoleBuffer(e.opts.ConsoleRing, nil),
		op:      make(chan struct{}, 1),
	}
}

// UUID implements hypervisor.Machine.
func (m *Machine) UUID() string { return m.uuid }

// Config implements hypervisor.Machine.
func (m *Machine) Config() hypervisor.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Clone()
}

// State implements hypervisor.Machine.
func (m *Machine) State() hypervisor.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Events implements hypervisor.Machine.
func (m *Machine) Events(ctx context.Context) <-chan hypervisor.Event {
	return m.events.Subscribe(ctx)
}

// lock takes the lifecycle semaphore.
func (m *Machine) lock(ctx context.Context) error {
	select {
	case m.op <- struct{}{}:
		m.mu.Lock()
		gone := m.undefined
		m.mu.Unlock()
		if gone {
			<-m.op
			return fmt.Errorf("%w: %s was undefined", hypervisor.ErrNotFound, m.uuid)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for another operation on %s: %w", hypervisor.ErrBusy, m.uuid, ctx.Err())
	}
}

func (m *Machine) unlock() { <-m.op }

// setState records a transition and publishes it; m.mu must not be held.
func (m *Machine) setState(s hypervisor.State, reason string) {
	m.mu.Lock()
	m.state = s
	m.mu.Unlock()
	m.publish(hypervisor.EventStateChanged, s, reason)
}

func (m *Machine) publish(kind hypervisor.EventKind, s hypervisor.State, reason string) {
	m.events.Publish(hypervisor.Event{Time: time.Now(), Machine: m.uuid, Kind: kind, State: s, Reason: reason})
}

// requireState returns a StateError unless the machine is in one of ok.
func (m *Machine) requireState(op string, ok ...hypervisor.State) (hypervisor.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range ok {
		if m.state == s {
			return s, nil
		}
	}
	return m.state, &hypervisor.StateError{Op: op, State: m.state}
}

// hooks connects a new run to this machine; *v is the run once built, so
// a guest exit can tell a current run from one already replaced.
func (m *Machine) hooks(v **vm) vmHooks {
	return vmHooks{
		exit:    func(kind exitKind, reason string) { m.onGuestExit(*v, kind, reason) },
		report:  m.onDeviceError,
		console: consoleOut{m},
	}
}

// consoleOut receives the guest's serial output: into the history ring
// and to the configured sink, looked up per write so Reconfigure takes
// effect on the next start.
type consoleOut struct{ m *Machine }

func (c consoleOut) Write(p []byte) (int, error) {
	c.m.history.Write(p) //nolint:errcheck // never fails
	c.m.mu.Lock()
	sink := c.m.cfg.Console
	c.m.mu.Unlock()
	if sink != nil {
		sink.Write(p) //nolint:errcheck // a failing sink must not stall the guest
	}
	return len(p), nil
}

// newRun builds a VM for the current config, virtio devices placed as a
// snapshot recorded them when placement is not nil; the caller boots or
// restores it.
func (m *Machine) newRun(placement map[string]int) (*vm, error) {
	m.mu.Lock()
	cfg := m.cfg.Clone()
	m.devErrors = 0
	m.mu.Unlock()
	var v *vm
	nv, err := newVM(m.eng.sys, cfg, m.eng.opts, m.hooks(&v), placement)
	if err != nil {
		return nil, err
	}
	v = nv
	return v, nil
}

// boot creates a VM and starts the kernel or the BIOS in it.
func (m *Machine) boot() (*vm, error) {
	var firmware []byte
	if m.Config().Boot.Firmware {
		img, err := m.eng.firmware()
		if err != nil {
			return nil, err
		}
		firmware = img
	}
	v, err := m.newRun(nil)
	if err != nil {
		return nil, err
	}
	if err := v.boot(firmware); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// install makes v the machine's running VM.
func (m *Machine) install(v *vm, fresh bool) {
	m.mu.Lock()
	m.vm = v
	if fresh {
		m.started = time.Now()
		m.base = runTotals{}
	}
	m.mu.Unlock()
}

// teardown closes the current VM and folds its counters into the totals.
func (m *Machine) teardown() {
	m.mu.Lock()
	v := m.vm
	m.vm = nil
	m.mu.Unlock()
	if v == nil {
		return
	}
	v.close()
	st := v.stats()
	m.mu.Lock()
	m.base.cpu += st.cpu
	if m.base.disks == nil {
		m.base.disks, m.base.nics = map[string]hypervisor.DiskStats{}, map[string]hypervisor.NICStats{}
	}
	for _, d := range st.disks {
		m.base.disks[d.ID] = addDisk(m.base.disks[d.ID], d)
	}
	for _, n := range st.nics {
		m.base.nics[n.ID] = addNIC(m.base.nics[n.ID], n)
	}
	m.mu.Unlock()
}

// Start implements hypervisor.Machine.
func (m *Machine) Start(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	prev, err := m.requireState("start", hypervisor.StateStopped, hypervisor.StateCrashed)
	if err != nil {
		return err
	}
	m.setState(hypervisor.StateStarting, "starting")
	v, err := m.boot()
	if err != nil {
		m.setState(prev, fmt.Sprintf("start failed: %v", err))
		return fmt.Errorf("starting %s: %w", m.uuid, err)
	}
	m.install(v, true)
	v.run()
	m.setState(hypervisor.StateRunning, "started")
	return nil
}

// Stop implements hypervisor.Machine.
func (m *Machine) Stop(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	if _, err := m.requireState("stop", hypervisor.StateRunning, hypervisor.StatePaused,
		hypervisor.StateShuttingDown, hypervisor.StateCrashed); err != nil {
		return err
	}
	m.teardown()
	m.setState(hypervisor.StateStopped, "stopped by request")
	return nil
}

// Shutdown implements hypervisor.Machine: it types Ctrl+Alt+Del on the
// i8042 keyboard, the power request PC guests honour without ACPI (Linux
// with a "ctrlaltdel" init action or the kernel's default reboot, the
// test guest by powering off).
func (m *Machine) Shutdown(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	if _, err := m.requireState("shut down", hypervisor.StateRunning, hypervisor.StateShuttingDown); err != nil {
		return err
	}
	m.mu.Lock()
	v := m.vm
	m.mu.Unlock()
	v.kbd.SendCtrlAltDel()
	m.setState(hypervisor.StateShuttingDown, "shutdown requested: Ctrl+Alt+Del sent to the guest")
	return nil
}

// AbandonShutdown implements hypervisor.ShutdownAbandoner.
func (m *Machine) AbandonShutdown(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	// Under mu, event included (Publish does not block): a guest that
	// powers off at this moment is neither overwritten with Running nor
	// reported before it.
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.state == hypervisor.StateShuttingDown:
		m.state = hypervisor.StateRunning
		m.publish(hypervisor.EventStateChanged, hypervisor.StateRunning, "the guest did not act on the shutdown request")
	case m.state == hypervisor.StatePaused && m.prevState == hypervisor.StateShuttingDown:
		m.prevState = hypervisor.StateRunning
	}
	return nil
}

// Pause implements hypervisor.Machine.
func (m *Machine) Pause(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	prev, err := m.requireState("pause", hypervisor.StateRunning, hypervisor.StateShuttingDown)
	if err != nil {
		return err
	}
	if err := m.pauseVM(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	m.prevState = prev
	m.mu.Unlock()
	m.setState(hypervisor.StatePaused, "paused by request")
	return nil
}

func (m *Machine) pauseVM(ctx context.Context) error {
	m.mu.Lock()
	v := m.vm
	m.mu.Unlock()
	if err := v.pause(ctx); err != nil {
		v.run()
		return fmt.Errorf("pausing %s: %w", m.uuid, err)
	}
	return nil
}

// Resume implements hypervisor.Machine.
func (m *Machine) Resume(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	if _, err := m.requireState("resume", hypervisor.StatePaused); err != nil {
		return err
	}
	m.mu.Lock()
	v, next := m.vm, m.prevState
	m.mu.Unlock()
	if next != hypervisor.StateShuttingDown {
		next = hypervisor.StateRunning
	}
	v.run()
	m.setState(next, "resumed by request")
	return nil
}

// Reset implements hypervisor.Machine: the run is torn down and the
// kernel booted again in a fresh VM, as a power cycle would.
func (m *Machine) Reset(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	if _, err := m.requireState("reset", hypervisor.StateRunning, hypervisor.StatePaused,
		hypervisor.StateShuttingDown); err != nil {
		return err
	}
	return m.reboot("reset by request", hypervisor.EventStateChanged)
}

// reboot replaces the current run with a freshly booted one.
func (m *Machine) reboot(reason string, kind hypervisor.EventKind) error {
	m.teardown()
	v, err := m.boot()
	if err != nil {
		msg := fmt.Sprintf("%s, but booting again failed: %v", reason, err)
		m.mu.Lock()
		m.state = hypervisor.StateCrashed
		m.mu.Unlock()
		m.publish(hypervisor.EventGuestPanic, hypervisor.StateCrashed, msg)
		m.publish(hypervisor.EventStateChanged, hypervisor.StateCrashed, msg)
		return fmt.Errorf("rebooting %s: %w", m.uuid, err)
	}
	m.install(v, false)
	v.run()
	m.mu.Lock()
	m.state = hypervisor.StateRunning
	m.mu.Unlock()
	if kind != hypervisor.EventStateChanged {
		m.publish(kind, hypervisor.StateRunning, reason)
	}
	m.publish(hypervisor.EventStateChanged, hypervisor.StateRunning, reason)
	return nil
}

// onGuestExit handles a power-off, reset or crash the guest caused. It runs
// on its own goroutine and waits for any operation in progress; a run that
// was already replaced is ignored.
func (m *Machine) onGuestExit(v *vm, kind exitKind, reason string) {
	m.op <- struct{}{}
	defer m.unlock()
	m.mu.Lock()
	current := m.vm == v && v != nil
	m.mu.Unlock()
	if !current {
		return
	}
	switch kind {
	case exitPowerOff:
		m.teardown()
		m.mu.Lock()
		m.state = hypervisor.StateStopped
		m.mu.Unlock()
		m.publish(hypervisor.EventGuestShutdown, hypervisor.StateStopped, reason)
		m.publish(hypervisor.EventStateChanged, hypervisor.StateStopped, reason)
	case exitReset:
		m.reboot(reason, hypervisor.EventGuestReset) //nolint:errcheck // reported as events
	default:
		m.teardown()
		m.mu.Lock()
		m.state = hypervisor.StateCrashed
		m.mu.Unlock()
		m.publish(hypervisor.EventGuestPanic, hypervisor.StateCrashed, reason)
		m.publish(hypervisor.EventStateChanged, hypervisor.StateCrashed, reason)
	}
}

// onDeviceError turns a device report into an event.
func (m *Machine) onDeviceError(device string, err error) {
	m.mu.Lock()
	m.devErrors++
	n, s := m.devErrors, m.state
	m.mu.Unlock()
	switch {
	case n < maxDeviceErrors:
		m.publish(hypervisor.EventDeviceError, s, fmt.Sprintf("%s: %v", device, err))
	case n == maxDeviceErrors:
		m.publish(hypervisor.EventDeviceError, s, fmt.Sprintf("%s: %v (further device errors of this run are not reported)", device, err))
	}
}

// Reconfigure implements hypervisor.Machine.
func (m *Machine) Reconfigure(ctx context.Context, cfg hypervisor.Config) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	if _, err := m.requireState("reconfigure", hypervisor.StateStopped, hypervisor.StateCrashed); err != nil {
		return err
	}
	if cfg.UUID != m.uuid {
		return fmt.Errorf("%w: the UUID cannot change (%s to %s)", hypervisor.ErrInvalidConfig, m.uuid, cfg.UUID)
	}
	if err := m.eng.validate(cfg); err != nil {
		return err
	}
	if other := m.eng.byName(cfg.Name); other != nil && other != m {
		return fmt.Errorf("%w: a machine named %q exists (%s)", hypervisor.ErrExists, cfg.Name, other.UUID())
	}
	m.mu.Lock()
	m.cfg = cfg.Clone()
	m.mu.Unlock()
	return nil
}

// AttachDisk implements hypervisor.Machine.
func (m *Machine) AttachDisk(ctx context.Context, disk hypervisor.DiskConfig) error {
	return m.editDevices(ctx, "attach a disk to", func(cfg *hypervisor.Config) error {
		cfg.Disks = append(cfg.Disks, disk)
		return nil
	}, func(v *vm) error { return v.attachDisk(disk, -1) })
}

// DetachDisk implements hypervisor.Machine.
func (m *Machine) DetachDisk(ctx context.Context, id string) error {
	return m.editDevices(ctx, "detach a disk from", func(cfg *hypervisor.Config) error {
		for i, d := range cfg.Disks {
			if d.ID == id {
				cfg.Disks = append(cfg.Disks[:i], cfg.Disks[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: machine %s has no disk %q", hypervisor.ErrNotFound, m.uuid, id)
	}, func(v *vm) error { _, err := v.unplug(id); return err })
}

// AttachNIC implements hypervisor.Machine.
func (m *Machine) AttachNIC(ctx context.Context, nic hypervisor.NICConfig) error {
	return m.editDevices(ctx, "attach a network adapter to", func(cfg *hypervisor.Config) error {
		cfg.NICs = append(cfg.NICs, nic)
		return nil
	}, func(v *vm) error { return v.attachNIC(nic, -1) })
}

// DetachNIC implements hypervisor.Machine.
func (m *Machine) DetachNIC(ctx context.Context, id string) error {
	return m.editDevices(ctx, "detach a network adapter from", func(cfg *hypervisor.Config) error {
		for i, n := range cfg.NICs {
			if n.ID == id {
				cfg.NICs = append(cfg.NICs[:i], cfg.NICs[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: machine %s has no network adapter %q", hypervisor.ErrNotFound, m.uuid, id)
	}, func(v *vm) error { _, err := v.unplug(id); return err })
}

// editDevices changes the definition and, on a running machine, plugs or
// unplugs the device with the vCPUs paused so no vCPU is inside it.
func (m *Machine) editDevices(ctx context.Context, op string, edit func(*hypervisor.Config) error, live func(*vm) error) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	state, err := m.requireState(op, hypervisor.StateStopped, hypervisor.StateCrashed, hypervisor.StateRunning,
		hypervisor.StatePaused, hypervisor.StateShuttingDown)
	if err != nil {
		return err
	}
	m.mu.Lock()
	cfg := m.cfg.Clone()
	v := m.vm
	m.mu.Unlock()
	if err := edit(&cfg); err != nil {
		return err
	}
	if err := m.eng.validate(cfg); err != nil {
		return err
	}
	if v != nil {
		if state != hypervisor.StatePaused {
			if err := v.pause(ctx); err != nil {
				v.run()
				return fmt.Errorf("pausing %s for hot-plug: %w", m.uuid, err)
			}
			defer v.run()
		}
		v.cfg = cfg.Clone()
		if err := live(v); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.cfg = cfg
	m.mu.Unlock()
	return nil
}

// Stats implements hypervisor.Machine.
func (m *Machine) Stats(context.Context) (hypervisor.Stats, error) {
	m.mu.Lock()
	v, state, started, base, mem := m.vm, m.state, m.started, m.base, m.cfg.MemoryBytes
	vcpus := m.cfg.VCPUs
	m.mu.Unlock()
	st := hypervisor.Stats{State: state, MemoryBytes: mem}
	if v == nil {
		return st, nil
	}
	run := v.stats()
	st.Uptime = time.Since(started)
	st.VCPUs = vcpus
	st.VCPUTime = base.cpu + run.cpu
	for _, d := range run.disks {
		st.Disks = append(st.Disks, addDisk(base.disks[d.ID], d))
	}
	for _, n := range run.nics {
		st.NICs = append(st.NICs, addNIC(base.nics[n.ID], n))
	}
	return st, nil
}

func addDisk(a, b hypervisor.DiskStats) hypervisor.DiskStats {
	return hypervisor.DiskStats{ID: b.ID, ReadOps: a.ReadOps + b.ReadOps, WriteOps: a.WriteOps + b.WriteOps,
		ReadBytes: a.ReadBytes + b.ReadBytes, WriteBytes: a.WriteBytes + b.WriteBytes, FlushOps: a.FlushOps + b.FlushOps}
}

func addNIC(a, b hypervisor.NICStats) hypervisor.NICStats {
	return hypervisor.NICStats{ID: b.ID, RxBytes: a.RxBytes + b.RxBytes, TxBytes: a.TxBytes + b.TxBytes,
		RxPackets: a.RxPackets + b.RxPackets, TxPackets: a.TxPackets + b.TxPackets,
		RxDropped: a.RxDropped + b.RxDropped, TxDropped: a.TxDropped + b.TxDropped}
}

// Console implements hypervisor.Machine.
func (m *Machine) Console() hypervisor.Console { return machineConsole{m} }

// machineConsole is the Console of a machine: history and subscriptions
// from the ring buffer, input to the current run's UART.
type machineConsole struct{ m *Machine }

func (c machineConsole) History() []byte { return c.m.history.History() }

func (c machineConsole) Subscribe(ctx context.Context) <-chan []byte {
	return c.m.history.Subscribe(ctx)
}

// Write types p on the serial line of the running machine.
func (c machineConsole) Write(p []byte) (int, error) {
	c.m.mu.Lock()
	v, state := c.m.vm, c.m.state
	c.m.mu.Unlock()
	if v == nil {
		return 0, &hypervisor.StateError{Op: "type on the console of", State: state}
	}
	return v.serial.Input(p)
}

// Undefine implements hypervisor.Machine.
func (m *Machine) Undefine(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	if _, err := m.requireState("undefine", hypervisor.StateStopped, hypervisor.StateCrashed); err != nil {
		return err
	}
	m.mu.Lock()
	m.undefined = true
	m.mu.Unlock()
	m.eng.remove(m.uuid)
	m.events.Close()
	return nil
}

// shutdownForClose stops the machine when the engine closes.
func (m *Machine) shutdownForClose() {
	m.op <- struct{}{}
	defer m.unlock()
	m.mu.Lock()
	running := m.vm != nil
	m.mu.Unlock()
	if running {
		m.teardown()
		m.setState(hypervisor.StateStopped, "engine closed")
	}
	m.events.Close()
}
