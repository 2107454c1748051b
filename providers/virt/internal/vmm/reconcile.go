package vmm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// engineConfig is the engine's view of a definition.
func (m *Manager) engineConfig(uuid string, d Definition) hypervisor.Config {
	cfg := hypervisor.Config{Name: d.Name, UUID: uuid, VCPUs: d.VCPUs, MemoryBytes: d.MemoryMiB << 20,
		Boot:   hypervisor.BootSource{Kernel: d.Kernel, Initrd: d.Initrd, Cmdline: d.Cmdline, Firmware: d.Kernel == ""},
		Limits: d.Limits}
	for _, dk := range d.Disks {
		if dk.Image != "" {
			cfg.Disks = append(cfg.Disks, engineDisk(m.pool, dk))
		}
	}
	for _, n := range d.NICs {
		cfg.NICs = append(cfg.NICs, engineNIC(n))
	}
	return cfg
}

func engineDisk(p *pool, d Disk) hypervisor.DiskConfig {
	return hypervisor.DiskConfig{ID: d.ID, Path: p.abs(d.Image), Format: d.Format, ReadOnly: d.ReadOnly}
}

func engineNIC(n NIC) hypervisor.NICConfig {
	c := hypervisor.NICConfig{ID: n.ID, MAC: n.MAC}
	if n.Connected {
		kind, name, _ := strings.Cut(n.Connection, ":")
		switch kind {
		case "tap":
			c.Tap = name
		case "network":
			c.Network = name
		case "bridge":
			c.Network = "bridge:" + name
		}
	}
	return c
}

// sameHardware compares what the engine runs; names and paths of the
// boot source included, formats left to the engine's detection.
func sameHardware(a, b hypervisor.Config) bool {
	if a.Name != b.Name || a.VCPUs != b.VCPUs || a.MemoryBytes != b.MemoryBytes || a.Boot != b.Boot || a.Limits != b.Limits {
		return false
	}
	return sameDevices(a, b)
}

func sameDevices(a, b hypervisor.Config) bool {
	diskKey := func(d hypervisor.DiskConfig) string { return fmt.Sprintf("%s|%s|%v", d.ID, d.Path, d.ReadOnly) }
	nicKey := func(n hypervisor.NICConfig) string { return n.ID + "|" + strings.ToLower(n.MAC) + "|" + n.Tap }
	da, db := mapKeys(a.Disks, diskKey), mapKeys(b.Disks, diskKey)
	na, nb := mapKeys(a.NICs, nicKey), mapKeys(b.NICs, nicKey)
	return slices.Equal(da, db) && slices.Equal(na, nb)
}

func mapKeys[T any](xs []T, key func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	sort.Strings(out)
	return out
}

