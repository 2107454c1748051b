package main

import (
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hypercim/hypercim/vmdk"
)

// runVMDKBench measures, in one run on one file system, the numbers the
// VMDK layer is held to and their baselines:
//   - sequential allocating write into a new monolithicSparse image vs the
//     same bytes written to a raw file, and vs qemu-img bench -w;
//   - random 4 KiB reads of allocated data vs the raw file;
//   - convert of compressible raw data to streamOptimized vs qemu-img
//     convert, at each of our compression levels, with output sizes;
//   - convert of that streamOptimized image back to raw (decompression)
//     vs qemu-img convert.
//
// Every timing includes the final flush to stable storage.
func runVMDKBench(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "bench", "[options]")
	dir := f.String("dir", "", "directory for the scratch files (default: a new directory under $TMPDIR)")
	sizeStr := f.String("size", "1G", "bytes written and converted")
	blockStr := f.String("block", "64K", "write size of the sequential write test")
	reads := f.Int("reads", 200000, "number of random 4 KiB reads")
	qemu := f.Bool("qemu", true, "also run qemu-img for the baselines (skipped when qemu-img is missing)")
	levels := f.String("levels", "fast,default,best,6", "comma-separated --compression values of the streamOptimized convert test (best is slow: level 9)")
	rounds := f.Int("rounds", 3, "rounds of the convert tests (median; a best level runs once)")
	bar := vmdkProgressFlags(f)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	size, err := parseVMDKSize(*sizeStr)
	if err != nil {
		return f.usageError("--size: %v", err)
	}
	block, err := parseVMDKSize(*blockStr)
	if err != nil || block <= 0 || block > 64<<20 || size%block != 0 {
		return f.usageError("--block must divide --size and be at most 64M")
	}
	if *rounds < 1 {
		return f.usageError("--rounds must be at least 1")
	}
	var comps []vmdk.Compression
	for _, l := range strings.Split(*levels, ",") {
		c := vmdk.Compression(strings.TrimSpace(l))
		if _, err := c.Level(); err != nil || c == "" {
			return f.usageError("--levels: %q is not a compression (fast, default, best or 1-9)", l)
		}
		comps = append(comps, c)
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "hypercim-vmdk-bench-"); err != nil {
			return vmdkFail("bench", err)
		}
		defer os.RemoveAll(work)
	}
	b := &vmdkBench{env: env, dir: work, size: size, block: block, bar: bar, levels: comps, rounds: *rounds}
	if *qemu {
		if _, err := exec.LookPath("qemu-img"); err != nil {
			fmt.Fprintln(env.stdout, "qemu-img not found: qemu baselines skipped")
			*qemu = false
		}
	}
	if err := b.run(*qemu, *reads); err != nil {
		return vmdkFail("bench", err)
	}
	return nil
}

type vmdkBench struct {
	env    *cliEnv
	dir    string
	size   int64
	block  int64
	bar    func(string) *vmdkProgress
	levels []vmdk.Compression // of the convert test
	rounds int                // of the convert tests
}

func (b *vmdkBench) path(name string) string { return filepath.Join(b.dir, name) }

func (b *vmdkBench) run(qemu bool, reads int) error {
	defer func() {
		for _, f := range []string{"seq.raw", "seq.vmdk", "src.raw", "ours-stream.vmdk", "qemu-stream.vmdk", "read.vmdk", "back.raw"} {
			os.Remove(b.path(f))
		}
	}()
	w := b.env.stdout
	data := make([]byte, b.block)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	fmt.Fprintf(w, "sequential allocating write, %s in %s writes (flush included):\n", formatVMDKSize(b.size), formatVMDKSize(b.block))
	// Alternate three rounds and take the median of each: page-cache
	// writeback of one run otherwise skews the next.
	var raws, ourss []time.Duration
	for range 3 {
		raw, err := b.seqWrite("raw", data, b.rawWriter)
		if err != nil {
			return err
		}
		ours, err := b.seqWrite("vmdk", data, b.vmdkWriter)
		if err != nil {
			return err
		}
		raws, ourss = append(raws, raw), append(ourss, ours)
	}
	raw, ours := median(raws), median(ourss)
	b.line("raw file", raw, b.size)
	b.line("hypercim monolithicSparse", ours, b.size)
	fmt.Fprintf(w, "  ratio vmdk/raw throughput: %.2fx (target >= 0.80x)\n", raw.Seconds()/ours.Seconds())
	if qemu {
		q, err := b.qemuWrite()
		if err != nil {
			return err
		}
		b.line("qemu-img bench -w (vmdk)", q, b.size)
		fmt.Fprintf(w, "  ratio vmdk/qemu-img throughput: %.2fx (target >= 3x)\n", q.Seconds()/ours.Seconds())
	}

	fmt.Fprintf(w, "random 4 KiB reads of allocated data, %d reads:\n", reads)
	rawR, oursR, err := b.randomReads(reads)
	if err != nil {
		return err
	}
	b.line("raw file", rawR, int64(reads)*4096)
	b.line("hypercim monolithicSparse", oursR, int64(reads)*4096)
	fmt.Fprintf(w, "  ratio vmdk/raw throughput: %.2fx (target >= 0.90x)\n", rawR.Seconds()/oursR.Seconds())

	if err := b.makeCompressible(b.path("src.raw")); err != nil {
		return err
	}
	if err := b.convertToStream(qemu); err != nil {
		return err
	}
	return b.convertFromStream(qemu)
}

