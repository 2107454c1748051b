package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/hypercim/hypercim/hypervisor"
)

// Machine is one of hypercim's libvirt domains.
type Machine struct {
	e       *Engine
	uuid    golibvirt.UUID
	hub     *hypervisor.EventHub
	buf     *hypervisor.ConsoleBuffer
	sink    *sinkSwitch
	console *console
	// op serialises the operations made of several libvirt calls (start,
	// snapshot, hot-plug, ...); a second one waits for its turn.
	op chan struct{}

	mu        sync.Mutex
	name      string
	def       definition
	session   *consoleSession
	expected  []expectation
	lastState hypervisor.State
	starting  bool
	lastReset time.Time             // of the last EventGuestReset
	removals  map[string]chan error // device alias -> waiter
	retired   bool                  // undefined: every call fails
}

var (
	_ hypervisor.Machine     = (*Machine)(nil)
	_ hypervisor.SaveChecker = (*Machine)(nil)
)

func newMachine(e *Engine, dom golibvirt.Domain) *Machine {
	sink := &sinkSwitch{}
	m := &Machine{
		e:        e,
		uuid:     dom.UUID,
		name:     dom.Name,
		hub:      hypervisor.NewEventHub(),
		buf:      hypervisor.NewConsoleBuffer(e.opts.ConsoleRing, sink),
		sink:     sink,
		op:       make(chan struct{}, 1),
		removals: map[string]chan error{},
	}
	m.console = &console{m: m}
	return m
}

// dom is the handle libvirt's RPCs take; the server resolves it by UUID.
func (m *Machine) dom() golibvirt.Domain {
	m.mu.Lock()
	defer m.mu.Unlock()
	return golibvirt.Domain{Name: m.name, UUID: m.uuid}
}

func (m *Machine) setDefinition(def definition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.def = def
	m.name = def.cfg.Name
}

func (m *Machine) definition() definition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.def
}

// refresh rereads the persistent definition after a change.
func (m *Machine) refresh(conn *golibvirt.Libvirt) error {
	def, err := readDefinition(conn, m.dom())
	if err != nil {
		return err
	}
	m.setDefinition(def)
	return nil
}

// retire marks the machine undefined.
func (m *Machine) retire() {
	m.mu.Lock()
	m.retired = true
	m.mu.Unlock()
	m.detachConsole()
	m.hub.Close()
}

// UUID implements hypervisor.Machine.
func (m *Machine) UUID() string { return formatUUID(m.uuid) }

// Config implements hypervisor.Machine. Paths are absolute, formats
// detected, and NICs carry the MAC and network libvirt gave them.
func (m *Machine) Config() hypervisor.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	cfg := m.def.cfg.Clone()
	cfg.Console = m.sink.get()
	return cfg
}

// State implements hypervisor.Machine. It asks libvirtd, falling back to
// the last state known when libvirtd cannot answer.
func (m *Machine) State() hypervisor.State {
	st, _, _ := m.status()
	return st
}

func (m *Machine) knownState() hypervisor.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastState
}

// status returns the machine's state and whether an emulator runs.
func (m *Machine) status() (hypervisor.State, bool, error) {
	if err := m.alive("query"); err != nil {
		return m.knownState(), false, err
	}
	conn, err := m.e.client()
	if err != nil {
		return m.knownState(), false, err
	}
	state, reason, err := conn.DomainGetState(m.dom(), 0)
	if err != nil {
		return m.knownState(), false, wrap("get state", err)
	}
	st, active := mapState(state, reason)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.starting && st == hypervisor.StatePaused {
		st = hypervisor.StateStarting // paused only until the console is attached
	}
	m.lastState = st
	return st, active, nil
}

func (m *Machine) alive(op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.retired {
		return fmt.Errorf("libvirt: %s: %w: machine %s was undefined", op, hypervisor.ErrNotFound, formatUUID(m.uuid))
	}
	return nil
}

// acquire takes the machine's operation slot, waiting until ctx ends.
func (m *Machine) acquire(ctx context.Context, op string) (func(), error) {
	if err := m.alive(op); err != nil {
		return nil, err
	}
	select {
	case m.op <- struct{}{}:
		return func() { <-m.op }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("libvirt: %s: %w: %w", op, hypervisor.ErrBusy, ctx.Err())
	}
}

