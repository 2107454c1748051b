package query

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/schemas"
)

const testMOF = `
class T_Embedded {
    [Key] string Id;
    uint32 Size;
};
class T_Sub : T_Embedded {
    string Extra;
};
class T_Thing {
    [Key] string Name;
    uint32 Num;
    sint32 Neg;
    real64 Ratio;
    boolean Flag;
    char16 Letter;
    datetime When;
    datetime Span;
    string Tags[];
    uint16 Codes[];
    string Empty;
    [EmbeddedInstance("T_Embedded")] string Inner;
    [EmbeddedObject] string Any;
};
class T_Assoc_Target { [Key] string Id; };
[Association] class T_Link {
    [Key] T_Assoc_Target REF A;
    [Key] T_Assoc_Target REF B;
};
`

// testClasses compiles the DSP0004 qualifiers and testMOF.
func testClasses(t testing.TB) *mof.MemTarget {
	t.Helper()
	target := mof.NewMemTarget(nil)
	quals, err := fs.ReadFile(schemas.Files(), "qualifiers.mof")
	if err != nil {
		t.Fatal(err)
	}
	c := &mof.Compiler{Target: target, Namespace: "root/test"}
	if _, err := c.CompileSource("test.mof", append(quals, testMOF...)); err != nil {
		t.Fatal(err)
	}
	return target
}

type testSchema struct{ target *mof.MemTarget }

func (s testSchema) IsA(className, superName string) bool {
	for name := className; name != ""; {
		if cim.EqualNames(name, superName) {
			return true
		}
		c, _ := s.target.Class("root/test", name)
		if c == nil {
			return false
		}
		name = c.SuperClass
	}
	return false
}

func (s testSchema) lookup(name string) *cim.Class {
	c, _ := s.target.Class("root/test", name)
	return c
}

func thing(t testing.TB, target *mof.MemTarget) *cim.Instance {
	t.Helper()
	cls, _ := target.Class("root/test", "T_Thing")
	sub, _ := target.Class("root/test", "T_Sub")
	inner := sub.NewInstance()
	inner.Set("Id", cim.NewString("in1"))
	inner.Set("Size", cim.NewUint32(42))
	inner.Set("Extra", cim.NewString("x"))
	inst := cls.NewInstance()
	when, _ := cim.ParseDatetime("20240115103000.000000+000")
	span, _ := cim.ParseDatetime("00000001000000.000000:000")
	for name, v := range map[string]cim.Value{
		"Name":   cim.NewString("vm-01"),
		"Num":    cim.NewUint32(7),
		"Neg":    cim.NewSint32(-3),
		"Ratio":  cim.NewReal64(0.5),
		"Flag":   cim.NewBoolean(true),
		"Letter": cim.NewChar16('Q'),
		"When":   cim.NewDatetime(when),
		"Span":   cim.NewDatetime(span),
		"Tags":   cim.NewStringArray([]string{"red", "green", "blue"}),
		"Codes":  cim.NewUint16Array([]uint16{2, 4, 6}),
		"Inner":  cim.NewEmbeddedInstance(inner),
	} {
		inst.Set(name, v)
	}
	return inst
}

