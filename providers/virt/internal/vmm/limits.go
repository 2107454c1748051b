package vmm

import (
	"context"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// limitsReadTimeout bounds reading a running system's limits back from
// its engine: a listing must not hang on one busy engine connection.
const limitsReadTimeout = 5 * time.Second

// LimitsInForce returns the resource limits a system runs with: for an
// active system whose engine reads them back (libvirt asks the cgroups of
// the emulator), what the engine reports; otherwise, or when the engine
// cannot answer, the definition's limits, with the engine's error so the
// caller can say so.
func (m *Manager) LimitsInForce(ctx context.Context, uuid string) (hypervisor.Limits, error) {
	s, err := m.lookup(uuid)
	if err != nil {
		return hypervisor.Limits{}, err
	}
	s.mu.Lock()
	mach, def := s.machine, s.rec.Def.Limits
	s.mu.Unlock()
	rl, ok := mach.(hypervisor.ResourceLimiter)
	if !ok || !active(mach.State()) {
		return def, nil
	}
	ctx, cancel := context.WithTimeout(ctx, limitsReadTimeout)
	defer cancel()
	l, err := rl.Limits(ctx)
	if err != nil {
		return def, engineErr(err, "reading the resource limits of %s", uuid)
	}
	return l, nil
}
