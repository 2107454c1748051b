package wbem_test

import (
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/mof"
	. "github.com/hypercim/hypercim/wbem"
)

// openInstances runs OpenEnumerateInstances with p to its end (one result
// per pull, so that the counts are checked on the way).
func openInstances(t *testing.T, e *testEnv, class string, p OpenOptions) []*cim.Instance {
	t.Helper()
	p.MaxObjectCount = 1
	out, _ := pullAll(t, func(y func(*cim.Instance) error) (PullState, error) {
		return e.srv.OpenEnumerateInstances(e.ctx, testNS, class, InstanceOptions{DeepInheritance: true}, p, y)
	}, func(ctx string, y func(*cim.Instance) error) (PullState, error) {
		return e.srv.PullInstancesWithPath(e.ctx, testNS, ctx, 1, y)
	})
	return out
}

func openPaths(t *testing.T, e *testEnv, class string, p OpenOptions) []*cim.ObjectPath {
	t.Helper()
	p.MaxObjectCount = 1
	out, _ := pullAll(t, func(y func(*cim.ObjectPath) error) (PullState, error) {
		return e.srv.OpenEnumerateInstancePaths(e.ctx, testNS, class, p, y)
	}, func(ctx string, y func(*cim.ObjectPath) error) (PullState, error) {
		return e.srv.PullInstancePaths(e.ctx, testNS, ctx, 1, y)
	})
	return out
}

func idKey(id string) []cim.KeyBinding {
	return []cim.KeyBinding{{Name: "Id", Value: cim.NewString(id)}}
}

// ExactClass leaves subclasses out, for instances and paths, static and
// provided, without asking the subclasses' providers.
func TestOpenExactClass(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 1000})
	for _, c := range []struct {
		class string
		p     OpenOptions
		want  string
	}{
		{"T_Static", OpenOptions{}, "T_Static.s1 T_Static.s2 T_Sub.sub1"},
		{"T_Static", OpenOptions{ExactClass: true}, "T_Static.s1 T_Static.s2"},
		{"T_Sub", OpenOptions{ExactClass: true}, "T_Sub.sub1"},
		{"T_Dynamic", OpenOptions{ExactClass: true}, "T_Dynamic.d1 T_Dynamic.d2"},
		{"T_Base", OpenOptions{ExactClass: true}, ""}, // abstract
		{"T_Static", OpenOptions{ExactClass: true, FilterQueryLanguage: "DMTF:FQL", FilterQuery: "Count = 2"}, "T_Static.s2"},
	} {
		if got := ids(openInstances(t, e, c.class, c.p)); got != c.want {
			t.Errorf("instances of %s %+v: %q, want %q", c.class, c.p, got, c.want)
		}
		if got := ids(openPaths(t, e, c.class, c.p)); got != c.want {
			t.Errorf("paths of %s %+v: %q, want %q", c.class, c.p, got, c.want)
		}
	}
	if n := e.prov.Produced(); n != 0 {
		t.Errorf("T_Base with ExactClass asked the T_Gen provider for %d instances", n)
	}
}

