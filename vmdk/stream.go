package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zlib"
)

// streamOptimized files hold zlib-compressed grain records in any order,
// grain tables and the grain directory after the grains (each behind a
// marker), a footer (a copy of the header with the real directory offset)
// and an end-of-stream marker. The header's gdOffset says GD_AT_END.
//
// Writing: grains are assembled in memory, compressed in parallel and
// appended; Flush appends the tables, directory, footer and EOS, and the
// next write truncates that tail again (a crash then leaves records
// without a tail, which check --repair rebuilds by scanning the records:
// each carries its LBA). Close rewrites the file in LBA order if grains were
// rewritten or appended out of order, so the result is a clean stream that
// ESXi imports.

// streamBatch is how many complete grains are compressed together.
const streamBatch = 64

type pendingGrain struct {
	data    []byte
	covered []uint64 // one bit per sector
}

func (p *pendingGrain) full() bool {
	for _, w := range p.covered {
		if w != ^uint64(0) {
			return false
		}
	}
	return true
}

type streamWriter struct {
	e           *sparseExtent
	mu          sync.Mutex
	dirty       map[int64]*pendingGrain
	appendPos   int64 // sector
	tailAt      int64 // sector where our last tail starts; -1: none to drop
	needCompact bool
	// compactOnWrite: the file's layout (someone else's, or ours with
	// grains already in it) must be rewritten at Close once appended to.
	compactOnWrite bool
	lastGrain      int64
	changed        bool // records appended since the last tail
	headerAtEnd    bool // the header says GD_AT_END
	level          int  // zlib level of new grains
	// Kept from one batch to the next so that steady streaming allocates
	// nothing per grain: emitted grain buffers, record buffers, one zlib
	// writer per compressing goroutine, and the slices of one emit.
	freeGrains []*pendingGrain
	recMu      sync.Mutex // freeRecs, taken from while compressing
	freeRecs   []*bytes.Buffer
	zws        []*zlib.Writer
	ready      []int64
	records    []*bytes.Buffer
	errs       []error
	out        []byte
}

// enableStreamWrites turns a compressed sparse extent opened for writing
// into an append-only stream. All tables are loaded: stream metadata lives
// at the end of the file and is rewritten whole on every Flush.
func (e *sparseExtent) enableStreamWrites(headerAtEnd bool, level int) error {
	for i := range e.gts {
		gt, err := e.tableLocked(int64(i))
		if err != nil {
			return err
		}
		if gt != nil {
			// Stream directory sectors are recomputed on every tail.
			e.gts[i] = slices.Clone(gt)
		}
	}
	s := &streamWriter{e: e, dirty: map[int64]*pendingGrain{}, tailAt: -1, lastGrain: -1, headerAtEnd: headerAtEnd, level: level}
	size := e.fileSectors()
	empty := true
	for _, gt := range e.gts {
		for _, v := range gt {
			if v != 0 {
				empty = false
			}
		}
	}
	switch {
	case empty && headerAtEnd:
		// Only the tail follows the descriptor: the first write drops it.
		s.appendPos = e.streamDataStart()
		s.tailAt = s.appendPos
	case empty:
		s.appendPos, s.compactOnWrite = max(size, e.streamDataStart()), true
	default:
		s.appendPos, s.compactOnWrite = size, true
	}
	e.stream = s
	return nil
}

// streamDataStart is where our stream layout puts the first grain record:
// the header's overHead, one grain in (VMware's layout).
func (e *sparseExtent) streamDataStart() int64 {
	return max(int64(e.hdr.overHead), e.dataStart)
}

