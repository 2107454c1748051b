package cim

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dmtfQualifiers declares the qualifiers the tests use, with the types,
// scopes and flavors of the DMTF CIM Schema's qualifiers.mof.
func dmtfQualifiers(t testing.TB) QualifierTypes {
	qs := QualifierTypes{}
	add := func(name string, typ Type, isArray bool, def Value, scope Scope, flavor Flavor) {
		if err := qs.Add(&QualifierType{Name: name, Type: typ, IsArray: isArray, Default: def, Scopes: scope, Flavor: flavor}); err != nil {
			t.Fatal(err)
		}
	}
	classes := ScopeClass | ScopeAssociation | ScopeIndication
	add("Association", TypeBoolean, false, NewBoolean(false), ScopeAssociation, FlavorDisableOverride|FlavorToSubclass)
	add("Indication", TypeBoolean, false, NewBoolean(false), ScopeClass|ScopeIndication, FlavorDisableOverride|FlavorToSubclass)
	add("Abstract", TypeBoolean, false, NewBoolean(false), classes, FlavorEnableOverride|FlavorRestricted)
	add("Terminal", TypeBoolean, false, NewBoolean(false), classes, 0)
	add("Description", TypeString, false, Null(TypeString), ScopeAny, FlavorEnableOverride|FlavorToSubclass|FlavorTranslatable)
	add("Key", TypeBoolean, false, NewBoolean(false), ScopeProperty|ScopeReference, FlavorDisableOverride|FlavorToSubclass)
	add("Override", TypeString, false, Null(TypeString), ScopeProperty|ScopeReference|ScopeMethod, FlavorEnableOverride|FlavorRestricted)
	add("EmbeddedInstance", TypeString, false, Null(TypeString), ScopeProperty|ScopeMethod|ScopeParameter, 0)
	add("EmbeddedObject", TypeBoolean, false, NewBoolean(false), ScopeProperty|ScopeMethod|ScopeParameter, FlavorDisableOverride|FlavorToSubclass)
	add("ValueMap", TypeString, true, NullArray(TypeString), ScopeProperty|ScopeMethod|ScopeParameter, 0)
	add("Values", TypeString, true, NullArray(TypeString), ScopeProperty|ScopeMethod|ScopeParameter, FlavorEnableOverride|FlavorToSubclass|FlavorTranslatable)
	add("MaxLen", TypeUint32, false, Null(TypeUint32), ScopeProperty|ScopeMethod|ScopeParameter, 0)
	add("Required", TypeBoolean, false, NewBoolean(false), ScopeProperty|ScopeReference|ScopeParameter|ScopeMethod, FlavorDisableOverride|FlavorToSubclass)
	add("In", TypeBoolean, false, NewBoolean(true), ScopeParameter, FlavorDisableOverride|FlavorToSubclass)
	add("Out", TypeBoolean, false, NewBoolean(false), ScopeParameter, FlavorDisableOverride|FlavorToSubclass)
	add("Min", TypeUint32, false, NewUint32(0), ScopeReference, FlavorDisableOverride|FlavorToSubclass)
	return qs
}

func q(name string, v Value) Qualifier { return Qualifier{Name: name, Value: v} }

var (
	qKey      = q("Key", NewBoolean(true))
	qAssoc    = q("Association", NewBoolean(true))
	qAbstract = q("Abstract", NewBoolean(true))
)

func qOverride(name string) Qualifier { return q("Override", NewString(name)) }
func qDesc(s string) Qualifier        { return q("Description", NewString(s)) }

func prop(name string, t Type, quals ...Qualifier) Property {
	return Property{Name: name, Type: t, Qualifiers: quals}
}

// world resolves classes in order and serves them to later resolutions.
type world struct {
	t       *testing.T
	quals   QualifierTypes
	classes map[string]*Class
}

func newWorld(t *testing.T) *world {
	return &world{t: t, quals: dmtfQualifiers(t), classes: map[string]*Class{}}
}

func (w *world) opts() ResolveOptions {
	return ResolveOptions{QualifierType: w.quals.Get, Class: func(n string) *Class { return w.classes[FoldName(n)] }}
}

func (w *world) resolve(c *Class) (*Class, error) {
	r, err := ResolveClass(c, w.classes[FoldName(c.SuperClass)], w.opts())
	if err == nil {
		w.classes[FoldName(c.Name)] = r
	}
	return r, err
}

