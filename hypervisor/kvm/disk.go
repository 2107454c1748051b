package kvm

import (
	"fmt"
	"io"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/hypervisor/kvm/devices/virtio/blk"
	"github.com/hypercim/hypercim/vmdk"
)

// diskImage is an open disk: the device's backend and its closer.
type diskImage interface {
	blk.Backend
	io.Closer
}

// vmdk.Disk provides everything virtio-blk uses, discard and
// write-zeroes included.
var (
	_ diskImage      = (*vmdk.Disk)(nil)
	_ blk.Discarder  = (*vmdk.Disk)(nil)
	_ blk.ZeroWriter = (*vmdk.Disk)(nil)
)

// openDisk opens a disk image through the vmdk package, which reads and
// writes every VMDK variant and raw images, telling them apart by content
// when the config names no format. A raw image recognized only by content
// refuses writes that would make sector 0 look like another format, as
// QEMU does for probed images.
func openDisk(d hypervisor.DiskConfig) (diskImage, error) {
	format := vmdk.FormatAuto
	switch d.Format {
	case "vmdk":
		format = vmdk.FormatVMDK
	case "raw":
		format = vmdk.FormatRaw
	}
	img, err := vmdk.Open(d.Path, vmdk.OpenOptions{ReadOnly: d.ReadOnly, Format: format})
	if err != nil {
		return nil, fmt.Errorf("%w: disk %s: %w", hypervisor.ErrInvalidConfig, d.ID, err)
	}
	if img.Size()%blk.Sector != 0 {
		img.Close()
		return nil, fmt.Errorf("%w: disk %s: %s is %d bytes, not a whole number of %d-byte sectors",
			hypervisor.ErrInvalidConfig, d.ID, d.Path, img.Size(), blk.Sector)
	}
	return img, nil
}
