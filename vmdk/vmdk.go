package vmdk

import (
	"errors"
	"fmt"
)

// Format names the container format of an image file.
type Format string

// Image formats. Open and Convert detect the format from the content when
// it is FormatAuto.
const (
	FormatAuto  Format = ""
	FormatVMDK  Format = "vmdk"
	FormatRaw   Format = "raw"
	FormatQCOW2 Format = "qcow2" // read-only
)

// Subformat is a VMDK createType.
type Subformat string

// The createTypes this package knows. The first five can be created and
// written; the last three are read-only (vmfs flat extents are writable).
const (
	MonolithicSparse     Subformat = "monolithicSparse"
	MonolithicFlat       Subformat = "monolithicFlat"
	TwoGbMaxExtentSparse Subformat = "twoGbMaxExtentSparse"
	TwoGbMaxExtentFlat   Subformat = "twoGbMaxExtentFlat"
	StreamOptimized      Subformat = "streamOptimized"
	VMFS                 Subformat = "vmfs"
	VMFSSparse           Subformat = "vmfsSparse"
	SESparse             Subformat = "seSparse"
)

// Subformats lists the createTypes Create accepts.
func Subformats() []Subformat {
	return []Subformat{MonolithicSparse, MonolithicFlat, TwoGbMaxExtentSparse, TwoGbMaxExtentFlat, StreamOptimized}
}

// Adapter is the virtual controller recorded in ddb.adapterType.
type Adapter string

// Adapter types accepted by VMware products and qemu-img.
const (
	AdapterIDE       Adapter = "ide"
	AdapterBusLogic  Adapter = "buslogic"
	AdapterLSILogic  Adapter = "lsilogic"
	AdapterLegacyESX Adapter = "legacyESX"
)

// Compression is the deflate effort spent on the grains of a
// streamOptimized image: one of the named levels below, or a zlib level
// from "1" (fastest) to "9" (smallest). Grains are compressed with
// github.com/klauspost/compress on every core; any level gives plain zlib
// streams that VMware products and qemu-img read.
type Compression string

// Named compression levels. CompressionDefault, also used when none is
// given, is level 7: output within a few percent of qemu-img's (C zlib at
// level 6), converted several times faster than qemu-img on two cores.
// CompressionFast (level 1) is faster again for a quarter more output;
// CompressionBest (level 9) is a few percent smaller than qemu-img's output
// and much slower.
const (
	CompressionFast    Compression = "fast"
	CompressionDefault Compression = "default"
	CompressionBest    Compression = "best"
)

// Level is the zlib level c stands for ("" is CompressionDefault), or an
// ErrInvalidArgument error naming the accepted values.
func (c Compression) Level() (int, error) {
	switch c {
	case CompressionFast:
		return 1, nil
	case "", CompressionDefault:
		return 7, nil
	case CompressionBest:
		return 9, nil
	}
	if len(c) == 1 && c[0] >= '1' && c[0] <= '9' {
		return int(c[0] - '0'), nil
	}
	return 0, fmt.Errorf("%w: compression %q (fast, default, best or a zlib level 1 to 9)", ErrInvalidArgument, string(c))
}

// ProgressFunc receives progress of a long operation: done out of total
// units (bytes of virtual disk). It is called from one goroutine at a time.
type ProgressFunc func(done, total int64)

// Errors a caller can test with errors.Is. Every error returned by this
// package wraps one of them (or an *os.PathError) with the file, offset or
// value at fault.
var (
	// ErrCorrupt: the image's metadata is inconsistent or out of range.
	ErrCorrupt = errors.New("corrupt image")
	// ErrUnsupported: a valid feature this package does not implement.
	ErrUnsupported = errors.New("unsupported")
	// ErrReadOnly: a write to a read-only disk, extent or format.
	ErrReadOnly = errors.New("read-only")
	// ErrNoAccess: I/O on a NOACCESS extent.
	ErrNoAccess = errors.New("extent has no access")
	// ErrCIDMismatch: a delta's parentCID differs from its parent's CID,
	// meaning the parent changed after the delta was made.
	ErrCIDMismatch = errors.New("parent CID mismatch")
	// ErrPathEscape: a descriptor names a file outside its directory.
	ErrPathEscape = errors.New("path escapes the image directory")
	// ErrRange: an offset or length outside the virtual disk.
	ErrRange = errors.New("out of range")
	// ErrClosed: use of a closed Disk.
	ErrClosed = errors.New("disk is closed")
	// ErrInUse: another writer holds the image.
	ErrInUse = errors.New("image in use")
	// ErrInvalidArgument: bad options or arguments from the caller.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrProbedRawSector0: a write that would make a raw image whose
	// format was detected from content look like another format.
	ErrProbedRawSector0 = errors.New("refusing to write an image signature into sector 0 of a probed raw image")
)

// CreateOptions describes a new image.
type CreateOptions struct {
	// Subformat is the createType; default MonolithicSparse.
	Subformat Subformat
	// Size is the virtual size in bytes, rounded up to 512. With Parent
	// set, zero means the parent's size.
	Size int64
	// Adapter is ddb.adapterType; default ide, or lsilogic for
	// streamOptimized (what ESXi imports).
	Adapter Adapter
	// HWVersion is ddb.virtualHWVersion; default 4.
	HWVersion int
	// GrainSize is the sparse grain size in bytes: a power of two from 4 KiB
	// to 1 MiB; default 64 KiB.
	GrainSize int64
	// ZeroedGrain writes a version-2 sparse header whose grain tables may
	// mark grains as zero, so WriteZeroes on a delta needs no data.
	ZeroedGrain bool
	// UUID is ddb.uuid (16 bytes); zero means random.
	UUID [16]byte
	// Parent, when set, makes the new image a delta (snapshot child) of
	// this image: parentCID and parentFileNameHint point at it.
	Parent string
	// AllowOutsidePaths lets Parent live outside the new image's directory.
	AllowOutsidePaths bool
	// Overwrite replaces existing files; by default Create refuses them.
	Overwrite bool
}

// OpenOptions controls Open.
type OpenOptions struct {
	// ReadOnly opens every file read-only; nothing is ever written.
	ReadOnly bool
	// Format forces the container format; FormatAuto detects it.
	Format Format
	// AllowOutsidePaths lets extent and parent file names escape the
	// descriptor's directory (absolute paths, "..", symlinks).
	AllowOutsidePaths bool
	// IgnoreCIDMismatch opens a delta whose parent changed, or that names
	// no parent, for recovery (rebase --unsafe).
	IgnoreCIDMismatch bool
	// Compression is the effort spent on grains written to a
	// streamOptimized image; default CompressionDefault.
	Compression Compression
}
