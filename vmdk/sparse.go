package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zlib"
)

// sparseExtent is a grain-mapped extent: hosted sparse (KDMV, read-write,
// compressed grains read-only through this path), streamOptimized (whose
// writes go through the stream writer in stream.go) and vmfsSparse (COWD,
// read-only).
//
// Crash-safety protocol (see doc.go): a write to an unallocated grain
// reserves space at the end of the file and writes the data there; the
// grain table entry changes only in memory. Flush then runs
//
//	fdatasync (data) -> write grain tables, primary then redundant ->
//	fdatasync -> write new directory entries, primary then redundant ->
//	fdatasync
//
// so no table on disk ever points at data or tables that are not durable,
// and a crash leaves at worst unreferenced grains at the end of the file
// and a redundant copy lagging the primary, both of which check repairs.
type sparseExtent struct {
	f        *os.File
	name     string
	readOnly bool
	cowd     bool

	hdr         sparseHeader // KDMV only; for COWD a synthesized copy
	grainBytes  int64
	gtEntries   int64
	capBytes    int64
	numGDEs     int64
	dataStart   int64 // first sector grains may use
	compressed  bool
	markers     bool
	zeroedGrain bool
	redundant   bool

	mu sync.RWMutex
	gd []uint32
	// rgd is the redundant directory; nil when the extent has none.
	rgd []uint32
	// gts caches grain tables by directory index. Flush writes each
	// dirty table to both copies, so no redundant tables are kept.
	gts     [][]uint32
	dirtyGT map[int64]bool
	dirtyGD map[int64]bool
	// nextFree is the sector where the next grain or table goes.
	nextFree int64
	// limit is the end of the space entries may point into (sectors):
	// the file's size at open or what was allocated since, so lookups
	// validate pointers without a stat.
	limit    atomic.Int64
	inflight map[int64]chan struct{}
	marked   bool // unclean flag written this session
	flushMu  sync.Mutex

	// cache of decompressed grains (compressed extents).
	cacheMu sync.Mutex
	cache   map[int64][]byte
	order   []int64
	// inflaters recycles *grainInflater between grain reads.
	inflaters sync.Pool

	stream *streamWriter // non-nil for writable streamOptimized extents
}

const grainCacheSize = 32

