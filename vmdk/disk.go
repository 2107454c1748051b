package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
)

// maxChainDepth bounds delta chains so a loop of parent hints, or a hostile
// chain, cannot exhaust file descriptors or the stack.
const maxChainDepth = 256

// Disk is an open virtual disk: a VMDK (any variant, with its delta chain)
// or a raw image, addressed in bytes. All methods are safe for concurrent
// use; I/O on different grains proceeds in parallel.
//
// Writes are cached like a disk with a volatile write cache: a completed
// WriteAt is visible to every reader at once, and durable (across a crash
// of the process or the machine) after the next Flush returns.
type Disk struct {
	closeMu sync.RWMutex
	closed  bool

	path     string
	format   Format
	readOnly bool
	size     int64
	exts     []placedExtent
	parent   *Disk

	// desc is the VMDK descriptor (nil for raw and qcow2 images); it lives
	// in descPath, or embedded in the extent embedded when that is set.
	desc     *descriptor
	descPath string
	embedded *sparseExtent
	// info gathers what Inspect reports about how the image was read.
	subformat Subformat

	cidMu   sync.Mutex
	cidDone bool
}

type placedExtent struct {
	start int64
	ext   extent
	line  extentLine
	// under and writeUnder are d.underFunc(start) and d.writeUnder(start),
	// made once so the I/O path allocates nothing.
	under, writeUnder fillFunc
	// touched is set after a modification completes and cleared by the
	// Flush that covers it, so a flush skips extents nobody wrote (a
	// 100 GiB split image has 50).
	touched *atomic.Bool
}

// bindExtents prepares the per-extent fill functions once the extents and
// the parent are known.
func (d *Disk) bindExtents() {
	for i := range d.exts {
		d.exts[i].under = d.underFunc(d.exts[i].start)
		d.exts[i].writeUnder = d.writeUnder(d.exts[i].start)
		if d.exts[i].touched == nil {
			d.exts[i].touched = new(atomic.Bool)
		}
	}
}

// Open opens an image. The format is detected from the content unless
// opts.Format says otherwise: a VMDK descriptor or sparse header, a qcow2
// header (read-only), or else raw. A VMDK delta opens its parents
// read-only and checks their CIDs.
func Open(path string, opts OpenOptions) (*Disk, error) {
	if _, err := opts.Compression.Level(); err != nil {
		return nil, err
	}
	return openChain(path, opts, 0, map[string]bool{})
}

func openChain(path string, opts OpenOptions, depth int, seen map[string]bool) (*Disk, error) {
	if depth > maxChainDepth {
		return nil, fmt.Errorf("%w: %s: delta chain deeper than %d images", ErrCorrupt, path, maxChainDepth)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if seen[abs] {
		return nil, fmt.Errorf("%w: %s: delta chain loops back to this image", ErrCorrupt, path)
	}
	seen[abs] = true
	d, err := openOne(path, opts)
	if err != nil {
		return nil, err
	}
	hint := d.backingHint()
	if hint == "" {
		// A delta that does not name its parent would silently read zeros
		// where the parent has data; only recovery tools read on.
		if d.desc != nil && d.desc.parentCID != noParentCID && !opts.IgnoreCIDMismatch {
			d.closeFiles()
			return nil, fmt.Errorf("%w: %s: delta (parentCID %08x) without parentFileNameHint", ErrCorrupt, path, d.desc.parentCID)
		}
		d.bindExtents()
		return d, nil
	}
	parentPath, err := resolvePath(filepath.Dir(path), hint, opts.AllowOutsidePaths)
	if err != nil {
		d.closeFiles()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: its parent %w (restore it; if it moved, relink with 'hypercim vmdk rebase --unsafe' / Rebase with Unsafe)", path, err)
		}
		return nil, fmt.Errorf("%s: parent %q: %w", path, hint, err)
	}
	popts := opts
	popts.ReadOnly, popts.Format = true, FormatVMDK
	if d.desc == nil {
		popts.Format = FormatAuto // a qcow2 backing file may be any format
	}
	parent, err := openChain(parentPath, popts, depth+1, seen)
	if err != nil {
		d.closeFiles()
		return nil, fmt.Errorf("%s: opening parent: %w", path, err)
	}
	d.parent = parent
	if d.desc != nil && parent.desc != nil && parent.desc.cid != d.desc.parentCID && !opts.IgnoreCIDMismatch {
		d.closeFiles()
		return nil, fmt.Errorf("%w: %s expects parent CID %08x but %s has %08x (the parent was modified after the snapshot; check --repair relinks if that is intended)",
			ErrCIDMismatch, path, d.desc.parentCID, parentPath, parent.desc.cid)
	}
	d.bindExtents()
	return d, nil
}

