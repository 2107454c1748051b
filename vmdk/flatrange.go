package vmdk

// FlatRange is a byte range of one host file that holds a disk's whole
// content in order, so another program (QEMU's raw driver with an offset
// and a size, a loop device) can serve exactly the bytes the Disk serves.
type FlatRange struct {
	// File is the file's path: the descriptor's directory joined with the
	// extent's name (confined to that directory unless Open allowed
	// otherwise), relative only when the disk was opened by a relative
	// path.
	File string
	// Offset is where the disk's first byte lies in File.
	Offset int64
	// Size is the disk's virtual size.
	Size int64
	// ReadOnly is set when the descriptor marks the extent RDONLY.
	ReadOnly bool
}

// FlatRange reports the file range that holds the disk when the disk is a
// single contiguous range of one file: a raw image, or a VMDK with one FLAT
// or VMFS extent and no parent (monolithicFlat, vmfs, a twoGbMaxExtentFlat
// of one extent) whose file is as long as the extent. ok is false for every
// other disk: sparse and streamOptimized images, several extents, ZERO and
// NOACCESS extents, deltas, qcow2, and flat files shorter than their extent
// line (the Disk reads their missing tail as zeros; the file has no such
// bytes).
func (d *Disk) FlatRange() (FlatRange, bool) {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed || d.parent != nil || len(d.exts) != 1 {
		return FlatRange{}, false
	}
	var inner extent = d.exts[0].ext
	ro, isRO := inner.(readOnlyExtent)
	if isRO {
		inner = ro.extent
	}
	fe, ok := inner.(*flatExtent)
	if !ok {
		return FlatRange{}, false
	}
	st, err := fe.f.Stat()
	if err != nil || (st.Mode().IsRegular() && st.Size() < fe.base+fe.bytes) {
		return FlatRange{}, false
	}
	return FlatRange{File: fe.name, Offset: fe.base, Size: fe.bytes, ReadOnly: isRO}, true
}
