package vmdk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ResizeOptions controls Resize.
type ResizeOptions struct {
	AllowOutsidePaths bool
}

// Resize grows an image to size bytes (rounded up to 512). Shrinking is
// refused: it would silently drop data. The new space reads as zeros (in a
// delta: as the parent, or zeros past the parent's end). The image gets a
// new CID, so deltas of it must be rebased.
func Resize(path string, size int64, opts ResizeOptions) error {
	d, err := Open(path, OpenOptions{AllowOutsidePaths: opts.AllowOutsidePaths})
	if err != nil {
		return err
	}
	err = d.grow(size)
	return errors.Join(err, d.Close())
}

func (d *Disk) grow(size int64) error {
	if size < d.size {
		return fmt.Errorf("%w: shrinking %s from %d to %d bytes would drop data", ErrUnsupported, d.path, d.size, size)
	}
	if d.format == FormatRaw {
		if err := os.Truncate(d.path, size); err != nil {
			return err
		}
		d.size = size
		return nil
	}
	if d.format != FormatVMDK {
		return fmt.Errorf("%w: resizing %s images", ErrUnsupported, d.format)
	}
	sects := ceilDiv(size, sectorSize)
	if sects == d.size/sectorSize {
		return nil
	}
	if sects > maxVirtualSectors {
		return fmt.Errorf("%w: %d bytes is more than the 1 PiB supported", ErrInvalidArgument, size)
	}
	if err := d.touchCID(); err != nil {
		return err
	}
	add := sects - d.size/sectorSize
	last := &d.exts[len(d.exts)-1]
	sub := Subformat(d.desc.createType)
	switch {
	case sub == StreamOptimized:
		return d.growStream(sects)
	case len(d.exts) == 1 && last.line.kind == extSparse && sub != TwoGbMaxExtentSparse:
		if sects > maxSparseCapacity {
			return fmt.Errorf("%w: a single sparse file addresses at most about 2 TiB", ErrInvalidArgument)
		}
		if err := growSparse(last.ext.(*sparseExtent), sects); err != nil {
			return err
		}
		last.line.sectors = sects
		d.desc.extents[0].sectors = sects
	case len(d.exts) == 1 && (last.line.kind == extFlat || last.line.kind == extVMFS) && sub != TwoGbMaxExtentFlat:
		fe := last.ext.(*flatExtent)
		if err := fe.f.Truncate(fe.base + sects*sectorSize); err != nil {
			return err
		}
		fe.bytes = sects * sectorSize
		d.desc.extents[0].sectors = sects
	case sub == TwoGbMaxExtentSparse || sub == TwoGbMaxExtentFlat:
		if err := d.growSplit(add); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: resizing a %s image with %d extents", ErrUnsupported, sub, len(d.exts))
	}
	d.size = sects * sectorSize
	d.bindExtents()
	for _, pe := range d.exts {
		if err := pe.ext.flush(); err != nil {
			return err
		}
	}
	return d.writeDescriptor()
}

// growSplit fills the last split extent up to 2 GiB and adds extent files.
func (d *Disk) growSplit(add int64) error {
	dir := filepath.Dir(d.descPath)
	li := len(d.desc.extents) - 1
	last := d.desc.extents[li]
	if room := splitExtentSectors - last.sectors; room > 0 && (last.kind == extFlat || last.kind == extSparse) {
		n := min(room, add)
		pe := &d.exts[li]
		switch e := pe.ext.(type) {
		case *flatExtent:
			if err := e.f.Truncate(e.base + (last.sectors+n)*sectorSize); err != nil {
				return err
			}
			e.bytes += n * sectorSize
		case *sparseExtent:
			if err := growSparse(e, last.sectors+n); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: last extent cannot grow", ErrUnsupported)
		}
		d.desc.extents[li].sectors += n
		pe.line.sectors += n
		add -= n
	}
	stem, suffix, next := splitNaming(d.descPath, last.file, last.kind)
	start := d.size
	for _, pe := range d.exts {
		start = pe.start + pe.line.sectors*sectorSize
	}
	grain := int64(defaultGrainBytes / sectorSize)
	if se, ok := d.exts[li].ext.(*sparseExtent); ok {
		grain = int64(se.hdr.grainSize)
	}
	for add > 0 {
		n := min(add, splitExtentSectors)
		name := fmt.Sprintf("%s-%s%03d.vmdk", stem, suffix, next)
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w", p, os.ErrExist)
		}
		var err error
		if last.kind == extSparse {
			err = createSparseFile(p, n, grain, "", false)
		} else {
			err = createFlatFile(p, n*sectorSize)
		}
		if err != nil {
			return err
		}
		line := extentLine{access: accessRW, sectors: n, kind: last.kind, file: name}
		ext, err := openExtentFile(p, line, false)
		if err != nil {
			return err
		}
		d.desc.extents = append(d.desc.extents, line)
		d.exts = append(d.exts, placedExtent{start: start, ext: ext, line: line})
		start += n * sectorSize
		add -= n
		next++
	}
	return nil
}

