package vmdk

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
)

// seSparse (ESXi 6.5+ snapshots) is not publicly documented; this reader
// accepts exactly what qemu's does: the constant header below with grain
// size 8 sectors, 4096-entry u64 grain tables, no flags and a volatile
// header with no journal left to replay. Read-only.
const (
	seSparseMagic         = 0x00000000cafebabe
	seSparseVolatileMagic = 0x00000000cafecafe
	seSparseVersion       = 0x0000000200000001
	seGTEntries           = 4096
	seGrainSectors        = 8
	seMaxGDEntries        = 32 << 20
)

type seSparseExtent struct {
	f           *os.File
	name        string
	capBytes    int64
	gd          []uint64
	gtSector    int64 // grain tables area
	grainSector int64 // grains area

	mu  sync.Mutex
	gts map[int64][]uint64
}

func openSESparse(f *os.File, name string) (*seSparseExtent, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 2*sectorSize)
	if err := preadFull(f, b[:sectorSize], 0); err != nil {
		return nil, err
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[i*8:]) }
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: seSparse header: %s", ErrCorrupt, name, fmt.Sprintf(format, args...))
	}
	switch {
	case u(0) != seSparseMagic:
		return nil, bad("magic %#x", u(0))
	case u(1) != seSparseVersion:
		return nil, fmt.Errorf("%w: %s: seSparse version %#x", ErrUnsupported, name, u(1))
	case u(3) != seGrainSectors || u(4) != seGTEntries*8/sectorSize || u(5) != 0:
		return nil, fmt.Errorf("%w: %s: seSparse grain size %d, table size %d, flags %#x", ErrUnsupported, name, u(3), u(4), u(5))
	}
	capacity, volOff := u(2), u(10)
	gdOff, gdSize, gtOff, grainsOff := u(16), u(17), u(18), u(24)
	fileSectors := uint64(st.Size() / sectorSize)
	if capacity == 0 || capacity > maxVirtualSectors {
		return nil, bad("capacity %d sectors", capacity)
	}
	if volOff == 0 || volOff >= fileSectors {
		return nil, bad("volatile header at sector %d is outside the file", volOff)
	}
	if err := preadFull(f, b[sectorSize:], int64(volOff)*sectorSize); err != nil {
		return nil, err
	}
	vol := b[sectorSize:]
	if binary.LittleEndian.Uint64(vol) != seSparseVolatileMagic {
		return nil, bad("volatile header magic %#x", binary.LittleEndian.Uint64(vol))
	}
	if binary.LittleEndian.Uint64(vol[24:]) != 0 {
		return nil, fmt.Errorf("%w: %s: seSparse journal needs replaying (the image is dirty)", ErrUnsupported, name)
	}
	entries := gdSize * sectorSize / 8
	cover := uint64(seGTEntries * seGrainSectors)
	if entries > seMaxGDEntries || entries < (capacity+cover-1)/cover {
		return nil, bad("grain directory of %d sectors does not map %d sectors", gdSize, capacity)
	}
	if gdOff == 0 || gdOff+gdSize > fileSectors || gtOff > fileSectors || grainsOff > fileSectors {
		return nil, bad("directory, tables or grains lie outside the %d-sector file", fileSectors)
	}
	raw := make([]byte, entries*8)
	if err := preadFull(f, raw, int64(gdOff)*sectorSize); err != nil {
		return nil, err
	}
	gd := make([]uint64, entries)
	for i := range gd {
		gd[i] = binary.LittleEndian.Uint64(raw[i*8:])
	}
	return &seSparseExtent{f: f, name: name, capBytes: int64(capacity) * sectorSize, gd: gd,
		gtSector: int64(gtOff), grainSector: int64(grainsOff), gts: map[int64][]uint64{}}, nil
}

const seGrainBytes = seGrainSectors * sectorSize

func (e *seSparseExtent) table(i int64) ([]uint64, error) {
	v := e.gd[i]
	if v == 0 {
		return nil, nil
	}
	if v&0xffffffff00000000 != 0x1000000000000000 {
		return nil, fmt.Errorf("%w: %s: grain directory entry %d is %#x", ErrCorrupt, e.name, i, v)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if gt, ok := e.gts[i]; ok {
		return gt, nil
	}
	raw := make([]byte, seGTEntries*8)
	if err := preadFull(e.f, raw, (e.gtSector+int64(v&0xffffffff)*seGTEntries*8/sectorSize)*sectorSize); err != nil {
		return nil, err
	}
	gt := make([]uint64, seGTEntries)
	for j := range gt {
		gt[j] = binary.LittleEndian.Uint64(raw[j*8:])
	}
	if len(e.gts) > 1024 {
		clear(e.gts)
	}
	e.gts[i] = gt
	return gt, nil
}

// lookup returns the status of grain g and, for data, its byte offset.
func (e *seSparseExtent) lookup(g int64) (blockStatus, int64, error) {
	gt, err := e.table(g / seGTEntries)
	if err != nil || gt == nil {
		return statusUnalloc, 0, err
	}
	v := gt[g%seGTEntries]
	switch v >> 60 {
	case 0:
		if v != 0 {
			return 0, 0, fmt.Errorf("%w: %s: grain %d entry %#x", ErrCorrupt, e.name, g, v)
		}
		return statusUnalloc, 0, nil
	case 1, 2:
		return statusZero, 0, nil
	case 3:
		idx := int64((v&0x0fff000000000000)>>48 | (v&0x0000ffffffffffff)<<12)
		return statusData, (e.grainSector + idx*seGrainSectors) * sectorSize, nil
	}
	return 0, 0, fmt.Errorf("%w: %s: grain %d entry %#x", ErrCorrupt, e.name, g, v)
}

func (e *seSparseExtent) size() int64 { return e.capBytes }

func (e *seSparseExtent) read(p []byte, off int64, under fillFunc) error {
	for len(p) > 0 {
		g := off / seGrainBytes
		n := min(int64(len(p)), seGrainBytes-off%seGrainBytes)
		st, pos, err := e.lookup(g)
		if err != nil {
			return err
		}
		switch st {
		case statusData:
			err = preadFull(e.f, p[:n], pos+off%seGrainBytes)
		case statusZero:
			clear(p[:n])
		default:
			err = under(p[:n], off)
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

func (e *seSparseExtent) status(off, n int64) (blockStatus, int64, error) {
	st, _, err := e.lookup(off / seGrainBytes)
	return st, min(n, seGrainBytes-off%seGrainBytes), err
}

func (e *seSparseExtent) where(off int64) (string, int64) {
	st, pos, err := e.lookup(off / seGrainBytes)
	if err != nil || st != statusData {
		return "", 0
	}
	return e.name, pos + off%seGrainBytes
}

func (e *seSparseExtent) write([]byte, int64, fillFunc) error { return e.denied() }
func (e *seSparseExtent) zero(int64, int64, fillFunc) error   { return e.denied() }
func (e *seSparseExtent) discard(int64, int64) error          { return nil }
func (e *seSparseExtent) flush() error                        { return nil }
func (e *seSparseExtent) close() error                        { return e.f.Close() }
func (e *seSparseExtent) files() []string                     { return []string{e.name} }
func (e *seSparseExtent) denied() error {
	return fmt.Errorf("%w: %s: seSparse extents are read-only", ErrReadOnly, e.name)
}
