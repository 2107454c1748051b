package wbem_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	. "github.com/hypercim/hypercim/wbem"
)

// The test model's associations: static T_Link s1->sub1, s1->d1 (a
// provider's instance) and s2->gone (dangling); T_DynLink d1->s2 from the
// provider (d1.Partner = "s2").

func TestAssociators(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	assoc := func(obj *cim.ObjectPath, f AssocFilter) string {
		t.Helper()
		res := collect(t, func(y func(AssocResult) error) error {
			return e.srv.Associators(e.ctx, testNS, obj, f, InstanceOptions{}, y)
		})
		var insts []*cim.Instance
		for _, r := range res {
			if r.Instance == nil || r.Class != nil || !r.Path.Equal(r.Instance.Path) {
				t.Errorf("instance-level result %+v", r)
			}
			insts = append(insts, r.Instance)
		}
		names := collect(t, func(y func(*cim.ObjectPath) error) error {
			return e.srv.AssociatorNames(e.ctx, testNS, obj, f, y)
		})
		got, gotNames := ids(insts), ids(names)
		if got != gotNames && !strings.Contains(gotNames, "gone") {
			t.Errorf("Associators %s and AssociatorNames %s disagree", got, gotNames)
		}
		return got
	}
	cases := []struct {
		obj  *cim.ObjectPath
		f    AssocFilter
		want string
	}{
		{path("T_Static", "s1"), AssocFilter{}, "T_Dynamic.d1 T_Sub.sub1"},
		{path("T_Static", "s1"), AssocFilter{AssocClass: "T_Link"}, "T_Dynamic.d1 T_Sub.sub1"},
		{path("T_Static", "s1"), AssocFilter{AssocClass: "T_DynLink"}, ""},
		{path("T_Static", "s1"), AssocFilter{ResultClass: "T_Static"}, "T_Sub.sub1"},
		{path("T_Static", "s1"), AssocFilter{ResultClass: "T_Dynamic"}, "T_Dynamic.d1"},
		{path("T_Static", "s1"), AssocFilter{Role: "Left"}, "T_Dynamic.d1 T_Sub.sub1"},
		{path("T_Static", "s1"), AssocFilter{Role: "right"}, ""},
		{path("T_Static", "s1"), AssocFilter{ResultRole: "Left"}, ""},
		{path("T_Static", "s1"), AssocFilter{Role: "Left", ResultRole: "Right", ResultClass: "T_Base", AssocClass: "T_Link"}, "T_Dynamic.d1 T_Sub.sub1"},
		{path("T_Dynamic", "d1"), AssocFilter{}, "T_Static.s1 T_Static.s2"},
		{path("T_Dynamic", "d1"), AssocFilter{AssocClass: "T_DynLink"}, "T_Static.s2"},
		{path("T_Dynamic", "d1"), AssocFilter{Role: "From"}, "T_Static.s2"},
		{path("T_Dynamic", "d1"), AssocFilter{Role: "Right"}, "T_Static.s1"},
		{path("T_Dynamic", "d1"), AssocFilter{ResultRole: "To"}, "T_Static.s2"},
		{path("T_Dynamic", "d1"), AssocFilter{ResultRole: "Left", ResultClass: "T_Static"}, "T_Static.s1"},
		{path("T_Dynamic", "d1"), AssocFilter{ResultClass: "T_Sub"}, ""},
		{path("T_Static", "s2"), AssocFilter{}, "T_Dynamic.d1"}, // the dangling reference is skipped
		{path("T_Sub", "sub1"), AssocFilter{}, "T_Static.s1"},
		{path("T_Dynamic", "d2"), AssocFilter{}, ""},
	}
	for _, c := range cases {
		if got := assoc(c.obj, c.f); got != c.want {
			t.Errorf("Associators(%s, %+v) = %q, want %q", c.obj.ModelPath(), c.f, got, c.want)
		}
	}
	names := collect(t, func(y func(*cim.ObjectPath) error) error {
		return e.srv.AssociatorNames(e.ctx, testNS, path("T_Static", "s2"), AssocFilter{}, y)
	})
	if got := ids(names); got != "T_Dynamic.d1 T_Dynamic.gone" {
		t.Errorf("AssociatorNames keeps dangling references: %s", got)
	}
	// Instance options shape the associated instances.
	res := collect(t, func(y func(AssocResult) error) error {
		return e.srv.Associators(e.ctx, testNS, path("T_Static", "s1"), AssocFilter{ResultClass: "T_Dynamic"},
			InstanceOptions{PropertyList: []string{"Size"}, IncludeClassOrigin: true}, y)
	})
	if len(res) != 1 || len(res[0].Instance.Properties()) != 1 || res[0].Instance.Property("Size").ClassOrigin != "T_Dynamic" {
		t.Errorf("shaped associator: %+v", res)
	}
	err := e.srv.Associators(e.ctx, testNS, path("T_Nope", "x"), AssocFilter{}, InstanceOptions{}, func(AssocResult) error { return nil })
	wantStatus(t, "Associators of an object of a missing class", err, cim.ErrInvalidParameter)
	err = e.srv.AssociatorNames(e.ctx, testNS, path("T_Static", "s1"), AssocFilter{Role: "not a name"}, func(*cim.ObjectPath) error { return nil })
	wantStatus(t, "invalid Role", err, cim.ErrInvalidParameter)
	err = e.srv.AssociatorNames(e.ctx, testNS, nil, AssocFilter{}, func(*cim.ObjectPath) error { return nil })
	wantStatus(t, "missing object", err, cim.ErrInvalidParameter)
}

