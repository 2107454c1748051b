package wbem_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	. "github.com/hypercim/hypercim/wbem"
)

func TestNamespaces(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	for _, ns := range []string{"root/test", "ROOT/Test", "/root/test/", `root\test`} {
		if _, err := e.srv.GetClass(e.ctx, ns, "T_Static", cim.ClassFilter{}); err != nil {
			t.Errorf("namespace %q: %v", ns, err)
		}
	}
	if _, err := e.srv.GetQualifier(e.ctx, "interop", "Key"); err != nil {
		t.Errorf("interop alias: %v", err)
	}
	_, err := e.srv.GetClass(e.ctx, "root/nowhere", "T_Static", cim.ClassFilter{})
	wantStatus(t, "unknown namespace", err, cim.ErrInvalidNamespace)
	if err == nil || !strings.Contains(err.Error(), "CIM_ERR_INVALID_NAMESPACE: Invalid namespace") {
		t.Errorf("description %q: scripts grep for 'Invalid namespace'", err)
	}
	err = e.srv.EnumerateInstanceNames(e.ctx, "", "T_Static", func(*cim.ObjectPath) error { return nil })
	wantStatus(t, "empty namespace", err, cim.ErrInvalidNamespace)
	// A namespace created after the server started is found.
	if err := e.srv.CreateNamespace("root/later"); err != nil {
		t.Fatal(err)
	}
	if err := e.repo.CreateNamespace("root/direct"); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"root/later", "root/direct"} {
		if err := e.srv.EnumerateQualifiers(e.ctx, ns, func(*cim.QualifierType) error { return nil }); err != nil {
			t.Errorf("%s: %v", ns, err)
		}
	}
	if err := e.srv.DeleteNamespace("root/later"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "deleted namespace", e.srv.EnumerateQualifiers(e.ctx, "root/later", func(*cim.QualifierType) error { return nil }), cim.ErrInvalidNamespace)
	wantStatus(t, "deleting interop", e.srv.DeleteNamespace("interop"), cim.ErrNotSupported)
}

func TestAuthorization(t *testing.T) {
	authz := authzFunc(func(p Principal, ns string, write bool) bool {
		switch p.User {
		case "reader":
			return ns == testNS && !write
		case "writer":
			return ns == testNS
		}
		return false
	})
	e := newTestEnv(t, envOptions{authz: authz})
	reader := WithPrincipal(context.Background(), Principal{User: "reader"})
	writer := WithPrincipal(context.Background(), Principal{User: "writer"})
	stranger := WithPrincipal(context.Background(), Principal{User: "stranger"})

	_, err := e.srv.GetInstance(context.Background(), testNS, path("T_Static", "s1"), InstanceOptions{})
	wantStatus(t, "no principal", err, cim.ErrAccessDenied)
	_, err = e.srv.GetInstance(stranger, testNS, path("T_Static", "s1"), InstanceOptions{})
	wantStatus(t, "stranger", err, cim.ErrAccessDenied)
	if _, err := e.srv.GetInstance(reader, testNS, path("T_Static", "s1"), InstanceOptions{}); err != nil {
		t.Errorf("reader reads: %v", err)
	}
	wantStatus(t, "reader deletes", e.srv.DeleteInstance(reader, testNS, path("T_Static", "s1")), cim.ErrAccessDenied)
	_, _, err = e.srv.InvokeMethod(reader, testNS, cim.NewClassPath("", "T_Dynamic"), "Hello", nil)
	wantStatus(t, "reader invokes a method", err, cim.ErrAccessDenied)
	wantStatus(t, "reader creates a class", e.srv.CreateClass(reader, testNS, cim.NewClass("T_New", "")), cim.ErrAccessDenied)
	if _, _, err := e.srv.InvokeMethod(writer, testNS, cim.NewClassPath("", "T_Dynamic"), "Hello", nil); err != nil {
		t.Errorf("writer invokes: %v", err)
	}
	_, err = e.srv.GetQualifier(writer, "root/interop", "Key")
	wantStatus(t, "writer in another namespace", err, cim.ErrAccessDenied)
	// An unknown namespace is reported as such, whoever asks.
	_, err = e.srv.GetQualifier(reader, "root/none", "Key")
	wantStatus(t, "unknown namespace", err, cim.ErrInvalidNamespace)

	// Without an authorizer only unrestricted principals get in.
	e2 := newTestEnv(t, envOptions{})
	_, err = e2.srv.GetInstance(reader, testNS, path("T_Static", "s1"), InstanceOptions{})
	wantStatus(t, "no authorizer", err, cim.ErrAccessDenied)
}

