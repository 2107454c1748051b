package hypervisor

import (
	"fmt"
	"io"
	"regexp"
)

// Config defines a machine.
type Config struct {
	// Name is a human-readable name, unique per engine.
	Name string
	// UUID identifies the machine, canonical 8-4-4-4-12 lower-case hex.
	UUID string
	// VCPUs is the number of virtual CPUs, at least 1.
	VCPUs int
	// MemoryBytes is the guest RAM size; a multiple of 1 MiB.
	MemoryBytes uint64
	Boot        BootSource
	Disks       []DiskConfig
	NICs        []NICConfig
	// Console, if set, receives everything the guest writes to its first
	// serial port, in addition to the Console ring buffer.
	Console io.Writer `json:"-"`
}

// BootSource says what the machine boots.
type BootSource struct {
	// Kernel is a Linux bzImage, an ELF vmlinux (PVH note honoured) or
	// hypercim's test guest.
	Kernel  string
	Initrd  string
	Cmdline string
}

// DiskConfig is one virtual disk.
type DiskConfig struct {
	// ID names the disk within its machine ("disk0"); stable across
	// restarts and used by DetachDisk and DiskStats.
	ID string
	// Path is the image file: a VMDK descriptor or sparse file, or a raw
	// image.
	Path string
	// Format is "vmdk" or "raw"; empty means detect from content.
	Format   string
	ReadOnly bool
}

// NICConfig is one virtual Ethernet adapter.
type NICConfig struct {
	// ID names the adapter within its machine ("nic0").
	ID string
	// MAC is the adapter's address, "52:54:00:12:34:56"; empty lets the
	// engine choose a locally administered one.
	MAC string
	// Tap is the host tap device the kvm backend attaches to; empty gives
	// an adapter with no link (frames are dropped and counted).
	Tap string
	// Network is the libvirt network (or bridge, as "bridge:br0") the
	// libvirt backend attaches to; empty means libvirt's "default"
	// network when it exists, else no link.
	Network string
}

var (
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	macPattern  = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// Validate checks a config for what every backend needs; backends add
// their own limits (maximum vCPUs, memory) on top.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Name == "":
		return bad("name is empty")
	case !uuidPattern.MatchString(c.UUID):
		return bad("UUID %q is not canonical 8-4-4-4-12 lower-case hex", c.UUID)
	case c.VCPUs < 1:
		return bad("vCPUs %d: at least 1 is needed", c.VCPUs)
	case c.MemoryBytes < 1<<20 || c.MemoryBytes%(1<<20) != 0:
		return bad("memory %d bytes: must be a positive multiple of 1 MiB", c.MemoryBytes)
	case c.Boot.Kernel == "":
		return bad("no kernel to boot")
	}
	seen := map[string]bool{}
	for _, d := range c.Disks {
		if !idPattern.MatchString(d.ID) {
			return bad("disk ID %q must be 1-64 letters, digits, '_', '.' or '-'", d.ID)
		}
		if seen[d.ID] {
			return bad("device ID %q used twice", d.ID)
		}
		seen[d.ID] = true
		if d.Path == "" {
			return bad("disk %s has no image path", d.ID)
		}
		if d.Format != "" && d.Format != "vmdk" && d.Format != "raw" {
			return bad("disk %s: format %q is not vmdk or raw", d.ID, d.Format)
		}
	}
	for _, n := range c.NICs {
		if !idPattern.MatchString(n.ID) {
			return bad("NIC ID %q must be 1-64 letters, digits, '_', '.' or '-'", n.ID)
		}
		if seen[n.ID] {
			return bad("device ID %q used twice", n.ID)
		}
		seen[n.ID] = true
		if n.MAC != "" && !macPattern.MatchString(n.MAC) {
			return bad("NIC %s: MAC %q is not six lower-case hex pairs", n.ID, n.MAC)
		}
	}
	return nil
}

// Clone returns a deep copy, so callers can edit it without racing the
// machine that owns the original.
func (c Config) Clone() Config {
	c.Disks = append([]DiskConfig(nil), c.Disks...)
	c.NICs = append([]NICConfig(nil), c.NICs...)
	return c
}