// begin starts an operation allowed only in states where allowed says so:
// it takes the slot, reads the state and returns the connection.
func (m *Machine) begin(ctx context.Context, op string, allowed func(st hypervisor.State, active bool) bool) (*golibvirt.Libvirt, hypervisor.State, func(), error) {
	release, err := m.acquire(ctx, op)
	if err != nil {
		return nil, 0, nil, err
	}
	conn, err := m.e.client()
	if err != nil {
		release()
		return nil, 0, nil, err
	}
	st, active, err := m.status()
	if err != nil {
		release()
		return nil, 0, nil, err
	}
	if !allowed(st, active) {
		release()
		return nil, 0, nil, stateError(op, st, nil)
	}
	return conn, st, release, nil
}

func isStopped(_ hypervisor.State, active bool) bool { return !active }
func isActive(_ hypervisor.State, active bool) bool  { return active }
func isRunning(st hypervisor.State, _ bool) bool     { return st == hypervisor.StateRunning }
func isPaused(st hypervisor.State, _ bool) bool      { return st == hypervisor.StatePaused }
func isLive(st hypervisor.State, _ bool) bool {
	return st == hypervisor.StateRunning || st == hypervisor.StatePaused
}

// fail wraps a libvirt error for op; a refusal because of the domain's
// state becomes a *hypervisor.StateError carrying the state now.
func (m *Machine) fail(op string, err error) error {
	wrapped := wrap(op, err)
	if errors.Is(wrapped, hypervisor.ErrInvalidState) {
		st, _, _ := m.status()
		return stateError(op, st, err)
	}
	return wrapped
}

// Start implements hypervisor.Machine. The domain starts paused, the
// console is attached, then the vCPUs run: the console history holds the
// guest's output from its first byte.
func (m *Machine) Start(ctx context.Context) error {
	conn, _, release, err := m.begin(ctx, "start", isStopped)
	if err != nil {
		return err
	}
	defer release()
	m.setStarting(true)
	defer m.setStarting(false)
	hidden := []expectation{
		hide(lifecycleKey(golibvirt.DomainEventSuspended, int32(golibvirt.DomainEventSuspendedPaused))),
		hide(lifecycleKey(golibvirt.DomainEventResumed, int32(golibvirt.DomainEventResumedUnpaused))),
	}
	m.expect(hidden...)
	if _, err := conn.DomainCreateWithFlags(m.dom(), uint32(golibvirt.DomainStartPaused)); err != nil {
		m.unexpect(hidden...)
		return withAccessHint(m.fail("start", err))
	}
	return m.run(ctx, conn, time.Now(), true, hidden)
}

func (m *Machine) setStarting(v bool) {
	m.mu.Lock()
	m.starting = v
	m.mu.Unlock()
}

// run finishes bringing up a paused emulator: console, start time, and,
// when resume is set, the vCPUs. On failure the emulator is destroyed, so
// the machine is never left half started.
func (m *Machine) run(ctx context.Context, conn *golibvirt.Libvirt, started time.Time, resume bool, hidden []expectation) error {
	err := m.attachConsole(ctx)
	if err == nil {
		err = m.setStarted(conn, started)
	}
	if err == nil && resume {
		if err = conn.DomainResume(m.dom()); err != nil {
			err = m.fail("resume", err)
		}
	}
	if err != nil {
		m.unexpect(hidden...)
		m.detachConsole()
		conn.DomainDestroyFlags(m.dom(), golibvirt.DomainDestroyDefault)
		return err
	}
	return nil
}

// setStarted records when the emulator started, in live-only metadata so
// that Stats reports the uptime to any later process.
func (m *Machine) setStarted(conn *golibvirt.Libvirt, t time.Time) error {
	text := `<runtime started="` + t.UTC().Format(time.RFC3339Nano) + `"/>`
	err := conn.DomainSetMetadata(m.dom(), int32(golibvirt.DomainMetadataElement), golibvirt.OptString{text},
		golibvirt.OptString{runtimeKey}, golibvirt.OptString{runtimeNS}, golibvirt.DomainAffectLive)
	return m.fail("record start time", err)
}