// backingHint names the parent image: parentFileNameHint of a VMDK delta,
// the backing file of a qcow2 image.
func (d *Disk) backingHint() string {
	if d.desc != nil {
		return d.desc.parentHint
	}
	if len(d.exts) == 1 {
		if q, ok := d.exts[0].ext.(*qcow2Extent); ok {
			return q.backing
		}
	}
	return ""
}

// detectFormat recognises an image from its first bytes.
func detectFormat(head []byte) Format {
	if len(head) >= 8 {
		switch binary.LittleEndian.Uint32(head) {
		case sparseMagic, cowdMagic:
			return FormatVMDK
		}
		if binary.LittleEndian.Uint64(head) == seSparseMagic {
			return FormatVMDK
		}
		if bytes.HasPrefix(head, []byte("QFI\xfb")) {
			return FormatQCOW2
		}
	}
	if looksLikeDescriptor(head) {
		return FormatVMDK
	}
	return FormatRaw
}

func openOne(path string, opts OpenOptions) (*Disk, error) {
	flag := os.O_RDWR
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is a directory", ErrInvalidArgument, path)
	}
	head := make([]byte, 4096)
	if err := preadFull(f, head, 0); err != nil {
		f.Close()
		return nil, err
	}
	format := opts.Format
	if format == FormatAuto {
		format = probeFormat(path, head, st)
	}
	if format != FormatRaw && st.Mode().IsRegular() {
		if err := checkHeaderLength(path, head, st.Size()); err != nil {
			f.Close()
			return nil, err
		}
	}
	d := &Disk{path: path, format: format, readOnly: opts.ReadOnly}
	if !opts.ReadOnly && (format == FormatRaw || binary.LittleEndian.Uint32(head) == sparseMagic) {
		if err := lockForWriting(f, path); err != nil {
			f.Close()
			return nil, err
		}
	}
	switch format {
	case FormatRaw:
		size := st.Size()
		if st.Mode()&os.ModeDevice != 0 {
			// A block device (LVM volume, disk) reports no size in stat.
			if size, err = f.Seek(0, io.SeekEnd); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: size of block device: %w", path, err)
			}
		}
		d.exts = []placedExtent{{ext: &flatExtent{f: f, name: path, bytes: size, readOnly: opts.ReadOnly, probedRaw: opts.Format == FormatAuto}}}
		d.size = size
		return d, nil
	case FormatQCOW2:
		if !opts.ReadOnly {
			f.Close()
			return nil, fmt.Errorf("%w: %s: qcow2 images open read-only", ErrReadOnly, path)
		}
		q, err := openQCOW2(f, path, opts)
		if err != nil {
			f.Close()
			return nil, err
		}
		d.exts = []placedExtent{{ext: q}}
		d.size = q.size()
		return d, nil
	case FormatVMDK:
	default:
		f.Close()
		return nil, fmt.Errorf("%w: unknown format %q", ErrInvalidArgument, format)
	}
	if err := d.openVMDK(f, st.Size(), head, opts); err != nil {
		d.closeFiles()
		return nil, err
	}
	return d, nil
}

