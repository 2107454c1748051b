package mof

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// testQualifiers is the number of declarations in testdata/qualifiers.mof.
const testQualifiers = 22

// compileText compiles src after the test qualifier declarations into a
// fresh MemTarget.
func compileText(t *testing.T, src string) (*MemTarget, *Result, ErrorList) {
	t.Helper()
	target := NewMemTarget(nil)
	c := &Compiler{Target: target}
	res, err := c.CompileSource("testdata/t.mof", []byte("#pragma include (\"qualifiers.mof\")\n"+src))
	var list ErrorList
	if err != nil && !errors.As(err, &list) {
		t.Fatalf("unexpected error type %T: %v", err, err)
	}
	return target, res, list
}

func mustCompile(t *testing.T, src string) (*MemTarget, *Result) {
	t.Helper()
	target, res, errs := compileText(t, src)
	if len(errs) > 0 {
		t.Fatalf("compile errors:\n%v", errs)
	}
	return target, res
}

// wantErrors checks that compiling src gives exactly the listed messages
// (each a substring, matched in order) at the given lines of src (line 1 is
// the first line of src).
func wantErrors(t *testing.T, src string, want ...string) {
	t.Helper()
	_, _, errs := compileText(t, src)
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d: %q\n  does not contain %q", i, errs[i].Error(), w)
		}
	}
}

var errorMarker = regexp.MustCompile(`// error (\d+): (.*)$`)

// TestErrorFile compiles testdata/errors.mof, whose lines say which error
// they must give and at which column, and checks one message per marked
// line and none elsewhere.
func TestErrorFile(t *testing.T) {
	const name = "testdata/errors.mof"
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type mark struct {
		col  int
		text string
	}
	want := map[int]mark{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if m := errorMarker.FindStringSubmatch(sc.Text()); m != nil {
			col, _ := strconv.Atoi(m[1])
			want[line] = mark{col, m[2]}
		}
	}
	if len(want) < 15 {
		t.Fatalf("only %d error markers found", len(want))
	}
	target := NewMemTarget(nil)
	res, err := (&Compiler{Target: target}).CompileFiles(name)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("expected an ErrorList, got %v", err)
	}
	seen := map[int]bool{}
	for _, e := range list {
		m, ok := want[e.Pos.Line]
		switch {
		case e.Pos.File != name:
			t.Errorf("error in unexpected file: %v", e)
		case !ok:
			t.Errorf("unexpected error: %v", e)
		case seen[e.Pos.Line]:
			t.Errorf("second error on line %d: %v", e.Pos.Line, e)
		case e.Pos.Col != m.col || !strings.Contains(e.Msg, m.text):
			t.Errorf("line %d: got %v\n  want column %d and %q", e.Pos.Line, e, m.col, m.text)
		}
		seen[e.Pos.Line] = true
	}
	for line, m := range want {
		if !seen[line] {
			t.Errorf("line %d: no error, want %q", line, m.text)
		}
	}
	// Messages come in source order.
	for i := 1; i < len(list); i++ {
		if list[i].Pos.Line < list[i-1].Pos.Line {
			t.Errorf("messages out of order: %v before %v", list[i-1], list[i])
		}
	}
	if res.Classes != 1 || res.Instances != 0 {
		t.Errorf("only T_Base should compile cleanly: %+v", res)
	}
}