func (w *world) mustResolve(c *Class) *Class {
	w.t.Helper()
	r, err := w.resolve(c)
	if err != nil {
		w.t.Fatalf("resolving %s: %v", c.Name, err)
	}
	return r
}

func class(name, super string, quals Qualifiers, props ...Property) *Class {
	c := NewClass(name, super)
	c.Qualifiers = quals
	for _, p := range props {
		if err := c.AddProperty(p); err != nil {
			panic(err)
		}
	}
	return c
}

// base builds CIM_ManagedElement-like and CIM_Setting-like classes.
func (w *world) base() (*Class, *Class) {
	me := w.mustResolve(class("T_ManagedElement", "", Qualifiers{qAbstract, qDesc("root")},
		prop("Caption", TypeString, q("MaxLen", NewSint64(64)), qDesc("short")),
		prop("Description", TypeString),
		prop("ElementName", TypeString, q("Required", NewBoolean(true)))))
	sd := w.mustResolve(class("T_SettingData", "T_ManagedElement", Qualifiers{qAbstract},
		prop("InstanceID", TypeString, qKey, qDesc("id"))))
	return me, sd
}

func TestResolvePropagation(t *testing.T) {
	w := newWorld(t)
	me, sd := w.base()
	if me.Qualifiers.Get("Abstract").Flavor != FlavorEnableOverride|FlavorRestricted {
		t.Errorf("flavor from declaration: %s", me.Qualifiers.Get("Abstract").Flavor)
	}
	if v := me.Property("Caption").Qualifiers.Get("MaxLen").Value; v.Type() != TypeUint32 || v.Uint32() != 64 {
		t.Errorf("qualifier value must be converted to the declared type: %#v", v)
	}
	// Abstract is Restricted: not propagated. Description is ToSubclass.
	if sd.Qualifiers.Has("Abstract") == false || sd.Qualifiers.Get("Abstract").Propagated {
		t.Error("T_SettingData declares Abstract itself")
	}
	if d := sd.Qualifiers.Get("Description"); d == nil || !d.Propagated || d.Value.Str() != "root" {
		t.Errorf("Description must propagate to the subclass: %#v", d)
	}
	sub := w.mustResolve(class("T_VSSD", "T_SettingData", nil, prop("VirtualSystemType", TypeString)))
	if sub.Qualifiers.Has("Abstract") {
		t.Error("Abstract (Restricted) must not propagate")
	}
	names := []string{}
	for _, p := range sub.Properties() {
		names = append(names, p.Name+"@"+p.ClassOrigin)
		if p.Propagated != (p.ClassOrigin != "T_VSSD") {
			t.Errorf("%s: Propagated %v with origin %s", p.Name, p.Propagated, p.ClassOrigin)
		}
	}
	if got := strings.Join(names, " "); got != "Caption@T_ManagedElement Description@T_ManagedElement ElementName@T_ManagedElement InstanceID@T_SettingData VirtualSystemType@T_VSSD" {
		t.Errorf("properties: %s", got)
	}
	id := sub.Property("instanceid")
	if !id.IsKey() || !id.Qualifiers.Get("Key").Propagated || id.Qualifiers.Get("Key").Flavor.Overridable() {
		t.Errorf("Key must propagate with DisableOverride: %#v", id.Qualifiers)
	}
	if sub.KeyNames()[0] != "InstanceID" || len(sub.KeyNames()) != 1 {
		t.Errorf("keys %v", sub.KeyNames())
	}
	// Printing the resolved class gives only what it declares.
	if got := sub.String(); got != "class T_VSSD : T_SettingData {\n    string VirtualSystemType;\n};\n" {
		t.Errorf("MOF:\n%s", got)
	}
}

