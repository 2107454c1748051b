package vmdk

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDescriptor: parsing never panics, and what parses re-renders into
// text that parses to the same disk layout.
func FuzzDescriptor(f *testing.F) {
	f.Add([]byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\nRW 2048 SPARSE \"a.vmdk\"\nddb.adapterType = \"ide\"\n"))
	f.Add([]byte("version = 1\r\ncreatetype=\"twoGbMaxExtentFlat\"\r\nRW 4194304 FLAT \"x-f001.vmdk\" 0\r\nRDONLY 100 ZERO\r\nNOACCESS 5 FLAT \"a b\" 3 uuid dev\r\n"))
	f.Add([]byte("CID=1\nparentCID=2\nparentFileNameHint=\"../p.vmdk\"\ncreateType=\"vmfsSparse\"\nRW 8 VMFSSPARSE \"p-delta.vmdk\"\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		d, err := parseDescriptor(text)
		if err != nil {
			return
		}
		again, err := parseDescriptor([]byte(d.String()))
		if err != nil {
			t.Fatalf("re-rendered descriptor does not parse: %v\n%s", err, d.String())
		}
		if again.createType != d.createType || again.cid != d.cid || len(again.extents) != len(d.extents) || again.sectorsTotal() != d.sectorsTotal() {
			t.Fatalf("round trip changed the descriptor:\n%s", d.String())
		}
	})
}

// FuzzSparseHeader: validation never panics and what it accepts has sane
// geometry (the directory it sizes fits the file).
func FuzzSparseHeader(f *testing.F) {
	f.Add(sparseLayout(2048, 128, false).encode(), int64(1<<20))
	f.Add(sparseLayout(1<<24, 8, true).encode(), int64(1<<30))
	f.Add(streamHeaderFor(4096, 128).encode(), int64(1<<16))
	f.Fuzz(func(t *testing.T, b []byte, fileSize int64) {
		if len(b) < sectorSize || fileSize < 0 || fileSize > 1<<50 {
			return
		}
		h := decodeSparseHeader(b)
		if err := h.validate(fileSize / sectorSize); err != nil {
			return
		}
		if h.gdOffset != gdAtEnd && int64(h.gdOffset)*sectorSize+h.numGDEs()*4 > fileSize {
			t.Fatalf("accepted a directory outside the file: %+v size %d", h, fileSize)
		}
		if !bytes.Equal(decodeSparseHeader(h.encode()).encode(), h.encode()) {
			t.Fatal("encode/decode round trip differs")
		}
	})
}

// FuzzOpen's input is an image with its runs of zero bytes packed (see
// expandZeroRuns). Images are mostly zeros, and the fuzzing engine's cost
// grows with the input: each new interesting input is minimized by trying
// to remove every byte and every run of bytes, which takes the whole
// minimization budget (a minute, with no progress reported) for inputs of
// a few KiB but seconds for a few hundred bytes. Packed, the seeds are
// about 350 bytes; fuzzMaxInput caps what the engine grows them to.
const fuzzMaxInput = 4 << 10

// expandZeroRuns decodes a packed image: 0x00 followed by a byte n stands
// for n+1 zero bytes (a 0x00 at the very end for one); any other byte
// stands for itself. Every file is the expansion of some input.
func expandZeroRuns(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		n := 1
		if i+1 < len(b) {
			i++
			n = int(b[i]) + 1
		}
		out = append(out, make([]byte, n)...)
	}
	return out
}

// packZeroRuns is the inverse of expandZeroRuns.
func packZeroRuns(img []byte) []byte {
	var out []byte
	for i := 0; i < len(img); {
		if img[i] != 0 {
			out = append(out, img[i])
			i++
			continue
		}
		n := 1
		for i+n < len(img) && img[i+n] == 0 && n < 256 {
			n++
		}
		out = append(out, 0, byte(n-1))
		i += n
	}
	return out
}

// tinySparseSeed is a complete monolithicSparse image of 64 KiB capacity
// in 8 sectors: one-sector grains, 16-entry grain tables, one table
// allocated (with its redundant copy), two grains of (mostly zero) data.
func tinySparseSeed() []byte {
	h := sparseHeader{magic: sparseMagic, version: 1, flags: flagValidNewline | flagRedundantGT,
		capacity: 128, grainSize: 1, descriptorOffset: 1, descriptorSize: 1, numGTEsPerGT: 16,
		rgdOffset: 2, gdOffset: 4, overHead: 6}
	img := make([]byte, 8*sectorSize)
	copy(img, h.encode())
	copy(img[1*sectorSize:], "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"+
		"createType=\"monolithicSparse\"\nRW 128 SPARSE \"f.vmdk\"\nddb.adapterType = \"ide\"\n")
	gt := make([]uint32, 16)
	gt[3], gt[5] = 6, 7
	copy(img[2*sectorSize:], encodeU32s([]uint32{3}))
	copy(img[3*sectorSize:], encodeU32s(gt))
	copy(img[4*sectorSize:], encodeU32s([]uint32{5}))
	copy(img[5*sectorSize:], encodeU32s(gt))
	copy(img[6*sectorSize:], "grain 3")
	copy(img[7*sectorSize:], "grain 5")
	return img
}

