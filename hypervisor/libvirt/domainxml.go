package libvirt

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/hypercim/hypercim/hypervisor"
)

// hypercim's elements in a domain's <metadata>. The machine element marks
// a domain as hypercim's and survives in the persistent definition; the
// runtime element lives only in the running domain's XML.
const (
	machineNS  = "https://github.com/hypercim/hypercim/xmlns/libvirt/machine/1"
	machineKey = "hypercim"
	runtimeNS  = "https://github.com/hypercim/hypercim/xmlns/libvirt/runtime/1"
	runtimeKey = "hypercimrt"
)

// machineMeta is the persistent metadata element. It records, for each
// flat VMDK opened as raw, the descriptor the caller named, so Config
// reports the disk as the caller defined it.
type machineMeta struct {
	XMLName xml.Name `xml:"machine"`
	// Instance is Options.Instance of the engine that defined the domain.
	Instance string     `xml:"instance,attr,omitempty"`
	Disks    []metaDisk `xml:"disk"`
}

type metaDisk struct {
	ID         string `xml:"id,attr"`
	Descriptor string `xml:"descriptor,attr"`
}

// runtimeMeta is the live-only metadata element.
type runtimeMeta struct {
	XMLName xml.Name  `xml:"runtime"`
	Started time.Time `xml:"started,attr"`
}

// xml renders the element. With a key it is namespaced and prefixed, as
// in a full domain definition; without, it is the bare snippet that
// virDomainSetMetadata takes (libvirt adds the namespace).
func (m machineMeta) xml(key string) string {
	var b strings.Builder
	prefix := ""
	if key != "" {
		prefix = key + ":"
	}
	b.WriteString("<" + prefix + "machine")
	if key != "" {
		b.WriteString(" xmlns:" + key + `="` + machineNS + `"`)
	}
	if m.Instance != "" {
		b.WriteString(` instance="` + escapeAttr(m.Instance) + `"`)
	}
	b.WriteString(">")
	for _, d := range m.Disks {
		b.WriteString("<" + prefix + `disk id="` + escapeAttr(d.ID) + `" descriptor="` + escapeAttr(d.Descriptor) + `"/>`)
	}
	b.WriteString("</" + prefix + "machine>")
	return b.String()
}

func escapeAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// placedDisk is a disk with where it sits in the guest.
type placedDisk struct {
	cfg    hypervisor.DiskConfig
	layout diskLayout
	target string // vda, vdb, ...
}

// newMeta is the metadata element of a machine defined by the engine
// instance named instance: it lists the flat VMDKs among disks.
func newMeta(instance string, disks []placedDisk) machineMeta {
	meta := machineMeta{Instance: instance}
	for _, d := range disks {
		if d.layout.flat != nil {
			meta.Disks = append(meta.Disks, metaDisk{ID: d.cfg.ID, Descriptor: d.layout.flat.descriptor})
		}
	}
	return meta
}

// domainXML renders the persistent definition of a machine.
func domainXML(cfg hypervisor.Config, domainType string, meta machineMeta, disks []placedDisk) (string, error) {
	port := uint(0)
	kib := uint(cfg.MemoryBytes >> 10)
	dom := &libvirtxml.Domain{
		Type:          domainType,
		Name:          cfg.Name,
		UUID:          cfg.UUID,
		Metadata:      &libvirtxml.DomainMetadata{XML: meta.xml(machineKey)},
		Memory:        &libvirtxml.DomainMemory{Value: kib, Unit: "KiB"},
		CurrentMemory: &libvirtxml.DomainCurrentMemory{Value: kib, Unit: "KiB"},
		VCPU:          &libvirtxml.DomainVCPU{Placement: "static", Value: uint(cfg.VCPUs)},
		OS: &libvirtxml.DomainOS{
			Type:    &libvirtxml.DomainOSType{Arch: "x86_64", Machine: "pc", Type: "hvm"},
			Kernel:  cfg.Boot.Kernel,
			Initrd:  cfg.Boot.Initrd,
			Cmdline: cfg.Boot.Cmdline,
		},
		Features:   &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}, APIC: &libvirtxml.DomainFeatureAPIC{}},
		Clock:      &libvirtxml.DomainClock{Offset: "utc"},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Serials: []libvirtxml.DomainSerial{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainSerialTarget{Port: &port},
			}},
			Consoles: []libvirtxml.DomainConsole{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &port},
			}},
			MemBalloon: &libvirtxml.DomainMemBalloon{Model: "virtio"},
			RNGs: []libvirtxml.DomainRNG{{
				Model:   "virtio",
				Backend: &libvirtxml.DomainRNGBackend{Random: &libvirtxml.DomainRNGBackendRandom{Device: "/dev/urandom"}},
			}},
			Panics: []libvirtxml.DomainPanic{{Model: "isa"}},
		},
	}
	if cfg.Boot.Firmware {
		// SeaBIOS boots the first hard disk (vda, the first in the
		// config); useserial puts its int 10h console on COM1, as the
		// kvm backend's BIOS does.
		dom.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
		dom.OS.BIOS = &libvirtxml.DomainBIOS{UseSerial: "yes"}
	}
	if domainType == "kvm" {
		dom.CPU = &libvirtxml.DomainCPU{Mode: "host-passthrough"}
	}
	dom.CPUTune, dom.MemoryTune = tuneElements(cfg.Limits)
	for _, d := range disks {
		dom.Devices.Disks = append(dom.Devices.Disks, diskElement(d))
	}
	for _, n := range cfg.NICs {
		dom.Devices.Interfaces = append(dom.Devices.Interfaces, nicElement(n))
	}
	return dom.Marshal()
}

