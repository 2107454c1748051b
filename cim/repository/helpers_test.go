package repository

import (
	"errors"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/mof"
)

const testNS = "root/test"

// testSchema is a small schema with inheritance, keys, an abstract root,
// an association and a subclass of it that narrows a reference.
const testSchema = `
Qualifier Abstract : boolean = false, Scope(class, association, indication), Flavor(Restricted);
Qualifier Association : boolean = false, Scope(association), Flavor(DisableOverride);
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride);
Qualifier Description : string = null, Scope(any), Flavor(Translatable);
Qualifier Override : string = null, Scope(property, reference, method), Flavor(Restricted);
Qualifier Required : boolean = false, Scope(property, reference, method, parameter), Flavor(DisableOverride);
Qualifier EmbeddedInstance : string = null, Scope(property, method, parameter);
Qualifier ValueMap : string[], Scope(property, method, parameter);
Qualifier Terminal : boolean = false, Scope(class, association, indication);
Qualifier Units : string = null, Scope(property, method, parameter), Flavor(Translatable);
Qualifier In : boolean = true, Scope(parameter), Flavor(DisableOverride);

[Abstract, Description("The root.")]
class T_Element {
	string Caption;
};

[Description("A system.")]
class T_System : T_Element {
	[Key] string Name;
	[ValueMap {"2", "3"}] uint16 State = 2;
	datetime Started;
	string Labels[];
	uint32 Start([In] uint32 Delay);
};

class T_VM : T_System {
	[Units("bytes")] uint64 Memory = 1024;
};

class T_Disk : T_Element {
	[Key] string Id;
	[Key] uint32 Unit;
	[EmbeddedInstance("T_Disk")] string Backing;
};

[Association]
class T_Contains {
	[Key] T_System REF Parent;
	[Key] T_Element REF Child;
};

[Association]
class T_HasDisk : T_Contains {
	[Override("Child")] T_Disk REF Child;
};
`

// openTest opens a repository in a fresh directory; it is closed, and
// checked, when the test ends.
func openTest(t testing.TB) *Repository {
	t.Helper()
	r, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Check(); err != nil {
			t.Errorf("repository check at the end of the test: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// compileInto compiles MOF text into namespace ns of r, as `hypercim mof
// compile` does.
func compileInto(t testing.TB, r *Repository, ns, src string) *mof.Result {
	t.Helper()
	w := r.NewBulkWriter()
	res, err := (&mof.Compiler{Target: w, Namespace: ns}).CompileSource("test.mof", []byte(src))
	if err != nil {
		w.Rollback()
		t.Fatalf("compile: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return res
}

// openSchema opens a repository holding testSchema in testNS.
func openSchema(t testing.TB) *Repository {
	t.Helper()
	r := openTest(t)
	compileInto(t, r, testNS, testSchema)
	return r
}

// wantStatus fails unless err is a *cim.Error with status want.
func wantStatus(t testing.TB, err error, want cim.Status) {
	t.Helper()
	var ce *cim.Error
	switch {
	case err == nil:
		t.Fatalf("no error, want %s", want.Name())
	case !errors.As(err, &ce):
		t.Fatalf("error %v (%T) is not a *cim.Error, want %s", err, err, want.Name())
	case ce.Status != want:
		t.Fatalf("error %v, want %s", err, want.Name())
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func parsePath(t testing.TB, s string) *cim.ObjectPath {
	t.Helper()
	p, err := cim.ParseObjectPath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func system(name string) *cim.Instance {
	inst := cim.NewInstance("T_System")
	inst.Set("Name", cim.NewString(name))
	return inst
}

func vm(name string, memory uint64) *cim.Instance {
	inst := cim.NewInstance("T_VM")
	inst.Set("Name", cim.NewString(name))
	inst.Set("Memory", cim.NewUint64(memory))
	return inst
}

func disk(id string, unit uint32) *cim.Instance {
	inst := cim.NewInstance("T_Disk")
	inst.Set("Id", cim.NewString(id))
	inst.Set("Unit", cim.NewUint32(unit))
	return inst
}

func assoc(class string, parent, child *cim.ObjectPath) *cim.Instance {
	inst := cim.NewInstance(class)
	inst.Set("Parent", cim.NewReference(parent))
	inst.Set("Child", cim.NewReference(child))
	return inst
}

// classNames collects an enumeration of class names.
func classNames(t testing.TB, r *Repository, class string, deep bool) []string {
	t.Helper()
	var out []string
	must(t, r.EnumerateClassNames(testNS, class, deep, func(n string) error { out = append(out, n); return nil }))
	return out
}

// instancePaths collects the model paths of an instance enumeration.
func instancePaths(t testing.TB, r *Repository, class string, deep bool) []string {
	t.Helper()
	var out []string
	must(t, r.EnumerateInstances(testNS, class, deep, func(inst *cim.Instance) error {
		out = append(out, inst.Path.ModelPath())
		return nil
	}))
	return out
}
