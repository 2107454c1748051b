package libvirt

import (
	"context"

	golibvirt "github.com/digitalocean/go-libvirt"
	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"github.com/hypercim/hypercim/hypervisor"
)

// Limits map onto libvirt's scheduler parameters and memory tunables,
// which it enforces with the cgroups of the QEMU process:
//
//	CPUWeight       cpu_shares  (<cputune><shares>)
//	CPUCapPercent   vcpu_period 100 ms, vcpu_quota (<cputune><period>, <quota>)
//	MemoryHardLimit hard_limit  (<memtune><hard_limit>)
//	MemorySoftLimit soft_limit  (<memtune><soft_limit>)
//
// cpu_shares is cgroup v1's cpu.shares (1024 by default) or, on a host
// with the unified cgroup v2 hierarchy, cpu.weight (100 by default, the
// scale of CPUWeight); the engine converts for the host libvirtd runs on.

// capPeriodMicros is the vCPU bandwidth period the CPU cap uses.
const capPeriodMicros = 100_000

// Parameter names of virDomainSetSchedulerParameters and
// virDomainSetMemoryParameters.
const (
	paramShares    = "cpu_shares"
	paramPeriod    = "vcpu_period"
	paramQuota     = "vcpu_quota"
	paramHardLimit = "hard_limit"
	paramSoftLimit = "soft_limit"
	// memoryUnlimited is VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB).
	memoryUnlimited = 1<<53 - 1
)

// hostCgroupV2 reports whether /sys/fs/cgroup is the unified hierarchy.
func hostCgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// weightShares converts a CPU weight to cpu_shares; 0 is the default.
func weightShares(w uint32) uint64 {
	if w == 0 {
		w = hypervisor.DefaultCPUWeight
	}
	if hostCgroupV2() {
		return uint64(w)
	}
	return uint64(w) * 1024 / hypervisor.DefaultCPUWeight
}

// sharesWeight converts cpu_shares back; the default weight reads as 0.
func sharesWeight(shares uint64) uint32 {
	w := shares
	if !hostCgroupV2() {
		w = (shares*hypervisor.DefaultCPUWeight + 512) / 1024
	}
	if w == hypervisor.DefaultCPUWeight {
		return 0
	}
	return uint32(min(w, hypervisor.MaxCPUWeight))
}

// quotaMicros is vcpu_quota for a cap; -1 is no limit.
func quotaMicros(pct uint32) int64 {
	if pct == 0 || pct >= 100 {
		return -1
	}
	return capPeriodMicros * int64(pct) / 100
}

// capPercent reads a cap back from vcpu_period and vcpu_quota.
func capPercent(period uint64, quota int64) uint32 {
	if quota <= 0 || period == 0 || quota >= int64(period) {
		return 0
	}
	return uint32((uint64(quota)*100 + period/2) / period)
}

// tuneElements renders limits for a domain definition.
func tuneElements(l hypervisor.Limits) (*libvirtxml.DomainCPUTune, *libvirtxml.DomainMemoryTune) {
	var cpu *libvirtxml.DomainCPUTune
	if l.CPUWeight != 0 || l.CPUCapPercent != 0 {
		cpu = &libvirtxml.DomainCPUTune{}
		if l.CPUWeight != 0 {
			cpu.Shares = &libvirtxml.DomainCPUTuneShares{Value: uint(weightShares(l.CPUWeight))}
		}
		if q := quotaMicros(l.CPUCapPercent); q > 0 {
			cpu.Period = &libvirtxml.DomainCPUTunePeriod{Value: capPeriodMicros}
			cpu.Quota = &libvirtxml.DomainCPUTuneQuota{Value: q}
		}
	}
	var mem *libvirtxml.DomainMemoryTune
	if l.MemoryHardLimit != 0 || l.MemorySoftLimit != 0 {
		mem = &libvirtxml.DomainMemoryTune{}
		if l.MemoryHardLimit != 0 {
			mem.HardLimit = &libvirtxml.DomainMemoryTuneLimit{Value: l.MemoryHardLimit >> 10, Unit: "KiB"}
		}
		if l.MemorySoftLimit != 0 {
			mem.SoftLimit = &libvirtxml.DomainMemoryTuneLimit{Value: l.MemorySoftLimit >> 10, Unit: "KiB"}
		}
	}
	return cpu, mem
}

