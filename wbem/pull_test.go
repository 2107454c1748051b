package wbem_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	. "github.com/hypercim/hypercim/wbem"
)

func timeout(d time.Duration) *time.Duration { return &d }

// pullAll runs an Open and pulls until the end, returning the results and
// the number of round trips.
func pullAll[T any](t *testing.T, open func(yield func(T) error) (PullState, error),
	pull func(ctx string, yield func(T) error) (PullState, error)) ([]T, int) {
	t.Helper()
	var out []T
	add := func(x T) error { out = append(out, x); return nil }
	st, err := open(add)
	if err != nil {
		t.Fatal(err)
	}
	trips := 1
	for !st.EndOfSequence {
		if st.Context == "" {
			t.Fatal("an open enumeration without a context")
		}
		if st, err = pull(st.Context, add); err != nil {
			t.Fatal(err)
		}
		trips++
	}
	if st.Context != "" {
		t.Errorf("context %q returned with EndOfSequence", st.Context)
	}
	return out, trips
}

func keysOf(insts []*cim.Instance) []string {
	out := make([]string, len(insts))
	for i, inst := range insts {
		out[i] = inst.Path.Canonical()
	}
	sort.Strings(out)
	return out
}

func pathKeys(paths []*cim.ObjectPath) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p.Canonical()
	}
	sort.Strings(out)
	return out
}

func sameKeys(t *testing.T, what string, a, b []string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d results against %d", what, len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("%s: result %d differs: %s against %s", what, i, a[i], b[i])
		}
	}
}

// Pull operations return what the classic ones do, on 100,000 instances,
// with and without a filter; closing early ends the producer.
func TestPullAgreesWithClassic(t *testing.T) {
	const n = 100000
	e := newTestEnv(t, envOptions{gen: n})
	var classic []*cim.Instance
	if err := e.srv.EnumerateInstances(e.ctx, testNS, "T_Base", InstanceOptions{DeepInheritance: true}, func(inst *cim.Instance) error {
		classic = append(classic, inst)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(classic) != n+5 {
		t.Fatalf("classic enumeration: %d instances", len(classic))
	}
	pulled, trips := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			return e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Base", InstanceOptions{DeepInheritance: true}, OpenOptions{MaxObjectCount: 1000}, y)
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstancesWithPath(e.ctx, testNS, c, 1000, y)
		})
	sameKeys(t, "OpenEnumerateInstances", keysOf(classic), keysOf(pulled))
	if trips != (n+5+999)/1000 {
		t.Errorf("%d round trips: the last pull must carry EndOfSequence", trips)
	}
	for i := range classic {
		if !classic[i].Equal(pulled[i]) {
			t.Fatalf("instance %d differs:\n%v\n%v", i, classic[i], pulled[i])
		}
	}

	// FilterQuery: the same as filtering the classic result.
	const fql = "Count >= 50000 AND Count < 50100 OR Id LIKE 's.'"
	var want []*cim.Instance
	for _, inst := range classic {
		c := inst.Get("Count").Uint32()
		id := inst.Get("Id").Str()
		if c >= 50000 && c < 50100 || len(id) == 2 && id[0] == 's' {
			want = append(want, inst)
		}
	}
	filtered, _ := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			return e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Base", InstanceOptions{DeepInheritance: true, PropertyList: []string{"Name"}},
				OpenOptions{MaxObjectCount: 7, FilterQueryLanguage: "DMTF:FQL", FilterQuery: fql}, y)
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstancesWithPath(e.ctx, testNS, c, 7, y)
		})
	sameKeys(t, "filtered enumeration", keysOf(want), keysOf(filtered))
	for _, inst := range filtered {
		// The filter reads Count although the PropertyList leaves it out.
		if len(inst.Properties()) != 1 || !inst.Has("Name") {
			t.Fatalf("PropertyList not applied after filtering: %v", inst)
		}
	}

	// Paths, with and without a filter.
	var classicNames []*cim.ObjectPath
	e.srv.EnumerateInstanceNames(e.ctx, testNS, "T_Gen", func(p *cim.ObjectPath) error { classicNames = append(classicNames, p); return nil })
	paths, _ := pullAll(t,
		func(y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.OpenEnumerateInstancePaths(e.ctx, testNS, "T_Gen", OpenOptions{MaxObjectCount: 5000}, y)
		},
		func(c string, y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.PullInstancePaths(e.ctx, testNS, c, 5000, y)
		})
	sameKeys(t, "OpenEnumerateInstancePaths", pathKeys(classicNames), pathKeys(paths))
	fpaths, _ := pullAll(t,
		func(y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.OpenEnumerateInstancePaths(e.ctx, testNS, "T_Gen", OpenOptions{MaxObjectCount: 0, FilterQueryLanguage: "DMTF:FQL", FilterQuery: "Count < 10"}, y)
		},
		func(c string, y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.PullInstancePaths(e.ctx, testNS, c, 4, y)
		})
	if len(fpaths) != 10 {
		t.Errorf("filtered paths: %d", len(fpaths))
	}

	// Closing early stops the producer where it is.
	st, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{MaxObjectCount: 100}, func(*cim.Instance) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	before := e.prov.Produced()
	for i := 0; i < 3; i++ {
		if st, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 100, func(*cim.Instance) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.CloseEnumeration(e.ctx, testNS, st.Context); err != nil {
		t.Fatal(err)
	}
	if e.prov.Active() != 0 || e.srv.OpenEnumerations() != 0 {
		t.Errorf("after CloseEnumeration: %d producers active, %d contexts open", e.prov.Active(), e.srv.OpenEnumerations())
	}
	if produced := e.prov.Produced() - before; produced > 301 {
		t.Errorf("the producer ran ahead: %d instances produced for 300 pulled", produced)
	}
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 1, func(*cim.Instance) error { return nil })
	wantStatus(t, "pull after close", err, cim.ErrInvalidEnumerationContext)
}

