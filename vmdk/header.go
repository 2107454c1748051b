package vmdk

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

const (
	sectorSize = 512
	// sparseMagic is "KDMV" read as a little-endian u32.
	sparseMagic = 0x564d444b
	// cowdMagic is "COWD" read as a little-endian u32 (vmfsSparse).
	cowdMagic = 0x44574f43
	// gdAtEnd in a stream header's gdOffset means "read the footer".
	gdAtEnd = 0xffffffffffffffff

	flagValidNewline = 1 << 0
	flagRedundantGT  = 1 << 1
	flagZeroedGTE    = 1 << 2
	flagCompressed   = 1 << 16
	flagMarkers      = 1 << 17
	knownFlags       = flagValidNewline | flagRedundantGT | flagZeroedGTE | flagCompressed | flagMarkers
	// incompatibleMask: unknown bits here mean the file cannot be read
	// correctly, so they are rejected rather than ignored.
	incompatibleMask = 0xffff0000

	compressNone    = 0
	compressDeflate = 1

	// Marker types of streamOptimized files.
	markerEOS    = 0
	markerGT     = 1
	markerGD     = 2
	markerFooter = 3

	// Limits for values read from files; anything larger is refused
	// before it can size an allocation.
	maxGrainSectors = 1 << 16 // 32 MiB grains
	maxGTEsPerGT    = 4096    // 512 in hosted files; COWD uses 4096
	maxDescSectors  = maxDescriptorBytes / sectorSize
	// maxExtentSectors is the largest sparse extent capacity: its data
	// can only be addressed by u32 sectors anyway, but capacity may
	// exceed that (qemu creates 4 TiB sparse files).
	maxExtentSectors = 1 << 40
)

// sparseHeader mirrors the 512-byte hosted sparse extent header
// (SparseExtentHeader in VMware's Virtual Disk Format 5.0), field for field.
type sparseHeader struct {
	magic             uint32 // 0x00
	version           uint32 // 0x04
	flags             uint32 // 0x08
	capacity          uint64 // 0x0C sectors
	grainSize         uint64 // 0x14 sectors
	descriptorOffset  uint64 // 0x1C sector
	descriptorSize    uint64 // 0x24 sectors
	numGTEsPerGT      uint32 // 0x2C
	rgdOffset         uint64 // 0x30 sector
	gdOffset          uint64 // 0x38 sector
	overHead          uint64 // 0x40 sectors
	uncleanShutdown   uint8  // 0x48
	newline           [4]byte
	compressAlgorithm uint16 // 0x4D
}

func decodeSparseHeader(b []byte) sparseHeader {
	le := binary.LittleEndian
	var h sparseHeader
	h.magic = le.Uint32(b[0x00:])
	h.version = le.Uint32(b[0x04:])
	h.flags = le.Uint32(b[0x08:])
	h.capacity = le.Uint64(b[0x0c:])
	h.grainSize = le.Uint64(b[0x14:])
	h.descriptorOffset = le.Uint64(b[0x1c:])
	h.descriptorSize = le.Uint64(b[0x24:])
	h.numGTEsPerGT = le.Uint32(b[0x2c:])
	h.rgdOffset = le.Uint64(b[0x30:])
	h.gdOffset = le.Uint64(b[0x38:])
	h.overHead = le.Uint64(b[0x40:])
	h.uncleanShutdown = b[0x48]
	copy(h.newline[:], b[0x49:0x4d])
	h.compressAlgorithm = le.Uint16(b[0x4d:])
	return h
}

func (h sparseHeader) encode() []byte {
	le := binary.LittleEndian
	b := make([]byte, sectorSize)
	le.PutUint32(b[0x00:], sparseMagic)
	le.PutUint32(b[0x04:], h.version)
	le.PutUint32(b[0x08:], h.flags)
	le.PutUint64(b[0x0c:], h.capacity)
	le.PutUint64(b[0x14:], h.grainSize)
	le.PutUint64(b[0x1c:], h.descriptorOffset)
	le.PutUint64(b[0x24:], h.descriptorSize)
	le.PutUint32(b[0x2c:], h.numGTEsPerGT)
	le.PutUint64(b[0x30:], h.rgdOffset)
	le.PutUint64(b[0x38:], h.gdOffset)
	le.PutUint64(b[0x40:], h.overHead)
	b[0x48] = h.uncleanShutdown
	copy(b[0x49:0x4d], []byte{'\n', ' ', '\r', '\n'})
	le.PutUint16(b[0x4d:], h.compressAlgorithm)
	return b
}

