package vmm_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hypercim/hypercim/providers/virt/internal/vmm"
)

// The manager's own latencies: the baseline scripts/bench.d/70-virt.sh
// divides the CIM-XML numbers by, so the ratio is the cost of CIM (XML,
// HTTP, the core) on top of the work itself.

func reportPercentiles(b *testing.B, prefix string, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	b.ReportMetric(ms(d[len(d)/2]), prefix+"-p50-ms")
	b.ReportMetric(ms(d[(len(d)*99)/100]), prefix+"-p99-ms")
}

// BenchmarkManagerDefine: Define (no disk), as DefineSystem does it.
func BenchmarkManagerDefine(b *testing.B) {
	e := newEnv(b, nil)
	var lat []time.Duration
	for i := range 300 {
		d := e.interactive(fmt.Sprintf("bench-%d", i), 1)
		d.MemoryMiB = 16
		t0 := time.Now()
		if _, err := e.m.Define(context.Background(), "", d, vmm.CallOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportPercentiles(b, "define", lat)
}

// BenchmarkManagerStart: a synchronous start.
func BenchmarkManagerStart(b *testing.B) {
	e := newEnv(b, nil)
	var ids []string
	for i := range 100 {
		d := e.interactive(fmt.Sprintf("start-%d", i), 1)
		d.MemoryMiB = 16
		ids = append(ids, e.define(d))
	}
	var lat []time.Duration
	for _, id := range ids {
		t0 := time.Now()
		e.state(id, vmm.TransitionStart)
		lat = append(lat, time.Since(t0))
		e.state(id, vmm.TransitionOff)
	}
	reportPercentiles(b, "start", lat)
}
