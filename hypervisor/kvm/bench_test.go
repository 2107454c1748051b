package kvm

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
	"github.com/hypercim/hypercim/vmdk"
)

// The benchmarks below back scripts/bench.d/40-hypervisor.sh, which runs
// them with -benchtime Nx and prints ratios against the baselines measured
// in the same run (QEMU microvm, the vmdk package) or published
// (Firecracker's specification).

// firstByte is a console sink that closes ch on the first write.
type firstByte struct {
	once sync.Once
	ch   chan struct{}
}

func (f *firstByte) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.ch) })
	return len(p), nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func reportLatency(b *testing.B, samples []time.Duration) {
	b.ReportMetric(float64(percentile(samples, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(samples, 0.9).Microseconds())/1000, "p90-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkStartToFirstSerialByte: Machine.Start to the guest's first
// serial byte, in process (1 vCPU, 64 MiB, no disk).
func BenchmarkStartToFirstSerialByte(b *testing.B) {
	e := newTestEngine(b, Options{})
	ctx := context.Background()
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		cfg := guestConfig(b, 5000+i, 1, "")
		fb := &firstByte{ch: make(chan struct{})}
		cfg.Console = fb
		m, err := e.Define(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ev := watch(b, m)
		t0 := time.Now()
		if err := m.Start(ctx); err != nil {
			b.Fatal(err)
		}
		<-fb.ch
		samples = append(samples, time.Since(t0))
		ev.wait(b, hypervisor.EventGuestShutdown)
		m.Undefine(ctx)
	}
	reportLatency(b, samples)
}

// execFirstByte starts argv and returns the time to its first stdout byte;
// the process is killed afterwards.
func execFirstByte(b *testing.B, argv []string) time.Duration {
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdin = nil
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	one := make([]byte, 1)
	if _, err := out.Read(one); err != nil {
		b.Fatalf("%s printed nothing: %v", argv[0], err)
	}
	d := time.Since(t0)
	cmd.Process.Kill()
	cmd.Wait()
	return d
}

func hypercimBin(b *testing.B) string {
	p := os.Getenv("HYPERCIM_BIN")
	if p == "" {
		p = "../../bin/hypercim"
	}
	if _, err := os.Stat(p); err != nil {
		b.Skipf("%s not built (make build, or set HYPERCIM_BIN)", p)
	}
	abs, _ := filepath.Abs(p)
	return abs
}

// BenchmarkProcessFirstSerialByte: `hypercim vm run` process start to the
// first byte on its stdout, the way QEMU is measured below.
func BenchmarkProcessFirstSerialByte(b *testing.B) {
	if _, err := os.Stat(DefaultDevice); err != nil {
		b.Skip("no /dev/kvm")
	}
	bin, guest := hypercimBin(b), testGuest(b)
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		samples = append(samples, execFirstByte(b, []string{bin, "vm", "run", "--kernel", guest, "--memory", "64M"}))
	}
	reportLatency(b, samples)
}

// qemuArgv runs the test guest in QEMU's microvm machine; QEMU boots the
// ELF through its PVH note. QEMU_ACCEL overrides the accelerator.
func qemuArgv(guest string) []string {
	accel := os.Getenv("QEMU_ACCEL")
	if accel == "" {
		accel = "kvm"
	}
	return []string{"qemu-system-x86_64", "-accel", accel, "-M", "microvm", "-cpu", "qemu64", "-m", "64M",
		"-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=1", "-kernel", guest}
}

// BenchmarkQEMUFirstSerialByte is the baseline: QEMU microvm process start
// to the same guest's first serial byte.
func BenchmarkQEMUFirstSerialByte(b *testing.B) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		b.Skip("qemu-system-x86_64 is not installed")
	}
	guest := testGuest(b)
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		samples = append(samples, execFirstByte(b, qemuArgv(guest)))
	}
	reportLatency(b, samples)
}

// vmmMemory is a VMM process's memory outside its guest RAM, in KiB:
// resident (RSS), proportional (PSS: pages shared with other processes
// divided among them) and private to the process (USS).
type vmmMemory struct{ rss, pss, private, guest int }