func TestGetClass(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	full, err := e.srv.GetClass(e.ctx, testNS, "T_Sub", cim.ClassFilter{IncludeQualifiers: true, IncludeClassOrigin: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Properties()) != 5 || full.Property("Id").ClassOrigin != "T_Base" || full.Method("Frob") == nil || !full.Property("Id").IsKey() {
		t.Errorf("full class: %#v", full)
	}
	local, _ := e.srv.GetClass(e.ctx, testNS, "T_Sub", cim.ClassFilter{LocalOnly: true})
	if len(local.Properties()) != 1 || local.Property("Level") == nil || local.Method("Frob") != nil {
		t.Errorf("LocalOnly: %v", local)
	}
	bare, _ := e.srv.GetClass(e.ctx, testNS, "T_Sub", cim.ClassFilter{PropertyList: []string{"name", "nope"}})
	if len(bare.Properties()) != 1 || len(bare.Qualifiers) != 0 || bare.Property("Name").ClassOrigin != "" {
		t.Errorf("PropertyList without qualifiers and class origin: %#v", bare)
	}
	_, err = e.srv.GetClass(e.ctx, testNS, "T_Nope", cim.ClassFilter{})
	wantStatus(t, "GetClass of a missing class", err, cim.ErrNotFound)
	_, err = e.srv.GetClass(e.ctx, testNS, "", cim.ClassFilter{})
	wantStatus(t, "GetClass without a name", err, cim.ErrInvalidParameter)
}

func TestEnumerateClasses(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	names := collect(t, func(y func(string) error) error { return e.srv.EnumerateClassNames(e.ctx, testNS, "T_Base", false, y) })
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "T_Dynamic,T_Gen,T_Static" {
		t.Errorf("direct subclasses of T_Base: %s", got)
	}
	deep := collect(t, func(y func(string) error) error { return e.srv.EnumerateClassNames(e.ctx, testNS, "T_Base", true, y) })
	if len(deep) != 4 {
		t.Errorf("all subclasses of T_Base: %v", deep)
	}
	roots := collect(t, func(y func(*cim.Class) error) error {
		return e.srv.EnumerateClasses(e.ctx, testNS, "", false, cim.ClassFilter{}, y)
	})
	var rootNames []string
	for _, c := range roots {
		rootNames = append(rootNames, c.Name)
		if len(c.Qualifiers) != 0 {
			t.Errorf("%s has qualifiers without IncludeQualifiers", c.Name)
		}
	}
	if got := strings.Join(rootNames, ","); !strings.Contains(got, "T_Base") || !strings.Contains(got, "T_Link") || strings.Contains(got, "T_Sub") {
		t.Errorf("root classes: %s", got)
	}
	err := e.srv.EnumerateClassNames(e.ctx, testNS, "T_Nope", true, func(string) error { return nil })
	wantStatus(t, "EnumerateClassNames of a missing class", err, cim.ErrInvalidClass)
	err = e.srv.EnumerateClasses(e.ctx, testNS, "T_Nope", true, cim.ClassFilter{}, func(*cim.Class) error { return nil })
	wantStatus(t, "EnumerateClasses of a missing class", err, cim.ErrInvalidClass)
	// An error from the callback stops the enumeration and comes back
	// unchanged.
	stop := cim.NewError(cim.ErrFailed, "client went away")
	n := 0
	err = e.srv.EnumerateClassNames(e.ctx, testNS, "", true, func(string) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("callback error: %v after %d results", err, n)
	}
}

func TestClassChanges(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	c := cim.NewClass("T_New", "T_Static")
	if err := c.AddProperty(cim.NewProperty("Color", cim.Null(cim.TypeString))); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.CreateClass(e.ctx, testNS, c); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "CreateClass twice", e.srv.CreateClass(e.ctx, testNS, c), cim.ErrAlreadyExists)
	wantStatus(t, "CreateClass with a missing superclass", e.srv.CreateClass(e.ctx, testNS, cim.NewClass("T_Orphan", "T_Nope")), cim.ErrInvalidSuperclass)
	wantStatus(t, "CreateClass with a bad name", e.srv.CreateClass(e.ctx, testNS, cim.NewClass("1bad", "")), cim.ErrInvalidParameter)
	c2 := c.Clone()
	c2.AddProperty(cim.NewProperty("Shade", cim.Null(cim.TypeUint8)))
	if err := e.srv.ModifyClass(e.ctx, testNS, c2); err != nil {
		t.Fatal(err)
	}
	got, _ := e.srv.GetClass(e.ctx, testNS, "T_New", cim.ClassFilter{LocalOnly: true})
	if got.Property("Shade") == nil {
		t.Error("ModifyClass did not add the property")
	}
	wantStatus(t, "ModifyClass of a missing class", e.srv.ModifyClass(e.ctx, testNS, cim.NewClass("T_Ghost", "")), cim.ErrNotFound)
	inst := cim.NewInstance("T_New")
	inst.Set("Id", cim.NewString("n1"))
	if _, err := e.srv.CreateInstance(e.ctx, testNS, inst); err != nil {
		t.Fatal(err)
	}
	// DeleteClass deletes the instances with the class (DSP0200).
	if err := e.srv.DeleteClass(e.ctx, testNS, "T_New"); err != nil {
		t.Fatal(err)
	}
	_, err := e.srv.GetInstance(e.ctx, testNS, path("T_New", "n1"), InstanceOptions{})
	wantStatus(t, "instance of a deleted class", err, cim.ErrInvalidClass)
	wantStatus(t, "DeleteClass of a missing class", e.srv.DeleteClass(e.ctx, testNS, "T_New"), cim.ErrNotFound)
}