// The repository's static instances pull the same as classically.
func TestPullStaticInstances(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	w := e.repo.NewBulkWriter()
	cls, _ := e.srv.Class(testNS, "T_Sub")
	for i := 0; i < 3000; i++ {
		inst := cls.NewInstance()
		inst.Set("Id", cim.NewString(fmt.Sprintf("bulk%05d", i)))
		inst.Set("Level", cim.NewUint16(uint16(i%7)))
		inst.Path, _ = cls.InstancePath("", inst)
		if err := w.PutInstance(testNS, inst); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	var classic []*cim.Instance
	e.srv.EnumerateInstances(e.ctx, testNS, "T_Static", InstanceOptions{}, func(i *cim.Instance) error { classic = append(classic, i); return nil })
	pulled, _ := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			return e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Static", InstanceOptions{}, OpenOptions{MaxObjectCount: 333}, y)
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstancesWithPath(e.ctx, testNS, c, 333, y)
		})
	sameKeys(t, "static instances", keysOf(classic), keysOf(pulled))
	level3, _ := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			return e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Sub", InstanceOptions{}, OpenOptions{MaxObjectCount: 50, FilterQueryLanguage: "dmtf:fql", FilterQuery: "Level = 3"}, y)
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstancesWithPath(e.ctx, testNS, c, 50, y)
		})
	if len(level3) != 430 { // 429 of the bulk ones and sub1
		t.Errorf("filtered static instances: %d", len(level3))
	}
}