// openVMDK assembles the extents of a VMDK whose first file is f.
func (d *Disk) openVMDK(f *os.File, fileSize int64, head []byte, opts OpenOptions) error {
	path := d.path
	switch {
	case binary.LittleEndian.Uint32(head) == sparseMagic:
		if err := repairIfUnclean(f, path, opts.ReadOnly); err != nil {
			f.Close()
			return err
		}
		se, err := openSparse(f, path, opts.ReadOnly)
		if err != nil {
			f.Close()
			return err
		}
		d.exts = []placedExtent{{ext: se}}
		desc, err := embeddedDescriptor(se)
		if err != nil {
			se.f.Close()
			d.exts = nil
			return err
		}
		if desc == nil {
			sub := MonolithicSparse
			if se.compressed {
				sub = StreamOptimized
			}
			desc = &descriptor{version: 1, parentCID: noParentCID, createType: string(sub),
				extents: []extentLine{{access: accessRW, sectors: int64(se.hdr.capacity), kind: extSparse, file: filepath.Base(path)}}}
		} else {
			d.embedded = se
		}
		if len(desc.extents) != 1 || desc.extents[0].kind != extSparse {
			return fmt.Errorf("%w: %s: embedded descriptor must describe one SPARSE extent, found %d extents", ErrCorrupt, path, len(desc.extents))
		}
		line := desc.extents[0]
		// The embedded extent is this file, whatever name it was given
		// (renamed files must keep working).
		if line.sectors > int64(se.hdr.capacity) {
			return fmt.Errorf("%w: %s: descriptor says %d sectors, sparse header holds %d", ErrCorrupt, path, line.sectors, se.hdr.capacity)
		}
		d.exts[0].line = line
		d.desc = desc
		if line.access == accessRDONLY {
			d.exts[0].ext = readOnlyExtent{se, path}
		}
		if se.compressed && !opts.ReadOnly {
			if !se.markers {
				return fmt.Errorf("%w: %s: compressed grains without markers open read-only", ErrReadOnly, path)
			}
			level, err := opts.Compression.Level()
			if err != nil {
				return err
			}
			if err := se.enableStreamWrites(headerSaysAtEnd(head), level); err != nil {
				return err
			}
		}
		d.size = line.sectors * sectorSize
	case binary.LittleEndian.Uint32(head) == cowdMagic || binary.LittleEndian.Uint64(head) == seSparseMagic:
		if !opts.ReadOnly {
			f.Close()
			return fmt.Errorf("%w: %s: vmfsSparse and seSparse extents open read-only", ErrReadOnly, path)
		}
		ext, sub, kind, err := openSnapshotExtent(f, path)
		if err != nil {
			f.Close()
			return err
		}
		d.exts = []placedExtent{{ext: ext, line: extentLine{access: accessRW, sectors: ext.size() / sectorSize, kind: kind, file: filepath.Base(path)}}}
		d.desc = &descriptor{version: 1, parentCID: noParentCID, createType: string(sub), extents: []extentLine{d.exts[0].line}}
		d.size = ext.size()
	default:
		text, err := readDescriptorFile(f, fileSize)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		desc, err := parseDescriptor(text)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		d.desc, d.descPath = desc, path
		if err := d.openExtents(opts); err != nil {
			return err
		}
	}
	d.subformat = Subformat(d.desc.createType)
	return nil
}

// lockForWriting takes an exclusive advisory lock (flock) on a file opened
// for writing, so two hypercim writers, or a writer and check --repair,
// never share an image. The lock goes with the file's last descriptor,
// also when the process dies.
func lockForWriting(f *os.File, path string) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%w: %s is open for writing elsewhere (a running VM or another hypercim command)", ErrInUse, path)
	}
	if err != nil && !errors.Is(err, syscall.ENOLCK) && !errors.Is(err, syscall.EOPNOTSUPP) {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	return qemuLock(f, path)
}

// qemu's image locking (block/file-posix.c): open file description locks
// on single bytes, 100+bit for each permission held and 200+bit for each
// permission not shared with others. Bit 0 is consistent read, bit 1
// write. A writer here holds "consistent read" and "write" and refuses to
// share "write", so qemu and qemu-img see the image as in use, and a qemu
// that writes the image makes this open fail.
const (
	fOFDGetLK       = 36 // F_OFD_GETLK
	fOFDSetLK       = 37 // F_OFD_SETLK
	qemuLockPerm    = 100
	qemuLockShared  = 200
	qemuPermConsist = 0
	qemuPermWrite   = 1
)

