package vmdk

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	// splitExtentSectors is the extent size of the twoGbMaxExtent
	// formats: exactly 2 GiB, as qemu-img writes them.
	splitExtentSectors = 4 << 20
	descAreaSectors    = 20
	defaultGrainBytes  = 64 << 10
	// maxSparseCapacity keeps every grain of a single sparse file below
	// the 2 TiB that u32 sector pointers can address.
	maxSparseCapacity = 1<<32 - 1<<22
)

// Create makes a new, empty image (or, with opts.Parent, an empty delta
// that reads through to its parent). All files are complete and synced
// when it returns; on failure nothing is left behind.
func Create(path string, opts CreateOptions) error {
	plan, err := planCreate(path, opts)
	if err != nil {
		return err
	}
	if err := plan.write(); err != nil {
		for _, f := range plan.files {
			os.Remove(f)
		}
		return err
	}
	return nil
}

// Snapshot creates child as an empty delta of parent: monolithicSparse
// unless opts.Subformat says twoGbMaxExtentSparse. The parent must not be
// written afterwards (its CID would change and the child would refuse to
// open); write to the child instead.
func Snapshot(parent, child string, opts CreateOptions) error {
	opts.Parent = parent
	return Create(child, opts)
}

type createPlan struct {
	path  string
	opts  CreateOptions
	desc  *descriptor
	files []string // every file to create, descriptor first
	grain int64    // sectors
	sects int64    // capacity in sectors
}