// TestLiteralConversions converts every literal form to every type it fits
// and checks the typed value, as a property default and as an array
// element.
func TestLiteralConversions(t *testing.T) {
	tests := []struct {
		typ, lit string
		want     cim.Value
	}{
		{"uint8", "255", cim.NewUint8(255)},
		{"uint8", "0xFF", cim.NewUint8(255)},
		{"uint8", "11111111b", cim.NewUint8(255)},
		{"uint8", "0377", cim.NewUint8(255)},
		{"sint8", "-128", cim.NewSint8(-128)},
		{"sint8", "-0x80", cim.NewSint8(-128)},
		{"sint8", "+127", cim.NewSint8(127)},
		{"sint8", "-10000000b", cim.NewSint8(-128)},
		{"uint16", "65535", cim.NewUint16(65535)},
		{"sint16", "-32768", cim.NewSint16(-32768)},
		{"uint32", "4294967295", cim.NewUint32(4294967295)},
		{"sint32", "-2147483648", cim.NewSint32(-2147483648)},
		{"uint64", "18446744073709551615", cim.NewUint64(18446744073709551615)},
		{"uint64", "0xFFFFFFFFFFFFFFFF", cim.NewUint64(18446744073709551615)},
		{"sint64", "-9223372036854775808", cim.NewSint64(-9223372036854775808)},
		{"sint64", "9223372036854775807", cim.NewSint64(9223372036854775807)},
		{"sint64", "-0", cim.NewSint64(0)},
		{"real32", "1.5", cim.NewReal32(1.5)},
		{"real32", "0.1", cim.NewReal32(0.1)},
		{"real32", "-3.4028235E38", cim.NewReal32(-3.4028235e38)},
		{"real32", "7", cim.NewReal32(7)},
		{"real64", "-.5e-3", cim.NewReal64(-0.0005)},
		{"real64", "0.1", cim.NewReal64(0.1)},
		{"real64", "42", cim.NewReal64(42)},
		{"real64", "-0x10", cim.NewReal64(-16)},
		{"boolean", "TRUE", cim.NewBoolean(true)},
		{"boolean", "false", cim.NewBoolean(false)},
		{"char16", "'x'", cim.NewChar16('x')},
		{"char16", `'\x263A'`, cim.NewChar16(0x263A)},
		{"char16", `'\t'`, cim.NewChar16('\t')},
		{"string", `"a\"b\\c\x41\X00e9\n"`, cim.NewString("a\"b\\cAé\n")},
		{"string", `"con" "cat" "enation"`, cim.NewString("concatenation")},
		{"string", `""`, cim.NewString("")},
		{"datetime", `"20240131235959.123456-300"`, mustDatetime(t, "20240131235959.123456-300")},
		{"datetime", `"00000001120032.000000:000"`, mustDatetime(t, "00000001120032.000000:000")},
		{"datetime", `"20240131******.******+000"`, mustDatetime(t, "20240131******.******+000")},
		{"uint32", "NULL", cim.Null(cim.TypeUint32)},
		{"string", "null", cim.Null(cim.TypeString)},
	}
	for i, tc := range tests {
		t.Run(tc.typ+" "+tc.lit, func(t *testing.T) {
			src := fmt.Sprintf("class T_L%d { %s P = %s; %s A[] = {%s, NULL}; };", i, tc.typ, tc.lit, tc.typ, tc.lit)
			target, _ := mustCompile(t, src)
			cls, _ := target.Class(DefaultNamespace, fmt.Sprintf("T_L%d", i))
			got := cls.Property("P").Value
			if !got.Equal(tc.want) {
				t.Errorf("scalar: got %#v, want %#v", got, tc.want)
			}
			arr := cls.Property("A").Value
			if !arr.IsArray() || arr.Len() != 2 || !arr.Index(0).Equal(tc.want) || !arr.IsNullAt(1) {
				t.Errorf("array: got %#v", arr)
			}
		})
	}
}

func mustDatetime(t *testing.T, s string) cim.Value {
	t.Helper()
	d, err := cim.ParseDatetime(s)
	if err != nil {
		t.Fatal(err)
	}
	return cim.NewDatetime(d)
}

