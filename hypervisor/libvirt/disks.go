package libvirt

import (
	"fmt"
	"path/filepath"
	"slices"

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
	// backing lists a delta's parents, nearest first. They go into the
	// domain XML with their format: libvirt does not probe the format of
	// a parent that a VMDK names (a VMDK records none), and would have
	// QEMU open it as raw, which QEMU's vmdk driver rejects at the first
	// read through the delta (a raw parent has no CID to check).
	backing []backingLayer
	// grants are the files besides the top image that QEMU opens: extent
	// files named by descriptors, and the parents. libvirt relabels only
	// the top image, so the engine makes these accessible to QEMU itself.
	grants []fileGrant
}

// backingLayer is one parent in a delta chain.
type backingLayer struct {
	format string // QEMU's driver: "vmdk"
	file   string
}

// fileGrant is access QEMU needs to a file libvirt does not relabel.
type fileGrant struct {
	path string
	perm uint16 // permRead, or permRead|permWrite
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
		return d, layout, nil
	}
	// QEMU's vmdk driver opens the whole chain: every image's descriptor
	// and extents, the top one read-write unless the disk is read-only.
	for level := img; level != nil; level = level.Parent() {
		perm := uint16(permRead)
		if level == img {
			if !layout.readOnly {
				perm |= permWrite
			}
		} else {
			file, err := filepath.Abs(level.Path())
			if err != nil {
				return d, diskLayout{}, bad("%v", err)
			}
			layout.backing = append(layout.backing, backingLayer{format: string(level.Format()), file: file})
			layout.grants = append(layout.grants, fileGrant{path: file, perm: perm})
		}
		for _, f := range extentFiles(level) {
			layout.grants = append(layout.grants, fileGrant{path: f, perm: perm})
		}
	}
	return d, layout, nil
}

// extentFiles lists the files of one image of a chain other than the file
// it was opened from: the extents a descriptor names.
func extentFiles(img *vmdk.Disk) []string {
	self, err := filepath.Abs(img.Path())
	if err != nil {
		self = img.Path()
	}
	dir := filepath.Dir(self)
	var files []string
	for _, e := range img.Info().Extents {
		if e.File == "" {
			continue // a ZERO extent has no file
		}
		f := e.File
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		if f != self && !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	return files
}
