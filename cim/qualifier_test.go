package cim

import (
	"strings"
	"testing"
)

func TestScopes(t *testing.T) {
	for _, name := range []string{"class", "association", "indication", "property", "reference", "method", "parameter", "any"} {
		s, err := ParseScope(name)
		if err != nil || s.String() != name {
			t.Errorf("ParseScope(%q) = %v (%s), %v", name, s, s, err)
		}
		if s2, _ := ParseScope(strings.ToUpper(name)); s2 != s {
			t.Errorf("ParseScope is case-insensitive for %q", name)
		}
	}
	if (ScopeProperty | ScopeReference).String() != "property, reference" {
		t.Error((ScopeProperty | ScopeReference).String())
	}
	if _, err := ParseScope("schema"); err == nil {
		t.Error("unknown scope accepted")
	}
}

func TestFlavors(t *testing.T) {
	for _, name := range []string{"EnableOverride", "DisableOverride", "ToSubclass", "Restricted", "Translatable", "ToInstance"} {
		f, err := ParseFlavor(name)
		if err != nil || f.String() != name {
			t.Errorf("ParseFlavor(%q) = %v, %v", name, f, err)
		}
	}
	var none Flavor
	if !none.Overridable() || !none.ToSubclass() || none.Translatable() {
		t.Error("DSP0004 defaults: EnableOverride, ToSubclass, not Translatable")
	}
	if none.Complete() != FlavorEnableOverride|FlavorToSubclass {
		t.Error("Complete")
	}
	decl := FlavorDisableOverride | FlavorToSubclass
	if m := decl.Merge(FlavorRestricted | FlavorTranslatable); m != FlavorDisableOverride|FlavorRestricted|FlavorTranslatable {
		t.Errorf("Merge = %s", m)
	}
	if m := decl.Merge(FlavorEnableOverride); m.Overridable() != true || !m.ToSubclass() {
		t.Errorf("Merge = %s", m)
	}
	if (FlavorEnableOverride|FlavorDisableOverride).Validate() == nil || (FlavorToSubclass|FlavorRestricted).Validate() == nil {
		t.Error("contradictory flavors accepted")
	}
	if (FlavorDisableOverride | FlavorToSubclass).String() != "DisableOverride, ToSubclass" {
		t.Error((FlavorDisableOverride | FlavorToSubclass).String())
	}
}

func TestQualifierType(t *testing.T) {
	key := &QualifierType{Name: "Key", Type: TypeBoolean, Default: NewBoolean(false),
		Scopes: ScopeProperty | ScopeReference, Flavor: FlavorDisableOverride | FlavorToSubclass}
	if err := key.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := key.String(); got != "Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);" {
		t.Errorf("MOF = %s", got)
	}
	vm := &QualifierType{Name: "ValueMap", Type: TypeString, IsArray: true, Scopes: ScopeProperty | ScopeMethod | ScopeParameter}
	if got := vm.String(); got != "Qualifier ValueMap : string[], Scope(property, method, parameter);" {
		t.Errorf("MOF = %s", got)
	}
	if !key.Equal(key.Clone()) || key.Equal(vm) {
		t.Error("Equal/Clone")
	}
	bad := []*QualifierType{
		{Name: "1x", Type: TypeBoolean, Scopes: ScopeAny},
		{Name: "X", Type: TypeInvalid, Scopes: ScopeAny},
		{Name: "X", Type: TypeReference, Scopes: ScopeAny},
		{Name: "X", Type: TypeBoolean},
		{Name: "X", Type: TypeBoolean, Scopes: ScopeAny, Flavor: FlavorEnableOverride | FlavorDisableOverride},
		{Name: "X", Type: TypeBoolean, Scopes: ScopeAny, Default: NewString("true")},
		{Name: "X", Type: TypeString, IsArray: true, Scopes: ScopeAny, Default: NewString("a")},
	}
	for _, qt := range bad {
		if err := qt.Validate(); err == nil {
			t.Errorf("%#v validated", qt)
		}
	}
	set := QualifierTypes{}
	if err := set.Add(key); err != nil || set.Get("KEY") != key || set.Get("nope") != nil {
		t.Error("QualifierTypes lookup")
	}
	if err := set.Add(bad[0]); err == nil {
		t.Error("QualifierTypes.Add must validate")
	}
	set.Add(vm)
	if s := set.Sorted(); len(s) != 2 || s[0] != key {
		t.Error("Sorted")
	}
}

func TestQualifierList(t *testing.T) {
	qs := Qualifiers{
		{Name: "Key", Value: NewBoolean(true)},
		{Name: "Description", Value: NewString("a \"quoted\" text")},
		{Name: "ValueMap", Value: NewStringArray([]string{"1", "2"})},
		{Name: "Abstract", Value: NewBoolean(false)},
		{Name: "MaxLen", Value: Null(TypeUint32)},
	}
	if !qs.Bool("key") || qs.Bool("abstract") || qs.Bool("missing") || qs.Str("DESCRIPTION") != `a "quoted" text` ||
		len(qs.StrArray("valuemap")) != 2 || !qs.Has("MaxLen") {
		t.Error("lookups")
	}
	if got := qs.String(); got != `[Key, Description("a \"quoted\" text"), ValueMap{"1", "2"}, Abstract(false), MaxLen(NULL)]` {
		t.Errorf("MOF = %s", got)
	}
	qs.Set(Qualifier{Name: "KEY", Value: NewBoolean(false)})
	if len(qs) != 5 || qs.Bool("Key") {
		t.Error("Set must replace case-insensitively")
	}
	c := qs.Clone()
	if !qs.Equal(c) {
		t.Error("clone must be equal")
	}
	c.Remove("description")
	if !qs.Has("Description") || c.Has("Description") || qs.Equal(c) {
		t.Error("Remove on a clone must not affect the original")
	}
	reordered := Qualifiers{qs[4], qs[3], qs[2], qs[1], qs[0]}
	if !qs.Equal(reordered) {
		t.Error("Equal ignores order")
	}
	if (Qualifiers{}).String() != "" {
		t.Error("empty list prints nothing")
	}
}