func TestLiteralTypeErrors(t *testing.T) {
	tests := []struct{ typ, lit, msg string }{
		{"uint8", "256", "value 256 is out of range for uint8 (0..255)"},
		{"uint8", "-1", "value -1 is out of range for uint8"},
		{"sint8", "128", "out of range for sint8 (-128..127)"},
		{"sint8", "-129", "out of range for sint8"},
		{"uint16", "0x10000", "out of range for uint16"},
		{"sint32", "2147483648", "out of range for sint32"},
		{"uint64", "-5", "out of range for uint64"},
		{"uint32", "1.5", "expected uint32, found real number 1.5"},
		{"uint32", `"5"`, "numbers are written without quotes"},
		{"uint32", "TRUE", "expected uint32, found boolean TRUE"},
		{"real32", "1e39", "value 1e39 is out of range for real32"},
		{"real64", `"1.5"`, "expected real64, found string"},
		{"boolean", `"true"`, "write TRUE or FALSE without quotes"},
		{"boolean", "0", "expected boolean, found integer 0"},
		{"char16", `"c"`, "a char16 is written in single quotes"},
		{"char16", "65", "write a char16 in single quotes"},
		{"string", "5", "write it in double quotes"},
		{"string", "{\"a\"}", "expected string, found an array"},
		{"datetime", `"20241301000000.000000+000"`, "invalid datetime"},
		{"datetime", "20240101", "write it in double quotes"},
	}
	for i, tc := range tests {
		src := fmt.Sprintf("class T_E%d {\n %s P = %s;\n};", i, tc.typ, tc.lit)
		_, _, errs := compileText(t, src)
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, tc.msg) || errs[0].Pos.Line != 3 || errs[0].Pos.Col != len(tc.typ)+7 {
			t.Errorf("%s = %s: got %v, want one error at line 3 col %d containing %q", tc.typ, tc.lit, errs, len(tc.typ)+7, tc.msg)
		}
	}
	wantErrors(t, `class T_A { uint8 A[] = 5; };`, "expected uint8[], found a single integer 5")
	wantErrors(t, `class T_A { uint8 A[] = {1, 300, "x"}; };`, "value 300 is out of range", `expected uint8, found string "x"`)
}

func TestQualifierDeclarations(t *testing.T) {
	target, res := mustCompile(t, `
Qualifier Colour : string = "red", Scope(property, method), Flavor(DisableOverride, Restricted, Translatable);
Qualifier Sizes : uint16[4] = {1, 2}, Scope(any);
Qualifier Weight : real32, Scope(class, association), Flavor(ToSubclass);
Qualifier Old : boolean, Scope(schema, qualifier, class);
`)
	if res.QualifierTypes != testQualifiers+4 || len(res.Warnings) != 2 {
		t.Errorf("%d qualifier types (want %d + 4), warnings %v", res.QualifierTypes, testQualifiers, res.Warnings)
	}
	colour, _ := target.QualifierType(DefaultNamespace, "colour")
	if colour == nil || colour.Type != cim.TypeString || colour.Default.Str() != "red" ||
		colour.Scopes != cim.ScopeProperty|cim.ScopeMethod ||
		colour.Flavor != cim.FlavorDisableOverride|cim.FlavorRestricted|cim.FlavorTranslatable {
		t.Errorf("Colour: %v", colour)
	}
	sizes, _ := target.QualifierType(DefaultNamespace, "Sizes")
	if sizes == nil || !sizes.IsArray || sizes.ArraySize != 4 || sizes.Default.Len() != 2 || sizes.Scopes != cim.ScopeAny {
		t.Errorf("Sizes: %v", sizes)
	}
	if old, _ := target.QualifierType(DefaultNamespace, "Old"); old == nil || old.Scopes != cim.ScopeClass {
		t.Errorf("Old (obsolete scopes dropped): %v", old)
	}
	wantErrors(t, `
Qualifier Bad1 : string, Scope(property, banana);
Qualifier Bad2 : uint8 = 300, Scope(any);
Qualifier Bad3 : boolean, Scope(any), Flavor(EnableOverride, DisableOverride);
Qualifier Bad4 : boolean, Scope(any), Flavor(Sticky);
Qualifier Description : uint32, Scope(any);
Qualifier Bad5 : MyClass REF, Scope(any);
`,
		"qualifier Bad1: unknown scope banana",
		"qualifier Bad2: value 300 is out of range for uint8",
		"flavors EnableOverride and DisableOverride contradict each other",
		"qualifier Bad4: unknown flavor Sticky",
		"qualifier Description is already declared differently at testdata/qualifiers.mof:",
		`unknown data type "MyClass"`,
	)
}

