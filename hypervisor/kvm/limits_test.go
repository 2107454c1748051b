package kvm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/hypervisor"
)

func TestWeightNice(t *testing.T) {
	for w, want := range map[uint32]int{0: 0, 100: 0, 125: -1, 200: -3, 400: -6, 50: 3, 1: 19, 10000: -20} {
		if got := weightNice(w); got != want {
			t.Errorf("weightNice(%d) = %d, want %d", w, got, want)
		}
	}
}

// threadNice reads a thread's nice level from /proc.
func threadNice(t *testing.T, tid int32) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (in parentheses): nice is field 19.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// niceThreads lists the threads of this process at a nice level, but
// KVM's own workers of a VM (kvm-nx-lpage-recovery, which KVM starts from
// the first vCPU to run, so that it inherits the VM's nice level).
func niceThreads(t *testing.T, nice int) []int32 {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var tids []int32
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		comm, _ := os.ReadFile("/proc/self/task/" + e.Name() + "/comm")
		if !strings.HasPrefix(string(comm), "kvm-") && threadNice(t, int32(tid)) == nice {
			tids = append(tids, int32(tid))
		}
	}
	return tids
}

// vcpuTIDs returns the thread IDs of a running machine's vCPUs.
func vcpuTIDs(m hypervisor.Machine) []int32 {
	km := m.(*Machine)
	km.mu.Lock()
	defer km.mu.Unlock()
	var tids []int32
	for _, c := range km.vm.vcpus {
		tids = append(tids, c.tid.Load())
	}
	return tids
}

// spinRate runs the guest's spin command and returns the wall time it
// took and the share of one host CPU its vCPU used meanwhile.
func spinRate(t *testing.T, m hypervisor.Machine, con *console, n int) (time.Duration, float64) {
	t.Helper()
	ctx := context.Background()
	before, err := m.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	con.command(t, m, fmt.Sprintf("spin %d", n))
	wall := time.Since(t0)
	after, err := m.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return wall, float64(after.VCPUTime-before.VCPUTime) / float64(wall)
}

