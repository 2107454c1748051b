package vmdk

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Problem kinds Check reports.
const (
	ProblemUnclean        = "unclean-shutdown"
	ProblemOrphanGrains   = "orphan-grains"
	ProblemPastEOF        = "entry-past-eof"
	ProblemIntoMetadata   = "entry-into-metadata"
	ProblemRedundant      = "redundant-mismatch"
	ProblemOverlap        = "overlapping-grains"
	ProblemCIDMismatch    = "cid-mismatch"
	ProblemShortExtent    = "short-extent"
	ProblemStreamTail     = "stream-tail"
	ProblemBadGrain       = "bad-grain"
	ProblemParent         = "parent-unreadable"
	ProblemDescriptorSize = "descriptor-size"
)

// Problem is one inconsistency Check found.
type Problem struct {
	Kind     string `json:"kind"`
	File     string `json:"file"`
	Detail   string `json:"detail"`
	Repaired bool   `json:"repaired"`
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: %s: %s", p.File, p.Kind, p.Detail)
	if p.Repaired {
		s += " (repaired)"
	}
	return s
}

// CheckOptions controls Check.
type CheckOptions struct {
	// Repair fixes what it finds; without it nothing is written.
	Repair bool
	// AllowOutsidePaths as in OpenOptions.
	AllowOutsidePaths bool
}

// CheckResult lists the problems found.
type CheckResult struct {
	Problems []Problem `json:"problems"`
}

// Clean reports whether the image has no problem left (none found, or all
// repaired).
func (r *CheckResult) Clean() bool {
	for _, p := range r.Problems {
		if !p.Repaired {
			return false
		}
	}
	return true
}

// Check verifies the metadata of an image and its extents, and with
// opts.Repair fixes it. The error is for images that cannot be checked at
// all (unreadable descriptor or header, missing files); problems found are
// in the result. Raw images have no metadata and are always clean.
func Check(path string, opts CheckOptions) (*CheckResult, error) {
	res := &CheckResult{}
	head := make([]byte, 4096)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		err = preadFull(f, head, 0)
	}
	f.Close()
	if err != nil {
		return nil, err
	}
	format := probeFormat(path, head, st)
	if format != FormatRaw && st.Mode().IsRegular() {
		if err := checkHeaderLength(path, head, st.Size()); err != nil {
			return nil, err
		}
	}
	switch format {
	case FormatRaw:
		return res, nil
	case FormatQCOW2:
		return nil, fmt.Errorf("%w: %s is qcow2; use qemu-img check", ErrUnsupported, path)
	}
	c := &checker{res: res, repair: opts.Repair}
	var desc *descriptor
	var descPath string
	var files []extentFile
	switch binary.LittleEndian.Uint32(head) {
	case sparseMagic:
		files = []extentFile{{path: path, kind: extSparse}}
		if desc, err = c.embedded(path); err != nil {
			return nil, err
		}
	case cowdMagic:
		files = []extentFile{{path: path, kind: extVMFSSparse}}
	default:
		if binary.LittleEndian.Uint64(head) == seSparseMagic {
			files = []extentFile{{path: path, kind: extSESparse}}
			break
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		text, err := readDescriptorFile(f, st.Size())
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if desc, err = parseDescriptor(text); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		descPath = path
		for _, line := range desc.extents {
			if line.kind == extZero || line.access == accessNOACCESS {
				continue
			}
			p, err := resolvePath(filepath.Dir(path), line.file, opts.AllowOutsidePaths)
			if err != nil {
				return nil, fmt.Errorf("%s: extent %q: %w", path, line.file, err)
			}
			files = append(files, extentFile{path: p, kind: line.kind, line: line})
		}
	}
	for _, ef := range files {
		if err := c.extent(ef); err != nil {
			return nil, err
		}
	}
	if desc != nil {
		if err := c.extentSizes(path, descPath, desc, files); err != nil {
			return nil, err
		}
	}
	if desc != nil && desc.parentHint != "" {
		c.parent(path, descPath, desc, opts)
	}
	return res, nil
}

