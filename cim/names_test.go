package cim

import (
	"math/rand"
	"strings"
	"testing"
)

func TestEqualNamesAndFold(t *testing.T) {
	cases := []struct {
		a, b  string
		equal bool
	}{
		{"CIM_Foo", "cim_foo", true},
		{"CIM_Foo", "CIM_FOO", true},
		{"CIM_Foo", "CIM_Fo", false},
		{"", "", true},
		{"a", "b", false},
		{"Name", "Nam\u00e9", false},
		{"\u00c9t\u00e9", "\u00e9T\u00c9", true}, // accented letters fold
		{"\u212aelvin", "kelvin", true},          // Kelvin sign folds to k
		{"stra\u00dfe", "STRASSE", false},        // no full case folding
		{"\u03a3\u03b1", "\u03c3\u0391", true},   // Greek
		{"_1", "_1", true},
	}
	for _, c := range cases {
		if got := EqualNames(c.a, c.b); got != c.equal {
			t.Errorf("EqualNames(%q, %q) = %v, want %v", c.a, c.b, got, c.equal)
		}
		if got := FoldName(c.a) == FoldName(c.b); got != c.equal {
			t.Errorf("FoldName(%q)=%q vs FoldName(%q)=%q: equality %v, want %v", c.a, FoldName(c.a), c.b, FoldName(c.b), got, c.equal)
		}
	}
	if FoldName("CIM_ComputerSystem") != "cim_computersystem" {
		t.Errorf("FoldName lower-cases ASCII: %q", FoldName("CIM_ComputerSystem"))
	}
	if s := "already_folded"; FoldName(s) != s {
		t.Error("folded input must come back unchanged")
	}
}

// FoldName and EqualNames must agree on every pair, including random
// mixtures of ASCII and non-ASCII letters.
func TestFoldConsistentWithEqualNames(t *testing.T) {
	alphabet := []rune("aAbBkK\u212a\u00e9\u00c9\u03c3\u03a3\u03c2_1\u0131I\u0130i\u017fsS")
	rng := rand.New(rand.NewSource(1))
	word := func() string {
		var b strings.Builder
		for n := rng.Intn(4) + 1; n > 0; n-- {
			b.WriteRune(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 20000; i++ {
		a, b := word(), word()
		if EqualNames(a, b) != (FoldName(a) == FoldName(b)) {
			t.Fatalf("disagreement on %q vs %q: EqualNames=%v FoldName %q %q", a, b, EqualNames(a, b), FoldName(a), FoldName(b))
		}
		if EqualNames(a, b) != strings.EqualFold(a, b) {
			t.Fatalf("EqualNames(%q, %q) differs from strings.EqualFold", a, b)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"CIM_Foo", "_x", "a1", "\u00e9t\u00e9", "X"} {
		if !ValidName(ok) {
			t.Errorf("ValidName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "1abc", "a-b", "a b", "a.b", "a\"", "a\xff", "a\U0001F600"} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
	}
	for _, ok := range []string{"root/cimv2", "interop", "root/PG_InterOp"} {
		if !validNamespace(ok) {
			t.Errorf("validNamespace(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "/root", "root/", "root//cimv2", "root/cim v2"} {
		if validNamespace(bad) {
			t.Errorf("validNamespace(%q) = true", bad)
		}
	}
}

func TestNameIndexIsAHint(t *testing.T) {
	props := make([]Property, 20)
	for i := range props {
		props[i].Name = "Prop" + string(rune('A'+i))
	}
	idx := buildIndex(props)
	if got := idx.find(props, "propc"); got != 2 {
		t.Fatalf("find(propc) = %d", got)
	}
	// Appended after the index was built: found by the tail scan.
	props = append(props, Property{Name: "Late"})
	if got := idx.find(props, "LATE"); got != 20 {
		t.Errorf("find(LATE) = %d, want 20", got)
	}
	// A shrunken slice must not be indexed out of range.
	if got := idx.find(props[:3], "PropT"); got != -1 {
		t.Errorf("find on shrunk slice = %d, want -1", got)
	}
	// Long and non-ASCII names take the allocating path.
	long := strings.Repeat("x", 100)
	props = append(props, Property{Name: long}, Property{Name: "\u00c9t\u00e9"})
	idx = buildIndex(props)
	if idx.find(props, strings.ToUpper(long)) != 21 || idx.find(props, "\u00e9T\u00c9") != 22 {
		t.Error("long or non-ASCII names not found")
	}
	var nilIdx *nameIndex
	if nilIdx.find(props, "propb") != 1 {
		t.Error("nil index must scan linearly")
	}
}
