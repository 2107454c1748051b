package virt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// DMTF values used in several places.
const (
	stateEnabled      uint16 = 2
	stateDisabled     uint16 = 3
	stateShuttingDown uint16 = 4
	stateOffline      uint16 = 6 // "Enabled but Offline": saved
	stateQuiesce      uint16 = 9
	stateStarting     uint16 = 10
	requestedNoChange uint16 = 5
	requestedNA       uint16 = 12

	healthOK    uint16 = 5
	healthMajor uint16 = 20

	opOK        uint16 = 2
	opError     uint16 = 6
	opStopped   uint16 = 10
	opInService uint16 = 11
	opCompleted uint16 = 17

	vsType = "DMTF:KVM"
)

// Resource types (CIM_ResourceAllocationSettingData.ResourceType).
const (
	rtProcessor   uint16 = 3
	rtMemory      uint16 = 4
	rtEthernet    uint16 = 10
	rtDiskDrive   uint16 = 17
	rtLogicalDisk uint16 = 31
	rtConnection  uint16 = 33
)

// ---------------------------------------------------------------------------
// Paths

func (p *Provider) hostPath() *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, classHost,
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString(classHost)},
		cim.KeyBinding{Name: "Name", Value: cim.NewString(p.hostName)})
}

func (p *Provider) servicePath(class, name string) *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, class,
		cim.KeyBinding{Name: "SystemCreationClassName", Value: cim.NewString(classHost)},
		cim.KeyBinding{Name: "SystemName", Value: cim.NewString(p.hostName)},
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString(class)},
		cim.KeyBinding{Name: "Name", Value: cim.NewString(name)})
}

func (p *Provider) vsmsPath() *cim.ObjectPath { return p.servicePath(classVSMS, vsmsName) }

func (p *Provider) snapServicePath() *cim.ObjectPath {
	return p.servicePath(classSnapService, snapServiceName)
}

func systemPath(uuid string) *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, classSystem,
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString(classSystem)},
		cim.KeyBinding{Name: "Name", Value: cim.NewString(uuid)})
}

func idPath(class, id string) *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, class, cim.KeyBinding{Name: "InstanceID", Value: cim.NewString(id)})
}

func devicePath(class, system, dev string) *cim.ObjectPath {
	return cim.NewInstancePath(Namespace, class,
		cim.KeyBinding{Name: "SystemCreationClassName", Value: cim.NewString(classSystem)},
		cim.KeyBinding{Name: "SystemName", Value: cim.NewString(system)},
		cim.KeyBinding{Name: "CreationClassName", Value: cim.NewString(class)},
		cim.KeyBinding{Name: "DeviceID", Value: cim.NewString(dev)})
}

// rasdClass is the class of an allocation: the storage and Ethernet
// connection parts have their own subclasses.
func rasdClass(part string) string {
	switch part {
	case partImage:
		return classSASD
	case partConnection:
		return classEPASD
	}
	return classRASD
}

func rasdPath(owner, dev, part string) *cim.ObjectPath {
	return idPath(rasdClass(part), rasdID(owner, dev, part))
}

// pathString is the form RASD.Parent takes: a model path with namespace.
func pathString(p *cim.ObjectPath) string { return p.String() }

// ---------------------------------------------------------------------------
// State mapping

// enabledState maps a system's engine state to EnabledState.
func enabledState(v *vmm.System) uint16 {
	if v.Saved && !active(v.State) {
		return stateOffline
	}
	switch v.State {
	case hypervisor.StateRunning:
		return stateEnabled
	case hypervisor.StatePaused:
		return stateQuiesce
	case hypervisor.StateShuttingDown:
		return stateShuttingDown
	case hypervisor.StateStarting:
		return stateStarting
	}
	return stateDisabled
}

func active(st hypervisor.State) bool {
	return st == hypervisor.StateRunning || st == hypervisor.StatePaused || st == hypervisor.StateShuttingDown ||
		st == hypervisor.StateStarting
}

// availableStates lists the RequestStateChange values that do something
// now.
func availableStates(v *vmm.System) []uint16 {
	if v.Busy != "" {
		return []uint16{}
	}
	var states []uint16
	switch {
	case v.Saved && !active(v.State):
		return []uint16{2, 3}
	case v.State == hypervisor.StateRunning:
		states = []uint16{3, 4, 6, 9, 10, 11}
	case v.State == hypervisor.StatePaused:
		states = []uint16{2, 3, 6, 11}
	case v.State == hypervisor.StateShuttingDown:
		states = []uint16{3, 6, 11}
	case v.State == hypervisor.StateStarting:
		return []uint16{}
	default:
		return []uint16{2}
	}
	if v.CannotSave != "" { // the engine cannot write its state (6 Offline)
		states = slices.DeleteFunc(states, func(s uint16) bool { return s == 6 })
	}
	return states
}

