package mof

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// parseValue parses "instance of X { P = <lit>; };" and returns the value.
func parseValue(t *testing.T, lit string) (*Value, error) {
	t.Helper()
	f, err := Parse("v.mof", []byte("instance of X { P = "+lit+"; };"))
	if len(f.Productions) != 1 {
		return nil, err
	}
	inst := f.Productions[0].(*InstanceDecl)
	if len(inst.Properties) != 1 {
		return nil, err
	}
	return inst.Properties[0].Value, err
}

func TestIntegerLiterals(t *testing.T) {
	tests := []struct {
		lit  string
		mag  uint64
		neg  bool
		base int
	}{
		{"0", 0, false, 10},
		{"42", 42, false, 10},
		{"+42", 42, false, 10},
		{"-42", 42, true, 10},
		{"18446744073709551615", math.MaxUint64, false, 10},
		{"-9223372036854775808", 1 << 63, true, 10},
		{"0x1F", 0x1f, false, 16},
		{"0XfF", 0xff, false, 16},
		{"-0x10", 16, true, 16},
		{"0xFFFFFFFFFFFFFFFF", math.MaxUint64, false, 16},
		{"1010b", 10, false, 2},
		{"1010B", 10, false, 2},
		{"-1b", 1, true, 2},
		{"0b", 0, false, 2},
		{"017", 15, false, 8},
		{"-017", 15, true, 8},
		{"00", 0, false, 8},
	}
	for _, tc := range tests {
		v, err := parseValue(t, tc.lit)
		if err != nil {
			t.Errorf("%s: %v", tc.lit, err)
			continue
		}
		if v.Kind != IntValue || v.Int != tc.mag || v.Neg != tc.neg || v.Base != tc.base || v.Raw != tc.lit {
			t.Errorf("%s: got kind %v %d neg=%v base %d raw %q", tc.lit, v.Kind, v.Int, v.Neg, v.Base, v.Raw)
		}
	}
}

func TestRealLiterals(t *testing.T) {
	tests := []struct {
		lit  string
		want float64
	}{
		{"1.5", 1.5},
		{"-1.5", -1.5},
		{"+0.25", 0.25},
		{".5", 0.5},
		{"-.5", -0.5},
		{"1.5e3", 1500},
		{"1.5E-3", 0.0015},
		{"2.0e+2", 200},
		{"1e3", 1000},
		{"3.4028234663852886e38", 3.4028234663852886e38},
	}
	for _, tc := range tests {
		v, err := parseValue(t, tc.lit)
		if err != nil {
			t.Errorf("%s: %v", tc.lit, err)
			continue
		}
		if v.Kind != RealValue || v.Real != tc.want {
			t.Errorf("%s: got kind %v %v, want %v", tc.lit, v.Kind, v.Real, tc.want)
		}
	}
}

func TestStringLiterals(t *testing.T) {
	tests := []struct {
		lit  string
		want string
	}{
		{`""`, ""},
		{`"plain"`, "plain"},
		{`"a\bb"`, "a\bb"},
		{`"a\tb"`, "a\tb"},
		{`"a\nb"`, "a\nb"},
		{`"a\fb"`, "a\fb"},
		{`"a\rb"`, "a\rb"},
		{`"say \"hi\""`, `say "hi"`},
		{`"it\'s"`, "it's"},
		{`"back\\slash"`, `back\slash`},
		{`"\x41"`, "A"},
		{`"\x041"`, "A"},
		{`"\X00e9t\xe9"`, "été"},
		{`"\x20AC"`, "€"},
		{`"\x20ACZ"`, "€Z"}, // at most four hex digits
		{`"\x41G"`, "AG"},   // stops at the first non-hex digit
		{`"a" "b"`, "ab"},   // adjacent strings concatenate
		{"\"a\"\n  \"b\" \"c\"", "abc"},
		{`"a" /* comment */ "b" // comment` + "\n\"c\"", "abc"},
		{`"ünï"`, "ünï"},
		{`"x // not a comment"`, "x // not a comment"},
	}
	for _, tc := range tests {
		v, err := parseValue(t, tc.lit)
		if err != nil {
			t.Errorf("%s: %v", tc.lit, err)
			continue
		}
		if v.Kind != StringValue || v.Str != tc.want {
			t.Errorf("%s: got kind %v %q, want %q", tc.lit, v.Kind, v.Str, tc.want)
		}
	}
}