func qemuLock(f *os.File, path string) error {
	fd := f.Fd()
	for _, off := range []int64{qemuLockPerm + qemuPermWrite, qemuLockShared + qemuPermWrite} {
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart, Start: off, Len: 1}
		if err := syscall.FcntlFlock(fd, fOFDGetLK, &lk); err != nil {
			return nil // no OFD locks on this file system: nothing to honour
		}
		if lk.Type != syscall.F_UNLCK {
			return fmt.Errorf("%w: %s is open for writing by another program (qemu?)", ErrInUse, path)
		}
	}
	for _, off := range []int64{qemuLockPerm + qemuPermConsist, qemuLockPerm + qemuPermWrite, qemuLockShared + qemuPermWrite} {
		lk := syscall.Flock_t{Type: syscall.F_RDLCK, Whence: io.SeekStart, Start: off, Len: 1}
		if err := syscall.FcntlFlock(fd, fOFDSetLK, &lk); err != nil {
			return nil // best effort: our own flock already excludes us
		}
	}
	return nil
}

// repairIfUnclean runs check --repair on a hosted sparse extent that is
// opened for writing after an unclean shutdown, as VMware products do, so
// writing never starts on an image whose redundant tables lag or whose
// tail holds orphans. Read-only opens leave the file alone.
func repairIfUnclean(f *os.File, path string, readOnly bool) error {
	if readOnly {
		return nil
	}
	b := make([]byte, sectorSize)
	if err := preadFull(f, b, 0); err != nil {
		return err
	}
	h := decodeSparseHeader(b)
	if h.uncleanShutdown == 0 || h.flags&flagCompressed != 0 {
		return nil
	}
	c := &checker{res: &CheckResult{}, repair: true}
	if err := c.sparseFile(f, path); err != nil {
		return fmt.Errorf("%s was not shut down cleanly and could not be repaired: %w", path, err)
	}
	return nil
}

// probeFormat detects the format of the file at path from its first
// bytes (head) and size: a descriptor is never larger than 1 MiB, and a
// small text file that parses as a descriptor is one even when its keys
// come in an unusual order.
func probeFormat(path string, head []byte, st os.FileInfo) Format {
	format, size := detectFormat(head), st.Size()
	switch {
	case format == FormatVMDK && looksLikeDescriptor(head) && size > maxDescriptorBytes:
		return FormatRaw
	case format == FormatRaw && st.Mode().IsRegular() && size <= maxDescriptorBytes && bytes.IndexByte(head[:min(int64(len(head)), size)], 0) < 0:
		if text, err := os.ReadFile(path); err == nil {
			if _, err := parseDescriptor(text); err == nil {
				return FormatVMDK
			}
		}
	}
	return format
}

func headerSaysAtEnd(head []byte) bool {
	return binary.LittleEndian.Uint64(head[0x38:]) == gdAtEnd
}

func readDescriptorFile(f *os.File, size int64) ([]byte, error) {
	if size > maxDescriptorBytes {
		return nil, fmt.Errorf("%w: descriptor file is %d bytes, more than %d", ErrCorrupt, size, maxDescriptorBytes)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), b); err != nil {
		return nil, err
	}
	return b, nil
}

// embeddedDescriptor reads the descriptor inside a sparse extent, or nil
// when the extent has none.
func embeddedDescriptor(se *sparseExtent) (*descriptor, error) {
	if se.cowd {
		return nil, nil
	}
	return readEmbeddedDescriptor(se.f, se.name, se.hdr)
}

