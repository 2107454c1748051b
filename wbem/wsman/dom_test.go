package wsman

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/wbem/internal/xmlscan"
)

func TestParserLimits(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxDepth: 8, MaxElements: 50, MaxAttrs: 4}
	nested := func(depth int) string {
		return strings.Repeat("<a>", depth) + strings.Repeat("</a>", depth)
	}
	var decls strings.Builder
	for i := 0; i < 70; i++ {
		// 4 declarations per element, 70 levels deep: 280 in scope.
		fmt.Fprintf(&decls, `<e xmlns:a%d="u" xmlns:b%d="u" xmlns:c%d="u" xmlns:d%d="u">`, i, i, i, i)
	}
	for _, c := range []struct {
		name, doc string
		lim       Limits
		want      error
	}{
		{"depth at the limit", nested(8), lim, nil},
		{"too deep", nested(9), lim, xmlscan.ErrLimit},
		{"attributes at the limit", `<a w="1" x="2" y="3" z="4"/>`, lim, nil},
		{"too many attributes", `<a v="0" w="1" x="2" y="3" z="4"/>`, lim, xmlscan.ErrLimit},
		{"elements at the limit", "<r>" + strings.Repeat("<b/>", 49) + "</r>", lim, nil},
		{"too many elements", "<r>" + strings.Repeat("<b/>", 50) + "</r>", lim, xmlscan.ErrLimit},
		{"too large", "<r>" + strings.Repeat("x", 2<<20) + "</r>", lim, xmlscan.ErrLimit},
		{"too many namespaces in scope", decls.String(), Limits{MaxDepth: 100}, xmlscan.ErrLimit},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, lim, xmlscan.ErrCharset},
	} {
		_, err := parseXML([]byte(c.doc), c.lim)
		if (c.want == nil && err != nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
}

func TestParserReadsTheTree(t *testing.T) {
	doc := "\uFEFF<?xml version=\"1.0\"?>\r\n<!-- before -->" +
		`<s:E xmlns:s="urn:s" xmlns="urn:d" xmlns:x="urn:x"><B x:t="x:V" plain='q&apos;'>` +
		"one\r\ntwo &amp; <![CDATA[<three>]]>&#x41;&#66;<C/>four</B><D xmlns=\"\"/></s:E>"
	root, err := parseXML([]byte(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := root.ChildNS("urn:d", "B")
	if !root.Is("urn:s", "E") || b == nil || len(root.Children) != 2 || !root.Children[1].Is("", "D") {
		t.Fatalf("tree: root {%s}%s, children %d", root.Space, root.Local, len(root.Children))
	}
	if b.Text != "one\ntwo & <three>ABfour" {
		t.Errorf("text %q", b.Text)
	}
	if v, _ := b.AttrNS("urn:x", "t"); v != "x:V" {
		t.Errorf("qualified attribute %q", v)
	}
	if v, _ := b.AttrNS("", "plain"); v != "q'" {
		t.Errorf("attribute %q", v)
	}
	if space, local := b.ResolveQName("x:V"); space != "urn:x" || local != "V" {
		t.Errorf("QName resolved to {%s}%s", space, local)
	}
	if space, _ := root.Children[1].ResolveQName("V"); space != "" {
		t.Errorf("default namespace undeclared, yet %q", space)
	}
	for _, bad := range []string{`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, `<a>&x;</a>`, `<p:a/>`, `<a></b>`, `<a/><a/>`, "<a>\x00</a>", `<a b="1" b="2"/>`} {
		if _, err := parseXML([]byte(bad), Limits{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
