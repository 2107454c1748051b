package cimxml

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTreeAccepts(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment --><!DOCTYPE CIM SYSTEM "CIM_DTD_V20.dtd">
<CIM CIMVERSION='2.0' DTDVERSION="2.0">
  <MESSAGE ID="1" PROTOCOLVERSION="1.0"><?pi ignored?>
    <VALUE><![CDATA[x<y]]> &amp; &#65;&#x42; &lt;&gt;&quot;&apos;</VALUE>
    <NAMESPACE NAME="root"/>
  </MESSAGE>
</CIM>
`
	root, err := parseTree([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if root.name != "CIM" || len(root.children) != 1 {
		t.Fatalf("root = %+v", root)
	}
	msg := root.children[0]
	if len(msg.children) != 2 {
		t.Fatalf("MESSAGE children = %d", len(msg.children))
	}
	if got, want := msg.children[0].text, `x<y & AB <>"'`; got != want {
		t.Errorf("VALUE text = %q, want %q", got, want)
	}
	if v, _ := root.attr("CIMVERSION"); v != "2.0" {
		t.Errorf("single-quoted attribute = %q", v)
	}
}

func TestParseTreeRejects(t *testing.T) {
	deep := strings.Repeat("<A>", maxDepth+1) + strings.Repeat("</A>", maxDepth+1)
	manyAttrs := "<A" + strings.Repeat(` a="1"`, 0)
	for i := 0; i <= maxAttrs; i++ {
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
			_, err := parseTree([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted %q", tc.doc)
			}
			if got := errors.Is(err, errNotWellFormed); got != tc.wellFormFail {
				t.Errorf("not-well-formed = %v, want %v (%v)", got, tc.wellFormFail, err)
			}
		})
	}
}