// convertRun is one convert measured: elapsed time, CPU time (user and
// system, every thread) and output size.
type convertRun struct {
	took, cpu time.Duration
	size      int64
}

// convertToStream converts src.raw to streamOptimized at each level and
// with qemu-img, in rounds that alternate them (median of each), and
// prints every result with its speed and size ratios against qemu-img.
// The speed ratio only means something next to the size ratio (a lower
// level is faster and larger), and the elapsed ratio only on free cores:
// the CPU-time ratio is printed too, as the part that does not depend on
// the machine's load.
func (b *vmdkBench) convertToStream(qemu bool) error {
	w := b.env.stdout
	fmt.Fprintf(w, "convert raw -> streamOptimized, %s of compressible data (median of %d rounds, flush included):\n", formatVMDKSize(b.size), b.rounds)
	runs := map[vmdk.Compression][]convertRun{}
	var qemuRuns []convertRun
	for round := range b.rounds {
		for _, c := range b.levels {
			if lvl, _ := c.Level(); lvl == 9 && round > 0 {
				continue // level 9 is slow; one round says enough
			}
			dst := b.path("ours-stream.vmdk")
			r, err := b.convertOurs(dst, vmdk.ConvertOptions{Subformat: vmdk.StreamOptimized, Compression: c})
			if err != nil {
				return err
			}
			runs[c] = append(runs[c], r)
		}
		if qemu {
			r, err := b.convertQemu("-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", b.path("src.raw"), b.path("qemu-stream.vmdk"))
			if err != nil {
				return err
			}
			qemuRuns = append(qemuRuns, r)
		}
	}
	var q convertRun
	if qemu {
		q = medianRun(qemuRuns)
		b.convertLine("qemu-img convert (zlib level 6)", q, q)
	}
	for _, c := range b.levels {
		what := "hypercim, --compression " + string(c)
		if lvl, _ := c.Level(); strconv.Itoa(lvl) != string(c) {
			what += fmt.Sprintf(" (level %d)", lvl)
		}
		b.convertLine(what, medianRun(runs[c]), q)
	}
	if !qemu {
		return nil
	}
	summary := func(label string, c vmdk.Compression) {
		r := medianRun(runs[c])
		fmt.Fprintf(w, "  %s: %.2fx qemu-img's speed (%.2fx its CPU efficiency), for %.2fx its output\n",
			label, q.took.Seconds()/r.took.Seconds(), q.cpu.Seconds()/r.cpu.Seconds(), float64(r.size)/float64(q.size))
	}
	if _, ok := runs[vmdk.CompressionDefault]; ok {
		summary("ratio hypercim/qemu-img, --compression default (target >= 2x)", vmdk.CompressionDefault)
	}
	for _, c := range b.levels {
		if lvl, _ := c.Level(); lvl == 6 {
			summary("ratio at equal zlib level 6, --compression "+string(c), c)
			break
		}
	}
	return nil
}

