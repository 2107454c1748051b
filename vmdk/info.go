package vmdk

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Info describes an image, as Inspect reports it.
type Info struct {
	Path        string    `json:"path"`
	Format      Format    `json:"format"`
	Subformat   Subformat `json:"subformat,omitempty"`
	VirtualSize int64     `json:"virtual_size"`
	// ActualSize is the host storage all files of the image use.
	ActualSize int64        `json:"actual_size"`
	CID        string       `json:"cid,omitempty"`
	ParentCID  string       `json:"parent_cid,omitempty"`
	ParentHint string       `json:"parent_file_name_hint,omitempty"`
	Adapter    string       `json:"adapter_type,omitempty"`
	HWVersion  int          `json:"virtual_hw_version,omitempty"`
	UUID       string       `json:"uuid,omitempty"`
	Geometry   *Geometry    `json:"geometry,omitempty"`
	Extents    []ExtentInfo `json:"extents,omitempty"`
	Unclean    bool         `json:"unclean_shutdown"`
	// CIDMismatch: the parent changed after this delta was made (reads
	// through it would mix two disks); check --repair relinks.
	CIDMismatch bool              `json:"parent_cid_mismatch,omitempty"`
	Chain       []string          `json:"backing_chain,omitempty"`
	DDB         map[string]string `json:"ddb,omitempty"`
	Descriptor  string            `json:"descriptor_file,omitempty"`
	ReadOnlyFmt bool              `json:"read_only_format,omitempty"`
}

// Geometry is the disk's CHS geometry from the descriptor.
type Geometry struct {
	Cylinders int64 `json:"cylinders"`
	Heads     int64 `json:"heads"`
	Sectors   int64 `json:"sectors"`
}

// ExtentInfo describes one extent line and the file behind it.
type ExtentInfo struct {
	Access  string `json:"access"`
	Type    string `json:"type"`
	Size    int64  `json:"virtual_size"`
	File    string `json:"file,omitempty"`
	Offset  int64  `json:"offset,omitempty"`
	Version int    `json:"version,omitempty"`
	// GrainSize is in bytes, for grain-mapped extents.
	GrainSize   int64 `json:"grain_size,omitempty"`
	Compressed  bool  `json:"compressed,omitempty"`
	Redundant   bool  `json:"redundant_directory,omitempty"`
	ZeroedGrain bool  `json:"zeroed_grain,omitempty"`
	Unclean     bool  `json:"unclean_shutdown,omitempty"`
	// DirectoryAtEnd is true for streams laid out as VMWare writes them.
	DirectoryAtEnd bool `json:"directory_at_end,omitempty"`
}

// Inspect opens path read-only and describes it. A delta whose parent
// changed is described too, with CIDMismatch set.
func Inspect(path string, opts OpenOptions) (*Info, error) {
	opts.ReadOnly, opts.IgnoreCIDMismatch = true, true
	d, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Info(), nil
}

// Info describes the open disk.
func (d *Disk) Info() *Info {
	in := &Info{Path: d.path, Format: d.format, Subformat: d.subformat, VirtualSize: d.size}
	seen := map[string]bool{}
	addSize := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		in.ActualSize += allocatedBytes(name)
	}
	if d.descPath != "" {
		in.Descriptor = d.descPath
		addSize(d.descPath)
	}
	for _, pe := range d.exts {
		for _, f := range pe.ext.files() {
			addSize(f)
		}
	}
	if d.desc != nil {
		in.CID = fmt.Sprintf("%08x", d.desc.cid)
		if d.desc.parentCID != noParentCID {
			in.ParentCID = fmt.Sprintf("%08x", d.desc.parentCID)
		}
		in.ParentHint = d.desc.parentHint
		in.Adapter = d.desc.ddbGet("ddb.adapterType")
		in.HWVersion, _ = strconv.Atoi(d.desc.ddbGet("ddb.virtualHWVersion"))
		in.UUID = d.desc.ddbGet("ddb.uuid")
		c, errC := strconv.ParseInt(d.desc.ddbGet("ddb.geometry.cylinders"), 10, 64)
		h, errH := strconv.ParseInt(d.desc.ddbGet("ddb.geometry.heads"), 10, 64)
		s, errS := strconv.ParseInt(d.desc.ddbGet("ddb.geometry.sectors"), 10, 64)
		if errC == nil && errH == nil && errS == nil {
			in.Geometry = &Geometry{c, h, s}
		}
		in.DDB = map[string]string{}
		for _, kv := range d.desc.ddb {
			in.DDB[kv.key] = kv.value
		}
	}
	for _, pe := range d.exts {
		ei := ExtentInfo{Access: pe.line.access, Type: pe.line.kind, Size: pe.ext.size(), File: pe.line.file, Offset: pe.line.offset * sectorSize}
		if ei.Access == "" {
			ei.Access, ei.Type = accessRW, string(d.format)
			ei.File = d.path
		}
		var inner extent = pe.ext
		if ro, ok := inner.(readOnlyExtent); ok {
			inner = ro.extent
		}
		switch e := inner.(type) {
		case *sparseExtent:
			ei.Version = int(e.hdr.version)
			ei.GrainSize = e.grainBytes
			ei.Compressed = e.compressed
			ei.Redundant = e.redundant
			ei.ZeroedGrain = e.zeroedGrain
			ei.Unclean = e.hdr.uncleanShutdown != 0
			ei.DirectoryAtEnd = e.compressed && streamAtEnd(e.f)
			in.Unclean = in.Unclean || ei.Unclean
		case *seSparseExtent:
			ei.GrainSize = seGrainBytes
		case *qcow2Extent:
			ei.GrainSize = e.clusterSize()
			in.ReadOnlyFmt = true
		}
		in.Extents = append(in.Extents, ei)
	}
	for p := d.parent; p != nil; p = p.parent {
		in.Chain = append(in.Chain, p.path)
	}
	if d.parent != nil && d.parent.desc != nil && d.desc != nil {
		in.CIDMismatch = d.parent.desc.cid != d.desc.parentCID
	}
	return in
}