func stateWords(v *vmm.System) string {
	if v.Saved && !active(v.State) {
		return "Saved"
	}
	switch v.State {
	case hypervisor.StateRunning:
		return "Running"
	case hypervisor.StatePaused:
		return "Paused"
	case hypervisor.StateShuttingDown:
		return "Shutting down"
	case hypervisor.StateStarting:
		return "Starting"
	case hypervisor.StateCrashed:
		return "Crashed"
	}
	return "Off"
}

func datetime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// ---------------------------------------------------------------------------
// Systems and services

func (p *Provider) hostInstance() (*cim.Instance, error) {
	return p.newInst(classHost).
		set("CreationClassName", classHost).
		set("Name", p.hostName).
		set("NameFormat", "Other").
		set("ElementName", p.hostName).
		set("Caption", "Host system").
		set("Description", "The host computer whose hypervisor ("+p.m.EngineName()+") runs the virtual systems").
		set("InstanceID", "HC:host/"+p.m.HostID()).
		set("Dedicated", []uint16{2}).
		set("EnabledState", stateEnabled).
		set("RequestedState", requestedNA).
		set("EnabledDefault", stateEnabled).
		set("HealthState", healthOK).
		set("OperationalStatus", []uint16{opOK}).
		set("StatusDescriptions", []string{"OK"}).
		done()
}

func (p *Provider) systemInstance(v *vmm.System) (*cim.Instance, error) {
	state := enabledState(v)
	ops, health := []uint16{opOK}, healthOK
	status := []string{stateWords(v)}
	if v.State == hypervisor.StateCrashed {
		ops, health = []uint16{opError}, healthMajor
	}
	if v.Busy != "" {
		ops = append(ops, opInService)
		status = append(status, "Busy: "+v.Busy)
	}
	if v.Reason != "" {
		status = append(status, v.Reason)
	}
	requested := requestedNoChange
	if v.Requested != 0 {
		requested = v.Requested
	}
	transitioning := requestedNA
	if v.Transitioning != 0 {
		transitioning = v.Transitioning
	}
	return p.newInst(classSystem).
		set("CreationClassName", classSystem).
		set("Name", v.UUID).
		set("NameFormat", "Other").
		set("OtherIdentifyingInfo", []string{v.UUID}).
		set("IdentifyingDescriptions", []string{"UUID"}).
		set("InstanceID", "HC:system/"+v.UUID).
		set("ElementName", v.Def.Name).
		set("Caption", "Virtual system").
		setIf(v.Def.Description != "", "Description", v.Def.Description).
		set("InstallDate", datetime(v.Created)).
		set("EnabledState", state).
		set("RequestedState", requested).
		set("TransitioningToState", transitioning).
		set("EnabledDefault", stateDisabled).
		set("AvailableRequestedStates", availableStates(v)).
		set("HealthState", health).
		set("OperationalStatus", ops).
		set("StatusDescriptions", status).
		set("Dedicated", []uint16{0}).
		set("ResetCapability", uint16(4)).
		done()
}

func (p *Provider) serviceInstance(class, name, caption string) (*cim.Instance, error) {
	b := p.newInst(class).
		set("SystemCreationClassName", classHost).
		set("SystemName", p.hostName).
		set("CreationClassName", class).
		set("Name", name).
		set("ElementName", caption).
		set("Caption", caption).
		set("Started", true).
		set("EnabledState", stateEnabled).
		set("RequestedState", requestedNA).
		set("EnabledDefault", stateEnabled).
		set("HealthState", healthOK).
		set("OperationalStatus", []uint16{opOK})
	if class == classVSMS {
		b.set("Description", "Defines, changes and destroys the virtual systems of "+p.hostName).
			set("Backend", p.m.EngineName()).
			set("BackendVersion", p.engVer)
	} else {
		b.set("Description", "Takes, applies and destroys snapshots of the virtual systems of "+p.hostName)
	}
	return b.done()
}

