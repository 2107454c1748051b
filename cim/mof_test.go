package cim

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestMOFNonFiniteReals: DSP0221 has no literal for NaN or infinity, so
// the MOFFormat refuses them (wherever they sit), while String still
// shows them for logs.
func TestMOFNonFiniteReals(t *testing.T) {
	if got := NewReal64(math.NaN()).String(); got != "NaN" {
		t.Errorf("String of NaN: %s", got)
	}
	var f MOFFormat
	for _, v := range []Value{NewReal64(math.NaN()), NewReal32(float32(math.Inf(1))), NewReal64Array([]float64{1, math.Inf(-1)})} {
		text, err := f.AppendValue(nil, v)
		if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), "cannot be written in MOF") {
			t.Errorf("%#v: error %v", v, err)
		}
		if string(text) != v.String() {
			t.Errorf("%#v: wrote %s, String gives %s", v, text, v)
		}
	}
	c := NewClass("T_R", "")
	c.AddProperty(Property{Name: "R", Type: TypeReal64, Value: NewReal64(math.Inf(1))})
	if _, err := f.AppendClass(nil, c); err == nil {
		t.Error("a class with an infinite default was written")
	}
	inst := NewInstance("T_R")
	inst.Set("E", NewEmbeddedInstance(func() *Instance {
		e := NewInstance("T_R")
		e.Set("R", NewReal32(float32(math.NaN())))
		return e
	}()))
	if _, err := f.AppendInstance(nil, inst); err == nil {
		t.Error("a NaN inside an embedded instance was written")
	}
	if text, err := f.AppendValue([]byte("x = "), NewReal64(-1.5e-7)); err != nil || string(text) != "x = -1.5E-07" {
		t.Errorf("finite real: %s, %v", text, err)
	}
}

// TestMOFQualifierFlavors: a qualifier prints the flavors it holds, so
// that Class.String round-trips them; given the declarations, only the
// flavors that differ from them.
func TestMOFQualifierFlavors(t *testing.T) {
	restricted := Qualifier{Name: "Description", Value: NewString("x"), Flavor: FlavorDisableOverride | FlavorRestricted}
	if got := restricted.String(); got != `Description("x") : DisableOverride Restricted` {
		t.Errorf("Qualifier.String: %s", got)
	}
	if got := (Qualifier{Name: "Key", Value: NewBoolean(true), Flavor: FlavorToSubclass}).String(); got != "Key : ToSubclass" {
		t.Errorf("boolean qualifier with a flavor: %s", got)
	}

	w := newWorld(t)
	me, _ := w.base()
	// Resolved, every qualifier holds its effective flavors; without the
	// declarations, String must state them all.
	want := `[Abstract : EnableOverride Restricted, Description("root") : EnableOverride ToSubclass Translatable]`
	if got := strings.SplitN(me.String(), "\n", 2)[0]; got != want {
		t.Errorf("resolved class qualifiers:\n%s\nwant\n%s", got, want)
	}
	f := MOFFormat{QualifierType: w.quals.Get}
	text, err := f.AppendClass(nil, me)
	if err != nil || !strings.HasPrefix(string(text), "[Abstract, Description(\"root\")]\n") ||
		!strings.Contains(string(text), `[MaxLen(64), Description("short")]`) {
		t.Errorf("with the declarations, flavors that repeat them are left out:\n%s", text)
	}
	// Against the declaration, only the pairs that differ are written.
	cases := []struct {
		q    Qualifier
		want string
	}{
		{Qualifier{Name: "Override", Value: NewString("A"), Flavor: FlavorEnableOverride | FlavorRestricted}, `Override("A")`},
		{Qualifier{Name: "Override", Value: NewString("A"), Flavor: FlavorToSubclass}, `Override("A") : ToSubclass`},
		{Qualifier{Name: "Description", Value: NewString("d"), Flavor: FlavorDisableOverride | FlavorToSubclass | FlavorTranslatable}, `Description("d") : DisableOverride`},
		{Qualifier{Name: "MaxLen", Value: NewUint32(3), Flavor: FlavorTranslatable}, `MaxLen(3) : Translatable`},
		{Qualifier{Name: "Unknown", Value: NewUint32(3), Flavor: FlavorEnableOverride | FlavorToSubclass}, `Unknown(3) : EnableOverride ToSubclass`},
	}
	for _, c := range cases {
		cls := NewClass("T_Q", "")
		cls.Qualifiers = Qualifiers{c.q}
		text, _ := f.AppendClass(nil, cls)
		if got := strings.SplitN(string(text), "\n", 2)[0]; got != "["+c.want+"]" {
			t.Errorf("%#v: got %s, want [%s]", c.q, got, c.want)
		}
	}
}

// TestMOFWidth: with a Width, long strings become adjacent literals, and
// long arrays, qualifier lists and declarations take several lines; the
// zero format keeps each on one line.
func TestMOFWidth(t *testing.T) {
	long := strings.Repeat("word ", 30) + "end"
	c := NewClass("T_W", "")
	c.Qualifiers = Qualifiers{qDesc(long), q("ValueMap", NewStringArray([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"}))}
	c.AddProperty(Property{Name: "S", Type: TypeString, Value: NewString(long)})
	f := MOFFormat{Width: 40}
	text, err := f.AppendClass(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if len(line) > 40 {
			t.Errorf("line longer than 40: %q", line)
		}
	}
	if !strings.Contains(string(text), "[Description(\"word word word word word \"\n    \"word ") ||
		!strings.Contains(string(text), ",\n ValueMap{") || !strings.Contains(string(text), "    string S = \"word") {
		t.Errorf("layout:\n%s", text)
	}
	if strings.Count(c.String(), "\n") != 4 {
		t.Errorf("String must not wrap:\n%s", c)
	}
	qt := &QualifierType{Name: "Description", Type: TypeString, Scopes: ScopeAny, Flavor: FlavorTranslatable}
	if text, _ := f.AppendQualifierType(nil, qt); string(text) != "Qualifier Description : string,\n    Scope(any),\n    Flavor(Translatable);" {
		t.Errorf("qualifier declaration:\n%s", text)
	}
}
