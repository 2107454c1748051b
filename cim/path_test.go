package cim

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseObjectPathForms(t *testing.T) {
	cases := []struct {
		in                    string
		host, ns, class, keys string // keys as "Name=type:text;..."
		instance              bool
	}{
		{`http://srv:5988/root/cimv2:CIM_Foo.Name="a",Id=5`, "srv:5988", "root/cimv2", "CIM_Foo", "Name=string:a;Id=uint64:5", true},
		{`https://user:secret@srv:5989/root/cimv2:CIM_Foo.Name="a"`, "srv:5989", "root/cimv2", "CIM_Foo", "Name=string:a", true},
		{`cimxml.wbem://[::1]:5988/interop:CIM_RegisteredProfile.InstanceID="DMTF:1"`, "[::1]:5988", "interop", "CIM_RegisteredProfile", "InstanceID=string:DMTF:1", true},
		{`HTTP:/root/cimv2:CIM_Foo`, "", "root/cimv2", "CIM_Foo", "", false},
		{`cimxml-wbems://10.11.12.13:5989/root/cimv2:CIM_Foo.k1="v1"`, "10.11.12.13:5989", "root/cimv2", "CIM_Foo", "k1=string:v1", true},
		// As wbemcli takes them on its command line.
		{`http://user:pass@127.0.0.1:15988/root/cimv2:CIM_Foo.Name="abc",Id=5,Flag=true`, "127.0.0.1:15988", "root/cimv2", "CIM_Foo", "Name=string:abc;Id=uint64:5;Flag=boolean:TRUE", true},
		{`http://user:pass@127.0.0.1:15988/root/cimv2/sub:CIM_Foo.Name="a"`, "127.0.0.1:15988", "root/cimv2/sub", "CIM_Foo", "Name=string:a", true},
		{`http://127.0.0.1:15988/root/cimv2:CIM_ManagedElement`, "127.0.0.1:15988", "root/cimv2", "CIM_ManagedElement", "", false},
		{`//srv/root/cimv2:CIM_Foo.K=TRUE`, "srv", "root/cimv2", "CIM_Foo", "K=boolean:TRUE", true},
		{`/root/cimv2:CIM_Foo.Name="a"`, "", "root/cimv2", "CIM_Foo", "Name=string:a", true},
		{`root/cimv2:CIM_Foo.Name="a"`, "", "root/cimv2", "CIM_Foo", "Name=string:a", true},
		{`interop:CIM_Foo`, "", "interop", "CIM_Foo", "", false},
		{`/:CIM_Foo.Id=-5`, "", "", "CIM_Foo", "Id=sint64:-5", true},
		{`:CIM_Foo.Id=+5`, "", "", "CIM_Foo", "Id=uint64:5", true},
		{`/CIM_Foo.Id=5`, "", "", "CIM_Foo", "Id=uint64:5", true},
		{`CIM_Foo`, "", "", "CIM_Foo", "", false},
		{`CIM_Foo=@`, "", "", "CIM_Foo", "", true},
		{`CIM_Foo.Hex=0x1F,Oct=017,Bin=101b,Neg=-0x10`, "", "", "CIM_Foo", "Hex=uint64:31;Oct=uint64:15;Bin=uint64:5;Neg=sint64:-16", true},
		{`CIM_Foo.R=1.5,E=-2.5E3,I=-INF`, "", "", "CIM_Foo", "R=real64:1.5;E=real64:-2500.0;I=real64:-INF", true},
		{`CIM_Foo.C='x',Q='\''`, "", "", "CIM_Foo", "C=char16:x;Q=char16:'", true},
		{`CIM_Foo.B=false,T=True`, "", "", "CIM_Foo", "B=boolean:FALSE;T=boolean:TRUE", true},
		{`CIM_Foo.S="a\"b\\c",E="",U="caf` + "\u00e9" + `",X="\x41\n"`, "", "", "CIM_Foo", "S=string:a\"b\\c;E=string:;U=string:caf\u00e9;X=string:A\n", true},
		{`CIM_Foo.S="a,b=c.d:e"`, "", "", "CIM_Foo", "S=string:a,b=c.d:e", true},
		{`CIM_Foo.D="20240101000000.000000+000"`, "", "", "CIM_Foo", "D=string:20240101000000.000000+000", true},
		{`CIM_Foo.Big=18446744073709551615,Small=-9223372036854775808`, "", "", "CIM_Foo", "Big=uint64:18446744073709551615;Small=sint64:-9223372036854775808", true},
		{`CIM_Assoc.A="/root/cimv2:CIM_X.Id=1",B="CIM_Y.Name=\"n\""`, "", "", "CIM_Assoc", `A=reference:/root/cimv2:CIM_X.Id=1;B=reference:CIM_Y.Name="n"`, true},
	}
	for _, c := range cases {
		p, err := ParseObjectPath(c.in)
		if err != nil {
			t.Errorf("ParseObjectPath(%q): %v", c.in, err)
			continue
		}
		var keys []string
		for _, k := range p.Keys {
			keys = append(keys, k.Name+"="+k.Value.Type().String()+":"+k.Value.Text())
		}
		if p.Host != c.host || p.Namespace != c.ns || p.ClassName != c.class || strings.Join(keys, ";") != c.keys ||
			p.IsInstancePath() != c.instance {
			t.Errorf("ParseObjectPath(%q) = host %q ns %q class %q keys %q instance %v", c.in, p.Host, p.Namespace, p.ClassName,
				strings.Join(keys, ";"), p.IsInstancePath())
		}
		// Printing and parsing again gives an equal path.
		again, err := ParseObjectPath(p.String())
		if err != nil || !again.Equal(p) || again.Canonical() != p.Canonical() {
			t.Errorf("%q: printed as %q, which reads back as %v (%v)", c.in, p.String(), again, err)
		}
	}
}

func TestParseObjectPathErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, "empty path"},
		{`http://srv`, "missing '/' and namespace after the authority"},
		{`http://srv:5988`, "missing '/'"},
		{`http:root/cimv2:CIM_Foo`, "invalid class name"},
		{`//bad host/root:CIM_Foo`, "invalid host"},
		{`///root:CIM_Foo`, "invalid host"},
		{`/root//cimv2:CIM_Foo`, "invalid namespace"},
		{`/root cimv2:CIM_Foo`, "invalid namespace"},
		{`/root/cimv2:`, "invalid class name"},
		{`/root/cimv2:1CIM`, "invalid class name"},
		{`CIM_Foo.`, "invalid key name"},
		{`CIM_Foo.Name`, "expected '=' after key name Name"},
		{`CIM_Foo.Name=`, "missing key value"},
		{`CIM_Foo.Name="a"x`, "expected ',' or end"},
		{`CIM_Foo.Name="a",`, "invalid key name"},
		{`CIM_Foo.Name="a",name="b"`, "duplicate key name"},
		{`CIM_Foo.Name="abc`, "unterminated quoted value"},
		{`CIM_Foo.Name="abc\`, "unterminated quoted value"},
		{`CIM_Foo.Name="\x"`, "\\x escape without hex digits"},
		{`CIM_Foo.Name="\xD800"`, "invalid character"},
		{`CIM_Foo.C='ab'`, "exactly one UCS-2 character"},
		{`CIM_Foo.C=''`, "exactly one UCS-2 character"},
		{`CIM_Foo.Id=(uint32)5`, "typed WBEM URI values are not supported"},
		{`CIM_Foo.Id=abc`, "invalid numeric value"},
		{`CIM_Foo.Id=0x`, "invalid numeric value"},
		{`CIM_Foo.Id=18446744073709551616`, "out of range"},
		{`CIM_Foo.Id=-9223372036854775809`, "out of range"},
		{`CIM_Foo.Id=1e400`, "invalid numeric value"},
		{`CIM_Foo=@x`, "expected \"=@\""},
		{`CIM_Foo=x`, "expected \"=@\""},
	}
	for _, c := range cases {
		_, err := ParseObjectPath(c.in)
		if err == nil || !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseObjectPath(%q) = %v, want error containing %q", c.in, err, c.want)
		}
	}
}

func TestParseWBEMURIStrict(t *testing.T) {
	for _, ok := range []string{`http://srv/root/cimv2:CIM_Foo.Id=5`, `//srv/interop:CIM_Foo`, `/:CIM_Foo.Id=5`, `/root:CIM_Foo`} {
		if _, err := ParseWBEMURI(ok); err != nil {
			t.Errorf("ParseWBEMURI(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{`root/cimv2:CIM_Foo`, `CIM_Foo.Id=5`, `/CIM_Foo.Id=5`, `:CIM_Foo`} {
		if _, err := ParseWBEMURI(bad); err == nil {
			t.Errorf("ParseWBEMURI(%q) accepted a non-URI", bad)
		}
	}
}

func TestReferenceKeysNest(t *testing.T) {
	inner := &ObjectPath{Namespace: "root/cimv2", ClassName: "CIM_X", Keys: []KeyBinding{{"Name", NewString(`q"uo\te`)}}}
	mid := &ObjectPath{ClassName: "CIM_Assoc", Keys: []KeyBinding{{"Ref", NewReference(inner)}, {"N", NewUint8(1)}}}
	outer := &ObjectPath{Host: "h", Namespace: "ns", ClassName: "CIM_Top", Keys: []KeyBinding{{"Deep", NewReference(mid)}}}
	s := outer.String()
	want := `//h/ns:CIM_Top.Deep="CIM_Assoc.Ref=\"/root/cimv2:CIM_X.Name=\\\"q\\\\\\\"uo\\\\\\\\te\\\"\",N=1"`
	if s != want {
		t.Errorf("printed %s\nwant    %s", s, want)
	}
	p, err := ParseObjectPath(s)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Equal(outer) {
		t.Errorf("nested references do not round-trip: %s", p)
	}
	d, _ := p.Key("deep")
	r, _ := d.Ref().Key("REF")
	if n, _ := r.Ref().Key("name"); n.Str() != `q"uo\te` {
		t.Errorf("innermost value %q", n.Str())
	}
	// Depth is bounded; a deep nest fails cleanly rather than recursing.
	deep := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"K", NewUint8(1)}}}
	for i := 0; i < 10; i++ {
		deep = &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"K", NewReference(deep)}}}
	}
	if got, err := ParseObjectPath(deep.String()); err != nil || !got.Equal(deep) {
		t.Errorf("10 levels: %v", err)
	}
}