// openSparse reads and validates the header, directories of a sparse extent
// file f (already open). fileSize is its current size.
func openSparse(f *os.File, name string, readOnly bool) (*sparseExtent, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	fileSize := st.Size()
	head := make([]byte, cowdHeaderBytes)
	if err := preadFull(f, head, 0); err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	if err := checkHeaderLength(name, head, fileSize); err != nil {
		return nil, err
	}
	e := &sparseExtent{f: f, name: name, readOnly: readOnly, dirtyGT: map[int64]bool{}, dirtyGD: map[int64]bool{}, inflight: map[int64]chan struct{}{}}
	fileSectors := fileSize / sectorSize
	switch binary.LittleEndian.Uint32(head) {
	case sparseMagic:
		h := decodeSparseHeader(head)
		if err := h.validate(fileSectors); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if h.gdOffset == gdAtEnd {
			footer, err := readFooter(f, fileSize)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if footer.capacity != h.capacity || footer.grainSize != h.grainSize || footer.numGTEsPerGT != h.numGTEsPerGT {
				return nil, fmt.Errorf("%w: %s: footer geometry differs from the header", ErrCorrupt, name)
			}
			h.gdOffset = footer.gdOffset
			if err := h.validate(fileSectors); err != nil {
				return nil, fmt.Errorf("%s: footer: %w", name, err)
			}
		}
		e.hdr = h
		e.compressed = h.flags&flagCompressed != 0
		e.markers = h.flags&flagMarkers != 0
		e.zeroedGrain = h.flags&flagZeroedGTE != 0
		e.redundant = h.flags&flagRedundantGT != 0 && !e.compressed
		e.dataStart = int64(h.overHead)
		if e.compressed || e.dataStart == 0 {
			e.dataStart = int64(h.descriptorOffset + h.descriptorSize)
			if e.dataStart == 0 {
				e.dataStart = 1
			}
		}
		if e.compressed && !e.markers && !readOnly {
			return nil, fmt.Errorf("%w: %s: compressed grains without markers open read-only", ErrReadOnly, name)
		}
		if h.version == 3 && !e.compressed && !readOnly {
			// qemu refuses this too: version 3 without compression is a
			// VMware feature set (CBT) we do not maintain.
			return nil, fmt.Errorf("%w: %s: uncompressed version 3 sparse extents open read-only", ErrReadOnly, name)
		}
	case cowdMagic:
		h := decodeCOWDHeader(head)
		if err := h.validate(fileSectors); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if !readOnly {
			return nil, fmt.Errorf("%w: %s: vmfsSparse (COWD) extents open read-only", ErrReadOnly, name)
		}
		e.cowd = true
		e.hdr = sparseHeader{magic: sparseMagic, version: 1, capacity: uint64(h.capacity), grainSize: uint64(h.grainSize),
			numGTEsPerGT: cowdGTEntries, gdOffset: uint64(h.gdOffset), uncleanShutdown: uint8(h.uncleanShutdn)}
		e.dataStart = int64(h.gdOffset)
	default:
		return nil, fmt.Errorf("%w: %s: not a sparse extent (no KDMV or COWD magic)", ErrCorrupt, name)
	}
	h := &e.hdr
	e.grainBytes = int64(h.grainSize) * sectorSize
	e.gtEntries = int64(h.numGTEsPerGT)
	e.capBytes = int64(h.capacity) * sectorSize
	e.numGDEs = ceilDiv(e.capBytes, e.grainBytes*e.gtEntries)
	if e.cowd {
		e.numGDEs = int64(decodeCOWDHeader(head).numGDEntries)
	}
	var err2 error
	if e.gd, err2 = e.readDir(int64(h.gdOffset), fileSize); err2 != nil {
		return nil, err2
	}
	if e.redundant {
		if e.rgd, err2 = e.readDir(int64(h.rgdOffset), fileSize); err2 != nil {
			return nil, err2
		}
	}
	e.gts = make([][]uint32, e.numGDEs)
	e.nextFree = roundUp(max(ceilDiv(fileSize, sectorSize), e.dataStart), 8)
	e.limit.Store(ceilDiv(fileSize, sectorSize))
	if e.compressed {
		e.cache = map[int64][]byte{}
	}
	return e, nil
}

func (e *sparseExtent) readDir(sector, fileSize int64) ([]uint32, error) {
	n := e.numGDEs
	if sector <= 0 || sector*sectorSize+n*4 > fileSize {
		return nil, fmt.Errorf("%w: %s: grain directory at sector %d (%d entries) lies outside the %d-byte file", ErrCorrupt, e.name, sector, n, fileSize)
	}
	buf := make([]byte, n*4)
	if err := preadFull(e.f, buf, sector*sectorSize); err != nil {
		return nil, fmt.Errorf("%s: reading grain directory: %w", e.name, err)
	}
	return decodeU32s(buf), nil
}

func decodeU32s(b []byte) []uint32 {
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return out
}

func encodeU32s(v []uint32) []byte {
	b := make([]byte, len(v)*4)
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[i*4:], x)
	}
	return b
}

func (e *sparseExtent) gtBytes() int64 { return e.gtEntries * 4 }

// gtSectors is the space one table occupies, rounded to whole sectors.
func (e *sparseExtent) gtSectors() int64 { return ceilDiv(e.gtBytes(), sectorSize) }

