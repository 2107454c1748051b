package vmm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// Transition is a state change a client requests (the RequestedState
// values of CIM_EnabledLogicalElement.RequestStateChange).
type Transition uint16

// Transitions of a virtual system.
const (
	// TransitionStart starts a stopped system, restores a saved one and
	// resumes a paused one.
	TransitionStart Transition = 2
	// TransitionOff pulls the plug (and discards a saved state).
	TransitionOff Transition = 3
	// TransitionShutdown asks the guest to power off and waits for it.
	TransitionShutdown Transition = 4
	// TransitionSave writes memory and device state to disk and stops.
	TransitionSave Transition = 6
	// TransitionPause stops the vCPUs.
	TransitionPause Transition = 9
	// TransitionReboot shuts the guest down gracefully and starts it again.
	TransitionReboot Transition = 10
	// TransitionReset resets the machine at once.
	TransitionReset Transition = 11
)

var transitionNames = map[Transition]string{
	TransitionStart: "start", TransitionOff: "turn off", TransitionShutdown: "shut down", TransitionSave: "save",
	TransitionPause: "pause", TransitionReboot: "reboot", TransitionReset: "reset",
}

func (t Transition) String() string {
	if n, ok := transitionNames[t]; ok {
		return n
	}
	return fmt.Sprintf("state %d", uint16(t))
}

// Long reports whether the transition runs as a job from state st: it
// waits for the guest, or writes or reads memory state.
func (t Transition) Long(st hypervisor.State, saved bool) bool {
	switch t {
	case TransitionStart:
		return st != hypervisor.StatePaused && st != hypervisor.StateRunning
	case TransitionShutdown, TransitionReboot:
		return st == hypervisor.StateRunning || st == hypervisor.StateShuttingDown
	case TransitionSave:
		return active(st) && !saved
	}
	return false
}

// RequestState changes a system's state. Quick transitions (pause,
// resume, turn off, reset) end within the call; the others run as a job
// (see CallOptions). A transition the current state does not allow fails
// with InvalidState; one to the state the system is in already succeeds
// without doing anything.
func (m *Manager) RequestState(ctx context.Context, uuid string, t Transition, co CallOptions) (Outcome, error) {
	return m.requestState(ctx, uuid, t, co, false)
}