func TestCharBoolNullLiterals(t *testing.T) {
	tests := []struct {
		lit  string
		kind ValueKind
		str  string
		b    bool
	}{
		{`'a'`, CharValue, "a", false},
		{`'\''`, CharValue, "'", false},
		{`'"'`, CharValue, `"`, false},
		{`'\n'`, CharValue, "\n", false},
		{`'\\'`, CharValue, `\`, false},
		{`'\x41'`, CharValue, "A", false},
		{`'\X263A'`, CharValue, "☺", false},
		{`'é'`, CharValue, "é", false},
		{`TRUE`, BoolValue, "", true},
		{`true`, BoolValue, "", true},
		{`False`, BoolValue, "", false},
		{`NULL`, NullValue, "", false},
		{`null`, NullValue, "", false},
		{`$Alias1`, AliasValue, "Alias1", false},
		{`"20240102030405.123456+060"`, StringValue, "20240102030405.123456+060", false}, // datetime is a string in MOF
	}
	for _, tc := range tests {
		v, err := parseValue(t, tc.lit)
		if err != nil {
			t.Errorf("%s: %v", tc.lit, err)
			continue
		}
		if v.Kind != tc.kind || v.Str != tc.str || v.Bool != tc.b {
			t.Errorf("%s: got kind %v str %q bool %v", tc.lit, v.Kind, v.Str, v.Bool)
		}
	}
}

func TestArrayLiterals(t *testing.T) {
	v, err := parseValue(t, `{1, -0x2, "three" "3", '4', 5.0, TRUE, NULL, $a}`)
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind != ArrayValue || len(v.Elems) != 8 {
		t.Fatalf("got %v with %d elements", v.Kind, len(v.Elems))
	}
	kinds := []ValueKind{IntValue, IntValue, StringValue, CharValue, RealValue, BoolValue, NullValue, AliasValue}
	for i, k := range kinds {
		if v.Elems[i].Kind != k {
			t.Errorf("element %d: kind %v, want %v", i, v.Elems[i].Kind, k)
		}
	}
	if v.Elems[2].Str != "three3" {
		t.Errorf("concatenation inside an array: %q", v.Elems[2].Str)
	}
	empty, err := parseValue(t, `{}`)
	if err != nil || empty.Kind != ArrayValue || len(empty.Elems) != 0 {
		t.Errorf("empty array: %v %v", empty, err)
	}
}

// TestBadLiterals checks that each malformed literal gives exactly one
// error, at the literal's position, with a message naming the problem.
func TestBadLiterals(t *testing.T) {
	tests := []struct {
		lit, msg string
	}{
		{`12abc`, `bad integer literal "12abc"`},
		{`0x`, `bad hexadecimal literal "0x"`},
		{`0xZZ`, `bad hexadecimal literal "0xZZ"`},
		{`0129`, `bad octal literal "0129"`},
		{`102b`, `bad integer literal "102b"`},
		{`1.`, `bad real literal "1."`},
		{`1.5e`, `bad real literal "1.5e"`},
		{`1.2.3`, `bad real literal "1.2.3"`},
		{`18446744073709551616`, `out of range (more than 64 bits)`},
		{`-9223372036854775809`, `below the sint64 minimum`},
		{`1e999`, `real literal "1e999" is out of range`},
		{`"\q"`, `bad escape sequence \q`},
		{`"\x"`, `\x must be followed by 1 to 4 hexadecimal digits`},
		{`"\x0"`, `is not a valid character`},
		{`"\xD800"`, `is not a valid character`},
		{`''`, `bad char16 literal ''`},
		{`'ab'`, `it must hold exactly one character`},
		{`"open`, `string literal not terminated`},
		{`unquoted`, `bad value "unquoted"`},
	}
	for _, tc := range tests {
		_, err := Parse("v.mof", []byte("instance of X {\n  P = "+tc.lit+";\n};"))
		var list ErrorList
		if !errors.As(err, &list) {
			t.Errorf("%s: no error", tc.lit)
			continue
		}
		if len(list) != 1 {
			t.Errorf("%s: %d errors, want 1:\n%v", tc.lit, len(list), list)
			continue
		}
		e := list[0]
		// Escape errors point at the backslash, the others at the literal.
		col := 7
		if strings.HasPrefix(tc.lit, `"\`) {
			col = 8
		}
		if e.Pos.Line != 2 || e.Pos.Col != col || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%s: got %v, want v.mof:2:%d and %q", tc.lit, e, col, tc.msg)
		}
	}
}

func TestPositions(t *testing.T) {
	src := "// comment\n/* multi\n   line */ class A_B : A_C {\n\tstring Ünï;\n  [Key] uint32 K;\n};\n"
	f, err := Parse("p.mof", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Productions[0].(*ClassDecl)
	check := func(what string, got Pos, line, col int) {
		t.Helper()
		if got.Line != line || got.Col != col || got.File != "p.mof" {
			t.Errorf("%s at %v, want p.mof:%d:%d", what, got, line, col)
		}
	}
	check("class", c.Pos, 3, 12)
	check("class name", c.NamePos, 3, 18)
	check("superclass", c.SuperPos, 3, 24)
	check("property Ünï", c.Properties[0].NamePos, 4, 9)
	check("qualifier Key", c.Properties[1].Qualifiers[0].Pos, 5, 4)
	check("property K", c.Properties[1].NamePos, 5, 16)
	if c.Properties[0].Name != "Ünï" {
		t.Errorf("non-ASCII identifier: %q", c.Properties[0].Name)
	}
}

func TestParseDeclarations(t *testing.T) {
	src := `
#pragma locale ("en_US")
#pragma namespace ("root/test")
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
Qualifier Values : string[], Scope(property, method, parameter), Flavor(Translatable);
Qualifier MaxLen : uint32 = null, Scope(property);
qualifier Fixed : uint8[4] = {1, 2}, scope(any);

[Association, Version("2.0"), Description("An " "association")]
class T_Assoc : T_Base {
	[Key, Override("Left")] T_Thing REF Left;
	[Key: DisableOverride ToSubclass] T_Thing REF Right = $t1;
};

[Indication]
class T_Event {
	datetime When = "20240101000000.000000+000";
	string Names[] = {"a", "b"};
	uint8 Fixed[4];
	[Static] uint32 Run([In, Out] string Text, [In] T_Thing REF Target, uint16 Codes[], [Out, EmbeddedInstance("T_Thing")] string Result[]);
	T_Thing REF Get();
};

instance of T_Thing as $t1 {
	Name = "one";
	[Description("q")] Size = 0x10;
	Child = instance of T_Child { Id = 1; };
	Peers = {$t2, $t3};
};
`
	f, err := Parse("d.mof", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Productions) != 9 {
		t.Fatalf("%d productions, want 9", len(f.Productions))
	}
	ns := f.Productions[1].(*Pragma)
	if ns.Name != "namespace" || len(ns.Args) != 1 || ns.Args[0].Str != "root/test" {
		t.Errorf("pragma namespace: %+v", ns)
	}
	key := f.Productions[2].(*QualifierDecl)
	if key.Name != "Key" || key.Type.Name != "boolean" || key.Default.Kind != BoolValue || len(key.Scopes) != 2 || len(key.Flavors) != 2 {
		t.Errorf("qualifier Key: %+v", key)
	}
	values := f.Productions[3].(*QualifierDecl)
	if values.Array == nil || values.Array.Size != 0 || values.Default != nil {
		t.Errorf("qualifier Values: %+v", values)
	}
	fixed := f.Productions[5].(*QualifierDecl)
	if fixed.Array == nil || fixed.Array.Size != 4 || len(fixed.Default.Elems) != 2 {
		t.Errorf("qualifier Fixed: %+v", fixed)
	}
	assoc := f.Productions[6].(*ClassDecl)
	if assoc.Name != "T_Assoc" || assoc.Super != "T_Base" || len(assoc.Qualifiers) != 3 || len(assoc.Properties) != 2 {
		t.Fatalf("association: %+v", assoc)
	}
	if d := assoc.Qualifiers[2].Value; d.Str != "An association" {
		t.Errorf("description concatenation: %q", d.Str)
	}
	left := assoc.Properties[0]
	if !left.Type.IsRef() || left.Type.RefClass != "T_Thing" || left.Qualifiers[1].Value.Str != "Left" {
		t.Errorf("reference Left: %+v", left)
	}
	right := assoc.Properties[1]
	if len(right.Qualifiers[0].Flavors) != 2 || right.Default.Kind != AliasValue || right.Default.Str != "t1" {
		t.Errorf("reference Right: %+v", right)
	}
	ev := f.Productions[7].(*ClassDecl)
	if len(ev.Properties) != 3 || len(ev.Methods) != 2 {
		t.Fatalf("indication: %d properties, %d methods", len(ev.Properties), len(ev.Methods))
	}
	if ev.Properties[1].Array == nil || len(ev.Properties[1].Default.Elems) != 2 || ev.Properties[2].Array.Size != 4 {
		t.Errorf("array properties: %+v %+v", ev.Properties[1], ev.Properties[2])
	}
	run := ev.Methods[0]
	if run.ReturnType.Name != "uint32" || len(run.Params) != 4 {
		t.Fatalf("method Run: %+v", run)
	}
	if p := run.Params[1]; !p.Type.IsRef() || p.Type.RefClass != "T_Thing" {
		t.Errorf("ref parameter: %+v", p)
	}
	if p := run.Params[2]; p.Array == nil || p.Type.Name != "uint16" {
		t.Errorf("array parameter: %+v", p)
	}
	if get := ev.Methods[1]; !get.ReturnType.IsRef() {
		t.Errorf("method returning a reference: %+v", get)
	}
	inst := f.Productions[8].(*InstanceDecl)
	if inst.Class != "T_Thing" || inst.Alias != "t1" || len(inst.Properties) != 4 {
		t.Fatalf("instance: %+v", inst)
	}
	if child := inst.Properties[2].Value; child.Kind != InstanceValue || child.Instance.Class != "T_Child" {
		t.Errorf("embedded instance value: %+v", child)
	}
	if peers := inst.Properties[3].Value; peers.Kind != ArrayValue || peers.Elems[1].Str != "t3" {
		t.Errorf("array of aliases: %+v", peers)
	}
}

// TestSyntaxErrorsRecover checks that the parser reports each syntax error
// once, where it is, and goes on to find the next.
func TestSyntaxErrorsRecover(t *testing.T) {
	src := `class A {
	string ;
	uint32 Good;
	strin Bad;
	uint8 X = 300 300;
};
class B : { };
instance of A { Good = 1 };
Qualifier Q : boolean;
class C { string S; }
class D { @ };
`
	f, err := Parse("e.mof", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatal("no errors")
	}
	want := []string{
		`e.mof:2:9: expected a property or method name, found ';'`,
		`e.mof:4:2: unknown data type "strin"`,
		`e.mof:5:16: expected ';' after the declaration of X, found 300`,
		`e.mof:7:11: expected a superclass name, found '{'`,
		`e.mof:8:26: expected ';' after the value of Good, found '}'`,
		`e.mof:9:22: qualifier declaration Q has no Scope(...)`,
		`e.mof:11:1: expected ';', found "class"`,
		`e.mof:11:11: unexpected character '@'`,
	}
	if len(list) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(list), len(want), list)
	}
	for i, w := range want {
		if i < len(list) && !strings.HasPrefix(list[i].Error(), w) {
			t.Errorf("error %d: %q, want prefix %q", i, list[i].Error(), w)
		}
	}
	// Recovery keeps what parsed: class A with its good property.
	a := f.Productions[0].(*ClassDecl)
	if a.Name != "A" || len(a.Properties) != 1 || a.Properties[0].Name != "Good" {
		t.Errorf("class A after recovery: %+v", a)
	}
}

func TestCommentsAndEncodings(t *testing.T) {
	src := "\xEF\xBB\xBF// line\r\n/* block\n * more */\r\nclass A { /* inner */ string S; // tail\n};"
	f, err := Parse("c.mof", []byte(src))
	if err != nil || len(f.Productions) != 1 {
		t.Fatalf("utf-8 with BOM and CRLF: %v", err)
	}
	// UTF-16LE with a byte-order mark.
	var utf16le []byte
	utf16le = append(utf16le, 0xFF, 0xFE)
	for _, r := range "class Ä { string S; };" {
		utf16le = append(utf16le, byte(r), byte(r>>8))
	}
	f, err = Parse("u.mof", utf16le)
	if err != nil || f.Productions[0].(*ClassDecl).Name != "Ä" {
		t.Fatalf("utf-16: %v", err)
	}
	_, err = Parse("c.mof", []byte("class A {};\n/* never closed\n"))
	if err == nil || !strings.Contains(err.Error(), "c.mof:2:1: comment not terminated") {
		t.Errorf("unterminated comment: %v", err)
	}
}

// TestBinaryInput: a file that is not text gives one message saying so,
// where it stops being text, not one message per byte.
func TestBinaryInput(t *testing.T) {
	garbage := make([]byte, 20<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	utf16NoBOM := []byte{'c', 0, 'l', 0, 'a', 0, 's', 0, 's', 0}
	for _, tc := range []struct {
		name string
		src  []byte
		want string
	}{
		{"random", garbage, "r.mof:1:1: not a MOF text file: byte 0x"},
		{"nul", []byte("class A {\n\tstring S; \x00\x00\x00 };"), "r.mof:2:12: not a MOF text file: it holds a NUL byte"},
		{"latin1", []byte("// caf\xe9\nclass A { };"), "r.mof:1:7: not a MOF text file: byte 0xE9 is not UTF-8"},
		{"utf16 without BOM", utf16NoBOM, "r.mof:1:1: not a MOF text file: it looks like UTF-16 without a byte-order mark"},
		{"odd utf16", []byte{0xFF, 0xFE, 'c', 0, 'l'}, "r.mof:1:1: not a MOF text file: UTF-16 source with an odd number of bytes"},
	} {
		_, err := Parse("r.mof", tc.src)
		var list ErrorList
		if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(list[0].Error(), tc.want) {
			t.Errorf("%s: %d errors, want one starting %q:\n%v", tc.name, len(list), tc.want, err)
		}
	}
	// A replacement character written as such is text, not an encoding error.
	if _, err := Parse("ok.mof", []byte("class A { [Description(\"\uFFFD\")] string S; };")); err != nil {
		t.Errorf("U+FFFD in a string: %v", err)
	}
}

// TestErrorListShown: an error list prints at most MaxShownErrors
// messages, then how many more there are.
func TestErrorListShown(t *testing.T) {
	var src strings.Builder
	for i := 0; i < 30; i++ {
		src.WriteString("class ;\n")
	}
	_, err := Parse("many.mof", []byte(src.String()))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 30 {
		t.Fatalf("%d errors, want 30", len(list))
	}
	lines := strings.Split(list.Error(), "\n")
	if len(lines) != MaxShownErrors+1 || lines[MaxShownErrors] != "... 10 more errors" ||
		!strings.HasPrefix(lines[MaxShownErrors-1], "many.mof:20:7:") {
		t.Errorf("%d lines, ending %q", len(lines), lines[len(lines)-1])
	}
	if shown, more := list.Shown(0); len(shown) != 30 || more != 0 {
		t.Errorf("Shown(0): %d, %d more", len(shown), more)
	}
	if got := MoreErrors(1); got != "... 1 more error" {
		t.Errorf("MoreErrors(1) = %q", got)
	}
}