// Stop implements hypervisor.Machine: virDomainDestroy, which kills the
// emulator (SIGTERM, then SIGKILL after a grace period).
func (m *Machine) Stop(ctx context.Context) error {
	conn, _, release, err := m.begin(ctx, "stop", isActive)
	if err != nil {
		return err
	}
	defer release()
	return m.fail("stop", conn.DomainDestroyFlags(m.dom(), golibvirt.DomainDestroyDefault))
}

// Shutdown implements hypervisor.Machine: an ACPI power button press.
// Completion arrives as an EventGuestShutdown.
func (m *Machine) Shutdown(ctx context.Context) error {
	conn, _, release, err := m.begin(ctx, "shut down", isRunning)
	if err != nil {
		return err
	}
	defer release()
	return m.fail("shut down", conn.DomainShutdownFlags(m.dom(), golibvirt.DomainShutdownAcpiPowerBtn))
}

// Pause implements hypervisor.Machine.
func (m *Machine) Pause(ctx context.Context) error {
	conn, _, release, err := m.begin(ctx, "pause", isRunning)
	if err != nil {
		return err
	}
	defer release()
	return m.fail("pause", conn.DomainSuspend(m.dom()))
}

// Resume implements hypervisor.Machine.
func (m *Machine) Resume(ctx context.Context) error {
	conn, _, release, err := m.begin(ctx, "resume", isPaused)
	if err != nil {
		return err
	}
	defer release()
	return m.fail("resume", conn.DomainResume(m.dom()))
}

// Reset implements hypervisor.Machine: the emulator's reset line, as the
// reset button of a real machine.
func (m *Machine) Reset(ctx context.Context) error {
	conn, _, release, err := m.begin(ctx, "reset", isActive)
	if err != nil {
		return err
	}
	defer release()
	reset := expectation{key: rebootKey(), reason: "reset by request"}
	m.expect(reset)
	if err := conn.DomainReset(m.dom(), 0); err != nil {
		m.unexpect(reset)
		return m.fail("reset", err)
	}
	return nil
}

// Events implements hypervisor.Machine.
func (m *Machine) Events(ctx context.Context) <-chan hypervisor.Event {
	return m.hub.Subscribe(ctx)
}

// Console implements hypervisor.Machine.
func (m *Machine) Console() hypervisor.Console { return m.console }

// Undefine implements hypervisor.Machine. Disk images, and snapshot
// directories written by Snapshot, are left alone.
func (m *Machine) Undefine(ctx context.Context) error {
	conn, _, release, err := m.begin(ctx, "undefine", isStopped)
	if err != nil {
		return err
	}
	defer release()
	flags := golibvirt.DomainUndefineManagedSave | golibvirt.DomainUndefineSnapshotsMetadata |
		golibvirt.DomainUndefineCheckpointsMetadata | golibvirt.DomainUndefineNvram
	if err := conn.DomainUndefineFlags(m.dom(), flags); err != nil {
		return m.fail("undefine", err)
	}
	m.e.forget(m.UUID())
	return nil
}

// publish delivers an event to subscribers.
func (m *Machine) publish(kind hypervisor.EventKind, st hypervisor.State, reason string) {
	m.mu.Lock()
	m.lastState = st
	m.mu.Unlock()
	m.hub.Publish(hypervisor.Event{Time: time.Now(), Machine: m.UUID(), Kind: kind, State: st, Reason: reason})
}

// expectationLifetime bounds how long an expected event is waited for:
// libvirt emits them within milliseconds of the call that causes them, and
// one that never came must not swallow a later, genuine event.
const expectationLifetime = time.Minute

func (m *Machine) expect(xs ...expectation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	until := time.Now().Add(expectationLifetime)
	for _, x := range xs {
		x.until = until
		m.expected = append(m.expected, x)
	}
}

// unexpect withdraws expectations whose events will not come.
func (m *Machine) unexpect(xs ...expectation) {
	for _, x := range xs {
		m.takeExpected(x.key)
	}
}

func (m *Machine) takeExpected(key eventKey) (expectation, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.expected = slices.DeleteFunc(m.expected, func(x expectation) bool { return now.After(x.until) })
	for i, x := range m.expected {
		if x.key == key {
			m.expected = append(m.expected[:i], m.expected[i+1:]...)
			return x, true
		}
	}
	return expectation{}, false
}

