package repository

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/mof"
)

// benchClass is a class whose instances take about 1 KB: a key, 18
// strings, integers and datetimes, and a string array, the shape of a
// typical settings-data instance.
func benchClass() *cim.Class {
	c := cim.NewClass("B_Setting", "")
	c.AddProperty(cim.Property{Name: "InstanceID", Type: cim.TypeString,
		Qualifiers: cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true)}}})
	for i := 0; i < 10; i++ {
		c.AddProperty(cim.Property{Name: fmt.Sprintf("Text%02d", i), Type: cim.TypeString})
	}
	for i := 0; i < 4; i++ {
		c.AddProperty(cim.Property{Name: fmt.Sprintf("Count%02d", i), Type: cim.TypeUint64})
		c.AddProperty(cim.Property{Name: fmt.Sprintf("State%02d", i), Type: cim.TypeUint16, Value: cim.NewUint16(2)})
	}
	c.AddProperty(cim.Property{Name: "Created", Type: cim.TypeDatetime})
	c.AddProperty(cim.Property{Name: "Modified", Type: cim.TypeDatetime})
	c.AddProperty(cim.Property{Name: "Tags", Type: cim.TypeString, IsArray: true})
	return c
}

func benchInstance(i int) *cim.Instance {
	inst := cim.NewInstance("B_Setting")
	inst.Set("InstanceID", cim.NewString(fmt.Sprintf("HC:%08x-1b4e-4f2a-9c3d-5e6f7a8b9c0d", i)))
	for j := 0; j < 10; j++ {
		inst.Set(fmt.Sprintf("Text%02d", j), cim.NewString(fmt.Sprintf("value %d of setting %d: %s", j, i, strings.Repeat("x", 48))))
	}
	for j := 0; j < 4; j++ {
		inst.Set(fmt.Sprintf("Count%02d", j), cim.NewUint64(uint64(i*j)))
	}
	ts, _ := cim.ParseDatetime("20240131235959.123456+000")
	inst.Set("Created", cim.NewDatetime(ts))
	inst.Set("Modified", cim.NewDatetime(ts))
	inst.Set("Tags", cim.NewStringArray([]string{"virtual", "disk", fmt.Sprint(i)}))
	return inst
}

// cpuMeter reports the process's CPU time per operation (all threads, the
// garbage collector's included) next to the wall time: on a machine shared
// with other work, wall time measures the neighbours as much as the code.
type cpuMeter struct{ start time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{start: cpuTime()}
}

func (m *cpuMeter) report(b *testing.B, perOp int) {
	d := cpuTime() - m.start
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N*perOp), "cpu-ns/op")
}

// Benchmark stores are built once per test binary run and shared by the
// successive calls of a benchmark function; TestMain removes them.
var benchStores struct {
	sync.Mutex
	repos map[string]*Repository
}

func sharedStore(b *testing.B, name string, fill func(r *Repository) error) *Repository {
	b.Helper()
	benchStores.Lock()
	defer benchStores.Unlock()
	if r := benchStores.repos[name]; r != nil {
		return r
	}
	dir, err := os.MkdirTemp("", "hypercim-bench-")
	if err != nil {
		b.Fatal(err)
	}
	r, err := Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	if benchStores.repos == nil {
		benchStores.repos = map[string]*Repository{}
	}
	benchStores.repos[name] = r
	if err := fill(r); err != nil {
		b.Fatal(err)
	}
	return r
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, r := range benchStores.repos {
		r.Close()
		os.RemoveAll(r.Dir())
	}
	os.Exit(code)
}