// TestCPULimits: a CPU cap holds the test guest's busy vCPU to its share
// of a host CPU, live and removable; a CPU weight becomes the vCPU
// threads' nice level, live and at the next start; memory limits are
// refused.
func TestCPULimits(t *testing.T) {
	e := newTestEngine(t, Options{})
	m, con, _ := startGuest(t, e, 960, 2)
	lim := m.(hypervisor.ResourceLimiter)
	ctx := context.Background()
	if s := lim.SupportedLimits(); s.CPUWeight == 0 || s.CPUCapPercent == 0 || s.MemoryHardLimit != 0 {
		t.Errorf("supported limits %+v", s)
	}
	con.command(t, m, "spin 10000") // warm up
	const work = 60000
	free, freeShare := spinRate(t, m, con, work)
	if err := lim.SetLimits(ctx, hypervisor.Limits{CPUCapPercent: 20}); err != nil {
		t.Fatal(err)
	}
	capped, cappedShare := spinRate(t, m, con, work)
	t.Logf("spin %d: %v at %.0f%% of a CPU uncapped, %v at %.0f%% capped at 20%%", work, free, freeShare*100, capped, cappedShare*100)
	// The share is the vCPU thread's CPU time (schedstat) over wall time:
	// a cap that did not hold shows above 20% plus the kick's latency; a
	// vCPU that did not run at all (a broken measurement) near 0.
	if cappedShare > 0.26 || cappedShare < 0.05 {
		t.Errorf("the vCPU used %.0f%% of a host CPU under a 20%% cap", cappedShare*100)
	}
	// On a host busy enough to hold the free vCPU near the cap itself, the
	// two runs take as long; otherwise the cap must slow the same work.
	if freeShare > 0.5 && capped < free*3/2 {
		t.Errorf("the same work took %v capped at 20%% and %v uncapped (%.0f%% of a CPU)", capped, free, freeShare*100)
	}
	if got, err := lim.Limits(ctx); err != nil || got.CPUCapPercent != 20 || m.Config().Limits.CPUCapPercent != 20 {
		t.Errorf("limits read back %+v, %v; config %+v", got, err, m.Config().Limits)
	}

	if err := lim.SetLimits(ctx, hypervisor.Limits{CPUWeight: 400}); err != nil {
		t.Fatal(err)
	}
	for _, tid := range vcpuTIDs(m) {
		if n := threadNice(t, tid); n != -6 {
			t.Errorf("vCPU thread %d runs at nice %d with weight 400, want -6", tid, n)
		}
	}
	if _, share := spinRate(t, m, con, 10000); share < 0.3 {
		t.Logf("uncapped again, the vCPU got %.0f%% of a CPU (the host is busy)", share*100)
	}

	// A cap set while the vCPU spins in the guest holds from then on, not
	// from the vCPU's next exit (the spin makes none).
	type mark struct {
		at  time.Time
		cpu time.Duration
		err error
	}
	marked := make(chan mark, 1)
	time.AfterFunc(100*time.Millisecond, func() {
		err := lim.SetLimits(ctx, hypervisor.Limits{CPUWeight: 400, CPUCapPercent: 20})
		st, _ := m.Stats(ctx)
		marked <- mark{time.Now(), st.VCPUTime, err}
	})
	con.command(t, m, "spin 120000")
	end := time.Now()
	st, err := m.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mk := <-marked
	if mk.err != nil {
		t.Fatal(mk.err)
	}
	if !mk.at.Before(end) {
		t.Fatal("the spin ended before the cap was set")
	}
	share := float64(st.VCPUTime-mk.cpu) / float64(end.Sub(mk.at))
	t.Logf("capped at 20%% during a spin: %.0f%% of a CPU over the %v after", share*100, end.Sub(mk.at).Round(time.Millisecond))
	if share > 0.26 {
		t.Errorf("capped at 20%% during a spin, the vCPU used %.0f%% of a host CPU", share*100)
	}
	for _, bad := range []hypervisor.Limits{{MemoryHardLimit: 1 << 30}, {MemorySoftLimit: 1 << 30}} {
		if err := lim.SetLimits(ctx, bad); !errors.Is(err, hypervisor.ErrNotSupported) {
			t.Errorf("SetLimits(%+v): %v", bad, err)
		}
	}
	if err := lim.SetLimits(ctx, hypervisor.Limits{CPUCapPercent: 101}); !errors.Is(err, hypervisor.ErrInvalidConfig) {
		t.Errorf("a cap of 101%%: %v", err)
	}

	// Set while stopped, applied at the next start.
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lim.SetLimits(ctx, hypervisor.Limits{CPUWeight: 50, CPUCapPercent: 50}); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	con.waitLine(t, "testguest: ready")
	tids := vcpuTIDs(m)
	for _, tid := range tids {
		if n := threadNice(t, tid); n != 3 {
			t.Errorf("vCPU thread %d started at nice %d with weight 50, want 3", tid, n)
		}
	}
	// The weight is the VM's alone: no other thread of the process (one the
	// runtime cloned from a vCPU thread) inherits its nice level.
	if others := niceThreads(t, 3); len(others) != len(tids) {
		t.Errorf("threads at nice 3: %v, want the vCPU threads %v", others, tids)
	}
	cfg := m.Config()
	cfg.Limits.MemoryHardLimit = 1 << 30
	if _, err := e.Define(ctx, hypervisor.Config{Name: "mem", UUID: uuidFor(961), VCPUs: 1, MemoryBytes: 64 << 20,
		Boot: cfg.Boot, Limits: cfg.Limits}); !errors.Is(err, hypervisor.ErrNotSupported) {
		t.Errorf("defining a machine with a memory limit: %v", err)
	}
}
