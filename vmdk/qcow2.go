package vmdk

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
)

// qcow2Extent reads qcow2 version 2 and 3 images (convert's source side):
// standard, zero and deflate-compressed clusters and a backing file.
// Encryption, external data files, extended L2 entries and zstd are
// refused with ErrUnsupported.
type qcow2Extent struct {
	f           *os.File
	name        string
	clusterBits uint
	bytes       int64
	l1          []uint64
	backing     string
	fileSize    int64

	mu  sync.Mutex
	l2s map[uint64][]uint64
}

const (
	qcowOffsetMask   = 0x00fffffffffffe00
	qcowCompressed   = 1 << 62
	qcowZeroFlag     = 1
	qcowMaxL1Entries = 32 << 20
)

func openQCOW2(f *os.File, name string, _ OpenOptions) (*qcow2Extent, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := make([]byte, 112)
	if err := preadFull(f, h, 0); err != nil {
		return nil, err
	}
	be := binary.BigEndian
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: qcow2 header: %s", ErrCorrupt, name, fmt.Sprintf(format, args...))
	}
	version := be.Uint32(h[4:])
	if version != 2 && version != 3 {
		return nil, fmt.Errorf("%w: %s: qcow2 version %d", ErrUnsupported, name, version)
	}
	backingOff, backingLen := be.Uint64(h[8:]), be.Uint32(h[16:])
	clusterBits := be.Uint32(h[20:])
	size := be.Uint64(h[24:])
	crypt := be.Uint32(h[32:])
	l1Size, l1Off := be.Uint32(h[36:]), be.Uint64(h[40:])
	if clusterBits < 9 || clusterBits > 21 {
		return nil, bad("cluster bits %d outside 9..21", clusterBits)
	}
	if size > maxVirtualSectors*sectorSize {
		return nil, bad("virtual size %d is too large", size)
	}
	if crypt != 0 {
		return nil, fmt.Errorf("%w: %s: encrypted qcow2", ErrUnsupported, name)
	}
	if version == 3 {
		incompat := be.Uint64(h[72:])
		if incompat&^0x3 != 0 {
			if incompat&(1<<3) != 0 && h[104] == 0 {
				incompat &^= 1 << 3
			}
			if incompat&^0x3 != 0 {
				return nil, fmt.Errorf("%w: %s: qcow2 incompatible features %#x (external data, extended L2 or zstd)", ErrUnsupported, name, incompat)
			}
		}
	}
	cluster := int64(1) << clusterBits
	l2Entries := cluster / 8
	need := (int64(size) + cluster*l2Entries - 1) / (cluster * l2Entries)
	if int64(l1Size) < need || l1Size > qcowMaxL1Entries {
		return nil, bad("L1 table of %d entries cannot map %d bytes", l1Size, size)
	}
	if l1Off%8 != 0 || int64(l1Off)+int64(l1Size)*8 > st.Size() {
		return nil, bad("L1 table at %d lies outside the file", l1Off)
	}
	raw := make([]byte, int64(l1Size)*8)
	if err := preadFull(f, raw, int64(l1Off)); err != nil {
		return nil, err
	}
	l1 := make([]uint64, l1Size)
	for i := range l1 {
		l1[i] = be.Uint64(raw[i*8:])
	}
	q := &qcow2Extent{f: f, name: name, clusterBits: uint(clusterBits), bytes: int64(size), l1: l1, l2s: map[uint64][]uint64{}, fileSize: st.Size()}
	if backingOff != 0 {
		if backingLen == 0 || backingLen > 1023 || int64(backingOff)+int64(backingLen) > st.Size() {
			return nil, bad("backing file name at %d (%d bytes) is invalid", backingOff, backingLen)
		}
		b := make([]byte, backingLen)
		if err := preadFull(f, b, int64(backingOff)); err != nil {
			return nil, err
		}
		q.backing = string(b)
	}
	return q, nil
}

func (q *qcow2Extent) clusterSize() int64 { return 1 << q.clusterBits }