func TestPullAssociationsAndQueries(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 20})
	s1 := path("T_Static", "s1")
	var classic []*cim.Instance
	e.srv.Associators(e.ctx, testNS, s1, AssocFilter{}, InstanceOptions{}, func(r AssocResult) error { classic = append(classic, r.Instance); return nil })
	pulled, _ := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			return e.srv.OpenAssociatorInstances(e.ctx, testNS, s1, AssocFilter{}, InstanceOptions{}, OpenOptions{MaxObjectCount: 1}, y)
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstancesWithPath(e.ctx, testNS, c, 1, y)
		})
	sameKeys(t, "OpenAssociatorInstances", keysOf(classic), keysOf(pulled))
	filtered, _ := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			return e.srv.OpenAssociatorInstances(e.ctx, testNS, s1, AssocFilter{ResultClass: "T_Base"}, InstanceOptions{}, OpenOptions{MaxObjectCount: 10, FilterQueryLanguage: "DMTF:FQL", FilterQuery: "Name = 'sub one'"}, y)
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstancesWithPath(e.ctx, testNS, c, 10, y)
		})
	if ids(filtered) != "T_Sub.sub1" {
		t.Errorf("filtered associators: %s", ids(filtered))
	}
	apaths, _ := pullAll(t,
		func(y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.OpenAssociatorInstancePaths(e.ctx, testNS, path("T_Static", "s2"), AssocFilter{}, OpenOptions{MaxObjectCount: 10}, y)
		},
		func(c string, y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.PullInstancePaths(e.ctx, testNS, c, 10, y)
		})
	if ids(apaths) != "T_Dynamic.d1 T_Dynamic.gone" {
		t.Errorf("OpenAssociatorInstancePaths: %s", ids(apaths))
	}
	refs, _ := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			return e.srv.OpenReferenceInstances(e.ctx, testNS, path("T_Dynamic", "d1"), AssocFilter{}, InstanceOptions{}, OpenOptions{MaxObjectCount: 1}, y)
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstancesWithPath(e.ctx, testNS, c, 1, y)
		})
	rpaths, _ := pullAll(t,
		func(y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.OpenReferenceInstancePaths(e.ctx, testNS, path("T_Dynamic", "d1"), AssocFilter{Role: "From"}, OpenOptions{MaxObjectCount: 5}, y)
		},
		func(c string, y func(*cim.ObjectPath) error) (PullState, error) {
			return e.srv.PullInstancePaths(e.ctx, testNS, c, 5, y)
		})
	if len(refs) != 2 || len(rpaths) != 1 || rpaths[0].ClassName != "T_DynLink" {
		t.Errorf("references: %v; paths %v", refs, rpaths)
	}
	_, err := e.srv.OpenAssociatorInstances(e.ctx, testNS, cim.NewClassPath("", "T_Static"), AssocFilter{}, InstanceOptions{}, OpenOptions{}, func(*cim.Instance) error { return nil })
	wantStatus(t, "OpenAssociatorInstances on a class", err, cim.ErrInvalidParameter)

	var qclass *cim.Class
	results, _ := pullAll(t,
		func(y func(*cim.Instance) error) (PullState, error) {
			c, st, err := e.srv.OpenQueryInstances(e.ctx, testNS, "WQL", "SELECT Id, Count FROM T_Gen WHERE Count >= 15", true, OpenOptions{MaxObjectCount: 2}, y)
			qclass = c
			return st, err
		},
		func(c string, y func(*cim.Instance) error) (PullState, error) {
			return e.srv.PullInstances(e.ctx, testNS, c, 2, y)
		})
	if len(results) != 5 || len(results[0].Properties()) != 2 {
		t.Errorf("OpenQueryInstances: %v", results)
	}
	if qclass == nil || qclass.Name != "T_Gen" || len(qclass.Properties()) != 2 {
		t.Errorf("query result class %v", qclass)
	}
	c, st, err := e.srv.OpenQueryInstances(e.ctx, testNS, "DMTF:CQL", "SELECT * FROM T_Gen", false, OpenOptions{MaxObjectCount: 1}, func(*cim.Instance) error { return nil })
	if err != nil || c != nil || st.EndOfSequence {
		t.Fatalf("OpenQueryInstances: %v %v %v", c, st, err)
	}
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 1, func(*cim.Instance) error { return nil })
	wantStatus(t, "PullInstancesWithPath on a query", err, cim.ErrInvalidEnumerationContext)
	if _, err := e.srv.PullInstances(e.ctx, testNS, st.Context, 1, func(*cim.Instance) error { return nil }); err != nil {
		t.Errorf("the context survives a pull of the wrong kind: %v", err)
	}
	e.srv.CloseEnumeration(e.ctx, testNS, st.Context)
}