// gtCoverage is the number of sectors one grain table maps.
func (h *sparseHeader) gtCoverage() int64 { return int64(h.grainSize) * int64(h.numGTEsPerGT) }

// numGDEs is the number of grain directory entries the capacity needs.
func (h *sparseHeader) numGDEs() int64 {
	c := h.gtCoverage()
	return (int64(h.capacity) + c - 1) / c
}

// validate checks every field that later sizes an allocation or an
// offset. fileSectors is the extent file's size in sectors; a stream header
// may say gdAtEnd.
func (h *sparseHeader) validate(fileSectors int64) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: sparse header: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if h.magic != sparseMagic {
		return bad("magic %#08x is not KDMV", h.magic)
	}
	if h.version < 1 || h.version > 3 {
		return fmt.Errorf("%w: sparse header version %d (1 to 3 are known)", ErrUnsupported, h.version)
	}
	if unknown := h.flags &^ knownFlags; unknown&incompatibleMask != 0 {
		return fmt.Errorf("%w: sparse header has unknown incompatible flags %#x", ErrUnsupported, unknown&incompatibleMask)
	}
	if h.flags&flagValidNewline != 0 && h.newline != [4]byte{'\n', ' ', '\r', '\n'} {
		return bad("newline detection bytes % x were altered (file transferred in text mode?)", h.newline[:])
	}
	if h.grainSize == 0 || h.grainSize > maxGrainSectors || h.grainSize&(h.grainSize-1) != 0 {
		return bad("grain size %d sectors is not a power of two up to %d", h.grainSize, maxGrainSectors)
	}
	if h.numGTEsPerGT == 0 || h.numGTEsPerGT > 512 {
		return bad("%d entries per grain table (1 to 512 allowed)", h.numGTEsPerGT)
	}
	if h.capacity == 0 || h.capacity > maxExtentSectors {
		return bad("capacity %d sectors is outside 1..%d", h.capacity, int64(maxExtentSectors))
	}
	if h.descriptorOffset != 0 {
		if h.descriptorSize > maxDescSectors || h.descriptorOffset > uint64(fileSectors) {
			return bad("embedded descriptor at sector %d, %d sectors, lies outside the file or is too large", h.descriptorOffset, h.descriptorSize)
		}
	}
	if h.flags&flagCompressed != 0 && h.compressAlgorithm != compressDeflate {
		return fmt.Errorf("%w: compression algorithm %d", ErrUnsupported, h.compressAlgorithm)
	}
	if h.flags&flagMarkers != 0 && h.flags&flagCompressed == 0 {
		return fmt.Errorf("%w: markers without compressed grains", ErrUnsupported)
	}
	if h.flags&flagZeroedGTE != 0 && h.version < 2 {
		return bad("zeroed-grain flag needs version 2, header says %d", h.version)
	}
	gdBytes := h.numGDEs() * 4
	if h.gdOffset != gdAtEnd {
		if h.gdOffset == 0 || h.gdOffset > uint64(fileSectors) || int64(h.gdOffset)*sectorSize+gdBytes > fileSectors*sectorSize {
			return bad("grain directory at sector %d (%d bytes) lies outside the %d-sector file", h.gdOffset, gdBytes, fileSectors)
		}
	} else if h.flags&flagCompressed == 0 {
		return bad("grain directory at end without compressed grains")
	}
	if h.flags&flagRedundantGT != 0 && h.flags&flagCompressed == 0 {
		if h.rgdOffset == 0 || h.rgdOffset > uint64(fileSectors) || int64(h.rgdOffset)*sectorSize+gdBytes > fileSectors*sectorSize {
			return bad("redundant grain directory at sector %d lies outside the %d-sector file", h.rgdOffset, fileSectors)
		}
	}
	if h.overHead > uint64(fileSectors)+uint64(h.grainSize) && h.flags&flagCompressed == 0 {
		return bad("overhead of %d sectors is past the end of the %d-sector file", h.overHead, fileSectors)
	}
	return nil
}