var splitName = regexp.MustCompile(`^(.*)-([sf])(\d{3,})\.vmdk$`)

// splitNaming derives the stem, letter and next number for new extents.
func splitNaming(descPath, lastFile, kind string) (string, string, int) {
	if m := splitName.FindStringSubmatch(lastFile); m != nil {
		n, _ := strconv.Atoi(m[3])
		return m[1], m[2], n + 1
	}
	base := filepath.Base(descPath)
	suffix := "f"
	if kind == extSparse {
		suffix = "s"
	}
	return strings.TrimSuffix(base, filepath.Ext(base)), suffix, 1
}

// growSparse raises the capacity of a hosted sparse extent. New directory
// entries get preallocated, empty tables (qemu corrupts images when it
// writes behind an empty directory entry); a directory that no longer
// fits moves to the end of the file. Order: tables and directories, sync,
// header, sync.
func growSparse(e *sparseExtent, sects int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.compressed || e.cowd {
		return fmt.Errorf("%w: growing this extent type", ErrUnsupported)
	}
	h := e.hdr
	h.capacity = uint64(sects)
	newGDEs := h.numGDEs()
	oldGDSectors := ceilDiv(e.numGDEs*4, sectorSize)
	newGDSectors := ceilDiv(newGDEs*4, sectorSize)
	copies := int64(1)
	if e.redundant {
		copies = 2
	}
	end := e.nextFree
	gd := append(e.gd, make([]uint32, newGDEs-e.numGDEs)...)
	var rgd []uint32
	if e.redundant {
		rgd = append(e.rgd, make([]uint32, newGDEs-e.numGDEs)...)
	}
	for i := e.numGDEs; i < newGDEs; i++ {
		gd[i] = uint32(end)
		if e.redundant {
			rgd[i] = uint32(end + e.gtSectors())
		}
		end += roundUp(copies*e.gtSectors(), 8)
	}
	if newGDSectors > oldGDSectors {
		h.gdOffset = uint64(end)
		end += roundUp(newGDSectors, 8)
		if e.redundant {
			h.rgdOffset = uint64(end)
			end += roundUp(newGDSectors, 8)
		}
	}
	if end >= 1<<32 {
		return fmt.Errorf("%w: %s: no room below 2 TiB for the larger directory", ErrUnsupported, e.name)
	}
	if err := e.f.Truncate(end * sectorSize); err != nil {
		return err
	}
	if _, err := e.f.WriteAt(encodeU32s(gd), int64(h.gdOffset)*sectorSize); err != nil {
		return err
	}
	if e.redundant {
		if _, err := e.f.WriteAt(encodeU32s(rgd), int64(h.rgdOffset)*sectorSize); err != nil {
			return err
		}
	}
	if err := fdatasync(e.f); err != nil {
		return err
	}
	if _, err := e.f.WriteAt(h.encode(), 0); err != nil {
		return err
	}
	if err := fdatasync(e.f); err != nil {
		return err
	}
	e.hdr, e.gd, e.rgd = h, gd, rgd
	e.gts = append(e.gts, make([][]uint32, newGDEs-e.numGDEs)...)
	e.numGDEs = newGDEs
	e.capBytes = sects * sectorSize
	e.nextFree = end
	e.limit.Store(end)
	return nil
}

// growStream raises the capacity of a streamOptimized image; the next
// tail (written by Close) carries the larger directory and footer.
func (d *Disk) growStream(sects int64) error {
	e, ok := d.exts[0].ext.(*sparseExtent)
	if !ok || e.stream == nil {
		return fmt.Errorf("%w: stream image is not writable", ErrReadOnly)
	}
	if sects > maxSparseCapacity {
		return fmt.Errorf("%w: a single sparse file addresses at most about 2 TiB", ErrInvalidArgument)
	}
	s := e.stream
	s.mu.Lock()
	e.mu.Lock()
	e.hdr.capacity = uint64(sects)
	newGDEs := e.hdr.numGDEs()
	e.gts = append(e.gts, make([][]uint32, newGDEs-e.numGDEs)...)
	e.numGDEs = newGDEs
	e.capBytes = sects * sectorSize
	s.changed = true
	s.needCompact = s.needCompact || s.compactOnWrite
	e.mu.Unlock()
	s.mu.Unlock()
	d.desc.extents[0].sectors = sects
	d.exts[0].line.sectors = sects
	d.size = sects * sectorSize
	if err := d.writeDescriptor(); err != nil {
		return err
	}
	if err := e.flush(); err != nil {
		return err
	}
	return s.writeHeader()
}
