package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zlib"
)

// Hostile inputs must give a clear error (ErrCorrupt, ErrUnsupported,
// ErrPathEscape...) and never a panic or a huge allocation.

// validSparse returns the bytes of a small monolithicSparse image.
func validSparse(t *testing.T) []byte {
	t.Helper()
	p := tempPath(t, "v.vmdk")
	if err := Create(p, CreateOptions{Size: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(p, OpenOptions{})
	d.WriteAt(bytes.Repeat([]byte{7}, 200<<10), 0)
	d.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put64(b []byte, off int, v uint64) []byte {
	c := append([]byte(nil), b...)
	binary.LittleEndian.PutUint64(c[off:], v)
	return c
}

func put32(b []byte, off int, v uint32) []byte {
	c := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

// openAndRead opens an image from bytes and reads it all; it returns the
// first error.
func openAndRead(t *testing.T, name string, content []byte) error {
	t.Helper()
	p := tempPath(t, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return readWhole(p, OpenOptions{ReadOnly: true, Format: FormatVMDK})
}

func readWhole(p string, opts OpenOptions) error {
	d, err := Open(p, opts)
	if err != nil {
		return err
	}
	defer d.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < d.Size(); off += int64(len(buf)) {
		if _, err := d.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}

func TestHostileSparseHeaders(t *testing.T) {
	good := validSparse(t)
	h := decodeSparseHeader(good)
	gtSector := binary.LittleEndian.Uint32(good[h.gdOffset*512:])
	cases := map[string][]byte{
		"truncated header":            good[:100],
		"truncated after header":      good[:600],
		"huge capacity":               put64(good, 0x0c, 1<<62),
		"zero capacity":               put64(good, 0x0c, 0),
		"grain not power of two":      put64(good, 0x14, 100),
		"huge grain":                  put64(good, 0x14, 1<<40),
		"zero grain":                  put64(good, 0x14, 0),
		"huge GTEs per GT":            put32(good, 0x2c, 0xffffffff),
		"GD past EOF":                 put64(good, 0x38, 1<<40),
		"RGD past EOF":                put64(good, 0x30, 1<<40),
		"descriptor past EOF":         put64(good, 0x1c, 1<<50),
		"huge descriptor":             put64(good, 0x24, 1<<40),
		"version 9":                   put32(good, 0x04, 9),
		"unknown incompat flag":       put32(good, 0x08, 0x3|1<<20),
		"bad newline bytes":           append(append(append([]byte(nil), good[:0x49]...), 'x', 'x', 'x', 'x'), good[0x4d:]...),
		"GT entry past EOF":           put32(good, int(gtSector)*512, 0x7fffffff),
		"GT entry into metadata":      put32(good, int(gtSector)*512, 2),
		"GD entry past EOF":           put32(good, int(h.gdOffset)*512, 0xfffffff0),
		"compression algorithm 7":     put32(put32(good, 0x08, 0x10003), 0x4d, 7),
		"markers without compression": put32(good, 0x08, 0x20003),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			err := openAndRead(t, "h.vmdk", b)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %q is neither ErrCorrupt nor ErrUnsupported", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
}

func TestHostileStreams(t *testing.T) {
	p := tempPath(t, "s.vmdk")
	if err := Create(p, CreateOptions{Size: 4 << 20, Subformat: StreamOptimized}); err != nil {
		t.Fatal(err)
	}
	d, _ := Open(p, OpenOptions{})
	d.WriteAt(bytes.Repeat([]byte("stream!"), 100000), 0)
	d.Close()
	good, _ := os.ReadFile(p)
	h := decodeSparseHeader(good)
	cases := map[string][]byte{
		"no footer":           good[:len(good)-1536],
		"footer capacity":     put64(good, len(good)-1024+0x0c, 1<<50),
		"grain size lies":     put32(good, int(h.overHead)*512+8, 0xffffff), // first record's size
		"grain LBA lies":      put64(good, int(h.overHead)*512, 128),
		"garbage compression": put64(good, int(h.overHead)*512+12, 0xdeadbeefdeadbeef),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			err := openAndRead(t, "s.vmdk", b)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			// The cause stays reachable beside the sentinel.
			if name == "garbage compression" && !errors.Is(err, zlib.ErrHeader) {
				t.Fatalf("got %v, want the zlib error as its cause", err)
			}
		})
	}
}

func TestHostileDescriptors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "data.bin"), make([]byte, 1<<20), 0o644)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host data"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link.bin"))
	desc := func(body string) string {
		return "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n" + body
	}
	cases := map[string]struct {
		text string
		want error
	}{
		"absolute extent path": {desc(`RW 2048 FLAT "/etc/passwd" 0`), ErrPathEscape},
		"dot-dot extent path":  {desc(`RW 2048 FLAT "../x/secret" 0`), ErrPathEscape},
		"symlink out":          {desc(`RW 2048 FLAT "link.bin" 0`), ErrPathEscape},
		"parent escapes":       {strings.Replace(desc(`RW 2048 FLAT "data.bin" 0`), "parentCID=ffffffff", "parentCID=1\nparentFileNameHint=\"../../etc/base.vmdk\"", 1), ErrPathEscape},
		"no createType":        {"version=1\nCID=1\nRW 2048 FLAT \"data.bin\" 0\n", ErrCorrupt},
		"no extents":           {desc(""), ErrCorrupt},
		"bad size":             {desc(`RW -5 FLAT "data.bin" 0`), ErrCorrupt},
		"huge size":            {desc(`RW 99999999999999999999 FLAT "data.bin" 0`), ErrCorrupt},
		"sizes overflow":       {desc(strings.Repeat("RW 2199023255552 FLAT \"data.bin\" 0\n", 3)), ErrCorrupt},
		"unknown type":         {desc(`RW 2048 TAPE "data.bin"`), ErrCorrupt},
		"unterminated name":    {desc(`RW 2048 FLAT "data.bin`), ErrCorrupt},
		"garbage line":         {desc("this is not a descriptor line"), ErrCorrupt},
		"bad CID":              {strings.Replace(desc(`RW 2048 FLAT "data.bin" 0`), "CID=1", "CID=xyz", 1), ErrCorrupt},
		"version 7":            {strings.Replace(desc(`RW 2048 FLAT "data.bin" 0`), "version=1", "version=7", 1), ErrCorrupt},
		"device extent":        {desc(`RW 2048 VMFSRDM "data.bin"`), ErrUnsupported},
		"missing extent":       {desc(`RW 2048 FLAT "nope.bin" 0`), os.ErrNotExist},
		"self parent loop":     {strings.Replace(desc(`RW 2048 FLAT "data.bin" 0`), "parentCID=ffffffff", "parentCID=1\nparentFileNameHint=\"d.vmdk\"", 1), ErrCorrupt},
		"delta without hint":   {strings.Replace(desc(`RW 2048 FLAT "data.bin" 0`), "parentCID=ffffffff", "parentCID=5", 1), ErrCorrupt},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "d.vmdk")
			os.WriteFile(p, []byte(c.text), 0o644)
			err := readWhole(p, OpenOptions{ReadOnly: true})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// The same escapes are allowed when the caller says so.
	p := filepath.Join(dir, "ok.vmdk")
	os.WriteFile(p, []byte(desc(`RW 1 FLAT "link.bin" 0`)), 0o644)
	if err := readWhole(p, OpenOptions{ReadOnly: true, AllowOutsidePaths: true}); err != nil {
		t.Fatalf("allowed outside path: %v", err)
	}
}

