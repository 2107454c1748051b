package wbem_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hypercim/hypercim/cim"
	. "github.com/hypercim/hypercim/wbem"
)

// The core's own cost, without a protocol: the CIM-XML and WS-Man
// benchmarks measure the same paths over HTTP.

const benchStatic = 20000

var (
	benchOnce    sync.Once
	benchE       *testEnv
	benchCleanup []func()
)

// TestMain removes the benchmarks' shared environment, which outlives
// each benchmark function.
func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(benchCleanup) - 1; i >= 0; i-- {
		benchCleanup[i]()
	}
	os.Exit(code)
}

// benchEnv is shared by the benchmarks: 20,000 static T_Sub instances of
// about 1 KB in the repository, and 100,000 generated T_Gen instances of
// about 1 KB from the provider.
func benchEnv(b *testing.B) *testEnv {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wbem-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchCleanup = append(benchCleanup, func() { os.RemoveAll(dir) })
		e := buildTestEnv(b, dir, envOptions{gen: 100000}, func(f func()) { benchCleanup = append(benchCleanup, f) })
		e.prov.GenPayload = 1000
		w := e.repo.NewBulkWriter()
		cls, _ := e.srv.Class(testNS, "T_Sub")
		extra := strings.Repeat("x", 1000)
		for i := 0; i < benchStatic; i++ {
			inst := cls.NewInstance()
			inst.Set("Id", cim.NewString(fmt.Sprintf("b%06d", i)))
			inst.Set("Name", cim.NewString(fmt.Sprintf("bench %d", i)))
			inst.Set("Extra", cim.NewString(extra))
			inst.Set("Level", cim.NewUint16(uint16(i)))
			inst.Path, _ = cls.InstancePath("", inst)
			if err := w.PutInstance(testNS, inst); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		benchE = e
	})
	if benchE == nil {
		b.Fatal("benchmark setup failed")
	}
	return benchE
}

func reportRate(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N)*float64(perOp)/b.Elapsed().Seconds(), "instances/s")
}

func BenchmarkEnumerateInstancesStatic(b *testing.B) {
	e := benchEnv(b)
	// wbemcli's ei: DeepInheritance, IncludeClassOrigin.
	o := InstanceOptions{DeepInheritance: true, IncludeClassOrigin: true}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := e.srv.EnumerateInstances(e.ctx, testNS, "T_Sub", o, func(*cim.Instance) error { n++; return nil }); err != nil || n < benchStatic {
			b.Fatal(n, err)
		}
	}
	reportRate(b, benchStatic)
}

// BenchmarkRepositoryBaseline enumerates the same static instances from
// the repository directly: the core's overhead is the difference.
func BenchmarkRepositoryBaseline(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := e.repo.EnumerateInstances(testNS, "T_Sub", true, func(*cim.Instance) error { n++; return nil }); err != nil || n < benchStatic {
			b.Fatal(n, err)
		}
	}
	reportRate(b, benchStatic)
}

func BenchmarkEnumerateInstancesProvider(b *testing.B) {
	e := benchEnv(b)
	o := InstanceOptions{DeepInheritance: true}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := e.srv.EnumerateInstances(e.ctx, testNS, "T_Gen", o, func(*cim.Instance) error { n++; return nil }); err != nil || n != 100000 {
			b.Fatal(n, err)
		}
	}
	reportRate(b, 100000)
}

func BenchmarkPullProvider(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		count := func(*cim.Instance) error { n++; return nil }
		st, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{MaxObjectCount: 1000}, count)
		for err == nil && !st.EndOfSequence {
			st, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 1000, count)
		}
		if err != nil || n != 100000 {
			b.Fatal(n, err)
		}
	}
	reportRate(b, 100000)
}

func BenchmarkGetInstanceStatic(b *testing.B) {
	e := benchEnv(b)
	paths := make([]*cim.ObjectPath, 1000)
	for i := range paths {
		paths[i] = path("T_Sub", fmt.Sprintf("b%06d", i*17))
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.srv.GetInstance(e.ctx, testNS, paths[i%len(paths)], InstanceOptions{IncludeClassOrigin: true}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkGetInstanceProvider(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.srv.GetInstance(e.ctx, testNS, path("T_Gen", fmt.Sprintf("g%07d", i%100000)), InstanceOptions{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkExecQuery(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := e.srv.ExecQuery(e.ctx, testNS, "WQL", "SELECT Id, Level FROM T_Sub WHERE Level > 100 AND Name LIKE 'bench 1%'", func(*cim.Instance) error { n++; return nil }); err != nil || n == 0 {
			b.Fatal(n, err)
		}
	}
	reportRate(b, benchStatic)
}