// parseTune reads limits back from a domain definition.
func parseTune(cpu *libvirtxml.DomainCPUTune, mem *libvirtxml.DomainMemoryTune) hypervisor.Limits {
	var l hypervisor.Limits
	if cpu != nil {
		if cpu.Shares != nil {
			l.CPUWeight = sharesWeight(uint64(cpu.Shares.Value))
		}
		if cpu.Quota != nil {
			period := uint64(capPeriodMicros)
			if cpu.Period != nil {
				period = cpu.Period.Value
			}
			l.CPUCapPercent = capPercent(period, cpu.Quota.Value)
		}
	}
	if mem != nil {
		limit := func(t *libvirtxml.DomainMemoryTuneLimit) uint64 {
			if t == nil || t.Value >= memoryUnlimited {
				return 0
			}
			return t.Value * unitBytes(t.Unit)
		}
		l.MemoryHardLimit, l.MemorySoftLimit = limit(mem.HardLimit), limit(mem.SoftLimit)
	}
	return l
}

func ullong(field string, v uint64) golibvirt.TypedParam {
	return golibvirt.TypedParam{Field: field, Value: *golibvirt.NewTypedParamValueUllong(v)}
}

// supportedLimits are all of them: libvirt enforces each with cgroups.
func supportedLimits() hypervisor.Limits {
	return hypervisor.Limits{CPUWeight: 1, CPUCapPercent: 1, MemoryHardLimit: 1, MemorySoftLimit: 1}
}

// SupportedLimits implements hypervisor.LimitSupporter.
func (e *Engine) SupportedLimits() hypervisor.Limits { return supportedLimits() }

// SupportedLimits implements hypervisor.LimitSupporter.
func (m *Machine) SupportedLimits() hypervisor.Limits { return supportedLimits() }

// SetLimits implements hypervisor.ResourceLimiter with
// virDomainSetSchedulerParametersFlags and virDomainSetMemoryParameters,
// on the running domain and its definition alike (or the definition
// alone while it is stopped). When the second call fails, the first is
// undone.
func (m *Machine) SetLimits(ctx context.Context, l hypervisor.Limits) error {
	if err := l.ValidateFor(m.Config().MemoryBytes); err != nil {
		return err
	}
	var active bool
	conn, _, release, err := m.begin(ctx, "set limits of", func(_ hypervisor.State, a bool) bool { active = a; return true })
	if err != nil {
		return err
	}
	defer release()
	flags := golibvirt.DomainAffectConfig
	if active {
		flags |= golibvirt.DomainAffectLive
	}
	old, err := m.readLimits(conn, active)
	if err != nil {
		return err
	}
	if err := m.setMemoryLimits(conn, l, flags); err != nil {
		return err
	}
	if err := m.setCPULimits(conn, l, flags); err != nil {
		m.setMemoryLimits(conn, old, flags) //nolint:errcheck // best effort: back to what was
		return err
	}
	return m.refresh(conn)
}

func (m *Machine) setMemoryLimits(conn *golibvirt.Libvirt, l hypervisor.Limits, flags golibvirt.DomainModificationImpact) error {
	kib := func(b uint64) uint64 {
		if b == 0 {
			return memoryUnlimited
		}
		return b >> 10
	}
	// The soft limit goes first when it shrinks and last when it grows, so
	// it never exceeds the hard limit in between.
	params := []golibvirt.TypedParam{ullong(paramSoftLimit, kib(l.MemorySoftLimit)), ullong(paramHardLimit, kib(l.MemoryHardLimit))}
	for _, p := range params {
		err := conn.DomainSetMemoryParameters(m.dom(), []golibvirt.TypedParam{p}, uint32(flags))
		if err != nil && p.Field == paramSoftLimit {
			// It may be above the current hard limit: raise that first.
			if err2 := conn.DomainSetMemoryParameters(m.dom(), params[1:], uint32(flags)); err2 == nil {
				err = conn.DomainSetMemoryParameters(m.dom(), params[:1], uint32(flags))
			}
		}
		if err != nil {
			return m.fail("set the memory limits of "+m.UUID(), err)
		}
	}
	return nil
}

