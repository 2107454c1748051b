package libvirt

import (
	"fmt"
	"path/filepath"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/vmdk"
)

// diskLayout is how QEMU opens one DiskConfig.
type diskLayout struct {
	// driver is QEMU's format driver: "vmdk" or "raw".
	driver string
	// file is the file QEMU opens.
	file string
	// flat is set when a VMDK with a single flat extent is opened as raw
	// on that extent: QEMU's vmdk driver blocks migration, and so
	// virDomainSave, for every disk it opens, while a raw view of the
	// same bytes does not.
	flat *flatExtent
	// readOnly comes from the config or from an RDONLY extent.
	readOnly bool
}

// flatExtent is the byte range of a flat extent file that holds the disk.
type flatExtent struct {
	descriptor string // the VMDK descriptor the caller named
	offset     uint64 // bytes
	size       uint64 // bytes
}

// inspectDisk decides how QEMU opens d, detecting the format from the
// content when d.Format is empty. The image is opened read-only with
// package vmdk, so a VMDK the kvm backend could not open (corrupt, a delta
// whose parent changed, an extent outside its directory) is refused here
// too rather than left to QEMU. The path is made absolute, because
// libvirtd resolves relative paths from its own working directory.
func inspectDisk(d hypervisor.DiskConfig) (hypervisor.DiskConfig, diskLayout, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: disk %s: %s", hypervisor.ErrInvalidConfig, d.ID, fmt.Sprintf(format, args...))
	}
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		return d, diskLayout{}, bad("%v", err)
	}
	d.Path = abs
	// The caller's "raw" is taken at its word (no probing, as QEMU does
	// with an explicit format); anything else is detected.
	opts := vmdk.OpenOptions{ReadOnly: true}
	if d.Format == "raw" {
		opts.Format = vmdk.FormatRaw
	}
	img, err := vmdk.Open(abs, opts)
	if err != nil {
		return d, diskLayout{}, fmt.Errorf("%w: disk %s: %w", hypervisor.ErrInvalidConfig, d.ID, err)
	}
	defer img.Close()
	switch format := img.Format(); {
	case format == vmdk.FormatQCOW2:
		return d, diskLayout{}, bad("%s is a qcow2 image; the libvirt backend takes vmdk or raw disks (hypercim vmdk convert makes a VMDK of it)", abs)
	case d.Format == "vmdk" && format != vmdk.FormatVMDK:
		return d, diskLayout{}, bad("%s is not a VMDK (no sparse header or descriptor)", abs)
	case d.Format == "":
		d.Format = string(format)
	}
	layout := diskLayout{driver: d.Format, file: abs, readOnly: d.ReadOnly}
	if d.Format != "vmdk" {
		return d, layout, nil
	}
	if r, ok := img.FlatRange(); ok {
		layout = diskLayout{driver: "raw", file: r.File, readOnly: d.ReadOnly || r.ReadOnly,
			flat: &flatExtent{descriptor: abs, offset: uint64(r.Offset), size: uint64(r.Size)}}
	}
	return d, layout, nil
}
