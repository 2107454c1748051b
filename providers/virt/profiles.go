package virt

import (
	"context"

	"github.com/hypercim/hypercim/cim"
)

// Profile is a DMTF profile the provider implements, for registration in
// root/interop (DSP1033). The daemon hands these to the interop provider:
// providers/virt does not depend on it.
type Profile struct {
	Name, Version string
	// References names the profiles this one references (by Name).
	References []string
	// Central yields the paths of the profile's central instances, in
	// root/virt.
	Central func(ctx context.Context, yield func(*cim.ObjectPath) error) error
}

// Profiles lists what the provider implements: System Virtualization
// (DSP1042), the autonomous profile, whose central instance is the host
// system; Virtual System (DSP1057), one central instance per virtual
// system; Resource Allocation (DSP1041) and Allocation Capabilities
// (DSP1043) over every pool; the resource virtualization profiles of each
// resource type over its pools; the snapshot profile over the snapshot
// service; and Job Control (DSP1103) over the jobs.
func (p *Provider) Profiles() []Profile {
	paths := func(f func() []*cim.ObjectPath) func(context.Context, func(*cim.ObjectPath) error) error {
		return func(ctx context.Context, yield func(*cim.ObjectPath) error) error {
			for _, path := range f() {
				if err := yield(path); err != nil {
					return err
				}
			}
			return nil
		}
	}
	fixed := func(ps ...*cim.ObjectPath) func(context.Context, func(*cim.ObjectPath) error) error {
		return paths(func() []*cim.ObjectPath { return ps })
	}
	poolPaths := func(keys ...string) func(context.Context, func(*cim.ObjectPath) error) error {
		var ps []*cim.ObjectPath
		for _, k := range keys {
			ps = append(ps, idPath(classPool, poolID(k)))
		}
		return fixed(ps...)
	}
	var allPools, allCaps []*cim.ObjectPath
	for _, pd := range pools {
		allPools = append(allPools, idPath(classPool, poolID(pd.key)))
		allCaps = append(allCaps, idPath(classAllocCaps, allocCapsID(pd.key)))
	}
	components := []string{"Virtual System", "Resource Allocation", "Allocation Capabilities",
		"Processor Resource Virtualization", "Memory Resource Virtualization", "Storage Resource Virtualization",
		"Ethernet Port Resource Virtualization", "Virtual System Snapshot", "Job Control"}
	return []Profile{
		{Name: "System Virtualization", Version: "1.0.0", References: components, Central: fixed(p.hostPath())},
		{Name: "Virtual System", Version: "1.0.0", References: []string{"Resource Allocation", "Virtual System Snapshot"},
			Central: paths(func() []*cim.ObjectPath {
				var out []*cim.ObjectPath
				for _, v := range p.m.Systems() {
					out = append(out, systemPath(v.UUID))
				}
				return out
			})},
		{Name: "Resource Allocation", Version: "1.1.0", Central: fixed(allPools...)},
		{Name: "Allocation Capabilities", Version: "1.0.0", Central: fixed(allCaps...)},
		{Name: "Processor Resource Virtualization", Version: "1.0.0", Central: poolPaths(poolProcessor)},
		{Name: "Memory Resource Virtualization", Version: "1.0.0", Central: poolPaths(poolMemory)},
		{Name: "Storage Resource Virtualization", Version: "1.0.0", Central: poolPaths(poolDiskDrive, poolStorage)},
		{Name: "Ethernet Port Resource Virtualization", Version: "1.0.0", Central: poolPaths(poolEthernet, poolConnection)},
		{Name: "Virtual System Snapshot", Version: "1.0.0", Central: fixed(p.snapServicePath())},
		{Name: "Job Control", Version: "1.0.0", Central: paths(func() []*cim.ObjectPath {
			var out []*cim.ObjectPath
			for _, j := range p.m.Jobs() {
				out = append(out, idPath(classJob, jobID(j.ID)))
			}
			return out
		})},
	}
}
