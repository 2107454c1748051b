package repository

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/mof"
)

// digest summarizes everything stored in namespace ns.
func digest(t testing.TB, r *Repository, ns string) [32]byte {
	t.Helper()
	h := sha256.New()
	must(t, r.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(nsBucketName(cim.FoldName(ns)))
		return b.ForEachBucket(func(name []byte) error {
			return b.Bucket(name).ForEach(func(k, v []byte) error {
				h.Write(name)
				h.Write(k)
				h.Write(v)
				return nil
			})
		})
	}))
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestSchemaRoundTrip is the repository version of the round-trip
// acceptance test: compile DMTF 2.49 into a store, read it back, write it
// as MOF, compile that into a second store: the classes and qualifier
// declarations must be identical.
func TestSchemaRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the DMTF schema")
	}
	const ns = "root/cimv2"
	first := openTest(t)
	w := first.NewBulkWriter()
	res, err := (&mof.Compiler{Target: w, Namespace: ns}).CompileFiles(dmtfSchemaPath(t))
	must(t, err)
	must(t, w.Commit())
	if res.Classes < 1600 {
		t.Fatalf("%d classes", res.Classes)
	}
	before := digest(t, first, ns)

	// Compiling the same MOF again changes nothing.
	w = first.NewBulkWriter()
	_, err = (&mof.Compiler{Target: w, Namespace: ns}).CompileFiles(dmtfSchemaPath(t))
	must(t, err)
	must(t, w.Commit())
	if digest(t, first, ns) != before {
		t.Error("compiling the schema again changed the repository")
	}

	var text bytes.Buffer
	must(t, mof.WriteRepository(&text, first, ns))
	classes := 0
	must(t, first.EnumerateClassNames(ns, "", true, func(string) error { classes++; return nil }))

	second := openTest(t)
	w = second.NewBulkWriter()
	_, err = (&mof.Compiler{Target: w, Namespace: ns}).CompileSource("roundtrip.mof", text.Bytes())
	if err != nil {
		t.Fatalf("the MOF written from the repository does not compile: %v", err)
	}
	must(t, w.Commit())
	n := 0
	must(t, second.EnumerateClasses(ns, "", true, func(c *cim.Class) error {
		n++
		orig, err := first.GetClass(ns, c.Name)
		if err != nil {
			return err
		}
		if !bytes.Equal(encodeClass(orig), encodeClass(c)) {
			t.Errorf("class %s differs after the round trip:\n%s\n--- became ---\n%s", c.Name, orig, c)
		}
		return nil
	}))
	if n != classes {
		t.Errorf("%d classes after the round trip, %d before", n, classes)
	}
	must(t, second.EnumerateQualifiers(ns, func(qt *cim.QualifierType) error {
		orig, err := first.GetQualifier(ns, qt.Name)
		if err != nil || !orig.Equal(qt) || orig.Flavor != qt.Flavor {
			t.Errorf("qualifier %s: %v became %v (%v)", qt.Name, orig, qt, err)
		}
		return nil
	}))
}

// TestRecompileChanged: compiling changed definitions over existing ones
// updates what DSP0004 allows and refuses the rest with a clear message.
func TestRecompileChanged(t *testing.T) {
	r := openSchema(t)
	_, err := r.CreateInstance(testNS, vm("vm1", 1))
	must(t, err)
	// A new property on a class with instances: updated.
	grown := strings.Replace(testSchema, "datetime Started;", "datetime Started;\n\tstring Notes = \"none\";", 1)
	res := compileInto(t, r, testNS, grown)
	if res.Classes != 6 {
		t.Errorf("%d classes", res.Classes)
	}
	inst, err := r.GetInstance(testNS, parsePath(t, `T_VM.Name="vm1"`))
	must(t, err)
	if inst.Get("Notes").Str() != "none" {
		t.Errorf("instance after the class grew: %s", inst)
	}
	// A removed property: refused, nothing written.
	before := digest(t, r, testNS)
	shrunk := strings.Replace(grown, "datetime Started;", "", 1)
	w := r.NewBulkWriter()
	_, err = (&mof.Compiler{Target: w, Namespace: testNS}).CompileSource("shrunk.mof", []byte(shrunk))
	must(t, w.Rollback())
	if err == nil || !strings.Contains(err.Error(), "class T_System cannot be changed this way: class T_VM has instances, and property Started would be removed") {
		t.Fatalf("compiling an incompatible change: %v", err)
	}
	if digest(t, r, testNS) != before {
		t.Error("a refused compile changed the repository")
	}
	// MOF instances compile into the store, and again as a no-op.
	instances := `
instance of T_System as $s { Name = "mof1"; };
instance of T_Disk as $d { Id = "disk"; Unit = 4; };
instance of T_HasDisk { Parent = $s; Child = $d; };
`
	res = compileInto(t, r, testNS, instances)
	if res.Instances != 3 {
		t.Errorf("%d instances", res.Instances)
	}
	before = digest(t, r, testNS)
	compileInto(t, r, testNS, instances)
	if digest(t, r, testNS) != before {
		t.Error("compiling the same instances again changed the repository")
	}
	names := 0
	must(t, r.AssociatorNames(testNS, parsePath(t, `T_System.Name="mof1"`), AssociatorFilter{}, func(*cim.ObjectPath) error { names++; return nil }))
	if names != 1 {
		t.Errorf("%d associators of the MOF instance", names)
	}
}