func TestClassesAndResolution(t *testing.T) {
	target, res := mustCompile(t, `
[Abstract, Description("The root.")]
class T_Root {
	[Key, Description("Id.")] string Id;
	[ValueMap{"0", "2", "3..5", ".."}, Values{"Unknown", "On", "Range", "Other"}] uint16 State = 2;
	uint8 Data[16];
	[Description("Do it.")] uint32 Run([In, Out] string Text, [In] uint32 Codes[], [In(false), Out, EmbeddedInstance("T_Thing")] string Result);
};

class T_Thing : T_Root {
	[Override("State")] uint16 State = 3;
	string Name = "thing";
	[Override("Run"), Description("Do it better.")] uint32 Run([In, Out] string Text, [In] uint32 Codes[], [In(false), Out, EmbeddedInstance("T_Thing")] string Result);
};

[Association, Aggregation(false)]
class T_Link {
	[Key] T_Root REF Left;
	[Key] T_Thing REF Right;
};

[Indication]
class T_Event {
	datetime When;
	[EmbeddedObject] string Source;
};

class T_SubEvent : T_Event { uint32 Code; };
`)
	_ = res
	thing, _ := target.Class(DefaultNamespace, "T_Thing")
	if thing == nil {
		t.Fatal("T_Thing missing")
	}
	if got := thing.KeyNames(); len(got) != 1 || got[0] != "Id" {
		t.Errorf("keys: %v", got)
	}
	st := thing.Property("State")
	if st.ClassOrigin != "T_Thing" || st.Propagated || st.Value.Uint16() != 3 || len(st.Qualifiers.StrArray("ValueMap")) != 4 {
		t.Errorf("overridden State: %#v %v", st, st.Qualifiers)
	}
	if id := thing.Property("Id"); id.ClassOrigin != "T_Root" || !id.Propagated || !id.IsKey() {
		t.Errorf("inherited Id: %#v", id)
	}
	if data := thing.Property("Data"); !data.IsArray || data.ArraySize != 16 || data.Type != cim.TypeUint8 {
		t.Errorf("fixed array: %#v", data)
	}
	if thing.IsAbstract() {
		t.Error("Abstract is Restricted and must not propagate")
	}
	run := thing.Method("Run")
	if run == nil || run.ClassOrigin != "T_Thing" || run.Qualifiers.Str("Description") != "Do it better." || len(run.Parameters) != 3 {
		t.Fatalf("method Run: %#v", run)
	}
	if p := run.Parameters[2]; !p.IsOut() || p.IsIn() || p.EmbeddedKind() != cim.EmbeddedInstance {
		t.Errorf("parameter Result: %#v", p)
	}
	link, _ := target.Class(DefaultNamespace, "T_Link")
	if !link.IsAssociation() || len(link.ReferenceNames()) != 2 || link.Property("Right").ReferenceClass != "T_Thing" {
		t.Errorf("association: %#v", link)
	}
	sub, _ := target.Class(DefaultNamespace, "T_SubEvent")
	if !sub.IsIndication() || sub.Property("Source").EmbeddedKind() != cim.EmbeddedObject {
		t.Errorf("indication subclass: %#v", sub)
	}
}