func planCreate(path string, opts CreateOptions) (*createPlan, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
	}
	if opts.Subformat == "" {
		opts.Subformat = MonolithicSparse
	}
	switch opts.Subformat {
	case MonolithicSparse, MonolithicFlat, TwoGbMaxExtentSparse, TwoGbMaxExtentFlat, StreamOptimized:
	default:
		return nil, bad("cannot create subformat %q (creatable: monolithicSparse, monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, streamOptimized)", opts.Subformat)
	}
	base := filepath.Base(path)
	if strings.ContainsAny(base, "\"\n\r\x00") {
		return nil, bad("file name %q may not contain quotes or line breaks", base)
	}
	if opts.GrainSize == 0 {
		opts.GrainSize = defaultGrainBytes
	}
	if opts.GrainSize < 4096 || opts.GrainSize > 1<<20 || opts.GrainSize&(opts.GrainSize-1) != 0 {
		return nil, bad("grain size %d is not a power of two from 4096 to 1048576", opts.GrainSize)
	}
	desc := &descriptor{version: 1, parentCID: noParentCID, createType: string(opts.Subformat)}
	desc.cid = newCID()
	var chain []os.FileInfo // the files the new delta will read
	if opts.Parent != "" {
		if opts.Subformat != MonolithicSparse && opts.Subformat != TwoGbMaxExtentSparse {
			return nil, bad("a delta must be monolithicSparse or twoGbMaxExtentSparse, not %s", opts.Subformat)
		}
		p, err := Open(opts.Parent, OpenOptions{ReadOnly: true, AllowOutsidePaths: opts.AllowOutsidePaths})
		if err != nil {
			return nil, fmt.Errorf("opening parent: %w", err)
		}
		pdesc, psize := p.desc, p.Size()
		chain = chainFiles(p)
		p.Close()
		if pdesc == nil {
			return nil, bad("parent %s is not a VMDK (deltas need a VMDK parent)", opts.Parent)
		}
		if opts.Size == 0 {
			opts.Size = psize
		}
		if opts.Size != psize {
			return nil, bad("a delta must have its parent's size %d, not %d", psize, opts.Size)
		}
		hint, err := relativeHint(path, opts.Parent, opts.AllowOutsidePaths)
		if err != nil {
			return nil, err
		}
		desc.parentCID, desc.parentHint = pdesc.cid, hint
		if opts.Adapter == "" {
			opts.Adapter = Adapter(pdesc.ddbGet("ddb.adapterType"))
		}
		if opts.HWVersion == 0 {
			opts.HWVersion, _ = strconv.Atoi(pdesc.ddbGet("ddb.virtualHWVersion"))
		}
	}
	if opts.Size <= 0 {
		return nil, bad("size %d: a positive size is needed", opts.Size)
	}
	sects := ceilDiv(opts.Size, sectorSize)
	if sects > maxVirtualSectors {
		return nil, bad("size %d is larger than the 1 PiB supported", opts.Size)
	}
	if (opts.Subformat == MonolithicSparse || opts.Subformat == StreamOptimized) && sects > maxSparseCapacity {
		return nil, bad("size %d: a single sparse file addresses at most about 2 TiB; use twoGbMaxExtentSparse or a flat subformat", opts.Size)
	}
	if opts.Adapter == "" {
		opts.Adapter = AdapterIDE
		if opts.Subformat == StreamOptimized {
			opts.Adapter = AdapterLSILogic
		}
	}
	switch opts.Adapter {
	case AdapterIDE, AdapterBusLogic, AdapterLSILogic, AdapterLegacyESX:
	default:
		return nil, bad("adapter type %q is not ide, buslogic, lsilogic or legacyESX", opts.Adapter)
	}
	if opts.HWVersion == 0 {
		opts.HWVersion = 4
	}
	if opts.HWVersion < 1 || opts.HWVersion > 99 {
		return nil, bad("virtual hardware version %d is outside 1..99", opts.HWVersion)
	}
	if opts.ZeroedGrain && (opts.Subformat == MonolithicFlat || opts.Subformat == TwoGbMaxExtentFlat || opts.Subformat == StreamOptimized) {
		return nil, bad("zeroed grains exist only in monolithicSparse and twoGbMaxExtentSparse")
	}
	if opts.UUID == [16]byte{} {
		rand.Read(opts.UUID[:])
	}
	plan := &createPlan{path: path, opts: opts, desc: desc, grain: opts.GrainSize / sectorSize, sects: sects}
	plan.files = []string{path}
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	dir := filepath.Dir(path)
	addSplit := func(kind, suffix string) {
		for i, left := 1, sects; left > 0; i++ {
			n := min(left, splitExtentSectors)
			name := fmt.Sprintf("%s-%s%03d.vmdk", stem, suffix, i)
			plan.files = append(plan.files, filepath.Join(dir, name))
			desc.extents = append(desc.extents, extentLine{access: accessRW, sectors: n, kind: kind, file: name})
			left -= n
		}
	}
	switch opts.Subformat {
	case MonolithicSparse, StreamOptimized:
		desc.extents = []extentLine{{access: accessRW, sectors: sects, kind: extSparse, file: base}}
	case MonolithicFlat:
		name := stem + "-flat.vmdk"
		plan.files = append(plan.files, filepath.Join(dir, name))
		desc.extents = []extentLine{{access: accessRW, sectors: sects, kind: extFlat, file: name}}
	case TwoGbMaxExtentSparse:
		addSplit(extSparse, "s")
	case TwoGbMaxExtentFlat:
		addSplit(extFlat, "f")
	}
	heads := int64(255)
	if opts.Adapter == AdapterIDE {
		heads = 16
	}
	desc.ddb = []keyValue{
		{"ddb.virtualHWVersion", strconv.Itoa(opts.HWVersion)},
		{"ddb.longContentID", fmt.Sprintf("%x%08x", opts.UUID[:12], desc.cid)},
		{"ddb.uuid", formatDDBUUID(opts.UUID)},
		{"ddb.geometry.cylinders", strconv.FormatInt(max(1, sects/(63*heads)), 10)},
		{"ddb.geometry.heads", strconv.FormatInt(heads, 10)},
		{"ddb.geometry.sectors", "63"},
		{"ddb.adapterType", string(opts.Adapter)},
		{"ddb.toolsVersion", "2147483647"},
	}
	for _, f := range plan.files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		for _, c := range chain {
			if os.SameFile(st, c) {
				return nil, bad("%s belongs to the parent chain of the new delta; replacing it would destroy the data the delta reads", f)
			}
		}
	}
	if !opts.Overwrite {
		for _, f := range plan.files {
			if _, err := os.Lstat(f); err == nil {
				return nil, fmt.Errorf("%s: %w (pass --overwrite / Overwrite to replace it)", f, os.ErrExist)
			}
		}
	}
	return plan, nil
}

// chainFiles returns the file information of every file of d and of its
// parents.
func chainFiles(d *Disk) []os.FileInfo {
	var out []os.FileInfo
	for ; d != nil; d = d.parent {
		for _, f := range d.imageFiles() {
			if st, err := os.Stat(f); err == nil {
				out = append(out, st)
			}
		}
	}
	return out
}

func newCID() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:])
		if c := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24; c != noParentCID {
			return c
		}
	}
}

// formatDDBUUID renders a UUID the way VMware writes ddb.uuid.
func formatDDBUUID(u [16]byte) string {
	var b strings.Builder
	for i, c := range u {
		switch {
		case i == 8:
			b.WriteByte('-')
		case i > 0:
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%02x", c)
	}
	return b.String()
}

// relativeHint expresses parent relative to the child's directory.
func relativeHint(child, parent string, allowOutside bool) (string, error) {
	cdir, err := filepath.Abs(filepath.Dir(child))
	if err != nil {
		return "", err
	}
	pabs, err := filepath.Abs(parent)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(cdir, pabs)
	if err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel), nil
	}
	if !allowOutside {
		return "", fmt.Errorf("%w: parent %s is outside the child's directory %s (pass --allow-outside-paths / AllowOutsidePaths)", ErrPathEscape, parent, cdir)
	}
	if err == nil {
		return filepath.ToSlash(rel), nil
	}
	return pabs, nil
}