// A descriptor parsed leniently: spaces around '=', CRLF, comments, any
// key order and case, RDONLY/NOACCESS/ZERO extents (ZERO counts toward the
// size, unlike in qemu).
func TestLenientDescriptor(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte{0xab}, 1<<20)
	os.WriteFile(filepath.Join(dir, "a-flat.vmdk"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "b flat.vmdk"), bytes.Repeat([]byte{0xcd}, 1<<20), 0o644)
	text := "# comment first\r\n" +
		"createtype = \"monolithicFlat\"\r\n" +
		"  CID = 0000abcd \r\n" +
		"VERSION=1\r\n" +
		"parentCID=ffffffff\r\n" +
		"\r\n" +
		"RW 2048 FLAT \"a-flat.vmdk\" 0\r\n" +
		"RDONLY 2048 flat \"b flat.vmdk\" 0\r\n" +
		"RW 2048 ZERO\r\n" +
		"NOACCESS 2048 FLAT \"a-flat.vmdk\" 0 uuid device\r\n" +
		"#DDB\r\n" +
		"ddb.adapterType=\"lsilogic\"\r\n"
	p := filepath.Join(dir, "lenient.vmdk")
	os.WriteFile(p, []byte(text), 0o644)
	d, err := Open(p, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != 4<<20 {
		t.Fatalf("size %d, want 4 MiB (ZERO and NOACCESS extents count)", d.Size())
	}
	buf := make([]byte, 3<<20)
	if _, err := d.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:1<<20], data) || buf[1<<20] != 0xcd || !isZero(buf[2<<20:]) {
		t.Fatal("content of FLAT/RDONLY/ZERO extents wrong")
	}
	if _, err := d.ReadAt(buf[:512], 3<<20); !errors.Is(err, ErrNoAccess) {
		t.Fatalf("NOACCESS read: %v", err)
	}
	if _, err := d.WriteAt(buf[:512], 1<<20); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("RDONLY write: %v", err)
	}
	if _, err := d.WriteAt(buf[:512], 2<<20); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("ZERO write: %v", err)
	}
	if _, err := d.WriteAt([]byte("ok"), 0); err != nil {
		t.Fatalf("RW write: %v", err)
	}
	if in := d.Info(); in.CID == "0000abcd" || in.Adapter != "lsilogic" {
		t.Fatalf("info after write: CID %s (must change on first write), adapter %s", in.CID, in.Adapter)
	}
}