func TestClassErrors(t *testing.T) {
	wantErrors(t, `
class T_A { [Key] string K; };
class T_B : T_A { [Key] string K2; };
class T_C : T_D { };
class T_D { };
class T_A { };
[Terminal] class T_E { };
class T_F : T_E { };
class T_G { string X; string x; uint32 M(); uint32 m(); string X(); };
[Association] class T_H { T_Nothing REF R; T_A REF Other; };
class T_I { [EmbeddedInstance("T_None")] string E; [EmbeddedInstance("T_A")] uint32 N; };
[Association] class T_J : T_A { };
class T_K { uint32 M([In] string A, string a); T_A REF R(); };
class T_V { [ValueMap{"0", "1"}, Values{"Off"}] uint8 S; [ValueMap{"zero"}] uint8 T; [ValueMap{"any"}] string U; };
`,
		"key property K2 cannot be added: superclass T_A already defines keys",
		"unknown superclass T_D (it is declared later, at testdata/t.mof:6:7; declare it first)",
		"class T_A is already declared at testdata/t.mof:3:7",
		"superclass T_E is Terminal",
		"duplicate property x",
		"duplicate method m",
		"method X has the name of the property declared at",
		"property R refers to class T_Nothing, which does not exist",
		"EmbeddedInstance names class T_None, which is not declared",
		"qualifier EmbeddedInstance requires type string, not uint32",
		"association T_J cannot be a subclass of T_A",
		"duplicate parameter a",
		"a method cannot return a reference",
		"property S: ValueMap has 2 entries but Values has 1",
		`property T: invalid ValueMap entry "zero"`,
	)
	wantErrors(t, `
class T_A { [Key] string K; [Description("x")] string D; uint32 N; uint32 M(uint8 P); };
class T_B : T_A {
	[Override("N")] string N;
	[Override("M")] uint32 M(uint16 P);
	[Override("K"), Key(false)] string K;
	[Override("Other")] string D;
};
`,
		"property N of type string cannot override T_A.N of type uint32",
		"does not match the overridden T_A.M",
		"qualifier Key has flavor DisableOverride and cannot be changed from true to false",
		`Override("Other") names another element`,
	)
	// ValueMap and Values must agree after inheritance too: an override
	// that sets one of them is checked against the other it inherits.
	wantErrors(t, `
class T_A { [ValueMap{"1", "2"}] uint16 S; [Values{"a", "b"}] uint16 V; [ValueMap{"1"}] uint16 M([ValueMap{"1"}] uint8 P); };
class T_B : T_A {
	[Override("S"), Values{"one"}] uint16 S;
	[Override("V"), ValueMap{"1", "x"}] uint16 V;
	[Override("M"), Values{"a", "b"}] uint16 M([Values{"p", "q"}] uint8 P);
};
class T_C : T_A { [Override("S"), Values{"one", "two"}] uint16 S; };
`,
		"class T_B: property S: ValueMap has 2 entries but Values has 1",
		`class T_B: property V: invalid ValueMap entry "x"`,
		"class T_B: method M: ValueMap has 1 entries but Values has 2",
		"class T_B: method M: parameter P: ValueMap has 1 entries but Values has 2",
	)
}

