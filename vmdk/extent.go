package vmdk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// blockStatus is the allocation state of a range of an extent.
type blockStatus int

const (
	// statusData: the extent holds data for the range.
	statusData blockStatus = iota
	// statusZero: the range reads as zeros and hides any parent.
	statusZero
	// statusUnalloc: the extent holds nothing; a parent, if any, shows
	// through, else the range reads as zeros.
	statusUnalloc
)

func (s blockStatus) String() string {
	switch s {
	case statusData:
		return "data"
	case statusZero:
		return "zero"
	default:
		return "unallocated"
	}
}

// fillFunc supplies what lies under an extent: it fills p with the content
// at extent offset off from the parent disk (or zeros when there is none).
type fillFunc func(p []byte, off int64) error

// extent is one piece of a virtual disk, addressed in bytes from its own
// start. Implementations are safe for concurrent use.
type extent interface {
	size() int64
	// read fills p from off; ranges the extent does not hold are filled
	// by under.
	read(p []byte, off int64, under fillFunc) error
	// write stores p at off. under, nil when nothing lies under the
	// extent, supplies old content for copy-on-write of partial grains.
	write(p []byte, off int64, under fillFunc) error
	// zero makes [off, off+n) read as zeros; under is non-nil when a parent
	// shows through unallocated ranges, which must then be covered.
	zero(off, n int64, under fillFunc) error
	// discard releases storage of [off, off+n) when the format can; the
	// content afterwards reads as zeros or as the parent.
	discard(off, n int64) error
	// status returns the state of [off, off+n) and how many bytes from
	// off share it (at least 1, at most n).
	status(off, n int64) (st blockStatus, run int64, err error)
	// where returns the file and byte offset holding data at off, or ""
	// when the data is not addressable (compressed, or not allocated).
	where(off int64) (file string, fileOff int64)
	flush() error
	// close flushes, marks the extent cleanly shut down and releases it.
	close() error
	// files lists the files this extent uses, for info and removal.
	files() []string
}

// flatExtent is a raw region of a file: FLAT and VMFS extents and raw
// images.
type flatExtent struct {
	f        *os.File
	name     string
	base     int64 // byte offset of the extent in the file
	bytes    int64
	readOnly bool
	// probedRaw marks a raw image whose format was guessed from content:
	// writes must not plant a signature in sector 0 (the qemu rule).
	probedRaw bool
}

func (e *flatExtent) size() int64 { return e.bytes }

func (e *flatExtent) read(p []byte, off int64, _ fillFunc) error {
	return preadFull(e.f, p, e.base+off)
}

func (e *flatExtent) write(p []byte, off int64, _ fillFunc) error {
	if e.readOnly {
		return fmt.Errorf("%w: %s", ErrReadOnly, e.name)
	}
	if e.probedRaw && off < sectorSize {
		if err := e.checkSector0(p, off); err != nil {
			return err
		}
	}
	_, err := e.f.WriteAt(p, e.base+off)
	return err
}

func (e *flatExtent) checkSector0(p []byte, off int64) error {
	sector := make([]byte, sectorSize)
	if err := preadFull(e.f, sector, e.base); err != nil {
		return err
	}
	copy(sector[off:], p)
	if _, err := parseDescriptor(sector); err == nil || detectFormat(sector) != FormatRaw {
		return fmt.Errorf("%w (open it with an explicit raw format): %s", ErrProbedRawSector0, e.name)
	}
	return nil
}

func (e *flatExtent) zero(off, n int64, _ fillFunc) error {
	if e.readOnly {
		return fmt.Errorf("%w: %s", ErrReadOnly, e.name)
	}
	return zeroFileRange(e.f, e.base+off, n)
}

func (e *flatExtent) discard(off, n int64) error { return e.zero(off, n, nil) }

func (e *flatExtent) status(off, n int64) (blockStatus, int64, error) {
	return fileRangeStatus(e.f, e.base+off, n)
}

