package vmdk

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const interopSize = 24 << 20

// TestOurImagesPassQemu: every subformat we create and write passes
// qemu-img check and compares identical to the raw source.
func TestOurImagesPassQemu(t *testing.T) {
	needQemu(t)
	for i, sub := range Subformats() {
		t.Run(string(sub), func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "disk.vmdk")
			if err := Create(img, CreateOptions{Subformat: sub, Size: interopSize}); err != nil {
				t.Fatal(err)
			}
			qemuCheckClean(t, img)
			p := newPattern(uint64(i+1), interopSize, 60)
			d, err := Open(img, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.apply(t, d)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			raw := filepath.Join(dir, "want.raw")
			p.writeRaw(t, raw)
			qemuCheckClean(t, img)
			qemuCompare(t, raw, img)
			assertSame(t, "our read-back", readAll(t, img), p.expected())
		})
	}
}

// TestQemuImagesReadByUs: images qemu-img writes (via a raw convert and
// via qemu-io writes into a created image) read back byte-identical.
func TestQemuImagesReadByUs(t *testing.T) {
	needQemu(t)
	for i, sub := range Subformats() {
		t.Run(string(sub), func(t *testing.T) {
			dir := t.TempDir()
			p := newPattern(uint64(100+i), interopSize, 60)
			raw := filepath.Join(dir, "src.raw")
			p.writeRaw(t, raw)
			img := filepath.Join(dir, "conv.vmdk")
			qemu(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+string(sub), raw, img)
			assertSame(t, "qemu convert", readAll(t, img), p.expected())
			if sub == StreamOptimized {
				return // qemu-io cannot rewrite stream images
			}
			img2 := filepath.Join(dir, "io.vmdk")
			qemu(t, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat="+string(sub), img2, fmt.Sprint(interopSize))
			// qemu-io writes patterns (-P) at the offsets of our writes.
			var cmds []string
			want := make([]byte, interopSize)
			for j, w := range p.writes[:40] {
				v := byte(j*7 + 1)
				cmds = append(cmds, "-c", fmt.Sprintf("write -P %d %d %d", v, w.off, len(w.data)))
				for k := range w.data {
					want[w.off+int64(k)] = v
				}
			}
			qemu(t, "qemu-io", append([]string{"-f", "vmdk"}, append(cmds, img2)...)...)
			assertSame(t, "qemu-io writes", readAll(t, img2), want)
			_ = os.Remove(raw)
		})
	}
}
