package xmlcodec

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment --><!DOCTYPE CIM SYSTEM "CIM_DTD_V20.dtd">
<CIM CIMVERSION='2.0' DTDVERSION="2.0">
  <MESSAGE ID="1" PROTOCOLVERSION="1.0"><?pi ignored?>
    <VALUE><![CDATA[x<y]]> &amp; &#65;&#x42; &lt;&gt;&quot;&apos;</VALUE>
    <NAMESPACE NAME="root"/>
  </MESSAGE>
</CIM>
`
	root, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if root.Name != "CIM" || len(root.Children) != 1 {
		t.Fatalf("root = %+v", root)
	}
	msg := root.Children[0]
	if len(msg.Children) != 2 {
		t.Fatalf("MESSAGE children = %d", len(msg.Children))
	}
	if got, want := msg.Children[0].Text, `x<y & AB <>"'`; got != want {
		t.Errorf("VALUE text = %q, want %q", got, want)
	}
	if v, _ := root.Attr("CIMVERSION"); v != "2.0" {
		t.Errorf("single-quoted attribute = %q", v)
	}
}

func TestParseRejects(t *testing.T) {
	deep := strings.Repeat("<A>", MaxDepth+1) + strings.Repeat("</A>", MaxDepth+1)
	manyAttrs := "<A" + strings.Repeat(` a="1"`, 0)
	for i := 0; i <= MaxAttrs; i++ {
		manyAttrs += " a" + strings.Repeat("x", i+1) + `="1"`
	}
	manyAttrs += "/>"
	for _, tc := range []struct {
		name, doc    string
		wellFormFail bool
	}{
		{"empty", "", true},
		{"blank", "   \n", true},
		{"truncated", "<CIM><MESSAGE>", true},
		{"mismatched end", "<CIM></MESSAGE>", true},
		{"stray end", "<CIM/></CIM>", true},
		{"two roots", "<CIM/><CIM/>", true},
		{"text after root", "<CIM/>junk", true},
		{"text before root", "junk<CIM/>", true},
		{"undefined entity", "<CIM>&foo;</CIM>", true},
		{"external entity ref", `<CIM>&xxe;</CIM>`, true},
		{"unquoted attribute", "<CIM A=1/>", true},
		{"attribute without value", "<CIM A/>", true},
		{"duplicate attribute", `<CIM A="1" A="2"/>`, true},
		{"bad utf-8", "<CIM>\xff\xfe</CIM>", true},
		{"nul character", "<CIM>\x00</CIM>", true},
		{"latin-1 declaration", `<?xml version="1.0" encoding="ISO-8859-1"?><CIM/>`, true},
		{"unterminated comment", "<CIM><!-- x</CIM>", true},
		{"unterminated CDATA", "<CIM><![CDATA[x</CIM>", true},
		{"lone ampersand", "<CIM>a & b</CIM>", true},
		{"lone less-than", "<CIM>a < b</CIM>", true},
		{"bad char reference", "<CIM>&#0;</CIM>", true},
		{"internal subset", `<!DOCTYPE CIM [<!ENTITY a "aaaa">]><CIM>&a;</CIM>`, false},
		{"billion laughs", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><CIM>&lol2;</CIM>`, false},
		{"external entity", `<!DOCTYPE CIM [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><CIM>&xxe;</CIM>`, false},
		{"too deep", deep, false},
		{"too many attributes", manyAttrs, false},
		{"mixed content", "<CIM>text<A/></CIM>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted %q", tc.doc)
			}
			if got := errors.Is(err, ErrNotWellFormed); got != tc.wellFormFail {
				t.Errorf("not-well-formed = %v, want %v (%v)", got, tc.wellFormFail, err)
			}
		})
	}
}

// A Parser reused for documents of different sizes builds each tree as a
// new one would, and strings taken from an earlier tree stay valid.
func TestParserReuse(t *testing.T) {
	var ps Parser
	big := "<A>" + strings.Repeat(`<B N="x">text</B>`, 3000) + "</A>"
	first, err := ps.Parse([]byte(big))
	if err != nil {
		t.Fatal(err)
	}
	kept := first.Children[2999].Text
	small := `<CIM CIMVERSION="2.0"><MESSAGE ID="7"><VALUE>v</VALUE></MESSAGE></CIM>`
	for i := 0; i < 3; i++ {
		root, err := ps.Parse([]byte(small))
		if err != nil {
			t.Fatal(err)
		}
		msg := root.Child("MESSAGE")
		if root.Name != "CIM" || len(root.Children) != 1 || msg == nil || len(msg.Children) != 1 || msg.Children[0].Text != "v" || len(msg.Children[0].Attrs) != 0 {
			t.Fatalf("tree of a reused parser: %+v", root)
		}
		if id, _ := msg.Attr("ID"); id != "7" {
			t.Fatalf("MESSAGE ID = %q", id)
		}
	}
	if _, err := ps.Parse([]byte("<A><B></A>")); err == nil {
		t.Fatal("a reused parser accepted a mismatched end tag")
	}
	if root, err := ps.Parse([]byte(big)); err != nil || len(root.Children) != 3000 {
		t.Fatalf("after an error: %v", err)
	}
	if kept != "text" {
		t.Errorf("a string of an earlier tree changed to %q", kept)
	}
	if ps.Nodes() < 3001 {
		t.Errorf("Nodes() = %d after a document of 3001 elements", ps.Nodes())
	}
}