// convertFromStream converts an image written at the default level back
// to raw, with hypercim and with qemu-img reading the same file,
// alternating rounds (median of each).
func (b *vmdkBench) convertFromStream(qemu bool) error {
	w := b.env.stdout
	src := b.path("read.vmdk")
	os.Remove(src)
	if err := vmdk.Convert(b.path("src.raw"), src, vmdk.ConvertOptions{Subformat: vmdk.StreamOptimized, Compression: vmdk.CompressionDefault}); err != nil {
		return err
	}
	fmt.Fprintf(w, "convert streamOptimized (written at --compression default) -> raw, %s (median of %d rounds, flush included):\n", formatVMDKSize(b.size), b.rounds)
	var ours, theirs []convertRun
	dst := b.path("back.raw")
	for range b.rounds {
		if qemu {
			r, err := b.convertQemu("-f", "vmdk", "-O", "raw", src, dst)
			if err != nil {
				return err
			}
			theirs = append(theirs, r)
		}
		r, err := b.convertOurs(dst, vmdk.ConvertOptions{DstFormat: vmdk.FormatRaw})
		if err != nil {
			return err
		}
		ours = append(ours, r)
	}
	var q convertRun
	if qemu {
		q = medianRun(theirs)
		b.convertLine("qemu-img convert -O raw", q, q)
	}
	o := medianRun(ours)
	b.convertLine("hypercim convert to raw", o, q)
	if qemu {
		fmt.Fprintf(w, "  ratio hypercim/qemu-img, reading streamOptimized: %.2fx qemu-img's speed (%.2fx its CPU efficiency)\n",
			q.took.Seconds()/o.took.Seconds(), q.cpu.Seconds()/o.cpu.Seconds())
	}
	return nil
}

func medianRun(rs []convertRun) convertRun {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b convertRun) int { return cmp.Compare(a.took, b.took) })
	return s[len(s)/2]
}

// convertOurs times a convert of src.raw (or of the source opts names) to
// a new dst, the flush to stable storage included.
func (b *vmdkBench) convertOurs(dst string, opts vmdk.ConvertOptions) (convertRun, error) {
	src := b.path("src.raw")
	if opts.DstFormat == vmdk.FormatRaw {
		src = b.path("read.vmdk")
	}
	os.Remove(dst)
	syncAll()
	label := "convert " + string(opts.Compression)
	if opts.Compression == "" {
		label = "convert to raw"
	}
	p := b.bar(label)
	opts.Progress = p.fn()
	cpu0 := selfCPU()
	start := time.Now()
	err := vmdk.Convert(src, dst, opts)
	took, cpu := time.Since(start), selfCPU()-cpu0
	p.done()
	if err != nil {
		return convertRun{}, err
	}
	st, err := os.Stat(dst)
	if err != nil {
		return convertRun{}, err
	}
	return convertRun{took, cpu, st.Size()}, nil
}

// selfCPU is the CPU time this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// convertQemu times "qemu-img convert args" whose last argument is the
// destination, replaced first, and flushed after.
func (b *vmdkBench) convertQemu(args ...string) (convertRun, error) {
	dst := args[len(args)-1]
	os.Remove(dst)
	syncAll()
	start := time.Now()
	cmd := exec.Command("qemu-img", append([]string{"convert"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return convertRun{}, fmt.Errorf("qemu-img convert: %w: %s", err, out)
	}
	syncFile(dst)
	took := time.Since(start)
	st, err := os.Stat(dst)
	if err != nil {
		return convertRun{}, err
	}
	return convertRun{took, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), st.Size()}, nil
}

// convertLine prints a convert result, with its ratios against q when q
// was measured.
func (b *vmdkBench) convertLine(what string, r, q convertRun) {
	line := fmt.Sprintf("  %-43s %8.3f s  %7.1f MiB/s  cpu %7.3f s  output %-9s", what, r.took.Seconds(),
		float64(b.size)/(1<<20)/r.took.Seconds(), r.cpu.Seconds(), formatVMDKSize(r.size))
	if q.took > 0 {
		line += fmt.Sprintf("  %5.2fx qemu-img's speed, %4.2fx its size", q.took.Seconds()/r.took.Seconds(), float64(r.size)/float64(q.size))
	}
	fmt.Fprintln(b.env.stdout, strings.TrimRight(line, " "))
}

func (b *vmdkBench) line(what string, d time.Duration, bytes int64) {
	fmt.Fprintf(b.env.stdout, "  %-28s %8.3f s  %9.1f MiB/s\n", what, d.Seconds(), float64(bytes)/(1<<20)/d.Seconds())
}

// writer is the sink of a sequential write test.
type vmdkBenchSink interface {
	io.WriterAt
	Flush() error
	Close() error
}

type rawSink struct{ *os.File }

func (r rawSink) Flush() error { return r.Sync() }

func (b *vmdkBench) rawWriter() (vmdkBenchSink, error) {
	f, err := os.OpenFile(b.path("seq.raw"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return rawSink{f}, nil
}

func (b *vmdkBench) vmdkWriter() (vmdkBenchSink, error) {
	p := b.path("seq.vmdk")
	if err := vmdk.Create(p, vmdk.CreateOptions{Size: b.size, Overwrite: true}); err != nil {
		return nil, err
	}
	return vmdk.Open(p, vmdk.OpenOptions{})
}

func (b *vmdkBench) seqWrite(label string, data []byte, open func() (vmdkBenchSink, error)) (time.Duration, error) {
	syncAll()
	start := time.Now()
	s, err := open()
	if err != nil {
		return 0, err
	}
	p := b.bar(label)
	for off := int64(0); off < b.size; off += b.block {
		if _, err := s.WriteAt(data, off); err != nil {
			s.Close()
			return 0, err
		}
		p.update(off+b.block, b.size)
	}
	err = s.Flush()
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	p.done()
	return time.Since(start), err
}

func (b *vmdkBench) qemuWrite() (time.Duration, error) {
	p := b.path("qemu.vmdk")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "vmdk", p, strconv.FormatInt(b.size, 10)).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("qemu-img create: %w: %s", err, out)
	}
	defer os.Remove(p)
	syncAll()
	start := time.Now()
	out, err := exec.Command("qemu-img", "bench", "-q", "-w", "-f", "vmdk", "-t", "writeback", "--pattern=165",
		"-s", strconv.FormatInt(b.block, 10), "-c", strconv.FormatInt(b.size/b.block, 10), p).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("qemu-img bench: %w: %s", err, out)
	}
	syncFile(p)
	return time.Since(start), nil
}

