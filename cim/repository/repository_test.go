package repository

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
)

func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir, nil)
	must(t, err)
	defer r.Close()
	start := time.Now()
	_, err = Open(dir, &Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	want := "the data directory " + dir + " is in use by another hypercim process (is hypercimd running?)"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %v", d)
	}
	must(t, r.Close())
	r2, err := Open(dir, nil)
	must(t, err)
	r2.Close()
}

func TestNamespaces(t *testing.T) {
	r := openTest(t)
	must(t, r.CreateNamespace("root/Virt"))
	must(t, r.CreateNamespace("/interop/"))
	wantStatus(t, r.CreateNamespace("ROOT/virt"), cim.ErrAlreadyExists)
	for _, bad := range []string{"", "/", "root//x", "root/1x", "root/a b"} {
		wantStatus(t, r.CreateNamespace(bad), cim.ErrInvalidParameter)
	}
	names, err := r.Namespaces()
	must(t, err)
	if !reflect.DeepEqual(names, []string{"interop", "root/Virt"}) {
		t.Errorf("namespaces %q", names)
	}
	if !r.NamespaceExists("ROOT/VIRT") || r.NamespaceExists("root/nope") || r.NamespaceExists("bad name") {
		t.Error("NamespaceExists is wrong")
	}
	_, err = r.GetClass("root/nope", "X")
	wantStatus(t, err, cim.ErrInvalidNamespace)
	wantStatus(t, r.EnumerateInstances("root/nope", "X", true, nil), cim.ErrInvalidNamespace)
	wantStatus(t, r.DeleteNamespace("root/nope", false), cim.ErrInvalidNamespace)

	compileInto(t, r, "root/virt", testSchema)
	_, err = r.CreateInstance("root/virt", system("s1"))
	must(t, err)
	wantStatus(t, r.DeleteNamespace("root/virt", false), cim.ErrNamespaceNotEmpty)
	must(t, r.DeleteNamespace("root/virt", true))
	if r.NamespaceExists("root/virt") {
		t.Fatal("namespace still there")
	}
	// A namespace of the same name starts empty, caches included.
	must(t, r.CreateNamespace("root/virt"))
	_, err = r.GetClass("root/virt", "T_System")
	wantStatus(t, err, cim.ErrNotFound)
	must(t, r.DeleteNamespace("root/virt", false))

	// Within one transaction: a deleted namespace is gone, and may be
	// created again.
	must(t, r.Update(func(tx *Tx) error {
		must(t, tx.DeleteNamespace("interop", false))
		_, err := tx.GetClass("interop", "X")
		wantStatus(t, err, cim.ErrInvalidNamespace)
		wantStatus(t, tx.DeleteNamespace("interop", false), cim.ErrInvalidNamespace)
		must(t, tx.CreateNamespace("Interop"))
		_, err = tx.GetClass("interop", "X")
		wantStatus(t, err, cim.ErrNotFound)
		return nil
	}))
	names, _ = r.Namespaces()
	if !reflect.DeepEqual(names, []string{"Interop"}) {
		t.Errorf("namespaces %q", names)
	}
}

