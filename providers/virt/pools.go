package virt

import (
	"runtime"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// The primordial resource pools, one per resource type (PoolID values).
const (
	poolProcessor  = "processor"
	poolMemory     = "memory"
	poolDiskDrive  = "disk-drive"
	poolStorage    = "storage"
	poolEthernet   = "ethernet-adapter"
	poolConnection = "ethernet-connection"
)

// poolDef describes one pool.
type poolDef struct {
	key     string
	rt      uint16
	sub     string
	units   string
	name    string
	sharing uint16   // AllocationCapabilities.SharingMode: 2 dedicated, 3 shared
	addRm   []uint16 // EnabledStates in which allocations can be added or removed
	part    string   // the allocation part the pool's templates are
}

var pools = []poolDef{
	{poolProcessor, rtProcessor, "HC:vCPU", "count", "Virtual processors", 3, []uint16{stateDisabled}, partDevice},
	{poolMemory, rtMemory, "HC:RAM", "byte*2^20", "Memory", 2, []uint16{stateDisabled}, partDevice},
	{poolDiskDrive, rtDiskDrive, "HC:virtio-blk", "count", "Disk drives", 2, []uint16{stateEnabled, stateDisabled, stateQuiesce}, partDevice},
	{poolStorage, rtLogicalDisk, "", "byte", "Storage pool", 2, []uint16{stateEnabled, stateDisabled, stateQuiesce}, partImage},
	{poolEthernet, rtEthernet, "HC:virtio-net", "count", "Ethernet adapters", 2, []uint16{stateEnabled, stateDisabled, stateQuiesce}, partDevice},
	{poolConnection, rtConnection, "", "count", "Ethernet connections", 3, []uint16{stateEnabled, stateDisabled, stateQuiesce}, partConnection},
}

func poolByKey(key string) *poolDef {
	for i := range pools {
		if pools[i].key == key {
			return &pools[i]
		}
	}
	return nil
}

// poolOfResourceType finds the pool of a ResourceType.
func poolOfResourceType(rt uint16) *poolDef {
	for i := range pools {
		if pools[i].rt == rt {
			return &pools[i]
		}
	}
	return nil
}

// poolOfAllocation returns the pool an allocation draws from.
func poolOfAllocation(def *vmm.Definition, dev, part string) *poolDef {
	switch {
	case dev == "proc":
		return poolByKey(poolProcessor)
	case dev == "mem":
		return poolByKey(poolMemory)
	case part == partImage:
		return poolByKey(poolStorage)
	case part == partConnection:
		return poolByKey(poolConnection)
	case def.Disk(dev) != nil:
		return poolByKey(poolDiskDrive)
	case def.NIC(dev) != nil:
		return poolByKey(poolEthernet)
	}
	return nil
}

func (pd *poolDef) subtype(engine string) string {
	switch pd.key {
	case poolStorage:
		return "HC:vmdk"
	case poolConnection:
		return "HC:" + engine
	}
	return pd.sub
}

// usage sums what the active systems take from the pool.
func (p *Provider) poolUsage(pd *poolDef, w *world) uint64 {
	var n uint64
	for i := range w.systems {
		v := &w.systems[i]
		switch pd.key {
		case poolProcessor:
			if active(v.State) {
				n += uint64(v.Def.VCPUs)
			}
		case poolMemory:
			if active(v.State) {
				n += v.Def.MemoryMiB
			}
		case poolDiskDrive:
			n += uint64(len(v.Def.Disks))
		case poolStorage:
			for _, d := range v.Def.Disks {
				if d.Image != "" {
					n += uint64(d.SizeBytes)
				}
			}
		case poolEthernet:
			n += uint64(len(v.Def.NICs))
		case poolConnection:
			for _, nic := range v.Def.NICs {
				if nic.Connected {
					n++
				}
			}
		}
	}
	return n
}

func (p *Provider) poolInstance(pd *poolDef, w *world) (*cim.Instance, error) {
	lim := p.m.Limits()
	b := p.newInst(classPool).
		set("InstanceID", poolID(pd.key)).
		set("PoolID", pd.key).
		set("ElementName", pd.name).
		set("Name", pd.name).
		set("Primordial", true).
		set("ResourceType", pd.rt).
		set("ResourceSubType", pd.subtype(p.m.EngineName())).
		set("AllocationUnits", pd.units).
		set("ConsumedResourceUnits", pd.units).
		set("HealthState", healthOK).
		set("OperationalStatus", []uint16{opOK})
	used := p.poolUsage(pd, w)
	switch pd.key {
	case poolProcessor:
		b.set("Capacity", uint64(runtime.NumCPU())).set("Reserved", used).set("CurrentlyConsumedResource", used).
			set("MaxConsumableResource", uint64(lim.MaxVCPUs))
	case poolMemory:
		b.set("Capacity", lim.MaxMemoryMiB).set("Reserved", used).set("CurrentlyConsumedResource", used).
			set("MaxConsumableResource", lim.MaxMemoryMiB)
	case poolStorage:
		capacity, free := p.m.PoolSpace()
		b.set("Capacity", capacity).set("Reserved", capacity-free).set("CurrentlyConsumedResource", used).
			set("MaxConsumableResource", uint64(lim.MaxDiskBytes)).set("Directory", p.m.PoolDir()).
			set("Description", "Disk images live in "+p.m.PoolDir()+"; paths outside it are refused")
	default:
		b.set("Reserved", used).set("CurrentlyConsumedResource", used)
	}
	return b.done()
}

func (p *Provider) allocCapsInstance(pd *poolDef) (*cim.Instance, error) {
	return p.newInst(classAllocCaps).
		set("InstanceID", allocCapsID(pd.key)).
		set("ElementName", "Allocation capabilities of "+pd.name).
		set("ResourceType", pd.rt).
		set("ResourceSubType", pd.subtype(p.m.EngineName())).
		set("RequestTypesSupported", uint16(3)).
		set("SharingMode", pd.sharing).
		set("SupportedAddStates", pd.addRm).
		set("SupportedRemoveStates", pd.addRm).
		done()
}

// Template roles and their SettingsDefineCapabilities values.
var templateRoles = []struct {
	role      string
	valueRole uint16 // 0 Default, 3 Supported
	valueRng  uint16 // 0 Point, 1 Minimums, 2 Maximums, 3 Increments
}{
	{"default", 0, 0},
	{"minimum", 3, 1},
	{"maximum", 3, 2},
	{"increment", 3, 3},
}

// templateInstance builds one of a pool's template allocations: what a
// client fetches, edits and passes to DefineSystem or AddResourceSettings.
func (p *Provider) templateInstance(pd *poolDef, role string) (*cim.Instance, error) {
	lim := p.m.Limits()
	pick := func(def, lo, hi, inc uint64) uint64 {
		return map[string]uint64{"default": def, "minimum": lo, "maximum": hi, "increment": inc}[role]
	}
	b := p.newInst(rasdClass(pd.part)).
		set("InstanceID", templateID(pd.key, role)).
		set("ElementName", pd.name+" ("+role+")").
		set("Caption", "Template").
		set("ResourceType", pd.rt).
		set("ResourceSubType", pd.subtype(p.m.EngineName())).
		set("PoolID", pd.key).
		set("ConsumerVisibility", uint16(3)).
		set("AllocationUnits", pd.units).
		set("VirtualQuantityUnits", pd.units).
		set("AutomaticAllocation", true).
		set("AutomaticDeallocation", true)
	supported := p.m.SupportedLimits()
	switch pd.key {
	case poolProcessor:
		// Reservation and Limit are percent of the processor capacity.
		b.set("AllocationUnits", unitsPercent).set("VirtualQuantity", pick(1, 1, uint64(lim.MaxVCPUs), 1)).
			set("Reservation", uint64(0))
		if supported.CPUWeight != 0 {
			b.set("Weight", uint32(pick(hypervisor.DefaultCPUWeight, 1, hypervisor.MaxCPUWeight, 1)))
		}
		if supported.CPUCapPercent != 0 {
			b.set("Limit", pick(100, 1, 100, 1))
		}
	case poolMemory:
		b.set("VirtualQuantity", pick(min(256, lim.MaxMemoryMiB), lim.MinMemoryMiB, lim.MaxMemoryMiB, 1))
		// No limit by default; the others bound what may be given (a hard
		// limit is at least the guest RAM).
		if supported.MemoryHardLimit != 0 && role != "default" {
			b.set("Limit", pick(0, lim.MinMemoryMiB, lim.MaxMemoryMiB, 1))
		}
		if supported.MemorySoftLimit != 0 && role != "default" {
			b.set("Reservation", pick(0, 1, lim.MaxMemoryMiB, 1))
		}
	case poolStorage:
		size := pick(1<<30, 1<<20, uint64(lim.MaxDiskBytes), 512)
		b.set("VirtualQuantity", size).set("Limit", size).set("ImageFormat", "vmdk").
			set("ImageSubformat", "monolithicSparse").set("Access", uint16(3)).
			set("VirtualResourceBlockSize", uint64(512)).set("HostResource", []string{})
	case poolConnection:
		b.set("VirtualQuantity", uint64(1)).set("Connection", []string{})
	default:
		b.set("VirtualQuantity", uint64(1))
	}
	return b.done()
}