func (s *streamWriter) read(p []byte, off int64, under fillFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.e
	for len(p) > 0 {
		g := off / e.grainBytes
		in := off % e.grainBytes
		n := min(int64(len(p)), e.grainBytes-in)
		if pg := s.dirty[g]; pg != nil {
			copy(p[:n], pg.data[in:])
		} else if err := s.readStored(p[:n], off, under); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// pending reports whether grain g has writes not yet compressed.
func (s *streamWriter) pending(g int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirty[g] != nil
}

// readStored reads within one grain from the records on disk.
func (s *streamWriter) readStored(p []byte, off int64, under fillFunc) error {
	e := s.e
	g := off / e.grainBytes
	v := e.entryLocked(g)
	st, err := e.classify(g, v)
	if err != nil {
		return err
	}
	switch st {
	case statusZero:
		clear(p)
	case statusUnalloc:
		if under == nil {
			clear(p)
			return nil
		}
		return under(p, off)
	default:
		b, err := e.grain(g, v)
		if err != nil {
			return err
		}
		copy(p, b[off%e.grainBytes:])
	}
	return nil
}

// entryLocked reads an in-memory entry; stream tables are all loaded.
func (e *sparseExtent) entryLocked(g int64) uint32 {
	gt := e.gts[g/e.gtEntries]
	if gt == nil {
		return 0
	}
	return gt[g%e.gtEntries]
}

func (s *streamWriter) write(p []byte, off int64, under fillFunc) error {
	if err := s.e.checkWritable(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.e
	for len(p) > 0 {
		g := off / e.grainBytes
		in := off % e.grainBytes
		n := min(int64(len(p)), e.grainBytes-in)
		pg := s.dirty[g]
		if pg == nil {
			// A recycled grain's data is overwritten whole, by p or by
			// the stored grain below.
			if k := len(s.freeGrains); k > 0 {
				pg, s.freeGrains = s.freeGrains[k-1], s.freeGrains[:k-1]
				clear(pg.covered)
			} else {
				pg = &pendingGrain{data: make([]byte, e.grainBytes), covered: make([]uint64, (e.hdr.grainSize+63)/64)}
			}
			if in != 0 || n != e.grainBytes {
				if err := s.readStored(pg.data, g*e.grainBytes, under); err != nil {
					return err
				}
			}
			s.dirty[g] = pg
		}
		copy(pg.data[in:], p[:n])
		for sec := in / sectorSize; sec < ceilDiv(in+n, sectorSize); sec++ {
			pg.covered[sec/64] |= 1 << (sec % 64)
		}
		p, off = p[n:], off+n
	}
	return s.emitIfDue()
}

func (s *streamWriter) zero(off, n int64, under fillFunc) error {
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		c := min(n, int64(len(buf)))
		if err := s.write(buf[:c], off, under); err != nil {
			return err
		}
		off, n = off+c, n-c
	}
	return nil
}

// emitIfDue compresses complete grains once a batch is ready, or all
// pending grains when too many partial ones accumulate.
func (s *streamWriter) emitIfDue() error {
	ready := s.ready[:0]
	for g, pg := range s.dirty {
		if pg.full() {
			ready = append(ready, g)
		}
	}
	s.ready = ready
	if len(ready) >= streamBatch {
		return s.emit(ready)
	}
	if len(s.dirty) >= 4*streamBatch {
		return s.emit(nil)
	}
	return nil
}

// emit compresses grains (all pending ones when nil) in parallel and
// appends their records in LBA order.
func (s *streamWriter) emit(grains []int64) error {
	e := s.e
	if grains == nil {
		grains = s.ready[:0]
		for g := range s.dirty {
			grains = append(grains, g)
		}
		s.ready = grains
	}
	if len(grains) == 0 {
		return nil
	}
	slices.Sort(grains)
	records := slices.Grow(s.records[:0], len(grains))[:len(grains)]
	errs := slices.Grow(s.errs[:0], len(grains))[:len(grains)]
	clear(records)
	clear(errs)
	s.records, s.errs = records, errs
	// Every goroutine takes the next grain until none is left: grains
	// compress at different speeds, so fixed shares would leave a core
	// idle at the end of each batch.
	workers := min(runtime.GOMAXPROCS(0), len(grains))
	for len(s.zws) < workers {
		s.zws = append(s.zws, nil)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(grains); i = int(next.Add(1) - 1) {
				g := grains[i]
				pg := s.dirty[g]
				if e.entryLocked(g) <= 1 && isZero(pg.data) {
					continue // nothing stored and nothing to store
				}
				records[i], errs[i] = s.compress(w, g, pg.data)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !slices.ContainsFunc(records, func(r *bytes.Buffer) bool { return r != nil }) {
		for _, g := range grains {
			s.release(g) // all zero over nothing: nothing to store
		}
		return nil
	}
	if s.tailAt >= 0 {
		if err := e.f.Truncate(s.tailAt * sectorSize); err != nil {
			return fmt.Errorf("%s: dropping the old tail: %w", e.name, err)
		}
		s.appendPos, s.tailAt = s.tailAt, -1
	}
	out := s.out[:0]
	start := s.appendPos
	pos := start
	for i, g := range grains {
		s.release(g)
		if records[i] == nil {
			continue
		}
		if old := e.entryLocked(g); old > 1 || g < s.lastGrain {
			s.needCompact = true
		}
		s.lastGrain = max(s.lastGrain, g)
		if err := s.setEntry(g, uint32(pos)); err != nil {
			return err
		}
		out = append(out, records[i].Bytes()...)
		pos += int64(records[i].Len()) / sectorSize
		s.putRec(records[i])
		records[i] = nil
	}
	if pos >= 1<<32 {
		return fmt.Errorf("%w: %s: stream grows past 2 TiB", ErrUnsupported, e.name)
	}
	if len(out) > 0 {
		if _, err := e.f.WriteAt(out, start*sectorSize); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		s.changed = true
		s.needCompact = s.needCompact || s.compactOnWrite
	}
	s.appendPos = pos
	s.out = out
	if pos > e.limit.Load() {
		e.limit.Store(pos)
	}
	e.cacheMu.Lock()
	clear(e.cache)
	e.order = e.order[:0]
	e.cacheMu.Unlock()
	return nil
}

// release forgets pending grain g and keeps its buffer for the next
// grains (as many as one batch needs).
func (s *streamWriter) release(g int64) {
	if pg := s.dirty[g]; pg != nil {
		if len(s.freeGrains) < 2*streamBatch {
			s.freeGrains = append(s.freeGrains, pg)
		}
		delete(s.dirty, g)
	}
}

func (s *streamWriter) setEntry(g int64, v uint32) error {
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	i := g / e.gtEntries
	if e.gts[i] == nil {
		e.gts[i] = make([]uint32, e.gtEntries)
	}
	e.gts[i][g%e.gtEntries] = v
	return nil
}

// compress builds the record of grain g: u64 LBA, u32 size, zlib data,
// zero padding to a sector. It runs as compressing goroutine w of an emit,
// with that goroutine's zlib writer, in a record buffer from freeRecs.
func (s *streamWriter) compress(w int, g int64, data []byte) (*bytes.Buffer, error) {
	buf := s.takeRec()
	var head [12]byte
	binary.LittleEndian.PutUint64(head[:], uint64(g*int64(s.e.hdr.grainSize)))
	buf.Write(head[:])
	zw := s.zws[w]
	if zw == nil {
		var err error
		if zw, err = zlib.NewWriterLevel(buf, s.level); err != nil {
			return nil, err
		}
		s.zws[w] = zw
	} else {
		zw.Reset(buf)
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	n := buf.Len()
	binary.LittleEndian.PutUint32(buf.Bytes()[8:], uint32(n-len(head)))
	var pad [sectorSize]byte
	buf.Write(pad[:roundUp(int64(n), sectorSize)-int64(n)])
	return buf, nil
}

// takeRec returns an empty record buffer.
func (s *streamWriter) takeRec() *bytes.Buffer {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	k := len(s.freeRecs)
	if k == 0 {
		return bytes.NewBuffer(make([]byte, 0, s.e.grainBytes/2))
	}
	buf := s.freeRecs[k-1]
	s.freeRecs = s.freeRecs[:k-1]
	buf.Reset()
	return buf
}

// putRec keeps a written record's buffer for the next batches.
func (s *streamWriter) putRec(buf *bytes.Buffer) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if len(s.freeRecs) < 2*streamBatch {
		s.freeRecs = append(s.freeRecs, buf)
	}
}

// flush makes every write so far durable: pending grains, then the tail.
func (s *streamWriter) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.emit(nil); err != nil {
		return err
	}
	if !s.changed {
		return nil // the tail on disk describes everything
	}
	e := s.e
	tail, gdSector, err := s.buildTail(s.appendPos)
	if err != nil {
		return err
	}
	if err := fdatasync(e.f); err != nil { // records before the tail
		return fmt.Errorf("%s: flush: %w", e.name, err)
	}
	if _, err := e.f.WriteAt(tail, s.appendPos*sectorSize); err != nil {
		return fmt.Errorf("%s: writing the stream tail: %w", e.name, err)
	}
	if err := e.f.Truncate(s.appendPos*sectorSize + int64(len(tail))); err != nil {
		return err
	}
	if err := fdatasync(e.f); err != nil {
		return fmt.Errorf("%s: flush: %w", e.name, err)
	}
	e.hdr.gdOffset = uint64(gdSector)
	s.tailAt, s.changed = s.appendPos, false
	if !s.headerAtEnd {
		// A front-directory stream (qemu's layout) becomes a footer one.
		s.headerAtEnd = true
		if err := s.writeHeader(); err != nil {
			return err
		}
	}
	return nil
}

// buildTail renders the tail for the current tables, placed at sector at,
// and makes its directory the extent's.
func (s *streamWriter) buildTail(at int64) ([]byte, int64, error) {
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	out, gd, gdSector := streamTail(e.streamHeader(), e.gts, at)
	e.gd = gd
	return out, gdSector, nil
}

// streamTail renders what ends a stream placed at sector at: a GT marker
// and table for every non-empty table, the GD marker and directory, the
// footer marker and footer (h with the directory's offset), and the EOS
// marker. It returns the bytes, the directory and its sector.
func streamTail(h sparseHeader, gts [][]uint32, at int64) ([]byte, []uint32, int64) {
	gd := make([]uint32, h.numGDEs())
	gtSectors := ceilDiv(int64(h.numGTEsPerGT)*4, sectorSize)
	var out []byte
	pos := at
	for i, gt := range gts {
		if gt == nil || isZeroU32(gt) {
			continue
		}
		out = append(out, encodeMarker(uint64(gtSectors), markerGT)...)
		gd[i] = uint32(pos + 1)
		out = append(out, padSector(encodeU32s(gt))...)
		pos += 1 + gtSectors
	}
	out = append(out, encodeMarker(uint64(ceilDiv(int64(len(gd))*4, sectorSize)), markerGD)...)
	gdSector := pos + 1
	out = append(out, padSector(encodeU32s(gd))...)
	out = append(out, encodeMarker(1, markerFooter)...)
	h.gdOffset = uint64(gdSector)
	// The flag lives in the header; a footer describes a complete stream.
	h.uncleanShutdown = 0
	out = append(out, h.encode()...)
	out = append(out, encodeMarker(0, markerEOS)...)
	return out, gd, gdSector
}

// streamHeader is the header as a stream file stores it at sector 0.
func (e *sparseExtent) streamHeader() sparseHeader { return asStreamHeader(e.hdr) }

// asStreamHeader turns h into a stream's header: directory at the end
// (the footer has the real offset), no redundant copy, version 3.
func asStreamHeader(h sparseHeader) sparseHeader {
	h.gdOffset = gdAtEnd
	h.rgdOffset = 0
	h.flags &^= flagRedundantGT
	h.version = 3
	return h
}

func (s *streamWriter) writeHeader() error {
	h := s.e.streamHeader()
	if _, err := s.e.f.WriteAt(h.encode(), 0); err != nil {
		return fmt.Errorf("%s: writing header: %w", s.e.name, err)
	}
	return fdatasync(s.e.f)
}

// finish runs at Close, after flush: it rewrites the file as a clean
// stream when records were superseded or are out of order.
func (s *streamWriter) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.needCompact {
		return nil
	}
	e := s.e
	dir := filepath.Dir(e.name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(e.name)+".compact-*")
	if err != nil {
		return fmt.Errorf("%s: compacting: %w", e.name, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := e.streamHeader()
	h.uncleanShutdown = 0
	desc := make([]byte, int64(h.descriptorSize)*sectorSize)
	if err := preadFull(e.f, desc, int64(h.descriptorOffset)*sectorSize); err != nil {
		return err
	}
	start := s.e.streamDataStart()
	pre := make([]byte, start*sectorSize)
	copy(pre, h.encode())
	copy(pre[int64(h.descriptorOffset)*sectorSize:], desc)
	if _, err := tmp.Write(pre); err != nil {
		return err
	}
	pos := start
	newGTs := make([][]uint32, len(e.gts))
	for i, gt := range e.gts {
		if gt == nil {
			continue
		}
		for j, v := range gt {
			if v == 0 {
				continue
			}
			if newGTs[i] == nil {
				newGTs[i] = make([]uint32, e.gtEntries)
			}
			if v == 1 {
				newGTs[i][j] = 1
				continue
			}
			g := int64(i)*e.gtEntries + int64(j)
			_, recLen, err := readCompressedGrain(e.f, int64(v), e.grainBytes, true, g*int64(e.hdr.grainSize))
			if err != nil {
				return fmt.Errorf("%s: compacting grain %d: %w", e.name, g, err)
			}
			rec := make([]byte, roundUp(recLen, sectorSize))
			if err := preadFull(e.f, rec, int64(v)*sectorSize); err != nil {
				return err
			}
			clear(rec[recLen:])
			if _, err := tmp.Write(rec); err != nil {
				return err
			}
			newGTs[i][j] = uint32(pos)
			pos += int64(len(rec)) / sectorSize
		}
	}
	e.gts = newGTs
	tail, _, err := s.buildTail(pos)
	if err != nil {
		return err
	}
	if _, err := tmp.Write(tail); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), e.name); err != nil {
		return fmt.Errorf("%s: replacing with the compacted stream: %w", e.name, err)
	}
	syncDir(dir)
	// The old inode is gone; keep the handle valid for Close to release.
	e.marked = false
	s.needCompact = false
	return nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func isZeroU32(v []uint32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func padSector(b []byte) []byte {
	return append(b, make([]byte, roundUp(int64(len(b)), sectorSize)-int64(len(b)))...)
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// readFooter finds the footer of a GD_AT_END stream: footer marker,
// footer, EOS as the last three sectors, or with trailing padding after the
// EOS (tar, partial downloads) within the last MiB.
func readFooter(f *os.File, fileSize int64) (sparseHeader, error) {
	const scan = 1 << 20
	start := max(0, fileSize-scan) / sectorSize * sectorSize
	buf := make([]byte, fileSize-start)
	if err := preadFull(f, buf, start); err != nil {
		return sparseHeader{}, err
	}
	for end := int64(len(buf)) / sectorSize * sectorSize; end >= 3*sectorSize; end -= sectorSize {
		eos := decodeMarker(buf[end-sectorSize:])
		if eos.val != 0 || eos.size != 0 || eos.typ != markerEOS {
			continue
		}
		fm := decodeMarker(buf[end-3*sectorSize:])
		if fm.size != 0 || fm.typ != markerFooter {
			continue
		}
		h := decodeSparseHeader(buf[end-2*sectorSize:])
		if h.magic != sparseMagic {
			continue
		}
		return h, nil
	}
	return sparseHeader{}, fmt.Errorf("%w: stream has no footer (footer marker, footer, end-of-stream marker) at its end; run check --repair", ErrCorrupt)
}