func TestQualifiers(t *testing.T) {
	r := openSchema(t)
	qt, err := r.GetQualifier(testNS, "KEY")
	must(t, err)
	if qt.Name != "Key" || qt.Type != cim.TypeBoolean || qt.Scopes != cim.ScopeProperty|cim.ScopeReference {
		t.Errorf("Key: %v", qt)
	}
	_, err = r.GetQualifier(testNS, "Nope")
	wantStatus(t, err, cim.ErrNotFound)
	var names []string
	must(t, r.EnumerateQualifiers(testNS, func(qt *cim.QualifierType) error { names = append(names, qt.Name); return nil }))
	if len(names) != 11 || names[0] != "Abstract" {
		t.Errorf("qualifiers %v", names)
	}

	wantStatus(t, r.SetQualifier(testNS, &cim.QualifierType{Name: "Bad", Type: cim.TypeUint8}), cim.ErrInvalidParameter)
	must(t, r.SetQualifier(testNS, &cim.QualifierType{Name: "MaxLen", Type: cim.TypeUint32, Scopes: cim.ScopeProperty}))
	must(t, r.DeleteQualifier(testNS, "maxlen"))
	wantStatus(t, r.DeleteQualifier(testNS, "maxlen"), cim.ErrNotFound)

	// In use: deleting it or changing it incompatibly would break classes.
	err = r.DeleteQualifier(testNS, "Units")
	wantStatus(t, err, cim.ErrFailed)
	if !strings.Contains(err.Error(), "T_VM") {
		t.Errorf("error does not name the class: %v", err)
	}
	units := &cim.QualifierType{Name: "Units", Type: cim.TypeString, Scopes: cim.ScopeClass}
	wantStatus(t, r.SetQualifier(testNS, units), cim.ErrFailed)
	qt, _ = r.GetQualifier(testNS, "Units")
	if qt.Scopes != cim.ScopeProperty|cim.ScopeMethod|cim.ScopeParameter {
		t.Errorf("refused change was applied: %v", qt)
	}
	// A compatible change applies, and classes resolve with it.
	units.Scopes = cim.ScopeAny
	units.Flavor = cim.FlavorRestricted
	must(t, r.SetQualifier(testNS, units))
	vmClass, err := r.GetClass(testNS, "T_VM")
	must(t, err)
	if q := vmClass.Property("Memory").Qualifiers.Get("Units"); q == nil || q.Flavor.ToSubclass() {
		t.Errorf("Memory's Units after the change: %#v", q)
	}
	// Setting an identical declaration is a no-op.
	must(t, r.SetQualifier(testNS, units))
}

func TestClasses(t *testing.T) {
	r := openSchema(t)
	c, err := r.GetClass(testNS, "t_vm")
	must(t, err)
	if c.Name != "T_VM" || c.SuperClass != "T_System" {
		t.Fatalf("T_VM: %s", c)
	}
	if p := c.Property("Name"); p == nil || !p.IsKey() || p.ClassOrigin != "T_System" || !p.Propagated {
		t.Errorf("T_VM.Name: %#v", p)
	}
	if p := c.Property("Caption"); p == nil || p.ClassOrigin != "T_Element" {
		t.Errorf("T_VM.Caption: %#v", p)
	}
	if m := c.Method("Start"); m == nil || m.ClassOrigin != "T_System" || len(m.Parameters) != 1 {
		t.Errorf("T_VM.Start: %#v", m)
	}
	if c.IsAbstract() || c.Qualifiers.Get("Description") == nil {
		t.Errorf("qualifier propagation: %v", c.Qualifiers)
	}
	_, err = r.GetClass(testNS, "T_Nope")
	wantStatus(t, err, cim.ErrNotFound)

	if got := classNames(t, r, "", false); !reflect.DeepEqual(got, []string{"T_Contains", "T_Element"}) {
		t.Errorf("root classes %v", got)
	}
	want := []string{"T_Contains", "T_HasDisk", "T_Element", "T_Disk", "T_System", "T_VM"}
	if got := classNames(t, r, "", true); !reflect.DeepEqual(got, want) {
		t.Errorf("all classes %v, want %v", got, want)
	}
	if got := classNames(t, r, "t_element", false); !reflect.DeepEqual(got, []string{"T_Disk", "T_System"}) {
		t.Errorf("T_Element's subclasses %v", got)
	}
	wantStatus(t, r.EnumerateClassNames(testNS, "T_Nope", false, nil), cim.ErrInvalidClass)
	var resolved []*cim.Class
	must(t, r.EnumerateClasses(testNS, "T_System", true, func(c *cim.Class) error { resolved = append(resolved, c); return nil }))
	if len(resolved) != 1 || resolved[0].Property("Memory") == nil {
		t.Errorf("EnumerateClasses: %v", resolved)
	}

	// Creation checks.
	wantStatus(t, r.CreateClass(testNS, cim.NewClass("t_system", "")), cim.ErrAlreadyExists)
	wantStatus(t, r.CreateClass(testNS, cim.NewClass("T_Orphan", "T_Nope")), cim.ErrInvalidSuperclass)
	bad := cim.NewClass("T_Bad", "T_System")
	bad.AddProperty(cim.Property{Name: "Other", Type: cim.TypeString,
		Qualifiers: cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true)}}})
	wantStatus(t, r.CreateClass(testNS, bad), cim.ErrInvalidParameter) // keys already defined above
	undeclared := cim.NewClass("T_Undeclared", "")
	undeclared.Qualifiers = cim.Qualifiers{{Name: "Nope", Value: cim.NewBoolean(true)}}
	wantStatus(t, r.CreateClass(testNS, undeclared), cim.ErrInvalidParameter)
	dangling := cim.NewClass("T_Dangling", "T_Contains")
	dangling.Qualifiers = cim.Qualifiers{{Name: "Association", Value: cim.NewBoolean(true)}}
	dangling.AddProperty(cim.Property{Name: "Extra", Type: cim.TypeReference, ReferenceClass: "T_Nope"})
	wantStatus(t, r.CreateClass(testNS, dangling), cim.ErrInvalidParameter)
	wantStatus(t, r.CreateClass(testNS, cim.NewClass("1bad", "")), cim.ErrInvalidParameter)

	// A class sent back as GetClass returns it (inherited elements marked
	// Propagated) is taken as its declaration.
	copyOfVM := c.Clone()
	copyOfVM.Name = "T_VM2"
	for i := range copyOfVM.Properties() {
		copyOfVM.Properties()[i].ClassOrigin = ""
	}
	must(t, r.CreateClass(testNS, copyOfVM))
	c2, err := r.GetClass(testNS, "T_VM2")
	must(t, err)
	if len(c2.Properties()) != len(c.Properties()) || c2.Property("Memory").ClassOrigin != "T_VM2" || c2.Property("Name").ClassOrigin != "T_System" {
		t.Errorf("T_VM2: %#v", c2)
	}
}

