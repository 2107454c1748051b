package vmdk

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needQemu skips when qemu-img is missing; CI installs it
// (scripts/install-deps.sh), so there the interop tests always run.
func needQemu(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qemu-img is not installed; scripts/install-deps.sh installs qemu-utils")
		}
		t.Skip("qemu-img not installed")
	}
}

// qemu runs a qemu tool and fails the test with its output on error.
func qemu(t testing.TB, tool string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// qemuCheckClean asserts qemu-img check finds no errors. -U lets it look
// at an image a test still holds open for writing (flushed state).
func qemuCheckClean(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("qemu-img", "check", "-U", "-f", "vmdk", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors") {
		t.Fatalf("qemu-img check %s: %v\n%s", path, err, out)
	}
}

// qemuCompare asserts qemu-img compare finds the image identical to raw.
func qemuCompare(t testing.TB, raw, img string) {
	t.Helper()
	out, err := exec.Command("qemu-img", "compare", "-U", "-f", "raw", "-F", "vmdk", raw, img).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img compare %s %s: %v\n%s", raw, img, err, out)
	}
}

// pattern is a reproducible set of writes: random data at random offsets,
// including grain-straddling and sub-sector-aligned ones.
type pattern struct {
	size   int64
	writes []patternWrite
}

type patternWrite struct {
	off  int64
	data []byte
}

func newPattern(seed uint64, size int64, n int) *pattern {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &pattern{size: size}
	for i := 0; i < n; i++ {
		length := int64(512 * (1 + r.IntN(300)))
		off := r.Int64N(size-length) / 512 * 512
		data := make([]byte, length)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		if r.IntN(5) == 0 {
			clear(data[:length/2]) // some zero runs
		}
		p.writes = append(p.writes, patternWrite{off, data})
	}
	// The last sector and the first one are always written.
	p.writes = append(p.writes, patternWrite{size - 512, bytes.Repeat([]byte{0xee}, 512)}, patternWrite{0, bytes.Repeat([]byte{0x11}, 4096)})
	return p
}

// expected is the raw content after all writes.
func (p *pattern) expected() []byte {
	b := make([]byte, p.size)
	for _, w := range p.writes {
		copy(b[w.off:], w.data)
	}
	return b
}

func (p *pattern) writeRaw(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, p.expected(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *pattern) apply(t testing.TB, d *Disk) {
	t.Helper()
	for _, w := range p.writes {
		if _, err := d.WriteAt(w.data, w.off); err != nil {
			t.Fatalf("WriteAt(%d bytes at %d): %v", len(w.data), w.off, err)
		}
	}
}

// readAll reads a whole disk through the library.
func readAll(t testing.TB, path string) []byte {
	t.Helper()
	d, err := Open(path, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	defer d.Close()
	b := make([]byte, d.Size())
	if _, err := d.ReadAt(b, 0); err != nil {
		t.Fatalf("ReadAt %s: %v", path, err)
	}
	return b
}

func assertSame(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: first difference at byte %d (sector %d): got %#x want %#x", what, i, i/512, got[i], want[i])
			}
		}
	}
}

func tempPath(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}