// requestState is RequestState; keepActive leaves WasActive set (the
// server stops the system and expects to start it again).
func (m *Manager) requestState(ctx context.Context, uuid string, t Transition, co CallOptions, keepActive bool) (Outcome, error) {
	if _, ok := transitionNames[t]; !ok {
		return Outcome{}, errorf(InvalidParameter, "requested state %d is not one a virtual system accepts (2 start, 3 turn off, 4 shut down, 6 save, 9 pause, 10 reboot, 11 reset)", uint16(t))
	}
	s, release, err := m.acquire(uuid, t.String())
	if err != nil {
		return Outcome{}, err
	}
	mach := s.mach()
	if mach == nil {
		release()
		return Outcome{}, errorf(Failed, "virtual system %s is not available in the %s engine: %s", uuid, m.eng.Name(), s.view().Reason)
	}
	rec := s.record()
	st := mach.State()
	out := Outcome{Result: Result{System: s.uuid}}
	requested := func(wasActive bool) func(r *systemRecord) error {
		return func(r *systemRecord) error {
			r.Requested = uint16(t)
			r.WasActive = wasActive || keepActive
			return nil
		}
	}
	refuse := func() (Outcome, error) {
		release()
		what := st.String()
		if rec.Saved {
			what = "saved"
		}
		return Outcome{}, errorf(InvalidState, "cannot %s virtual system %s: it is %s", t, uuid, what)
	}
	quick := func(op func() error, wasActive bool) (Outcome, error) {
		defer release()
		if err := op(); err != nil {
			return Outcome{}, engineErr(err, "%s %s", t, uuid)
		}
		return out, m.commit(s, requested(wasActive), nil)
	}
	spec := jobSpec{Name: jobName(t), Method: "RequestStateChange", Owner: OwnerManagement,
		Affected: []Affected{{Kind: "system", ID: s.uuid, Effects: []uint16{EffectExclusiveUse}}}}
	// long runs a transition as a job. From the job's start it is the
	// requested state (CIM_EnabledLogicalElement.RequestStateChange: the
	// parameter becomes RequestedState when the call returns 0 or 4096
	// Job Started, whatever the job's outcome), and the one the system is
	// transitioning to while the job runs (System.Transitioning). A job
	// that succeeds records it with its result; one that fails records it
	// alone.
	long := func(work func(ctx context.Context, p progress) (Result, error)) (Outcome, error) {
		s.mu.Lock()
		s.transition = t
		s.mu.Unlock()
		return m.runLong(ctx, co, spec, release, func(ctx context.Context, p progress) (Result, error) {
			res, err := work(ctx, p)
			if err != nil {
				if cerr := m.commit(s, func(r *systemRecord) error {
					r.Requested = uint16(t)
					return nil
				}, nil); cerr != nil {
					m.log.WithError(cerr).WithField("system", s.uuid).Warn("the failed request is not recorded as RequestedState")
				}
			}
			return res, err
		})
	}
	deadline := co.Wait
	if deadline <= 0 {
		deadline = m.opts.GuestTimeout
	} else {
		spec.SelfTimed = true
	}

	switch t {
	case TransitionStart:
		switch {
		case st == hypervisor.StateRunning:
			return quick(func() error { return nil }, true)
		case st == hypervisor.StatePaused:
			return quick(func() error { return mach.Resume(ctx) }, true)
		case active(st):
			return refuse()
		}
		return long(func(ctx context.Context, p progress) (Result, error) {
			return out.Result, m.start(ctx, s, mach, requested(true))
		})

	case TransitionOff:
		if st == hypervisor.StateStopped {
			if !rec.Saved {
				return quick(func() error { return nil }, false)
			}
			defer release()
			save := m.relState(m.saveDir(s.uuid))
			err := m.commit(s, func(r *systemRecord) error {
				r.Saved, r.Requested, r.WasActive = false, uint16(t), keepActive
				return nil
			}, func(tx Tx) error { return putTrash(tx, []string{trashState(save)}) })
			if err == nil {
				m.emptyTrash([]string{trashState(save)})
			}
			return out, err
		}
		out, err := quick(func() error { return mach.Stop(ctx) }, false)
		if err == nil {
			m.afterStop(s)
		}
		return out, err

	case TransitionShutdown:
		switch {
		case st == hypervisor.StateStopped:
			return quick(func() error { return nil }, false)
		case st != hypervisor.StateRunning && st != hypervisor.StateShuttingDown:
			return refuse()
		}
		spec.Cancellable = true
		return long(func(ctx context.Context, p progress) (Result, error) {
			if err := mach.Shutdown(ctx); err != nil {
				return out.Result, engineErr(err, "shutting down %s", s.uuid)
			}
			p(10)
			if err := m.waitOff(ctx, s, mach, deadline); err != nil {
				return out.Result, err
			}
			m.afterStop(s)
			return out.Result, m.commit(s, requested(false), nil)
		})

	case TransitionSave:
		switch {
		case rec.Saved:
			return quick(func() error { return nil }, false)
		case st != hypervisor.StateRunning && st != hypervisor.StatePaused && st != hypervisor.StateShuttingDown:
			return refuse()
		}
		if why := cannotSave(mach); why != "" {
			release()
			return Outcome{}, errorf(NotSupported, "cannot save %s: %s", uuid, why)
		}
		return long(func(ctx context.Context, p progress) (Result, error) {
			return out.Result, m.save(ctx, s, mach, requested(false))
		})

	case TransitionPause:
		switch st {
		case hypervisor.StatePaused:
			return quick(func() error { return nil }, true)
		case hypervisor.StateRunning:
			return quick(func() error { return mach.Pause(ctx) }, true)
		}
		return refuse()

	case TransitionReboot:
		if st != hypervisor.StateRunning {
			return refuse()
		}
		spec.Cancellable = true
		return long(func(ctx context.Context, p progress) (Result, error) {
			return out.Result, m.reboot(ctx, s, mach, deadline, p, requested(true))
		})

	case TransitionReset:
		if st != hypervisor.StateRunning && st != hypervisor.StatePaused && st != hypervisor.StateShuttingDown {
			return refuse()
		}
		return quick(func() error { return mach.Reset(ctx) }, true)
	}
	return refuse()
}

func jobName(t Transition) string {
	switch t {
	case TransitionStart:
		return "Start virtual system"
	case TransitionShutdown:
		return "Shut down virtual system"
	case TransitionSave:
		return "Save virtual system"
	case TransitionReboot:
		return "Reboot virtual system"
	}
	return "Change state of virtual system"
}

// start boots a stopped system, or restores its saved state.
func (m *Manager) start(ctx context.Context, s *system, mach hypervisor.Machine, edit func(*systemRecord) error) error {
	rec := s.record()
	// Bring the engine's definition up to date first: changes made while
	// the system ran (its name) wait for a stop.
	if err := m.syncStopped(ctx, s, mach); err != nil {
		return err
	}
	if rec.Saved {
		save := m.saveDir(s.uuid)
		if err := mach.Restore(ctx, save, hypervisor.RestoreOptions{}); err != nil {
			return engineErr(err, "restoring the saved state of %s", s.uuid)
		}
		trash := []string{trashState(m.relState(save))}
		err := m.commit(s, func(r *systemRecord) error {
			r.Saved = false
			return edit(r)
		}, func(tx Tx) error { return putTrash(tx, trash) })
		if err == nil {
			m.emptyTrash(trash)
		}
		return err
	}
	if err := mach.Start(ctx); err != nil {
		return engineErr(err, "starting %s", s.uuid)
	}
	return m.commit(s, edit, nil)
}

