package virt

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// Namespace is where the provider's classes live.
const Namespace = "root/virt"

// The classes the provider serves.
const (
	classHost            = "HC_HostSystem"
	classSystem          = "HC_ComputerSystem"
	classVSMS            = "HC_VirtualSystemManagementService"
	classVSMSCaps        = "HC_VirtualSystemManagementCapabilities"
	classStateCaps       = "HC_EnabledLogicalElementCapabilities"
	classSnapService     = "HC_VirtualSystemSnapshotService"
	classSnapServiceCaps = "HC_VirtualSystemSnapshotServiceCapabilities"
	classSnapCaps        = "HC_VirtualSystemSnapshotCapabilities"
	classJob             = "HC_ConcreteJob"
	classVSSD            = "HC_VirtualSystemSettingData"
	classRASD            = "HC_ResourceAllocationSettingData"
	classSASD            = "HC_StorageAllocationSettingData"
	classEPASD           = "HC_EthernetPortAllocationSettingData"
	classPool            = "HC_ResourcePool"
	classAllocCaps       = "HC_AllocationCapabilities"
	classProcessor       = "HC_Processor"
	classMemory          = "HC_Memory"
	classDiskDrive       = "HC_DiskDrive"
	classLogicalDisk     = "HC_LogicalDisk"
	classEthernetPort    = "HC_EthernetPort"

	assocHostedService       = "HC_HostedService"
	assocHostedDependency    = "HC_HostedDependency"
	assocServiceAffects      = "HC_ServiceAffectsElement"
	assocHostedPool          = "HC_HostedResourcePool"
	assocAllocatedFromPool   = "HC_ElementAllocatedFromPool"
	assocAllocationFromPool  = "HC_ResourceAllocationFromPool"
	assocElementCaps         = "HC_ElementCapabilities"
	assocDefineCaps          = "HC_SettingsDefineCapabilities"
	assocDefineState         = "HC_SettingsDefineState"
	assocElementSetting      = "HC_ElementSettingData"
	assocVSSDComponent       = "HC_VirtualSystemSettingDataComponent"
	assocSystemDevice        = "HC_SystemDevice"
	assocSnapshotOf          = "HC_SnapshotOfVirtualSystem"
	assocLastApplied         = "HC_LastAppliedSnapshot"
	assocMostCurrentSnapshot = "HC_MostCurrentSnapshotInBranch"
	assocAffectedJob         = "HC_AffectedJobElement"
	assocOwningJob           = "HC_OwningJobElement"
)

// Classes lists every class the provider serves instances of, for
// registration with the core: the core routes requests for these classes
// (and for their DMTF superclasses, which enumerate their subclasses) here.
var instanceClasses = []string{
	classHost, classSystem, classVSMS, classVSMSCaps, classStateCaps, classSnapService, classSnapServiceCaps,
	classSnapCaps, classJob, classVSSD, classRASD, classSASD, classEPASD, classPool, classAllocCaps,
	classProcessor, classMemory, classDiskDrive, classLogicalDisk, classEthernetPort,
}

// associationClasses lists the association classes the provider serves.
var associationClasses = []string{
	assocHostedService, assocHostedDependency, assocServiceAffects, assocHostedPool, assocAllocatedFromPool,
	assocAllocationFromPool, assocElementCaps, assocDefineCaps, assocDefineState, assocElementSetting,
	assocVSSDComponent, assocSystemDevice, assocSnapshotOf, assocLastApplied, assocMostCurrentSnapshot,
	assocAffectedJob, assocOwningJob,
}

// Service names (the Name key of the two services).
const (
	vsmsName        = "VirtualSystemManagementService"
	snapServiceName = "VirtualSystemSnapshotService"
)

// Kinds of objects the provider names.
type kind int

const (
	kindNone kind = iota
	kindHost
	kindSystem
	kindVSMS
	kindVSMSCaps
	kindSnapService
	kindSnapServiceCaps
	kindStateCaps // per system
	kindSnapCaps  // per system
	kindVSSD      // system or snapshot: owner
	kindRASD      // owner + device + part
	kindPool      // pool
	kindAllocCaps // pool
	kindTemplate  // pool + role
	kindDevice    // system + device kind + ID
	kindJob
)

// Parts of a device's allocation: the drive or adapter itself, the image
// in a drive, the connection of an adapter.
const (
	partDevice     = ""
	partImage      = "image"
	partConnection = "connection"
)

// ref identifies one object of the provider.
type ref struct {
	kind  kind
	id    string // system, snapshot or job UUID; or the VSSD/RASD owner
	dev   string // device ID ("proc", "mem", "disk0", "nic0", "cpu1")
	part  string // partImage, partConnection
	pool  string // pool key
	role  string // template role
	class string // device class, for kindDevice
}

// InstanceID formats. UUIDs are hexadecimal, so the fixed prefixes never
// meet a UUID.
const (
	idPrefix     = "HC:"
	idPool       = "HC:pool/"
	idCaps       = "HC:capabilities/"
	idJob        = "HC:job/"
	capsMgmt     = "management"
	capsSnapSvc  = "snapshot-service"
	capsState    = "state/"
	capsSnapshot = "snapshot/"
)

