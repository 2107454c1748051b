package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sparseFixture is a written monolithicSparse image with handles on its
// metadata for corrupting it.
type sparseFixture struct {
	path     string
	content  []byte
	h        sparseHeader
	gt, rgt  int64 // sectors of grain table 0 and its copy
	fileSize int64
}

func newSparseFixture(t *testing.T) *sparseFixture {
	t.Helper()
	p := tempPath(t, "fix.vmdk")
	const size = 8 << 20
	if err := Create(p, CreateOptions{Size: size}); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(p, OpenOptions{})
	content := make([]byte, size)
	for g := 0; g < 12; g++ { // grains 0..11 allocated, distinct data
		b := bytes.Repeat([]byte{byte(0x10 + g)}, 64<<10)
		d.WriteAt(b, int64(g)<<16)
		copy(content[g<<16:], b)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	h := decodeSparseHeader(raw)
	return &sparseFixture{path: p, content: content, h: h,
		gt:       int64(binary.LittleEndian.Uint32(raw[h.gdOffset*512:])),
		rgt:      int64(binary.LittleEndian.Uint32(raw[h.rgdOffset*512:])),
		fileSize: int64(len(raw))}
}

func (f *sparseFixture) entry(t *testing.T, tableSector, i int64) uint32 {
	b := make([]byte, 4)
	file, _ := os.Open(f.path)
	defer file.Close()
	file.ReadAt(b, tableSector*512+i*4)
	return binary.LittleEndian.Uint32(b)
}

func (f *sparseFixture) poke(t *testing.T, off int64, v uint32) {
	t.Helper()
	file, err := os.OpenFile(f.path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, v)
	if _, err := file.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// expectRepair checks the image reports kind, that repair fixes it, that
// both our check and qemu-img's are then clean, and that the content is
// want.
func expectRepair(t *testing.T, path, kind string, want []byte) {
	t.Helper()
	res, err := Check(path, CheckOptions{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if !slices.ContainsFunc(res.Problems, func(p Problem) bool { return p.Kind == kind }) {
		t.Fatalf("check did not report %s: %+v", kind, res.Problems)
	}
	if res.Clean() {
		t.Fatal("problems reported but Clean() says true")
	}
	if res, err = Check(path, CheckOptions{Repair: true}); err != nil || !res.Clean() {
		t.Fatalf("repair: %v %+v", err, res)
	}
	if res, err = Check(path, CheckOptions{}); err != nil || len(res.Problems) != 0 {
		t.Fatalf("check after repair: %v %+v", err, res)
	}
	qemuCheckClean(t, path)
	assertSame(t, "content after repair", readAll(t, path), want)
}

func TestCheckRepairSparse(t *testing.T) {
	needQemu(t)
	t.Run("entry past EOF, both copies", func(t *testing.T) {
		f := newSparseFixture(t)
		f.poke(t, f.gt*512+5*4, 0x7ffffff0)
		f.poke(t, f.rgt*512+5*4, 0x7ffffff0)
		want := slices.Clone(f.content)
		clear(want[5<<16 : 6<<16]) // the grain is lost: it pointed nowhere
		expectRepair(t, f.path, ProblemPastEOF, want)
	})
	t.Run("primary entry past EOF, copy intact", func(t *testing.T) {
		f := newSparseFixture(t)
		f.poke(t, f.gt*512+5*4, 0x7ffffff0)
		expectRepair(t, f.path, ProblemPastEOF, f.content) // nothing lost
	})
	t.Run("entry into metadata", func(t *testing.T) {
		f := newSparseFixture(t)
		f.poke(t, f.gt*512+3*4, 2)
		expectRepair(t, f.path, ProblemIntoMetadata, f.content)
	})
	t.Run("redundant mismatch", func(t *testing.T) {
		f := newSparseFixture(t)
		f.poke(t, f.rgt*512+2*4, 0)
		expectRepair(t, f.path, ProblemRedundant, f.content)
	})
	t.Run("directory entry past EOF", func(t *testing.T) {
		f := newSparseFixture(t)
		f.poke(t, int64(f.h.gdOffset)*512, 0x7ffffff0)
		expectRepair(t, f.path, ProblemPastEOF, f.content)
	})
	t.Run("overlapping grains", func(t *testing.T) {
		f := newSparseFixture(t)
		v := f.entry(t, f.gt, 6)
		old7 := f.entry(t, f.gt, 7)
		f.poke(t, f.gt*512+7*4, v)
		f.poke(t, f.rgt*512+7*4, v)
		// Grain 7's old storage is now unreferenced: punch it so the only
		// problem is the overlap.
		file, _ := os.OpenFile(f.path, os.O_RDWR, 0)
		zeroFileRange(file, int64(old7)*512, 64<<10)
		file.Close()
		want := slices.Clone(f.content)
		copy(want[7<<16:8<<16], want[6<<16:7<<16]) // both read grain 6, as before
		expectRepair(t, f.path, ProblemOverlap, want)
		d, _ := Open(f.path, OpenOptions{})
		d.WriteAt(bytes.Repeat([]byte{0xee}, 512), 7<<16) // and are now separate
		d.Close()
		if got := readAll(t, f.path); got[6<<16] == 0xee {
			t.Fatal("grains still share storage after repair")
		}
	})
	t.Run("orphans at the end and in the middle", func(t *testing.T) {
		f := newSparseFixture(t)
		file, _ := os.OpenFile(f.path, os.O_RDWR, 0)
		file.WriteAt(bytes.Repeat([]byte{0xcc}, 200<<10), f.fileSize) // lost unflushed grains
		file.Close()
		f.poke(t, f.gt*512+4*4, 0) // grain 4 unreferenced in the middle
		f.poke(t, f.rgt*512+4*4, 0)
		want := slices.Clone(f.content)
		clear(want[4<<16 : 5<<16])
		expectRepair(t, f.path, ProblemOrphanGrains, want)
		if st, _ := os.Stat(f.path); st.Size() != f.fileSize {
			t.Fatalf("size after repair %d, want %d", st.Size(), f.fileSize)
		}
	})
	t.Run("unclean shutdown", func(t *testing.T) {
		f := newSparseFixture(t)
		file, _ := os.OpenFile(f.path, os.O_RDWR, 0)
		file.WriteAt([]byte{1}, 0x48)
		file.Close()
		expectRepair(t, f.path, ProblemUnclean, f.content)
	})
}

func TestCheckRepairOthers(t *testing.T) {
	needQemu(t)
	t.Run("short flat extent", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "flat.vmdk")
		if err := Create(p, CreateOptions{Size: 4 << 20, Subformat: MonolithicFlat}); err != nil {
			t.Fatal(err)
		}
		os.Truncate(filepath.Join(dir, "flat-flat.vmdk"), 1<<20)
		expectRepair(t, p, ProblemShortExtent, make([]byte, 4<<20))
	})
	t.Run("stream without tail", func(t *testing.T) {
		dir := t.TempDir()
		pat := newPattern(9, 6<<20, 30)
		raw := filepath.Join(dir, "src.raw")
		pat.writeRaw(t, raw)
		p := filepath.Join(dir, "s.vmdk")
		if err := Convert(raw, p, ConvertOptions{Subformat: StreamOptimized}); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		os.Truncate(p, st.Size()-1536) // lose footer and EOS
		if _, err := Open(p, OpenOptions{ReadOnly: true}); err == nil {
			t.Fatal("stream without footer opened")
		}
		expectRepair(t, p, ProblemStreamTail, pat.expected())
	})
	t.Run("raw is always clean", func(t *testing.T) {
		p := tempPath(t, "r.img")
		os.WriteFile(p, []byte("anything"), 0o644)
		if res, err := Check(p, CheckOptions{}); err != nil || len(res.Problems) != 0 {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("cannot check", func(t *testing.T) {
		if _, err := Check(tempPath(t, "missing.vmdk"), CheckOptions{}); err == nil {
			t.Fatal("missing file checked")
		}
	})
}

// A qemu-made image with an unclean-shutdown flag and stale copy opens
// for writing, and Close leaves a clean image.
func TestUncleanFlagLifecycle(t *testing.T) {
	needQemu(t)
	p := tempPath(t, "u.vmdk")
	if err := Create(p, CreateOptions{Size: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(p, OpenOptions{})
	d.WriteAt([]byte("x"), 0)
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	// While open and written, the flag is set on disk...
	res, _ := Check(p, CheckOptions{})
	if !slices.ContainsFunc(res.Problems, func(p Problem) bool { return p.Kind == ProblemUnclean }) {
		t.Fatalf("open image not marked unclean: %+v", res)
	}
	d.Close()
	// ...and cleared by Close.
	if res, _ := Check(p, CheckOptions{}); len(res.Problems) != 0 {
		t.Fatalf("closed image: %+v", res.Problems)
	}
	qemuCheckClean(t, p)
}

// Opening an unclean image for writing repairs it first; a read-only open
// leaves it untouched.
func TestOpenRepairsUnclean(t *testing.T) {
	f := newSparseFixture(t)
	file, _ := os.OpenFile(f.path, os.O_RDWR, 0)
	file.WriteAt(bytes.Repeat([]byte{0xcc}, 100<<10), f.fileSize) // orphans
	file.WriteAt([]byte{1}, 0x48)
	file.Close()
	f.poke(t, f.rgt*512+1*4, 0) // a lagging redundant entry
	before := mustReadFile(t, f.path)
	d, err := Open(f.path, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if !bytes.Equal(before, mustReadFile(t, f.path)) {
		t.Fatal("read-only open changed the file")
	}
	d, err = Open(f.path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if res, err := Check(f.path, CheckOptions{}); err != nil || len(res.Problems) != 0 {
		t.Fatalf("after read-write open: %v %+v", err, res.Problems)
	}
	assertSame(t, "content", readAll(t, f.path), f.content)
}

func mustReadFile(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Two writers never share an image, nor do a writer and a repair.
func TestWriterLock(t *testing.T) {
	for _, sub := range []Subformat{MonolithicSparse, TwoGbMaxExtentFlat} {
		p := tempPath(t, "l.vmdk")
		if err := Create(p, CreateOptions{Size: 1 << 20, Subformat: sub}); err != nil {
			t.Fatal(err)
		}
		d, err := Open(p, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(p, OpenOptions{}); !errors.Is(err, ErrInUse) {
			t.Fatalf("%s: second writer: %v, want ErrInUse", sub, err)
		}
		if sub == MonolithicSparse {
			if _, err := Check(p, CheckOptions{Repair: true}); !errors.Is(err, ErrInUse) {
				t.Fatalf("repair of an open image: %v, want ErrInUse", err)
			}
		}
		r, err := Open(p, OpenOptions{ReadOnly: true}) // readers are welcome
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		d.Close()
		d, err = Open(p, OpenOptions{})
		if err != nil {
			t.Fatalf("%s: reopen after close: %v", sub, err)
		}
		d.Close()
	}
}

func TestCheckDescriptorSize(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "split.vmdk")
	if err := Create(p, CreateOptions{Size: 3 << 20, Subformat: TwoGbMaxExtentSparse}); err != nil {
		t.Fatal(err)
	}
	// Keys out of order (still a descriptor) and an extent line too large.
	text := "createType=\"twoGbMaxExtentSparse\"\nversion=1\nCID=00000001\nparentCID=ffffffff\nRW 8192 SPARSE \"split-s001.vmdk\"\n"
	os.WriteFile(p, []byte(text), 0o644)
	if _, err := Open(p, OpenOptions{ReadOnly: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v", err)
	}
	expectRepair(t, p, ProblemDescriptorSize, make([]byte, 3<<20))
}

// Writing behind an empty directory entry allocates a grain table (qemu
// instead writes the grain over the header: the image is destroyed).
func TestWriteAllocatesGrainTable(t *testing.T) {
	needQemu(t)
	// Empty both copies of directory entries 0 and 1 of a fresh image.
	p := tempPath(t, "nogt.vmdk")
	Create(p, CreateOptions{Size: 40 << 20})
	raw, _ := os.ReadFile(p)
	h := decodeSparseHeader(raw)
	file, _ := os.OpenFile(p, os.O_RDWR, 0)
	file.WriteAt(make([]byte, 8), int64(h.gdOffset)*512)  // entries 0, 1
	file.WriteAt(make([]byte, 8), int64(h.rgdOffset)*512) // and their copies
	file.Close()
	qemuCheckClean(t, p)
	d, err := Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 40<<20)
	for _, off := range []int64{0, 100 << 10, 33 << 20} {
		d.WriteAt(bytes.Repeat([]byte{0x5c}, 70000), off)
		copy(want[off:], bytes.Repeat([]byte{0x5c}, 70000))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	qemuCheckClean(t, p)
	qemuCompareBytes(t, p, want)
	if res, err := Check(p, CheckOptions{}); err != nil || len(res.Problems) != 0 {
		t.Fatalf("check: %v %+v", err, res.Problems)
	}
}

// qemu honours our writer lock, and we honour qemu's.
func TestQemuLockInterop(t *testing.T) {
	needQemu(t)
	p := tempPath(t, "q.vmdk")
	Create(p, CreateOptions{Size: 1 << 20})
	d, err := Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("qemu-img", "info", p).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "lock") {
		t.Fatalf("qemu-img info on an image we write: %v %s", err, out)
	}
	d.Close()
	// qemu-io holds the image open for writing while it sleeps.
	cmd := exec.Command("qemu-io", "-f", "vmdk", "-c", "sleep 3000", p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := Open(p, OpenOptions{})
		if errors.Is(err, ErrInUse) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("open while qemu-io writes: %v, want ErrInUse", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