func TestModifyClass(t *testing.T) {
	r := openSchema(t)
	_, err := r.CreateInstance(testNS, vm("vm1", 4096))
	must(t, err)
	wantStatus(t, r.ModifyClass(testNS, cim.NewClass("T_Nope", "")), cim.ErrNotFound)

	// Adding a property to a superclass with instances below: allowed,
	// subclasses inherit it, instances show its default.
	sys := declared(t, r, "T_System")
	sys.AddProperty(cim.Property{Name: "Location", Type: cim.TypeString, Value: cim.NewString("rack 1")})
	must(t, r.ModifyClass(testNS, sys))
	vmClass, err := r.GetClass(testNS, "T_VM")
	must(t, err)
	if p := vmClass.Property("Location"); p == nil || p.ClassOrigin != "T_System" {
		t.Fatalf("T_VM did not inherit the new property: %s", vmClass)
	}
	inst, err := r.GetInstance(testNS, parsePath(t, `T_VM.Name="vm1"`))
	must(t, err)
	if inst.Get("Location").Str() != "rack 1" || inst.Get("Memory").Uint64() != 4096 {
		t.Errorf("instance after the change: %s", inst)
	}

	// Removing a property instances have: refused.
	sys2 := declared(t, r, "T_System")
	sys2.RemoveProperty("Started")
	wantStatus(t, r.ModifyClass(testNS, sys2), cim.ErrClassHasInstances)
	// Changing a type: refused.
	vmDecl := declared(t, r, "T_VM")
	vmDecl.SetProperty(cim.Property{Name: "Memory", Type: cim.TypeString})
	wantStatus(t, r.ModifyClass(testNS, vmDecl), cim.ErrClassHasInstances)

	// An association left with one reference breaks DSP0004.
	contains := declared(t, r, "T_Contains")
	contains.RemoveProperty("Child")
	wantStatus(t, r.ModifyClass(testNS, contains), cim.ErrInvalidParameter)

	// Removing what a subclass overrides: refused, the subclass would
	// not resolve.
	base := cim.NewClass("T_NoteBase", "")
	base.AddProperty(cim.Property{Name: "Id", Type: cim.TypeString,
		Qualifiers: cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true)}}})
	base.AddProperty(cim.Property{Name: "Note", Type: cim.TypeString})
	must(t, r.CreateClass(testNS, base))
	sub := cim.NewClass("T_NoteSub", "T_NoteBase")
	sub.AddProperty(cim.Property{Name: "Note", Type: cim.TypeString,
		Qualifiers: cim.Qualifiers{{Name: "Override", Value: cim.NewString("Note")}}})
	must(t, r.CreateClass(testNS, sub))
	base = declared(t, r, "T_NoteBase")
	base.RemoveProperty("Note")
	wantStatus(t, r.ModifyClass(testNS, base), cim.ErrClassHasChildren)
	must(t, r.DeleteClass(testNS, "T_NoteBase", true))

	// A class cannot move under its own subclass.
	elem := declared(t, r, "T_Element")
	elem.SuperClass = "T_VM"
	wantStatus(t, r.ModifyClass(testNS, elem), cim.ErrInvalidSuperclass)
	elem.SuperClass = "T_Nope"
	wantStatus(t, r.ModifyClass(testNS, elem), cim.ErrInvalidSuperclass)

	// Without instances, anything that resolves goes, and the superclass
	// may change.
	disk := declared(t, r, "T_Disk")
	disk.SuperClass = ""
	disk.RemoveProperty("Backing")
	must(t, r.ModifyClass(testNS, disk))
	if got := classNames(t, r, "", false); !reflect.DeepEqual(got, []string{"T_Contains", "T_Disk", "T_Element"}) {
		t.Errorf("root classes after moving T_Disk: %v", got)
	}
	d, err := r.GetClass(testNS, "T_Disk")
	must(t, err)
	if d.Property("Caption") != nil || d.Property("Backing") != nil {
		t.Errorf("T_Disk after the change: %s", d)
	}
	// Refused changes left nothing behind.
	c, _ := r.GetClass(testNS, "T_System")
	if c.Property("Started") == nil {
		t.Error("a refused change was applied")
	}
}