func TestResolveOverride(t *testing.T) {
	w := newWorld(t)
	_, _ = w.base()
	c := w.mustResolve(class("T_Sub", "T_SettingData", nil,
		prop("InstanceID", TypeString, qOverride("InstanceID"), qDesc("narrower")),
		Property{Name: "Caption", Type: TypeString, Value: NewString("dflt"), Qualifiers: Qualifiers{qOverride("T_ManagedElement.Caption")}}))
	id := c.Property("InstanceID")
	if id.ClassOrigin != "T_Sub" || id.Propagated || !id.IsKey() {
		t.Errorf("override: origin %s propagated %v key %v", id.ClassOrigin, id.Propagated, id.IsKey())
	}
	if d := id.Qualifiers.Get("Description"); d.Propagated || d.Value.Str() != "narrower" {
		t.Error("the override's own Description wins")
	}
	if id.Qualifiers.Get("Override").Propagated {
		t.Error("Override is the element's own")
	}
	if c.Properties()[0].Name != "Caption" || c.Property("Caption").Value.Str() != "dflt" {
		t.Error("an override keeps the inherited position and takes its own default")
	}
	if ml := c.Property("Caption").Qualifiers.Get("MaxLen"); ml == nil || !ml.Propagated {
		t.Error("qualifiers of the overridden property propagate to the override")
	}
	// Override is Restricted: a further subclass does not inherit it.
	c2 := w.mustResolve(class("T_Sub2", "T_Sub", nil))
	if c2.Property("InstanceID").Qualifiers.Has("Override") {
		t.Error("Override must not propagate")
	}
	// An override without default keeps the inherited default.
	w.mustResolve(class("T_Def", "", nil, Property{Name: "P", Type: TypeUint8, Value: NewUint8(7)}))
	d := w.mustResolve(class("T_Def2", "T_Def", nil, prop("P", TypeUint8, qOverride("P"))))
	if d.Property("P").Value.Uint8() != 7 {
		t.Error("inherited default lost")
	}
}

func TestResolveErrors(t *testing.T) {
	cases := []struct {
		name  string
		class *Class
		code  Status
		want  string
	}{
		{"missing superclass", class("T_X", "T_Nope", nil), ErrInvalidSuperclass, "superclass T_Nope does not exist"},
		{"own superclass", class("T_X", "T_X", nil), ErrInvalidSuperclass, ""},
		{"invalid name", class("1bad", "", nil), ErrInvalidParameter, "invalid class name"},
		{"redefine without Override", class("T_X", "T_SettingData", nil, prop("Caption", TypeString)),
			ErrInvalidParameter, "redefines the property inherited from T_SettingData without the Override qualifier"},
		{"Override of nothing", class("T_X", "T_SettingData", nil, prop("Nope", TypeString, qOverride("Nope"))),
			ErrInvalidParameter, "no superclass defines Nope"},
		{"renaming Override", class("T_X", "T_SettingData", nil, prop("Label", TypeString, qOverride("Caption"))),
			ErrInvalidParameter, "names another element"},
		{"override changes type", class("T_X", "T_SettingData", nil, prop("Caption", TypeUint8, qOverride("Caption"))),
			ErrInvalidParameter, "of type uint8 cannot override T_ManagedElement.Caption of type string"},
		{"override changes array-ness", class("T_X", "T_SettingData", nil, Property{Name: "Caption", Type: TypeString, IsArray: true, Qualifiers: Qualifiers{qOverride("Caption")}}),
			ErrInvalidParameter, "of type string[] cannot override"},
		{"DisableOverride: unkeying", class("T_X", "T_SettingData", nil, prop("InstanceID", TypeString, qOverride("InstanceID"), q("Key", NewBoolean(false)))),
			ErrInvalidParameter, "qualifier Key has flavor DisableOverride and cannot be changed from true to false"},
		{"new key in keyed class", class("T_X", "T_SettingData", nil, prop("Extra", TypeString, qKey)),
			ErrInvalidParameter, "key property Extra cannot be added: superclass T_SettingData already defines keys"},
		{"override makes key in keyed class", class("T_X", "T_SettingData", nil, prop("Caption", TypeString, qOverride("Caption"), qKey)),
			ErrInvalidParameter, "cannot become a key"},
		{"array key", class("T_X", "", nil, Property{Name: "K", Type: TypeString, IsArray: true, Qualifiers: Qualifiers{qKey}}),
			ErrInvalidParameter, "key property K cannot be an array"},
		{"embedded key", class("T_X", "", nil, prop("K", TypeString, qKey, q("EmbeddedObject", NewBoolean(true)))),
			ErrInvalidParameter, "cannot be an embedded object"},
		{"reference outside association", class("T_X", "", nil, NewReferenceProperty("R", "T_SettingData")),
			ErrInvalidParameter, "reference property R is only allowed in an association"},
		{"reference to unknown class", class("T_X", "", Qualifiers{qAssoc}, NewReferenceProperty("R", "T_Nope")),
			ErrInvalidParameter, "refers to class T_Nope, which does not exist"},
		{"association under non-association", class("T_X", "T_SettingData", Qualifiers{qAssoc}),
			ErrInvalidSuperclass, "is not an association"},
		{"undeclared qualifier", class("T_X", "", Qualifiers{q("Bogus", NewBoolean(true))}),
			ErrInvalidParameter, "qualifier Bogus is not declared"},
		{"qualifier out of scope", class("T_X", "", Qualifiers{qKey}),
			ErrInvalidParameter, "qualifier Key is not allowed on a class (its scope is property, reference)"},
		{"association qualifier on property", class("T_X", "", nil, prop("P", TypeString, qAssoc)),
			ErrInvalidParameter, "not allowed on a property"},
		{"qualifier of wrong type", class("T_X", "", Qualifiers{q("Description", NewUint8(5))}),
			ErrInvalidParameter, "does not fit the declared type string"},
		{"qualifier out of range", class("T_X", "", nil, prop("P", TypeString, q("MaxLen", NewSint64(-1)))),
			ErrInvalidParameter, "qualifier MaxLen: value -1 does not fit the declared type uint32: value -1 out of range for uint32"},
		{"array qualifier given a scalar", class("T_X", "", nil, prop("P", TypeUint8, q("ValueMap", NewString("1")))),
			ErrInvalidParameter, "does not fit the declared type string[]"},
		{"duplicate qualifier", class("T_X", "", Qualifiers{qDesc("a"), qDesc("b")}),
			ErrInvalidParameter, "duplicate qualifier Description"},
		{"contradictory flavors", class("T_X", "", Qualifiers{{Name: "Description", Value: NewString("a"), Flavor: FlavorToSubclass | FlavorRestricted}}),
			ErrInvalidParameter, "contradict"},
		{"bad default", class("T_X", "", nil, Property{Name: "P", Type: TypeUint8, Value: NewSint64(300)}),
			ErrInvalidParameter, "default value of property P"},
		{"default array-ness", class("T_X", "", nil, Property{Name: "P", Type: TypeUint8, Value: NewUint8Array([]uint8{1})}),
			ErrInvalidParameter, "default value of property P"},
		{"no type", class("T_X", "", nil, Property{Name: "P"}), ErrInvalidParameter, "no valid type"},
		{"bad property name", class("T_X", "", nil, Property{Name: "a b", Type: TypeString}), ErrInvalidParameter, "invalid property name"},
	}
	for _, c := range cases {
		w := newWorld(t)
		w.base()
		_, err := w.resolve(c.class)
		if err == nil || StatusOf(err) != c.code || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %v containing %q", c.name, err, c.code, c.want)
		}
	}
}