// A read-only open never writes, not even the unclean flag or the CID.
func TestReadOnlyNeverWrites(t *testing.T) {
	for _, sub := range Subformats() {
		dir := t.TempDir()
		p := filepath.Join(dir, "ro.vmdk")
		if err := Create(p, CreateOptions{Size: 3 << 20, Subformat: sub}); err != nil {
			t.Fatal(err)
		}
		before := snapshotDir(t, dir)
		d, err := Open(p, OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		d.ReadAt(buf, 0)
		if _, err := d.WriteAt(buf, 0); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("%s: write on read-only disk: %v", sub, err)
		}
		d.Flush()
		d.Close()
		if after := snapshotDir(t, dir); after != before {
			t.Fatalf("%s: read-only open modified files", sub)
		}
	}
}

func snapshotDir(t *testing.T, dir string) string {
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		st, _ := os.Stat(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %d %x %v\n", e.Name(), len(data), data, st.ModTime())
	}
	return b.String()
}

// A raw image whose format was guessed must not become a VMDK by a write
// to its first sector (a guest could otherwise point us at host files).
func TestProbedRawSector0(t *testing.T) {
	p := tempPath(t, "guest.img")
	os.WriteFile(p, make([]byte, 1<<20), 0o644)
	d, err := Open(p, OpenOptions{})
	if err != nil || d.Format() != FormatRaw {
		t.Fatalf("open: %v %v", err, d.Format())
	}
	sig := []byte("# Disk DescriptorFile\nversion=1\n")
	if _, err := d.WriteAt(sig, 0); !errors.Is(err, ErrProbedRawSector0) {
		t.Fatalf("writing a descriptor into sector 0: %v", err)
	}
	if _, err := d.WriteAt([]byte("KDMV"), 0); !errors.Is(err, ErrProbedRawSector0) {
		t.Fatalf("writing KDMV into sector 0: %v", err)
	}
	if _, err := d.WriteAt([]byte("harmless"), 0); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, _ = Open(p, OpenOptions{Format: FormatRaw})
	if _, err := d.WriteAt([]byte("KDMV"), 0); err != nil {
		t.Fatalf("explicit raw: %v", err)
	}
	d.Close()
}

// ESXi "vmfs" descriptors (VMFS extents with and without the offset field
// qemu rejects) and a monolithicSparse described by a separate descriptor.
func TestVMFSAndSeparateSparse(t *testing.T) {
	needQemu(t)
	dir := t.TempDir()
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(i / 4096)
	}
	os.WriteFile(filepath.Join(dir, "esx-flat.vmdk"), data, 0o644)
	for i, line := range []string{`RW 4096 VMFS "esx-flat.vmdk"`, `RW 4096 VMFS "esx-flat.vmdk" 0`} {
		p := filepath.Join(dir, fmt.Sprintf("esx%d.vmdk", i))
		os.WriteFile(p, []byte("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=0172e8a4\nparentCID=ffffffff\nisNativeSnapshot=\"no\"\ncreateType=\"vmfs\"\n\n# Extent description\n"+line+"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"buslogic\"\nddb.longContentID = \"7e4b2a1d8f3c4e5a9b2c1d0e0172e8a4\"\n"), 0o644)
		assertSame(t, line, readAll(t, p), data)
		d, err := Open(p, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.WriteAt([]byte{0xff}, 5)
		d.Close()
		data[5] = 0xff
	}
	// A sparse extent made by qemu, described by its own descriptor file.
	src := filepath.Join(dir, "src.raw")
	os.WriteFile(src, data, 0o644)
	qemu(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", src, filepath.Join(dir, "q.vmdk"))
	sep := filepath.Join(dir, "sep.vmdk")
	os.WriteFile(sep, []byte("version=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\nRW 4096 SPARSE \"q-s001.vmdk\"\n"), 0o644)
	assertSame(t, "separate descriptor", readAll(t, sep), data)
}