// VSMS methods by the values of SynchronousMethodsSupported.
var vsmsMethods = []uint16{2, 3, 5, 6, 7, 10}

func (p *Provider) vsmsCapsInstance() (*cim.Instance, error) {
	return p.newInst(classVSMSCaps).
		set("InstanceID", idCaps+capsMgmt).
		set("ElementName", "Virtual system management capabilities").
		set("VirtualSystemTypesSupported", []string{vsType}).
		set("SynchronousMethodsSupported", vsmsMethods).
		set("AsynchronousMethodsSupported", vsmsMethods).
		set("IndicationsSupported", p.indicationsSupported()).
		set("ElementNameEditSupported", true).
		set("MaxElementNameLen", uint16(128)).
		set("RequestedStatesSupported", []uint16{}).
		done()
}

// indicationsSupported lists the indications sent: job and virtual
// system state changes (lifecycle indications), once a publisher is set.
func (p *Provider) indicationsSupported() []uint16 {
	if p.ind == nil {
		return []uint16{}
	}
	return []uint16{3, 4}
}

func (p *Provider) snapServiceCapsInstance() (*cim.Instance, error) {
	methods := []uint16{2, 3, 4}
	return p.newInst(classSnapServiceCaps).
		set("InstanceID", idCaps+capsSnapSvc).
		set("ElementName", "Virtual system snapshot service capabilities").
		set("SynchronousMethodsSupported", methods).
		set("AynchronousMethodsSupported", methods).
		set("SnapshotTypesSupported", []uint16{uint16(vmm.SnapshotFull), uint16(vmm.SnapshotDisk)}).
		done()
}

func (p *Provider) stateCapsInstance(v *vmm.System) (*cim.Instance, error) {
	return p.newInst(classStateCaps).
		set("InstanceID", stateCapsID(v.UUID)).
		set("ElementName", "State capabilities of "+v.Def.Name).
		set("RequestedStatesSupported", availableStates(v)).
		set("ElementNameEditSupported", true).
		set("MaxElementNameLen", uint16(128)).
		done()
}

func (p *Provider) snapCapsInstance(v *vmm.System) (*cim.Instance, error) {
	types := []uint16{uint16(vmm.SnapshotFull), uint16(vmm.SnapshotDisk)}
	if v.CannotSave != "" && active(v.State) && !v.Saved {
		// An active system's disks move onto deltas while it is stopped
		// with its state written, which the engine cannot do now.
		types = []uint16{}
	}
	for _, d := range v.Def.Disks {
		if d.Image != "" && d.Format == "raw" {
			types = []uint16{} // deltas need VMDK images
		}
	}
	return p.newInst(classSnapCaps).
		set("InstanceID", snapshotCapsID(v.UUID)).
		set("ElementName", "Snapshot capabilities of "+v.Def.Name).
		set("SnapshotTypesEnabled", types).
		set("GuestOSNotificationEnabled", false).
		done()
}

// ---------------------------------------------------------------------------
// Settings

// vssdInstance is the settings of a system (snap nil) or of a snapshot.
func (p *Provider) vssdInstance(v *vmm.System, snap *vmm.Snapshot) (*cim.Instance, error) {
	def, owner, name, created := v.Def, v.UUID, v.Def.Name, v.Created
	changeable := uint16(2) // Changeable - Persistent
	caption := "Virtual system settings"
	if snap != nil {
		def, owner, name, created = snap.Def, snap.ID, snap.Name, snap.Created
		changeable, caption = 0, "Snapshot" // Not Changeable - Persistent
	}
	b := p.newInst(classVSSD).
		set("InstanceID", vssdID(owner)).
		set("ElementName", name).
		set("Caption", caption).
		set("VirtualSystemIdentifier", v.UUID).
		set("VirtualSystemType", vsType).
		set("ChangeableType", changeable).
		set("CreationTime", datetime(created)).
		set("ConfigurationID", owner).
		set("AutomaticStartupAction", uint16(def.Startup)).
		set("AutomaticShutdownAction", uint16(def.Shutdown)).
		set("AutomaticRecoveryAction", uint16(def.Recovery)).
		set("KernelPath", def.Kernel).
		setIf(def.Initrd != "", "InitrdPath", def.Initrd).
		set("KernelCommandLine", def.Cmdline).
		set("Backend", p.m.EngineName()).
		set("SnapshotDataRoot", p.m.StateDir(v.UUID)).
		set("SuspendDataRoot", p.m.StateDir(v.UUID))
	if snap != nil {
		desc := snap.Description
		if desc == "" {
			desc = fmt.Sprintf("%s snapshot of %s taken %s", map[vmm.SnapshotKind]string{vmm.SnapshotFull: "Full", vmm.SnapshotDisk: "Disk"}[snap.Kind], v.Def.Name, snap.Created.UTC().Format(time.RFC3339))
		}
		b.set("Description", desc).set("Notes", []string{"SnapshotType=" + fmt.Sprint(uint16(snap.Kind)), "State=" + snap.State})
	} else {
		b.setIf(def.Description != "", "Description", def.Description).setIf(len(def.Notes) > 0, "Notes", def.Notes)
	}
	return b.done()
}

