package xmlcodec

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// With EscapeWhitespace, tab, line feed and carriage return become
// character references, which survive a receiver's normalization.
func TestEscapeWhitespace(t *testing.T) {
	e := Encoder{EscapeWhitespace: true}
	e.Attr("A", "x\ty\r\nz")
	e.Text("<\r>")
	if got, want := string(e.B), ` A="x&#x9;y&#xD;&#xA;z"&lt;&#xD;&gt;`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// BenchmarkAppendEscaped measures the escaping of text as the Encoder
// writes it (wbem/internal/xmlesc; scripts/bench.d/50-cimxml.sh runs it).
func BenchmarkAppendEscaped(b *testing.B) {
	for _, tc := range []struct{ name, s string }{
		{"letters", strings.Repeat("a", 520)},
		{"text", strings.Repeat("generated 12345 Name-of.item ", 18)},
		{"markup", strings.Repeat(`a<b>&"c" `, 58)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.s)))
			e := Encoder{B: make([]byte, 0, 4096)}
			for i := 0; i < b.N; i++ {
				e.B = e.B[:0]
				e.Text(tc.s)
			}
		})
	}
}

// plainProperty writes what the general path writes, for every property it
// takes (plain names and names to escape), and declines the others (class
// origins, qualifiers, values of another type than the property's...).
func TestPlainPropertyMatchesGeneral(t *testing.T) {
	emb := cim.NewInstance("T_E")
	emb.Set("S", cim.NewString("x"))
	when, err := cim.ParseDatetime("20240131235959.123456-300")
	if err != nil {
		t.Fatal(err)
	}
	values := []cim.Value{
		cim.NewString(`plain`), cim.NewString("a<b>&\"c\"\t\r\n\x01\xff"), cim.NewString(""),
		cim.NewUint8(7), cim.NewSint8(-8), cim.NewUint16(65535), cim.NewSint16(-1), cim.NewUint32(4294967295),
		cim.NewSint32(-5), cim.NewUint64(1 << 63), cim.NewSint64(-1 << 63), cim.NewReal32(1.5), cim.NewReal64(-0.25),
		cim.NewBoolean(true), cim.NewBoolean(false), cim.NewChar16('<'), cim.NewDatetime(when),
		cim.Null(cim.TypeString), cim.Null(cim.TypeUint32), cim.Null(cim.TypeInvalid),
		cim.NewEmbeddedInstance(emb), cim.NewStringArray([]string{"a"}),
		cim.NewReference(cim.NewInstancePath("root/x", "T_E", cim.KeyBinding{Name: "K", Value: cim.NewString("v")})),
	}
	taken := 0
	for _, escape := range []bool{false, true} {
		for _, v := range values {
			props := []cim.Property{cim.NewProperty("P<&", v), cim.NewProperty("Name", v)}
			withOrigin := cim.NewProperty("O", v)
			withOrigin.ClassOrigin = "T_Base"
			withQualifier := cim.NewProperty("Q", v)
			withQualifier.Qualifiers = cim.Qualifiers{{Name: "Description", Value: cim.NewString("q")}}
			// A value of another type than the property's.
			mistyped := cim.Property{Name: "M", Type: cim.TypeString, Value: v}
			if v.Type() == cim.TypeString {
				mistyped.Type = cim.TypeUint32
			}
			props = append(props, withOrigin, withQualifier, mistyped)
			for i := range props {
				p := &props[i]
				fast, general := Encoder{EscapeWhitespace: escape}, Encoder{EscapeWhitespace: escape}
				general.property(p, false)
				if !fast.plainProperty(p, -1) {
					if len(fast.B) != 0 {
						t.Fatalf("plainProperty declined %v after writing %s", v, fast.B)
					}
					continue
				}
				taken++
				if string(fast.B) != string(general.B) {
					t.Errorf("property %s = %v:\n plain   %s\n general %s", p.Name, v, fast.B, general.B)
				}
			}
		}
	}
	if taken < 30 {
		t.Errorf("plainProperty took only %d properties", taken)
	}
}