// readEmbeddedDescriptor reads the descriptor area a sparse header points
// at; nil when there is none or it is empty (split extents).
func readEmbeddedDescriptor(f *os.File, name string, h sparseHeader) (*descriptor, error) {
	if h.descriptorOffset == 0 || h.descriptorSize == 0 || h.descriptorSize > maxDescSectors {
		return nil, nil
	}
	b := make([]byte, h.descriptorSize*sectorSize)
	if err := preadFull(f, b, int64(h.descriptorOffset)*sectorSize); err != nil {
		return nil, fmt.Errorf("%s: reading embedded descriptor: %w", name, err)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	desc, err := parseDescriptor(b)
	if err != nil {
		return nil, fmt.Errorf("%s: embedded descriptor: %w", name, err)
	}
	return desc, nil
}

// writeEmbeddedDescriptor stores desc in the descriptor area of a sparse
// file, NUL padded; it must fit.
func writeEmbeddedDescriptor(f *os.File, name string, h sparseHeader, desc *descriptor) error {
	text := desc.String()
	room := int64(h.descriptorSize) * sectorSize
	if h.descriptorOffset == 0 || int64(len(text)) > room {
		return fmt.Errorf("%w: %s: descriptor needs %d bytes, the embedded area holds %d", ErrUnsupported, name, len(text), room)
	}
	buf := make([]byte, room)
	copy(buf, text)
	_, err := f.WriteAt(buf, int64(h.descriptorOffset)*sectorSize)
	return err
}

// openExtents opens the files a separate descriptor names.
func (d *Disk) openExtents(opts OpenOptions) error {
	dir := filepath.Dir(d.descPath)
	var start int64
	for i, line := range d.desc.extents {
		desc := fmt.Sprintf("%s extent %d", d.descPath, i+1)
		bytesLen := line.sectors * sectorSize
		var ext extent
		switch {
		case line.access == accessNOACCESS:
			ext = &zeroExtent{bytes: bytesLen, noAccess: true, desc: desc}
		case line.kind == extZero:
			ext = &zeroExtent{bytes: bytesLen, desc: desc}
		default:
			p, err := resolvePath(dir, line.file, opts.AllowOutsidePaths)
			if err != nil {
				return fmt.Errorf("%s: %w", desc, err)
			}
			ro := opts.ReadOnly || line.access == accessRDONLY
			ext, err = openExtentFile(p, line, ro)
			if err != nil {
				return fmt.Errorf("%s: %w", desc, err)
			}
			if line.access == accessRDONLY {
				ext = readOnlyExtent{ext, desc}
			}
		}
		d.exts = append(d.exts, placedExtent{start: start, ext: ext, line: line})
		start += bytesLen
	}
	d.size = start
	return nil
}

// openExtentForAccess opens an extent's file, read-only or for writing;
// for writing it takes the image lock.
func openExtentForAccess(p string, readOnly bool) (*os.File, error) {
	if readOnly {
		return os.Open(p)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := lockForWriting(f, p); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func openExtentFile(p string, line extentLine, readOnly bool) (extent, error) {
	switch line.kind {
	case extFlat, extVMFS:
		// A flat file shorter than its extent reads zeros past its end;
		// check reports it and --repair extends it.
		f, err := openExtentForAccess(p, readOnly)
		if err != nil {
			return nil, err
		}
		return &flatExtent{f: f, name: p, base: line.offset * sectorSize, bytes: line.sectors * sectorSize, readOnly: readOnly}, nil
	case extSparse:
		f, err := openExtentForAccess(p, readOnly)
		if err != nil {
			return nil, err
		}
		if err := repairIfUnclean(f, p, readOnly); err != nil {
			f.Close()
			return nil, err
		}
		se, err := openSparse(f, p, readOnly)
		if err != nil {
			f.Close()
			return nil, err
		}
		if line.sectors > int64(se.hdr.capacity) {
			se.f.Close()
			return nil, fmt.Errorf("%w: %s: extent line says %d sectors, sparse header holds %d", ErrCorrupt, p, line.sectors, se.hdr.capacity)
		}
		if se.compressed && !readOnly {
			se.f.Close()
			return nil, fmt.Errorf("%w: %s: compressed extents of a separate descriptor open read-only", ErrReadOnly, p)
		}
		return se, nil
	case extVMFSSparse, extSESparse:
		if !readOnly {
			return nil, fmt.Errorf("%w: %s extents open read-only", ErrReadOnly, line.kind)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		ext, _, _, err := openSnapshotExtent(f, p)
		if err != nil {
			f.Close()
			return nil, err
		}
		if line.sectors*sectorSize > ext.size() {
			ext.close()
			return nil, fmt.Errorf("%w: %s: extent line says %d sectors, the extent holds %d", ErrCorrupt, p, line.sectors, ext.size()/sectorSize)
		}
		return ext, nil
	default:
		return nil, fmt.Errorf("%w: %s extents (device-backed)", ErrUnsupported, line.kind)
	}
}

// openSnapshotExtent opens a vmfsSparse (COWD) or seSparse extent.
func openSnapshotExtent(f *os.File, p string) (extent, Subformat, string, error) {
	head := make([]byte, 8)
	st, err := f.Stat()
	if err == nil {
		err = preadFull(f, head, 0)
	}
	if err != nil {
		return nil, "", "", err
	}
	if err := checkHeaderLength(p, head, st.Size()); err != nil {
		return nil, "", "", err
	}
	if binary.LittleEndian.Uint64(head) == seSparseMagic {
		e, err := openSESparse(f, p)
		return e, SESparse, extSESparse, err
	}
	e, err := openSparse(f, p, true)
	return e, VMFSSparse, extVMFSSparse, err
}

// resolvePath joins name (from a descriptor) to dir. Unless allowOutside,
// the result must stay inside dir: no absolute paths, no "..", and no
// symbolic link leading out.
func resolvePath(dir, name string, allowOutside bool) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty file name", ErrCorrupt)
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, name)
	}
	if allowOutside {
		return p, nil
	}
	if filepath.IsAbs(name) || !filepath.IsLocal(name) {
		return "", fmt.Errorf("%w: %q (pass --allow-outside-paths / AllowOutsidePaths to permit it)", ErrPathEscape, name)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", plainPathError(dir, err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", plainPathError(p, err)
	}
	rel, err := filepath.Rel(realDir, real)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %q resolves to %s through a symbolic link", ErrPathEscape, name, real)
	}
	return p, nil
}