func (q *qcow2Extent) l2(i int64) ([]uint64, error) {
	if i >= int64(len(q.l1)) {
		return nil, nil
	}
	off := q.l1[i] & qcowOffsetMask
	if off == 0 {
		return nil, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if t, ok := q.l2s[off]; ok {
		return t, nil
	}
	if int64(off)+q.clusterSize() > q.fileSize {
		return nil, fmt.Errorf("%w: %s: L2 table at %d lies past the end of the file", ErrCorrupt, q.name, off)
	}
	raw := make([]byte, q.clusterSize())
	if err := preadFull(q.f, raw, int64(off)); err != nil {
		return nil, err
	}
	t := make([]uint64, len(raw)/8)
	for j := range t {
		t[j] = binary.BigEndian.Uint64(raw[j*8:])
	}
	if len(q.l2s) > 256 {
		clear(q.l2s)
	}
	q.l2s[off] = t
	return t, nil
}

// entry returns the L2 entry of the cluster holding off (0 if none).
func (q *qcow2Extent) entry(off int64) (uint64, error) {
	c := off >> q.clusterBits
	per := q.clusterSize() / 8
	t, err := q.l2(c / per)
	if err != nil || t == nil {
		return 0, err
	}
	return t[c%per], nil
}

func (q *qcow2Extent) classify(e uint64) blockStatus {
	switch {
	case e&qcowCompressed != 0:
		return statusData
	case e&qcowZeroFlag != 0:
		return statusZero
	case e&qcowOffsetMask == 0:
		return statusUnalloc
	}
	return statusData
}

func (q *qcow2Extent) size() int64 { return q.bytes }

func (q *qcow2Extent) read(p []byte, off int64, under fillFunc) error {
	cs := q.clusterSize()
	for len(p) > 0 {
		in := off % cs
		n := min(int64(len(p)), cs-in)
		e, err := q.entry(off)
		if err != nil {
			return err
		}
		switch {
		case e&qcowCompressed != 0:
			c, err := q.inflate(e)
			if err != nil {
				return err
			}
			copy(p[:n], c[in:])
		case q.classify(e) == statusZero:
			clear(p[:n])
		case q.classify(e) == statusUnalloc:
			if err := under(p[:n], off); err != nil {
				return err
			}
		default:
			host := int64(e & qcowOffsetMask)
			if host+cs > q.fileSize+cs {
				return fmt.Errorf("%w: %s: cluster at %d lies past the end of the file", ErrCorrupt, q.name, host)
			}
			if err := preadFull(q.f, p[:n], host+in); err != nil {
				return err
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

func (q *qcow2Extent) inflate(e uint64) ([]byte, error) {
	x := 62 - (q.clusterBits - 8)
	host := int64(e & (1<<x - 1))
	sectors := int64((e >> x) & (1<<(62-x) - 1))
	size := (sectors+1)*sectorSize - host%sectorSize
	if host+size > q.fileSize+sectorSize || size > 2*q.clusterSize()+sectorSize {
		return nil, fmt.Errorf("%w: %s: compressed cluster at %d (%d bytes) lies outside the file", ErrCorrupt, q.name, host, size)
	}
	buf := make([]byte, size)
	if err := preadFull(q.f, buf, host); err != nil {
		return nil, err
	}
	// qcow2 rounds the compressed size up to sectors, so the deflate
	// stream may be followed by unrelated bytes: read exactly a cluster.
	out := make([]byte, q.clusterSize())
	if _, err := io.ReadFull(flate.NewReader(bytes.NewReader(buf)), out); err != nil {
		return nil, fmt.Errorf("%w: %s: compressed cluster at %d: %w", ErrCorrupt, q.name, host, err)
	}
	return out, nil
}

func (q *qcow2Extent) status(off, n int64) (blockStatus, int64, error) {
	e, err := q.entry(off)
	if err != nil {
		return 0, 0, err
	}
	return q.classify(e), min(n, q.clusterSize()-off%q.clusterSize()), nil
}

func (q *qcow2Extent) where(off int64) (string, int64) {
	e, err := q.entry(off)
	if err != nil || e&qcowCompressed != 0 || q.classify(e) != statusData {
		return "", 0
	}
	return q.name, int64(e&qcowOffsetMask) + off%q.clusterSize()
}

func (q *qcow2Extent) write([]byte, int64, fillFunc) error { return q.denied() }
func (q *qcow2Extent) zero(int64, int64, fillFunc) error   { return q.denied() }
func (q *qcow2Extent) discard(int64, int64) error          { return nil }
func (q *qcow2Extent) flush() error                        { return nil }
func (q *qcow2Extent) close() error                        { return q.f.Close() }
func (q *qcow2Extent) files() []string                     { return []string{q.name} }
func (q *qcow2Extent) denied() error {
	return fmt.Errorf("%w: %s: qcow2 images are read-only here", ErrReadOnly, q.name)
}