func TestInstancesAndAliases(t *testing.T) {
	target, res := mustCompile(t, `
class T_Node {
	[Key] string Name;
	uint32 Weight = 7;
	datetime Born;
	char16 Initial;
	string Tags[];
	[EmbeddedInstance("T_Node")] string Child;
	[EmbeddedObject] string Anything;
};
[Association] class T_Edge {
	[Key] T_Node REF From;
	[Key] T_Node REF To;
	real64 Cost;
};

// Forward references: $b and $c are declared after the edges.
instance of T_Edge { From = $a; To = $b; Cost = 1.5; };
instance of T_Edge as $e2 { From = $b; To = "T_Node.Name=\"c\""; };

instance of T_Node as $a {
	Name = "a";
	Born = "20240229120000.000000+060";
	Initial = 'a';
	Tags = {"x", "y"};
	Child = instance of T_Node { Name = "inner"; Weight = 1; };
	Anything = "instance of T_Node { Name = \"text\"; };";
};
instance of T_Node as $b { Name = "b"; Child = $a; };
instance of T_Node as $c { Name = "c"; Weight = 0x10; };
`)
	if res.Instances != 5 {
		t.Fatalf("%d instances, want 5", res.Instances)
	}
	insts := target.Instances(DefaultNamespace)
	e1 := insts[0]
	if from := e1.Get("From").Ref(); from == nil || from.String() != `T_Node.Name="a"` {
		t.Errorf("forward alias reference: %v", e1.Get("From"))
	}
	if e1.Path.String() != `T_Edge.From="T_Node.Name=\"a\"",To="T_Node.Name=\"b\""` {
		t.Errorf("association path: %s", e1.Path)
	}
	if to := insts[1].Get("To").Ref(); to == nil || to.String() != `T_Node.Name="c"` {
		t.Errorf("reference given as a path string: %v", insts[1].Get("To"))
	}
	a := insts[2]
	if a.Get("Weight").Uint32() != 7 || a.Get("Initial").Char16() != 'a' || len(a.Get("Tags").StrArray()) != 2 {
		t.Errorf("instance a: %#v", a)
	}
	if born := a.Get("Born").Datetime(); born.String() != "20240229120000.000000+060" {
		t.Errorf("datetime: %v", born)
	}
	if child := a.Get("Child").Instance(); child == nil || child.Get("Name").Str() != "inner" || child.Get("Weight").Uint32() != 1 {
		t.Errorf("embedded instance: %#v", a.Get("Child"))
	}
	if any := a.Get("Anything").Instance(); any == nil || any.Get("Name").Str() != "text" {
		t.Errorf("embedded object from a string: %#v", a.Get("Anything"))
	}
	if child := insts[3].Get("Child").Instance(); child == nil || child.Get("Name").Str() != "a" {
		t.Errorf("embedded instance from an alias: %#v", insts[3].Get("Child"))
	}
	if insts[4].Get("Weight").Uint32() != 16 {
		t.Errorf("hex value: %v", insts[4].Get("Weight"))
	}

	wantErrors(t, `
[Abstract] class T_Abs { [Key] string K; };
class T_N { [Key] string K; T_N2 REF R; };
`, "a reference is only allowed in an association")
	wantErrors(t, `
[Abstract] class T_Abs { [Key] string K; };
class T_N { [Key] string K; [EmbeddedInstance("T_N")] string E; };
[Association] class T_R { [Key] T_N REF A; [Key] T_N REF B; };
instance of T_Abs { K = "x"; };
instance of T_N { };
instance of T_N { K = "dup"; K = "dup2"; };
instance of T_N { K = "same"; };
instance of T_N { K = "same"; };
instance of T_R as $loop { A = $loop; B = $nowhere; };
instance of T_N { K = "e"; E = instance of T_R { }; };
instance of T_N { K = 5; };
instance of T_N as $x { K = "x1"; };
instance of T_N as $x { K = "x2"; };
instance of T_N { K = "e2"; E = "instance of T_Gone { };"; };
instance of T_N { K = "e3"; E = "class {"; };
`,
		"class T_Abs is abstract and cannot have instances",
		"key property K of class T_N has no value",
		"property K is set twice",
		`instance T_N.K="same" is already declared at testdata/t.mof:9:1`,
		"alias $loop: its key values refer back to itself",
		"alias $nowhere is not defined",
		"the embedded instance is of class T_R, but EmbeddedInstance requires T_N or a subclass",
		"expected string, found integer 5",
		"alias $x is already defined at testdata/t.mof:14:20",
		"testdata/t.mof:16:33: instance of T_N: property E: in the embedded object, line 1 column 13: instance of unknown class T_Gone",
		"testdata/t.mof:17:33: instance of T_N: property E: in the embedded object, line 1 column 7: expected a class name",
	)
}

