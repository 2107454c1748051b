// Package vmdk reads and writes VMware virtual disks (every hosted
// variant), raw images, and reads qcow2, behind one Disk type with
// ReadAt, WriteAt, Flush, Size and Close, safe for concurrent use.
//
// # Formats
//
// Open reads monolithicSparse, monolithicFlat, twoGbMaxExtentSparse,
// twoGbMaxExtentFlat, streamOptimized (directory at the end behind markers
// and a footer, as VMware writes it, or up front as qemu-img writes it,
// with or without an end-of-stream marker), vmfs flat extents, and the ESXi
// snapshot formats vmfsSparse (COWD) and seSparse (read-only); embedded
// and separate descriptors; RW, RDONLY, NOACCESS and ZERO extents; zeroed
// grains and compressed grains. Create writes the first five. Deltas
// (snapshots) chain to a parent through parentFileNameHint and parentCID
// to any depth.
//
// A raw image opens through the same API; with FormatAuto the format comes
// from the content, and a probed raw image refuses writes that would put a
// VMDK or qcow2 signature into its first sector (so a guest cannot turn
// its disk into an image that names host files). Pass FormatRaw when the
// format is known.
//
// # Durability and write ordering
//
// A Disk behaves like a disk with a volatile write cache: WriteAt returns
// once the data is in the host page cache and the grain tables in memory;
// Flush is the barrier after which every completed write survives a crash
// of the process or the host. Writes to already allocated grains go
// straight to the file. A write to an unallocated grain of a sparse extent
//
//  1. reserves a grain at the end of the file and writes the data there
//     (with the rest of the grain copied from the parent for a partial
//     write to a delta);
//  2. records the grain table entry in memory only.
//
// Flush then writes metadata strictly in the order data, grain table,
// directory, with a barrier between each:
//
//	fdatasync (all data)
//	write dirty grain tables, primary then redundant copy
//	fdatasync
//	write directory entries of newly created tables, primary then redundant
//	fdatasync
//
// So no table on disk ever points at data, and no directory at a table,
// that is not durable; a crash at any point leaves only grains nobody
// references at the end of the file and, at worst, a redundant copy that
// lags the primary. The header's unclean-shutdown flag is set on the first
// write of a session and cleared by Close; Check reports it and the other
// debris, and Check with Repair fixes them without losing a flushed write.
// qemu-img instead syncs on every grain allocation, which is what makes it
// about five times slower than a raw file on allocating writes.
//
// streamOptimized images are append-only: grains are compressed (in
// parallel, with github.com/klauspost/compress at the zlib level
// OpenOptions.Compression chooses) and appended, Flush appends tables, directory, footer and end-of-stream
// marker, and Close rewrites the file in LBA order when grains were
// rewritten, so the result is a clean stream ESXi imports.
//
// # Safety
//
// File names in descriptors (extents, parent hints, qcow2 backing files)
// must stay inside the descriptor's directory, symbolic links included,
// unless OpenOptions.AllowOutsidePaths is set. Every size, offset and count
// read from a file is range-checked before it sizes an allocation or an
// I/O. A read-only Open never writes. A writer locks its files (flock,
// plus the byte-range locks qemu uses), so a second writer, a repair or a
// qemu process fails with ErrInUse, and a writer that finds the unclean
// flag set repairs the extent before it writes, as VMware products do.
//
// # Tools
//
// Inspect reports what an image is; Map lists its allocation; Check finds
// (and with Repair fixes) orphan grains, table entries past the end of the
// file or into metadata, directory/redundant-directory mismatches,
// overlapping grains, CID mismatches and the unclean flag; Convert copies
// between raw, qcow2 (read) and every writable VMDK variant skipping
// unallocated and zero grains; Resize grows; Snapshot, Commit and Rebase
// manage delta chains. The hypercim CLI's "vmdk" command exposes them.
package vmdk