func TestReferences(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	refs := func(obj *cim.ObjectPath, f AssocFilter) string {
		t.Helper()
		res := collect(t, func(y func(AssocResult) error) error {
			return e.srv.References(e.ctx, testNS, obj, f, InstanceOptions{}, y)
		})
		names := collect(t, func(y func(*cim.ObjectPath) error) error {
			return e.srv.ReferenceNames(e.ctx, testNS, obj, f, y)
		})
		var out, outNames []string
		for _, r := range res {
			out = append(out, r.Instance.ClassName+":"+r.Instance.Get("Label").Str())
		}
		for _, p := range names {
			outNames = append(outNames, p.ClassName)
		}
		sort.Strings(out)
		if len(names) != len(res) {
			t.Errorf("References %v and ReferenceNames %v disagree", out, outNames)
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		obj  *cim.ObjectPath
		f    AssocFilter
		want string
	}{
		{path("T_Static", "s1"), AssocFilter{}, "T_Link:static T_Link:to dynamic"},
		{path("T_Static", "s1"), AssocFilter{Role: "Right"}, ""},
		{path("T_Dynamic", "d1"), AssocFilter{}, "T_DynLink: T_Link:to dynamic"},
		{path("T_Dynamic", "d1"), AssocFilter{ResultClass: "T_DynLink"}, "T_DynLink:"},
		{path("T_Dynamic", "d1"), AssocFilter{Role: "Right"}, "T_Link:to dynamic"},
		{path("T_Static", "s2"), AssocFilter{}, "T_DynLink: T_Link:dangling"},
		{path("T_Static", "s2"), AssocFilter{Role: "To"}, "T_DynLink:"},
	}
	for _, c := range cases {
		if got := refs(c.obj, c.f); got != c.want {
			t.Errorf("References(%s, %+v) = %q, want %q", c.obj.ModelPath(), c.f, got, c.want)
		}
	}
	res := collect(t, func(y func(AssocResult) error) error {
		return e.srv.References(e.ctx, testNS, path("T_Static", "s1"), AssocFilter{}, InstanceOptions{PropertyList: []string{"Label"}}, y)
	})
	for _, r := range res {
		if len(r.Instance.Properties()) != 1 || r.Path == nil || r.Path.Namespace != testNS {
			t.Errorf("shaped reference %v (path %v)", r.Instance, r.Path)
		}
	}
}

func TestClassLevelAssociations(t *testing.T) {
	e := newTestEnv(t, envOptions{})
	names := func(run func(y func(AssocResult) error) error) string {
		var out []string
		for _, r := range collect(t, run) {
			if r.Instance != nil || r.Class == nil || r.Path.IsInstancePath() || r.Path.Namespace != testNS {
				t.Errorf("class-level result %+v", r)
				continue
			}
			out = append(out, r.Class.Name)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	cls := cim.NewClassPath("", "T_Static")
	if got := names(func(y func(AssocResult) error) error {
		return e.srv.References(e.ctx, testNS, cls, AssocFilter{}, InstanceOptions{}, y)
	}); got != "T_DynLink T_Link" {
		t.Errorf("References of class T_Static: %s", got)
	}
	if got := names(func(y func(AssocResult) error) error {
		return e.srv.References(e.ctx, testNS, cls, AssocFilter{Role: "To"}, InstanceOptions{}, y)
	}); got != "T_DynLink" {
		t.Errorf("References of class T_Static, Role To: %s", got)
	}
	if got := names(func(y func(AssocResult) error) error {
		return e.srv.Associators(e.ctx, testNS, cim.NewClassPath("", "T_Dynamic"), AssocFilter{}, InstanceOptions{}, y)
	}); got != "T_Base T_Static" {
		t.Errorf("Associators of class T_Dynamic: %s", got)
	}
	classNames := collect(t, func(y func(*cim.ObjectPath) error) error {
		return e.srv.ReferenceNames(e.ctx, testNS, cls, AssocFilter{ResultClass: "T_Link"}, y)
	})
	if len(classNames) != 1 || classNames[0].ClassName != "T_Link" || classNames[0].IsInstancePath() {
		t.Errorf("ReferenceNames of a class: %v", classNames)
	}
	withQuals := collect(t, func(y func(AssocResult) error) error {
		return e.srv.References(e.ctx, testNS, cls, AssocFilter{ResultClass: "T_Link"}, InstanceOptions{IncludeQualifiers: true}, y)
	})
	if len(withQuals) != 1 || !withQuals[0].Class.IsAssociation() {
		t.Errorf("class-level References with qualifiers: %+v", withQuals)
	}
	err := e.srv.References(e.ctx, testNS, cim.NewClassPath("", "T_Nope"), AssocFilter{}, InstanceOptions{}, func(AssocResult) error { return nil })
	wantStatus(t, "References of a missing class", err, cim.ErrInvalidParameter)
}