func TestPragmas(t *testing.T) {
	target, res := mustCompile(t, `
#pragma locale ("en_US")
#pragma namespace ("root/one")
#pragma include ("qualifiers.mof")
class T_One { [Key] string K; };
instance of T_One as $one { K = "1"; };
#pragma namespace ("\\\\.\\root\\two")
#pragma include ("qualifiers.mof")
[Association] class T_Two { [Key] T_Two REF Self; [Key] T_Two REF Other; };
#pragma nonlocal ("somewhere")
#pragma classflags ("forceupdate")
#pragma frobnicate ("x")
`)
	if got := res.Namespaces; len(got) != 3 || got[1] != "root/one" || got[2] != "root/two" {
		t.Errorf("namespaces: %v", got)
	}
	if c, _ := target.Class("root/one", "T_One"); c == nil {
		t.Error("T_One not in root/one")
	}
	if c, _ := target.Class("root/two", "T_Two"); c == nil {
		t.Error("T_Two not in root/two (WMI-style namespace path)")
	}
	if c, _ := target.Class(DefaultNamespace, "T_One"); c != nil {
		t.Error("T_One leaked into root/cimv2")
	}
	if len(res.Warnings) != 3 || !strings.Contains(res.Warnings[2].Msg, "unknown #pragma frobnicate is ignored") {
		t.Errorf("warnings: %v", res.Warnings)
	}

	wantErrors(t, `
#pragma include ("nonexistent.mof")
#pragma locale ("en US")
#pragma namespace ("root//bad")
#pragma include ("cycle_a.mof")
`,
		"cannot read testdata/nonexistent.mof: no such file",
		"#pragma locale takes one locale in double quotes",
		`invalid namespace name "root//bad"`,
		"include cycle: testdata/cycle_a.mof includes testdata/cycle_b.mof includes testdata/cycle_a.mof",
	)
}

// recordingTarget is a Target that logs its writes, over a MemTarget. It
// can be told to fail a write, like a repository refusing a change.
type recordingTarget struct {
	*MemTarget
	writes []string
	failOn string
}

func (r *recordingTarget) EnsureNamespace(ns string) error {
	r.writes = append(r.writes, "ns "+ns)
	return r.MemTarget.EnsureNamespace(ns)
}

func (r *recordingTarget) SetQualifierType(ns string, qt *cim.QualifierType) error {
	r.writes = append(r.writes, "qualifier "+qt.Name)
	return r.MemTarget.SetQualifierType(ns, qt)
}

func (r *recordingTarget) PutClass(ns string, c *cim.Class) error {
	if c.Name == r.failOn {
		return cim.Errorf(cim.ErrClassHasInstances, "class %s has instances", c.Name)
	}
	r.writes = append(r.writes, "class "+c.Name)
	return r.MemTarget.PutClass(ns, c)
}

func (r *recordingTarget) PutInstance(ns string, inst *cim.Instance) error {
	r.writes = append(r.writes, "instance "+inst.Path.String())
	return r.MemTarget.PutInstance(ns, inst)
}