// Keys select by key values; naming every key gets the instance from
// each class that may hold it instead of scanning (the provider of T_Gen
// produces nothing), and the core's count is that of the selection.
func TestOpenKeys(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 100000})
	for _, c := range []struct {
		class string
		p     OpenOptions
		want  string
	}{
		{"T_Base", OpenOptions{Keys: idKey("g0099999")}, "T_Gen.g0099999"},
		{"T_Base", OpenOptions{Keys: idKey("sub1")}, "T_Sub.sub1"},
		{"T_Static", OpenOptions{Keys: idKey("s2")}, "T_Static.s2"},
		{"T_Static", OpenOptions{Keys: idKey("sub1"), ExactClass: true}, ""},
		{"T_Static", OpenOptions{Keys: idKey("d1")}, ""},
		{"T_Base", OpenOptions{Keys: []cim.KeyBinding{{Name: "id", Value: cim.NewString("d1")}}}, "T_Dynamic.d1"},
		{"T_Base", OpenOptions{Keys: idKey("d1"), FilterQueryLanguage: "DMTF:FQL", FilterQuery: `Name = "dynamic d2"`}, ""},
		{"T_Base", OpenOptions{Keys: idKey("d1"), FilterQueryLanguage: "DMTF:FQL", FilterQuery: `Name = "dynamic d1"`}, "T_Dynamic.d1"},
		{"T_Base", OpenOptions{Keys: idKey("nowhere")}, ""},
	} {
		if got := ids(openInstances(t, e, c.class, c.p)); got != c.want {
			t.Errorf("instances of %s %+v: %q, want %q", c.class, c.p, got, c.want)
		}
		if got := ids(openPaths(t, e, c.class, c.p)); got != c.want {
			t.Errorf("paths of %s %+v: %q, want %q", c.class, c.p, got, c.want)
		}
	}
	if n := e.prov.Produced(); n != 0 {
		t.Errorf("selecting by every key scanned %d T_Gen instances", n)
	}
	// The one result comes with EndOfSequence: the enumeration holds
	// nothing else.
	var got []*cim.Instance
	st, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Base", InstanceOptions{}, OpenOptions{Keys: idKey("d2"), MaxObjectCount: 5},
		func(i *cim.Instance) error { got = append(got, i); return nil })
	if err != nil || !st.EndOfSequence || ids(got) != "T_Dynamic.d2" {
		t.Fatalf("open by keys: %v %+v %s", err, st, ids(got))
	}

	// Errors: a name that is not a key, a NULL or array value, the same
	// key twice, and narrowing an operation it does not apply to.
	for _, keys := range [][]cim.KeyBinding{
		{{Name: "Name", Value: cim.NewString("one")}},
		{{Name: "Id", Value: cim.Null(cim.TypeString)}},
		{{Name: "Id", Value: cim.NewStringArray([]string{"a"})}},
		{{Name: "Id", Value: cim.NewString("a")}, {Name: "ID", Value: cim.NewString("b")}},
		{{Name: "no such", Value: cim.NewString("a")}},
	} {
		_, err := e.srv.OpenEnumerateInstances(e.ctx, testNS, "T_Static", InstanceOptions{}, OpenOptions{Keys: keys}, func(*cim.Instance) error { return nil })
		wantStatus(t, "keys "+cim.NewInstancePath("", "T_Static", keys...).String(), err, cim.ErrInvalidParameter)
	}
	_, err = e.srv.OpenAssociatorInstances(e.ctx, testNS, path("T_Static", "s1"), AssocFilter{}, InstanceOptions{}, OpenOptions{ExactClass: true}, func(*cim.Instance) error { return nil })
	wantStatus(t, "associators with ExactClass", err, cim.ErrInvalidParameter)
	_, _, err = e.srv.OpenQueryInstances(e.ctx, testNS, "WQL", "select * from T_Static", false, OpenOptions{Keys: idKey("s1")}, func(*cim.Instance) error { return nil })
	wantStatus(t, "query with Keys", err, cim.ErrInvalidParameter)
}

// Key values are compared as the declared type, references as paths
// whatever their host and namespace; some keys of a class select by scan.
func TestOpenKeysTyped(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	w := e.repo.NewBulkWriter()
	c := &mof.Compiler{Target: w, Namespace: testNS}
	src := `class T_Num { [Key] uint16 Slot; [Key] string Bay; datetime When; };
instance of T_Num { Slot = 16; Bay = "a"; };
instance of T_Num { Slot = 16; Bay = "b"; };
instance of T_Num { Slot = 7; Bay = "a"; };`
	if _, err := c.CompileSource("num.mof", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	slots := func(insts []*cim.Instance) string {
		var s string
		for _, i := range insts {
			s += i.Get("Slot").String() + i.Get("Bay").Str() + " "
		}
		return s
	}
	for _, c := range []struct {
		keys []cim.KeyBinding
		want string
	}{
		{[]cim.KeyBinding{{Name: "Slot", Value: cim.NewString("16")}}, "16a 16b "},
		{[]cim.KeyBinding{{Name: "Slot", Value: cim.NewString("0x10")}, {Name: "Bay", Value: cim.NewString("b")}}, "16b "},
		{[]cim.KeyBinding{{Name: "Slot", Value: cim.NewUint32(7)}}, "7a "},
		{[]cim.KeyBinding{{Name: "Slot", Value: cim.NewString("seven")}}, ""},
		{[]cim.KeyBinding{{Name: "Slot", Value: cim.NewString("seven")}, {Name: "Bay", Value: cim.NewString("a")}}, ""},
	} {
		if got := slots(openInstances(t, e, "T_Num", OpenOptions{Keys: c.keys})); got != c.want {
			t.Errorf("%v: %q, want %q", c.keys, got, c.want)
		}
	}
	ref := func(host, ns, class, id string) cim.Value {
		p := cim.NewInstancePath(ns, class, cim.KeyBinding{Name: "Id", Value: cim.NewString(id)})
		p.Host = host
		return cim.NewReference(p)
	}
	for _, c := range []struct {
		keys []cim.KeyBinding
		want int
	}{
		{[]cim.KeyBinding{{Name: "Left", Value: ref("", "", "T_Static", "s1")}}, 2},
		{[]cim.KeyBinding{{Name: "Left", Value: ref("elsewhere", "root/other", "T_Static", "s1")}}, 2},
		{[]cim.KeyBinding{{Name: "Left", Value: ref("", testNS, "T_Static", "s1")}, {Name: "Right", Value: ref("", "", "T_Sub", "sub1")}}, 1},
		{[]cim.KeyBinding{{Name: "Left", Value: ref("", "", "T_Static", "s9")}}, 0},
		{[]cim.KeyBinding{{Name: "Left", Value: cim.NewString("T_Static.Id=\"s1\"")}}, 0},
	} {
		if got := len(openPaths(t, e, "T_Link", OpenOptions{Keys: c.keys})); got != c.want {
			t.Errorf("T_Link %v: %d links, want %d", c.keys, got, c.want)
		}
	}
}
