package vmdk

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// The side-by-side numbers against raw files and qemu-img come from
// "hypercim vmdk bench" (scripts/bench.d/30-vmdk.sh); these benchmarks
// track the library's own paths between runs.

const benchSize = 256 << 20

func benchData(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// BenchmarkSeqAllocWrite writes a new monolithicSparse image in 64 KiB
// writes, flush included.
func BenchmarkSeqAllocWrite(b *testing.B) {
	data := benchData(64 << 10)
	b.SetBytes(benchSize)
	for b.Loop() {
		p := filepath.Join(b.TempDir(), "w.vmdk")
		if err := Create(p, CreateOptions{Size: benchSize}); err != nil {
			b.Fatal(err)
		}
		d, err := Open(p, OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < benchSize; off += int64(len(data)) {
			if _, err := d.WriteAt(data, off); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		os.Remove(p)
	}
}

// BenchmarkRawWrite is the same write to a raw file, for comparison.
func BenchmarkRawWrite(b *testing.B) {
	data := benchData(64 << 10)
	b.SetBytes(benchSize)
	for b.Loop() {
		p := filepath.Join(b.TempDir(), "w.raw")
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < benchSize; off += int64(len(data)) {
			if _, err := f.WriteAt(data, off); err != nil {
				b.Fatal(err)
			}
		}
		f.Sync()
		f.Close()
		os.Remove(p)
	}
}

// BenchmarkRandomRead4K reads 4 KiB at random offsets of a fully
// allocated image.
func BenchmarkRandomRead4K(b *testing.B) {
	p := filepath.Join(b.TempDir(), "r.vmdk")
	const size = 64 << 20
	if err := Create(p, CreateOptions{Size: size}); err != nil {
		b.Fatal(err)
	}
	d, err := Open(p, OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	data := benchData(1 << 20)
	for off := int64(0); off < size; off += int64(len(data)) {
		d.WriteAt(data, off)
	}
	d.Close()
	d, err = Open(p, OpenOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 1))
	b.SetBytes(4096)
	for b.Loop() {
		if _, err := d.ReadAt(buf, r.Int64N(size/4096)*4096); err != nil {
			b.Fatal(err)
		}
	}
}

// compressibleRaw writes size bytes of compressible data (words and
// random bytes, about a quarter after deflate) to a raw file in dir.
func compressibleRaw(b *testing.B, dir string, size int) string {
	src := filepath.Join(dir, "src.raw")
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(9, 9))
	words := []string{"virtual ", "disk ", "grain ", "table ", "\n", "0x7f3a "}
	for i := 0; i < len(data); {
		if r.IntN(8) == 0 {
			data[i] = byte(r.Uint32())
			i++
			continue
		}
		i += copy(data[i:], words[r.IntN(len(words))])
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return src
}

// BenchmarkConvertStream converts compressible raw data to
// streamOptimized (parallel compression) at three levels; the level 6 one
// is the level qemu-img uses.
func BenchmarkConvertStream(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	src := compressibleRaw(b, dir, size)
	for _, c := range []Compression{CompressionFast, CompressionDefault, "6"} {
		b.Run(string(c), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				dst := filepath.Join(dir, "out.vmdk")
				if err := Convert(src, dst, ConvertOptions{Subformat: StreamOptimized, Overwrite: true, Compression: c}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConvertFromStream converts a streamOptimized image back to raw
// (parallel decompression).
func BenchmarkConvertFromStream(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	stream := filepath.Join(dir, "in.vmdk")
	if err := Convert(compressibleRaw(b, dir, size), stream, ConvertOptions{Subformat: StreamOptimized}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		dst := filepath.Join(dir, "out.raw")
		if err := Convert(stream, dst, ConvertOptions{DstFormat: FormatRaw, Overwrite: true}); err != nil {
			b.Fatal(err)
		}
	}
}