// smapsOverhead reads /proc/PID/smaps and sums every mapping but the guest
// RAM: the anonymous mapping of guestBytes plus at most 4 MiB of alignment
// (hypercim maps 2 MiB more to align it, QEMU about as much). Go's heap
// reservations are anonymous too but are larger and hold nothing.
func smapsOverhead(b *testing.B, pid int, guestBytes uint64) vmmMemory {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	var m vmmMemory
	isGuest := false
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if lo, hi, ok := parseRange(s.Text()); ok {
			size := uint64(hi - lo)
			isGuest = len(fields) < 6 && size >= guestBytes && size <= guestBytes+4<<20
			continue
		}
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "Rss:":
			if isGuest {
				m.guest += v
			} else {
				m.rss += v
			}
		case "Pss:":
			if !isGuest {
				m.pss += v
			}
		case "Private_Clean:", "Private_Dirty:":
			if !isGuest {
				m.private += v
			}
		}
	}
	return m
}

// processOverhead starts argv, waits for marker on its stdout and returns
// the process's memory outside guest RAM.
func processOverhead(b *testing.B, argv []string, marker string, guestBytes uint64) vmmMemory {
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // let the process settle
	return smapsOverhead(b, cmd.Process.Pid, guestBytes)
}

// reportMemory reports a process's memory in MiB under names prefixed
// with who.
func reportMemory(b *testing.B, who string, m vmmMemory) {
	b.ReportMetric(float64(m.rss)/1024, who+"-rss-MiB")
	b.ReportMetric(float64(m.pss)/1024, who+"-pss-MiB")
	b.ReportMetric(float64(m.private)/1024, who+"-private-MiB")
}