// loadGT reads grain table i from sector; e.mu must be held for writing.
func (e *sparseExtent) loadGT(dir []uint32, i int64) ([]uint32, error) {
	sector := int64(dir[i])
	if sector == 0 {
		return nil, nil
	}
	limit := e.limit.Load()
	if sector+e.gtSectors() > limit {
		return nil, fmt.Errorf("%w: %s: grain table %d at sector %d lies past the end of the file (%d sectors)", ErrCorrupt, e.name, i, sector, limit)
	}
	buf := make([]byte, e.gtBytes())
	if err := preadFull(e.f, buf, sector*sectorSize); err != nil {
		return nil, fmt.Errorf("%s: reading grain table %d: %w", e.name, i, err)
	}
	return decodeU32s(buf), nil
}

func (e *sparseExtent) fileSectors() int64 {
	st, err := e.f.Stat()
	if err != nil {
		return 0
	}
	return ceilDiv(st.Size(), sectorSize)
}

// table returns grain table i, loading it on first use. A nil table means
// the directory entry is empty (all grains unallocated).
func (e *sparseExtent) table(i int64) ([]uint32, error) {
	e.mu.RLock()
	gt := e.gts[i]
	absent := e.gd[i] == 0
	e.mu.RUnlock()
	if gt != nil || absent {
		return gt, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tableLocked(i)
}

func (e *sparseExtent) tableLocked(i int64) ([]uint32, error) {
	if e.gts[i] != nil || e.gd[i] == 0 {
		return e.gts[i], nil
	}
	gt, err := e.loadGT(e.gd, i)
	if err != nil {
		return nil, err
	}
	e.gts[i] = gt
	return gt, nil
}

// gte returns the grain table entry of grain g (0 for unallocated).
func (e *sparseExtent) gte(g int64) (uint32, error) {
	e.mu.RLock()
	if gt := e.gts[g/e.gtEntries]; gt != nil {
		v := gt[g%e.gtEntries]
		e.mu.RUnlock()
		return v, nil
	}
	e.mu.RUnlock()
	gt, err := e.table(g / e.gtEntries)
	if err != nil || gt == nil {
		return 0, err
	}
	e.mu.RLock()
	v := gt[g%e.gtEntries]
	e.mu.RUnlock()
	return v, nil
}

// lookup returns the grain table entry of grain g and its status.
func (e *sparseExtent) lookup(g int64) (uint32, blockStatus, error) {
	v, err := e.gte(g)
	if err != nil {
		return 0, 0, err
	}
	st, err := e.classify(g, v)
	return v, st, err
}

// classify turns an entry into a status, validating data pointers.
func (e *sparseExtent) classify(g int64, v uint32) (blockStatus, error) {
	switch {
	case v == 0:
		return statusUnalloc, nil
	case v == 1 && (e.zeroedGrain || e.compressed):
		// Compressed images never hold a grain at sector 1 (the header
		// lives there), so 1 means zero in them as open-vmdk reads it.
		return statusZero, nil
	}
	limit := e.limit.Load()
	if int64(v) >= limit {
		return 0, fmt.Errorf("%w: %s: grain %d at sector %d lies past the end of the file (%d sectors); run check --repair", ErrCorrupt, e.name, g, v, limit)
	}
	if int64(v) < e.dataStart {
		return 0, fmt.Errorf("%w: %s: grain %d at sector %d points into metadata (data starts at sector %d); run check --repair", ErrCorrupt, e.name, g, v, e.dataStart)
	}
	return statusData, nil
}

func (e *sparseExtent) size() int64 { return e.capBytes }

func (e *sparseExtent) status(off, n int64) (blockStatus, int64, error) {
	g := off / e.grainBytes
	if e.stream != nil && e.stream.pending(g) {
		return statusData, min(n, (g+1)*e.grainBytes-off), nil
	}
	v, st, err := e.lookup(g)
	if err != nil {
		return 0, 0, err
	}
	run := min(n, (g+1)*e.grainBytes-off)
	g0, v0 := g, v
	for run < n {
		if st == statusUnalloc && e.tableAbsent(g/e.gtEntries) {
			// Skip a whole absent table at once: hostile capacities can
			// make grain-by-grain walks endless.
			g = (g/e.gtEntries+1)*e.gtEntries - 1
			run = min(n, (g+1)*e.grainBytes-off)
			if run >= n {
				break
			}
		}
		g++
		v, err := e.gte(g)
		if err != nil {
			return 0, 0, err
		}
		s2, err := e.classify(g, v)
		if err != nil || s2 != st {
			break
		}
		if st == statusData && (e.compressed || int64(v) != int64(v0)+(g-g0)*int64(e.hdr.grainSize)) {
			break // map reports one file range per entry
		}
		run = min(n, (g+1)*e.grainBytes-off)
	}
	return st, run, nil
}

// tableAbsent reports a directory entry with no table (all unallocated).
func (e *sparseExtent) tableAbsent(i int64) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return i < int64(len(e.gts)) && e.gts[i] == nil && (i >= int64(len(e.gd)) || e.gd[i] == 0)
}