// TestStagedCompile checks the all-or-nothing behaviour against a Target
// that is not a MemTarget: nothing is written when the MOF has an error,
// everything in source order otherwise, and a second compile of the same
// MOF sees the existing definitions through the Target.
func TestStagedCompile(t *testing.T) {
	const good = `#pragma include ("qualifiers.mof")
class T_A { [Key] string K; };
class T_B : T_A { string More; };
instance of T_B { K = "b"; More = "x"; };
`
	rec := &recordingTarget{MemTarget: NewMemTarget(nil)}
	c := &Compiler{Target: rec}
	if _, err := c.CompileSource("testdata/good.mof", []byte(good+"class T_Bad : T_Nowhere { };\n")); err == nil {
		t.Fatal("expected an error")
	}
	if len(rec.writes) != 0 {
		t.Fatalf("a failed compile wrote %v", rec.writes)
	}
	res, err := c.CompileSource("testdata/good.mof", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	n := testQualifiers
	if len(rec.writes) != 1+n+3 || rec.writes[0] != "ns root/cimv2" || rec.writes[1] != "qualifier Association" ||
		rec.writes[n+1] != "class T_A" || rec.writes[n+2] != "class T_B" || rec.writes[n+3] != `instance T_B.K="b"` {
		t.Errorf("writes: %v", rec.writes)
	}
	if res.Classes != 2 || res.Instances != 1 {
		t.Errorf("result: %+v", res)
	}
	// A second run compiles against what the Target holds: a class
	// deriving from T_B needs no redeclaration of T_A and T_B.
	rec.writes = nil
	if _, err := c.CompileSource("testdata/more.mof", []byte(`class T_C : T_B { uint8 N = 1; };`)); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 2 || rec.writes[1] != "class T_C" {
		t.Errorf("incremental writes: %v", rec.writes)
	}
	// A Target that refuses a write stops the replay with a positioned
	// error.
	rec.failOn = "T_D"
	_, err = c.CompileSource("testdata/more.mof", []byte("class T_C2 : T_B { };\nclass T_D : T_B { };\n"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Pos.Line != 2 || !strings.Contains(list[0].Msg, "class T_D: class T_D has instances") {
		t.Errorf("refused write: %v", err)
	}
	if !errors.Is(err, cim.ErrClassHasInstances) {
		t.Errorf("the Target's error is not wrapped: %v", err)
	}
}

func TestMemTargetRedefinition(t *testing.T) {
	target := NewMemTarget(nil)
	c := &Compiler{Target: target}
	src := `#pragma include ("qualifiers.mof")
class T_A { [Key] string K; };
class T_B : T_A { };
instance of T_B { K = "x"; };
`
	if _, err := c.CompileSource("testdata/r.mof", []byte(src)); err != nil {
		t.Fatal(err)
	}
	// The same MOF again: identical definitions are no-ops.
	if _, err := c.CompileSource("testdata/r.mof", []byte(src)); err != nil {
		t.Fatalf("recompiling identical MOF: %v", err)
	}
	if n := len(target.Classes(DefaultNamespace)); n != 2 {
		t.Errorf("%d classes after recompiling", n)
	}
	// Changing a class that has subclasses is refused.
	_, err := c.CompileSource("testdata/r2.mof", []byte(`class T_A { [Key] string K; string New; };`))
	if !errors.Is(err, cim.ErrClassHasChildren) {
		t.Errorf("changing a class with subclasses: %v", err)
	}
	// A leaf class with instances cannot change either.
	_, err = c.CompileSource("testdata/r3.mof", []byte(`class T_B : T_A { string New; };`))
	if !errors.Is(err, cim.ErrClassHasInstances) {
		t.Errorf("changing a class with instances: %v", err)
	}
}

// TestResolutionErrorsPlaced: every violation cim.ResolveClassAll finds
// in a class is reported, each at the element it concerns: the qualifier
// at fault, else the element's name, else the class's name.
func TestResolutionErrorsPlaced(t *testing.T) {
	_, _, errs := compileText(t, `[Association] class T_L { [Key] T_L REF A; [Key] T_L REF B; uint32 M([In] uint8 P); };
[Association(false)] class T_M : T_L {
	[Key] string Extra;
	[Override("M")] uint32 M([Description("p"), In(false)] uint8 P);
};
[Association]
class T_One { [Key] T_L REF A; };
[Association] class T_Two : T_L { };
`)
	want := []struct {
		line, col int
		msg       string
	}{
		{3, 2, "class T_M: qualifier Association has flavor DisableOverride and cannot be changed from true to false"},
		{4, 15, "class T_M: key property Extra cannot be added: superclass T_L already defines keys"},
		{5, 46, "class T_M: method M parameter P: qualifier In has flavor DisableOverride"},
		{8, 7, "class T_One: an association needs at least two references, but it has 1"},
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if e := errs[i]; e.Pos.Line != w.line || e.Pos.Col != w.col || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("error %d: %v\n  want %d:%d: %s", i, e, w.line, w.col, w.msg)
		}
	}
}