// BenchmarkVMMMemoryOverhead: the memory of a `hypercim vm run` process
// running an idle 1-vCPU 128 MiB guest, outside the guest RAM (the
// measure of Firecracker's 5 MiB bar): as shipped, where hypercim hands
// the machine to bin/hypercim-vmm, and as the whole CLI binary would run
// it in process (a copy of bin/hypercim without hypercim-vmm beside it);
// and QEMU's for the same guest.
func BenchmarkVMMMemoryOverhead(b *testing.B) {
	if _, err := os.Stat(DefaultDevice); err != nil {
		b.Skip("no /dev/kvm")
	}
	bin, guest := hypercimBin(b), testGuest(b)
	if _, err := os.Stat(filepath.Join(filepath.Dir(bin), "hypercim-vmm")); err != nil {
		b.Skipf("hypercim-vmm is not built beside %s (make build)", bin)
	}
	alone := filepath.Join(b.TempDir(), "hypercim")
	if data, err := os.ReadFile(bin); err != nil {
		b.Fatal(err)
	} else if err := os.WriteFile(alone, data, 0o755); err != nil {
		b.Fatal(err)
	}
	args := []string{"vm", "run", "--kernel", guest, "--memory", "128M", "--cmdline", "testguest.interactive"}
	var vmm, cli vmmMemory
	for i := 0; i < b.N; i++ {
		vmm = processOverhead(b, append([]string{bin}, args...), "testguest: ready", 128<<20)
		cli = processOverhead(b, append([]string{alone}, args...), "testguest: ready", 128<<20)
	}
	reportMemory(b, "vmm", vmm)
	reportMemory(b, "cli", cli)
	if _, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		argv := qemuArgv(guest)
		for i, a := range argv {
			if a == "64M" {
				argv[i] = "128M"
			}
		}
		argv = append(argv, "-append", "testguest.interactive")
		reportMemory(b, "qemu", processOverhead(b, argv, "testguest: ready", 128<<20))
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkInProcessOverhead: the marginal memory of one more machine in a
// process running ten idle ones (RSS growth minus guest RAM resident).
func BenchmarkInProcessOverhead(b *testing.B) {
	e := newTestEngine(b, Options{})
	ctx := context.Background()
	const n = 10
	for i := 0; i < b.N; i++ {
		e.sys.closing.Wait() // the previous round's VMs are fully gone
		before := readRSSKiB(b)
		var ms []hypervisor.Machine
		var guestKiB uint64
		for j := 0; j < n; j++ {
			cfg := guestConfig(b, 6000+i*n+j, 1, "testguest.interactive")
			con := newConsole()
			cfg.Console = con
			m, err := e.Define(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Start(ctx); err != nil {
				b.Fatal(err)
			}
			con.waitLine(b, "testguest: ready")
			ms = append(ms, m)
		}
		after := readRSSKiB(b)
		var spans [][2]uintptr
		for _, m := range ms {
			km := m.(*Machine)
			km.mu.Lock()
			spans = append(spans, km.vm.ram.spans()...)
			km.mu.Unlock()
		}
		guestKiB = uint64(smapsRSSIn(b, spans))
		b.ReportMetric(float64(after-before-int(guestKiB))/n/1024, "MiB/machine")
		for _, m := range ms {
			m.Stop(ctx)
			m.Undefine(ctx)
		}
	}
	b.ReportMetric(0, "ns/op")
}

// readRSSKiB returns the process RSS after returning free heap to the OS,
// so garbage does not count as machine memory.
// smapsRSSIn sums the RSS (KiB) of this process's mappings inside spans:
// the guest RAM the host really backs (pages only read map the shared
// zero page and do not count).
func smapsRSSIn(b *testing.B, spans [][2]uintptr) int {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inside, total := false, 0
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := parseRange(line); ok {
			inside = false
			for _, s := range spans {
				if lo >= s[0] && hi <= s[1] {
					inside = true
				}
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && inside {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			total += n
		}
	}
	return total
}

// parseRange reads the "lo-hi perms ..." header line of an smaps entry.
func parseRange(line string) (lo, hi uintptr, ok bool) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, 0, false
	}
	a, c, found := strings.Cut(f[0], "-")
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(a, 16, 64)
	h, err2 := strconv.ParseUint(c, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}

func readRSSKiB(b *testing.B) int {
	runtime.GC()
	debug.FreeOSMemory()
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// BenchmarkMachinesPerSecond: whole machine lifecycles (define, start,
// guest reports and powers off, undefine) on two concurrent workers.
func BenchmarkMachinesPerSecond(b *testing.B) {
	e := newTestEngine(b, Options{})
	ctx := context.Background()
	var next atomic.Int64
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				cfg := guestConfig(b, 7000+int(i), 1, "")
				m, err := e.Define(ctx, cfg)
				if err != nil {
					b.Error(err)
					return
				}
				ev := watch(b, m)
				if err := m.Start(ctx); err != nil {
					b.Error(err)
					return
				}
				ev.wait(b, hypervisor.EventGuestShutdown)
				m.Undefine(ctx)
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "machines/s")
}

const blkBenchMiB = 32

// BenchmarkVirtioBlkWrite: the test guest writes 32 MiB sequentially in
// 1 MiB requests through virtio-blk into a new VMDK, then flushes. Each
// round hot-plugs a fresh image, so every write allocates grains as the
// baseline's do.
func BenchmarkVirtioBlkWrite(b *testing.B) {
	e := newTestEngine(b, Options{})
	dir := b.TempDir()
	newDisk := func(name string) string {
		p := filepath.Join(dir, name+".vmdk")
		if err := vmdk.Create(p, vmdk.CreateOptions{Size: (blkBenchMiB + 8) << 20}); err != nil {
			b.Fatal(err)
		}
		return p
	}
	m, con, _ := startGuest(b, e, 8000, 1, newDisk("warmup"))
	con.command(b, m, "bench 0 1") // fills the guest's buffer once
	ctx := context.Background()
	var best time.Duration
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("round%d", i)
		if err := m.AttachDisk(ctx, hypervisor.DiskConfig{ID: id, Path: newDisk(id)}); err != nil {
			b.Fatal(err)
		}
		con.command(b, m, "rescan")
		t0 := time.Now()
		con.command(b, m, fmt.Sprintf("bench 1 %d", blkBenchMiB))
		if d := time.Since(t0); best == 0 || d < best {
			best = d
		}
		if err := m.DetachDisk(ctx, id); err != nil {
			b.Fatal(err)
		}
		con.command(b, m, "rescan")
	}
	b.ReportMetric(blkBenchMiB/best.Seconds(), "MiB/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkVMDKPackageWrite is the baseline: the same writes straight into
// a new VMDK through the vmdk package.
func BenchmarkVMDKPackageWrite(b *testing.B) {
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var best time.Duration
	for i := 0; i < b.N; i++ {
		path := filepath.Join(b.TempDir(), "pkg.vmdk")
		if err := vmdk.Create(path, vmdk.CreateOptions{Size: (blkBenchMiB + 8) << 20}); err != nil {
			b.Fatal(err)
		}
		d, err := vmdk.Open(path, vmdk.OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for off := int64(2048 * 512); off < 2048*512+blkBenchMiB<<20; off += int64(len(buf)) {
			if _, err := d.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.Flush(); err != nil {
			b.Fatal(err)
		}
		if el := time.Since(t0); best == 0 || el < best {
			best = el
		}
		d.Close()
	}
	b.ReportMetric(blkBenchMiB/best.Seconds(), "MiB/s")
	b.ReportMetric(0, "ns/op")
}
