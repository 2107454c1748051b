package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Every writable subformat converts to every other and back to raw with
// the content intact, and is sparse: zero and unallocated grains take no
// space.
func TestConvertMatrix(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	pat := newPattern(77, 10<<20, 30)
	src := filepath.Join(dir, "src.raw")
	pat.writeRaw(t, src)
	for _, a := range Subformats() {
		va := filepath.Join(dir, "a-"+string(a)+".vmdk")
		if err := Convert(src, va, ConvertOptions{Subformat: a}); err != nil {
			t.Fatalf("raw -> %s: %v", a, err)
		}
		qemuCheckClean(t, va)
		qemuCompare(t, src, va)
		for _, b := range []Subformat{MonolithicSparse, StreamOptimized, TwoGbMaxExtentFlat} {
			vb := filepath.Join(dir, fmt.Sprintf("b-%s-%s.vmdk", a, b))
			if err := Convert(va, vb, ConvertOptions{Subformat: b}); err != nil {
				t.Fatalf("%s -> %s: %v", a, b, err)
			}
			qemuCompare(t, src, vb)
		}
		back := filepath.Join(dir, "back-"+string(a)+".img")
		if err := Convert(va, back, ConvertOptions{}); err != nil {
			t.Fatal(err)
		}
		assertSame(t, "round trip via "+string(a), mustRead(t, back), pat.expected())
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sparse-aware copy: a mostly empty source gives a small destination.
func TestConvertSkipsZeros(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "big.raw")
	f, _ := os.Create(src)
	f.Truncate(256 << 20)
	f.WriteAt(bytes.Repeat([]byte{1}, 64<<10), 100<<20)
	f.WriteAt(make([]byte, 8<<20), 20<<20) // written zeros, not a hole
	f.Close()
	dst := filepath.Join(dir, "out.vmdk")
	if err := Convert(src, dst, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := allocatedBytes(dst); got > 1<<20 {
		t.Fatalf("destination uses %d bytes for 64 KiB of data", got)
	}
	d, _ := Open(dst, OpenOptions{ReadOnly: true})
	var data int64
	d.Map(0, d.Size(), func(m MapEntry) error {
		if m.Data {
			data += m.Length
		}
		return nil
	})
	d.Close()
	if data != 64<<10 {
		t.Fatalf("map shows %d bytes of data, want 65536", data)
	}
}

// qcow2 images made by qemu-img (compressed clusters, zero clusters, a
// backing file) convert to VMDK identically.
func TestConvertFromQCOW2(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	pat := newPattern(5, 8<<20, 25)
	src := filepath.Join(dir, "src.raw")
	pat.writeRaw(t, src)
	base := filepath.Join(dir, "base.qcow2")
	qemu(t, "qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", src, base)
	top := filepath.Join(dir, "top.qcow2")
	qemu(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
	qemu(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x77 1M 100k", "-c", "write -z 3M 1M", top)
	want := pat.expected()
	copy(want[1<<20:], bytes.Repeat([]byte{0x77}, 100<<10))
	clear(want[3<<20 : 4<<20])
	out := filepath.Join(dir, "out.vmdk")
	if err := Convert(top, out, ConvertOptions{Subformat: MonolithicSparse}); err != nil {
		t.Fatal(err)
	}
	qemuCheckClean(t, out)
	assertSame(t, "qcow2 chain", readAll(t, out), want)
	if _, err := Open(top, OpenOptions{}); err == nil {
		t.Fatal("qcow2 opened for writing")
	}
}

// Convert into an existing image rewrites it completely, zeros included.
func TestConvertIntoExisting(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "dst.vmdk")
	Create(dst, CreateOptions{Size: 4 << 20})
	d, _ := Open(dst, OpenOptions{})
	d.WriteAt(bytes.Repeat([]byte{9}, 4<<20), 0)
	d.Close()
	src := filepath.Join(dir, "src.raw")
	os.WriteFile(src, append(make([]byte, 2<<20), bytes.Repeat([]byte{3}, 2<<20)...), 0o644)
	if err := Convert(src, dst, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	assertSame(t, "existing destination", readAll(t, dst), mustRead(t, src))
	if err := Convert(src, src, ConvertOptions{}); err == nil {
		t.Fatal("converting a file onto itself succeeded")
	}
}

func TestResize(t *testing.T) {
	needQemu(t)
	for _, sub := range Subformats() {
		t.Run(string(sub), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "r.vmdk")
			if err := Create(p, CreateOptions{Size: 3 << 20, Subformat: sub}); err != nil {
				t.Fatal(err)
			}
			d, _ := Open(p, OpenOptions{})
			d.WriteAt(bytes.Repeat([]byte{5}, 1<<20), 1<<20)
			d.Close()
			// Past a directory-sector boundary for sparse files (128 GDEs
			// per sector, 32 MiB each) and past a 2 GiB split boundary.
			const newSize = 4<<30 + 5<<20
			if err := Resize(p, newSize, ResizeOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := Resize(p, 1<<20, ResizeOptions{}); err == nil {
				t.Fatal("shrink succeeded")
			}
			d, err := Open(p, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Size() != newSize {
				t.Fatalf("size %d after resize", d.Size())
			}
			tail := int64(newSize - 70000)
			if _, err := d.WriteAt(bytes.Repeat([]byte{6}, 70000), tail); err != nil {
				t.Fatal(err)
			}
			d.Close()
			qemuCheckClean(t, p)
			// qemu writes into the grown area too (no empty directory
			// entries left for its allocation bug to trip on).
			qemu(t, "qemu-io", "-f", "vmdk", "-c", "write -P 7 4G 64k", p)
			want := map[int64]byte{1 << 20: 5, 2<<20 - 1: 5, 3 << 20: 0, tail: 6, newSize - 1: 6, 4 << 30: 7}
			d, _ = Open(p, OpenOptions{ReadOnly: true})
			defer d.Close()
			for off, v := range want {
				b := make([]byte, 1)
				d.ReadAt(b, off)
				if b[0] != v {
					t.Errorf("byte %d = %d, want %d", off, b[0], v)
				}
			}
			if res, err := Check(p, CheckOptions{}); err != nil || len(res.Problems) != 0 {
				t.Fatalf("check: %v %+v", err, res)
			}
		})
	}
}

// Zeroing and discarding: whole and partial grains, in a standalone image
// and in a delta (where zeros must hide the parent), as qemu reads them.
func TestZeroAndDiscard(t *testing.T) {
	needQemu(t)
	for _, zeroed := range []bool{false, true} {
		t.Run(fmt.Sprintf("zeroedGrain=%v", zeroed), func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "base.vmdk")
			Create(base, CreateOptions{Size: 4 << 20})
			d, _ := Open(base, OpenOptions{})
			d.WriteAt(bytes.Repeat([]byte{0xb}, 4<<20), 0)
			d.Close()
			child := filepath.Join(dir, "child.vmdk")
			if err := Snapshot(base, child, CreateOptions{ZeroedGrain: zeroed}); err != nil {
				t.Fatal(err)
			}
			d, _ = Open(child, OpenOptions{})
			want := bytes.Repeat([]byte{0xb}, 4<<20)
			d.WriteAt(bytes.Repeat([]byte{0xc}, 64<<10), 2<<20)
			copy(want[2<<20:], bytes.Repeat([]byte{0xc}, 64<<10))
			for _, z := range [][2]int64{{0, 256 << 10}, {300 << 10, 1000}, {2<<20 + 512, 4096}} {
				if err := d.WriteZeroes(z[0], z[1]); err != nil {
					t.Fatal(err)
				}
				clear(want[z[0] : z[0]+z[1]])
			}
			d.Close()
			raw := filepath.Join(dir, "want.raw")
			os.WriteFile(raw, want, 0o644)
			qemuCheckClean(t, child)
			qemuCompare(t, raw, child)
			// Discard on the base frees its space.
			before := allocatedBytes(base)
			d, _ = Open(base, OpenOptions{})
			if err := d.Discard(0, 4<<20); err != nil {
				t.Fatal(err)
			}
			d.Close()
			if after := allocatedBytes(base); after >= before {
				t.Errorf("discard freed nothing: %d -> %d", before, after)
			}
		})
	}
}

// Concurrent writers and readers on overlapping grains: every write lands
// whole and the image stays consistent (run with -race in development).
func TestConcurrentIO(t *testing.T) {
	needQemu(t)
	p := tempPath(t, "c.vmdk")
	const size = 8 << 20
	Create(p, CreateOptions{Size: size})
	d, err := Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Each goroutine owns interleaved 4 KiB blocks, so grains are shared
	// and allocations race.
	const workers = 8
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for blk := w; blk < size/4096; blk += workers {
				for i := range buf {
					buf[i] = byte(blk) ^ byte(w)
				}
				if _, err := d.WriteAt(buf, int64(blk)*4096); err != nil {
					t.Error(err)
					return
				}
				if blk%7 == 0 {
					d.Flush()
				}
				got := make([]byte, 4096)
				d.ReadAt(got, int64(blk)*4096)
				if !bytes.Equal(got, buf) {
					t.Errorf("block %d read back wrong", blk)
					return
				}
			}
		})
	}
	wg.Wait()
	d.Close()
	qemuCheckClean(t, p)
	got := readAll(t, p)
	for blk := 0; blk < size/4096; blk++ {
		if got[blk*4096] != byte(blk)^byte(blk%workers) {
			t.Fatalf("block %d lost", blk)
		}
	}
	if res, err := Check(p, CheckOptions{}); err != nil || len(res.Problems) != 0 {
		t.Fatalf("check: %v %+v", err, res)
	}
}