// declared returns a modifiable copy of a class's declaration: its local
// elements, as a client would send it to ModifyClass.
func declared(t testing.TB, r *Repository, name string) *cim.Class {
	t.Helper()
	c, err := r.GetClass(testNS, name)
	must(t, err)
	return cim.FilterClass(c, cim.ClassFilter{LocalOnly: true, IncludeQualifiers: true})
}

func TestDeleteClass(t *testing.T) {
	r := openSchema(t)
	s1, err := r.CreateInstance(testNS, system("s1"))
	must(t, err)
	d1, err := r.CreateInstance(testNS, disk("d", 1))
	must(t, err)
	_, err = r.CreateInstance(testNS, assoc("T_HasDisk", s1, d1))
	must(t, err)

	wantStatus(t, r.DeleteClass(testNS, "T_Nope", false), cim.ErrNotFound)
	wantStatus(t, r.DeleteClass(testNS, "T_System", false), cim.ErrClassHasChildren)
	wantStatus(t, r.DeleteClass(testNS, "T_HasDisk", false), cim.ErrClassHasInstances)
	must(t, r.DeleteClass(testNS, "T_VM", false))
	_, err = r.GetClass(testNS, "T_VM")
	wantStatus(t, err, cim.ErrNotFound)

	// Cascade: the class, its subclasses and all their instances, with
	// the associations' index entries.
	must(t, r.DeleteClass(testNS, "T_Contains", true))
	if got := classNames(t, r, "", true); !reflect.DeepEqual(got, []string{"T_Element", "T_Disk", "T_System"}) {
		t.Errorf("classes left: %v", got)
	}
	n := 0
	must(t, r.References(testNS, s1, ReferenceFilter{}, func(*cim.Instance) error { n++; return nil }))
	if n != 0 {
		t.Errorf("%d references left", n)
	}
	must(t, r.DeleteClass(testNS, "T_Element", true))
	if got := classNames(t, r, "", true); len(got) != 0 {
		t.Errorf("classes left: %v", got)
	}
	_, err = r.GetInstance(testNS, s1)
	wantStatus(t, err, cim.ErrInvalidClass)
}

