package vmdk

import (
	"bytes"
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

// FuzzOpen: any file content opens, reads, maps and checks without
// panicking or allocating without bound.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	for i, sub := range []Subformat{MonolithicSparse, StreamOptimized} {
		p := filepath.Join(dir, "seed.vmdk")
		os.Remove(p)
		if err := Create(p, CreateOptions{Size: 1 << 20, Subformat: sub, GrainSize: 4096}); err != nil {
			f.Fatal(err)
		}
		d, _ := Open(p, OpenOptions{})
		d.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 20000), 3000)
		d.Close()
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("QFI\xfb\x00\x00\x00\x03"))
	f.Add([]byte("COWD\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4<<20 {
			return
		}
		p := filepath.Join(t.TempDir(), "f.vmdk")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if d, err := Open(p, OpenOptions{ReadOnly: true}); err == nil {
			buf := make([]byte, 64<<10)
			for off := int64(0); off < min(d.Size(), 8<<20); off += int64(len(buf)) {
				d.ReadAt(buf, off)
			}
			d.Map(0, min(d.Size(), 8<<20), func(MapEntry) error { return nil })
			d.Info()
			d.Close()
		}
		Check(p, CheckOptions{})
		Check(p, CheckOptions{Repair: true})
	})
}