// diskElement is the <disk> of one placed disk: virtio, with QEMU's vmdk
// or raw driver, or raw on the range of a flat extent.
func diskElement(d placedDisk) libvirtxml.DomainDisk {
	el := libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: d.layout.driver, Discard: "unmap"},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: d.layout.file}},
		Target: &libvirtxml.DomainDiskTarget{Dev: d.target, Bus: "virtio"},
		Alias:  &libvirtxml.DomainAlias{Name: alias(d.cfg.ID)},
	}
	if f := d.layout.flat; f != nil {
		el.Source.Slices = &libvirtxml.DomainDiskSlices{Slices: []libvirtxml.DomainDiskSlice{
			{Type: "storage", Offset: uint(f.offset), Size: uint(f.size)},
		}}
	}
	if d.layout.readOnly {
		el.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
	}
	el.BackingStore = backingChain(d.layout.backing)
	return el
}

// backingChain renders a delta's parents, nearest first, as nested
// <backingStore> elements ending in an empty one: the whole chain, with
// each image's format, so libvirt neither probes nor guesses it. libvirt
// leaves the parents' ownership alone (relabel="no"); the engine has made
// them readable by QEMU (grantAccess). A disk without parents gets the
// empty element alone: nothing to look for.
func backingChain(layers []backingLayer) *libvirtxml.DomainDiskBackingStore {
	chain := &libvirtxml.DomainDiskBackingStore{}
	for i := len(layers) - 1; i >= 0; i-- {
		chain = &libvirtxml.DomainDiskBackingStore{
			Format: &libvirtxml.DomainDiskFormat{Type: layers[i].format},
			Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{
				File:     layers[i].file,
				SecLabel: []libvirtxml.DomainDeviceSecLabel{{Model: "dac", Relabel: "no"}},
			}},
			BackingStore: chain,
		}
	}
	return chain
}

// nicElement is the <interface> of one NIC: a virtio adapter on a libvirt
// network, a host bridge ("bridge:br0"), an existing tap device, or, with
// none of these, a tap libvirt creates and attaches to nothing.
func nicElement(n hypervisor.NICConfig) libvirtxml.DomainInterface {
	el := libvirtxml.DomainInterface{
		Model: &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		Alias: &libvirtxml.DomainAlias{Name: alias(n.ID)},
	}
	if n.MAC != "" {
		el.MAC = &libvirtxml.DomainInterfaceMAC{Address: n.MAC}
	}
	switch br, isBridge := strings.CutPrefix(n.Network, bridgePrefix); {
	case isBridge:
		el.Source = &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: br}}
	case n.Network != "":
		el.Source = &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: n.Network}}
	default:
		el.Source = &libvirtxml.DomainInterfaceSource{Ethernet: &libvirtxml.DomainInterfaceSourceEthernet{}}
		if n.Tap != "" {
			el.Target = &libvirtxml.DomainInterfaceTarget{Dev: n.Tap, Managed: "no"}
		}
	}
	return el
}

// bridgePrefix marks NICConfig.Network values naming a host bridge.
const bridgePrefix = "bridge:"

// definition is what a domain's XML says about a machine.
type definition struct {
	cfg hypervisor.Config
	// hypercim is set when the domain carries hypercim's metadata element.
	hypercim bool
	// meta is that element.
	meta machineMeta
	// targets maps disk IDs to guest device names (vda, ...).
	targets map[string]string
	// formats maps disk IDs to the driver QEMU uses ("vmdk" or "raw").
	drivers map[string]string
	// taps maps host tap devices to NIC IDs (live XML only).
	taps map[string]string
	// started is when the running domain was started (live XML only).
	started time.Time
}