func TestResolveSuperclassMismatch(t *testing.T) {
	w := newWorld(t)
	me, _ := w.base()
	if _, err := ResolveClass(class("T_X", "", nil), me, w.opts()); StatusOf(err) != ErrInvalidSuperclass {
		t.Errorf("superclass given to a root class: %v", err)
	}
	if _, err := ResolveClass(class("T_X", "T_Other", nil), me, w.opts()); StatusOf(err) != ErrInvalidSuperclass {
		t.Errorf("wrong superclass: %v", err)
	}
	w.mustResolve(class("T_Final", "", Qualifiers{q("Terminal", NewBoolean(true))}))
	if _, err := w.resolve(class("T_X", "T_Final", nil)); StatusOf(err) != ErrInvalidSuperclass || !strings.Contains(err.Error(), "Terminal") {
		t.Errorf("subclass of a Terminal class: %v", err)
	}
	// Superclass names are case-insensitive; the resolved class uses the
	// superclass's own spelling.
	r := w.mustResolve(class("T_Y", "t_managedelement", nil))
	if r.SuperClass != "T_ManagedElement" {
		t.Errorf("superclass spelled %q", r.SuperClass)
	}
}

func TestResolveAssociations(t *testing.T) {
	w := newWorld(t)
	w.base()
	w.mustResolve(class("T_System", "T_ManagedElement", nil, prop("Name", TypeString, qKey)))
	w.mustResolve(class("T_ComputerSystem", "T_System", nil))
	dep := w.mustResolve(class("T_Dependency", "", Qualifiers{qAssoc, qAbstract},
		Property{Name: "Antecedent", Type: TypeReference, ReferenceClass: "T_ManagedElement", Qualifiers: Qualifiers{qKey}},
		Property{Name: "Dependent", Type: TypeReference, ReferenceClass: "T_ManagedElement", Qualifiers: Qualifiers{qKey}}))
	if !dep.IsAssociation() || len(dep.ReferenceNames()) != 2 {
		t.Fatal("association")
	}
	// A subclass narrows a reference to a subclass of the referenced class;
	// Association propagates (DisableOverride, ToSubclass).
	hosted := w.mustResolve(class("T_Hosted", "T_Dependency", nil,
		Property{Name: "Antecedent", Type: TypeReference, ReferenceClass: "T_ComputerSystem", Qualifiers: Qualifiers{qOverride("Antecedent"), q("Min", NewSint64(1))}}))
	if !hosted.IsAssociation() || !hosted.Qualifiers.Get("Association").Propagated {
		t.Error("Association must propagate")
	}
	if a := hosted.Property("Antecedent"); a.ReferenceClass != "T_ComputerSystem" || !a.IsKey() || a.Qualifiers.Get("Min").Value.Uint32() != 1 {
		t.Errorf("narrowed reference: %#v", a)
	}
	// Widening, or pointing to an unrelated class, is refused.
	_, err := w.resolve(class("T_Bad", "T_Hosted", nil,
		Property{Name: "Antecedent", Type: TypeReference, ReferenceClass: "T_ManagedElement", Qualifiers: Qualifiers{qOverride("Antecedent")}}))
	if err == nil || !strings.Contains(err.Error(), "only a subclass may be given") {
		t.Errorf("widening a reference: %v", err)
	}
	// Association(false) in a subclass violates DisableOverride.
	if _, err := w.resolve(class("T_Bad2", "T_Dependency", Qualifiers{q("Association", NewBoolean(false))})); err == nil ||
		!strings.Contains(err.Error(), "DisableOverride") {
		t.Errorf("dropping Association: %v", err)
	}
	// Restating the inherited value is allowed.
	w.mustResolve(class("T_Ok", "T_Dependency", Qualifiers{qAssoc}))
	// A self-referencing association resolves before it exists.
	w.mustResolve(class("T_Self", "", Qualifiers{qAssoc},
		NewReferenceProperty("A", "T_Self"), NewReferenceProperty("B", "T_ManagedElement")))
}