func TestPullErrorsAndLimits(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 50, pull: PullLimits{MaxContexts: 4, MaxContextsPerUser: 3, MaxObjectCount: 5, MaxZeroPulls: 2, MaxTimeout: time.Minute}})
	none := func(*cim.Instance) error { return nil }
	open := func(ctx context.Context, p OpenOptions) (PullState, error) {
		return e.srv.OpenEnumerateInstances(ctx, testNS, "T_Gen", InstanceOptions{}, p, none)
	}
	for _, c := range []struct {
		what   string
		p      OpenOptions
		status cim.Status
	}{
		{"ContinueOnError", OpenOptions{ContinueOnError: true}, cim.ErrContinuationOnErrorNotSupported},
		{"no timeout", OpenOptions{OperationTimeout: timeout(0)}, cim.ErrInvalidOperationTimeout},
		{"timeout above the maximum", OpenOptions{OperationTimeout: timeout(2 * time.Minute)}, cim.ErrInvalidOperationTimeout},
		{"negative timeout", OpenOptions{OperationTimeout: timeout(-time.Second)}, cim.ErrInvalidOperationTimeout},
		{"filter language", OpenOptions{FilterQueryLanguage: "WQL", FilterQuery: "Count = 1"}, cim.ErrQueryLanguageNotSupported},
		{"filter without language", OpenOptions{FilterQuery: "Count = 1"}, cim.ErrInvalidParameter},
		{"bad filter", OpenOptions{FilterQueryLanguage: "DMTF:FQL", FilterQuery: "Count = "}, cim.ErrInvalidQuery},
		{"filter on an unknown property", OpenOptions{FilterQueryLanguage: "DMTF:FQL", FilterQuery: "Color = 'red'"}, cim.ErrInvalidQuery},
	} {
		_, err := open(e.ctx, c.p)
		wantStatus(t, c.what, err, c.status)
	}
	_, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Nope", InstanceOptions{}, OpenOptions{}, none)
	wantStatus(t, "unknown class", err, cim.ErrInvalidClass)
	if n := e.srv.OpenEnumerations(); n != 0 {
		t.Fatalf("%d contexts left open by failed Opens", n)
	}

	// MaxObjectCount is capped by the server.
	got := 0
	st, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{MaxObjectCount: 100}, func(*cim.Instance) error { got++; return nil })
	if err != nil || got != 5 || st.EndOfSequence {
		t.Fatalf("capped Open: %d results, %+v, %v", got, st, err)
	}
	// The context is bound to its namespace, user and kind.
	other := WithPrincipal(context.Background(), Principal{User: "other", Unrestricted: true})
	_, err = e.srv.PullInstancesWithPath(other, testNS, st.Context, 1, none)
	wantStatus(t, "another user's context", err, cim.ErrInvalidEnumerationContext)
	_, err = e.srv.PullInstancesWithPath(e.ctx, "root/interop", st.Context, 1, none)
	wantStatus(t, "another namespace", err, cim.ErrInvalidEnumerationContext)
	_, err = e.srv.PullInstancePaths(e.ctx, testNS, st.Context, 1, func(*cim.ObjectPath) error { return nil })
	wantStatus(t, "another kind", err, cim.ErrInvalidEnumerationContext)
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, "no-such-context", 1, none)
	wantStatus(t, "unknown context", err, cim.ErrInvalidEnumerationContext)
	wantStatus(t, "closing an unknown context", e.srv.CloseEnumeration(e.ctx, testNS, "no-such-context"), cim.ErrInvalidEnumerationContext)
	if n, ok, err := e.srv.EnumerationCount(e.ctx, testNS, st.Context); err != nil || ok || n != 0 {
		t.Errorf("EnumerationCount of a running enumeration: %d %v %v", n, ok, err)
	}
	// Zero pulls keep a context alive, up to a limit.
	for i := 0; i < 2; i++ {
		if _, err := e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 0, none); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 0, none)
	wantStatus(t, "too many zero pulls", err, cim.ErrServerLimitsExceeded)
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 1, none)
	wantStatus(t, "pull after the zero-pull limit", err, cim.ErrInvalidEnumerationContext)

	// Context limits, per user and per server.
	var ctxs []string
	for i := 0; i < 3; i++ {
		st, err := open(e.ctx, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctxs = append(ctxs, st.Context)
	}
	_, err = open(e.ctx, OpenOptions{})
	wantStatus(t, "fourth context of one user", err, cim.ErrServerLimitsExceeded)
	if _, err := open(other, OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = open(WithPrincipal(context.Background(), Principal{User: "third", Unrestricted: true}), OpenOptions{})
	wantStatus(t, "fifth context of the server", err, cim.ErrServerLimitsExceeded)
	for _, c := range ctxs {
		if err := e.srv.CloseEnumeration(e.ctx, testNS, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := open(e.ctx, OpenOptions{}); err != nil {
		t.Errorf("after closing: %v", err)
	}
	// An error from the client's callback ends the enumeration.
	stop := errors.New("connection lost")
	st, _ = open(e.ctx, OpenOptions{})
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 3, func(*cim.Instance) error { return stop })
	if err != stop {
		t.Errorf("callback error: %v", err)
	}
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 1, none)
	wantStatus(t, "pull after a failed pull", err, cim.ErrInvalidEnumerationContext)
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Producers run only as fast as the client pulls, and abandoned contexts
// expire and leave nothing running.
func TestPullLazinessExpiryAndLeaks(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 1000000, pull: PullLimits{DefaultTimeout: 150 * time.Millisecond}})
	baseline := runtime.NumGoroutine()
	st, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{}, func(*cim.Instance) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if e.prov.Produced() != 0 {
		t.Errorf("an Open with MaxObjectCount 0 produced %d instances", e.prov.Produced())
	}
	for i := 0; i < 5; i++ {
		if st, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 10, func(*cim.Instance) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if p := e.prov.Produced(); p != 51 { // 50 delivered and one looked ahead
		t.Errorf("produced %d instances for 50 pulled", p)
	}
	// Many abandoned enumerations, then nothing left.
	for i := 0; i < 50; i++ {
		if _, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{MaxObjectCount: 3}, func(*cim.Instance) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if e.srv.OpenEnumerations() != 51 || e.prov.Active() != 51 {
		t.Fatalf("%d contexts, %d producers", e.srv.OpenEnumerations(), e.prov.Active())
	}
	waitFor(t, "the contexts to expire", func() bool { return e.srv.OpenEnumerations() == 0 })
	waitFor(t, "the producers to end", func() bool { return e.prov.Active() == 0 })
	waitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 1, func(*cim.Instance) error { return nil })
	wantStatus(t, "pull on an expired context", err, cim.ErrInvalidEnumerationContext)
	// Using a context keeps it alive past its timeout. The gaps between
	// pulls stay far below the timeout, so a loaded machine cannot
	// stretch one past it; together they last well beyond it.
	st, _ = e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{OperationTimeout: timeout(time.Second)}, func(*cim.Instance) error { return nil })
	for i := 0; i < 12; i++ {
		time.Sleep(150 * time.Millisecond)
		if st, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 1, func(*cim.Instance) error { return nil }); err != nil {
			t.Fatalf("pull %d of a context in use: %v", i, err)
		}
	}
	// Closing the server ends what is left.
	e.srv.Close()
	if e.srv.OpenEnumerations() != 0 {
		t.Error("contexts left after Close")
	}
	waitFor(t, "the goroutines to end after Close", func() bool { return runtime.NumGoroutine() <= baseline })
	_, err = e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{}, func(*cim.Instance) error { return nil })
	wantStatus(t, "Open after Close", err, cim.ErrServerIsShuttingDown)
}

