package libvirt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hypercim/hypercim/hypervisor"
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

// Sizes of what a VMDK descriptor file may be; anything larger is data.
const maxDescriptorBytes = 1 << 20

// inspectDisk decides how QEMU opens d, detecting the format from the
// content when d.Format is empty. The path is made absolute, because
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
	f, err := os.Open(abs)
	if err != nil {
		return d, diskLayout{}, bad("%v", err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return d, diskLayout{}, bad("reading %s: %v", abs, err)
	}
	head = head[:n]
	kind := sniff(head)
	if kind == "qcow2" {
		return d, diskLayout{}, bad("%s is a qcow2 image; the libvirt backend takes vmdk or raw disks", abs)
	}
	switch d.Format {
	case "":
		d.Format = "raw"
		if kind != "raw" {
			d.Format = "vmdk"
		}
	case "vmdk":
		if kind == "raw" {
			return d, diskLayout{}, bad("%s is not a VMDK (no sparse header or descriptor)", abs)
		}
	}
	layout := diskLayout{driver: d.Format, file: abs, readOnly: d.ReadOnly}
	if d.Format == "vmdk" && kind == "descriptor" {
		text, err := io.ReadAll(io.NewSectionReader(f, 0, maxDescriptorBytes))
		if err != nil {
			return d, diskLayout{}, bad("reading %s: %v", abs, err)
		}
		if ext, ro, ok := singleFlatExtent(abs, text); ok {
			layout = diskLayout{driver: "raw", file: ext.path, readOnly: d.ReadOnly || ro,
				flat: &flatExtent{descriptor: abs, offset: ext.offset, size: ext.size}}
		}
	}
	return d, layout, nil
}

// sniff classifies an image by its first bytes: "sparse" (hosted or ESX
// sparse VMDK), "descriptor" (a VMDK text descriptor), "qcow2" or "raw".
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("KDMV")), bytes.HasPrefix(head, []byte("COWD")):
		return "sparse"
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return "qcow2"
	case bytes.HasPrefix(head, []byte("# Disk DescriptorFile")), bytes.Contains(head, []byte("\ncreateType=")):
		return "descriptor"
	}
	return "raw"
}

type extentFile struct {
	path         string
	offset, size uint64
}

// singleFlatExtent reports the extent of a descriptor that describes a
// whole disk in one flat extent (monolithicFlat, vmfs, a single-extent
// twoGbMaxExtentFlat) with no parent, so that the bytes QEMU's vmdk driver
// would serve are exactly a range of that file. Anything else (sparse
// extents, several extents, a delta with a parent, an extent outside the
// descriptor's directory or shorter than declared) is left to QEMU's vmdk
// driver.
func singleFlatExtent(descriptor string, text []byte) (extentFile, bool, bool) {
	var extents []string
	parentless := true
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "parentCID" {
			parentless = strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "ffffffff")
		}
		if strings.HasPrefix(line, "RW ") || strings.HasPrefix(line, "RDONLY ") || strings.HasPrefix(line, "NOACCESS ") {
			extents = append(extents, line)
		}
	}
	if !parentless || len(extents) != 1 {
		return extentFile{}, false, false
	}
	// RW 131072 FLAT "disk-flat.vmdk" 0
	access, rest, _ := strings.Cut(extents[0], " ")
	sectorsText, rest, _ := strings.Cut(strings.TrimSpace(rest), " ")
	kind, rest, _ := strings.Cut(strings.TrimSpace(rest), " ")
	rest = strings.TrimSpace(rest)
	if access == "NOACCESS" || (kind != "FLAT" && kind != "VMFS") || !strings.HasPrefix(rest, `"`) {
		return extentFile{}, false, false
	}
	name, offsetText, ok := strings.Cut(rest[1:], `"`)
	if !ok || name == "" || filepath.IsAbs(name) || strings.Contains(name, "..") {
		return extentFile{}, false, false
	}
	sectors, err := strconv.ParseUint(sectorsText, 10, 64)
	if err != nil || sectors == 0 {
		return extentFile{}, false, false
	}
	var offset uint64
	if o := strings.TrimSpace(offsetText); o != "" {
		if offset, err = strconv.ParseUint(o, 10, 64); err != nil {
			return extentFile{}, false, false
		}
	}
	path := filepath.Join(filepath.Dir(descriptor), name)
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || uint64(st.Size()) < (offset+sectors)*512 {
		return extentFile{}, false, false
	}
	return extentFile{path: path, offset: offset * 512, size: sectors * 512}, access == "RDONLY", true
}