func (e *flatExtent) where(off int64) (string, int64) { return e.name, e.base + off }

func (e *flatExtent) flush() error {
	if e.readOnly {
		return nil
	}
	return e.f.Sync()
}

func (e *flatExtent) close() error {
	var err error
	if !e.readOnly {
		err = e.f.Sync()
	}
	return errors.Join(err, e.f.Close())
}

func (e *flatExtent) files() []string { return []string{e.name} }

// zeroExtent is a ZERO extent, or a NOACCESS one when noAccess is set.
type zeroExtent struct {
	bytes    int64
	noAccess bool
	desc     string
}

func (e *zeroExtent) size() int64 { return e.bytes }
func (e *zeroExtent) read(p []byte, _ int64, _ fillFunc) error {
	if e.noAccess {
		return fmt.Errorf("%w: %s", ErrNoAccess, e.desc)
	}
	clear(p)
	return nil
}
func (e *zeroExtent) write([]byte, int64, fillFunc) error { return e.denied() }
func (e *zeroExtent) zero(int64, int64, fillFunc) error   { return e.denied() }
func (e *zeroExtent) discard(int64, int64) error          { return nil }
func (e *zeroExtent) status(_, n int64) (blockStatus, int64, error) {
	return statusZero, n, nil
}
func (e *zeroExtent) where(int64) (string, int64) { return "", 0 }
func (e *zeroExtent) flush() error                { return nil }
func (e *zeroExtent) close() error                { return nil }
func (e *zeroExtent) files() []string             { return nil }
func (e *zeroExtent) denied() error {
	if e.noAccess {
		return fmt.Errorf("%w: %s", ErrNoAccess, e.desc)
	}
	return fmt.Errorf("%w: %s is a ZERO extent", ErrReadOnly, e.desc)
}

// readOnlyExtent wraps an extent from an RDONLY extent line.
type readOnlyExtent struct {
	extent
	desc string
}

func (e readOnlyExtent) write([]byte, int64, fillFunc) error {
	return fmt.Errorf("%w: %s is an RDONLY extent", ErrReadOnly, e.desc)
}
func (e readOnlyExtent) zero(int64, int64, fillFunc) error {
	return fmt.Errorf("%w: %s is an RDONLY extent", ErrReadOnly, e.desc)
}
func (e readOnlyExtent) discard(int64, int64) error { return nil }

// preadFull reads len(p) bytes at off; bytes past the end of the file read
// as zeros (sparse files may end inside their last grain).
func preadFull(f *os.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if err == io.EOF || (err == nil && n < len(p)) {
		clear(p[n:])
		return nil
	}
	return err
}

// Linux fallocate modes (linux/falloc.h).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// zeroFileRange makes a file range read as zeros: a punched hole when the
// file system supports it, written zeros otherwise.
func zeroFileRange(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	if err := syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, n); err == nil {
		return nil
	}
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		c := min(n, int64(len(buf)))
		if _, err := f.WriteAt(buf[:c], off); err != nil {
			return err
		}
		off += c
		n -= c
	}
	return nil
}

// Linux lseek whence values for sparse files.
const (
	seekData = 3
	seekHole = 4
)

// fileRangeStatus reports holes of a raw file as unallocated and the rest
// as data, using SEEK_DATA/SEEK_HOLE.
func fileRangeStatus(f *os.File, off, n int64) (blockStatus, int64, error) {
	fd := int(f.Fd())
	data, err := syscall.Seek(fd, off, seekData)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			return statusUnalloc, n, nil // only a hole up to EOF
		}
		return statusData, n, nil // no SEEK_DATA support: all data
	}
	if data > off {
		return statusUnalloc, min(n, data-off), nil
	}
	hole, err := syscall.Seek(fd, off, seekHole)
	if err != nil || hole <= off {
		return statusData, n, nil
	}
	return statusData, min(n, hole-off), nil
}
