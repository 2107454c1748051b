package mof

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
)

// The repository is a Source.
var _ Source = (*repository.Repository)(nil)

// compileIntoStore compiles files into a fresh repository, as `hypercim mof
// compile` does, and returns it open.
func compileIntoStore(t *testing.T, compile func(c *Compiler) (*Result, error)) *repository.Repository {
	t.Helper()
	repo, err := repository.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	w := repo.NewBulkWriter()
	if _, err := compile(&Compiler{Target: w}); err != nil {
		w.Rollback()
		t.Fatalf("compiling into the repository: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return repo
}

// TestWriteRepositorySchema is the round trip through the store: compile
// DMTF 2.49 into a repository, export the namespace as MOF, compile the
// text into memory and compare with the schema compiled straight into
// memory: every class identical (qualifier values and flavors, origins,
// propagation), every qualifier declaration too.
func TestWriteRepositorySchema(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the DMTF schema twice")
	}
	path := schemaPath(t, "2.49")
	first, _ := compileSchema(t, "2.49")
	repo := compileIntoStore(t, func(c *Compiler) (*Result, error) { return c.CompileFiles(path) })

	var text bytes.Buffer
	if err := WriteRepository(&text, repo, DefaultNamespace); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(text.Bytes(), []byte("#pragma namespace")) {
		t.Error("a single namespace is written with a #pragma namespace")
	}
	second := NewMemTarget(nil)
	if _, err := (&Compiler{Target: second}).CompileSource("exported.mof", text.Bytes()); err != nil {
		t.Fatalf("the exported MOF does not compile: %v", err)
	}
	a, b := first.Classes(DefaultNamespace), second.Classes(DefaultNamespace)
	if len(a) < 1600 || len(a) != len(b) {
		t.Fatalf("%d classes compiled, %d after the export", len(a), len(b))
	}
	differ := 0
	for _, ca := range a {
		if cb, _ := second.Class(DefaultNamespace, ca.Name); cb == nil || !sameClass(ca, cb) {
			if differ++; differ <= 3 {
				t.Errorf("class %s differs after the export:\n%s\n--- became ---\n%s", ca.Name, classDetails(ca), classDetails(cb))
			}
		}
	}
	if differ > 0 {
		t.Fatalf("%d of %d classes differ", differ, len(a))
	}
	qa, qb := first.QualifierTypes(DefaultNamespace), second.QualifierTypes(DefaultNamespace)
	if len(qa) != len(qb) {
		t.Fatalf("%d qualifier types, then %d", len(qa), len(qb))
	}
	for _, q := range qa {
		if q2, _ := second.QualifierType(DefaultNamespace, q.Name); !q.Equal(q2) || q.Flavor != q2.Flavor {
			t.Errorf("qualifier %s: %v became %v", q.Name, q, q2)
		}
	}
}

// TestWriteRepositoryNamespaces exports a repository with instances
// (references, embedded instances) in two namespaces: the text puts each
// declaration back in its namespace and every instance compiles back
// equal.
func TestWriteRepositoryNamespaces(t *testing.T) {
	src := `
#pragma include ("qualifiers.mof")
[Description("A thing" " with a long description that the writer will have to split over lines.")]
class T_Thing { [Key] string Id; uint32 Size = 1; [EmbeddedInstance("T_Thing")] string Inner; string Tags[]; };
[Association] class T_Link { [Key] T_Thing REF A; [Key] T_Thing REF B; };
class T_Big : T_Thing { real64 Ratio; datetime When; };
instance of T_Thing as $a { Id = "a \"quoted\""; Inner = instance of T_Thing { Id = "inner"; }; };
instance of T_Big as $b { Id = "b"; Size = 2; Ratio = 0.25; When = "20240131235959.000000+000"; Tags = {"x", NULL}; };
instance of T_Link { A = $a; B = $b; };
#pragma namespace ("root/other")
#pragma include ("qualifiers.mof")
class T_Other { [Key] uint16 N; };
instance of T_Other { N = 7; };
`
	repo := compileIntoStore(t, func(c *Compiler) (*Result, error) {
		return c.CompileSource("testdata/ns.mof", []byte(src))
	})
	var text bytes.Buffer
	if err := WriteRepository(&text, repo); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), `#pragma namespace ("root/other")`) {
		t.Fatalf("no #pragma namespace in the export of two namespaces:\n%s", text.String())
	}
	second := NewMemTarget(nil)
	if _, err := (&Compiler{Target: second}).CompileSource("exported.mof", text.Bytes()); err != nil {
		t.Fatalf("the exported MOF does not compile: %v\n%s", err, text.String())
	}
	for ns, want := range map[string]int{DefaultNamespace: 3, "root/other": 1} {
		got := map[string]*cim.Instance{}
		for _, inst := range second.Instances(ns) {
			got[inst.Path.CanonicalModel()] = inst
		}
		n := 0
		err := repo.EnumerateClasses(ns, "", true, func(c *cim.Class) error {
			if c2, _ := second.Class(ns, c.Name); c2 == nil || !sameClass(c, c2) {
				t.Errorf("%s: class %s differs:\n%s\n--- became ---\n%s", ns, c.Name, classDetails(c), classDetails(c2))
			}
			return repo.EnumerateInstances(ns, c.Name, false, func(inst *cim.Instance) error {
				n++
				if g := got[inst.Path.CanonicalModel()]; g == nil || !g.Equal(inst) {
					t.Errorf("%s: instance %s became %v", ns, inst.Path, g)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != want || len(got) != want {
			t.Errorf("%s: %d instances stored, %d exported, want %d", ns, n, len(got), want)
		}
	}
	// Writing an unknown namespace fails with the repository's status.
	err := WriteRepository(&text, repo, "root/nope")
	if cim.StatusOf(err) != cim.ErrInvalidNamespace || !strings.Contains(err.Error(), "root/nope") {
		t.Errorf("unknown namespace: %v", err)
	}
}