// rasdInstances yields the allocations of a definition owned by a system
// or snapshot: processor, memory, each drive and its image, each adapter
// and its connection.
func (p *Provider) rasdInstances(owner string, def vmm.Definition, yield func(*cim.Instance) error) error {
	for _, dev := range []string{"proc", "mem"} {
		i, err := p.rasdInstance(owner, def, dev, partDevice)
		if err != nil {
			return err
		}
		if err := yield(i); err != nil {
			return err
		}
	}
	for _, d := range def.Disks {
		parts := []string{partDevice}
		if d.Image != "" {
			parts = append(parts, partImage)
		}
		for _, part := range parts {
			i, err := p.rasdInstance(owner, def, d.ID, part)
			if err != nil {
				return err
			}
			if err := yield(i); err != nil {
				return err
			}
		}
	}
	for _, n := range def.NICs {
		parts := []string{partDevice}
		if n.Connected {
			parts = append(parts, partConnection)
		}
		for _, part := range parts {
			i, err := p.rasdInstance(owner, def, n.ID, part)
			if err != nil {
				return err
			}
			if err := yield(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// macHex is a MAC address as CIM writes them: 12 hexadecimal digits.
func macHex(mac string) string { return strings.ToUpper(strings.ReplaceAll(mac, ":", "")) }

// rasdInstance builds one allocation; nil, nil when it does not exist.
func (p *Provider) rasdInstance(owner string, def vmm.Definition, dev, part string) (*cim.Instance, error) {
	id := rasdID(owner, dev, part)
	b := p.newInst(rasdClass(part)).
		set("InstanceID", id).
		set("ConsumerVisibility", uint16(3)).
		set("AutomaticAllocation", true).
		set("AutomaticDeallocation", true)
	switch {
	case dev == "proc" && part == "":
		name := def.ProcessorName
		if name == "" {
			name = "Processors"
		}
		return b.set("ElementName", name).set("ResourceType", rtProcessor).set("ResourceSubType", "HC:vCPU").
			set("PoolID", poolProcessor).set("AllocationUnits", unitsPercent).set("VirtualQuantityUnits", unitsCount).
			set("VirtualQuantity", uint64(def.VCPUs)).set("Weight", processorWeight(def.Limits)).
			set("Limit", processorLimit(def.Limits)).set("Reservation", uint64(0)).done()
	case dev == "mem" && part == "":
		name := def.MemoryName
		if name == "" {
			name = "Memory"
		}
		b.set("ElementName", name).set("ResourceType", rtMemory).set("ResourceSubType", "HC:RAM").
			set("PoolID", poolMemory).set("AllocationUnits", "byte*2^20").set("VirtualQuantityUnits", "byte*2^20").
			set("VirtualQuantity", def.MemoryMiB)
		if l := def.Limits.MemoryHardLimit; l != 0 {
			b.set("Limit", l>>20)
		}
		if r := def.Limits.MemorySoftLimit; r != 0 {
			b.set("Reservation", r>>20)
		}
		return b.done()
	}
	if d := def.Disk(dev); d != nil {
		index := 0
		for i := range def.Disks {
			if def.Disks[i].ID == dev {
				index = i
			}
		}
		switch part {
		case partDevice:
			name := d.Name
			if name == "" {
				name = "Disk drive " + d.ID
			}
			return b.set("ElementName", name).set("ResourceType", rtDiskDrive).set("ResourceSubType", "HC:virtio-blk").
				set("PoolID", poolDiskDrive).set("AllocationUnits", "count").set("VirtualQuantityUnits", "count").
				set("VirtualQuantity", uint64(1)).set("Address", d.ID).set("AddressOnParent", fmt.Sprint(index)).done()
		case partImage:
			if d.Image == "" {
				return nil, nil
			}
			name := d.ImageName
			if name == "" {
				name = "Disk image " + d.Image
			}
			access := uint16(3)
			if d.ReadOnly {
				access = 1
			}
			return b.set("ElementName", name).set("ResourceType", rtLogicalDisk).set("ResourceSubType", "HC:"+d.Format).
				set("PoolID", poolStorage).set("AllocationUnits", "byte").set("VirtualQuantityUnits", "byte").
				set("VirtualQuantity", uint64(d.SizeBytes)).set("Limit", uint64(d.SizeBytes)).
				set("HostResource", []string{p.m.ImagePath(d.Image)}).
				set("Parent", pathString(rasdPath(owner, dev, partDevice))).
				set("Access", access).set("VirtualResourceBlockSize", uint64(512)).set("HostResourceBlockSize", uint64(512)).
				set("ImageFormat", d.Format).setIf(d.Subformat != "", "ImageSubformat", d.Subformat).
				set("ImageOwned", d.Owned).done()
		}
		return nil, nil
	}
	if n := def.NIC(dev); n != nil {
		switch part {
		case partDevice:
			name := n.Name
			if name == "" {
				name = "Ethernet adapter " + n.ID
			}
			return b.set("ElementName", name).set("ResourceType", rtEthernet).set("ResourceSubType", "HC:virtio-net").
				set("PoolID", poolEthernet).set("AllocationUnits", "count").set("VirtualQuantityUnits", "count").
				set("VirtualQuantity", uint64(1)).set("Address", macHex(n.MAC)).done()
		case partConnection:
			if !n.Connected {
				return nil, nil
			}
			name := n.ConnectionName
			if name == "" {
				name = "Connection of " + n.ID
			}
			conn := []string{}
			if n.Connection != "" {
				conn = []string{n.Connection}
			}
			return b.set("ElementName", name).set("ResourceType", rtConnection).set("ResourceSubType", "HC:"+p.m.EngineName()).
				set("PoolID", poolConnection).set("AllocationUnits", "count").set("VirtualQuantityUnits", "count").
				set("VirtualQuantity", uint64(1)).set("Connection", conn).
				set("Parent", pathString(rasdPath(owner, dev, partDevice))).done()
		}
	}
	return nil, nil
}

// ---------------------------------------------------------------------------
// Devices

// deviceRefs lists the devices of a system: one processor per vCPU,
// the memory, each drive and its disk, each adapter.
func deviceRefs(v *vmm.System) []ref {
	var out []ref
	for i := 0; i < v.Def.VCPUs; i++ {
		out = append(out, ref{kind: kindDevice, id: v.UUID, class: classProcessor, dev: fmt.Sprintf("cpu%d", i)})
	}
	out = append(out, ref{kind: kindDevice, id: v.UUID, class: classMemory, dev: "mem"})
	for _, d := range v.Def.Disks {
		out = append(out, ref{kind: kindDevice, id: v.UUID, class: classDiskDrive, dev: d.ID})
		if d.Image != "" {
			out = append(out, ref{kind: kindDevice, id: v.UUID, class: classLogicalDisk, dev: d.ID})
		}
	}
	for _, n := range v.Def.NICs {
		out = append(out, ref{kind: kindDevice, id: v.UUID, class: classEthernetPort, dev: n.ID})
	}
	return out
}

// allocationOf returns the allocation (device ID and part) that
// describes a device.
func allocationOf(r ref) (dev, part string) {
	switch r.class {
	case classProcessor:
		return "proc", partDevice
	case classMemory:
		return "mem", partDevice
	case classLogicalDisk:
		return r.dev, partImage
	}
	return r.dev, partDevice
}

// deviceInstance builds a device; nil, nil when the system has no such
// device.
func (p *Provider) deviceInstance(v *vmm.System, r ref) (*cim.Instance, error) {
	state := stateDisabled
	if active(v.State) {
		state = stateEnabled
	}
	b := p.newInst(r.class).
		set("SystemCreationClassName", classSystem).
		set("SystemName", v.UUID).
		set("CreationClassName", r.class).
		set("DeviceID", r.dev).
		set("EnabledState", state).
		set("RequestedState", requestedNA).
		set("HealthState", healthOK).
		set("OperationalStatus", []uint16{opOK})
	switch r.class {
	case classProcessor:
		var n int
		if _, err := fmt.Sscanf(r.dev, "cpu%d", &n); err != nil || n < 0 || n >= v.Def.VCPUs || r.dev != fmt.Sprintf("cpu%d", n) {
			return nil, nil
		}
		return b.set("ElementName", fmt.Sprintf("Virtual processor %d", n)).set("NumberOfEnabledCores", uint16(1)).
			set("CPUStatus", map[bool]uint16{true: 1, false: 0}[active(v.State)]).done()
	case classMemory:
		if r.dev != "mem" {
			return nil, nil
		}
		return b.set("ElementName", "Memory").set("BlockSize", uint64(1<<20)).set("NumberOfBlocks", v.Def.MemoryMiB).
			set("ConsumableBlocks", v.Def.MemoryMiB).set("Volatile", true).set("Access", uint16(3)).done()
	case classDiskDrive:
		d := v.Def.Disk(r.dev)
		if d == nil {
			return nil, nil
		}
		name := d.Name
		if name == "" {
			name = "Disk drive " + d.ID
		}
		return b.set("ElementName", name).set("Capabilities", []uint16{3, 4}).set("MediaIsLocked", false).done()
	case classLogicalDisk:
		d := v.Def.Disk(r.dev)
		if d == nil || d.Image == "" {
			return nil, nil
		}
		access := uint16(3)
		if d.ReadOnly {
			access = 1
		}
		return b.set("ElementName", "Disk "+d.ID).set("Name", p.m.ImagePath(d.Image)).set("BlockSize", uint64(512)).
			set("NumberOfBlocks", uint64(d.SizeBytes/512)).set("ConsumableBlocks", uint64(d.SizeBytes/512)).
			set("Access", access).set("ThinlyProvisioned", strings.HasSuffix(d.Subformat, "Sparse")).done()
	case classEthernetPort:
		n := v.Def.NIC(r.dev)
		if n == nil {
			return nil, nil
		}
		name := n.Name
		if name == "" {
			name = "Ethernet adapter " + n.ID
		}
		return b.set("ElementName", name).set("PermanentAddress", macHex(n.MAC)).
			set("NetworkAddresses", []string{n.MAC}).set("LinkTechnology", uint16(2)).set("PortType", uint16(1)).done()
	}
	return nil, nil
}

// ---------------------------------------------------------------------------
// Jobs

func jobStatusWords(s vmm.JobState) string {
	switch s {
	case vmm.JobNew:
		return "New"
	case vmm.JobRunning:
		return "Running"
	case vmm.JobCompleted:
		return "Completed"
	case vmm.JobTerminated:
		return "Terminated"
	case vmm.JobKilled:
		return "Killed"
	case vmm.JobException:
		return "Exception"
	}
	return "Unknown"
}

func (p *Provider) jobInstance(j vmm.Job) (*cim.Instance, error) {
	ops := []uint16{opOK}
	switch j.State {
	case vmm.JobCompleted:
		ops = []uint16{opOK, opCompleted}
	case vmm.JobException:
		ops = []uint16{opError, opCompleted}
	case vmm.JobTerminated, vmm.JobKilled:
		ops = []uint16{opStopped, opCompleted}
	}
	end := j.Ended
	if end.IsZero() {
		end = time.Now()
	}
	b := p.newInst(classJob).
		set("InstanceID", jobID(j.ID)).
		set("Name", j.Name).
		set("ElementName", j.Name).
		set("Caption", j.Method).
		set("Description", fmt.Sprintf("%s (%s)", j.Name, j.Method)).
		set("JobState", uint16(j.State)).
		set("JobStatus", jobStatusWords(j.State)).
		set("OperationalStatus", ops).
		set("TimeSubmitted", datetime(j.Created)).
		set("StartTime", datetime(j.Started)).
		set("ElapsedTime", end.Sub(j.Started).Truncate(time.Microsecond)).
		set("TimeOfLastStateChange", datetime(j.Changed)).
		set("TimeBeforeRemoval", j.Retention).
		set("PercentComplete", j.Percent).
		set("DeleteOnCompletion", false).
		set("LocalOrUtcTime", uint16(2)).
		setIf(j.User != "", "Owner", j.User)
	if err := j.Err(); err != nil {
		b.set("ErrorCode", uint16(methodCode(j.Method, vmm.CodeOf(err)))).set("ErrorDescription", j.ErrMsg)
	} else if j.State.Finished() {
		b.set("ErrorCode", uint16(0))
	}
	return b.done()
}
