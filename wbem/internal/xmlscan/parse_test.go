package xmlscan

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestNamespaceTree(t *testing.T) {
	doc := "\uFEFF<?xml version=\"1.0\"?>\r\n<!-- before -->" +
		`<s:E xmlns:s="urn:s" xmlns="urn:d" xmlns:x="urn:x"><B x:t="x:V" plain='q&apos;' xml:lang="en">` +
		"one\r\ntwo &amp; <![CDATA[<three>]]>&#x41;&#66;<C/>four</B><D xmlns=\"\"/></s:E>"
	var ps Parser
	root, err := ps.Parse([]byte(doc), Options{Namespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	b := root.ChildNS("urn:d", "B")
	if !root.Is("urn:s", "E") || root.Name != "s:E" || b == nil || len(root.Children) != 2 || !root.Children[1].Is("", "D") {
		t.Fatalf("tree: root %s {%s}%s, children %d", root.Name, root.Space, root.Local, len(root.Children))
	}
	if b.Text != "one\ntwo & <three>ABfour" || !b.HasText() {
		t.Errorf("text %q", b.Text)
	}
	if len(root.Attrs) != 0 {
		t.Errorf("namespace declarations kept as attributes: %v", root.Attrs)
	}
	if v, _ := b.AttrNS("urn:x", "t"); v != "x:V" {
		t.Errorf("qualified attribute %q", v)
	}
	if v, _ := b.Attr("plain"); v != "q'" {
		t.Errorf("attribute %q", v)
	}
	if v, _ := b.Attr("lang"); v != "en" {
		t.Errorf("xml:lang %q", v)
	}
	if space, local := b.ResolveQName(" x:V "); space != "urn:x" || local != "V" {
		t.Errorf("QName resolved to {%s}%s", space, local)
	}
	if space, _ := b.ResolveQName("V"); space != "urn:d" {
		t.Errorf("default namespace %q", space)
	}
	if space, _ := root.Children[1].ResolveQName("V"); space != "" {
		t.Errorf("default namespace undeclared, yet %q", space)
	}
	var nilNode *Node
	if nilNode.ChildNS("a", "b").ChildNS("c", "d") != nil || nilNode.Is("", "") || nilNode.TrimmedText() != "" {
		t.Error("lookups on a nil node")
	}
	if got := len(root.ChildrenNS("urn:d", "B")); got != 1 {
		t.Errorf("ChildrenNS: %d", got)
	}
}

func TestRawTree(t *testing.T) {
	doc := `<!DOCTYPE CIM SYSTEM "CIM_DTD_V20.dtd"><p:CIM CIMVERSION="2.0" x:A="1" :b="2" c:="3" EmbeddedObject="object">` +
		"\n  <VALUE>a<!-- c -->b<?pi?>&lt;</VALUE>\n  <V/>\n</p:CIM>"
	var ps Parser
	root, err := ps.Parse([]byte(doc), Options{AllowDoctype: true, NoMixedContent: true})
	if err != nil {
		t.Fatal(err)
	}
	if root.Name != "p:CIM" || root.Space != "p" || root.Local != "CIM" || root.Text != "" || root.HasText() {
		t.Fatalf("root %q {%s}%s text %q", root.Name, root.Space, root.Local, root.Text)
	}
	want := []xml.Attr{
		{Name: xml.Name{Local: "CIMVERSION"}, Value: "2.0"},
		{Name: xml.Name{Space: "x", Local: "A"}, Value: "1"},
		{Name: xml.Name{Local: ":b"}, Value: "2"},
		{Name: xml.Name{Local: "c:"}, Value: "3"},
		{Name: xml.Name{Local: "EmbeddedObject"}, Value: "object"},
	}
	if fmt.Sprint(root.Attrs) != fmt.Sprint(want) {
		t.Errorf("attributes %v, want %v", root.Attrs, want)
	}
	if v, ok := root.AttrFold("EMBEDDEDOBJECT"); !ok || v != "object" {
		t.Errorf("AttrFold: %q %v", v, ok)
	}
	if _, ok := root.Attr("A"); ok {
		t.Error("Attr found a prefixed attribute")
	}
	if v := root.Child("VALUE"); v == nil || v.Text != "ab<" || root.Child("NONE") != nil {
		t.Errorf("VALUE: %+v", v)
	}
	if space, local := root.ResolveQName("x:y"); space != "" || local != "y" {
		t.Errorf("QName without namespaces: {%s}%s", space, local)
	}
}

// TestErrors checks the kind of error of each way a document is refused,
// in both modes where they differ.
func TestErrors(t *testing.T) {
	raw := Options{AllowDoctype: true, NoMixedContent: true, MaxDepth: 8, MaxAttrs: 4}
	ns := Options{Namespaces: true, MaxDepth: 8, MaxElements: 50, MaxAttrs: 4}
	deep := strings.Repeat("<a>", 9) + strings.Repeat("</a>", 9)
	manyAttrs := strings.Builder{}
	manyAttrs.WriteString("<a")
	for i := 0; i <= defaultMaxAttrs; i++ {
		fmt.Fprintf(&manyAttrs, ` a%d=""`, i)
	}
	manyAttrs.WriteString("/>")
	var decls strings.Builder
	for i := 0; i < 70; i++ {
		fmt.Fprintf(&decls, `<e xmlns:a%d="u" xmlns:b%d="u" xmlns:c%d="u" xmlns:d%d="u">`, i, i, i, i)
	}
	for _, c := range []struct {
		name, doc string
		o         Options
		want      error
	}{
		{"empty", "", raw, ErrNotWellFormed},
		{"blank", " \r\n", ns, ErrNotWellFormed},
		{"truncated", "<a><b>", raw, ErrNotWellFormed},
		{"ends with <", "<a><", raw, ErrNotWellFormed},
		{"mismatched", "<a></b>", ns, ErrNotWellFormed},
		{"mismatched prefix", "<a></a:a>", raw, ErrNotWellFormed},
		{"unterminated end tag", "<a></a", raw, ErrNotWellFormed},
		{"end tag with junk", "<a></a b>", raw, ErrNotWellFormed},
		{"stray end tag", "<a/></a>", raw, ErrNotWellFormed},
		{"two roots", "<a/><a/>", raw, ErrNotWellFormed},
		{"text before", "x<a/>", raw, ErrNotWellFormed},
		{"text after", "<a/>x", ns, ErrNotWellFormed},
		{"undefined entity", "<a>&x;</a>", raw, ErrNotWellFormed},
		{"unterminated reference", "<a>&amp</a>", raw, ErrNotWellFormed},
		{"bad character reference", "<a>&#xZ;</a>", raw, ErrNotWellFormed},
		{"reference to NUL", "<a b='&#0;'/>", raw, ErrNotWellFormed},
		{"unquoted attribute", "<a b=1/>", raw, ErrNotWellFormed},
		{"attribute without value", "<a b/>", raw, ErrNotWellFormed},
		{"attributes not separated", `<a b="1"c="2"/>`, raw, ErrNotWellFormed},
		{"repeated attribute", `<a b="1" b="2"/>`, raw, ErrNotWellFormed},
		{"repeated after resolution", `<a xmlns:p="u" xmlns:q="u" p:x="1" q:x="2"/>`, ns, ErrNotWellFormed},
		{"< in attribute", `<a b="<"/>`, raw, ErrNotWellFormed},
		{"unterminated attribute", `<a b="1`, raw, ErrNotWellFormed},
		{"NUL byte", "<a>\x00</a>", raw, ErrNotWellFormed},
		{"invalid UTF-8", "<a>\xff</a>", ns, ErrNotWellFormed},
		{"U+FFFE", "<a>\uFFFE</a>", ns, ErrNotWellFormed},
		{"]]> in text", "<a>]]></a>", raw, ErrNotWellFormed},
		{"-- in comment", "<a><!-- -- --></a>", raw, ErrNotWellFormed},
		{"unterminated comment", "<a><!-- </a>", raw, ErrNotWellFormed},
		{"unterminated CDATA", "<a><![CDATA[x</a>", raw, ErrNotWellFormed},
		{"CDATA outside the root", "<![CDATA[x]]><a/>", raw, ErrNotWellFormed},
		{"two colons", "<a:b:c/>", raw, ErrNotWellFormed},
		{"name starting with a digit", "<1a/>", raw, ErrNotWellFormed},
		{"name with a non-name character", "<a\u00D7/>", raw, ErrNotWellFormed},
		{"PI without white space", `<?pi"x?><a/>`, raw, ErrNotWellFormed},
		{"PI target xml", `<a><?xml version="1.0"?></a>`, raw, ErrNotWellFormed},
		{"PI target XML", `<?XML version="1.0"?><a/>`, raw, ErrNotWellFormed},
		{"version 1.1", `<?xml version="1.1"?><a/>`, raw, ErrNotWellFormed},
		{"no version", `<?xml encoding="utf-8"?><a/>`, ns, ErrNotWellFormed},
		{"declaration without white space", `<?xml version="1.0"encoding="utf8"?><a/>`, raw, ErrNotWellFormed},
		{"standalone maybe", `<?xml version="1.0" standalone="maybe"?><a/>`, raw, ErrNotWellFormed},
		{"Latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, raw, ErrCharset},
		{"UTF-16", `<?xml version="1.0" encoding="UTF-16"?><a/>`, ns, ErrCharset},
		{"undeclared prefix", `<p:a/>`, ns, ErrNotWellFormed},
		{"undeclared attribute prefix", `<a p:b="1"/>`, ns, ErrNotWellFormed},
		{"empty prefix", `<:a/>`, ns, ErrNotWellFormed},
		{"empty local name", `<a: xmlns:a="u"/>`, ns, ErrNotWellFormed},
		{"xml bound elsewhere", `<a xmlns:xml="u"/>`, ns, ErrNotWellFormed},
		{"prefix bound to xml's namespace", `<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>`, ns, ErrNotWellFormed},
		{"xmlns declared", `<a xmlns:xmlns="u"/>`, ns, ErrNotWellFormed},
		{"prefix undeclared", `<a xmlns:p=""/>`, ns, ErrNotWellFormed},
		{"doctype", `<!DOCTYPE a><a/>`, ns, ErrDoctype},
		{"doctype inside", `<a><!DOCTYPE a></a>`, ns, ErrDoctype},
		{"internal subset", `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, raw, ErrDoctype},
		{"billion laughs", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>`, ns, ErrDoctype},
		{"second doctype", `<!DOCTYPE a><!DOCTYPE a><a/>`, raw, ErrNotWellFormed},
		{"doctype after the root", `<a/><!DOCTYPE a>`, raw, ErrNotWellFormed},
		{"doctype in content", `<a><!ELEMENT a ANY></a>`, raw, ErrNotWellFormed},
		{"doctype without space", `<!DOCTYPEa><a/>`, raw, ErrNotWellFormed},
		{"too deep", deep, raw, ErrLimit},
		{"too deep with namespaces", deep, ns, ErrLimit},
		{"too many attributes", `<a v="0" w="1" x="2" y="3" z="4"/>`, raw, ErrLimit},
		{"too many elements", "<r>" + strings.Repeat("<b/>", 50) + "</r>", ns, ErrLimit},
		{"too many namespaces in scope", decls.String(), Options{Namespaces: true}, ErrLimit},
		{"attributes over the default limit", manyAttrs.String(), Options{}, ErrLimit},
		{"< after text", "<a>x < b</a>", raw, ErrNotWellFormed},
		{"text before a child", "<a>x<b/></a>", raw, ErrMixedContent},
		{"text after a child", "<a><b/>x</a>", raw, ErrMixedContent},
		{"CDATA beside a child", "<a><b/><![CDATA[x]]></a>", raw, ErrMixedContent},
	} {
		var ps Parser
		_, err := ps.Parse([]byte(c.doc), c.o)
		var e *Error
		if !errors.Is(err, c.want) || !errors.As(err, &e) || e.Line < 1 {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
}

func TestAccepts(t *testing.T) {
	raw := Options{AllowDoctype: true, NoMixedContent: true, MaxDepth: 8, MaxAttrs: 4}
	ns := Options{Namespaces: true, MaxDepth: 8, MaxElements: 50, MaxAttrs: 4}
	for _, c := range []struct {
		name, doc string
		o         Options
	}{
		{"depth at the limit", strings.Repeat("<a>", 8) + strings.Repeat("</a>", 8), raw},
		{"attributes at the limit", `<a w="1" x="2" y="3" z="4"/>`, ns},
		{"elements at the limit", "<r>" + strings.Repeat("<b/>", 49) + "</r>", ns},
		{"declaration after a comment", "<!-- c -->\n<?xml version='1.0' encoding='us-ascii'?><a/>", ns},
		{"declaration variants", `<?xml version = '1.0'  encoding="UTF8" standalone="yes" ?><a/>`, raw},
		{"doctype with quoted brackets", `<!DOCTYPE a SYSTEM "x[1].dtd"><a/>`, raw},
		{"end tag with white space", "<a></a \n>", raw},
		{"fifth edition names", "<\u0132\u0300 \u2070=\"1\"/>", ns},
		{"text with tabs", "<a>\tx\n</a>", raw},
		{"PI and comment around the root", "<?pi x?><!--c--><a/><!--d--><?pi y?>\n", raw},
		{"prefixes of one namespace, different names", `<a xmlns:p="u" xmlns:q="u" p:x="1" q:y="2"/>`, ns},
	} {
		var ps Parser
		if _, err := ps.Parse([]byte(c.doc), c.o); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestErrorLine(t *testing.T) {
	var ps Parser
	_, err := ps.Parse([]byte("<a>\n<b>\n</c></a>"), Options{})
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 || !strings.HasPrefix(err.Error(), "line 3: ") || !strings.Contains(e.Msg, "</c>") {
		t.Errorf("error %v", err)
	}
}

// A Parser reused for documents of different sizes and modes builds each
// tree as a new one would, and strings taken from an earlier tree stay
// valid.
func TestParserReuse(t *testing.T) {
	var ps Parser
	big := "<A>" + strings.Repeat(`<B N="x">text<!---->s</B>`, 3000) + "</A>"
	first, err := ps.Parse([]byte(big), Options{NoMixedContent: true})
	if err != nil {
		t.Fatal(err)
	}
	kept := first.Children[2999].Text
	small := `<s:E xmlns:s="urn:s"><s:M ID="7">v</s:M></s:E>`
	for i := 0; i < 3; i++ {
		root, err := ps.Parse([]byte(small), Options{Namespaces: true})
		if err != nil {
			t.Fatal(err)
		}
		m := root.ChildNS("urn:s", "M")
		if len(root.Children) != 1 || m == nil || m.Text != "v" || len(m.Attrs) != 1 {
			t.Fatalf("tree of a reused parser: %+v", root)
		}
		if space, _ := m.ResolveQName("s:x"); space != "urn:s" {
			t.Fatalf("scope of a reused parser: %q", space)
		}
	}
	if _, err := ps.Parse([]byte("<A><B></A>"), Options{}); err == nil {
		t.Fatal("a reused parser accepted a mismatched end tag")
	}
	if root, err := ps.Parse([]byte(big), Options{}); err != nil || len(root.Children) != 3000 || root.Children[5].Text != "texts" {
		t.Fatalf("after an error: %v", err)
	}
	if kept != "texts" {
		t.Errorf("a string of an earlier tree changed to %q", kept)
	}
	if ps.Nodes() < 3001 {
		t.Errorf("Nodes() = %d after a document of 3001 elements", ps.Nodes())
	}
}

// TestNameCharsCoverEncodingXML checks that every character encoding/xml
// accepts in a name (its tables follow XML 1.0 fourth edition) is a name
// character here too (fifth edition): the reader is never stricter about
// names than the oracle it is fuzzed against.
func TestNameCharsCoverEncodingXML(t *testing.T) {
	accepts := func(doc string) bool {
		d := xml.NewDecoder(strings.NewReader(doc))
		for {
			_, err := d.RawToken()
			if err == io.EOF {
				return true
			}
			if err != nil {
				return false
			}
		}
	}
	var ps Parser
	checked := 0
	for r := rune(0x80); r <= 0x10FFFF; r++ {
		if r >= 0xD800 && r < 0xE000 {
			continue
		}
		// Only the characters encoding/xml might take: its tables end in
		// the BMP, and decoding its documents costs time.
		if r > 0xFFFF {
			break
		}
		for _, doc := range []string{"<" + string(r) + "/>", "<a" + string(r) + "/>"} {
			if !accepts(doc) {
				continue
			}
			checked++
			if _, err := ps.Parse([]byte(doc), Options{Namespaces: true}); err != nil {
				t.Errorf("%U: encoding/xml accepts %q, the reader refuses it: %v", r, doc, err)
			}
		}
	}
	if checked < 60000 {
		t.Errorf("only %d names checked", checked)
	}
}

func TestNameClassTable(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := byte('0')
		switch {
		case c >= 0x80:
			want = '3'
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == ':':
			want = '1'
		case '0' <= c && c <= '9', c == '-', c == '.':
			want = '2'
		}
		if nameClass[c] != want {
			t.Errorf("nameClass[%#x] = %c, want %c", c, nameClass[c], want)
		}
		special := c == '<' || c == '&' || c == '"' || c == '\'' || c == ']' || c == '\r' || c >= 0x80 || c < 0x20 && c != '\t' && c != '\n'
		if (textSpecial[c] == '1') != special {
			t.Errorf("textSpecial[%#x] = %c", c, textSpecial[c])
		}
	}
	if len(nameClass) != 256 || len(textSpecial) != 256 {
		t.Error("tables are not 256 bytes long")
	}
}
