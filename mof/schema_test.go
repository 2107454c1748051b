package mof

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The DMTF schemas live beside the repository, in ../shared/schemas (CI
// lays shared/ next to its clone). These tests are the acceptance tests of
// the compiler, so a missing schema is a failure, not a skip.
func schemaPath(t testing.TB, version string) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "schemas", "dmtf-cim-"+version, "cim_schema_"+version+".0.mof")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("DMTF schema %s not found (expected ../shared/schemas beside the repository): %v", version, err)
	}
	return p
}

func compileSchema(t testing.TB, version string) (*MemTarget, *Result) {
	t.Helper()
	target := NewMemTarget(nil)
	c := &Compiler{Target: target}
	res, err := c.CompileFiles(schemaPath(t, version))
	if err != nil {
		t.Fatalf("schema %s: %v", version, err)
	}
	return target, res
}

func TestDMTFSchemas(t *testing.T) {
	for _, tc := range []struct {
		version    string
		minClasses int
	}{{"2.41", 1400}, {"2.49", 1600}} {
		t.Run(tc.version, func(t *testing.T) {
			target, res := compileSchema(t, tc.version)
			if res.Classes < tc.minClasses {
				t.Errorf("%d classes, want at least %d", res.Classes, tc.minClasses)
			}
			if res.QualifierTypes < 60 || len(res.Warnings) != 0 {
				t.Errorf("%d qualifier types, warnings %v", res.QualifierTypes, res.Warnings)
			}
			// Spot-check resolution: an association deep in the tree has
			// inherited keys, references and propagated qualifiers.
			cls, _ := target.Class(DefaultNamespace, "CIM_ElementSettingData")
			if cls == nil || !cls.IsAssociation() || len(cls.ReferenceNames()) != 2 || len(cls.KeyNames()) != 2 {
				t.Fatalf("CIM_ElementSettingData resolved wrongly: %#v", cls)
			}
			vs, _ := target.Class(DefaultNamespace, "CIM_ComputerSystem")
			if vs == nil || vs.Property("Name") == nil || !vs.Property("Name").IsKey() || vs.Property("Name").ClassOrigin != "CIM_System" {
				t.Errorf("CIM_ComputerSystem.Name: %#v", vs.Property("Name"))
			}
			if m := vs.Method("RequestStateChange"); m == nil || m.ClassOrigin != "CIM_EnabledLogicalElement" || len(m.Parameters) != 3 {
				t.Errorf("CIM_ComputerSystem.RequestStateChange: %#v", m)
			}
		})
	}
}

// TestSchemaRoundTrip compiles the 2.49 schema, writes it back as MOF,
// compiles that and compares: the classes must be identical, including
// qualifier flavors and origins, and writing the result again must give
// the same text.
func TestSchemaRoundTrip(t *testing.T) {
	first, _ := compileSchema(t, "2.49")
	var text bytes.Buffer
	if err := WriteTarget(&text, first); err != nil {
		t.Fatal(err)
	}
	second := NewMemTarget(nil)
	res, err := (&Compiler{Target: second}).CompileSource("roundtrip.mof", text.Bytes())
	if err != nil {
		t.Fatalf("written MOF does not compile: %v", err)
	}
	a, b := first.Classes(DefaultNamespace), second.Classes(DefaultNamespace)
	if len(a) != len(b) || res.Classes != len(a) {
		t.Fatalf("%d classes, then %d", len(a), len(b))
	}
	differ := 0
	for _, ca := range a {
		cb, _ := second.Class(DefaultNamespace, ca.Name)
		if cb == nil || !sameClass(ca, cb) {
			differ++
			if differ <= 3 {
				t.Errorf("class %s differs after the round trip:\n%s\n--- became ---\n%s", ca.Name, ca, cb)
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
	for i := range qa {
		if !qa[i].Equal(qb[i]) || qa[i].Flavor != qb[i].Flavor {
			t.Errorf("qualifier %s: %v became %v", qa[i].Name, qa[i], qb[i])
		}
	}
	var again bytes.Buffer
	if err := WriteTarget(&again, second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(text.Bytes(), again.Bytes()) {
		t.Error("writing the recompiled schema gives different MOF text")
	}
}

// BenchmarkCompileSchema measures a full compile of the DMTF 2.49 schema
// (parse, check, resolve 1600 classes) into memory, as `mof check` does.
func BenchmarkCompileSchema(b *testing.B) {
	path := schemaPath(b, "2.49")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := (&Compiler{Target: NewMemTarget(nil)}).CompileFiles(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteSchema measures writing the compiled 2.49 schema as MOF.
func BenchmarkWriteSchema(b *testing.B) {
	target, _ := compileSchema(b, "2.49")
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := WriteTarget(&buf, target); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
