package hypervisor

import (
	"fmt"
	"io"
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
	// Limits bound the host CPU and memory the machine may use; the zero
	// value sets none. A backend that cannot enforce a field refuses the
	// config with ErrNotSupported.
	Limits Limits
	// Console, if set, receives everything the guest writes to its first
	// serial port, in addition to the Console ring buffer.
	Console io.Writer `json:"-"`
}

// BootSource says what the machine boots: a kernel (with an optional
// initrd and command line) the engine loads directly, or, with Firmware,
// a PC BIOS that boots the first disk.
type BootSource struct {
	// Kernel is a Linux bzImage, an ELF vmlinux (PVH note honoured) or
	// hypercim's test guest.
	Kernel  string
	Initrd  string
	Cmdline string
	// Firmware boots through a PC BIOS instead of a kernel: it loads
	// sector 0 of the first disk (Disks[0], BIOS drive 80h) at 0000:7C00
	// and jumps to it when it ends in the 55AAh signature. The kvm
	// engine runs hypercim's own paravirtual BIOS (bin/hypercim-bios),
	// the libvirt engine SeaBIOS. Kernel, Initrd and Cmdline must be
	// empty and at least one disk configured.
	Firmware bool
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

// The syntax checks below are written out rather than regular
// expressions: compiling those at package initialisation cost every
// program linking the VMM a millisecond and 80 KiB of heap.

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// hexGroups reports whether s is lower-case hex digits with sep at the
// given positions and nowhere else.
func hexGroups(s string, length int, sep byte, at ...int) bool {
	if len(s) != length {
		return false
	}
	for i := 0; i < len(s); i++ {
		if len(at) > 0 && i == at[0] {
			if s[i] != sep {
				return false
			}
			at = at[1:]
		} else if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// canonicalUUID: 8-4-4-4-12 lower-case hex.
func canonicalUUID(s string) bool { return hexGroups(s, 36, '-', 8, 13, 18, 23) }

// canonicalMAC: six lower-case hex pairs separated by colons.
func canonicalMAC(s string) bool { return hexGroups(s, 17, ':', 2, 5, 8, 11, 14) }

// validID: 1-64 letters, digits, '_', '.' or '-', starting with a letter
// or digit.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// Validate checks a config for what every backend needs; backends add
// their own limits (maximum vCPUs, memory) on top.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Name == "":
		return bad("name is empty")
	case !canonicalUUID(c.UUID):
		return bad("UUID %q is not canonical 8-4-4-4-12 lower-case hex", c.UUID)
	case c.VCPUs < 1:
		return bad("vCPUs %d: at least 1 is needed", c.VCPUs)
	case c.MemoryBytes < 1<<20 || c.MemoryBytes%(1<<20) != 0:
		return bad("memory %d bytes: must be a positive multiple of 1 MiB", c.MemoryBytes)
	case c.Boot.Firmware && (c.Boot.Kernel != "" || c.Boot.Initrd != "" || c.Boot.Cmdline != ""):
		return bad("firmware boot takes no kernel, initrd or command line: the BIOS boots the first disk")
	case c.Boot.Firmware && len(c.Disks) == 0:
		return bad("firmware boot needs a disk: the BIOS boots the first one")
	case !c.Boot.Firmware && c.Boot.Kernel == "":
		return bad("no kernel to boot (and no firmware boot requested)")
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, d := range c.Disks {
		if !validID(d.ID) {
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
		if !validID(n.ID) {
			return bad("NIC ID %q must be 1-64 letters, digits, '_', '.' or '-'", n.ID)
		}
		if seen[n.ID] {
			return bad("device ID %q used twice", n.ID)
		}
		seen[n.ID] = true
		if n.MAC != "" && !canonicalMAC(n.MAC) {
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