// parseDomainXML reads a domain definition back into a Config. Disks and
// NICs that hypercim did not add are reported too, named by their guest
// device or position.
func parseDomainXML(text string) (definition, error) {
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(text); err != nil {
		return definition{}, fmt.Errorf("libvirt: parsing domain XML: %w", err)
	}
	def := definition{
		targets: map[string]string{},
		drivers: map[string]string{},
		taps:    map[string]string{},
		cfg:     hypervisor.Config{Name: dom.Name, UUID: dom.UUID},
	}
	if dom.Metadata != nil {
		def.meta, def.hypercim, def.started = readMetadata(dom.Metadata.XML)
	}
	if dom.VCPU != nil {
		def.cfg.VCPUs = int(dom.VCPU.Value)
	}
	if dom.Memory != nil {
		def.cfg.MemoryBytes = uint64(dom.Memory.Value) * unitBytes(dom.Memory.Unit)
	}
	if dom.OS != nil {
		def.cfg.Boot = hypervisor.BootSource{Kernel: dom.OS.Kernel, Initrd: dom.OS.Initrd, Cmdline: dom.OS.Cmdline}
		def.cfg.Boot.Firmware = dom.OS.Kernel == "" && len(dom.OS.BootDevices) > 0 && dom.OS.BootDevices[0].Dev == "hd"
	}
	def.cfg.Limits = parseTune(dom.CPUTune, dom.MemoryTune)
	if dom.Devices == nil {
		return def, nil
	}
	for _, d := range dom.Devices.Disks {
		if d.Target == nil || d.Source == nil || d.Source.File == nil {
			continue
		}
		id := d.Target.Dev
		if d.Alias != nil {
			if decoded, ok := unalias(d.Alias.Name); ok {
				id = decoded
			}
		}
		dc := hypervisor.DiskConfig{ID: id, Path: d.Source.File.File, ReadOnly: d.ReadOnly != nil}
		if d.Driver != nil {
			dc.Format = d.Driver.Type
		}
		def.drivers[id] = dc.Format
		for _, md := range def.meta.Disks {
			if md.ID == id && d.Source.Slices != nil {
				dc.Path, dc.Format = md.Descriptor, "vmdk"
			}
		}
		def.targets[id] = d.Target.Dev
		def.cfg.Disks = append(def.cfg.Disks, dc)
	}
	for i, n := range dom.Devices.Interfaces {
		id := fmt.Sprintf("net%d", i)
		if n.Alias != nil {
			if decoded, ok := unalias(n.Alias.Name); ok {
				id = decoded
			}
		}
		nc := hypervisor.NICConfig{ID: id}
		if n.MAC != nil {
			nc.MAC = strings.ToLower(n.MAC.Address)
		}
		switch {
		case n.Source != nil && n.Source.Network != nil:
			nc.Network = n.Source.Network.Network
		case n.Source != nil && n.Source.Bridge != nil:
			nc.Network = bridgePrefix + n.Source.Bridge.Bridge
		case n.Target != nil && n.Target.Managed == "no":
			nc.Tap = n.Target.Dev
		}
		if n.Target != nil && n.Target.Dev != "" {
			def.taps[n.Target.Dev] = id
		}
		def.cfg.NICs = append(def.cfg.NICs, nc)
	}
	return def, nil
}

// readMetadata finds hypercim's elements among a domain's metadata.
func readMetadata(inner string) (meta machineMeta, hypercim bool, started time.Time) {
	dec := xml.NewDecoder(strings.NewReader(inner))
	for {
		tok, err := dec.Token()
		if err != nil {
			return meta, hypercim, started
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case se.Name.Space == machineNS && se.Name.Local == "machine":
			hypercim = dec.DecodeElement(&meta, &se) == nil
		case se.Name.Space == runtimeNS && se.Name.Local == "runtime":
			var rt runtimeMeta
			if dec.DecodeElement(&rt, &se) == nil {
				started = rt.Started
			}
		default:
			dec.Skip()
		}
	}
}

// unitBytes converts libvirt's memory units (KiB when absent).
func unitBytes(unit string) uint64 {
	switch strings.ToLower(unit) {
	case "b", "bytes":
		return 1
	case "", "k", "kib":
		return 1 << 10
	case "kb":
		return 1000
	case "m", "mib":
		return 1 << 20
	case "mb":
		return 1000 * 1000
	case "g", "gib":
		return 1 << 30
	case "gb":
		return 1000 * 1000 * 1000
	}
	return 1 << 10
}

// Device aliases. libvirt keeps user aliases ("ua-" followed by letters,
// digits, '_' and '-') across restarts, which makes them the stable handle
// for hypercim's device IDs. IDs may also hold '.', so '_' is written "__"
// and '.' "_d".
const aliasPrefix = "ua-"

func alias(id string) string {
	var b strings.Builder
	b.WriteString(aliasPrefix)
	for _, r := range id {
		switch r {
		case '_':
			b.WriteString("__")
		case '.':
			b.WriteString("_d")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unalias(a string) (string, bool) {
	rest, ok := strings.CutPrefix(a, aliasPrefix)
	if !ok || rest == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		if rest[i] != '_' {
			b.WriteByte(rest[i])
			continue
		}
		if i+1 == len(rest) {
			return "", false
		}
		i++
		switch rest[i] {
		case '_':
			b.WriteByte('_')
		case 'd':
			b.WriteByte('.')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// diskTarget returns the first virtio disk name (vda, vdb, ... vdz, vdaa)
// not in use.
func diskTarget(used map[string]bool) string {
	for i := 0; ; i++ {
		name := "vd" + diskLetters(i)
		if !used[name] {
			return name
		}
	}
}

// diskLetters numbers like spreadsheet columns: a..z, aa..az, ...
func diskLetters(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return s
}
