package mof

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// roundTrip writes a target as MOF and compiles the text again.
func roundTrip(t *testing.T, first *MemTarget) (*MemTarget, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTarget(&buf, first); err != nil {
		t.Fatal(err)
	}
	second := NewMemTarget(nil)
	if _, err := (&Compiler{Target: second}).CompileSource("written.mof", buf.Bytes()); err != nil {
		t.Fatalf("written MOF does not compile: %v\n%s", err, buf.String())
	}
	return second, buf.String()
}

func checkSameContent(t *testing.T, a, b *MemTarget) {
	t.Helper()
	for _, ns := range a.Namespaces() {
		for _, ca := range a.Classes(ns) {
			cb, _ := b.Class(ns, ca.Name)
			if cb == nil || !sameClass(ca, cb) {
				t.Errorf("class %s differs:\n%s\n--- became ---\n%s", ca.Name, classDetails(ca), classDetails(cb))
			}
		}
		ia, ib := a.Instances(ns), b.Instances(ns)
		if len(ia) != len(ib) {
			t.Fatalf("namespace %s: %d instances, then %d", ns, len(ia), len(ib))
		}
		for i := range ia {
			if !ia[i].Equal(ib[i]) || !ia[i].Path.Equal(ib[i].Path) {
				t.Errorf("instance differs:\n%#v\n--- became ---\n%#v", ia[i], ib[i])
			}
		}
	}
}

// TestWriteRoundTrip writes values of every type and form, with the
// characters that need escapes, and checks that they compile back equal.
func TestWriteRoundTrip(t *testing.T) {
	first, _ := mustCompile(t, `
Qualifier Note : string = "a \"note\"", Scope(property, method), Flavor(EnableOverride, Restricted, Translatable);
Qualifier Levels : sint16[3] = {-1, 0, 1}, Scope(any);

[Description("All types." "\n" "Second line with a tab\t and \\ and \x0001a.")]
class T_All {
	[Key] string Id;
	boolean B = true;
	boolean BF = false;
	string S = "quotes \" ' backslash \\ controls \b\f\r\n\t\x0001\x007F nbsp\x00A0 unicode été ☺ 𝄞";
	char16 C = '\'';
	char16 C2 = '\x0007';
	uint8 U8 = 255;
	sint8 S8 = -128;
	uint16 U16 = 0xFFFF;
	sint16 S16 = -32768;
	uint32 U32 = 4294967295;
	sint32 S32 = -2147483648;
	uint64 U64 = 18446744073709551615;
	sint64 S64 = -9223372036854775808;
	real32 R32 = 0.1;
	real32 R32b = 3.4028235E38;
	real64 R64 = 1.7976931348623157E308;
	real64 R64b = 5E-324;
	real64 R64c = -0.0;
	datetime T = "20240229235959.999999-720";
	datetime I = "99999999235959.999999:000";
	datetime W = "2024**********.******+000";
	uint8 Fixed[4] = {1, 2};
	string Arr[] = {"a", NULL, "", "long string that certainly goes past the width at which the writer splits strings into pieces, with no spaces_in_this_very_long_part_ääääääääääääääääääääääääääääääääääääääääää"};
	[Note("x"), Levels{7}] real64 Reals[] = {0.5, -2.25E-10};
	[EmbeddedInstance("T_All")] string Inner;
	[EmbeddedObject] string Obj;
	[Note : DisableOverride ToSubclass] uint32 Go([In, Out] string S[], [In] T_All REF Who, [In, EmbeddedInstance("T_All")] string E);
};

[Association, Description("Refers.")]
class T_Ref {
	[Key] T_All REF A;
	[Key] T_All REF B;
};

instance of T_All as $one {
	Id = "one \"quoted\" \\ id";
	S = "instance value";
	Arr = {"x", NULL};
	Inner = instance of T_All { Id = "inner"; S = "nested \"quote\""; Inner = instance of T_All { Id = "deeper"; }; };
	Obj = "instance of T_Ref { A = \"T_All.Id=\\\"a\\\"\"; B = \"T_All.Id=\\\"b\\\"\"; };";
	Reals = {};
};
instance of T_All as $two { Id = "two"; C = 'z'; };
instance of T_Ref { A = $one; B = $two; };
`)
	second, text := roundTrip(t, first)
	checkSameContent(t, first, second)
	for _, qt := range first.QualifierTypes(DefaultNamespace) {
		qt2, _ := second.QualifierType(DefaultNamespace, qt.Name)
		if !qt.Equal(qt2) || qt.Flavor != qt2.Flavor {
			t.Errorf("qualifier %v became %v", qt, qt2)
		}
	}
	// Long strings are split into adjacent literals on several lines.
	if !strings.Contains(text, "\"long string that certainly goes past the width at which the writer \"\n") {
		t.Errorf("long string not split:\n%s", text)
	}
	// The second writing is identical: the writer's output is a fixed point.
	_, again := roundTrip(t, second)
	if again != text {
		t.Error("writing twice gives different text")
	}
}

