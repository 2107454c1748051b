package libvirt

import (
	"context"
	"fmt"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/hypercim/hypercim/hypervisor"
)

// supervise follows libvirtd's domain events on conn until Close. When the
// connection drops (libvirtd restarted), it reconnects with backoff,
// subscribes again, reports state changes it missed and reattaches the
// consoles of running machines. The first subscription's outcome goes to
// ready.
func (e *Engine) supervise(conn *golibvirt.Libvirt, ready chan<- error) {
	defer close(e.done)
	for first := true; ; first = false {
		ctx, cancel := context.WithCancel(e.ctx)
		err := e.subscribe(ctx, conn)
		if first {
			ready <- err
			if err != nil {
				cancel()
				return
			}
		} else if err == nil {
			e.resync()
		}
		if err == nil {
			select {
			case <-e.ctx.Done():
				cancel()
				return
			case <-conn.Disconnected():
			}
		}
		cancel()
		e.mu.Lock()
		if e.conn == conn {
			e.conn = nil
		}
		e.mu.Unlock()
		conn.Disconnect()
		if conn = e.reconnect(); conn == nil {
			return
		}
	}
}

// reconnect dials libvirtd until it answers or the engine closes.
func (e *Engine) reconnect() *golibvirt.Libvirt {
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		select {
		case <-e.ctx.Done():
			return nil
		case <-time.After(delay):
		}
		conn, err := dial(e.opts)
		if err != nil {
			continue
		}
		e.mu.Lock()
		closed := e.closed
		if !closed {
			e.conn = conn
		}
		e.mu.Unlock()
		if closed {
			conn.Disconnect()
			return nil
		}
		return conn
	}
}

// subscribe registers for the events the engine maps and routes them until
// ctx ends.
func (e *Engine) subscribe(ctx context.Context, conn *golibvirt.Libvirt) error {
	lifecycle, err := conn.LifecycleEvents(ctx)
	if err != nil {
		return wrap("subscribe to lifecycle events", err)
	}
	go func() {
		for msg := range lifecycle {
			if m := e.machine(msg.Dom.UUID); m != nil {
				m.onLifecycle(msg.Event, msg.Detail)
			}
		}
	}()
	for _, id := range []golibvirt.DomainEventID{
		golibvirt.DomainEventIDReboot,
		golibvirt.DomainEventIDIoErrorReason,
		golibvirt.DomainEventIDDeviceRemoved,
		golibvirt.DomainEventIDDeviceRemovalFailed,
	} {
		ch, err := conn.SubscribeEvents(ctx, id, nil)
		if err != nil {
			return wrap("subscribe to domain events", err)
		}
		go func() {
			for msg := range ch {
				e.route(msg)
			}
		}()
	}
	return nil
}

// route hands one non-lifecycle event to its machine.
func (e *Engine) route(msg any) {
	switch ev := msg.(type) {
	case *golibvirt.DomainEventCallbackRebootMsg:
		if m := e.machine(ev.Msg.Dom.UUID); m != nil {
			m.onReboot()
		}
	case *golibvirt.DomainEventCallbackIOErrorReasonMsg:
		if m := e.machine(ev.Msg.Dom.UUID); m != nil {
			m.onIOError(ev.Msg.DevAlias, ev.Msg.SrcPath, ev.Msg.Reason)
		}
	case *golibvirt.DomainEventCallbackDeviceRemovedMsg:
		if m := e.machine(ev.Msg.Dom.UUID); m != nil {
			m.deviceRemoved(ev.Msg.DevAlias, nil)
		}
	case *golibvirt.DomainEventCallbackDeviceRemovalFailedMsg:
		if m := e.machine(ev.Dom.UUID); m != nil {
			m.deviceRemoved(ev.DevAlias, fmt.Errorf("the guest refused to release the device"))
		}
	}
}

// resync runs after a reconnection: it reports state changes that
// happened while the engine was blind, and reattaches consoles.
func (e *Engine) resync() {
	for _, m := range e.allMachines() {
		before := m.knownState()
		st, active, err := m.status()
		if err != nil {
			continue
		}
		if active {
			ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
			m.attachConsole(ctx)
			cancel()
		} else {
			m.detachConsole()
		}
		if st != before {
			m.publish(hypervisor.EventStateChanged, st, "state found after reconnecting to libvirtd")
		}
	}
}

// eventKey identifies one libvirt event of a machine: its event ID and,
// for lifecycle events, the event and detail numbers.
type eventKey struct {
	id     golibvirt.DomainEventID
	event  int32
	detail int32
}

func lifecycleKey(event golibvirt.DomainEventType, detail int32) eventKey {
	return eventKey{id: golibvirt.DomainEventIDLifecycle, event: int32(event), detail: detail}
}

