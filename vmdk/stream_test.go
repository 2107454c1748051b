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

// vmwareStream builds a streamOptimized file the way VMware's exporter lays
// it out (header with GD_AT_END, descriptor, grain records, a GT marker and
// table after each group of grains, GD marker and directory, footer marker
// and footer, EOS), written here independently of the library's writer.
func vmwareStream(t *testing.T, path string, content []byte) {
	t.Helper()
	const grainSectors = 128
	const grainBytes = grainSectors * 512
	capacity := int64(len(content)) / 512
	numGTs := (capacity + 512*grainSectors - 1) / (512 * grainSectors)
	le := binary.LittleEndian
	header := func(gdOffset uint64) []byte {
		h := make([]byte, 512)
		copy(h, "KDMV")
		le.PutUint32(h[4:], 3)
		le.PutUint32(h[8:], 0x30001)
		le.PutUint64(h[12:], uint64(capacity))
		le.PutUint64(h[20:], grainSectors)
		le.PutUint64(h[28:], 1)
		le.PutUint64(h[36:], 20)
		le.PutUint32(h[44:], 512)
		le.PutUint64(h[56:], gdOffset)
		le.PutUint64(h[64:], 128)
		copy(h[73:], "\n \r\n")
		le.PutUint16(h[77:], 1)
		return h
	}
	marker := func(val uint64, typ uint32) []byte {
		m := make([]byte, 512)
		le.PutUint64(m, val)
		le.PutUint32(m[12:], typ)
		return m
	}
	var out bytes.Buffer
	out.Write(header(0xffffffffffffffff))
	desc := fmt.Sprintf("# Disk DescriptorFile\r\nversion=1\r\nCID=12345678\r\nparentCID=ffffffff\r\ncreateType=\"streamOptimized\"\r\n\r\n# Extent description\r\nRW %d SPARSE \"vmware.vmdk\"\r\n\r\n#DDB\r\nddb.adapterType = \"lsilogic\"\r\n", capacity)
	descArea := make([]byte, 20*512)
	copy(descArea, desc)
	out.Write(descArea)
	out.Write(make([]byte, (128-21)*512))
	gd := make([]uint32, numGTs)
	for gt := int64(0); gt < numGTs; gt++ {
		table := make([]uint32, 512)
		used := false
		for j := int64(0); j < 512; j++ {
			g := gt*512 + j
			if g*grainBytes >= int64(len(content)) {
				break
			}
			data := content[g*grainBytes : min((g+1)*grainBytes, int64(len(content)))]
			if bytes.Count(data, []byte{0}) == len(data) {
				continue
			}
			var z bytes.Buffer
			zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
			zw.Write(data)
			zw.Close()
			rec := make([]byte, 12, 12+z.Len()+512)
			le.PutUint64(rec, uint64(g*grainSectors))
			le.PutUint32(rec[8:], uint32(z.Len()))
			rec = append(rec, z.Bytes()...)
			rec = append(rec, make([]byte, (512-len(rec)%512)%512)...)
			table[j] = uint32(out.Len() / 512)
			out.Write(rec)
			used = true
		}
		if used {
			out.Write(marker(4, 1))
			gd[gt] = uint32(out.Len() / 512)
			tb := make([]byte, 2048)
			for j, v := range table {
				le.PutUint32(tb[j*4:], v)
			}
			out.Write(tb)
		}
	}
	gdSectors := (numGTs*4 + 511) / 512
	out.Write(marker(uint64(gdSectors), 2))
	gdAt := out.Len() / 512
	gdb := make([]byte, gdSectors*512)
	for i, v := range gd {
		le.PutUint32(gdb[i*4:], v)
	}
	out.Write(gdb)
	out.Write(marker(1, 3))
	out.Write(header(uint64(gdAt)))
	out.Write(marker(0, 0))
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStreamLayouts(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	p := newPattern(42, 20<<20, 50)
	want := p.expected()
	raw := filepath.Join(dir, "src.raw")
	p.writeRaw(t, raw)

	t.Run("vmware-layout", func(t *testing.T) {
		img := filepath.Join(dir, "vmware.vmdk")
		vmwareStream(t, img, want)
		qemuCompare(t, raw, img)                         // the generator is right...
		assertSame(t, "layout A", readAll(t, img), want) // ...and we read it
		res, err := Check(img, CheckOptions{})
		if err != nil || !res.Clean() {
			t.Fatalf("check: %v %+v", err, res)
		}
		// Trailing padding after the EOS (tar, partial downloads) is
		// tolerated by scanning back for the footer.
		f, _ := os.OpenFile(img, os.O_APPEND|os.O_WRONLY, 0)
		f.Write(make([]byte, 4096))
		f.Close()
		assertSame(t, "layout A padded", readAll(t, img), want)
	})
	t.Run("qemu-layout-with-eos", func(t *testing.T) {
		img := filepath.Join(dir, "qemu-eos.vmdk")
		qemu(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, img)
		st, _ := os.Stat(img)
		pad := (512 - st.Size()%512) % 512
		f, _ := os.OpenFile(img, os.O_APPEND|os.O_WRONLY, 0)
		f.Write(make([]byte, pad+512)) // align, then an EOS marker (all zero)
		f.Close()
		assertSame(t, "layout B with EOS", readAll(t, img), want)
	})
	t.Run("ours-is-clean-stream", func(t *testing.T) {
		img := filepath.Join(dir, "ours.vmdk")
		if err := Convert(raw, img, ConvertOptions{Subformat: StreamOptimized}); err != nil {
			t.Fatal(err)
		}
		qemuCheckClean(t, img)
		qemuCompare(t, raw, img)
		assertStreamShape(t, img)
	})
	t.Run("rewrite-then-compact", func(t *testing.T) {
		img := filepath.Join(dir, "rw.vmdk")
		if err := Convert(raw, img, ConvertOptions{Subformat: StreamOptimized}); err != nil {
			t.Fatal(err)
		}
		// Reopen, overwrite grains out of order, flush in between.
		d, err := Open(img, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		exp := append([]byte(nil), want...)
		for i, off := range []int64{5 << 20, 1 << 20, 5<<20 + 100*512, 19 << 20} {
			b := bytes.Repeat([]byte{byte(0xa0 + i)}, 70000)
			if _, err := d.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
			copy(exp[off:], b)
			if i == 1 {
				if err := d.Flush(); err != nil {
					t.Fatal(err)
				}
				qemuCompareBytes(t, img, exp)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		qemuCheckClean(t, img)
		qemuCompareBytes(t, img, exp)
		assertStreamShape(t, img)
	})
}

// qemuCompareBytes compares an image with expected content through qemu.
func qemuCompareBytes(t *testing.T, img string, want []byte) {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "want.raw")
	os.WriteFile(raw, want, 0o644)
	qemuCompare(t, raw, img)
}

// assertStreamShape verifies the file is one clean stream an importer can
// read front to back: version 3, GD_AT_END, records in LBA order, then
// tables, directory, footer and exactly one EOS at the very end.
func assertStreamShape(t *testing.T, img string) {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	h := decodeSparseHeader(b)
	if h.version != 3 || h.gdOffset != gdAtEnd || h.flags&flagRedundantGT != 0 || h.flags&(flagCompressed|flagMarkers) != flagCompressed|flagMarkers {
		t.Fatalf("stream header: %+v", h)
	}
	if len(b)%512 != 0 {
		t.Fatalf("stream size %d is not whole sectors", len(b))
	}
	pos := int64(h.overHead) * 512
	lastLBA := int64(-1)
	eos := 0
	for pos < int64(len(b)) {
		m := decodeMarker(b[pos:])
		if m.size > 0 {
			if int64(m.val) <= lastLBA {
				t.Fatalf("grain for LBA %d after LBA %d at byte %d", m.val, lastLBA, pos)
			}
			lastLBA = int64(m.val)
			pos += roundUp(12+int64(m.size), 512)
			continue
		}
		switch m.typ {
		case markerEOS:
			eos++
			if pos != int64(len(b))-512 {
				t.Fatalf("EOS marker at %d, not at the end (%d)", pos, len(b))
			}
			pos += 512
		case markerGT, markerGD:
			pos += 512 * (1 + int64(m.val))
		case markerFooter:
			pos += 1024
		default:
			t.Fatalf("unknown marker %+v at %d", m, pos)
		}
	}
	if eos != 1 {
		t.Fatalf("%d EOS markers", eos)
	}
}

// Zeros written to an empty stream store nothing and keep it readable.
func TestStreamZerosOnly(t *testing.T) {
	needQemu(t)
	p := tempPath(t, "z.vmdk")
	if err := Create(p, CreateOptions{Size: 2 << 20, Subformat: StreamOptimized}); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(p, OpenOptions{})
	d.WriteAt(make([]byte, 1<<20), 0)
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	qemuCheckClean(t, p)
	d.WriteAt([]byte("late"), 1<<20)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	qemuCheckClean(t, p)
	want := make([]byte, 2<<20)
	copy(want[1<<20:], "late")
	qemuCompareBytes(t, p, want)
	assertStreamShape(t, p)
}

// Opening a stream for writing and closing it without writes leaves the
// file byte for byte as it was.
func TestStreamOpenCloseUnchanged(t *testing.T) {
	p := tempPath(t, "u.vmdk")
	if err := Create(p, CreateOptions{Size: 2 << 20, Subformat: StreamOptimized}); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(p, OpenOptions{})
	d.WriteAt(bytes.Repeat([]byte("x"), 100000), 0)
	d.Close()
	before := mustReadFile(t, p)
	d, err := Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Flush()
	d.Close()
	if !bytes.Equal(before, mustReadFile(t, p)) {
		t.Fatal("untouched stream changed")
	}
}