// benchStore returns a repository holding n instances of benchClass in
// root/bench, created in transactions of 5000.
func benchStore(b *testing.B, n int) *Repository {
	return sharedStore(b, fmt.Sprint("instances", n), func(r *Repository) error {
		if err := r.CreateNamespace("root/bench"); err != nil {
			return err
		}
		if err := r.SetQualifier("root/bench", &cim.QualifierType{Name: "Key", Type: cim.TypeBoolean,
			Scopes: cim.ScopeProperty | cim.ScopeReference, Flavor: cim.FlavorDisableOverride}); err != nil {
			return err
		}
		if err := r.CreateClass("root/bench", benchClass()); err != nil {
			return err
		}
		for start := 0; start < n; start += 5000 {
			err := r.Update(func(tx *Tx) error {
				for i := start; i < min(start+5000, n); i++ {
					if _, err := tx.CreateInstance("root/bench", benchInstance(i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// schemaRepo returns a repository holding DMTF 2.49 in root/cimv2.
func schemaRepo(b *testing.B) *Repository {
	return sharedStore(b, "schema", func(r *Repository) error {
		w := r.NewBulkWriter()
		if _, err := (&mof.Compiler{Target: w, Namespace: "root/cimv2"}).CompileFiles(dmtfSchemaPath(b)); err != nil {
			return err
		}
		return w.Commit()
	})
}

// BenchmarkGetClass reads a resolved class from a warm store (what every
// instance operation does first).
func BenchmarkGetClass(b *testing.B) {
	r := schemaRepo(b)
	names := []string{"CIM_ComputerSystem", "CIM_VirtualSystemSettingData", "CIM_ResourceAllocationSettingData", "CIM_ElementSettingData"}
	for _, n := range names {
		if _, err := r.GetClass("root/cimv2", n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	m := startCPU(b)
	for i := 0; i < b.N; i++ {
		if _, err := r.GetClass("root/cimv2", names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, 1)
}

// BenchmarkGetClassInTx reads a resolved class through a read
// transaction (the shared cache, reached from a snapshot).
func BenchmarkGetClassInTx(b *testing.B) {
	r := schemaRepo(b)
	b.ReportAllocs()
	m := startCPU(b)
	for i := 0; i < b.N; i++ {
		err := r.View(func(tx *Tx) error {
			_, err := tx.GetClass("root/cimv2", "CIM_ComputerSystem")
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, 1)
}

// BenchmarkGetInstance reads random instances of ~1 KB from a store of
// 10,000.
func BenchmarkGetInstance(b *testing.B) {
	const n = 10000
	r := benchStore(b, n)
	paths := make([]*cim.ObjectPath, 256)
	for i := range paths {
		paths[i] = cim.NewInstancePath("", "B_Setting", cim.KeyBinding{Name: "InstanceID",
			Value: cim.NewString(fmt.Sprintf("HC:%08x-1b4e-4f2a-9c3d-5e6f7a8b9c0d", rand.IntN(n)))})
	}
	b.ReportAllocs()
	m := startCPU(b)
	for i := 0; i < b.N; i++ {
		if _, err := r.GetInstance("root/bench", paths[i%len(paths)]); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, 1)
}

// BenchmarkEnumerateInstances streams 100,000 instances of ~1 KB; the
// metric that matters is instances/s.
func BenchmarkEnumerateInstances(b *testing.B) {
	const n = 100000
	r := benchStore(b, n)
	b.ReportAllocs()
	m := startCPU(b)
	for i := 0; i < b.N; i++ {
		count := 0
		err := r.EnumerateInstances("root/bench", "B_Setting", true, func(*cim.Instance) error { count++; return nil })
		if err != nil || count != n {
			b.Fatal(count, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "instances/s")
	cpu := cpuTime() - m.start
	b.ReportMetric(float64(n*b.N)/cpu.Seconds(), "instances/cpu-s")
}

// BenchmarkCreateInstance creates instances one transaction each: the
// cost of one durable (fsync'd) write.
func BenchmarkCreateInstance(b *testing.B) {
	r := benchStore(b, 0)
	base := rand.IntN(1 << 30)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.CreateInstance("root/bench", benchInstance(base+i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileSchema compiles the DMTF 2.49 schema into a new store
// (parse, check, resolve, write, one commit).
func BenchmarkCompileSchema(b *testing.B) {
	path := dmtfSchemaPath(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r, err := Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		w := r.NewBulkWriter()
		if _, err := (&mof.Compiler{Target: w, Namespace: "root/cimv2"}).CompileFiles(path); err != nil {
			b.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		r.Close()
		b.StartTimer()
	}
}

// BenchmarkDecodeInstance decodes one stored ~1 KB instance record.
func BenchmarkDecodeInstance(b *testing.B) {
	cls, err := cim.ResolveClass(benchClass(), nil, cim.ResolveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	inst, err := cls.NormalizeInstance(benchInstance(1))
	if err != nil {
		b.Fatal(err)
	}
	rec := encodeInstanceRecord(inst)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	m := startCPU(b)
	for i := 0; i < b.N; i++ {
		if _, err := decodeInstanceRecord(rec, cls); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, 1)
}