func (m *Machine) setCPULimits(conn *golibvirt.Libvirt, l hypervisor.Limits, flags golibvirt.DomainModificationImpact) error {
	params := []golibvirt.TypedParam{
		ullong(paramShares, weightShares(l.CPUWeight)),
		ullong(paramPeriod, capPeriodMicros),
		{Field: paramQuota, Value: *golibvirt.NewTypedParamValueLlong(quotaMicros(l.CPUCapPercent))},
	}
	if err := conn.DomainSetSchedulerParametersFlags(m.dom(), params, uint32(flags)); err != nil {
		return m.fail("set the CPU limits of "+m.UUID(), err)
	}
	return nil
}

// Limits implements hypervisor.ResourceLimiter, as libvirt reports them
// for the running domain (virDomainGetSchedulerParametersFlags,
// virDomainGetMemoryParameters), or for its definition when stopped.
// Reading takes no operation slot: a listing of settings must not wait
// for a start or a shutdown in progress.
func (m *Machine) Limits(ctx context.Context) (hypervisor.Limits, error) {
	if err := ctx.Err(); err != nil {
		return hypervisor.Limits{}, err
	}
	conn, err := m.e.client()
	if err != nil {
		return hypervisor.Limits{}, err
	}
	_, active, err := m.status()
	if err != nil {
		return hypervisor.Limits{}, err
	}
	return m.readLimits(conn, active)
}

func (m *Machine) readLimits(conn *golibvirt.Libvirt, active bool) (hypervisor.Limits, error) {
	flags := golibvirt.DomainAffectConfig
	if active {
		flags = golibvirt.DomainAffectLive
	}
	var l hypervisor.Limits
	_, n, err := conn.DomainGetSchedulerType(m.dom())
	if err != nil {
		return l, m.fail("read the CPU limits of "+m.UUID(), err)
	}
	sched, err := conn.DomainGetSchedulerParametersFlags(m.dom(), n, uint32(flags))
	if err != nil {
		return l, m.fail("read the CPU limits of "+m.UUID(), err)
	}
	period, quota := uint64(capPeriodMicros), int64(-1)
	for _, p := range sched {
		switch v := p.Value.I.(type) {
		case uint64:
			switch p.Field {
			case paramShares:
				l.CPUWeight = sharesWeight(v)
			case paramPeriod:
				period = v
			}
		case int64:
			if p.Field == paramQuota {
				quota = v
			}
		}
	}
	l.CPUCapPercent = capPercent(period, quota)
	_, count, err := conn.DomainGetMemoryParameters(m.dom(), 0, uint32(flags))
	if err == nil {
		var mem []golibvirt.TypedParam
		mem, _, err = conn.DomainGetMemoryParameters(m.dom(), count, uint32(flags))
		for _, p := range mem {
			v, ok := p.Value.I.(uint64)
			if !ok || v >= memoryUnlimited {
				continue
			}
			switch p.Field {
			case paramHardLimit:
				l.MemoryHardLimit = v << 10
			case paramSoftLimit:
				l.MemorySoftLimit = v << 10
			}
		}
	}
	if err != nil {
		return l, m.fail("read the memory limits of "+m.UUID(), err)
	}
	return l, nil
}

var (
	_ hypervisor.ResourceLimiter = (*Machine)(nil)
	_ hypervisor.LimitSupporter  = (*Engine)(nil)
)