// An Encoder that has written other instances (its start-tag memos
// filled) writes every instance exactly as a fresh one does, and that is
// well-formed: same class and layout, other property orders and types,
// NULLs, names that need escaping, other classes and keys (strings and
// numbers in turn), qualifiers, class origins and values of another type
// at memoized positions, and a whitespace mode switched on the way.
func TestStartTagMemoMatchesFresh(t *testing.T) {
	mk := func(class string, props ...cim.Property) *cim.Instance {
		inst := cim.NewInstance(class)
		for _, p := range props {
			inst.Set(p.Name, p.Value)
		}
		var keys []cim.KeyBinding
		for _, p := range props[:min(2, len(props))] {
			if !p.Value.IsNull() {
				keys = append(keys, cim.KeyBinding{Name: p.Name, Value: p.Value})
			}
		}
		inst.Path = cim.NewInstancePath("root/x", class, keys...)
		return inst
	}
	str, u32 := cim.NewString, cim.NewUint32
	insts := []*cim.Instance{
		mk("T_A", cim.NewProperty("Id", str("a1")), cim.NewProperty("Count", u32(1)), cim.NewProperty("Text", str("x<y"))),
		mk("T_A", cim.NewProperty("Id", str("a2")), cim.NewProperty("Count", u32(2)), cim.NewProperty("Text", str("tab\there"))),
		// The same names in another order, and other types at a position.
		mk("T_A", cim.NewProperty("Count", u32(3)), cim.NewProperty("Id", str("a3")), cim.NewProperty("Text", u32(9))),
		// NULL where a value was, and one property more.
		mk("T_A", cim.NewProperty("Id", str("a4")), cim.NewProperty("Count", cim.Null(cim.TypeUint32)),
			cim.NewProperty("Text", str("")), cim.NewProperty("More", cim.NewBoolean(true))),
		// Names and class names that need escaping, and an empty class name.
		mk("T_<B>", cim.NewProperty("I&d", str("b1")), cim.NewProperty("Count", u32(4)), cim.NewProperty("Ta\tb", u32(5))),
		mk("", cim.NewProperty("Id", str("c1"))),
		mk("T_A", cim.NewProperty("Id", str("a5")), cim.NewProperty("Count", u32(5)), cim.NewProperty("Text", str("line\r\nend"))),
		// Arrays and embedded instances take the general path between
		// memo hits.
		mk("T_A", cim.NewProperty("Id", str("a6")), cim.NewProperty("Count", cim.NewUint32Array([]uint32{1, 2})),
			cim.NewProperty("Text", cim.NewEmbeddedInstance(cim.NewInstance("T_E")))),
		mk("T_A", cim.NewProperty("Id", str("a7")), cim.NewProperty("Count", u32(7)), cim.NewProperty("Text", str("x"))),
	}
	// A string key before a number key, a number key where a string key
	// was, then both kinds in turn.
	insts = append(insts, mk("T_K", cim.NewProperty("Alpha", str("k1")), cim.NewProperty("Beta", u32(1))),
		mk("T_A", cim.NewProperty("Count", u32(8)), cim.NewProperty("Id", str("a8"))),
		mk("T_A", cim.NewProperty("Id", str("a9")), cim.NewProperty("Count", u32(9))),
		mk("T_A", cim.NewProperty("Count", u32(10)), cim.NewProperty("Id", str("a10"))))
	// At positions the memo holds (an instance of the same layout just
	// before fills it): a property with qualifiers, one with a class
	// origin, one whose value is not of its declared type, and a NULL
	// between values.
	odd := mk("T_A", cim.NewProperty("Id", str("a11")), cim.NewProperty("Count", u32(11)), cim.NewProperty("Text", str("t")))
	odd.Properties()[0].Qualifiers = cim.Qualifiers{{Name: "Key", Value: cim.NewBoolean(true)}}
	odd.Properties()[1].ClassOrigin = "T_A"
	odd.Properties()[2].Value = u32(12)
	nulls := mk("T_A", cim.NewProperty("Id", str("a12")), cim.NewProperty("Count", cim.Null(cim.TypeUint32)), cim.NewProperty("Text", str("t")))
	insts = append(insts, insts[0], odd, nulls, insts[1])
	// An empty class name first, while the memos are empty; the name with
	// a tab last and again first, as the whitespace mode changes.
	empty, tabbed := insts[5], insts[4]
	insts = append(append([]*cim.Instance{empty, tabbed}, insts...), tabbed)
	var long Encoder
	for round, escape := range []bool{false, true, false} {
		long.EscapeWhitespace = escape
		for _, inst := range insts {
			long.B = long.B[:0]
			long.NamedInstance(inst)
			long.InstanceWithPath(inst, "root/x")
			fresh := Encoder{EscapeWhitespace: escape}
			fresh.NamedInstance(inst)
			fresh.InstanceWithPath(inst, "root/x")
			if string(long.B) != string(fresh.B) {
				t.Fatalf("round %d, instance %v:\n memo  %s\n fresh %s", round, inst.Path, long.B, fresh.B)
			}
			if err := wellFormed(fresh.B); err != nil {
				t.Fatalf("instance %v: %v: %s", inst.Path, err, fresh.B)
			}
		}
	}
}