// extentSizes reports SPARSE extent lines larger than their extent's
// capacity (such an image does not open); repair shrinks the lines.
func (c *checker) extentSizes(path, descPath string, desc *descriptor, files []extentFile) error {
	var fixes []*Problem
	for i, line := range desc.extents {
		if line.kind != extSparse {
			continue
		}
		file := path
		if descPath != "" {
			j := slices.IndexFunc(files, func(ef extentFile) bool { return ef.line == line })
			if j < 0 {
				continue
			}
			file = files[j].path
		}
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		b := make([]byte, sectorSize)
		err = preadFull(f, b, 0)
		f.Close()
		if err != nil {
			return err
		}
		capacity := int64(decodeSparseHeader(b).capacity)
		if line.sectors <= capacity {
			continue
		}
		fixes = append(fixes, c.add(ProblemDescriptorSize, path, "extent %d is %d sectors in the descriptor but its sparse header holds %d", i+1, line.sectors, capacity))
		desc.extents[i].sectors = capacity
	}
	if len(fixes) == 0 || !c.repair {
		return nil
	}
	if err := rewriteDescriptor(path, descPath, desc); err != nil {
		return err
	}
	for _, p := range fixes {
		p.Repaired = true
	}
	return nil
}

type extentFile struct {
	path string
	kind string
	line extentLine
}

type checker struct {
	res    *CheckResult
	repair bool
}

func (c *checker) add(kind, file, format string, args ...any) *Problem {
	c.res.Problems = append(c.res.Problems, Problem{Kind: kind, File: file, Detail: fmt.Sprintf(format, args...)})
	return &c.res.Problems[len(c.res.Problems)-1]
}

func (c *checker) embedded(path string) (*descriptor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, sectorSize)
	if err := preadFull(f, b, 0); err != nil {
		return nil, err
	}
	return readEmbeddedDescriptor(f, path, decodeSparseHeader(b))
}

func (c *checker) extent(ef extentFile) error {
	switch ef.kind {
	case extFlat, extVMFS:
		return c.flat(ef)
	case extVMFSSparse, extSESparse:
		f, err := os.Open(ef.path)
		if err != nil {
			return err
		}
		ext, _, _, err := openSnapshotExtent(f, ef.path)
		if err != nil {
			f.Close()
			return err
		}
		return ext.close()
	case extSparse:
		return c.sparse(ef.path)
	}
	return fmt.Errorf("%w: %s extents", ErrUnsupported, ef.kind)
}

func (c *checker) flat(ef extentFile) error {
	st, err := os.Stat(ef.path)
	if err != nil {
		return err
	}
	need := (ef.line.offset + ef.line.sectors) * sectorSize
	if st.Mode().IsRegular() && st.Size() < need {
		p := c.add(ProblemShortExtent, ef.path, "file is %d bytes, the extent needs %d", st.Size(), need)
		if c.repair {
			if err := os.Truncate(ef.path, need); err != nil {
				return err
			}
			p.Repaired = true
		}
	}
	return nil
}

// parent verifies the chain link of a delta, and on repair relinks the
// delta to its parent's current CID.
func (c *checker) parent(path, descPath string, desc *descriptor, opts CheckOptions) {
	pp, err := resolvePath(filepath.Dir(path), desc.parentHint, opts.AllowOutsidePaths)
	var p *Disk
	if err == nil {
		p, err = Open(pp, OpenOptions{ReadOnly: true, AllowOutsidePaths: opts.AllowOutsidePaths, Format: FormatVMDK})
	}
	if err != nil {
		c.add(ProblemParent, path, "parent %q cannot be opened: %v", desc.parentHint, err)
		return
	}
	defer p.Close()
	if p.desc.cid == desc.parentCID {
		return
	}
	pr := c.add(ProblemCIDMismatch, path, "parentCID %08x but parent %s has CID %08x (the parent changed after the snapshot)", desc.parentCID, pp, p.desc.cid)
	if !c.repair {
		return
	}
	desc.parentCID = p.desc.cid
	if err := rewriteDescriptor(path, descPath, desc); err != nil {
		pr.Detail += fmt.Sprintf("; relinking failed: %v", err)
		return
	}
	pr.Repaired = true
}

// rewriteDescriptor stores desc in its separate file, or in the embedded
// area of the sparse file path.
func rewriteDescriptor(path, descPath string, desc *descriptor) error {
	if descPath != "" {
		return writeFileAtomic(descPath, []byte(desc.String()))
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, sectorSize)
	if err := preadFull(f, b, 0); err != nil {
		return err
	}
	if err := writeEmbeddedDescriptor(f, path, decodeSparseHeader(b), desc); err != nil {
		return err
	}
	return f.Sync()
}

// used is a range of sectors the metadata accounts for.
type used struct {
	start, end int64 // sectors
	what       string
	gd, gt     int64 // owner of a grain; -1 for metadata
}