func TestQualifierOperations(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	key, err := e.srv.GetQualifier(e.ctx, testNS, "key")
	if err != nil || key.Name != "Key" || key.Type != cim.TypeBoolean {
		t.Fatalf("GetQualifier: %v %v", key, err)
	}
	_, err = e.srv.GetQualifier(e.ctx, testNS, "Nope")
	wantStatus(t, "GetQualifier of a missing one", err, cim.ErrNotFound)
	qt := &cim.QualifierType{Name: "T_Mark", Type: cim.TypeString, Default: cim.Null(cim.TypeString), Scopes: cim.ScopeAny}
	if err := e.srv.SetQualifier(e.ctx, testNS, qt); err != nil {
		t.Fatal(err)
	}
	all := collect(t, func(y func(*cim.QualifierType) error) error { return e.srv.EnumerateQualifiers(e.ctx, testNS, y) })
	found := false
	for _, q := range all {
		found = found || q.Name == "T_Mark"
	}
	if !found || len(all) < 50 {
		t.Errorf("EnumerateQualifiers: %d declarations, T_Mark found: %v", len(all), found)
	}
	if err := e.srv.DeleteQualifier(e.ctx, testNS, "T_Mark"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "DeleteQualifier twice", e.srv.DeleteQualifier(e.ctx, testNS, "T_Mark"), cim.ErrNotFound)
	wantStatus(t, "SetQualifier nil", e.srv.SetQualifier(e.ctx, testNS, nil), cim.ErrInvalidParameter)
}
