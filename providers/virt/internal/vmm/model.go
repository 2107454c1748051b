package vmm

import (
	"slices"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

// StartupAction is what the server does with a system when it starts
// (CIM_VirtualSystemSettingData.AutomaticStartupAction, same values).
type StartupAction uint16

// Startup actions.
const (
	StartupNone            StartupAction = 2
	StartupRestartIfActive StartupAction = 3
	StartupAlways          StartupAction = 4
)

// ShutdownAction is what happens to a running system when the server stops
// (AutomaticShutdownAction, same values).
type ShutdownAction uint16

// Shutdown actions.
const (
	ShutdownTurnOff   ShutdownAction = 2
	ShutdownSaveState ShutdownAction = 3
	ShutdownGuest     ShutdownAction = 4
)

// RecoveryAction is what happens when the guest crashes
// (AutomaticRecoveryAction, same values).
type RecoveryAction uint16

// Recovery actions.
const (
	RecoveryNone      RecoveryAction = 2
	RecoveryRestart   RecoveryAction = 3
	RecoveryRevert    RecoveryAction = 4
	recoveryDefault                  = RecoveryNone
	startupDefault                   = StartupNone
	shutdownDefault                  = ShutdownTurnOff
	defaultDiskSubfmt                = "monolithicSparse"
)

// Definition is a virtual system's configuration: what it boots and the
// devices it has. It is what DefineSystem creates, the Modify operations
// edit and a snapshot keeps.
type Definition struct {
	Name        string
	Description string   `json:",omitempty"`
	Notes       []string `json:",omitempty"`
	VCPUs       int
	MemoryMiB   uint64
	// ProcessorName and MemoryName are the ElementNames clients gave the
	// processor and memory allocations.
	ProcessorName string `json:",omitempty"`
	MemoryName    string `json:",omitempty"`
	Kernel        string // empty: the BIOS boots the first disk with an image
	Initrd        string `json:",omitempty"`
	Cmdline       string `json:",omitempty"`
	Disks         []Disk `json:",omitempty"`
	NICs          []NIC  `json:",omitempty"`
	// Limits bound the host CPU and memory the system may use (the
	// Weight, Limit and Reservation of its processor and memory
	// allocations).
	Limits   hypervisor.Limits `json:",omitzero"`
	Startup  StartupAction
	Shutdown ShutdownAction
	Recovery RecoveryAction
}

// Disk is one disk drive and the image in it.
type Disk struct {
	// ID names the drive in its system ("disk0"); the server assigns it.
	ID   string
	Name string `json:",omitempty"`
	// Image is the image path relative to the storage pool directory; empty
	// for a drive without an image.
	Image     string `json:",omitempty"`
	ImageName string `json:",omitempty"`
	// Format is "vmdk" or "raw"; Subformat the VMDK create type.
	Format    string `json:",omitempty"`
	Subformat string `json:",omitempty"`
	SizeBytes int64  `json:",omitempty"`
	// Owned is set when hypercim created the image (the root of its
	// chain): DestroySystem deletes owned images only.
	Owned    bool `json:",omitempty"`
	ReadOnly bool `json:",omitempty"`

	// Media, in a request, asks for an image in the drive: Image names an
	// existing image of the pool, or where to create one of SizeBytes
	// (a generated name when Image is empty).
	Media bool `json:"-"`
}

// HasImage reports whether the drive holds an image.
func (d Disk) HasImage() bool { return d.Image != "" }

// NIC is one Ethernet adapter and its connection.
type NIC struct {
	// ID names the adapter in its system ("nic0"); the server assigns it.
	ID   string
	Name string `json:",omitempty"`
	// MAC is the adapter's address; the server chooses one when empty.
	MAC string
	// Connected is set when the adapter has a connection allocation;
	// Connection then says where it leads ("tap:NAME", "network:NAME",
	// "bridge:NAME", or "" for the engine's default).
	Connected      bool   `json:",omitempty"`
	Connection     string `json:",omitempty"`
	ConnectionName string `json:",omitempty"`
}

// Clone returns a deep copy.
func (d Definition) Clone() Definition {
	d.Notes = slices.Clone(d.Notes)
	d.Disks = slices.Clone(d.Disks)
	d.NICs = slices.Clone(d.NICs)
	return d
}

// Disk returns the drive with the given ID.
func (d *Definition) Disk(id string) *Disk {
	for i := range d.Disks {
		if d.Disks[i].ID == id {
			return &d.Disks[i]
		}
	}
	return nil
}

// NIC returns the adapter with the given ID.
func (d *Definition) NIC(id string) *NIC {
	for i := range d.NICs {
		if d.NICs[i].ID == id {
			return &d.NICs[i]
		}
	}
	return nil
}

// imageRecord is one image file a system uses: the leaf of a disk, a frozen
// image a snapshot keeps, or an interior delta of a chain.
type imageRecord struct {
	// Parent is the image this one is a delta of ("" for a chain root).
	Parent string `json:",omitempty"`
	// Created is set for images hypercim made (every delta, and roots it
	// created); images it did not create are never deleted.
	Created bool `json:",omitempty"`
}

// systemRecord is what the store holds for a system.
type systemRecord struct {
	UUID     string
	Def      Definition
	Created  time.Time
	Modified time.Time
	// Requested is the last state change a client asked for (the DMTF
	// RequestedState values); 0 when none.
	Requested uint16 `json:",omitempty"`
	// WasActive is set while the system runs or is paused, so a restart
	// of the server knows what was running (StartupRestartIfActive).
	WasActive bool `json:",omitempty"`
	// Saved is set when the system was saved to disk (state change 6);
	// starting it restores the saved state.
	Saved bool `json:",omitempty"`
	// LastApplied is the snapshot last applied; Branch the newest snapshot
	// of the branch the current state grows from (the parent of the next
	// snapshot).
	LastApplied string `json:",omitempty"`
	Branch      string `json:",omitempty"`
	// Images are the image files the system's disks and snapshots use, by
	// path relative to the pool.
	Images map[string]*imageRecord `json:",omitempty"`
}

func (r *systemRecord) clone() *systemRecord {
	c := *r
	c.Def = r.Def.Clone()
	c.Images = make(map[string]*imageRecord, len(r.Images))
	for k, v := range r.Images {
		iv := *v
		c.Images[k] = &iv
	}
	return &c
}

// SnapshotKind is CreateSnapshot's SnapshotType.
type SnapshotKind uint16

// Snapshot kinds.
const (
	// SnapshotFull keeps disks and, for an active system, its memory and
	// device state.
	SnapshotFull SnapshotKind = 2
	// SnapshotDisk keeps disks only (crash-consistent for a running system).
	SnapshotDisk SnapshotKind = 3
)

// Snapshot state: what the system was doing when the snapshot was taken,
// and what applying a full snapshot brings back.
const (
	snapStopped = "stopped"
	snapRunning = "running"
	snapPaused  = "paused"
	snapSaved   = "saved"
)

// snapshotRecord is one snapshot of a system.
type snapshotRecord struct {
	ID          string
	System      string
	Parent      string `json:",omitempty"`
	Name        string
	Description string `json:",omitempty"`
	Kind        SnapshotKind
	Created     time.Time
	// Def is the system's definition when the snapshot was taken; each
	// disk's Image is the image the snapshot froze.
	Def Definition
	// State is what the system was doing: stopped, running, paused or
	// saved. Memory is set when the snapshot holds memory and device state
	// (a full snapshot of an active or saved system).
	State  string
	Memory bool `json:",omitempty"`
}

// Snapshot is a snapshot as the manager reports it.
type Snapshot struct {
	ID          string
	System      string
	Parent      string
	Name        string
	Description string
	Kind        SnapshotKind
	Created     time.Time
	Def         Definition
	State       string
	Memory      bool
}

func (r *snapshotRecord) view() Snapshot {
	return Snapshot{ID: r.ID, System: r.System, Parent: r.Parent, Name: r.Name, Description: r.Description,
		Kind: r.Kind, Created: r.Created, Def: r.Def.Clone(), State: r.State, Memory: r.Memory}
}