// Every compression level writes streams qemu-img reads back identical
// and finds clean, and hypercim reads qemu-img's stream of the same data
// through the parallel read-ahead; levels outside 1-9 are refused.
func TestStreamLevelsInterop(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	pat := newPattern(31, 12<<20, 40)
	src := filepath.Join(dir, "src.raw")
	pat.writeRaw(t, src)
	for _, c := range []Compression{CompressionFast, CompressionDefault, CompressionBest, "1", "6"} {
		dst := filepath.Join(dir, "l"+string(c)+".vmdk")
		if err := Convert(src, dst, ConvertOptions{Subformat: StreamOptimized, Compression: c}); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		qemuCheckClean(t, dst)
		qemuCompare(t, src, dst)
	}
	theirs := filepath.Join(dir, "qemu.vmdk")
	qemu(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", src, theirs)
	back := filepath.Join(dir, "back.raw")
	if err := Convert(theirs, back, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	assertSame(t, "qemu-img's stream read by hypercim", mustRead(t, back), pat.expected())
	for _, c := range []Compression{"0", "10", "-1", "fastest"} {
		if _, err := c.Level(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("compression %q: %v, want ErrInvalidArgument", c, err)
		}
	}
}

// A grain that does not inflate, in the middle of a stream, fails the
// convert with ErrCorrupt while later chunks are being read ahead; the
// read-ahead goroutines end and the new destination is removed.
func TestConvertStopsOnBadGrain(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.raw")
	data := make([]byte, 32<<20)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range data {
		data[i] = byte(r.IntN(16)) // every grain allocated, compressible
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	stream := filepath.Join(dir, "s.vmdk")
	if err := Convert(src, stream, ConvertOptions{Subformat: StreamOptimized, Compression: CompressionFast}); err != nil {
		t.Fatal(err)
	}
	// Records follow the header's overHead in LBA order: find the one of
	// sector 8 MiB/512 and break its zlib header.
	img := mustRead(t, stream)
	h := decodeSparseHeader(img)
	const badLBA = 8 << 20 / sectorSize
	pos := int64(h.overHead) * sectorSize
	for {
		lba := binary.LittleEndian.Uint64(img[pos:])
		size := int64(binary.LittleEndian.Uint32(img[pos+8:]))
		if size == 0 || lba > badLBA {
			t.Fatal("no record for the chosen grain")
		}
		if lba == badLBA {
			binary.LittleEndian.PutUint16(img[pos+12:], 0xffff)
			break
		}
		pos += roundUp(12+size, sectorSize)
	}
	if err := os.WriteFile(stream, img, 0o644); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	dst := filepath.Join(dir, "out.raw")
	err := Convert(stream, dst, ConvertOptions{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("convert of a bad grain: %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed convert left its destination: %v", err)
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d goroutines after the convert, %d before", runtime.NumGoroutine(), before)
}