func (e *sparseExtent) where(off int64) (string, int64) {
	g := off / e.grainBytes
	v, st, err := e.lookup(g)
	if err != nil || e.compressed || st != statusData {
		return "", 0
	}
	return e.name, int64(v)*sectorSize + off%e.grainBytes
}

func (e *sparseExtent) read(p []byte, off int64, under fillFunc) error {
	if e.stream != nil {
		return e.stream.read(p, off, under)
	}
	for len(p) > 0 {
		g := off / e.grainBytes
		in := off % e.grainBytes
		n := min(int64(len(p)), e.grainBytes-in)
		v, st, err := e.lookup(g)
		if err != nil {
			return err
		}
		switch {
		case st == statusZero:
			clear(p[:n])
		case st == statusUnalloc:
			if err := under(p[:n], off); err != nil {
				return err
			}
		case e.compressed:
			if err := e.readGrain(p[:n], g, v, in); err != nil {
				return err
			}
		default:
			n = e.contiguous(g, v, off, int64(len(p)))
			if err := preadFull(e.f, p[:n], int64(v)*sectorSize+in); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

// contiguous returns how many of the total bytes from off (inside grain
// g, stored at sector v) lie in grains stored one after the other, so
// one pread or pwrite covers them.
func (e *sparseExtent) contiguous(g int64, v uint32, off, total int64) int64 {
	g0 := g
	n := min(total, (g+1)*e.grainBytes-off)
	for n < total {
		v2, err := e.gte(g + 1)
		if err != nil || int64(v2) != int64(v)+(g+1-g0)*int64(e.hdr.grainSize) {
			break
		}
		if st, err := e.classify(g+1, v2); err != nil || st != statusData {
			break
		}
		g++
		n = min(total, (g+1)*e.grainBytes-off)
	}
	return n
}

// grain returns the decompressed content of compressed grain g stored at
// sector v. The slice is shared with the cache: callers must not modify it.
func (e *sparseExtent) grain(g int64, v uint32) ([]byte, error) {
	e.cacheMu.Lock()
	if b, ok := e.cache[g]; ok {
		e.cacheMu.Unlock()
		return b, nil
	}
	e.cacheMu.Unlock()
	b := make([]byte, e.grainBytes)
	if err := e.inflate(b, g, v); err != nil {
		return nil, err
	}
	e.cacheMu.Lock()
	if len(e.order) >= grainCacheSize {
		delete(e.cache, e.order[0])
		e.order = e.order[1:]
	}
	e.cache[g] = b
	e.order = append(e.order, g)
	e.cacheMu.Unlock()
	return b, nil
}

// readGrain reads p from offset in of compressed grain g, stored at
// sector v. A whole grain inflates straight into p, bypassing the cache:
// whole-grain readers (convert, sequential copies) do not come back.
func (e *sparseExtent) readGrain(p []byte, g int64, v uint32, in int64) error {
	if in == 0 && int64(len(p)) == e.grainBytes {
		return e.inflate(p, g, v)
	}
	b, err := e.grain(g, v)
	if err != nil {
		return err
	}
	copy(p, b[in:])
	return nil
}

// inflate decompresses grain g, stored at sector v, into out (a grain).
func (e *sparseExtent) inflate(out []byte, g int64, v uint32) error {
	z, _ := e.inflaters.Get().(*grainInflater)
	if z == nil {
		z = new(grainInflater)
	}
	_, err := z.read(out, e.f, int64(v), e.markers, g*int64(e.hdr.grainSize))
	e.inflaters.Put(z)
	if err != nil {
		return fmt.Errorf("%s: grain %d: %w", e.name, g, err)
	}
	return nil
}

// readCompressedGrain inflates the grain record at sector. With markers the
// record is "u64 lba, u32 size, data"; wantLBA is checked against it. It
// returns the grain and the record length in bytes.
func readCompressedGrain(f *os.File, sector, grainBytes int64, markers bool, wantLBA int64) ([]byte, int64, error) {
	var z grainInflater
	out := make([]byte, grainBytes)
	n, err := z.read(out, f, sector, markers, wantLBA)
	if err != nil {
		return nil, 0, err
	}
	return out, n, nil
}

// grainInflater reads grain records, keeping its record buffer and zlib
// reader (tens of KiB of tables) from one record to the next.
type grainInflater struct {
	rec []byte
	src bytes.Reader
	zr  io.ReadCloser // a klauspost zlib reader, reset per record
}

// read is readCompressedGrain into out (one grain) with z's buffers; it
// returns the record length.
func (z *grainInflater) read(out []byte, f *os.File, sector int64, markers bool, wantLBA int64) (int64, error) {
	// A compressed grain may exceed the grain size (incompressible data
	// plus zlib framing); two grains' worth bounds any honest record.
	limit := 2*int64(len(out)) + sectorSize
	var headBuf [12]byte
	head := headBuf[:]
	if err := preadFull(f, head, sector*sectorSize); err != nil {
		return 0, err
	}
	var start, size int64
	switch {
	case markers:
		lba := int64(binary.LittleEndian.Uint64(head))
		size = int64(binary.LittleEndian.Uint32(head[8:]))
		if lba != wantLBA {
			return 0, fmt.Errorf("%w: compressed grain record at sector %d is for sector %d, the table says %d", ErrCorrupt, sector, lba, wantLBA)
		}
		start = 12
	case (uint16(head[0])<<8|uint16(head[1]))%31 == 0 && head[0]&0x0f == 8:
		// A bare zlib stream (qemu writes these without markers).
		size, start = limit, 0
	default:
		size, start = int64(binary.LittleEndian.Uint32(head)), 4
	}
	if size <= 0 || size > limit {
		return 0, fmt.Errorf("%w: compressed grain at sector %d claims %d bytes (limit %d)", ErrCorrupt, sector, size, limit)
	}
	z.rec = slices.Grow(z.rec[:0], int(size))[:size]
	if err := preadFull(f, z.rec, sector*sectorSize+start); err != nil {
		return 0, err
	}
	z.src.Reset(z.rec)
	var err error
	if z.zr == nil {
		z.zr, err = zlib.NewReader(&z.src)
	} else {
		err = z.zr.(zlib.Resetter).Reset(&z.src, nil)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: compressed grain at sector %d: %w", ErrCorrupt, sector, err)
	}
	if err := inflateAll(z.zr, out); err != nil {
		return 0, fmt.Errorf("%w: compressed grain at sector %d: %w", ErrCorrupt, sector, err)
	}
	return start + size, nil
}

// inflateAll decompresses into out until the stream's proper end, which
// verifies its checksum: a truncated record (torn by a crash) is an error,
// never a grain with a zero-filled tail. A short stream (the last grain of
// an extent) leaves the rest of out zero.
func inflateAll(r io.Reader, out []byte) error {
	n := 0
	for {
		if n == len(out) {
			var one [1]byte
			if k, err := r.Read(one[:]); k > 0 {
				return errors.New("data decompresses to more than a grain")
			} else if err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			continue
		}
		m, err := r.Read(out[n:])
		n += m
		if err == io.EOF {
			clear(out[n:])
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// markDirty records the unclean-shutdown flag in the header on the first
// modification of a session. It needs no sync of its own: Flush's first
// data barrier orders it before any table update.
func (e *sparseExtent) markDirty() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.marked {
		return nil
	}
	e.hdr.uncleanShutdown = 1
	h := e.hdr
	if e.stream != nil && e.stream.headerAtEnd {
		h = e.streamHeader() // the real directory offset lives in the footer
	}
	if _, err := e.f.WriteAt(h.encode(), 0); err != nil {
		return fmt.Errorf("%s: setting the unclean-shutdown flag: %w", e.name, err)
	}
	e.marked = true
	return nil
}

func (e *sparseExtent) checkWritable() error {
	if e.readOnly {
		return fmt.Errorf("%w: %s", ErrReadOnly, e.name)
	}
	return e.markDirty()
}

func (e *sparseExtent) write(p []byte, off int64, under fillFunc) error {
	if e.stream != nil {
		return e.stream.write(p, off, under)
	}
	if err := e.checkWritable(); err != nil {
		return err
	}
	for len(p) > 0 {
		g := off / e.grainBytes
		in := off % e.grainBytes
		n := min(int64(len(p)), e.grainBytes-in)
		v, st, err := e.lookup(g)
		if err != nil {
			return err
		}
		if st == statusData {
			n = e.contiguous(g, v, off, int64(len(p)))
			if _, err := e.f.WriteAt(p[:n], int64(v)*sectorSize+in); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		} else {
			if under != nil && st == statusZero {
				under = nil // a zeroed grain hides the parent
			}
			done, err := e.allocate(g, p[:n], in, under)
			if err != nil {
				return err
			}
			if !done {
				continue // someone else allocated it: retry as a plain write
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

// allocate gives grain g a home at the end of the file and writes data (at
// in bytes into the grain) there, filling the rest from under when the
// grain may show parent content. It returns false, having done nothing,
// when another writer allocated the grain first.
func (e *sparseExtent) allocate(g int64, data []byte, in int64, under fillFunc) (bool, error) {
	e.mu.Lock()
	e.awaitAllocationLocked(g)
	gdi := g / e.gtEntries
	gt, err := e.tableLocked(gdi)
	if err != nil {
		e.mu.Unlock()
		return false, err
	}
	if gt != nil && gt[g%e.gtEntries] > 1 {
		e.mu.Unlock()
		return false, nil
	}
	if gt == nil {
		if err := e.newTableLocked(gdi); err != nil {
			e.mu.Unlock()
			return false, err
		}
		gt = e.gts[gdi]
	}
	sector := e.nextFree
	if sector+int64(e.hdr.grainSize) > 1<<32 {
		e.mu.Unlock()
		return false, fmt.Errorf("%w: %s: the sparse extent is full (grain offsets past 2 TiB cannot be recorded)", ErrUnsupported, e.name)
	}
	e.nextFree += int64(e.hdr.grainSize)
	e.limit.Store(e.nextFree)
	ch := make(chan struct{})
	e.inflight[g] = ch
	e.mu.Unlock()

	err = e.fillGrain(g, sector, data, in, under)

	e.mu.Lock()
	if err == nil {
		gt[g%e.gtEntries] = uint32(sector)
		e.dirtyGT[gdi] = true
	}
	delete(e.inflight, g)
	close(ch)
	e.mu.Unlock()
	return err == nil, err
}

// awaitAllocationLocked waits, with e.mu held on entry and on return,
// until no writer is allocating grain g: its table entry is then final
// for the caller to read.
func (e *sparseExtent) awaitAllocationLocked(g int64) {
	for {
		ch, busy := e.inflight[g]
		if !busy {
			return
		}
		e.mu.Unlock()
		<-ch
		e.mu.Lock()
	}
}

func (e *sparseExtent) fillGrain(g, sector int64, data []byte, in int64, under fillFunc) error {
	pos := sector * sectorSize
	if under == nil || (in == 0 && int64(len(data)) == e.grainBytes) {
		// Fresh space past the old end of file reads as zeros already.
		if len(data) == 0 {
			return nil
		}
		_, err := e.f.WriteAt(data, pos+in)
		return err
	}
	full := make([]byte, e.grainBytes)
	if err := under(full, g*e.grainBytes); err != nil {
		return err
	}
	copy(full[in:], data)
	_, err := e.f.WriteAt(full, pos)
	return err
}

// newTableLocked creates an empty grain table (and its redundant copy) for
// directory entry i at the end of the file. The directory entry becomes
// durable only after the table, in Flush.
func (e *sparseExtent) newTableLocked(i int64) error {
	copies := int64(1)
	if e.redundant {
		copies = 2
	}
	need := roundUp(copies*e.gtSectors(), 8)
	if e.nextFree+need > 1<<32 {
		return fmt.Errorf("%w: %s: no room for another grain table below 2 TiB", ErrUnsupported, e.name)
	}
	at := e.nextFree
	e.nextFree += need
	e.limit.Store(e.nextFree)
	e.gd[i] = uint32(at)
	e.gts[i] = make([]uint32, e.gtEntries)
	if e.redundant {
		e.rgd[i] = uint32(at + e.gtSectors())
	}
	e.dirtyGT[i] = true
	e.dirtyGD[i] = true
	return nil
}

// markZeroed sets the entry of unallocated grain g to 1 (zeroed grain).
func (e *sparseExtent) markZeroed(g int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.awaitAllocationLocked(g)
	gdi := g / e.gtEntries
	gt, err := e.tableLocked(gdi)
	if err != nil {
		return err
	}
	if gt == nil {
		if err := e.newTableLocked(gdi); err != nil {
			return err
		}
		gt = e.gts[gdi]
	}
	if gt[g%e.gtEntries] == 0 {
		gt[g%e.gtEntries] = 1
		e.dirtyGT[gdi] = true
	}
	return nil
}

// zero makes [off, off+n) read as zeros. Allocated data is punched in
// place, which needs no table change and so no crash ordering. Where a
// parent shows through, whole grains get a zeroed-grain entry (or an empty
// allocation, a hole) and partial grains a copy-on-write of zeros.
func (e *sparseExtent) zero(off, n int64, under fillFunc) error {
	if e.stream != nil {
		return e.stream.zero(off, n, under)
	}
	if err := e.checkWritable(); err != nil {
		return err
	}
	end := off + n
	for off < end {
		g := off / e.grainBytes
		in := off % e.grainBytes
		c := min(end-off, e.grainBytes-in)
		if under == nil && e.tableAbsent(g/e.gtEntries) {
			// Nothing stored and nothing under it: already zeros.
			off = min(end, (g/e.gtEntries+1)*e.gtEntries*e.grainBytes)
			continue
		}
		v, st, err := e.lookup(g)
		if err != nil {
			return err
		}
		whole := in == 0 && c == e.grainBytes
		switch {
		case st == statusData:
			err = zeroFileRange(e.f, int64(v)*sectorSize+in, c)
		case st == statusUnalloc && under != nil && whole && e.zeroedGrain:
			err = e.markZeroed(g)
		case st == statusUnalloc && under != nil && whole:
			var done bool
			if done, err = e.allocate(g, nil, 0, nil); err == nil && !done {
				continue
			}
		case st == statusUnalloc && under != nil:
			err = e.write(make([]byte, c), off, under)
		}
		if err != nil {
			return err
		}
		off += c
	}
	return nil
}

func (e *sparseExtent) discard(off, n int64) error {
	if e.stream != nil || e.readOnly {
		return nil
	}
	// Punch whole allocated grains; contents then read as zeros. Tables
	// stay unchanged so nothing about crash ordering changes.
	g0 := ceilDiv(off, e.grainBytes)
	g1 := (off + n) / e.grainBytes
	for g := g0; g < g1; g++ {
		if e.tableAbsent(g / e.gtEntries) {
			g = (g/e.gtEntries+1)*e.gtEntries - 1 // nothing stored here
			continue
		}
		v, err := e.gte(g)
		if err != nil {
			return err
		}
		if st, err := e.classify(g, v); err == nil && st == statusData {
			if err := zeroFileRange(e.f, int64(v)*sectorSize, e.grainBytes); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *sparseExtent) flush() error {
	if e.readOnly {
		return nil
	}
	if e.stream != nil {
		return e.stream.flush()
	}
	e.flushMu.Lock()
	defer e.flushMu.Unlock()
	type table struct {
		sector int64
		data   []byte
	}
	var tables, dirs []table
	e.mu.Lock()
	for i := range e.dirtyGT {
		b := encodeU32s(e.gts[i])
		tables = append(tables, table{int64(e.gd[i]), b})
		if e.redundant {
			tables = append(tables, table{int64(e.rgd[i]), b})
		}
	}
	for i := range e.dirtyGD {
		// Rewrite the whole sector holding entry i, from memory.
		first := i / (sectorSize / 4) * (sectorSize / 4)
		last := min(first+sectorSize/4, e.numGDEs)
		dirs = append(dirs, table{int64(e.hdr.gdOffset) + first*4/sectorSize, encodeU32s(e.gd[first:last])})
		if e.redundant {
			dirs = append(dirs, table{int64(e.hdr.rgdOffset) + first*4/sectorSize, encodeU32s(e.rgd[first:last])})
		}
	}
	dirtyGT, dirtyGD := e.dirtyGT, e.dirtyGD
	e.dirtyGT, e.dirtyGD = map[int64]bool{}, map[int64]bool{}
	// Make the file cover every reserved grain, so no table entry can
	// point past the end of the file once it is written.
	var err error
	if want := e.nextFree * sectorSize; e.fileSectors()*sectorSize < want {
		err = e.f.Truncate(want)
	}
	e.mu.Unlock()
	redirty := func() {
		e.mu.Lock()
		for i := range dirtyGT {
			e.dirtyGT[i] = true
		}
		for i := range dirtyGD {
			e.dirtyGD[i] = true
		}
		e.mu.Unlock()
	}
	writeTables := func(ts []table) {
		for _, t := range ts {
			if err != nil {
				return
			}
			_, err = e.f.WriteAt(t.data, t.sector*sectorSize)
		}
	}
	if err == nil {
		err = fdatasync(e.f) // barrier 1: data before tables
	}
	writeTables(tables)
	if err == nil && len(dirs) > 0 {
		err = fdatasync(e.f) // barrier 2: tables before directory
		writeTables(dirs)
	}
	if err == nil && len(tables) > 0 {
		err = fdatasync(e.f) // barrier 3: the flush itself
	}
	if err != nil {
		redirty()
		return fmt.Errorf("%s: flush: %w", e.name, err)
	}
	return nil
}

func (e *sparseExtent) close() error {
	if e.readOnly {
		return e.f.Close()
	}
	err := e.flush()
	if e.stream != nil && err == nil {
		err = e.stream.finish()
	}
	if err == nil && e.marked {
		e.hdr.uncleanShutdown = 0
		if e.stream != nil {
			err = e.stream.writeHeader()
		} else if _, err = e.f.WriteAt(e.hdr.encode(), 0); err == nil {
			err = fdatasync(e.f)
		}
	}
	return errors.Join(err, e.f.Close())
}

func (e *sparseExtent) files() []string { return []string{e.name} }

func fdatasync(f *os.File) error { return f.Sync() }

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func roundUp(a, b int64) int64 { return ceilDiv(a, b) * b }
