package kvm

import (
	"context"
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hypercim/hypercim/hypervisor"
)

// The kvm backend enforces CPU limits on the vCPU threads it runs:
//
//   - a CPU cap as a duty cycle: each vCPU may use CPUCapPercent of
//     capPeriod in host CPU time (its thread's CPUTIME clock), then waits
//     for the next period; a timer kicks it out of the guest when the rest
//     of its quota could be spent, so a guest spinning without exits is
//     bounded too;
//   - a CPU weight as the vCPU threads' nice level, which is what the
//     kernel's fair scheduler weighs threads by (the VMM makes no cgroups;
//     nice levels are 25% apart, so the weight is approximated).
//
// Memory limits would need the guest RAM of one machine accounted apart
// from the others in the same process: not supported.

// capPeriod is the accounting period of the CPU cap, the CFS bandwidth
// controller's default.
const capPeriod = 100 * time.Millisecond

// supportedLimits are what SetLimits accepts.
func supportedLimits() hypervisor.Limits {
	return hypervisor.Limits{CPUWeight: 1, CPUCapPercent: 1}
}

// weightNice maps a CPU weight (100 = default) to the nice level whose
// scheduler weight (1024 at nice 0, 1.25 times less per level) is closest.
func weightNice(w uint32) int {
	if w == 0 {
		return 0
	}
	n := int(math.Round(-math.Log(float64(w)/hypervisor.DefaultCPUWeight) / math.Log(1.25)))
	return max(-20, min(19, n))
}

// setNice sets the nice level of one thread.
func setNice(tid, nice int) error {
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
		return fmt.Errorf("setting the nice level of vCPU thread %d to %d for the CPU weight: %w", tid, nice, err)
	}
	return nil
}

// applyLimits makes the run's vCPUs follow l at once: the weight is their
// threads' nice level, and a new cap kicks them out of the guest so that
// each charges its CPU time against it before it runs on (a vCPU spinning
// in the guest without exits would otherwise keep running uncapped).
func (v *vm) applyLimits(l hypervisor.Limits) error {
	nice := weightNice(l.CPUWeight)
	for _, c := range v.vcpus {
		if tid := int(c.tid.Load()); tid != 0 {
			if err := setNice(tid, nice); err != nil {
				return err
			}
		}
	}
	v.nice.Store(int32(nice))
	if old := v.capPercent.Swap(l.CPUCapPercent); old != l.CPUCapPercent && l.CPUCapPercent != 0 {
		for _, c := range v.vcpus {
			c.kick()
		}
	}
	return nil
}

// budget charges the vCPU thread's CPU time against the cap of pct
// percent. It returns how long the vCPU must wait before it may run, or 0
// after arming the kick that ends its run when the rest of this period's
// quota could be spent (a vCPU uses at most as much CPU as wall time).
// What a late kick let the vCPU use beyond a period's quota is charged to
// the next period: on a loaded host the kick's timer fires late, and the
// cap must hold over time all the same.
func (c *vcpu) budget(pct uint32) time.Duration {
	now := time.Now()
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) //nolint:errcheck // cannot fail for the calling thread
	cpu := time.Duration(ts.Nano())
	quota := capPeriod * time.Duration(pct) / 100
	if elapsed := now.Sub(c.periodStart); elapsed >= capPeriod {
		over := cpu - c.cpuAtStart - quota
		c.periodStart, c.cpuAtStart = now, cpu
		if over > 0 && elapsed < 2*capPeriod {
			c.cpuAtStart -= over
		}
	}
	if used := cpu - c.cpuAtStart; used < quota {
		if c.capTimer == nil {
			c.capTimer = time.AfterFunc(quota-used, c.kick)
		} else {
			c.capTimer.Reset(quota - used)
		}
		return 0
	}
	return c.periodStart.Add(capPeriod).Sub(now)
}

// throttle waits d, or less when the VM's run state changes (pause and
// stop must not wait for the cap).
func (c *vcpu) throttle(ctl *control, d time.Duration) {
	st, changed := ctl.get()
	if st != stateRun {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-changed:
	}
}

// SupportedLimits implements hypervisor.ResourceLimiter: a CPU weight and
// a CPU cap.
func (m *Machine) SupportedLimits() hypervisor.Limits { return supportedLimits() }

// Limits implements hypervisor.ResourceLimiter; the VMM enforces exactly
// what the definition says.
func (m *Machine) Limits(context.Context) (hypervisor.Limits, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Limits, nil
}

// SetLimits implements hypervisor.ResourceLimiter, live on a running or
// paused machine.
func (m *Machine) SetLimits(ctx context.Context, l hypervisor.Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if err := l.Unsupported(supportedLimits(), "kvm"); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	m.mu.Lock()
	v := m.vm
	m.mu.Unlock()
	if v != nil {
		if err := v.applyLimits(l); err != nil {
			m.mu.Lock()
			old := m.cfg.Limits
			m.mu.Unlock()
			v.applyLimits(old) //nolint:errcheck // back to what worked before
			return err
		}
	}
	m.mu.Lock()
	m.cfg.Limits = l
	m.mu.Unlock()
	return nil
}

// SupportedLimits implements hypervisor.LimitSupporter.
func (e *Engine) SupportedLimits() hypervisor.Limits { return supportedLimits() }