func vssdID(owner string) string { return idPrefix + owner }

func rasdID(owner, dev, part string) string {
	if part != "" {
		return idPrefix + owner + "/" + dev + "/" + part
	}
	return idPrefix + owner + "/" + dev
}

func poolID(pool string) string           { return idPool + pool }
func allocCapsID(pool string) string      { return idPool + pool + "/capabilities" }
func templateID(pool, role string) string { return idPool + pool + "/" + role }
func jobID(id string) string              { return idJob + id }
func stateCapsID(system string) string    { return idCaps + capsState + system }
func snapshotCapsID(system string) string { return idCaps + capsSnapshot + system }

// parseInstanceID reads an InstanceID of the provider.
func parseInstanceID(id string) (ref, bool) {
	switch {
	case strings.HasPrefix(id, idJob):
		return ref{kind: kindJob, id: strings.TrimPrefix(id, idJob)}, true
	case strings.HasPrefix(id, idPool):
		rest := strings.Split(strings.TrimPrefix(id, idPool), "/")
		switch {
		case len(rest) == 1:
			return ref{kind: kindPool, pool: rest[0]}, true
		case len(rest) == 2 && rest[1] == "capabilities":
			return ref{kind: kindAllocCaps, pool: rest[0]}, true
		case len(rest) == 2:
			return ref{kind: kindTemplate, pool: rest[0], role: rest[1]}, true
		}
	case strings.HasPrefix(id, idCaps):
		rest := strings.TrimPrefix(id, idCaps)
		switch {
		case rest == capsMgmt:
			return ref{kind: kindVSMSCaps}, true
		case rest == capsSnapSvc:
			return ref{kind: kindSnapServiceCaps}, true
		case strings.HasPrefix(rest, capsState):
			return ref{kind: kindStateCaps, id: strings.TrimPrefix(rest, capsState)}, true
		case strings.HasPrefix(rest, capsSnapshot):
			return ref{kind: kindSnapCaps, id: strings.TrimPrefix(rest, capsSnapshot)}, true
		}
	case strings.HasPrefix(id, idPrefix):
		rest := strings.Split(strings.TrimPrefix(id, idPrefix), "/")
		switch len(rest) {
		case 1:
			return ref{kind: kindVSSD, id: rest[0]}, true
		case 2:
			return ref{kind: kindRASD, id: rest[0], dev: rest[1]}, true
		case 3:
			if rest[2] == partImage || rest[2] == partConnection {
				return ref{kind: kindRASD, id: rest[0], dev: rest[1], part: rest[2]}, true
			}
		}
	}
	return ref{}, false
}

// keyString returns a path's key as a string, "" when absent.
func keyString(p *cim.ObjectPath, name string) string {
	v, ok := p.Key(name)
	if !ok || v.IsNull() {
		return ""
	}
	if v.Type() == cim.TypeString {
		return v.Str()
	}
	return v.String()
}

// parseRef identifies the object a path names. The class in the path may
// be ours or any DMTF superclass: the keys decide.
func (p *Provider) parseRef(path *cim.ObjectPath) (ref, bool) {
	if path == nil || !path.IsInstancePath() {
		return ref{}, false
	}
	if id := keyString(path, "InstanceID"); id != "" {
		return parseInstanceID(id)
	}
	ccn := keyString(path, "CreationClassName")
	switch {
	case cim.EqualNames(ccn, classHost):
		if keyString(path, "Name") == p.hostName {
			return ref{kind: kindHost}, true
		}
	case cim.EqualNames(ccn, classSystem):
		return ref{kind: kindSystem, id: strings.ToLower(keyString(path, "Name"))}, true
	case cim.EqualNames(ccn, classVSMS):
		if keyString(path, "Name") == vsmsName && p.hostKeys(path) {
			return ref{kind: kindVSMS}, true
		}
	case cim.EqualNames(ccn, classSnapService):
		if keyString(path, "Name") == snapServiceName && p.hostKeys(path) {
			return ref{kind: kindSnapService}, true
		}
	case cim.EqualNames(ccn, classProcessor), cim.EqualNames(ccn, classMemory), cim.EqualNames(ccn, classDiskDrive),
		cim.EqualNames(ccn, classLogicalDisk), cim.EqualNames(ccn, classEthernetPort):
		if !cim.EqualNames(keyString(path, "SystemCreationClassName"), classSystem) {
			return ref{}, false
		}
		return ref{kind: kindDevice, id: strings.ToLower(keyString(path, "SystemName")), dev: keyString(path, "DeviceID"),
			class: canonicalClass(ccn)}, true
	}
	return ref{}, false
}

func (p *Provider) hostKeys(path *cim.ObjectPath) bool {
	return cim.EqualNames(keyString(path, "SystemCreationClassName"), classHost) && keyString(path, "SystemName") == p.hostName
}

// canonicalClass spells one of our device classes as we do.
func canonicalClass(name string) string {
	for _, c := range []string{classProcessor, classMemory, classDiskDrive, classLogicalDisk, classEthernetPort} {
		if cim.EqualNames(c, name) {
			return c
		}
	}
	return name
}