func rebootKey() eventKey { return eventKey{id: golibvirt.DomainEventIDReboot} }

// expectation is an event a machine operation causes as a side effect:
// starting paused to attach the console before the first byte, or
// restoring a snapshot to continue after saving it. Such events are
// hidden (reason empty) or published with the reason given, so
// subscribers see what the caller asked for, not how it was done.
type expectation struct {
	key    eventKey
	reason string
	until  time.Time // set by Machine.expect
}

func hide(key eventKey) expectation { return expectation{key: key} }

// describeLifecycle maps a libvirt lifecycle event onto an engine event.
// ok is false for events that are not state changes (define, undefine) and
// for SHUTDOWN, which QEMU sends as it exits, just before the STOPPED event
// that says why.
func describeLifecycle(event, detail int32) (kind hypervisor.EventKind, st hypervisor.State, reason string, ok bool) {
	kind = hypervisor.EventStateChanged
	switch golibvirt.DomainEventType(event) {
	case golibvirt.DomainEventStarted:
		st = hypervisor.StateRunning
		reason = pick(detail, "started", "migrated in", "restored from a snapshot", "reverted to a snapshot", "woken up", "recreated")
	case golibvirt.DomainEventSuspended:
		st = hypervisor.StatePaused
		reason = pick(detail, "paused", "paused for migration", "paused after an I/O error", "paused by the watchdog",
			"restored from a snapshot, paused", "reverted to a paused snapshot", "paused after a failed API call",
			"paused for post-copy migration", "paused after a failed post-copy migration")
	case golibvirt.DomainEventResumed:
		st = hypervisor.StateRunning
		reason = pick(detail, "resumed", "resumed after migration", "reverted to a snapshot", "resumed in post-copy migration", "resumed after a failed post-copy migration")
	case golibvirt.DomainEventStopped:
		st = hypervisor.StateStopped
		switch golibvirt.DomainEventStoppedDetailType(detail) {
		case golibvirt.DomainEventStoppedShutdown:
			kind, reason = hypervisor.EventGuestShutdown, "the guest powered off"
		case golibvirt.DomainEventStoppedCrashed:
			st, reason = hypervisor.StateCrashed, "stopped after a guest crash"
		case golibvirt.DomainEventStoppedFailed:
			st, reason = hypervisor.StateCrashed, "the emulator failed"
		default:
			reason = pick(detail, "", "stopped by request", "", "migrated out", "state saved to a snapshot", "", "reverted to a stopped snapshot", "recreated")
		}
	case golibvirt.DomainEventPmsuspended:
		st = hypervisor.StatePaused
		reason = pick(detail, "the guest suspended to RAM", "the guest suspended to disk")
	case golibvirt.DomainEventCrashed:
		kind, st = hypervisor.EventGuestPanic, hypervisor.StateCrashed
		reason = pick(detail, "the guest kernel panicked", "the guest kernel panicked and loaded a crash kernel")
	default:
		return 0, 0, "", false
	}
	return kind, st, reason, true
}

// pick returns names[detail], or a generic text for details libvirt added
// after this table was written.
func pick(detail int32, names ...string) string {
	if detail >= 0 && int(detail) < len(names) && names[detail] != "" {
		return names[detail]
	}
	return fmt.Sprintf("libvirt event detail %d", detail)
}

// mapState maps libvirt's domain state and reason onto an engine state;
// active is false when no emulator runs (shut off).
func mapState(state, reason int32) (st hypervisor.State, active bool) {
	switch golibvirt.DomainState(state) {
	case golibvirt.DomainRunning, golibvirt.DomainBlocked:
		return hypervisor.StateRunning, true
	case golibvirt.DomainPaused:
		switch golibvirt.DomainPausedReason(reason) {
		case golibvirt.DomainPausedStartingUp:
			return hypervisor.StateStarting, true
		case golibvirt.DomainPausedCrashed:
			return hypervisor.StateCrashed, true
		case golibvirt.DomainPausedShuttingDown:
			return hypervisor.StateShuttingDown, true
		}
		return hypervisor.StatePaused, true
	case golibvirt.DomainShutdown:
		return hypervisor.StateShuttingDown, true
	case golibvirt.DomainCrashed:
		return hypervisor.StateCrashed, true
	case golibvirt.DomainPmsuspended:
		return hypervisor.StatePaused, true
	case golibvirt.DomainShutoff:
		switch golibvirt.DomainShutoffReason(reason) {
		case golibvirt.DomainShutoffCrashed, golibvirt.DomainShutoffFailed:
			return hypervisor.StateCrashed, false
		}
		return hypervisor.StateStopped, false
	}
	return hypervisor.StateStopped, false
}