// marker is the 512-byte record that precedes metadata in stream files,
// or the 12-byte prefix of a compressed grain (size > 0).
type marker struct {
	val  uint64
	size uint32
	typ  uint32
}

func decodeMarker(b []byte) marker {
	le := binary.LittleEndian
	return marker{val: le.Uint64(b[0:]), size: le.Uint32(b[8:]), typ: le.Uint32(b[12:])}
}

func encodeMarker(val uint64, typ uint32) []byte {
	b := make([]byte, sectorSize)
	le := binary.LittleEndian
	le.PutUint64(b[0:], val)
	le.PutUint32(b[12:], typ)
	return b
}

// cowdHeader holds the fields of a vmfsSparse (COWD) extent header that
// reading needs. The header is 2048 bytes; u32 fields are little-endian.
type cowdHeader struct {
	version       uint32
	flags         uint32
	capacity      uint32 // sectors
	grainSize     uint32 // sectors
	gdOffset      uint32 // sector
	numGDEntries  uint32
	freeSector    uint32
	uncleanShutdn uint32
}

const cowdHeaderBytes = 2048

// cowdGTEntries is the fixed number of entries in a COWD grain table.
const cowdGTEntries = 4096

func decodeCOWDHeader(b []byte) cowdHeader {
	le := binary.LittleEndian
	return cowdHeader{
		version:       le.Uint32(b[4:]),
		flags:         le.Uint32(b[8:]),
		capacity:      le.Uint32(b[12:]),
		grainSize:     le.Uint32(b[16:]),
		gdOffset:      le.Uint32(b[20:]),
		numGDEntries:  le.Uint32(b[24:]),
		freeSector:    le.Uint32(b[28:]),
		uncleanShutdn: le.Uint32(b[1648:]),
	}
}

func (h *cowdHeader) validate(fileSectors int64) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: COWD header: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if h.version != 1 {
		return fmt.Errorf("%w: COWD version %d", ErrUnsupported, h.version)
	}
	if h.grainSize == 0 || h.grainSize > maxGrainSectors || h.grainSize&(h.grainSize-1) != 0 {
		return bad("grain size %d sectors is not a power of two up to %d", h.grainSize, maxGrainSectors)
	}
	if h.capacity == 0 {
		return bad("capacity is zero")
	}
	need := (int64(h.capacity) + int64(h.grainSize)*cowdGTEntries - 1) / (int64(h.grainSize) * cowdGTEntries)
	if int64(h.numGDEntries) < need {
		return bad("%d directory entries cannot map %d sectors", h.numGDEntries, h.capacity)
	}
	if h.gdOffset == 0 || int64(h.gdOffset)*sectorSize+int64(h.numGDEntries)*4 > fileSectors*sectorSize {
		return bad("grain directory at sector %d lies outside the %d-sector file", h.gdOffset, fileSectors)
	}
	return nil
}

// qcow2HeaderBytes is the size of a version 2 qcow2 header, the shortest.
const qcow2HeaderBytes = 72

// headerLength is the size of the binary header a file starting with head
// announces by its magic, and the header's name; 0 for files without one
// (descriptors, raw images).
func headerLength(head []byte) (int64, string) {
	if len(head) < 8 {
		return 0, ""
	}
	switch {
	case binary.LittleEndian.Uint32(head) == sparseMagic:
		return sectorSize, "sparse"
	case binary.LittleEndian.Uint32(head) == cowdMagic:
		return cowdHeaderBytes, "vmfsSparse (COWD)"
	case binary.LittleEndian.Uint64(head) == seSparseMagic:
		return sectorSize, "seSparse"
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return qcow2HeaderBytes, "qcow2"
	}
	return 0, ""
}

// checkHeaderLength refuses a file too short for the header its magic
// announces. Every reader calls it before looking at any field, so that
// info, check and the rest say the same thing about a truncated file
// rather than each reporting whichever zero field it reads first.
func checkHeaderLength(name string, head []byte, fileSize int64) error {
	if need, what := headerLength(head); fileSize < need {
		return fmt.Errorf("%w: %s: %d bytes is too short for a %s header (%d bytes)", ErrCorrupt, name, fileSize, what, need)
	}
	return nil
}