func (m *Machine) onLifecycle(event, detail int32) {
	kind, st, reason, ok := describeLifecycle(event, detail)
	if !ok {
		return
	}
	if x, expected := m.takeExpected(lifecycleKey(golibvirt.DomainEventType(event), detail)); expected {
		if x.reason == "" {
			return
		}
		reason = x.reason
	} else if st == hypervisor.StatePaused && m.pausedByCrash() {
		return // QEMU stopped the vCPUs on a guest panic: the CRASHED event follows
	}
	if golibvirt.DomainEventType(event) == golibvirt.DomainEventStopped {
		m.drainConsole()
	}
	m.publish(kind, st, reason)
}

// consoleDrain bounds the wait for the console stream of an exited
// emulator: libvirtd ends it within milliseconds of QEMU's exit.
const consoleDrain = 2 * time.Second

// drainConsole waits until the console stream has delivered the output of
// an emulator that exited. The stream and the events come over different
// connections, so without it a subscriber seeing the machine stop (such as
// `hypercim vm run`, which then exits) could miss the guest's last lines.
func (m *Machine) drainConsole() {
	if s := m.currentSession(); s != nil {
		select {
		case <-s.done:
		case <-time.After(consoleDrain):
		}
	}
}

// crashSettle bounds how long an unexplained pause may wait for the
// guest-panic handling that follows it.
const crashSettle = time.Second

// pausedByCrash reports whether the domain is paused, or already stopped,
// because the guest crashed. QEMU stops the vCPUs before libvirtd's worker
// handles the panic, so a pause with an unknown reason is polled until
// libvirtd has said why (or crashSettle passes).
func (m *Machine) pausedByCrash() bool {
	conn, err := m.e.client()
	if err != nil {
		return false
	}
	deadline := time.Now().Add(crashSettle)
	for {
		state, reason, err := conn.DomainGetState(m.dom(), 0)
		if err != nil {
			return false
		}
		switch golibvirt.DomainState(state) {
		case golibvirt.DomainPaused:
			switch golibvirt.DomainPausedReason(reason) {
			case golibvirt.DomainPausedCrashed:
				return true
			case golibvirt.DomainPausedUnknown:
				if time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
					continue
				}
			}
		case golibvirt.DomainShutoff:
			return golibvirt.DomainShutoffReason(reason) == golibvirt.DomainShutoffCrashed
		case golibvirt.DomainCrashed:
			return true
		}
		return false
	}
}

// resetEcho is how long after a reset further REBOOT events are taken for
// echoes of it: SeaBIOS answers a warm reset by resetting the machine again
// (its "hard reboot"), so QEMU reports two or three resets for one, all
// within a fraction of a second (a few seconds under heavy emulation).
const resetEcho = 10 * time.Second

func (m *Machine) onReboot() {
	reason := "the guest reset itself"
	if x, expected := m.takeExpected(rebootKey()); expected {
		reason = x.reason
	}
	now := time.Now()
	m.mu.Lock()
	echo := now.Sub(m.lastReset) < resetEcho
	if !echo {
		m.lastReset = now
	}
	m.mu.Unlock()
	if !echo {
		m.publish(hypervisor.EventGuestReset, hypervisor.StateRunning, reason)
	}
}

func (m *Machine) onIOError(devAlias, path, reason string) {
	dev := devAlias
	if id, ok := unalias(devAlias); ok {
		dev = id
	}
	m.publish(hypervisor.EventDeviceError, m.knownState(), fmt.Sprintf("I/O error on %s (%s): %s", dev, path, reason))
}

// sinkSwitch is the ConsoleBuffer's sink: Config.Console, replaceable by
// Reconfigure. A failing writer is dropped here, not by the buffer, so a
// later one can still be set.
type sinkSwitch struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *sinkSwitch) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

func (s *sinkSwitch) get() io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w
}

func (s *sinkSwitch) Write(p []byte) (int, error) {
	w := s.get()
	if w == nil {
		return len(p), nil
	}
	if _, err := w.Write(p); err != nil {
		s.mu.Lock()
		if s.w == w {
			s.w = nil
		}
		s.mu.Unlock()
	}
	return len(p), nil
}