// save writes a system's state to its save directory and stops it.
func (m *Manager) save(ctx context.Context, s *system, mach hypervisor.Machine, edit func(*systemRecord) error) error {
	dir := m.saveDir(s.uuid)
	os.RemoveAll(dir) // a leftover of an earlier failed save
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return wrapf(Failed, err, "creating %s", dir)
	}
	in := &intent{Op: "save", System: s.uuid, States: []string{m.relState(dir)}}
	if err := m.begin(in); err != nil {
		return err
	}
	if err := mach.Snapshot(ctx, dir, hypervisor.SnapshotOptions{Stop: true}); err != nil {
		m.rollback(ctx, in)
		return engineErr(err, "saving %s", s.uuid)
	}
	return m.commit(s, func(r *systemRecord) error {
		r.Saved = true
		return edit(r)
	}, func(tx Tx) error { return tx.Delete(bucketIntents, in.ID) })
}

// waitOff waits up to d for the machine to stop after a graceful shutdown
// request.
func (m *Manager) waitOff(ctx context.Context, s *system, mach hypervisor.Machine, d time.Duration) error {
	err := m.awaitGuest(ctx, s, mach, d, func(st hypervisor.State, _ uint64) bool {
		return st == hypervisor.StateStopped || st == hypervisor.StateCrashed
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return wrapf(Failed, ctx.Err(), "stopped waiting for the guest of %s to power off", s.uuid)
	}
	return errorf(Timeout, "the guest of %s did not power off within %s; it may still do so, or turn it off with state 3", s.uuid, d)
}

// awaitGuest waits up to d, after a graceful shutdown request, until done
// holds. When the wait ends first (timeout, or ctx over: a terminated
// job), nobody waits for the request any more: an engine that shows it as
// shutting down shows the machine running again, since the guest ignored
// it (hypervisor.ShutdownAbandoner).
func (m *Manager) awaitGuest(ctx context.Context, s *system, mach hypervisor.Machine, d time.Duration, done func(hypervisor.State, uint64) bool) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := s.waitState(wctx, done)
	if a, ok := mach.(hypervisor.ShutdownAbandoner); ok && err != nil {
		// ctx may be over: the abandoning gets a context of its own.
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer acancel()
		if aerr := a.AbandonShutdown(actx); aerr != nil {
			m.log.WithError(aerr).WithField("system", s.uuid).Warn("the ignored shutdown request still shows as shutting down")
		}
	}
	return err
}

// reboot asks the guest to shut down and starts it again once it is off;
// a guest that reboots by itself instead (Linux answers Ctrl+Alt+Del so)
// is rebooted already.
func (m *Manager) reboot(ctx context.Context, s *system, mach hypervisor.Machine, d time.Duration, p progress, edit func(*systemRecord) error) error {
	s.mu.Lock()
	before := s.resets
	s.mu.Unlock()
	if err := mach.Shutdown(ctx); err != nil {
		return engineErr(err, "rebooting %s", s.uuid)
	}
	p(10)
	err := m.awaitGuest(ctx, s, mach, d, func(st hypervisor.State, resets uint64) bool {
		return st == hypervisor.StateStopped || st == hypervisor.StateCrashed || resets > before && st == hypervisor.StateRunning
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return wrapf(Failed, ctx.Err(), "stopped waiting for the guest of %s to reboot", s.uuid)
	case err != nil:
		return errorf(Timeout, "the guest of %s did not shut down within %s to reboot; reset it (state 11) instead", s.uuid, d)
	}
	p(60)
	if st := mach.State(); st != hypervisor.StateRunning {
		if err := m.syncStopped(ctx, s, mach); err != nil {
			return err
		}
		if err := mach.Start(ctx); err != nil {
			return engineErr(err, "starting %s again", s.uuid)
		}
	}
	return m.commit(s, edit, nil)
}

// afterStop updates the engine's definition of a system that just
// stopped when it lags behind (a rename while running).
func (m *Manager) afterStop(s *system) {
	if mach := s.mach(); mach != nil {
		if err := m.syncStopped(m.ctx, s, mach); err != nil {
			m.log.WithError(err).WithField("system", s.uuid).Warn("updating the engine's definition")
		}
	}
}

// syncStopped reconfigures a stopped machine whose definition lags.
func (m *Manager) syncStopped(ctx context.Context, s *system, mach hypervisor.Machine) error {
	if active(mach.State()) {
		return nil
	}
	want := m.engineConfig(s.uuid, s.record().Def)
	if sameHardware(mach.Config(), want) {
		return nil
	}
	if err := mach.Reconfigure(ctx, want); err != nil && !errors.Is(err, hypervisor.ErrInvalidState) {
		return engineErr(err, "updating the engine's definition of %s", s.uuid)
	}
	return nil
}
