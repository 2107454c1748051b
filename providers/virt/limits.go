package virt

import (
	"context"
	"math"
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// Resource limits (hypervisor.Limits) are the Weight, Limit and
// Reservation of a system's processor and memory allocations:
//
//	processor Weight       CPU weight, 1-10000 (100 by default)
//	processor Limit        CPU cap: percent of the system's processor
//	                       capacity (each vCPU's share of a host CPU), 1-100
//	processor Reservation  0: the engines guarantee no CPU time
//	memory    Limit        hard limit on the host memory the system uses
//	                       (guest RAM and the engine's own), in AllocationUnits
//	memory    Reservation  soft limit: what the host reclaims the system's
//	                       memory down to, and no further, when short
//
// Processor allocations count their VirtualQuantity in vCPUs
// (VirtualQuantityUnits "count") and their Reservation and Limit in
// "percent" (AllocationUnits). An allocation with AllocationUnits "count",
// as hypercim wrote before limits existed, gives them in vCPUs instead: a
// Limit of 1 on 4 vCPUs caps them at 25%.

// Processor allocation units.
const (
	unitsPercent = "percent"
	unitsCount   = "count"
)

// processorUnits reads the AllocationUnits of a processor allocation.
func processorUnits(i *cim.Instance) (string, error) {
	u, ok := str(i, "AllocationUnits")
	switch u = strings.ToLower(strings.TrimSpace(u)); {
	case !ok || u == "" || u == unitsPercent:
		return unitsPercent, nil
	case u == unitsCount:
		return unitsCount, nil
	}
	return "", badParam("%s.AllocationUnits is %q; the Reservation and Limit of processors are in \"percent\" of the system's processor capacity", i.ClassName, u)
}

// setProcessorLimits applies the Weight, Limit and Reservation of a
// processor allocation of a system with vcpus vCPUs; NULL leaves a value.
func (e *editor) setProcessorLimits(i *cim.Instance, vcpus uint64) error {
	supported := e.p.m.SupportedLimits()
	if w, ok, err := unsigned(i, "Weight"); err != nil {
		return err
	} else if ok {
		switch {
		case w > hypervisor.MaxCPUWeight:
			return badParam("%s: Weight %d: processor weights range from 1 to %d (%d is the default)", i.ClassName, w, hypervisor.MaxCPUWeight, hypervisor.DefaultCPUWeight)
		case w == 0 || w == hypervisor.DefaultCPUWeight:
			e.def.Limits.CPUWeight = 0
		case supported.CPUWeight == 0:
			return notSupported("%s: Weight %d: the %s engine does not weigh processors; leave Weight NULL or %d", i.ClassName, w, e.p.m.EngineName(), hypervisor.DefaultCPUWeight)
		default:
			e.def.Limits.CPUWeight = uint32(w)
		}
	}
	units, err := processorUnits(i)
	if err != nil {
		return err
	}
	if l, ok, err := unsigned(i, "Limit"); err != nil {
		return err
	} else if ok {
		pct := l
		if units == unitsCount {
			// vCPUs' worth of host CPU: the cap is that share of all of them.
			if pct = 100; l != 0 && l < vcpus {
				pct = max(1, l*100/vcpus)
			}
		}
		switch {
		case pct > 100:
			return badParam("%s: Limit %d%%: a processor limit is at most 100 percent of the system's processor capacity", i.ClassName, pct)
		case pct == 0 || pct == 100:
			e.def.Limits.CPUCapPercent = 0
		case supported.CPUCapPercent == 0:
			return notSupported("%s: Limit %d%%: the %s engine does not cap processors; leave Limit NULL or 100", i.ClassName, pct, e.p.m.EngineName())
		default:
			e.def.Limits.CPUCapPercent = uint32(pct)
		}
	}
	if r, ok, err := unsigned(i, "Reservation"); err != nil {
		return err
	} else if ok && (units == unitsPercent && r != 0 || units == unitsCount && r > vcpus) {
		return notSupported("%s: Reservation %d %s: the %s engine guarantees no processor time; give a Weight instead, and leave Reservation NULL or 0",
			i.ClassName, r, units, e.p.m.EngineName())
	}
	return nil
}

// setMemoryLimits applies the Limit and Reservation of a memory
// allocation; NULL leaves a value, 0 removes it.
func (e *editor) setMemoryLimits(i *cim.Instance) error {
	if w, ok, err := unsigned(i, "Weight"); err != nil {
		return err
	} else if ok && w != 0 {
		return notSupported("%s: Weight %d: the %s engine does not weigh memory allocations; leave Weight NULL", i.ClassName, w, e.p.m.EngineName())
	}
	supported := e.p.m.SupportedLimits()
	for _, f := range []struct {
		prop, what string
		dst        *uint64
		can        bool
	}{
		{"Limit", "bound the host memory of", &e.def.Limits.MemoryHardLimit, supported.MemoryHardLimit != 0},
		{"Reservation", "reserve host memory for", &e.def.Limits.MemorySoftLimit, supported.MemorySoftLimit != 0},
	} {
		b, ok, err := memoryProperty(i, f.prop)
		switch {
		case err != nil:
			return err
		case !ok:
		case b%(1<<20) != 0:
			return badParam("%s: %s of %d bytes: give a whole number of MiB", i.ClassName, f.prop, b)
		case b != 0 && !f.can:
			return notSupported("%s: %s %d MiB: the %s engine cannot %s a virtual system (its guest RAM, VirtualQuantity, is what it gets); leave %s NULL",
				i.ClassName, f.prop, b>>20, e.p.m.EngineName(), f.what, f.prop)
		default:
			*f.dst = b
		}
	}
	l := e.def.Limits
	switch {
	case l.MemoryHardLimit != 0 && l.MemorySoftLimit > l.MemoryHardLimit:
		return badParam("%s: Reservation %d MiB is above Limit %d MiB", i.ClassName, l.MemorySoftLimit>>20, l.MemoryHardLimit>>20)
	case l.MemoryHardLimit != 0 && l.MemoryHardLimit>>20 < e.def.MemoryMiB:
		// The engine's process would be killed once the guest touched its
		// RAM: refused rather than losing the running system.
		return badParam("%s: Limit %d MiB is below the guest RAM (VirtualQuantity %d MiB); the limit covers the guest RAM and the emulator's own memory, so give it headroom above VirtualQuantity, or 0 for none",
			i.ClassName, l.MemoryHardLimit>>20, e.def.MemoryMiB)
	}
	return nil
}

// memoryProperty reads Limit or Reservation of a memory allocation in
// bytes, in its AllocationUnits (MiB when none are given).
func memoryProperty(i *cim.Instance, name string) (uint64, bool, error) {
	q, ok, err := unsigned(i, name)
	if err != nil || !ok {
		return 0, ok, err
	}
	mult := uint64(1 << 20)
	if unit, given := str(i, "AllocationUnits"); given && unit != "" {
		if mult, given = unitBytes(unit); !given {
			return 0, true, badParam("%s: allocation units %q are not a byte unit (byte, byte*2^20, MB...)", i.ClassName, unit)
		}
	}
	if q > math.MaxUint64/mult {
		return 0, true, badParam("%s.%s %d is too large", i.ClassName, name, q)
	}
	return q * mult, true, nil
}

// processorWeight and processorLimit are what a processor allocation
// shows: the defaults where no limit is set.
func processorWeight(l hypervisor.Limits) uint32 {
	if l.CPUWeight == 0 {
		return hypervisor.DefaultCPUWeight
	}
	return l.CPUWeight
}

func processorLimit(l hypervisor.Limits) uint64 {
	if l.CPUCapPercent == 0 {
		return 100
	}
	return uint64(l.CPUCapPercent)
}

// inForce returns a system's definition with the resource limits it runs
// with, as its engine reports them where it can read them back; the
// definition's own when the engine cannot answer (logged).
func (p *Provider) inForce(v *vmm.System) vmm.Definition {
	def := v.Def
	l, err := p.m.LimitsInForce(context.Background(), v.UUID)
	switch {
	case vmm.CodeOf(err) == vmm.NotFound: // undefined meanwhile
		return def
	case err != nil:
		p.log.WithField("system", v.UUID).WithError(err).Warn("resource limits in force unknown; reporting the defined ones")
	}
	def.Limits = l
	return def
}