// TestClassValueMaps: the repository applies DSP0004's ValueMap rules to
// classes it is given (as CIM-XML CreateClass and ModifyClass pass them,
// without the MOF compiler's checks): integer elements take integer or
// range entries, and ValueMap and Values agree, inheritance included.
func TestClassValueMaps(t *testing.T) {
	r := openSchema(t)
	compileInto(t, r, testNS, `Qualifier Values : string[], Scope(property, method, parameter), Flavor(Translatable);`)
	valueMap := func(entries ...string) cim.Qualifier {
		return cim.Qualifier{Name: "ValueMap", Value: cim.NewStringArray(entries)}
	}
	values := func(entries ...string) cim.Qualifier {
		return cim.Qualifier{Name: "Values", Value: cim.NewStringArray(entries)}
	}
	withProperty := func(name, super string, typ cim.Type, qs ...cim.Qualifier) *cim.Class {
		c := cim.NewClass(name, super)
		c.AddProperty(cim.Property{Name: "P", Type: typ, Qualifiers: qs})
		return c
	}
	for _, tc := range []struct {
		class *cim.Class
		want  string
	}{
		{withProperty("T_V1", "", cim.TypeUint16, valueMap("1", "abc")), `class T_V1: property P: invalid ValueMap entry "abc"`},
		{withProperty("T_V2", "", cim.TypeSint32, valueMap("1..x")), `invalid ValueMap entry "1..x"`},
		{withProperty("T_V3", "", cim.TypeUint8, valueMap("1", "2"), values("one")), "ValueMap has 2 entries but Values has 1"},
	} {
		err := r.CreateClass(testNS, tc.class)
		wantStatus(t, err, cim.ErrInvalidParameter)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.class.Name, err, tc.want)
		}
	}
	method := cim.NewClass("T_V4", "")
	method.AddMethod(cim.Method{Name: "M", ReturnType: cim.TypeUint32, Qualifiers: cim.Qualifiers{valueMap("ok")}})
	wantStatus(t, r.CreateClass(testNS, method), cim.ErrInvalidParameter)
	param := cim.NewClass("T_V5", "")
	param.AddMethod(cim.Method{Name: "M", ReturnType: cim.TypeUint32,
		Parameters: []cim.Parameter{{Name: "A", Type: cim.TypeUint8, Qualifiers: cim.Qualifiers{valueMap("1", "b")}}}})
	wantStatus(t, r.CreateClass(testNS, param), cim.ErrInvalidParameter)

	// Strings take any entry; ranges, ".." and other notations are fine.
	must(t, r.CreateClass(testNS, withProperty("T_VS", "", cim.TypeString, valueMap("any", "thing"))))
	must(t, r.CreateClass(testNS, withProperty("T_VI", "", cim.TypeUint16, valueMap("0", "0x10", "2..5", "6..", ".."), values("a", "b", "c", "d", "e"))))

	// A subclass overriding Values must match the ValueMap it inherits;
	// modifying the parent so that the subclass no longer matches is
	// refused.
	override := func(qs ...cim.Qualifier) *cim.Class {
		return withProperty("T_VSub", "T_VI", cim.TypeUint16, append(qs, cim.Qualifier{Name: "Override", Value: cim.NewString("P")})...)
	}
	err := r.CreateClass(testNS, override(values("only one")))
	wantStatus(t, err, cim.ErrInvalidParameter)
	must(t, r.CreateClass(testNS, override(values("v", "w", "x", "y", "z"))))
	err = r.ModifyClass(testNS, withProperty("T_VI", "", cim.TypeUint16, valueMap("0", "1"), values("a", "b")))
	wantStatus(t, err, cim.ErrClassHasChildren)
}