func streamAtEnd(f *os.File) bool {
	b := make([]byte, sectorSize)
	if preadFull(f, b, 0) != nil {
		return false
	}
	return headerSaysAtEnd(b)
}

// allocatedBytes is the host storage of a file (holes excluded).
func allocatedBytes(name string) int64 {
	st, err := os.Stat(name)
	if err != nil {
		return 0
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Blocks * 512
	}
	return st.Size()
}

// MapEntry is one run of the allocation map.
type MapEntry struct {
	Offset int64 `json:"start"`
	Length int64 `json:"length"`
	// Data: the run is stored in some image of the chain; false means it
	// reads as zeros without storage.
	Data bool `json:"data"`
	// Zero: the run reads as zeros.
	Zero bool `json:"zero"`
	// Depth is the image of the chain that decides the run's content:
	// 0 for this one, 1 for its parent, and so on.
	Depth int `json:"depth"`
	// File and FileOffset locate uncompressed data; File is empty
	// otherwise.
	File       string `json:"filename,omitempty"`
	FileOffset int64  `json:"offset,omitempty"`
	Compressed bool   `json:"compressed,omitempty"`
}

// Map calls fn for consecutive runs of [off, off+n) with their allocation,
// following the delta chain; adjacent runs with the same attributes are
// merged. It is what convert uses to skip unallocated and zero grains.
func (d *Disk) Map(off, n int64, fn func(MapEntry) error) error {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return fmt.Errorf("%w: map of %d bytes at %d on a %d-byte disk", ErrRange, n, off, d.size)
	}
	var pending *MapEntry
	emit := func(m MapEntry) error {
		if pending != nil && pending.Data == m.Data && pending.Zero == m.Zero && pending.Depth == m.Depth &&
			pending.File == m.File && pending.Compressed == m.Compressed && pending.Offset+pending.Length == m.Offset &&
			(m.File == "" || pending.FileOffset+pending.Length == m.FileOffset) {
			pending.Length += m.Length
			return nil
		}
		if pending != nil {
			if err := fn(*pending); err != nil {
				return err
			}
		}
		pending = &m
		return nil
	}
	if err := d.mapLocked(off, n, 0, emit); err != nil {
		return err
	}
	if pending != nil {
		return fn(*pending)
	}
	return nil
}

func (d *Disk) mapLocked(off, n int64, depth int, emit func(MapEntry) error) error {
	return d.eachExtent(n, off, func(pe placedExtent, a, b int64) error {
		pos, end := off+a, off+b
		for pos < end {
			st, run, err := pe.ext.status(pos-pe.start, end-pos)
			if err != nil {
				return err
			}
			m := MapEntry{Offset: pos, Length: run, Depth: depth}
			switch st {
			case statusData:
				m.Data = true
				m.File, m.FileOffset = pe.ext.where(pos - pe.start)
				m.Compressed = m.File == ""
			case statusZero:
				m.Zero = true
			case statusUnalloc:
				if d.parent != nil && pos < d.parent.size {
					pr := min(run, d.parent.size-pos)
					if err := d.parent.mapLocked(pos, pr, depth+1, emit); err != nil {
						return err
					}
					pos += pr
					if pr == run {
						continue
					}
					m.Offset, m.Length = pos, run-pr
				}
				m.Zero = true
			}
			if err := emit(m); err != nil {
				return err
			}
			pos = m.Offset + m.Length
		}
		return nil
	})
}