// String keys in a row share their joints; a key of another type between
// them closes the string key before it first. Three times, so that the
// memos are filled and then used.
func TestInstanceNameKeyRuns(t *testing.T) {
	p := cim.NewInstancePath("root/x", "T_K",
		cim.KeyBinding{Name: "A", Value: cim.NewString("a")}, cim.KeyBinding{Name: "B", Value: cim.NewString("b")},
		cim.KeyBinding{Name: "C", Value: cim.NewUint32(3)}, cim.KeyBinding{Name: "D", Value: cim.NewString("d")})
	want := `<INSTANCENAME CLASSNAME="T_K">` +
		`<KEYBINDING NAME="A"><KEYVALUE VALUETYPE="string" TYPE="string">a</KEYVALUE></KEYBINDING>` +
		`<KEYBINDING NAME="B"><KEYVALUE VALUETYPE="string" TYPE="string">b</KEYVALUE></KEYBINDING>` +
		`<KEYBINDING NAME="C"><KEYVALUE VALUETYPE="numeric" TYPE="uint32">3</KEYVALUE></KEYBINDING>` +
		`<KEYBINDING NAME="D"><KEYVALUE VALUETYPE="string" TYPE="string">d</KEYVALUE></KEYBINDING>` +
		`</INSTANCENAME>`
	var e Encoder
	for round := range 3 {
		e.B = e.B[:0]
		e.InstanceName(p)
		if string(e.B) != want {
			t.Fatalf("round %d:\n got  %s\n want %s", round, e.B, want)
		}
	}
}

// The memos cost a response of one instance (GetInstance) nothing: an
// Encoder with room in its buffer writes the first NamedInstance without
// allocating, and the next ones too, once the memos are filled.
func TestStartTagMemoAllocations(t *testing.T) {
	inst := cim.NewInstance("T_A")
	inst.Set("Id", cim.NewString("a1"))
	inst.Set("Count", cim.NewUint32(7))
	inst.Path = cim.NewInstancePath("root/x", "T_A", cim.KeyBinding{Name: "Id", Value: inst.Get("Id")})
	if n := testing.AllocsPerRun(100, func() {
		e := Encoder{B: make([]byte, 0, 4096)}
		e.NamedInstance(inst)
	}); n != 1 { // the buffer
		t.Errorf("first instance: %v allocations, want 1 (the buffer)", n)
	}
	e := Encoder{B: make([]byte, 0, 4096)}
	e.NamedInstance(inst)
	e.NamedInstance(inst)
	if n := testing.AllocsPerRun(100, func() {
		e.B = e.B[:0]
		e.NamedInstance(inst)
	}); n != 0 {
		t.Errorf("later instances: %v allocations, want 0", n)
	}
}

// sblim-wbemcli refuses PROPERTY.ARRAY with an EmbeddedObject attribute
// ("Unknown attribute in list for PROPERTY.ARRAY"), in classes and instances
// alike; the attribute goes out only where values need it.
func TestEmbeddedArrayAttribute(t *testing.T) {
	embedded := cim.Qualifiers{{Name: "EmbeddedInstance", Value: cim.NewString("CIM_Foo")}}
	cls := cim.NewClass("T_Holder", "")
	cls.AddProperty(cim.Property{Name: "Parts", Type: cim.TypeString, IsArray: true, Qualifiers: embedded})
	var e Encoder
	e.Class(cls)
	if strings.Contains(string(e.B), "EmbeddedObject") {
		t.Errorf("class: %s", e.B)
	}

	for _, c := range []struct {
		name  string
		value cim.Value
		want  bool
	}{
		{"null", cim.NullArray(cim.TypeString), false},
		{"empty", cim.NewEmbeddedInstanceArray(nil), false},
		{"filled", cim.NewEmbeddedInstanceArray([]*cim.Instance{cim.NewInstance("CIM_Foo")}), true},
	} {
		inst := cim.NewInstance("T_Holder")
		inst.AddProperty(cim.Property{Name: "Parts", Type: cim.TypeString, IsArray: true, Embedded: cim.EmbeddedInstance, Value: c.value})
		var e Encoder
		e.Instance(inst)
		if got := strings.Contains(string(e.B), `EmbeddedObject="instance"`); got != c.want {
			t.Errorf("%s array: EmbeddedObject written = %v, want %v: %s", c.name, got, c.want, e.B)
		}
	}
}

// wellFormed reports whether b is a sequence of well-formed XML elements.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