func TestCanonicalForm(t *testing.T) {
	same := []string{
		`//SRV:5988/Root/CIMV2:CIM_Foo.Name="a",Id=5`,
		`//srv:5988/root/cimv2:cim_foo.ID=5,NAME="a"`,
		`HTTPS://SRV:5988/ROOT/CIMV2:CIM_FOO.id=0x5,name="a"`,
	}
	var first string
	for i, s := range same {
		p, err := ParseObjectPath(s)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = p.Canonical()
			if first != `//srv:5988/root/cimv2:cim_foo.id=5,name="a"` {
				t.Errorf("canonical = %s", first)
			}
		} else if p.Canonical() != first {
			t.Errorf("%s canonicalizes to %s, want %s", s, p.Canonical(), first)
		}
	}
	// Key values of any integer width canonicalize alike; strings keep case.
	a := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"K", NewUint8(5)}, {"S", NewString("X")}}}
	b := &ObjectPath{ClassName: "c", Keys: []KeyBinding{{"s", NewString("X")}, {"k", NewSint64(5)}}}
	c := &ObjectPath{ClassName: "c", Keys: []KeyBinding{{"s", NewString("x")}, {"k", NewSint64(5)}}}
	if !a.Equal(b) || a.Canonical() != b.Canonical() || a.Equal(c) || a.Canonical() == c.Canonical() {
		t.Error("canonical equality of integer widths / string case")
	}
	if a.CanonicalModel() != `c.k=5,s="X"` {
		t.Errorf("CanonicalModel = %s", a.CanonicalModel())
	}
	// Reals: real32 and real64 of the same decimal, integral reals and integers.
	r32 := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"R", NewReal32(0.1)}}}
	r64 := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"R", NewReal64(0.1)}}}
	i5 := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"R", NewUint16(5)}}}
	r5 := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"R", NewReal64(5)}}}
	if !r32.Equal(r64) || !i5.Equal(r5) {
		t.Errorf("real canonical forms: %s %s %s %s", r32.Canonical(), r64.Canonical(), i5.Canonical(), r5.Canonical())
	}
	// char16 and datetime keys compare as their text.
	ch := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"K", NewChar16('x')}}}
	st := &ObjectPath{ClassName: "C", Keys: []KeyBinding{{"K", NewString("x")}}}
	if !ch.Equal(st) {
		t.Error("char16 vs string")
	}
	// Class paths, singletons and instance paths differ.
	cls := &ObjectPath{ClassName: "C"}
	single := &ObjectPath{ClassName: "C", Keys: []KeyBinding{}}
	if cls.Equal(single) || cls.Canonical() == single.Canonical() || single.Canonical() != "c=@" {
		t.Error("class vs singleton path")
	}
	// Many keys (beyond the stack buffer) still sort.
	many := &ObjectPath{ClassName: "C"}
	for _, n := range []string{"j", "i", "h", "g", "f", "e", "d", "c", "b", "a"} {
		many.SetKey(n, NewUint8(1))
	}
	if many.Canonical() != "c.a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1" {
		t.Errorf("many keys: %s", many.Canonical())
	}
	var nilPath *ObjectPath
	if !nilPath.Equal(nil) || nilPath.Equal(cls) || nilPath.String() != "" {
		t.Error("nil paths")
	}
}