// reconcile brings the engine in line with the stored systems, follows
// their events, and starts those whose startup action says so.
func (m *Manager) reconcile(ctx context.Context) error {
	m.mu.RLock()
	ss := make([]*system, 0, len(m.systems))
	for _, s := range m.systems {
		ss = append(ss, s)
	}
	m.mu.RUnlock()
	sort.Slice(ss, func(i, j int) bool { return ss[i].uuid < ss[j].uuid })
	var toStart []*system
	for _, s := range ss {
		rec := s.record()
		mach, err := m.bind(ctx, rec)
		if err != nil {
			// The system stays known (and can be destroyed); operations
			// that need the engine report why it is unavailable.
			m.log.WithError(err).WithField("system", rec.UUID).Error("the engine does not accept the stored definition")
			s.mu.Lock()
			s.reason = "the engine refused the stored definition: " + err.Error()
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.machine = mach
		s.mu.Unlock()
		m.watch(s)
		st := mach.State()
		switch {
		case active(st):
			if !rec.WasActive {
				m.commit(s, func(r *systemRecord) error { r.WasActive = true; return nil }, nil)
			}
		case rec.Def.Startup == StartupAlways || rec.Def.Startup == StartupRestartIfActive && rec.WasActive:
			toStart = append(toStart, s)
		case rec.WasActive:
			m.commit(s, func(r *systemRecord) error { r.WasActive = false; return nil }, nil)
		}
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for _, s := range ss {
			m.collect(s)
		}
		for _, s := range toStart {
			if m.ctx.Err() != nil {
				return
			}
			_, err := m.RequestState(m.ctx, s.uuid, TransitionStart, CallOptions{Wait: m.opts.GuestTimeout, User: "(automatic startup)"})
			if err != nil {
				m.log.WithError(err).WithField("system", s.uuid).Error("automatic startup")
			}
		}
	}()
	return nil
}

// bind finds or defines the engine machine of a stored system and makes
// its definition match.
func (m *Manager) bind(ctx context.Context, rec *systemRecord) (hypervisor.Machine, error) {
	cfg := m.engineConfig(rec.UUID, rec.Def)
	mach, err := m.eng.Lookup(ctx, rec.UUID)
	if errors.Is(err, hypervisor.ErrNotFound) {
		return m.eng.Define(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	cur := mach.Config()
	if sameHardware(cur, cfg) {
		return mach, nil
	}
	if !active(mach.State()) {
		return mach, mach.Reconfigure(ctx, cfg)
	}
	// Running with other devices (libvirt: an operation that hot-plugged
	// and then crashed before committing): align the devices.
	return mach, m.hotplugDiff(ctx, mach, cur, cfg)
}

// hotplugDiff detaches and attaches devices so that a running machine has
// the devices of want.
func (m *Manager) hotplugDiff(ctx context.Context, mach hypervisor.Machine, cur, want hypervisor.Config) error {
	var errs []error
	has := func(ds []hypervisor.DiskConfig, d hypervisor.DiskConfig) bool {
		return slices.ContainsFunc(ds, func(x hypervisor.DiskConfig) bool {
			return x.ID == d.ID && x.Path == d.Path && x.ReadOnly == d.ReadOnly
		})
	}
	hasNIC := func(ns []hypervisor.NICConfig, n hypervisor.NICConfig) bool {
		return slices.ContainsFunc(ns, func(x hypervisor.NICConfig) bool {
			return x.ID == n.ID && strings.EqualFold(x.MAC, n.MAC) && x.Tap == n.Tap
		})
	}
	for _, d := range cur.Disks {
		if !has(want.Disks, d) {
			errs = append(errs, mach.DetachDisk(ctx, d.ID))
		}
	}
	for _, n := range cur.NICs {
		if !hasNIC(want.NICs, n) {
			errs = append(errs, mach.DetachNIC(ctx, n.ID))
		}
	}
	for _, d := range want.Disks {
		if !has(cur.Disks, d) {
			errs = append(errs, mach.AttachDisk(ctx, d))
		}
	}
	for _, n := range want.NICs {
		if !hasNIC(cur.NICs, n) {
			errs = append(errs, mach.AttachNIC(ctx, n))
		}
	}
	return errors.Join(errs...)
}

// watch follows a system's engine events.
func (m *Manager) watch(s *system) {
	ctx, cancel := context.WithCancel(m.ctx)
	s.mu.Lock()
	if s.stopWatch != nil {
		s.stopWatch()
	}
	s.stopWatch = cancel
	mach := s.machine
	s.mu.Unlock()
	events := mach.Events(ctx)
	m.serveConsole(ctx, s)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for ev := range events {
			m.onEvent(s, ev)
		}
	}()
}

// onEvent records what the engine reports, wakes waiters, keeps
// WasActive true to the engine while no operation is in progress (an
// operation sets it itself when it commits), and applies the recovery
// action to a crashed guest.
func (m *Manager) onEvent(s *system, ev hypervisor.Event) {
	s.mu.Lock()
	if ev.Reason != "" {
		s.reason = ev.Reason
	}
	close(s.changed)
	s.changed = make(chan struct{})
	idle := s.opName == "" && !m.closing.Load()
	was := s.rec.WasActive
	recovery := s.rec.Def.Recovery
	if ev.Kind == hypervisor.EventGuestReset {
		s.resets++
	}
	mach := s.machine
	s.mu.Unlock()
	if mach == nil {
		return // destroyed: events of its last moments are of no use
	}
	m.log.WithFields(map[string]any{"system": s.uuid, "event": ev.Kind.String(), "state": ev.State.String()}).Debug(ev.Reason)
	m.notify(Change{Kind: "system", ID: s.uuid, Event: Modified})
	if !idle || ev.Kind != hypervisor.EventStateChanged && ev.Kind != hypervisor.EventGuestPanic {
		return
	}
	// The state now, not the event's: events of an operation that just
	// ended may arrive after it committed.
	if now := active(mach.State()); now != was {
		m.commit(s, func(r *systemRecord) error { r.WasActive = now; return nil }, nil)
	}
	if ev.Kind == hypervisor.EventGuestPanic && recovery != RecoveryNone && recovery != 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.recoverCrash(s, recovery)
		}()
	}
}