// TestWriteFlavors checks that a qualifier whose flavors differ from its
// declaration keeps them through a round trip.
func TestWriteFlavors(t *testing.T) {
	first, _ := mustCompile(t, `
class T_F {
	[Description("restricted") : Restricted DisableOverride] string A;
	[Description("plain")] string B;
};
class T_G : T_F { };
`)
	second, text := roundTrip(t, first)
	checkSameContent(t, first, second)
	g, _ := second.Class(DefaultNamespace, "T_G")
	if q := g.Property("A").Qualifiers.Get("Description"); q != nil {
		t.Errorf("a Restricted qualifier propagated: %v", q)
	}
	// Only the flavors that differ from the declaration's are written
	// (Description is declared Translatable).
	if !strings.Contains(text, `[Description("restricted") : DisableOverride Restricted]`) ||
		!strings.Contains(text, `[Description("plain")]`) {
		t.Errorf("flavors written wrongly:\n%s", text)
	}
}

func TestWriteOrdersClasses(t *testing.T) {
	target, _ := mustCompile(t, `
class T_Base { [Key] string K; };
class T_Mid : T_Base { };
class T_Leaf : T_Mid { };
[Association] class T_Assoc { [Key] T_Leaf REF L; [Key] T_Base REF B; };
`)
	classes := target.Classes(DefaultNamespace)
	reversed := make([]*cim.Class, len(classes))
	for i, c := range classes {
		reversed[len(classes)-1-i] = c
	}
	var order []string
	for _, c := range orderClasses(reversed) {
		order = append(order, c.Name)
	}
	if strings.Join(order, " ") != "T_Base T_Mid T_Leaf T_Assoc" {
		t.Errorf("order: %v", order)
	}
}

func TestWriteRefusesNonFiniteReals(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	inst := cim.NewInstance("T_X")
	inst.Set("R", cim.NewReal64(math.NaN()))
	w.Instance(inst)
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "cannot be written in MOF") {
		t.Errorf("NaN: %v", err)
	}
}

// TestWriteEscapes checks the escapes the writer shares with cim's String:
// \x escapes always have four digits, so that a following hex digit is
// not taken as part of the escape, and compile back to the same text.
func TestWriteEscapes(t *testing.T) {
	const tricky = "\x01a\x1fF\u200b\\\"\u00e9"
	target, _ := mustCompile(t, `class T_E { [Key] string K; char16 C; };`)
	inst := cim.NewInstance("T_E")
	inst.Set("K", cim.NewString(tricky))
	inst.Set("C", cim.NewChar16(0x1F))
	if err := target.PutInstance(DefaultNamespace, inst); err != nil {
		t.Fatal(err)
	}
	second, text := roundTrip(t, target)
	if !strings.Contains(text, `K = "\x0001a\x001FF\x200B\\\"é";`) || !strings.Contains(text, `C = '\x001F';`) {
		t.Errorf("escapes written wrongly:\n%s", text)
	}
	if got := second.Instances(DefaultNamespace)[0]; got.Get("K").Str() != tricky || got.Get("C").Char16() != 0x1F {
		t.Errorf("read back as %#v", got)
	}
	if cimText := cim.NewString(tricky).String(); !strings.Contains(text, cimText) {
		t.Errorf("cim writes %s, unlike the writer", cimText)
	}
}

// TestClassStringRoundTrip: cim's Class.String writes the flavors a
// resolved class's qualifiers hold, so that its text compiles back to the
// same class, as the Writer's does.
func TestClassStringRoundTrip(t *testing.T) {
	first, _ := mustCompile(t, `
[Abstract : ToSubclass]
class T_F {
	[Description("restricted") : Restricted DisableOverride] string A;
	[Description("plain"), Key] string B;
	string C;
};
class T_G : T_F { [Override("C") : ToSubclass] string C = "g"; };
class T_H : T_G { };
`)
	var src strings.Builder
	for _, qt := range first.QualifierTypes(DefaultNamespace) {
		src.WriteString(qt.String() + "\n")
	}
	for _, c := range first.Classes(DefaultNamespace) {
		src.WriteString(c.String())
	}
	second := NewMemTarget(nil)
	if _, err := (&Compiler{Target: second}).CompileSource("string.mof", []byte(src.String())); err != nil {
		t.Fatalf("cim's MOF does not compile: %v\n%s", err, src.String())
	}
	checkSameContent(t, first, second)
}