func TestPathPrinting(t *testing.T) {
	p := NewInstancePath("root/virt", "HC_VM", KeyBinding{"Name", NewString("vm1")}, KeyBinding{"Id", NewUint32(7)})
	if p.String() != `/root/virt:HC_VM.Name="vm1",Id=7` || p.ModelPath() != `HC_VM.Name="vm1",Id=7` {
		t.Errorf("%s / %s", p, p.ModelPath())
	}
	p.Host = "srv:5989"
	if p.URI("https") != `https://srv:5989/root/virt:HC_VM.Name="vm1",Id=7` {
		t.Errorf("URI %s", p.URI("https"))
	}
	if !strings.Contains(p.GoString(), "cim.ParseObjectPath(") {
		t.Error(p.GoString())
	}
	c := NewClassPath("interop", "CIM_Namespace")
	if c.String() != "/interop:CIM_Namespace" || c.IsInstancePath() {
		t.Error(c.String())
	}
	if NewInstancePath("", "S").String() != "S=@" {
		t.Error("singleton")
	}
	keys := &ObjectPath{ClassName: "K", Keys: []KeyBinding{
		{"B", NewBoolean(true)}, {"C", NewChar16('\'')}, {"D", NewDatetime(Datetime{})}, {"R", NewReal32(2.5)}, {"N", Null(TypeString)}}}
	if got := keys.String(); got != `K.B=TRUE,C='\'',D="00000000000000.000000:000",R=2.5,N=NULL` {
		t.Errorf("key printing: %s", got)
	}
	v, ok := p.Key("NAME")
	if !ok || v.Str() != "vm1" {
		t.Error("Key lookup")
	}
	p.SetKey("name", NewString("vm2"))
	if v, _ := p.Key("Name"); v.Str() != "vm2" || len(p.Keys) != 2 {
		t.Error("SetKey must replace")
	}
	q := p.WithNamespace("", "other")
	if q.Host != "" || q.Namespace != "other" || p.Namespace != "root/virt" {
		t.Error("WithNamespace must copy")
	}
}

func TestParseNumberLiteral(t *testing.T) {
	ok := map[string]Value{
		"0": NewUint64(0), "-0": NewSint64(0), "42": NewUint64(42), "-42": NewSint64(-42), "+7": NewUint64(7),
		"0x1F": NewUint64(31), "0X1f": NewUint64(31), "-0x10": NewSint64(-16), "017": NewUint64(15), "-017": NewSint64(-15),
		"101b": NewUint64(5), "101B": NewUint64(5), "-11b": NewSint64(-3), "1.5": NewReal64(1.5), ".5": NewReal64(0.5),
		"-2.5E3": NewReal64(-2500), "09": NewReal64(9), "INF": NewReal64(math.Inf(1)),
		"18446744073709551615": NewUint64(math.MaxUint64), "-9223372036854775808": NewSint64(math.MinInt64),
	}
	for in, want := range ok {
		got, err := ParseNumberLiteral(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseNumberLiteral(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-", "x", "0x", "12b3", "1e", "0b1", "--1", "1.2.3", "18446744073709551616", "-9223372036854775809", "1e999"} {
		if _, err := ParseNumberLiteral(bad); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ParseNumberLiteral(%q) = %v", bad, err)
		}
	}
}