// TestResolveAssociationReferences: with CheckAssociationReferences, an
// association has at least two references (DSP0004), its own and
// inherited ones together.
func TestResolveAssociationReferences(t *testing.T) {
	w := newWorld(t)
	w.base()
	strict := w.opts()
	strict.CheckAssociationReferences = true
	for _, c := range []*Class{
		class("T_One", "", Qualifiers{qAssoc}, NewReferenceProperty("A", "T_ManagedElement"), prop("Note", TypeString)),
		class("T_None", "", Qualifiers{qAssoc, qAbstract}),
	} {
		if _, err := ResolveClass(c, nil, w.opts()); err != nil {
			t.Errorf("%s: without the option (as for classes already stored): %v", c.Name, err)
		}
		_, errs := ResolveClassAll(c, nil, strict)
		n := len(c.ReferenceNames())
		if len(errs) != 1 || errs[0].Property != "" || StatusOf(errs[0]) != ErrInvalidParameter ||
			!strings.Contains(errs[0].Error(), fmt.Sprintf("class %s: an association needs at least two references, but it has %d", c.Name, n)) {
			t.Errorf("%s: %v", c.Name, errs)
		}
	}
	pair, err := ResolveClass(class("T_Pair", "", Qualifiers{qAssoc},
		NewReferenceProperty("A", "T_ManagedElement"), NewReferenceProperty("B", "T_ManagedElement")), nil, strict)
	if err != nil {
		t.Fatal(err)
	}
	// A subclass inherits its references; overriding one does not add one.
	for _, c := range []*Class{
		class("T_SubPair", "T_Pair", nil),
		class("T_Narrow", "T_Pair", nil,
			Property{Name: "A", Type: TypeReference, ReferenceClass: "T_SettingData", Qualifiers: Qualifiers{qOverride("A")}}),
	} {
		if _, err := ResolveClass(c, pair, strict); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
	// A faulty reference still counts: its own error is the only one.
	_, errs := ResolveClassAll(class("T_Typo", "", Qualifiers{qAssoc},
		NewReferenceProperty("A", "T_Nope"), NewReferenceProperty("B", "T_ManagedElement")), nil, strict)
	if len(errs) != 1 || errs[0].Property != "A" || !strings.Contains(errs[0].Error(), "T_Nope, which does not exist") {
		t.Errorf("faulty reference: %v", errs)
	}
}

// TestResolveClassAll: every violation is reported, each with the element
// and qualifier it concerns; ResolveClass returns the first.
func TestResolveClassAll(t *testing.T) {
	w := newWorld(t)
	w.base()
	c := class("T_X", "T_SettingData", Qualifiers{q("Bogus", NewBoolean(true)), qDesc("fine")},
		prop("Extra", TypeString, qKey),
		prop("InstanceID", TypeString, qOverride("InstanceID"), q("Key", NewBoolean(false))),
		prop("Fine", TypeUint8),
		prop("Caption", TypeString),
		prop("Label", TypeString, qOverride("Caption")))
	c.AddMethod(Method{Name: "M", ReturnType: TypeUint32, Parameters: []Parameter{
		{Name: "Ok", Type: TypeString},
		{Name: "P", Type: TypeString, Qualifiers: Qualifiers{q("In", NewBoolean(true)), q("maxlen", NewSint64(-1))}}}})
	c.AddMethod(Method{Name: "N", ReturnType: TypeInvalid})
	c.AddMethod(Method{Name: "Good", ReturnType: TypeUint32})
	want := []struct {
		prop, method, param, qual, text string
	}{
		{"", "", "", "Bogus", "CIM_ERR_INVALID_PARAMETER: class T_X: qualifier Bogus is not declared"},
		{"Extra", "", "", "", "key property Extra cannot be added"},
		{"InstanceID", "", "", "Key", "qualifier Key has flavor DisableOverride"},
		{"Caption", "", "", "", "redefines the property inherited from T_SettingData"},
		{"Label", "", "", "Override", `Override("Caption") names another element`},
		{"", "M", "P", "maxlen", "method M parameter P: qualifier maxlen: value -1 does not fit"},
		{"", "N", "", "", "method N has no valid return type"},
	}
	res, errs := ResolveClassAll(c, w.classes["t_settingdata"], w.opts())
	if res != nil || len(errs) != len(want) {
		t.Fatalf("got %d violations, want %d: %v", len(errs), len(want), errs)
	}
	for i, e := range errs {
		wt := want[i]
		if e.Property != wt.prop || e.Method != wt.method || e.Parameter != wt.param || e.Qualifier != wt.qual ||
			!strings.Contains(e.Error(), wt.text) || !errors.Is(e, ErrInvalidParameter) {
			t.Errorf("violation %d: %+v (%v)\n  want %+v", i, *e, e, wt)
		}
	}
	if _, err := w.resolve(c); err == nil || err.Error() != errs[0].Error() {
		t.Errorf("ResolveClass must return the first violation: %v", err)
	}
	// A superclass problem ends the resolution: there is nothing to
	// check the elements against.
	_, errs = ResolveClassAll(class("T_Y", "T_Gone", nil, prop("Caption", TypeString)), nil, w.opts())
	if len(errs) != 1 || StatusOf(errs[0]) != ErrInvalidSuperclass || errs[0].Property != "" {
		t.Errorf("missing superclass: %v", errs)
	}
}

func TestResolveMethods(t *testing.T) {
	w := newWorld(t)
	base := NewClass("T_Service", "")
	base.AddMethod(Method{Name: "RequestStateChange", ReturnType: TypeUint32,
		Qualifiers: Qualifiers{q("ValueMap", NewStringArray([]string{"0", "1"})), qDesc("change")},
		Parameters: []Parameter{
			{Name: "RequestedState", Type: TypeUint16, Qualifiers: Qualifiers{q("In", NewBoolean(true)), qDesc("state")}},
			{Name: "Job", Type: TypeReference, ReferenceClass: "T_Service", Qualifiers: Qualifiers{q("In", NewBoolean(false)), q("Out", NewBoolean(true))}},
			{Name: "Data", Type: TypeUint8, IsArray: true},
		}})
	rb := w.mustResolve(base)
	m := rb.Method("requeststatechange")
	if m == nil || m.ClassOrigin != "T_Service" || m.Parameters[1].IsIn() || !m.Parameters[1].IsOut() || !m.Parameters[0].IsIn() {
		t.Fatalf("method: %#v", m)
	}
	sub := w.mustResolve(class("T_Sub", "T_Service", nil))
	sm := sub.Method("RequestStateChange")
	if !sm.Propagated || sm.ClassOrigin != "T_Service" || !sm.Parameters[0].Qualifiers.Get("Description").Propagated {
		t.Errorf("inherited method: %#v", sm)
	}
	over := NewClass("T_Sub2", "T_Service")
	over.AddMethod(Method{Name: "RequestStateChange", ReturnType: TypeUint32, Qualifiers: Qualifiers{qOverride("RequestStateChange")},
		Parameters: []Parameter{{Name: "RequestedState", Type: TypeUint16}}})
	om := w.mustResolve(over).Method("RequestStateChange")
	if om.Propagated || om.ClassOrigin != "T_Sub2" || om.Qualifiers.Str("Description") != "change" {
		t.Errorf("override: %#v", om)
	}
	if d := om.Parameter("requestedstate").Qualifiers.Get("Description"); d == nil || !d.Propagated {
		t.Error("parameter qualifiers propagate from the overridden parameter")
	}

	bad := []struct {
		m    Method
		want string
	}{
		{Method{Name: "RequestStateChange", ReturnType: TypeUint16, Qualifiers: Qualifiers{qOverride("RequestStateChange")}}, "returning uint16 cannot override"},
		{Method{Name: "RequestStateChange", ReturnType: TypeUint32, Qualifiers: Qualifiers{qOverride("RequestStateChange")},
			Parameters: []Parameter{{Name: "RequestedState", Type: TypeUint32}}}, "does not match the overridden"},
		{Method{Name: "RequestStateChange", ReturnType: TypeUint32}, "without the Override qualifier"},
		{Method{Name: "M", ReturnType: TypeUint32, Parameters: []Parameter{{Name: "P", Type: TypeUint8}, {Name: "p", Type: TypeUint8}}}, "duplicate parameter"},
		{Method{Name: "M", ReturnType: TypeUint32, Parameters: []Parameter{{Name: "P", Type: TypeUint8, Qualifiers: Qualifiers{qKey}}}}, "not allowed on a parameter"},
		{Method{Name: "M", ReturnType: TypeUint32, Parameters: []Parameter{{Name: "R", Type: TypeReference, ReferenceClass: "T_Nope"}}}, "does not exist"},
		{Method{Name: "M"}, "no valid return type"},
	}
	for _, b := range bad {
		c := NewClass("T_Bad", "T_Service")
		c.AddMethod(b.m)
		if _, err := w.resolve(c); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: %v, want %q", b.m.Name, err, b.want)
		}
	}
}