// missingFileError says that a file a descriptor names does not exist,
// in words rather than as the failed system call ("lstat x: no such file
// or directory"); errors.Is(err, fs.ErrNotExist) holds.
type missingFileError struct{ path string }

func (e *missingFileError) Error() string        { return e.path + " does not exist" }
func (e *missingFileError) Is(target error) bool { return target == fs.ErrNotExist }

// plainPathError drops the system call from an error about path.
func plainPathError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &missingFileError{path}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return err
}

// Path returns the file the disk was opened from.
func (d *Disk) Path() string { return d.path }

// Size returns the virtual size in bytes.
func (d *Disk) Size() int64 { return d.size }

// ReadOnly reports whether writes are refused.
func (d *Disk) ReadOnly() bool { return d.readOnly }

// Format reports the container format: FormatVMDK, FormatRaw or FormatQCOW2.
func (d *Disk) Format() Format { return d.format }

// Parent returns the open parent of a delta, or nil.
func (d *Disk) Parent() *Disk { return d.parent }

// ReadAt reads len(p) bytes at off. Like io.ReaderAt it returns io.EOF
// when the read reaches past the end of the disk.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("%w: read at negative offset %d", ErrRange, off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p, eof = p[:d.size-off], io.EOF
	}
	if err := d.readLocked(p, off); err != nil {
		return 0, err
	}
	return len(p), eof
}

// readLocked reads a range inside the disk through the chain.
func (d *Disk) readLocked(p []byte, off int64) error {
	if len(d.exts) == 1 {
		return d.exts[0].ext.read(p, off, d.exts[0].under)
	}
	return d.eachExtent(int64(len(p)), off, func(pe placedExtent, a, b int64) error {
		return pe.ext.read(p[a:b], off+a-pe.start, pe.under)
	})
}

// eachExtent calls fn for every extent piece of [off, off+n), with a and b
// the piece's bounds relative to off.
func (d *Disk) eachExtent(n, off int64, fn func(pe placedExtent, a, b int64) error) error {
	end := off + n
	for _, pe := range d.exts {
		eEnd := pe.start + pe.ext.size()
		if eEnd <= off || pe.start >= end {
			continue
		}
		a, b := max(off, pe.start), min(end, eEnd)
		if err := fn(pe, a-off, b-off); err != nil {
			return err
		}
	}
	return nil
}

// underFunc returns what lies under the extent starting at start: the
// parent's content, or zeros.
func (d *Disk) underFunc(start int64) fillFunc {
	return func(q []byte, o int64) error {
		off := start + o
		if d.parent == nil || off >= d.parent.size {
			clear(q)
			return nil
		}
		n := min(int64(len(q)), d.parent.size-off)
		clear(q[n:])
		return d.parent.readLocked(q[:n], off)
	}
}

// writeUnder is underFunc for writes: nil without a parent, so sparse
// extents skip copy-on-write reads.
func (d *Disk) writeUnder(start int64) fillFunc {
	if d.parent == nil {
		return nil
	}
	return d.underFunc(start)
}