// CloseEnumeration during a pull abandons it.
func TestCloseDuringPull(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 10})
	e.prov.Gate = make(chan struct{})
	st, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{}, func(*cim.Instance) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 5, func(*cim.Instance) error { return nil })
		done <- err
	}()
	e.prov.Gate <- struct{}{} // let one instance through; the pull waits for the second
	waitFor(t, "the pull to wait in the provider", func() bool { return e.prov.Produced() == 1 })
	if err := e.srv.CloseEnumeration(e.ctx, testNS, st.Context); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		wantStatus(t, "the abandoned pull", err, cim.ErrPullHasBeenAbandoned)
	case <-time.After(5 * time.Second):
		t.Fatal("the pull did not end after CloseEnumeration")
	}
	waitFor(t, "the producer to end", func() bool { return e.prov.Active() == 0 })
}

// Concurrent enumerations, pulls and reads (run with -race).
func TestPullConcurrency(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 2000})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ctx := WithPrincipal(context.Background(), Principal{User: fmt.Sprintf("u%d", g), Unrestricted: true})
			n := 0
			count := func(*cim.Instance) error { n++; return nil }
			st, err := e.srv.OpenEnumerateInstances(ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{MaxObjectCount: uint32(50 + g)}, count)
			for err == nil && !st.EndOfSequence {
				st, err = e.srv.PullInstancesWithPath(ctx, testNS, st.Context, uint32(100+g), count)
				if _, gerr := e.srv.GetInstance(ctx, testNS, path("T_Static", "s1"), InstanceOptions{}); gerr != nil {
					err = gerr
				}
			}
			if err == nil && n != 2000 {
				err = fmt.Errorf("goroutine %d got %d instances", g, n)
			}
			errs <- err
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// A provider that panics fails the operation, classic or pulled, and
// leaves nothing behind.
func TestProviderPanic(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 100})
	e.prov.PanicAt = 50
	n := 0
	err := e.srv.EnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, func(*cim.Instance) error { n++; return nil })
	wantStatus(t, "classic enumeration", err, cim.ErrFailed)
	if n != 50 {
		t.Errorf("%d instances before the panic", n)
	}
	st, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Gen", InstanceOptions{}, OpenOptions{MaxObjectCount: 40}, func(*cim.Instance) error { return nil })
	if err != nil || st.EndOfSequence {
		t.Fatalf("Open: %+v %v", st, err)
	}
	_, err = e.srv.PullInstancesWithPath(e.ctx, testNS, st.Context, 40, func(*cim.Instance) error { return nil })
	wantStatus(t, "pull reaching the panic", err, cim.ErrFailed)
	if e.srv.OpenEnumerations() != 0 {
		t.Error("the context survived the error")
	}
	// The server goes on serving.
	if _, err := e.srv.GetInstance(e.ctx, testNS, path("T_Static", "s1"), InstanceOptions{}); err != nil {
		t.Error(err)
	}
}
