package virt

import (
	"strings"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// editor applies allocations (embedded RASDs) to a definition.
type editor struct {
	p      *Provider
	owner  string // the system's UUID ("" while defining)
	def    *vmm.Definition
	define bool
	// clientIDs maps InstanceIDs clients gave new drives and adapters in
	// this call to their device IDs, so images and connections can name
	// them as Parent before they exist.
	clientIDs map[string][]string
	newDrives []string // drives added in this call, in order
	newNICs   []string
	seenProc  bool
	seenMem   bool
}

func (p *Provider) newEditor(owner string, def *vmm.Definition, define bool) *editor {
	return &editor{p: p, owner: owner, def: def, define: define, clientIDs: map[string][]string{}}
}

// checkPool refuses a PoolID that is not the pool of the resource type.
func checkPool(i *cim.Instance, pd *poolDef) error {
	if id, ok := str(i, "PoolID"); ok && id != "" && id != pd.key {
		return badParam("%s: PoolID %q is not the %s pool %q", i.ClassName, id, resourceLabel(pd.rt), pd.key)
	}
	return nil
}

// add applies one new allocation and returns the allocation it made.
func (e *editor) add(i *cim.Instance) (ref, error) {
	if err := e.p.checkRASDClass(i); err != nil {
		return ref{}, err
	}
	rt, err := resourceType(i)
	if err != nil {
		return ref{}, err
	}
	if rt == 19 { // storage extent, as xs-cim sends disk images
		rt = rtLogicalDisk
	}
	pd := poolOfResourceType(rt)
	if pd == nil {
		if rt == 15 || rt == 16 {
			return ref{}, notSupported("%s: CD and DVD drives are not supported; give the image to a disk drive (17) as a logical disk (31)", i.ClassName)
		}
		return ref{}, badParam("%s: ResourceType %d is not one hypercim allocates (%s)", i.ClassName, rt, supportedTypes)
	}
	if err := checkPool(i, pd); err != nil {
		return ref{}, err
	}
	name, _ := str(i, "ElementName")
	switch rt {
	case rtProcessor, rtMemory:
		if !e.define {
			dev := map[uint16]string{rtProcessor: "proc", rtMemory: "mem"}[rt]
			return ref{}, badParam("a virtual system has one %s allocation; change it with ModifyResourceSettings (InstanceID %s)", resourceLabel(rt), rasdID(e.owner, dev, ""))
		}
		if rt == rtProcessor && e.seenProc || rt == rtMemory && e.seenMem {
			return ref{}, badParam("two %s allocations given; a virtual system has one", resourceLabel(rt))
		}
		if err := e.setQuantity(i, rt, name); err != nil {
			return ref{}, err
		}
		if rt == rtProcessor {
			e.seenProc = true
			return ref{kind: kindRASD, dev: "proc"}, nil
		}
		e.seenMem = true
		return ref{kind: kindRASD, dev: "mem"}, nil

	case rtDiskDrive:
		d := vmm.Disk{ID: vmm.NewDiskID(e.def), Name: name}
		if hr := strs(i, "HostResource"); len(hr) > 0 && hr[0] != "" {
			d.Media, d.Image = true, hr[0] // a drive with its image in one allocation
		}
		e.def.Disks = append(e.def.Disks, d)
		e.remember(i, d.ID)
		e.newDrives = append(e.newDrives, d.ID)
		return ref{kind: kindRASD, dev: d.ID}, nil

	case rtLogicalDisk:
		d, err := e.parentDrive(i)
		if err != nil {
			return ref{}, err
		}
		if err := e.setImage(i, d, name); err != nil {
			return ref{}, err
		}
		return ref{kind: kindRASD, dev: d.ID, part: partImage}, nil

	case rtEthernet:
		n := vmm.NIC{ID: vmm.NewNICID(e.def), Name: name}
		if a, ok := str(i, "Address"); ok && strings.TrimSpace(a) != "" {
			mac, err := normalizeMAC(a)
			if err != nil {
				return ref{}, err
			}
			n.MAC = mac
		}
		if !e.p.isA(i.ClassName, "CIM_EthernetPortAllocationSettingData") {
			if c := strs(i, "Connection"); len(c) > 0 && c[0] != "" {
				n.Connected, n.Connection = true, c[0] // an adapter with its connection in one allocation
			}
		}
		e.def.NICs = append(e.def.NICs, n)
		e.remember(i, n.ID)
		e.newNICs = append(e.newNICs, n.ID)
		return ref{kind: kindRASD, dev: n.ID}, nil

	case rtConnection:
		n, err := e.parentNIC(i)
		if err != nil {
			return ref{}, err
		}
		if err := setConnection(i, n, name); err != nil {
			return ref{}, err
		}
		return ref{kind: kindRASD, dev: n.ID, part: partConnection}, nil
	}
	return ref{}, badParam("%s: ResourceType %d is not one hypercim allocates (%s)", i.ClassName, rt, supportedTypes)
}

// setQuantity sets processors or memory, and their limits, from an
// allocation.
func (e *editor) setQuantity(i *cim.Instance, rt uint16, name string) error {
	if rt == rtProcessor {
		n, ok, err := countQuantity(i)
		if err != nil {
			return err
		}
		if ok {
			if n == 0 || n > 1<<16 {
				return badParam("%s: VirtualQuantity %d: a virtual system has 1 to %d processors", i.ClassName, n, e.p.m.Limits().MaxVCPUs)
			}
			e.def.VCPUs = int(n)
		}
		if err := e.setProcessorLimits(i, uint64(max(e.def.VCPUs, 1))); err != nil {
			return err
		}
		if name != "" {
			e.def.ProcessorName = name
		}
		return nil
	}
	b, ok, err := quantityBytes(i, 1<<20)
	if err != nil {
		return err
	}
	if ok {
		if b == 0 || b%(1<<20) != 0 {
			return badParam("%s: %d bytes of memory: give a positive whole number of MiB", i.ClassName, b)
		}
		e.def.MemoryMiB = b >> 20
	}
	if err := e.setMemoryLimits(i); err != nil {
		return err
	}
	if name != "" {
		e.def.MemoryName = name
	}
	return nil
}

// remember records a client InstanceID of a new drive or adapter.
func (e *editor) remember(i *cim.Instance, dev string) {
	if id, ok := str(i, "InstanceID"); ok && id != "" {
		e.clientIDs[id] = append(e.clientIDs[id], dev)
	}
}

// parentDev finds the drive (of an image) or adapter (of a connection)
// an allocation belongs to: the one its Parent names, among the system's
// and those added in this call; without Parent, the first drive or adapter
// of this call that lacks one, else a new one.
func (e *editor) parentDev(i *cim.Instance, drive bool) (string, error) {
	what := "disk drive"
	if !drive {
		what = "Ethernet adapter"
	}
	r, raw, has := parentRef(i)
	switch {
	case has && r.kind == kindRASD && r.part == "" && e.owner != "" && r.id == e.owner:
		return r.dev, nil
	case has:
		devs := e.clientIDs[raw]
		if len(devs) == 1 {
			return devs[0], nil
		}
		if len(devs) > 1 {
			return "", badParam("%s: Parent %q names %d %ss of this call; give each its own InstanceID", i.ClassName, raw, len(devs), what)
		}
		return "", badParam("%s: Parent %q names no %s of this virtual system", i.ClassName, raw, what)
	}
	if drive {
		for _, id := range e.newDrives {
			if !hasMedia(e.def.Disk(id)) {
				return id, nil
			}
		}
		d := vmm.Disk{ID: vmm.NewDiskID(e.def)} // a lone image brings its drive
		e.def.Disks = append(e.def.Disks, d)
		e.newDrives = append(e.newDrives, d.ID)
		return d.ID, nil
	}
	for _, id := range e.newNICs {
		if !e.def.NIC(id).Connected {
			return id, nil
		}
	}
	n := vmm.NIC{ID: vmm.NewNICID(e.def)} // a lone connection brings its adapter
	e.def.NICs = append(e.def.NICs, n)
	e.newNICs = append(e.newNICs, n.ID)
	return n.ID, nil
}

// parentDrive returns the empty drive an image goes into.
func (e *editor) parentDrive(i *cim.Instance) (*vmm.Disk, error) {
	dev, err := e.parentDev(i, true)
	if err != nil {
		return nil, err
	}
	d := e.def.Disk(dev)
	if d == nil {
		return nil, badParam("%s: Parent names %s, which is not a disk drive of this virtual system", i.ClassName, dev)
	}
	if hasMedia(d) {
		return nil, badParam("%s: disk drive %s holds an image already; remove it first or change it with ModifyResourceSettings", i.ClassName, dev)
	}
	return d, nil
}

// parentNIC returns the unconnected adapter a connection belongs to.
func (e *editor) parentNIC(i *cim.Instance) (*vmm.NIC, error) {
	dev, err := e.parentDev(i, false)
	if err != nil {
		return nil, err
	}
	n := e.def.NIC(dev)
	if n == nil {
		return nil, badParam("%s: Parent names %s, which is not an Ethernet adapter of this virtual system", i.ClassName, dev)
	}
	if n.Connected {
		return nil, badParam("%s: Ethernet adapter %s has a connection already; change it with ModifyResourceSettings", i.ClassName, dev)
	}
	return n, nil
}

func hasMedia(d *vmm.Disk) bool { return d != nil && (d.Image != "" || d.Media) }

// setImage puts the image an allocation describes into drive d.
func (e *editor) setImage(i *cim.Instance, d *vmm.Disk, name string) error {
	d.Media = true
	if hr := strs(i, "HostResource"); len(hr) > 1 {
		return badParam("%s: HostResource has %d entries; a logical disk is one image", i.ClassName, len(hr))
	} else if len(hr) == 1 {
		d.Image = strings.TrimSpace(hr[0])
	}
	size, ok, err := quantityBytes(i, 1)
	if err != nil {
		return err
	}
	if ok {
		if size > 1<<62 {
			return badParam("%s: %d bytes is too large", i.ClassName, size)
		}
		d.SizeBytes = int64(size)
	}
	d.Format, d.Subformat = imageFormat(i)
	if a, ok, _ := unsigned(i, "Access"); ok {
		switch a {
		case 1:
			d.ReadOnly = true
		case 2, 3:
			d.ReadOnly = false
		default:
			return badParam("%s: Access %d: give 1 (read-only) or 3 (read/write)", i.ClassName, a)
		}
	}
	if name != "" {
		d.ImageName = name
	}
	return nil
}

// imageFormat reads ImageFormat/ImageSubformat, or ResourceSubType
// ("HC:vmdk", "HC:raw").
func imageFormat(i *cim.Instance) (format, subformat string) {
	format, _ = str(i, "ImageFormat")
	subformat, _ = str(i, "ImageSubformat")
	if format == "" {
		if st, ok := str(i, "ResourceSubType"); ok {
			switch strings.ToLower(strings.TrimPrefix(st, "HC:")) {
			case "raw":
				format = "raw"
			case "vmdk":
				format = "vmdk"
			}
		}
	}
	return strings.ToLower(format), subformat
}

// setConnection sets an adapter's connection from an allocation.
func setConnection(i *cim.Instance, n *vmm.NIC, name string) error {
	conn := strs(i, "Connection")
	if len(conn) == 0 {
		conn = strs(i, "HostResource")
	}
	if len(conn) > 1 {
		return badParam("%s: Connection has %d entries; an adapter connects to one network", i.ClassName, len(conn))
	}
	n.Connected = true
	n.Connection = ""
	if len(conn) == 1 {
		n.Connection = strings.TrimSpace(conn[0])
	}
	if name != "" {
		n.ConnectionName = name
	}
	return nil
}

// modify applies a changed allocation of the system to its definition.
// NULL properties mean "unchanged": clients send back what they fetched
// with the values they want changed.
func (e *editor) modify(i *cim.Instance, r ref) error {
	if err := e.p.checkRASDClass(i); err != nil {
		return err
	}
	name, _ := str(i, "ElementName")
	if v := i.Get("ResourceType"); !v.IsNull() {
		rt, err := resourceType(i)
		if err != nil {
			return err
		}
		if rt == 19 {
			rt = rtLogicalDisk
		}
		if want := allocationType(e.def, r); want != 0 && rt != want {
			return badParam("%s: ResourceType %d does not match allocation %s, a %s", i.ClassName, rt, rasdID(r.id, r.dev, r.part), resourceLabel(want))
		}
	}
	switch {
	case r.dev == "proc" && r.part == "":
		return e.setQuantity(i, rtProcessor, name)
	case r.dev == "mem" && r.part == "":
		return e.setQuantity(i, rtMemory, name)
	}
	if d := e.def.Disk(r.dev); d != nil {
		switch r.part {
		case partDevice:
			if name != "" {
				d.Name = name
			}
			return nil
		case partImage:
			if d.Image == "" {
				return badParam("drive %s holds no image; add one with AddResourceSettings", d.ID)
			}
			cur := *d
			if hr := strs(i, "HostResource"); len(hr) == 1 && strings.TrimSpace(hr[0]) != e.p.m.ImagePath(d.Image) {
				*d = vmm.Disk{ID: cur.ID, Name: cur.Name}
				return e.setImage(i, d, name)
			}
			if size, ok, err := quantityBytes(i, 1); err != nil {
				return err
			} else if ok && int64(size) != d.SizeBytes {
				d.SizeBytes = int64(size)
			}
			if a, ok, _ := unsigned(i, "Access"); ok && (a == 1) != d.ReadOnly {
				if a != 1 && a != 2 && a != 3 {
					return badParam("%s: Access %d: give 1 (read-only) or 3 (read/write)", i.ClassName, a)
				}
				d.Media, d.ReadOnly = true, a == 1
			}
			if name != "" {
				d.ImageName = name
			}
			return nil
		}
	}
	if n := e.def.NIC(r.dev); n != nil {
		switch r.part {
		case partDevice:
			if a, ok := str(i, "Address"); ok && strings.TrimSpace(a) != "" {
				mac, err := normalizeMAC(a)
				if err != nil {
					return err
				}
				n.MAC = mac
			}
			if name != "" {
				n.Name = name
			}
			return nil
		case partConnection:
			if !n.Connected {
				return badParam("adapter %s has no connection; add one with AddResourceSettings", n.ID)
			}
			if i.Get("Connection").IsNull() && i.Get("HostResource").IsNull() {
				if name != "" {
					n.ConnectionName = name
				}
				return nil
			}
			return setConnection(i, n, name)
		}
	}
	return badParam("allocation %s does not exist", rasdID(r.id, r.dev, r.part))
}

// allocationType is the ResourceType of an existing allocation.
func allocationType(def *vmm.Definition, r ref) uint16 {
	switch {
	case r.dev == "proc":
		return rtProcessor
	case r.dev == "mem":
		return rtMemory
	case r.part == partImage:
		return rtLogicalDisk
	case r.part == partConnection:
		return rtConnection
	case def.Disk(r.dev) != nil:
		return rtDiskDrive
	case def.NIC(r.dev) != nil:
		return rtEthernet
	}
	return 0
}

// remove takes an allocation out of the definition.
func (e *editor) remove(r ref) error {
	switch {
	case r.dev == "proc" || r.dev == "mem":
		return badParam("the %s allocation of a virtual system cannot be removed; change its VirtualQuantity with ModifyResourceSettings", map[string]string{"proc": "processor", "mem": "memory"}[r.dev])
	}
	if d := e.def.Disk(r.dev); d != nil {
		switch r.part {
		case partDevice:
			for k := range e.def.Disks {
				if e.def.Disks[k].ID == r.dev {
					e.def.Disks = append(e.def.Disks[:k], e.def.Disks[k+1:]...)
					return nil
				}
			}
		case partImage:
			if d.Image == "" {
				return badParam("drive %s holds no image", d.ID)
			}
			*d = vmm.Disk{ID: d.ID, Name: d.Name}
			return nil
		}
	}
	if n := e.def.NIC(r.dev); n != nil {
		switch r.part {
		case partDevice:
			for k := range e.def.NICs {
				if e.def.NICs[k].ID == r.dev {
					e.def.NICs = append(e.def.NICs[:k], e.def.NICs[k+1:]...)
					return nil
				}
			}
		case partConnection:
			if !n.Connected {
				return badParam("adapter %s has no connection", n.ID)
			}
			n.Connected, n.Connection, n.ConnectionName = false, "", ""
			return nil
		}
	}
	return badParam("allocation %s does not exist", rasdID(r.id, r.dev, r.part))
}