func TestCanonicalLanguage(t *testing.T) {
	for in, want := range map[string]string{"wql": WQL, "DMTF:CQL": CQL, "cql": CQL, "CIM:CQL": CQL, "dmtf:fql": FQL} {
		if got, err := CanonicalLanguage(in); got != want || err != nil {
			t.Errorf("CanonicalLanguage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := CanonicalLanguage("XPath")
	if !errors.Is(err, cim.ErrQueryLanguageNotSupported) {
		t.Errorf("XPath: %v, want CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED", err)
	}
}

func TestSelectMatch(t *testing.T) {
	target := testClasses(t)
	schema := testSchema{target}
	cls, _ := target.Class("root/test", "T_Thing")
	inst := thing(t, target)
	cases := []struct {
		lang, q string
		want    bool
	}{
		{WQL, "SELECT * FROM T_Thing", true},
		{WQL, "select * from t_thing where Name = 'vm-01'", true},
		{WQL, `SELECT * FROM T_Thing WHERE Name = "vm-01"`, true},
		{WQL, "SELECT * FROM T_Thing WHERE Name = 'VM-01'", false}, // case-sensitive
		{WQL, "SELECT * FROM T_Thing WHERE Name <> 'vm-01'", false},
		{WQL, "SELECT * FROM T_Thing WHERE Name != 'x'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Num = 7 AND Neg < 0", true},
		{WQL, "SELECT * FROM T_Thing WHERE Num > 7 OR Neg >= -3", true},
		{WQL, "SELECT * FROM T_Thing WHERE NOT (Num > 7 OR Neg >= -3)", false},
		{WQL, "SELECT * FROM T_Thing WHERE Num = 0x7", true},
		{CQL, "SELECT * FROM T_Thing WHERE Num = 111b", true},
		{WQL, "SELECT * FROM T_Thing WHERE Num <= 7.0 AND Ratio = .5 AND Ratio < 5E-1", false},
		{WQL, "SELECT * FROM T_Thing WHERE Num <= 7.0 AND Ratio = .5 AND Ratio <= 5E-1", true},
		{WQL, "SELECT * FROM T_Thing WHERE 7 = Num", true},
		{WQL, "SELECT * FROM T_Thing WHERE Flag = TRUE", true},
		{WQL, "SELECT * FROM T_Thing WHERE Flag <> true", false},
		{WQL, "SELECT * FROM T_Thing WHERE Letter = 'Q'", true},
		{WQL, "SELECT * FROM T_Thing WHERE When > '20240101000000.000000+000'", true},
		{WQL, "SELECT * FROM T_Thing WHERE When = '20240115113000.000000+060'", true}, // same instant
		{CQL, "SELECT * FROM T_Thing WHERE When < DATETIME('20240101000000.000000+000')", false},
		{WQL, "SELECT * FROM T_Thing WHERE Span < '00000002000000.000000:000'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Empty IS NULL", true},
		{WQL, "SELECT * FROM T_Thing WHERE Empty IS NOT NULL", false},
		{WQL, "SELECT * FROM T_Thing WHERE Empty = NULL", true},
		{WQL, "SELECT * FROM T_Thing WHERE Name <> NULL", true},
		{WQL, "SELECT * FROM T_Thing WHERE Empty = 'x'", false},
		{WQL, "SELECT * FROM T_Thing WHERE NOT Empty = 'x'", false}, // unknown stays unknown
		{WQL, "SELECT * FROM T_Thing WHERE Empty = 'x' OR Num = 7", true},
		{WQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm-%'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm_01'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm-[0-9]1'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm-[^0]1'", false},
		{WQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm'", false}, // whole string
		{WQL, "SELECT * FROM T_Thing WHERE Name NOT LIKE 'x%'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm.01'", false}, // . is literal in WQL
		{CQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm.01'", true},
		{CQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm-.*'", true},
		{CQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm-%'", false},
		{CQL, "SELECT * FROM T_Thing WHERE Name LIKE 'v[lm]-(0|1)+'", true},
		{CQL, "SELECT * FROM T_Thing WHERE Name LIKE 'v[m]^-01'", false},
		{CQL, "SELECT * FROM T_Thing WHERE Name LIKE 'v[x]^-01'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Inner ISA T_Embedded", true},
		{WQL, "SELECT * FROM T_Thing WHERE Inner ISA 'T_Sub'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Inner ISA T_Thing", false},
		{CQL, "SELECT * FROM T_Thing t WHERE t ISA T_Thing", true},
		{WQL, "SELECT * FROM T_Thing WHERE Inner.Size = 42", true},
		{WQL, "SELECT * FROM T_Thing WHERE Inner.Extra = 'x'", true},
		{CQL, "SELECT * FROM T_Thing AS t WHERE t.Inner.Id = 'in1' AND T_Thing.Num = 7", true},
		{WQL, "SELECT * FROM T_Thing WHERE Tags[1] = 'green'", true},
		{WQL, "SELECT * FROM T_Thing WHERE Tags[7] = 'green'", false},
		{WQL, "SELECT * FROM T_Thing WHERE ANY Tags = 'blue'", true},
		{WQL, "SELECT * FROM T_Thing WHERE EVERY Codes > 1", true},
		{WQL, "SELECT * FROM T_Thing WHERE EVERY Codes > 2", false},
		{WQL, "SELECT * FROM T_Thing WHERE NOT ANY Codes = 3", true},
		{CQL, "SELECT * FROM T_Thing WHERE ANY Tags LIKE 'gr.*'", true},
		{WQL, "SELECT * FROM T_Thing WHERE __CLASS = 'T_Thing'", true},
		{WQL, "SELECT * FROM T_Thing WHERE ((((Num = 7))))", true},
		{WQL, "SELECT * FROM T_Thing WHERE Num = 7 AND Name = 'a' OR Flag = TRUE", true}, // AND binds tighter
		{WQL, "SELECT * FROM T_Thing WHERE Num = 7 AND (Name = 'a' OR Flag = FALSE)", false},
		{WQL, "SELECT * FROM T_Thing WHERE Num = Num AND Neg < Num", true},
	}
	for _, c := range cases {
		s, err := ParseSelect(c.lang, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if err := s.Check(cls, schema.lookup); err != nil {
			t.Errorf("%s: Check: %v", c.q, err)
			continue
		}
		if got := s.Match(inst, schema); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestSelectProjection(t *testing.T) {
	target := testClasses(t)
	cls, _ := target.Class("root/test", "T_Thing")
	inst := thing(t, target)
	inst.Path = cim.NewInstancePath("root/test", "T_Thing", cim.KeyBinding{Name: "Name", Value: cim.NewString("vm-01")})
	s, err := ParseSelect("DMTF:CQL", "SELECT t.Name, Num FROM T_Thing t")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(cls, nil); err != nil {
		t.Fatal(err)
	}
	if s.ClassName != "T_Thing" || s.Alias != "t" || strings.Join(s.Properties, ",") != "Name,Num" {
		t.Fatalf("parsed %+v", s)
	}
	p := s.Project(inst)
	if len(p.Properties()) != 2 || p.Get("Num").Uint32() != 7 || p.Path == nil {
		t.Errorf("projection %v (path %v)", p, p.Path)
	}
	all, _ := ParseSelect("WQL", "SELECT * FROM T_Thing")
	if all.Project(inst) != inst {
		t.Error("SELECT * must return the instance itself")
	}
}

func TestSelectErrors(t *testing.T) {
	target := testClasses(t)
	schema := testSchema{target}
	cls, _ := target.Class("root/test", "T_Thing")
	parseErrors := []string{
		"",
		"SELECT",
		"SELECT * FROM",
		"SELECT * T_Thing",
		"SELECT * FROM T_Thing WHERE",
		"SELECT * FROM T_Thing WHERE Name =",
		"SELECT * FROM T_Thing WHERE Name = 'unterminated",
		"SELECT * FROM T_Thing WHERE (Name = 'a'",
		"SELECT * FROM T_Thing WHERE Name = 'a')",
		"SELECT * FROM T_Thing WHERE 1 = 2",
		"SELECT * FROM T_Thing WHERE Name LIKE 5",
		"SELECT * FROM T_Thing WHERE Num < NULL",
		"SELECT * FROM T_Thing, T_Other",
		"SELECT *, Name FROM T_Thing",
		"SELECT Inner.Size FROM T_Thing",
		"SELECT * FROM T_Thing WHERE Num = 99999999999999999999999",
		"SELECT * FROM T_Thing WHERE Name = 'a' garbage",
		"SELECT * FROM T_Thing WHERE Name ISA 5",
		"SELECT * FROM T_Thing WHERE Tags[x] = 'a'",
		"SELECT * FROM T_Thing WHERE Name LIKE '[a'",
		"SELECT * FROM T_Thing WHERE Name = 'a' # b",
		"SELECT * FROM T_Thing WHERE " + strings.Repeat("(", 300) + "Num = 1" + strings.Repeat(")", 300),
		"SELECT * FROM T_Thing WHERE " + strings.Repeat("NOT ", 300) + "Num = 1",
	}
	for _, q := range parseErrors {
		_, err := ParseSelect("WQL", q)
		if !errors.Is(err, cim.ErrInvalidQuery) {
			t.Errorf("%q: error %v, want CIM_ERR_INVALID_QUERY", q, err)
		}
	}
	checkErrors := []string{
		"SELECT Nope FROM T_Thing",
		"SELECT * FROM T_Thing WHERE Nope = 1",
		"SELECT * FROM T_Thing WHERE Name = 5",
		"SELECT * FROM T_Thing WHERE Num = 'five'",
		"SELECT * FROM T_Thing WHERE When = 'yesterday'",
		"SELECT * FROM T_Thing WHERE Flag > FALSE",
		"SELECT * FROM T_Thing WHERE Num LIKE '1%'",
		"SELECT * FROM T_Thing WHERE Tags = 'red'",
		"SELECT * FROM T_Thing WHERE ANY Num = 1",
		"SELECT * FROM T_Thing WHERE Num[0] = 1",
		"SELECT * FROM T_Thing WHERE Inner = 'x'",
		"SELECT * FROM T_Thing WHERE Name ISA T_Thing",
		"SELECT * FROM T_Thing WHERE Name.Sub = 1",
		"SELECT * FROM T_Thing WHERE Name = Num",
	}
	for _, q := range checkErrors {
		s, err := ParseSelect("WQL", q)
		if err != nil {
			t.Errorf("%q: parse: %v", q, err)
			continue
		}
		if err := s.Check(cls, schema.lookup); !errors.Is(err, cim.ErrInvalidQuery) {
			t.Errorf("%q: Check error %v, want CIM_ERR_INVALID_QUERY", q, err)
		}
	}
	if _, err := ParseSelect("CQL", "SELECT * FROM T_Thing WHERE Name LIKE '(a'"); !errors.Is(err, cim.ErrInvalidQuery) {
		t.Errorf("unbalanced group in a CQL pattern: %v", err)
	}
	if _, err := ParseSelect("DMTF:FQL", "SELECT * FROM T_Thing"); !errors.Is(err, cim.ErrQueryLanguageNotSupported) {
		t.Errorf("FQL as a query: %v", err)
	}
	if _, err := ParseSelect("SQL", "SELECT * FROM T_Thing"); !errors.Is(err, cim.ErrQueryLanguageNotSupported) {
		t.Errorf("SQL: %v", err)
	}
}

func TestFilter(t *testing.T) {
	target := testClasses(t)
	schema := testSchema{target}
	cls, _ := target.Class("root/test", "T_Thing")
	inst := thing(t, target)
	// Cases from DSP0212 and the OpenPegasus FQL tests.
	cases := []struct {
		q    string
		want bool
	}{
		{"Name = 'vm-01'", true},
		{"Name <> 'vm-01'", false},
		{"Name = 'vm-01' AND Num = 7", true},
		{"(Name = 'x') OR (Num = 7)", true},
		{"Codes = {2, 4, 6}", true},
		{"Codes = {2, 4}", false},
		{"Codes <> {2, 4}", true},
		{"Tags = {'red', 'green', 'blue'}", true},
		{"Codes[2] = 6", true},
		{"ANY Codes = 4", true},
		{"EVERY Codes < 90", true},
		{"NOT ANY Codes = 4", false},
		{"NOT EVERY Codes = 4", true},
		{"Name LIKE 'vm-0.'", true},
		{"Name LIKE '.*'", true},
		{"Name NOT LIKE '.*'", false},
		{"Tags[1] LIKE 'gr.en'", true},
		{"ANY Tags LIKE 'bl.*'", true},
		{"Flag = TRUE", true},
		{"Ratio > 0.25", true},
		{"Num = 0X07", true},
		{"Neg = -3", true},
		{"When = '20240115103000.000000+000'", true},
		{"Empty = NULL", true},
		{"Empty <> NULL", false},
		{"Inner.Size = 42", true},
		{"Name = 'it''s'", false},
		{`Name = 'vm\-01'`, false},
	}
	for _, c := range cases {
		f, err := ParseFilter("DMTF:FQL", c.q)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if err := f.Check(cls, schema.lookup); err != nil {
			t.Errorf("%s: Check: %v", c.q, err)
			continue
		}
		if got := f.Match(inst, schema); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.q, got, c.want)
		}
	}
	f, _ := ParseFilter("DMTF:FQL", "Num = 7 AND ANY Tags = 'red' AND Inner.Size > 1")
	if got := strings.Join(f.Properties(), ","); got != "Num,Tags,Inner" {
		t.Errorf("Properties() = %s", got)
	}
	for _, q := range []string{"", "Name", "Name = ", "Codes > {1}", "ANY Codes = {1}", "SELECT * FROM X", "Name = 'a' Name = 'b'"} {
		if _, err := ParseFilter("DMTF:FQL", q); !errors.Is(err, cim.ErrInvalidQuery) {
			t.Errorf("%q: %v, want CIM_ERR_INVALID_QUERY", q, err)
		}
	}
	if _, err := ParseFilter("WQL", "Name = 'a'"); !errors.Is(err, cim.ErrQueryLanguageNotSupported) {
		t.Errorf("WQL filter: %v", err)
	}
}

func TestLikeTranslation(t *testing.T) {
	cases := []struct {
		lang, pattern, s string
		want             bool
	}{
		{WQL, "100[%]", "100%", true},
		{WQL, "100[%]", "1000", false},
		{WQL, "a.b", "a.b", true},
		{WQL, "a(b", "a(b", true},
		{CQL, `a\.b`, "a.b", true},
		{CQL, `a\.b`, "axb", false},
		{CQL, "x{2,3}", "xx", true},
		{CQL, "x{2,3}", "xxxx", false},
		{CQL, "^ab$", "ab", true},
		{CQL, "ab?c", "ac", true},
		{CQL, "a/b", "a/b", true},
		{CQL, ".", "\n", true},
	}
	for _, c := range cases {
		m, err := compileLike(c.lang, c.pattern)
		if err != nil {
			t.Errorf("%s %q: %v", c.lang, c.pattern, err)
			continue
		}
		if got := m(c.s); got != c.want {
			t.Errorf("%s %q on %q = %v, want %v", c.lang, c.pattern, c.s, got, c.want)
		}
	}
}