// recoverCrash applies AutomaticRecoveryAction to a crashed system.
func (m *Manager) recoverCrash(s *system, action RecoveryAction) {
	log := m.log.WithField("system", s.uuid)
	switch action {
	case RecoveryRestart:
		log.Warn("the guest crashed: restarting it (AutomaticRecoveryAction 3)")
		if _, err := m.RequestState(m.ctx, s.uuid, TransitionOff, CallOptions{User: "(automatic recovery)"}); err != nil && CodeOf(err) != InvalidState {
			log.WithError(err).Error("automatic recovery")
			return
		}
		if _, err := m.RequestState(m.ctx, s.uuid, TransitionStart, CallOptions{Wait: m.opts.GuestTimeout, User: "(automatic recovery)"}); err != nil {
			log.WithError(err).Error("automatic recovery")
		}
	case RecoveryRevert:
		rec := s.record()
		snap := rec.LastApplied
		if snap == "" {
			snap = rec.Branch
		}
		if snap == "" {
			log.Error("the guest crashed and AutomaticRecoveryAction says revert, but the system has no snapshot")
			return
		}
		log.WithField("snapshot", snap).Warn("the guest crashed: reverting to the snapshot (AutomaticRecoveryAction 4)")
		if _, err := m.ApplySnapshot(m.ctx, snap, CallOptions{Wait: m.opts.GuestTimeout, User: "(automatic recovery)"}); err != nil {
			log.WithError(err).Error("automatic recovery")
		}
	}
}

// waitState waits until cond holds for the system's engine state and the
// number of guest resets seen so far, or ctx ends.
func (s *system) waitState(ctx context.Context, cond func(st hypervisor.State, resets uint64) bool) error {
	for {
		s.mu.Lock()
		ch, mach, resets := s.changed, s.machine, s.resets
		s.mu.Unlock()
		if cond(mach.State(), resets) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// applyShutdownActions stops the active systems as their
// AutomaticShutdownAction says, when the server stops.
func (m *Manager) applyShutdownActions(ctx context.Context) {
	for _, v := range m.Systems() {
		if !active(v.State) {
			continue
		}
		wait := time.Until(deadlineOr(ctx, time.Now().Add(m.opts.GuestTimeout)))
		co := CallOptions{Wait: max(wait, time.Second), User: "(server shutdown)"}
		var err error
		switch v.Def.Shutdown {
		case ShutdownSaveState:
			_, err = m.requestState(ctx, v.UUID, TransitionSave, co, true)
		case ShutdownGuest:
			_, err = m.requestState(ctx, v.UUID, TransitionShutdown, co, true)
			if err != nil {
				_, err = m.requestState(ctx, v.UUID, TransitionOff, co, true)
			}
		default:
			_, err = m.requestState(ctx, v.UUID, TransitionOff, co, true)
		}
		if err != nil {
			m.log.WithError(err).WithField("system", v.UUID).Error("shutdown action")
		}
	}
}

func deadlineOr(ctx context.Context, t time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		return d
	}
	return t
}