// tinyStreamSeed is a complete streamOptimized image of 64 KiB capacity:
// header, descriptor, one compressed one-sector grain, then grain table,
// directory, footer and end-of-stream markers as VMware writes them.
func tinyStreamSeed(t testing.TB) []byte {
	h := streamHeaderFor(128, 1)
	h.descriptorSize, h.overHead, h.numGTEsPerGT = 1, 2, 16
	img := make([]byte, 2*sectorSize)
	copy(img, h.encode())
	copy(img[sectorSize:], "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"+
		"createType=\"streamOptimized\"\nRW 128 SPARSE \"f.vmdk\"\nddb.adapterType = \"lsilogic\"\n")
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(bytes.Repeat([]byte("grain 3 "), sectorSize/8))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	grain := binary.LittleEndian.AppendUint64(nil, 3) // LBA
	grain = binary.LittleEndian.AppendUint32(grain, uint32(z.Len()))
	img = append(img, padSector(append(grain, z.Bytes()...))...)
	gt := make([]uint32, 16)
	gt[3] = 2
	tail, _, _ := streamTail(h, [][]uint32{gt}, int64(len(img)/sectorSize))
	return append(img, tail...)
}

// FuzzOpen: any file content opens, reads, maps and checks without
// panicking or allocating without bound, and an image Check repairs
// checks clean afterwards.
func FuzzOpen(f *testing.F) {
	seeds := [][]byte{tinySparseSeed(), tinyStreamSeed(f)}
	dir := f.TempDir()
	for i, seed := range seeds {
		// The seeds are valid images: they open and check clean.
		p := filepath.Join(dir, fmt.Sprintf("seed%d.vmdk", i))
		if err := os.WriteFile(p, seed, 0o644); err != nil {
			f.Fatal(err)
		}
		d, err := Open(p, OpenOptions{ReadOnly: true})
		if err != nil {
			f.Fatalf("seed %d: %v", i, err)
		}
		buf := make([]byte, sectorSize)
		d.ReadAt(buf, 3*sectorSize)
		d.Close()
		if res, err := Check(p, CheckOptions{}); err != nil || !res.Clean() || isZero(buf) {
			f.Fatalf("seed %d: check %v %v, data %x...", i, res, err, buf[:8])
		}
		packed := packZeroRuns(seed)
		if !bytes.Equal(expandZeroRuns(packed), seed) || len(packed) > 512 {
			f.Fatalf("seed %d packs into %d bytes that do not expand back", i, len(packed))
		}
		f.Add(packed)
	}
	f.Add([]byte("QFI\xfb\x00\x00\x00\x03"))
	f.Add([]byte("COWD\x01\x00\x00\x00"))
	f.Add([]byte("# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 128 FLAT \"f.vmdk\" 0\n"))
	f.Fuzz(func(t *testing.T, packed []byte) {
		if len(packed) > fuzzMaxInput {
			return
		}
		img := expandZeroRuns(packed)
		// Each worker process runs one input at a time: reuse its files.
		p := filepath.Join(dir, "f.vmdk")
		if err := os.WriteFile(p, img, 0o644); err != nil {
			t.Fatal(err)
		}
		if d, err := Open(p, OpenOptions{ReadOnly: true}); err == nil {
			end := min(d.Size(), 1<<20)
			buf := make([]byte, 16<<10)
			for off := int64(0); off < end; off += int64(len(buf)) {
				d.ReadAt(buf, off)
			}
			d.Map(0, end, func(MapEntry) error { return nil })
			d.Info()
			d.Close()
		}
		res, err := Check(p, CheckOptions{})
		if err != nil || res.Clean() {
			return
		}
		// Repair a copy (the input stays as it was) and check it again.
		fixed := filepath.Join(dir, "fixed.vmdk")
		if err := os.WriteFile(fixed, img, 0o644); err != nil {
			t.Fatal(err)
		}
		repaired, err := Check(fixed, CheckOptions{Repair: true})
		if err != nil || !repaired.Clean() {
			return // not everything can be repaired
		}
		if again, err := Check(fixed, CheckOptions{}); err != nil || !again.Clean() {
			t.Fatalf("Check found %v after a repair that reported %v (error %v)", again, repaired.Problems, err)
		}
	})
}