// A client's ModifyClass typically sends back what GetClass returned,
// propagated elements included: resolving it again must give the same
// class.
func TestResolveIsIdempotentOnItsOutput(t *testing.T) {
	w := newWorld(t)
	w.base()
	c := class("T_Sub", "T_SettingData", nil,
		prop("InstanceID", TypeString, qOverride("InstanceID"), qDesc("narrower")),
		prop("Extra", TypeUint16, q("ValueMap", NewStringArray([]string{"1"}))))
	c.AddMethod(Method{Name: "M", ReturnType: TypeUint32})
	first := w.mustResolve(c)
	again, err := ResolveClass(first, w.classes[FoldName("T_SettingData")], w.opts())
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(first) || again.String() != first.String() {
		t.Errorf("re-resolution changed the class:\n%s\nvs\n%s", first, again)
	}
	for i, p := range again.Properties() {
		if p.Propagated != first.Properties()[i].Propagated || p.ClassOrigin != first.Properties()[i].ClassOrigin {
			t.Errorf("%s: propagation changed", p.Name)
		}
	}
}

func TestResolveWithoutDeclarations(t *testing.T) {
	c := class("X_A", "", Qualifiers{{Name: "Whatever", Value: NewString("x"), Flavor: FlavorRestricted}},
		prop("K", TypeString, qKey))
	r, err := ResolveClass(c, nil, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := ResolveClass(class("X_B", "X_A", nil), r, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Qualifiers.Has("Whatever") || !sub.Property("K").IsKey() {
		t.Error("without declarations, explicit flavors still apply and others default to ToSubclass")
	}
	if c.Properties()[0].ClassOrigin != "" {
		t.Error("ResolveClass must not modify its input")
	}
}