// sparse checks a hosted sparse extent file.
func (c *checker) sparse(path string) error {
	flag := os.O_RDONLY
	if c.repair {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if c.repair {
		if err := lockForWriting(f, path); err != nil {
			return err
		}
	}
	return c.sparseFile(f, path)
}

// sparseFile checks (and repairs) an open sparse extent file.
func (c *checker) sparseFile(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	b := make([]byte, sectorSize)
	if err := preadFull(f, b, 0); err != nil {
		return err
	}
	if err := checkHeaderLength(path, b, st.Size()); err != nil {
		return err
	}
	h := decodeSparseHeader(b)
	fileSectors := st.Size() / sectorSize
	if h.flags&flagCompressed != 0 {
		if err := h.validate(max(fileSectors, 1)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return c.stream(f, path, h)
	}
	if err := h.validate(max(ceilDiv(st.Size(), sectorSize), 1)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	sc := &sparseCheck{c: c, f: f, path: path, h: h, fileBytes: st.Size()}
	return sc.run()
}

type sparseCheck struct {
	c         *checker
	f         *os.File
	path      string
	h         sparseHeader
	fileBytes int64

	numGDEs, gtSectors, gdSectors int64
	gd, rgd                       []uint32
	gts, rgts                     [][]uint32
	gtDirty                       map[int64]bool
	gdDirty                       bool
}

func (s *sparseCheck) run() error {
	h := s.h
	c := s.c
	s.numGDEs = h.numGDEs()
	s.gtSectors = ceilDiv(int64(h.numGTEsPerGT)*4, sectorSize)
	s.gdSectors = ceilDiv(s.numGDEs*4, sectorSize)
	s.gtDirty = map[int64]bool{}
	redundant := h.flags&flagRedundantGT != 0
	readDir := func(sector int64) []uint32 {
		buf := make([]byte, s.numGDEs*4)
		if preadFull(s.f, buf, sector*sectorSize) != nil {
			return nil
		}
		return decodeU32s(buf)
	}
	s.gd = readDir(int64(h.gdOffset))
	if redundant {
		s.rgd = readDir(int64(h.rgdOffset))
	}
	if s.gd == nil || (redundant && s.rgd == nil) {
		return fmt.Errorf("%s: cannot read the grain directories", s.path)
	}
	fileSectors := ceilDiv(s.fileBytes, sectorSize)
	grain := int64(h.grainSize)
	// Fixed metadata: header, descriptor, directories.
	var regions []used
	meta := func(start, n int64, what string) {
		if n > 0 {
			regions = append(regions, used{start, start + n, what, -1, -1})
		}
	}
	meta(0, 1, "header")
	meta(int64(h.descriptorOffset), int64(h.descriptorSize), "descriptor")
	meta(int64(h.gdOffset), s.gdSectors, "grain directory")
	if redundant {
		meta(int64(h.rgdOffset), s.gdSectors, "redundant grain directory")
	}
	dataStart := max(int64(h.overHead), 1)
	validTable := func(v uint32) bool {
		return v != 0 && int64(v)+s.gtSectors <= fileSectors && int64(v) > int64(h.descriptorOffset+h.descriptorSize)
	}
	loadGT := func(v uint32) []uint32 {
		buf := make([]byte, int64(h.numGTEsPerGT)*4)
		if preadFull(s.f, buf, int64(v)*sectorSize) != nil {
			return nil
		}
		return decodeU32s(buf)
	}
	s.gts = make([][]uint32, s.numGDEs)
	s.rgts = make([][]uint32, s.numGDEs)
	var mismatch int
	for i := range s.numGDEs {
		for _, dir := range [][]uint32{s.gd, s.rgd} {
			if dir == nil || dir[i] == 0 || validTable(dir[i]) {
				continue
			}
			p := c.add(ProblemPastEOF, s.path, "directory entry %d points at sector %d, outside the file's %d sectors", i, dir[i], fileSectors)
			dir[i] = 0
			s.gdDirty = true
			p.Repaired = c.repair
		}
		if s.gd[i] != 0 {
			s.gts[i] = loadGT(s.gd[i])
			meta(int64(s.gd[i]), s.gtSectors, "grain table")
		}
		if redundant && s.rgd[i] != 0 {
			s.rgts[i] = loadGT(s.rgd[i])
			meta(int64(s.rgd[i]), s.gtSectors, "redundant grain table")
		}
	}
	slices.SortFunc(regions, func(a, b used) int { return int(a.start - b.start) })
	inMeta := func(start, end int64) string {
		i, _ := slices.BinarySearchFunc(regions, start, func(r used, x int64) int { return int(r.start - x) })
		for _, j := range []int{i - 1, i} {
			if j >= 0 && j < len(regions) && regions[j].start < end && start < regions[j].end {
				return regions[j].what
			}
		}
		return ""
	}
	zeroed := h.flags&flagZeroedGTE != 0
	valid := func(v uint32) (bool, string) {
		switch {
		case v == 0, v == 1 && zeroed:
			return true, ""
		case int64(v) >= fileSectors:
			return false, ProblemPastEOF
		case int64(v) < dataStart:
			return false, ProblemIntoMetadata
		case inMeta(int64(v), int64(v)+grain) != "":
			return false, ProblemIntoMetadata
		}
		return true, ""
	}
	var grains []used
	for i := range s.numGDEs {
		gt, rgt := s.gts[i], s.rgts[i]
		if gt == nil && rgt != nil {
			// The primary table is missing: rebuild it from the copy.
			gt = slices.Clone(rgt)
			s.gts[i] = gt
		}
		if gt == nil {
			continue
		}
		for j := range gt {
			v := gt[j]
			ok, kind := valid(v)
			if !ok {
				p := c.add(kind, s.path, "grain table %d entry %d points at sector %d (file has %d sectors, data starts at %d)", i, j, v, fileSectors, dataStart)
				gt[j] = 0
				if rgt != nil {
					if ok2, _ := valid(rgt[j]); ok2 {
						gt[j] = rgt[j]
					}
				}
				s.gtDirty[i] = true
				p.Repaired = c.repair
			}
			if rgt != nil && rgt[j] != gt[j] {
				mismatch++
				s.gtDirty[i] = true
			}
			if gt[j] > 1 {
				grains = append(grains, used{int64(gt[j]), int64(gt[j]) + grain, "grain", i, int64(j)})
			}
		}
	}
	if redundant {
		for i := range s.numGDEs {
			if (s.gd[i] == 0) != (s.rgd[i] == 0) && (s.gts[i] == nil || !isZeroU32(s.gts[i])) {
				mismatch++
				s.gtDirty[i] = true
			}
		}
	}
	if mismatch > 0 {
		p := c.add(ProblemRedundant, s.path, "%d entries differ between the grain directory/tables and their redundant copies", mismatch)
		p.Repaired = c.repair
	}
	// Overlaps: two entries sharing a grain.
	slices.SortFunc(grains, func(a, b used) int { return int(a.start - b.start) })
	var overlaps []used
	for k := 1; k < len(grains); k++ {
		if grains[k].start < grains[k-1].end {
			overlaps = append(overlaps, grains[k])
		}
	}
	if len(overlaps) > 0 {
		p := c.add(ProblemOverlap, s.path, "%d grain table entries share storage with another entry", len(overlaps))
		p.Repaired = c.repair
	}
	// Orphans: storage past overHead that no entry or table accounts for.
	all := append(slices.Clone(regions), grains...)
	slices.SortFunc(all, func(a, b used) int { return int(a.start - b.start) })
	lastEnd := dataStart
	var holes [][2]int64
	for _, r := range all {
		if r.start > lastEnd && r.start-lastEnd >= grain && hasData(s.f, lastEnd*sectorSize, (r.start-lastEnd)*sectorSize) {
			holes = append(holes, [2]int64{lastEnd, r.start})
		}
		lastEnd = max(lastEnd, r.end)
	}
	tailOrphan := s.fileBytes > roundUp(lastEnd, 8)*sectorSize
	if len(holes) > 0 || tailOrphan {
		n := int64(0)
		for _, hr := range holes {
			n += hr[1] - hr[0]
		}
		if tailOrphan {
			n += ceilDiv(s.fileBytes, sectorSize) - lastEnd
		}
		p := c.add(ProblemOrphanGrains, s.path, "%d sectors (%d grains) hold data no table references (writes lost before a flush)", n, ceilDiv(n, grain))
		p.Repaired = c.repair
	}
	if h.uncleanShutdown != 0 {
		p := c.add(ProblemUnclean, s.path, "the image was not closed cleanly")
		p.Repaired = c.repair
	}
	if !c.repair {
		return nil
	}
	return s.fix(overlaps, holes, lastEnd)
}

// fix writes the repairs in crash-safe order: copies of shared grains,
// tables, directories, then space reclamation and the clean flag.
func (s *sparseCheck) fix(overlaps []used, holes [][2]int64, lastEnd int64) error {
	h := s.h
	grain := int64(h.grainSize)
	end := roundUp(max(lastEnd, int64(h.overHead)), 8)
	for _, o := range overlaps {
		buf := make([]byte, grain*sectorSize)
		if err := preadFull(s.f, buf, o.start*sectorSize); err != nil {
			return err
		}
		if _, err := s.f.WriteAt(buf, end*sectorSize); err != nil {
			return err
		}
		s.gts[o.gd][o.gt] = uint32(end)
		s.gtDirty[o.gd] = true
		end += grain
	}
	// Missing tables get space at the end, zeroed.
	redundant := h.flags&flagRedundantGT != 0
	for i := range s.numGDEs {
		if !s.gtDirty[i] || s.gts[i] == nil {
			continue
		}
		if s.gd[i] == 0 {
			s.gd[i] = uint32(end)
			end += roundUp(s.gtSectors, 8)
			s.gdDirty = true
		}
		if redundant && (s.rgd[i] == 0 || s.rgd[i] == s.gd[i]) {
			s.rgd[i] = uint32(end)
			end += roundUp(s.gtSectors, 8)
			s.gdDirty = true
		}
	}
	if end >= 1<<32 {
		return fmt.Errorf("%w: %s: no room below 2 TiB for repaired tables", ErrUnsupported, s.path)
	}
	if err := s.f.Truncate(max(end*sectorSize, s.fileBytes)); err != nil {
		return err
	}
	if err := fdatasync(s.f); err != nil {
		return err
	}
	for i := range s.numGDEs {
		if !s.gtDirty[i] || s.gts[i] == nil {
			continue
		}
		b := encodeU32s(s.gts[i])
		if _, err := s.f.WriteAt(b, int64(s.gd[i])*sectorSize); err != nil {
			return err
		}
		if redundant {
			if _, err := s.f.WriteAt(b, int64(s.rgd[i])*sectorSize); err != nil {
				return err
			}
		}
	}
	if err := fdatasync(s.f); err != nil {
		return err
	}
	if s.gdDirty || redundant {
		if _, err := s.f.WriteAt(encodeU32s(s.gd), int64(h.gdOffset)*sectorSize); err != nil {
			return err
		}
		if redundant {
			if _, err := s.f.WriteAt(encodeU32s(s.rgd), int64(h.rgdOffset)*sectorSize); err != nil {
				return err
			}
		}
		if err := fdatasync(s.f); err != nil {
			return err
		}
	}
	for _, hr := range holes {
		if err := punchHole(s.f, hr[0]*sectorSize, (hr[1]-hr[0])*sectorSize); err != nil {
			return err
		}
	}
	if err := s.f.Truncate(end * sectorSize); err != nil {
		return err
	}
	h.uncleanShutdown = 0
	if _, err := s.f.WriteAt(h.encode(), 0); err != nil {
		return err
	}
	return fdatasync(s.f)
}

// hasData reports whether a file range holds anything but zeros. Holes
// and allocated zeros both count as empty: punching a hole smaller than a
// file-system block, or on a file system that cannot punch, leaves zeros
// in allocated blocks, and a range repair emptied must not be reported
// again.
func hasData(f *os.File, off, n int64) bool {
	var buf []byte
	for n > 0 {
		st, run, err := fileRangeStatus(f, off, n)
		if err != nil || run <= 0 {
			return true
		}
		if st == statusData {
			if buf == nil {
				buf = make([]byte, min(n, 1<<20))
			}
			for end := off + run; off < end; {
				c := min(end-off, int64(len(buf)))
				if preadFull(f, buf[:c], off) != nil || !isZero(buf[:c]) {
					return true
				}
				off += c
			}
		} else {
			off += run
		}
		n -= run
	}
	return false
}

func punchHole(f *os.File, off, n int64) error {
	err := zeroFileRange(f, off, n)
	if err != nil {
		return fmt.Errorf("releasing orphan space: %w", err)
	}
	return nil
}

// stream checks a compressed extent: its footer or directory, and every
// grain record (decompressed). Repair rebuilds the tables by scanning the
// records, which carry their LBA.
func (c *checker) stream(f *os.File, path string, h sparseHeader) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	problem := ""
	if h.gdOffset == gdAtEnd {
		footer, err := readFooter(f, st.Size())
		if err != nil {
			problem = "no valid footer: " + err.Error()
		} else {
			h.gdOffset = footer.gdOffset
			if err := h.validate(ceilDiv(st.Size(), sectorSize)); err != nil {
				problem = "footer: " + err.Error()
			}
		}
	}
	kind := ProblemStreamTail
	if problem == "" {
		problem, kind = verifyStreamGrains(f, path, h), ProblemBadGrain
	}
	if h.uncleanShutdown != 0 && problem == "" {
		p := c.add(ProblemUnclean, path, "the image was not closed cleanly")
		if c.repair {
			hh := h
			hh.uncleanShutdown = 0
			if b := make([]byte, sectorSize); preadFull(f, b, 0) == nil {
				cur := decodeSparseHeader(b)
				cur.uncleanShutdown = 0
				if _, err := f.WriteAt(cur.encode(), 0); err != nil {
					return err
				}
				p.Repaired = fdatasync(f) == nil
			}
		}
	}
	if problem == "" {
		return nil
	}
	p := c.add(kind, path, "%s", problem)
	if !c.repair {
		return nil
	}
	if err := rebuildStream(f, path, h); err != nil {
		p.Detail += "; rebuild failed: " + err.Error()
		return nil
	}
	p.Repaired = true
	return nil
}

// verifyStreamGrains reads every table and inflates every grain; it
// returns a description of the first problem, or "".
func verifyStreamGrains(f *os.File, path string, h sparseHeader) string {
	e, err := openSparse(f, path, true)
	if err != nil {
		return err.Error()
	}
	// Walk the directory, not the capacity: its size is bounded by the
	// file, the capacity only by the header.
	for i := range e.numGDEs {
		gt, err := e.table(i)
		if err != nil {
			return err.Error()
		}
		for j, v := range gt {
			g := i*e.gtEntries + int64(j)
			st, err := e.classify(g, v)
			if err != nil {
				return err.Error()
			}
			if st == statusData {
				if _, _, err := readCompressedGrain(f, int64(v), e.grainBytes, e.markers, g*int64(h.grainSize)); err != nil {
					return fmt.Sprintf("grain %d: %v", g, err)
				}
			}
		}
	}
	return ""
}

// rebuildStream scans grain records from the first data sector, keeps the
// last record of each grain that inflates correctly, and writes a fresh
// tail (tables, directory, footer, end-of-stream) after the last good
// record.
func rebuildStream(f *os.File, path string, h sparseHeader) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	grainBytes := int64(h.grainSize) * sectorSize
	capGrains := ceilDiv(int64(h.capacity), int64(h.grainSize))
	entries := map[int64]uint32{}
	pos := int64(h.descriptorOffset + h.descriptorSize)
	if pos == 0 {
		pos = 1
	}
	end := st.Size() / sectorSize
	lastGood := pos
	head := make([]byte, sectorSize)
	for pos < end {
		if err := preadFull(f, head, pos*sectorSize); err != nil {
			return err
		}
		m := decodeMarker(head)
		if m.size == 0 {
			switch {
			case m.typ == markerGT || m.typ == markerGD:
				if m.val > 0 && int64(m.val) < end {
					pos += 1 + int64(m.val)
					continue
				}
			case m.typ == markerFooter && m.val == 1:
				pos += 2
				continue
			}
			pos++
			continue
		}
		lba := int64(m.val)
		if lba%int64(h.grainSize) == 0 && lba/int64(h.grainSize) < capGrains && int64(m.size) <= 2*grainBytes+sectorSize {
			if _, recLen, err := readCompressedGrain(f, pos, grainBytes, true, lba); err == nil {
				entries[lba/int64(h.grainSize)] = uint32(pos)
				pos += ceilDiv(recLen, sectorSize)
				lastGood = pos
				continue
			}
		}
		pos++
	}
	gtEntries := int64(h.numGTEsPerGT)
	gts := make([][]uint32, h.numGDEs())
	for g, v := range entries {
		i := g / gtEntries
		if gts[i] == nil {
			gts[i] = make([]uint32, gtEntries)
		}
		gts[i][g%gtEntries] = v
	}
	h = asStreamHeader(h)
	h.uncleanShutdown = 0
	tail, _, _ := streamTail(h, gts, lastGood)
	if _, err := f.WriteAt(tail, lastGood*sectorSize); err != nil {
		return err
	}
	if err := f.Truncate(lastGood*sectorSize + int64(len(tail))); err != nil {
		return err
	}
	if err := fdatasync(f); err != nil {
		return err
	}
	if _, err := f.WriteAt(h.encode(), 0); err != nil {
		return err
	}
	return fdatasync(f)
}
