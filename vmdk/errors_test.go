package vmdk

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShortHeaderSameError: a file too short for the header its magic
// announces gets the same error from Open and from Check, whatever
// fields would read as zero.
func TestShortHeaderSameError(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{"KDMV", "4 bytes is too short for a sparse header (512 bytes)"},
		{"KDMV\x01\x00\x00\x00" + strings.Repeat("\x00", 300), "308 bytes is too short for a sparse header"},
		{"COWD\x01\x00\x00\x00", "8 bytes is too short for a vmfsSparse (COWD) header (2048 bytes)"},
		{"QFI\xfb\x00\x00\x00\x03", "8 bytes is too short for a qcow2 header (72 bytes)"},
	} {
		p := tempPath(t, "short.vmdk")
		os.WriteFile(p, []byte(tc.content), 0o644)
		_, openErr := Open(p, OpenOptions{ReadOnly: true})
		_, checkErr := Check(p, CheckOptions{})
		for _, err := range []error{openErr, checkErr} {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(fmtErr(err), tc.want) {
				t.Errorf("%q: %v, want ErrCorrupt saying %q", tc.content[:4], err, tc.want)
			}
		}
		if fmtErr(openErr) != fmtErr(checkErr) {
			t.Errorf("%q: Open says %q, Check %q", tc.content[:4], openErr, checkErr)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestMissingFilesPlain: a missing parent or extent is named in words,
// not as the failed system call, and still tests as fs.ErrNotExist.
func TestMissingFilesPlain(t *testing.T) {
	dir := t.TempDir()
	base, child := filepath.Join(dir, "base.vmdk"), filepath.Join(dir, "child.vmdk")
	if err := Create(base, CreateOptions{Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := Snapshot(base, child, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	split := filepath.Join(dir, "split.vmdk")
	if err := Create(split, CreateOptions{Size: 1 << 20, Subformat: TwoGbMaxExtentSparse}); err != nil {
		t.Fatal(err)
	}
	os.Remove(base)
	os.Remove(filepath.Join(dir, "split-s001.vmdk"))
	for path, want := range map[string]string{
		child: "its parent " + base + " does not exist",
		split: "split-s001.vmdk does not exist",
	} {
		_, err := Open(path, OpenOptions{ReadOnly: true})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(fmtErr(err), want) || strings.Contains(fmtErr(err), "lstat") {
			t.Errorf("%s: %v, want fs.ErrNotExist saying %q", filepath.Base(path), err, want)
		}
	}
}

// TestSnapshotKeepsItsChain: a new delta never replaces, even with
// Overwrite, a file of the chain it is to read from; other files it does.
func TestSnapshotKeepsItsChain(t *testing.T) {
	dir := t.TempDir()
	base, child := filepath.Join(dir, "base.vmdk"), filepath.Join(dir, "child.vmdk")
	if err := Create(base, CreateOptions{Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := Snapshot(base, child, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(base)
	for _, target := range []string{base, child} {
		err := Snapshot(child, target, CreateOptions{Overwrite: true})
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(fmtErr(err), "belongs to the parent chain") {
			t.Errorf("snapshot of child onto %s: %v", filepath.Base(target), err)
		}
	}
	if after, _ := os.ReadFile(base); !bytes.Equal(before, after) {
		t.Fatal("the parent changed")
	}
	if err := Snapshot(base, child, CreateOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("snapshot onto an existing child without Overwrite: %v", err)
	}
	if err := Snapshot(base, child, CreateOptions{Overwrite: true}); err != nil {
		t.Errorf("snapshot onto an existing child with Overwrite: %v", err)
	}
}

// TestDescriptorErrorCause: a bad extent line is ErrCorrupt and keeps the
// parser's own error as a second cause.
func TestDescriptorErrorCause(t *testing.T) {
	_, err := parseDescriptor([]byte("version=1\ncreateType=\"monolithicFlat\"\nRW lots FLAT \"x.vmdk\" 0\n"))
	var multi interface{ Unwrap() []error }
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &multi) || len(multi.Unwrap()) != 2 ||
		!strings.Contains(multi.Unwrap()[1].Error(), `extent size "lots"`) {
		t.Fatalf("%v: want ErrCorrupt wrapping the extent line's error", err)
	}
}

// TestStreamCompression: the three levels give readable streams, smaller
// with more effort; an unknown level is refused before anything is
// written.
func TestStreamCompression(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "src.raw")
	// Text with some binary, like logs and programs (Go's level 9 is not
	// smaller than level 6 on every input; it is on such data).
	words := []string{"virtual ", "machine ", "disk ", "grain ", "table ", "directory ", "\n", "0x7f3a ", "sector "}
	r := rand.New(rand.NewPCG(5, 6))
	var data []byte
	for len(data) < 4<<20 {
		if r.IntN(8) == 0 {
			data = append(data, byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()))
		} else {
			data = append(data, words[r.IntN(len(words))]...)
		}
	}
	data = data[:4<<20]
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sizes := map[Compression]int64{}
	for _, c := range []Compression{CompressionFast, CompressionDefault, CompressionBest} {
		dst := filepath.Join(dir, string(c)+".vmdk")
		if err := Convert(raw, dst, ConvertOptions{Subformat: StreamOptimized, Compression: c}); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		st, _ := os.Stat(dst)
		sizes[c] = st.Size()
		d, err := Open(dst, OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(data))
		_, err = d.ReadAt(got, 0)
		d.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read back differs (%v)", c, err)
		}
	}
	if !(sizes[CompressionFast] > sizes[CompressionDefault] && sizes[CompressionDefault] > sizes[CompressionBest]) {
		t.Errorf("sizes fast %d, default %d, best %d", sizes[CompressionFast], sizes[CompressionDefault], sizes[CompressionBest])
	}
	bad := filepath.Join(dir, "bad.vmdk")
	if err := Convert(raw, bad, ConvertOptions{Subformat: StreamOptimized, Compression: "max"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("compression max: %v", err)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a refused convert created its destination")
	}
	if _, err := Open(raw, OpenOptions{Compression: "max"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Open with compression max: %v", err)
	}
}