// WriteAt writes len(p) bytes at off. A write reaching past the end of the
// disk writes nothing and fails with ErrRange.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	if err := d.beginWrite(off, int64(len(p))); err != nil {
		return 0, err
	}
	defer d.closeMu.RUnlock()
	var err error
	if len(d.exts) == 1 {
		err = d.exts[0].ext.write(p, off, d.exts[0].writeUnder)
		d.exts[0].touched.Store(true)
	} else {
		err = d.eachExtent(int64(len(p)), off, func(pe placedExtent, a, b int64) error {
			defer pe.touched.Store(true)
			return pe.ext.write(p[a:b], off+a-pe.start, pe.writeUnder)
		})
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// beginWrite validates a modification and, on the first one after Open,
// gives the image a new CID (so deltas of it notice the change). On
// success the caller holds closeMu for reading.
func (d *Disk) beginWrite(off, n int64) error {
	d.closeMu.RLock()
	var err error
	switch {
	case d.closed:
		err = ErrClosed
	case d.readOnly:
		err = fmt.Errorf("%w: %s was opened read-only", ErrReadOnly, d.path)
	case off < 0 || n < 0 || off > d.size || n > d.size-off:
		err = fmt.Errorf("%w: %d bytes at offset %d on a %d-byte disk", ErrRange, n, off, d.size)
	}
	if err == nil {
		err = d.touchCID()
	}
	if err != nil {
		d.closeMu.RUnlock()
	}
	return err
}

func (d *Disk) touchCID() error {
	d.cidMu.Lock()
	defer d.cidMu.Unlock()
	if d.cidDone || d.desc == nil {
		return nil
	}
	old := d.desc.cid
	for d.desc.cid == old || d.desc.cid == noParentCID {
		d.desc.cid = rand.Uint32()
	}
	if err := d.writeDescriptor(); err != nil {
		d.desc.cid = old
		return err
	}
	d.cidDone = true
	return nil
}

// writeDescriptor stores d.desc: in place for an embedded descriptor,
// else by replacing the descriptor file atomically.
func (d *Disk) writeDescriptor() error {
	if d.embedded != nil {
		return writeEmbeddedDescriptor(d.embedded.f, d.path, d.embedded.hdr, d.desc)
	}
	if d.descPath == "" {
		return nil // a bare COWD/seSparse file has no descriptor to keep
	}
	return writeFileAtomic(d.descPath, []byte(d.desc.String()))
}

// writeFileAtomic replaces path with data so a crash leaves either the old
// or the new content.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// WriteZeroes makes [off, off+n) read as zeros, deallocating or punching
// storage where it can (virtio-blk WRITE_ZEROES).
func (d *Disk) WriteZeroes(off, n int64) error {
	if err := d.beginWrite(off, n); err != nil {
		return err
	}
	defer d.closeMu.RUnlock()
	return d.eachExtent(n, off, func(pe placedExtent, a, b int64) error {
		defer pe.touched.Store(true)
		return pe.ext.zero(off+a-pe.start, b-a, pe.writeUnder)
	})
}

// Discard tells the disk that [off, off+n) is no longer needed (virtio-blk
// DISCARD, TRIM). Storage is released where possible; the range then reads
// as zeros or, in a delta, possibly as the parent's data.
func (d *Disk) Discard(off, n int64) error {
	if err := d.beginWrite(off, n); err != nil {
		return err
	}
	defer d.closeMu.RUnlock()
	return d.eachExtent(n, off, func(pe placedExtent, a, b int64) error {
		defer pe.touched.Store(true)
		return pe.ext.discard(off+a-pe.start, b-a)
	})
}

// Flush makes every completed write durable: when it returns, the writes
// survive a crash of the process or the host.
func (d *Disk) Flush() error {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	if d.readOnly {
		return nil
	}
	var errs []error
	for _, pe := range d.exts {
		if pe.touched.Swap(false) {
			if err := pe.ext.flush(); err != nil {
				pe.touched.Store(true) // still to be made durable
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close flushes, marks the image cleanly shut down and releases every file
// of the chain. It waits for I/O in progress; later calls fail with
// ErrClosed.
func (d *Disk) Close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.closed = true
	return d.closeFiles()
}

func (d *Disk) closeFiles() error {
	var errs []error
	for _, pe := range d.exts {
		errs = append(errs, pe.ext.close())
	}
	if d.parent != nil {
		errs = append(errs, d.parent.Close())
	}
	return errors.Join(errs...)
}