func (p *createPlan) write() error {
	text := p.desc.String()
	switch p.opts.Subformat {
	case MonolithicSparse:
		return createSparseFile(p.path, p.sects, p.grain, text, p.opts.ZeroedGrain)
	case StreamOptimized:
		return createStreamFile(p.path, p.sects, p.grain, text)
	}
	for i, line := range p.desc.extents {
		path := p.files[i+1]
		var err error
		if line.kind == extSparse {
			err = createSparseFile(path, line.sectors, p.grain, "", p.opts.ZeroedGrain)
		} else {
			err = createFlatFile(path, line.sectors*sectorSize)
		}
		if err != nil {
			return err
		}
	}
	return writeNewFile(p.path, []byte(text))
}

func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		syncDir(filepath.Dir(path))
	}
	return err
}

func createFlatFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// sparseLayout computes qemu-img's layout for a hosted sparse extent:
// header, 20-sector descriptor area, redundant directory and its tables,
// directory and its tables, then grains from overHead.
func sparseLayout(capacity, grain int64, zeroed bool) sparseHeader {
	h := sparseHeader{magic: sparseMagic, version: 1, flags: flagValidNewline | flagRedundantGT,
		capacity: uint64(capacity), grainSize: uint64(grain), descriptorOffset: 1, descriptorSize: descAreaSectors,
		numGTEsPerGT: 512}
	if zeroed {
		h.version, h.flags = 2, h.flags|flagZeroedGTE
	}
	gdes := h.numGDEs()
	gdSectors := ceilDiv(gdes*4, sectorSize)
	gtSectors := int64(4) // 512 entries
	h.rgdOffset = 1 + descAreaSectors
	h.gdOffset = h.rgdOffset + uint64(gdSectors+gdes*gtSectors)
	h.overHead = uint64(roundUp(int64(h.gdOffset)+gdSectors+gdes*gtSectors, grain))
	return h
}

func createSparseFile(path string, capacity, grain int64, desc string, zeroed bool) error {
	h := sparseLayout(capacity, grain, zeroed)
	if len(desc) > descAreaSectors*sectorSize {
		return fmt.Errorf("%w: descriptor of %d bytes does not fit the %d-byte embedded area", ErrInvalidArgument, len(desc), descAreaSectors*sectorSize)
	}
	gdes := h.numGDEs()
	gdSectors := ceilDiv(gdes*4, sectorSize)
	gd := make([]uint32, gdes)
	rgd := make([]uint32, gdes)
	for i := range gdes {
		rgd[i] = uint32(int64(h.rgdOffset) + gdSectors + i*4)
		gd[i] = uint32(int64(h.gdOffset) + gdSectors + i*4)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	write := func(b []byte, sector int64) {
		if err == nil {
			_, err = f.WriteAt(b, sector*sectorSize)
		}
	}
	// The tables stay holes: zero entries, no disk space.
	err = f.Truncate(int64(h.overHead) * sectorSize)
	write(h.encode(), 0)
	write([]byte(desc), 1)
	write(encodeU32s(rgd), int64(h.rgdOffset))
	write(encodeU32s(gd), int64(h.gdOffset))
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// streamHeaderFor is the header of a new streamOptimized file: version 3,
// compressed grains with markers, directory at the end, no redundant copy.
func streamHeaderFor(capacity, grain int64) sparseHeader {
	return sparseHeader{magic: sparseMagic, version: 3, flags: flagValidNewline | flagCompressed | flagMarkers,
		capacity: uint64(capacity), grainSize: uint64(grain), descriptorOffset: 1, descriptorSize: descAreaSectors,
		numGTEsPerGT: 512, gdOffset: gdAtEnd, overHead: uint64(roundUp(1+descAreaSectors, grain)),
		compressAlgorithm: compressDeflate}
}

func createStreamFile(path string, capacity, grain int64, desc string) error {
	h := streamHeaderFor(capacity, grain)
	if len(desc) > descAreaSectors*sectorSize {
		return fmt.Errorf("%w: descriptor does not fit the embedded area", ErrInvalidArgument)
	}
	pre := make([]byte, int64(h.overHead)*sectorSize)
	copy(pre, h.encode())
	copy(pre[sectorSize:], desc)
	tail, _, _ := streamTail(h, nil, int64(h.overHead))
	return writeNewFile(path, append(pre, tail...))
}