// randomReads times the same random 4 KiB reads on the raw file and the
// image written by the write test (both fully allocated).
func (b *vmdkBench) randomReads(n int) (time.Duration, time.Duration, error) {
	r := rand.New(rand.NewPCG(3, 4))
	offs := make([]int64, n)
	for i := range offs {
		offs[i] = r.Int64N(b.size/4096) * 4096
	}
	buf := make([]byte, 4096)
	f, err := os.Open(b.path("seq.raw"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	d, err := vmdk.Open(b.path("seq.vmdk"), vmdk.OpenOptions{ReadOnly: true})
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	timeReads := func(rd io.ReaderAt, offs []int64) (time.Duration, error) {
		start := time.Now()
		for _, off := range offs {
			if _, err := rd.ReadAt(buf, off); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
	// Warm both caches the same way, then interleave small blocks of the
	// two (alternating which goes first) so load from other processes hits
	// both alike; five rounds, median.
	if _, err := timeReads(f, offs); err != nil {
		return 0, 0, err
	}
	if _, err := timeReads(d, offs); err != nil {
		return 0, 0, err
	}
	var rawT, oursT []time.Duration
	const blocks = 20
	for range 5 {
		var t1, t2 time.Duration
		for blk := range blocks {
			part := offs[blk*len(offs)/blocks : (blk+1)*len(offs)/blocks]
			first, second := io.ReaderAt(f), io.ReaderAt(d)
			if blk%2 == 1 {
				first, second = second, first
			}
			a, err := timeReads(first, part)
			if err != nil {
				return 0, 0, err
			}
			b, err := timeReads(second, part)
			if err != nil {
				return 0, 0, err
			}
			if blk%2 == 1 {
				a, b = b, a
			}
			t1, t2 = t1+a, t2+b
		}
		rawT, oursT = append(rawT, t1), append(oursT, t2)
	}
	return median(rawT), median(oursT), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// makeCompressible writes data that compresses to roughly a third: text
// with random words, like a file system full of logs and binaries.
func (b *vmdkBench) makeCompressible(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	words := []string{"virtual ", "machine ", "disk ", "grain ", "table ", "directory ", "hypercim ", "storage ", "\n", "0x7f3a ", "block ", "sector "}
	r := rand.New(rand.NewPCG(5, 6))
	chunk := make([]byte, 0, 1<<20)
	for written := int64(0); written < b.size; {
		chunk = chunk[:0]
		for len(chunk) < 1<<20 {
			if r.IntN(8) == 0 {
				chunk = append(chunk, byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()))
			} else {
				chunk = append(chunk, words[r.IntN(len(words))]...)
			}
		}
		n := min(int64(1<<20), b.size-written)
		if _, err := f.Write(chunk[:n]); err != nil {
			return err
		}
		written += n
	}
	return f.Sync()
}

func syncFile(path string) {
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Sync()
		f.Close()
	}
}

// syncAll starts each timed test with no dirty pages left by the previous.
func syncAll() { exec.Command("sync").Run() }
